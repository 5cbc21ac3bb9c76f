"""Blocks -> the bytes of one feed: the calendar's header, a VTIMEZONE per zone used, the events.

Entry points: ``render_feed()`` (events to bytes, pure: the same items and arguments give the
same bytes) and ``assemble_feed()`` (blocks kept from earlier renders to bytes, for the feed
engine). ``render_feed`` is ``assemble_feed`` over freshly written blocks, so both give the
same bytes for the same events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bridge.feeds.blocks import Block, BlockWriter
from bridge.feeds.text import CRLF, content_line, duration_value, escape_text
from bridge.feeds.zones import ZoneTable, known_zone, shown_zone, zoneless_zone
from bridge.models import Feed, FeedEvent
from bridge.vtimezone import is_utc_zone

PRODID = "-//Trackops Bridge//Feeds 1.0//EN"
# Google Calendar silently drops events from feeds larger than about 1 MB; callers warn past this.
FEED_SIZE_WARNING_BYTES = 800_000
# Polling faster gains a subscriber nothing: the store itself changes only as often as sync runs.
MIN_REFRESH_INTERVAL = timedelta(minutes=15)
_END = b"END:VCALENDAR" + CRLF


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
    else ``default_timezone``. ``generated_at`` (aware) is the DTSTAMP of events that carry
    neither ``updated_at`` nor ``changed_at``, and its UTC year picks the VTIMEZONE rules.
    """
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    default_zone = require_zone(default_timezone)
    zones = ZoneTable(generated_at.astimezone(UTC).year)
    writer = BlockWriter(
        account=account, privacy=feed.privacy, zones=zones, generated_at=generated_at
    )
    feed_zone = known_zone(feed.timezone)
    ordered = sorted(_unique(items), key=lambda item: (item.event.start_at, item.event.event_id))
    blocks = [writer.write(item, shown_zone(item, feed_zone, default_zone)) for item in ordered]
    return assemble_feed(
        feed,
        blocks,
        zones=zones,
        default_timezone=default_zone,
        refresh_interval=refresh_interval,
    )


def require_zone(default_timezone: str) -> str:
    """``default_timezone`` if tzdata knows it; ValueError otherwise."""
    zone = known_zone(default_timezone)
    if zone is None:
        raise ValueError(f"default_timezone: unknown IANA zone {default_timezone!r}")
    return zone


def assemble_feed(
    feed: Feed,
    blocks: Sequence[Block],
    *,
    zones: ZoneTable,
    default_timezone: str,
    refresh_interval: timedelta,
) -> bytes:
    """The feed of ``blocks``, in the order given, written with ``zones``' VTIMEZONEs."""
    header = _calendar_header(
        feed, _calendar_zone(feed, blocks, default_timezone), refresh_interval
    )
    tzids = sorted({block.tzid for block in blocks if block.tzid is not None})
    return b"".join([header, *map(zones.vtimezone, tzids), *(block.body for block in blocks), _END])


def _calendar_zone(feed: Feed, blocks: Sequence[Block], default_zone: str) -> str | None:
    """X-WR-TIMEZONE: the zone the feed's zone-less events are shown in; None when they are
    shown in several (events of different calendars in a staff or all-events feed)."""
    if (zone := zoneless_zone(feed, default_zone)) is not None:
        return zone
    shown = {block.zoneless_zone for block in blocks if block.zoneless_zone is not None}
    if len(shown) > 1:
        return None
    return shown.pop() if shown else default_zone


def _calendar_header(feed: Feed, zone: str | None, refresh_interval: timedelta) -> bytes:
    # No calendar-level UID (RFC 7986 allows one): vdirsyncer copies the calendar's properties
    # into every event it splits out and then takes the first UID line as the event's, so every
    # event of the feed became one. Nothing here shares a name with an event property.
    interval = max(refresh_interval, MIN_REFRESH_INTERVAL)
    duration = duration_value(timedelta(seconds=int(interval.total_seconds())))
    name = escape_text(feed.name)
    lines = [
        b"BEGIN:VCALENDAR" + CRLF,
        content_line("VERSION", "2.0"),
        content_line("PRODID", PRODID),
        content_line("CALSCALE", "GREGORIAN"),
        content_line("METHOD", "PUBLISH"),
        content_line("NAME", name),
        content_line("X-WR-CALNAME", name),
        # RFC 7986 requires VALUE=DURATION on REFRESH-INTERVAL.
        content_line("REFRESH-INTERVAL;VALUE=DURATION", duration),
        content_line("X-PUBLISHED-TTL", duration),
    ]
    if zone is not None:
        lines.append(content_line("X-WR-TIMEZONE", "UTC" if is_utc_zone(zone) else zone))
    return b"".join(lines)


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
