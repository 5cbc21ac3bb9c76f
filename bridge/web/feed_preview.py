"""A feed's preview: its coming events read back from the stored render, as subscribers get them.

Entry point: ``feed_overview(store, feed, args, ...)`` for the feed page: the agenda (or a
week), the render's figures (events, size against Google's limit, the zone-less events' zone,
when rendered) and who fetches it.

The rows are the stored render's own VEVENTs parsed by icalendar, so the preview cannot drift
from the feed: its privacy, the zone each event is written in (the TZID of DTSTART, or UTC
where the feed wrote UTC), local wall times, all-day dates with their exclusive DTEND. The
store only picks which events a window holds (from an index); the render is split into its
VEVENT blocks once per ETag and each block parsed once (a 10,000-event feed parses in seconds
whole, one block in a tenth of a millisecond).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from flask import current_app

from bridge.config import is_loopback_host
from bridge.feeds import EVENT_ID_PROPERTY, FEED_SIZE_WARNING_BYTES
from bridge.models import Feed
from bridge.store import FeedFetch, Store
from bridge.web.clients import KNOWN_FAMILIES, client_family, subscribe_qr_svg
from bridge.web.context import current_settings, current_store
from bridge.web.fetch_log import FETCH_WRITE_INTERVAL
from bridge.web.render_cache import BoundedCache

# Google Calendar drops events from subscribed feeds past about this size.
GOOGLE_LIMIT_BYTES = 1_000_000
AGENDA_DAYS = 14
MAX_ROWS = 200  # per agenda or week; the page says so when a window holds more
# A client is taken to have stopped after this without a fetch, whatever its usual interval.
STOPPED_AFTER = timedelta(hours=48)
_INDEX_CACHE_BYTES = 32_000_000
_EXTENSION = "trackops_bridge.previews"
_BEGIN = b"BEGIN:VEVENT\r\n"
_ID_MARK = b"\r\n" + EVENT_ID_PROPERTY.encode("ascii") + b":"


@dataclass(frozen=True)
class PreviewRow:
    """One VEVENT of the stored render as a subscriber's client reads it."""

    uid: str
    event_id: int | None
    summary: str
    location: str
    description: str
    is_allday: bool
    zone: str  # the TZID of DTSTART, "UTC" where the feed wrote UTC; "" for all-day dates
    start: datetime | date  # wall time in ``zone`` (naive), or the first day
    end: datetime | date  # wall time of DTEND (or DTSTART + DURATION), or the day after the last
    duration: timedelta  # elapsed time (a DST change counted), or whole days

    @property
    def first_day(self) -> date:
        return self.start if not isinstance(self.start, datetime) else self.start.date()

    @property
    def last_day(self) -> date:
        """The last local day it covers: an end at midnight covers no part of that day."""
        if not isinstance(self.end, datetime):
            return max(self.first_day, self.end - timedelta(days=1))
        if self.end.time() == time(0) and self.end.date() > self.first_day:
            return self.end.date() - timedelta(days=1)
        return max(self.first_day, self.end.date())

    @property
    def start_text(self) -> str:
        """ISO 8601 as the feed wrote it, without an offset: for data-start-local."""
        return self.start.isoformat()

    @property
    def end_text(self) -> str:
        return self.end.isoformat()


@lru_cache(maxsize=20_000)
def read_block(block: bytes) -> PreviewRow:
    """One VEVENT block of a render, read by icalendar (cached: blocks repeat across renders)."""
    vevent = icalendar.Event.from_ical(block)
    if not isinstance(vevent, icalendar.Event):
        raise ValueError("not a VEVENT block")
    start, end = vevent.start, vevent.end
    summary = str(vevent.get("SUMMARY", ""))
    location, description = str(vevent.get("LOCATION", "")), str(vevent.get("DESCRIPTION", ""))
    uid = str(vevent.get("UID", ""))
    raw_id = vevent.get(EVENT_ID_PROPERTY)
    event_id = int(str(raw_id)) if raw_id is not None and str(raw_id).isdigit() else None
    if not isinstance(start, datetime):
        return PreviewRow(
            uid, event_id, summary, location, description, True, "", start, end, end - start
        )
    if not isinstance(end, datetime):  # RFC 5545 3.6.1: a timed DTSTART has a timed end
        raise ValueError(f"VEVENT {vevent.get('UID')}: a timed start with an all-day end")
    if start.tzinfo is None:  # floating: the bridge never writes one, another feed might
        zone, elapsed, wall_end = "floating", end - start, end.replace(tzinfo=None)
    else:
        zone = str(vevent["DTSTART"].params.get("TZID") or start.tzname() or "UTC")
        # Aware datetimes of one zone subtract as wall times: the elapsed time is UTC's.
        elapsed = end.astimezone(UTC) - start.astimezone(UTC)
        wall_end = end.astimezone(start.tzinfo).replace(tzinfo=None)
    return PreviewRow(
        uid,
        event_id,
        summary,
        location,
        description,
        False,
        zone,
        start.replace(tzinfo=None),
        wall_end,
        elapsed,
    )


