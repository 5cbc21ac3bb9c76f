"""Feed rendering: events -> the bytes of one iCalendar feed, in each event's own time zone.

Entry point: ``render_feed()``. Pure and deterministic (no clock, no I/O): the same items and
arguments give the same bytes, so a caller may cache them and tag them with ``etag_for()``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import icalendar
from icalendar.prop import vDuration, vText

from bridge.models import Event, Feed, FeedEvent, FeedKind, Privacy
from bridge.vtimezone import ZoneRules, derive_zone_rules, is_utc_zone

PRODID = "-//Trackops Bridge//Feeds 1.0//EN"
# Google Calendar silently drops events from feeds larger than about 1 MB; callers warn past this.
FEED_SIZE_WARNING_BYTES = 800_000
# Polling faster gains a subscriber nothing: the store itself changes only as often as sync runs.
MIN_REFRESH_INTERVAL = timedelta(minutes=15)
BUSY_SUMMARY = "Busy"

# Years a VTIMEZONE speaks for. A timed event outside them (a typing slip) is written
# in UTC rather than making the rule scan cross centuries (e.g. a year typed 0202 or 2224).
_WALL_CLOCK_YEARS = range(1970, 2100)
# C0 controls other than tab and line breaks are not allowed in TEXT (RFC 5545 3.3.11).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Unicode's own line breaks. Parsers that split the feed with str.splitlines() (vdirsyncer's, and
# khal's through it) break a line at each, so a title holding "\u2028END:VEVENT" would end the
# event there: they are written as the escaped line break they stand for.
_UNICODE_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n\n", "\x85": "\n"})
# The Trackops event id, in a property no client shows. vdirsyncer's http storage replaces every
# UID with a hash of the event's other properties, so two events alike in all else (two "Busy"
# hours at the same time) would become one item without it.
EVENT_ID_PROPERTY = "X-TRACKOPS-EVENT-ID"


def feed_uid(account: str, event_id: int) -> str:
    """The UID of an event: from the Trackops account and event id only, so it survives a move to
    another calendar and every re-render. The account is lower-cased (subdomains ignore case)."""
    return f"trackops-{account.strip().lower()}-event-{event_id}@trackops-bridge"


def etag_for(body: bytes) -> str:
    """A strong HTTP ETag for a rendered feed: its quoted SHA-256, shortened to 128 bits."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def render_feed(
    items: Sequence[FeedEvent],
    feed: Feed,
    *,
    account: str,
    default_timezone: str,
    refresh_interval: timedelta,
    generated_at: datetime,
) -> bytes:
    """The iCalendar bytes of ``feed`` showing ``items`` (CRLF lines, folded at 75 octets).

    An event without a zone of its own is shown in ``feed.timezone``, else its calendar's zone,
    else ``default_timezone``. ``generated_at`` (aware) is the DTSTAMP of events that carry no
    ``updated_at``.
    """
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    default_zone = _known_zone(default_timezone)
    if default_zone is None:
        raise ValueError(f"default_timezone: unknown IANA zone {default_timezone!r}")
    feed_zone = _known_zone(feed.timezone)

    entries = [_Entry(item, _shown_zone(item, feed_zone, default_zone)) for item in _unique(items)]
    entries.sort(key=lambda entry: (entry.event.start_at, entry.event.event_id))
    rules = _zone_rules(entries)

    calendar = _calendar_header(feed, _calendar_zone(feed, entries, default_zone), refresh_interval)
    used_zones: set[str] = set()
    events: list[icalendar.Event] = []
    for entry in entries:
        vevent = _vevent(entry, feed.privacy, account, generated_at)
        if _add_times(vevent, entry, rules):
            used_zones.add(entry.zone)
        events.append(vevent)
    for zone in sorted(used_zones):
        calendar.add_component(rules[zone].to_component())
    for vevent in events:
        calendar.add_component(vevent)
    body: bytes = calendar.to_ical()
    return body


def zoneless_zone(feed: Feed, default_timezone: str) -> str | None:
    """The zone this feed shows an event without a zone in: the feed's, else (a calendar's feed)
    the calendar's, else ``default_timezone``. None for a staff or all-events feed without a
    zone of its own, whose events each follow their own calendar's zone."""
    if (feed_zone := _known_zone(feed.timezone)) is not None:
        return feed_zone
    if feed.kind is FeedKind.CALENDAR:
        return _known_zone(feed.calendar_timezone) or default_timezone
    return None


@dataclass(frozen=True)
class _Entry:
    item: FeedEvent
    zone: str  # the zone the event is shown in: its own, else the feed's

    @property
    def event(self) -> Event:
        return self.item.event

    @property
    def is_wall_clock(self) -> bool:
        """True when the event is written as wall-clock times under a VTIMEZONE, if it reads
        back right: timed, in a zone other than UTC, in years the rules can speak for."""
        if self.event.is_allday or is_utc_zone(self.zone):
            return False
        zone = ZoneInfo(self.zone)
        moments = (self.event.start_at, self.end_at)
        return all(moment.astimezone(zone).year in _WALL_CLOCK_YEARS for moment in moments)

    @property
    def end_at(self) -> datetime:
        # An end before the start is a data error: show the event at its start, zero-length,
        # rather than drop it or stretch it backwards (swapping could span months).
        return max(self.event.start_at, self.event.end_at)


