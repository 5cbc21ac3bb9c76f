"""Feeds: events -> VEVENT blocks -> the bytes of one iCalendar feed, in each event's own zone.

Entry points: ``render_feed()`` (pure and deterministic: no clock, no I/O; the same items and
arguments give the same bytes, tagged with ``etag_for()``), and for the feed engine, which keeps
blocks between renders, ``BlockWriter``, ``ZoneTable`` and ``assemble_feed()``.

Modules: ``text`` (RFC 5545 lines), ``zones`` (which zone, VTIMEZONE text, read-back check),
``blocks`` (one event's VEVENT), ``assembly`` (header + VTIMEZONEs + blocks).
"""

from bridge.feeds.blocks import BUSY_SUMMARY, EVENT_ID_PROPERTY, Block, BlockWriter, feed_uid
from bridge.feeds.document import (
    FEED_SIZE_WARNING_BYTES,
    MIN_REFRESH_INTERVAL,
    PRODID,
    assemble_feed,
    etag_for,
    render_feed,
    require_zone,
)
from bridge.feeds.zones import ZoneTable, fallback_zone, known_zone, shown_zone, zoneless_zone

__all__ = [
    "BUSY_SUMMARY",
    "EVENT_ID_PROPERTY",
    "FEED_SIZE_WARNING_BYTES",
    "MIN_REFRESH_INTERVAL",
    "PRODID",
    "Block",
    "BlockWriter",
    "ZoneTable",
    "assemble_feed",
    "etag_for",
    "fallback_zone",
    "feed_uid",
    "known_zone",
    "render_feed",
    "require_zone",
    "shown_zone",
    "zoneless_zone",
]