@dataclass(frozen=True)
class RenderIndex:
    """A stored render split into its VEVENT blocks, by event id, with its figures."""

    etag: str
    blocks: dict[int, bytes] = field(repr=False)
    event_count: int
    size: int  # bytes, uncompressed: what a client downloads and Google weighs
    rendered_at: datetime
    declared_zone: str | None  # X-WR-TIMEZONE: where the feed shows zone-less events


def index_render(body: bytes, etag: str, rendered_at: datetime) -> RenderIndex:
    """Split ``body`` into blocks (bytes searches, no parse) and read its header by icalendar."""
    head, *parts = body.split(_BEGIN)
    blocks: dict[int, bytes] = {}
    for part in parts:
        end = part.find(b"END:VEVENT\r\n") + len(b"END:VEVENT\r\n")
        mark = part.find(_ID_MARK)
        if mark < 0:
            continue
        digits = part[mark + len(_ID_MARK) : part.find(b"\r\n", mark + 2)]
        if digits.isdigit():
            blocks[int(digits)] = _BEGIN + part[:end]
    header = icalendar.Calendar.from_ical(head.split(b"BEGIN:VTIMEZONE")[0] + b"END:VCALENDAR\r\n")
    declared = header.get("X-WR-TIMEZONE")
    return RenderIndex(
        etag=etag,
        blocks=blocks,
        event_count=len(parts),
        size=len(body),
        rendered_at=rendered_at,
        declared_zone=str(declared) if declared is not None else None,
    )


def _cached_index(store: Store, feed: Feed) -> tuple[RenderIndex | None, bool]:
    """The feed's render index (None: never rendered), and whether a newer render is due."""
    head = store.find_feed_head(feed.token)
    if head is None or head.render_etag is None:
        return None, True
    cache: BoundedCache[int, RenderIndex] = current_app.extensions.setdefault(
        _EXTENSION, BoundedCache(_INDEX_CACHE_BYTES)
    )
    index = cache.get(feed.feed_id)
    if index is None or index.etag != head.render_etag:
        render = store.get_feed_render(feed.feed_id)
        if render is None:
            return None, True
        index = index_render(render.body, render.etag, render.rendered_at)
        cache.put(feed.feed_id, index, index.size)
    is_pending = head.render_version != head.version or head.render_privacy != head.privacy
    return index, is_pending


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What the preview shows: an agenda from a day, or one ISO week, in the admin's zone."""

    view: str  # "agenda" or "week"
    starts: datetime  # aware UTC
    ends: datetime
    days: tuple[date, ...]  # the week's days (the agenda's: its span)
    label: str
    previous: dict[str, str]  # query arguments of the window before and after
    following: dict[str, str]
    error: str | None = None  # what was wrong with the arguments given, if anything