class _Text(vText):
    """TEXT with RFC 5545 escaping and nothing more.

    icalendar's vText also turns a literal backslash-N into a line break (its documented way to
    write one), which would mangle "C:\\Notes" in an event body.
    """

    def to_ical(self) -> bytes:
        escaped = (
            _CONTROL_CHARS.sub("", str(self).translate(_UNICODE_LINE_BREAKS))
            .replace("\\", "\\\\")
            .replace(";", "\\;")
            .replace(",", "\\,")
            .replace("\r\n", "\\n")
            .replace("\r", "\\n")
            .replace("\n", "\\n")
        )
        # A lone surrogate (from a JSON "\\ud800") cannot be UTF-8: one character is replaced
        # rather than the whole feed failing.
        return escaped.encode("utf-8", "replace")


def _known_zone(name: str | None) -> str | None:
    """The name if tzdata knows it, else None: an event with a zone name we cannot read is shown
    in the next zone in line (its instant stays right) rather than breaking the whole feed."""
    return name if name and name in _zone_names() else None


@cache
def _zone_names() -> frozenset[str]:
    # Membership, not ZoneInfo(name): a name such as "US" (a directory) or one longer than a
    # file name can be raises OSError there, not ZoneInfoNotFoundError.
    return frozenset(available_timezones())


def _shown_zone(item: FeedEvent, feed_zone: str | None, default_zone: str) -> str:
    """The zone an event is shown in: its own, the feed's, its calendar's, the default."""
    if not _is_plausible(item.event):
        return "UTC"
    return (
        _known_zone(item.event.timezone)
        or feed_zone
        or _known_zone(item.calendar_timezone)
        or default_zone
    )


def _is_plausible(event: Event) -> bool:
    # A year typed 0202 or 9999 is written in UTC (all-day: as UTC dates): converting it to a
    # zone can leave the range datetime supports, and no VTIMEZONE speaks for it anyway.
    return all(moment.year in _WALL_CLOCK_YEARS for moment in (event.start_at, event.end_at))


def _calendar_zone(feed: Feed, entries: Sequence[_Entry], default_zone: str) -> str | None:
    """X-WR-TIMEZONE: the zone the feed's zone-less events are shown in; None when they are
    shown in several (events of different calendars in a staff or all-events feed)."""
    if (zone := zoneless_zone(feed, default_zone)) is not None:
        return zone
    shown = {entry.zone for entry in entries if _known_zone(entry.event.timezone) is None}
    if len(shown) > 1:
        return None
    return shown.pop() if shown else default_zone


def _unique(items: Sequence[FeedEvent]) -> list[FeedEvent]:
    """One item per event_id (two VEVENTs with one UID would be invalid): the latest version."""
    latest: dict[int, FeedEvent] = {}
    for item in items:
        held = latest.get(item.event.event_id)
        if held is None or _version(item) > _version(held):
            latest[item.event.event_id] = item
    return list(latest.values())


def _version(item: FeedEvent) -> tuple[int, datetime]:
    return item.sequence, item.event.updated_at or datetime.min.replace(tzinfo=UTC)


def _zone_rules(entries: Sequence[_Entry]) -> dict[str, ZoneRules]:
    """VTIMEZONE rules for every zone a timed event is shown in, over the years its events span."""
    years: dict[str, set[int]] = {}
    for entry in entries:
        if not entry.is_wall_clock:
            continue
        zone = ZoneInfo(entry.zone)
        years.setdefault(entry.zone, set()).update(
            moment.astimezone(zone).year for moment in (entry.event.start_at, entry.end_at)
        )
    return {name: derive_zone_rules(name, min(span), max(span)) for name, span in years.items()}


def _calendar_header(
    feed: Feed, zone: str | None, refresh_interval: timedelta
) -> icalendar.Calendar:
    # No calendar-level UID (RFC 7986 allows one): vdirsyncer copies the calendar's properties
    # into every event it splits out and then takes the first UID line as the event's, so every
    # event of the feed became one. Nothing here shares a name with an event property.
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", _Text(feed.name))
    calendar.add("x-wr-calname", _Text(feed.name))
    if zone is not None:
        calendar.add("x-wr-timezone", "UTC" if is_utc_zone(zone) else zone)
    interval = max(refresh_interval, MIN_REFRESH_INTERVAL)
    interval = timedelta(seconds=int(interval.total_seconds()))
    # icalendar writes neither property with VALUE=DURATION, which RFC 7986 requires for
    # REFRESH-INTERVAL; and it would write X-PUBLISHED-TTL as Python's "1:00:00".
    calendar.add("refresh-interval", vDuration(interval), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(interval))
    return calendar


def _vevent(
    entry: _Entry, privacy: Privacy, account: str, generated_at: datetime
) -> icalendar.Event:
    event = entry.event
    vevent = icalendar.Event()
    # Both set explicitly: icalendar must never invent a random UID or stamp the current time.
    vevent.add("uid", feed_uid(account, event.event_id))
    vevent.add(EVENT_ID_PROPERTY, str(event.event_id))
    vevent.add("dtstamp", (event.updated_at or generated_at).astimezone(UTC))
    if event.created_at is not None:
        vevent.add("created", event.created_at.astimezone(UTC))
    if event.updated_at is not None:
        vevent.add("last-modified", event.updated_at.astimezone(UTC))
    vevent.add("sequence", entry.item.sequence)
    vevent.add("status", "CONFIRMED")
    # All-day events are markers (deadlines, court days, leave notes): shown but not blocking a
    # whole day of free/busy, as Google and Apple do for all-day events they create.
    vevent.add("transp", "TRANSPARENT" if event.is_allday else "OPAQUE")

    if privacy is Privacy.BUSY:
        vevent.add("summary", _Text(BUSY_SUMMARY))
        vevent.add("class", "PRIVATE")
        return vevent
    if event.title:
        vevent.add("summary", _Text(event.title))
    if privacy is Privacy.FULL and (description := _description(entry.item)):
        vevent.add("description", _Text(description))
    if event.address is not None and not event.address.is_empty:
        vevent.add("location", _Text(event.address.one_line()))
    return vevent


def _description(item: FeedEvent) -> str:
    references = [
        f"{label}: {value}"
        for label, value in (("Case", item.case_label), ("Subject", item.subject_name))
        if value
    ]
    parts = [item.event.body.strip(), "\n".join(references)]
    return "\n\n".join(part for part in parts if part)


def _add_times(vevent: icalendar.Event, entry: _Entry, rules: Mapping[str, ZoneRules]) -> bool:
    """Add DTSTART and DTEND; True when they refer to the VTIMEZONE of ``entry.zone``.

    Zero-length events (and inverted ones, made zero-length by ``_Entry.end_at``) get a zero
    DURATION (P0D) instead of a DTEND: RFC 5545 requires DTEND after DTSTART and reads a missing
    one as "ends when it starts", but khal shows an event without either as an hour long.
    """
    event = entry.event
    zone = ZoneInfo(entry.zone)
    if event.is_allday:
        first, after_last = _allday_dates(event.start_at, entry.end_at, zone)
        vevent.add("dtstart", first)
        vevent.add("dtend", after_last)
        return False

    start, end = event.start_at.astimezone(zone), entry.end_at.astimezone(zone)
    walls = [moment.replace(tzinfo=None) for moment in (start, end)]
    # Wall times go out with the TZID only when every client lands on the same instants: when
    # our VTIMEZONE and zoneinfo both give each wall time exactly one reading, the right one.
    # Otherwise (an hour the clocks repeat, which RFC 5545 reads as the first occurrence and
    # khal as the second; a year before the zone's current rules) the event is written in UTC,
    # start and end alike, which every client reads the same.
    zone_rules = rules.get(entry.zone) if entry.is_wall_clock else None
    is_local = zone_rules is not None and all(
        _is_once(wall, zone) and zone_rules.readings(wall) == [moment.astimezone(UTC)]
        for wall, moment in zip(walls, (start, end), strict=True)
    )
    if is_local:
        values: list[datetime] = walls
        parameters = {"TZID": entry.zone}
    else:
        values, parameters = [start.astimezone(UTC), end.astimezone(UTC)], {}
    vevent.add("dtstart", values[0], parameters=parameters)
    # Compared as instants: aware times in one zone compare by wall time (PEP 495), so an
    # hour from the first 01:30 to the second 01:30 would look zero-length.
    if entry.end_at > event.start_at:
        vevent.add("dtend", values[1], parameters=parameters)
    else:
        vevent.add("duration", timedelta(0))
    return is_local


def _is_once(wall: datetime, zone: ZoneInfo) -> bool:
    """True when the naive ``wall`` happens exactly once in ``zone``: in neither a repeated hour
    nor a skipped one, where the two folds of PEP 495 disagree on the offset."""
    return (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        == wall.replace(tzinfo=zone, fold=1).utcoffset()
    )


def _allday_dates(start_at: datetime, end_at: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """DTSTART and the exclusive DTEND of an all-day event, as dates in ``zone``, unless the
    event starts at midnight UTC and not at midnight in ``zone``: then as dates in UTC.

    An all-day event is midnight to midnight in the zone it was saved in, and an event Trackops
    holds without a zone was saved in UTC: read in the zone it is shown in (the calendar's, the
    default) the same day would start the evening before west of UTC and span two dates.
    Trackops may store the end as 23:59:59 on the last day or as midnight after it: a local
    midnight is already the exclusive end, any other time ends the day after. At least one day.
    """
    if start_at.astimezone(zone).time() != time(0) and start_at.astimezone(UTC).time() == time(0):
        zone = ZoneInfo("UTC")
    first = start_at.astimezone(zone).date()
    end = end_at.astimezone(zone)
    after_last = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    return first, max(after_last, first + timedelta(days=1))