def iso_week_text(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def read_window(args: Mapping[str, str], zone: str, now: datetime) -> Window:
    """The window the query arguments ask for (?view=week&week=2026-W49, ?from=2026-12-07),
    today's agenda when none or a bad one is given (with the reason)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    error = None
    if args.get("view") == "week":
        typed = args.get("week", "").strip()
        try:
            monday = date.fromisoformat(f"{typed}-1") if typed else None
        except ValueError:
            monday, error = None, f"{typed!r} is not a week: write it as 2026-W49."
        if monday is None:
            monday = today - timedelta(days=today.weekday())
        days = tuple(monday + timedelta(days=n) for n in range(7))
        return Window(
            view="week",
            starts=_midnight(monday, tz),
            ends=_midnight(monday + timedelta(days=7), tz),
            days=days,
            label=f"Week {iso_week_text(monday)}: {monday:%a %d %b} – {days[-1]:%a %d %b %Y}",
            previous={"view": "week", "week": iso_week_text(monday - timedelta(days=7))},
            following={"view": "week", "week": iso_week_text(monday + timedelta(days=7))},
            error=error,
        )
    typed = args.get("from", "").strip()
    first = today
    if typed:
        try:
            first = date.fromisoformat(typed)
        except ValueError:
            error = f"{typed!r} is not a date: write it as 2026-12-07."
    last = first + timedelta(days=AGENDA_DAYS - 1)
    return Window(
        view="agenda",
        # From now, not from midnight: the agenda is what is still to come.
        starts=now if first == today else _midnight(first, tz),
        ends=_midnight(last + timedelta(days=1), tz),
        days=tuple(first + timedelta(days=n) for n in range(AGENDA_DAYS)),
        label=f"{'Now' if first == today else f'{first:%a %d %b}'} to {last:%a %d %b %Y}",
        previous={"from": (first - timedelta(days=AGENDA_DAYS)).isoformat()},
        following={"from": (last + timedelta(days=1)).isoformat()},
        error=error,
    )


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


# -- subscribers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    """A calendar client fetching the feed, named as people know it."""

    family: str  # "Google Calendar", ..., or the raw User-Agent when unknown
    is_known: bool
    fetch: FeedFetch
    is_stopped: bool  # it used to fetch and has not for 2x its usual interval, or 48 h


def subscribers(fetches: list[FeedFetch], now: datetime) -> list[Subscriber]:
    found = []
    for fetch in fetches:
        family = client_family(fetch.user_agent)
        quiet = now - fetch.last_fetched_at
        interval = fetch.usual_interval
        # Tallies reach the store up to a minute late (FetchLog): no warning for that alone.
        is_late = interval is not None and quiet > 2 * interval + FETCH_WRITE_INTERVAL
        found.append(
            Subscriber(family, family in KNOWN_FAMILIES, fetch, is_late or quiet > STOPPED_AFTER)
        )
    return found


# -- the page --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayGroup:
    day: date
    rows: list[PreviewRow]


@dataclass(frozen=True)
class FeedOverview:
    """Everything the feed page shows of what subscribers get."""

    window: Window
    index: RenderIndex | None
    is_pending: bool
    groups: list[DayGroup]  # the agenda's days with events, or all seven days of a week
    is_truncated: bool  # the window holds more than MAX_ROWS events
    subscribers: list[Subscriber]
    size_warning: int = FEED_SIZE_WARNING_BYTES
    size_limit: int = GOOGLE_LIMIT_BYTES


def feed_overview(
    store: Store, feed: Feed, args: Mapping[str, str], zone: str, now: datetime
) -> FeedOverview:
    """The feed page's preview for the window ``args`` name, in the admin's ``zone``."""
    window = read_window(args, zone, now)
    index, is_pending = _cached_index(store, feed)
    rows: list[PreviewRow] = []
    is_truncated = False
    if index is not None:
        # A week's days are the events' own local days: an event in a zone far from the
        # admin's may fall on a day of this week a day before or after the admin's week.
        margin = timedelta(days=1) if window.view == "week" else timedelta(0)
        ids = store.feed_window(feed, window.starts - margin, window.ends + margin, MAX_ROWS + 1)
        is_truncated = len(ids) > MAX_ROWS
        rows = [read_block(index.blocks[i]) for i in ids[:MAX_ROWS] if i in index.blocks]
    if window.view == "week":
        groups = [
            DayGroup(day, [r for r in rows if r.first_day <= day <= r.last_day])
            for day in window.days
        ]
    else:
        by_day: dict[date, list[PreviewRow]] = {}
        for row in rows:
            by_day.setdefault(row.first_day, []).append(row)
        groups = [DayGroup(day, found) for day, found in by_day.items()]
    return FeedOverview(
        window=window,
        index=index,
        is_pending=is_pending,
        groups=groups,
        is_truncated=is_truncated,
        subscribers=subscribers(store.feed_fetches(feed.feed_id), now),
    )


def describe_duration(length: timedelta) -> str:
    """'45 min', '2 h 30 min', '3 days'."""
    minutes = int(length.total_seconds() // 60)
    if minutes >= 24 * 60 and minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def feed_page_context(feed: Feed, url: str, args: Mapping[str, str]) -> dict[str, object]:
    """What the feed page adds for its preview and subscribers: the overview, the QR code,
    and whether the URL is one only this machine can reach."""
    settings = current_settings()
    return {
        "overview": feed_overview(
            current_store(), feed, args, settings.admin_zone, datetime.now(UTC)
        ),
        "qr_svg": subscribe_qr_svg(url),
        "is_loopback": is_loopback_host(urlsplit(url).hostname or ""),
        "describe_duration": describe_duration,
        "iso_week": iso_week_text,
        "max_rows": MAX_ROWS,
    }
