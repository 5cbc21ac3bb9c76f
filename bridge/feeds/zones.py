"""Zones in a feed: which zone an event is shown in, its VTIMEZONE text, and whether a wall time
written under that VTIMEZONE reads back as the right instant, and only that one.

Entry points: ``shown_zone()``, ``zoneless_zone()`` and ``ZoneTable`` (one per render year).

Every feed rendered in a year describes a zone by the same rules: the rules of that year, from
the first of their onsets in the year before (``derive_zone_rules(zone, year, year)``). So an
event's VEVENT block depends on the event, the zone it is shown in and the year, never on what
else the feed holds, and can be kept and reused across feeds and renders. A timed event the
rules cannot speak for (a year before its zone's current rules, a repeated or skipped hour) is
written in UTC, as before: every client reads the same instants.

The read-back check is zoneinfo's: a wall time is written with its TZID when both folds of
PEP 495 give it one offset (it happens once) and, in that UTC year, the VTIMEZONE's rules and
zoneinfo change offset at the same instants (checked once per zone and year). Only in a year
where they differ is the wall time read through the rules one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bridge.feeds.text import (
    CRLF,
    content_line,
    escape_text,
    utc_offset_value,
    wall_value,
)
from bridge.models import Event, Feed, FeedEvent, FeedKind
from bridge.vtimezone import Observance, ZoneRules, derive_zone_rules, is_utc_zone, iter_transitions
from bridge.zone_names import known_zones

# Years a VTIMEZONE speaks for. A timed event outside them (a typing slip) is written in UTC
# rather than making the rule scan cross centuries (e.g. a year typed 0202 or 2224).
WALL_CLOCK_YEARS = range(1970, 2100)
# Transitions are compared a little beyond each UTC year, so that every reading of a wall time
# in it (at most a day away) falls where rules and zoneinfo were seen to agree.
_YEAR_MARGIN = timedelta(days=2)


def known_zone(name: str | None) -> str | None:
    """The name if tzdata knows it, else None: an event with a zone name we cannot read is shown
    in the next zone in line (its instant stays right) rather than breaking the whole feed."""
    return name if name and name in known_zones() else None


def zoneless_zone(feed: Feed, default_timezone: str) -> str | None:
    """The zone this feed shows an event without a zone in: the feed's, else (a calendar's feed)
    the calendar's, else ``default_timezone``. None for a staff or all-events feed without a
    zone of its own, whose events each follow their own calendar's zone."""
    if (feed_zone := known_zone(feed.timezone)) is not None:
        return feed_zone
    if feed.kind is FeedKind.CALENDAR:
        return known_zone(feed.calendar_timezone) or default_timezone
    return None


def fallback_zone(feed_zone: str | None, calendar_timezone: str | None, default_zone: str) -> str:
    """The zone an event without a readable zone of its own is shown in."""
    return feed_zone or known_zone(calendar_timezone) or default_zone


def shown_zone(item: FeedEvent, feed_zone: str | None, default_zone: str) -> str:
    """The zone an event is shown in: its own, the feed's, its calendar's, the default."""
    if not is_plausible(item.event):
        return "UTC"
    return known_zone(item.event.timezone) or fallback_zone(
        feed_zone, item.calendar_timezone, default_zone
    )


def is_plausible(event: Event) -> bool:
    # A year typed 0202 or 9999 is written in UTC (all-day: as UTC dates): converting it to a
    # zone can leave the range datetime supports, and no VTIMEZONE speaks for it anyway.
    years = WALL_CLOCK_YEARS
    return event.start_at.year in years and event.end_at.year in years


class ZoneTable:
    """The VTIMEZONE of every zone as feeds rendered in ``year`` write it, and the check of
    which wall times it reads right. Cheap to make: the work is cached per zone and year."""

    def __init__(self, year: int) -> None:
        self.year = year

    def local_times(
        self, zone: str, start: datetime, end: datetime
    ) -> tuple[datetime, datetime] | None:
        """``start`` and ``end`` (aware) as times in ``zone``, when every client reads their
        wall times under this table's VTIMEZONE as exactly these instants; else None."""
        if is_utc_zone(zone):
            return None
        zone_info = ZoneInfo(zone)
        local_start = start.astimezone(zone_info)
        local_end = end.astimezone(zone_info)
        for local, moment in ((local_start, start), (local_end, end)):
            if local.year not in WALL_CLOCK_YEARS:
                return None
            # Happens once: the other fold (PEP 495) of the same wall time has the same offset.
            if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
                return None
            instant = moment.astimezone(UTC)
            if not _rules_agree(zone, self.year, instant.year):
                wall = local.replace(tzinfo=None, fold=0)
                if _rules(zone, self.year).readings(wall) != [instant]:
                    return None
        return local_start, local_end

    def vtimezone(self, zone: str) -> bytes:
        """The zone's VTIMEZONE component as text, in the shape Outlook reads."""
        return _vtimezone_text(zone, self.year)


@lru_cache(maxsize=1024)
def _rules(zone: str, year: int) -> ZoneRules:
    return derive_zone_rules(zone, year, year)


@lru_cache(maxsize=8192)
def _rules_agree(zone: str, year: int, utc_year: int) -> bool:
    """Whether the rules of ``year`` and zoneinfo give every instant of ``utc_year`` (and the
    margin around it) the same offset: the same offset where it starts, the same changes."""
    if utc_year - 1 < WALL_CLOCK_YEARS.start or utc_year + 1 >= WALL_CLOCK_YEARS.stop:
        return False
    rules, zone_info = _rules(zone, year), ZoneInfo(zone)
    low = datetime(utc_year, 1, 1, tzinfo=UTC) - _YEAR_MARGIN
    high = datetime(utc_year + 1, 1, 1, tzinfo=UTC) + _YEAR_MARGIN
    if rules.utcoffset(low) != low.astimezone(zone_info).utcoffset():
        return False
    actual = [
        (t.at, t.offset_from, t.offset_to)
        for t in iter_transitions(zone_info, low, high)
        if low < t.at <= high
    ]
    predicted = sorted(
        (onset, observance.offset_from, observance.offset_to)
        for observance in rules.observances
        for onset in observance.onsets_near(utc_year)
        if low < onset <= high
    )
    return actual == predicted


@lru_cache(maxsize=1024)
def _vtimezone_text(zone: str, year: int) -> bytes:
    rules = _rules(zone, year)
    # Lightning and Evolution map a VTIMEZONE to their own zone through X-LIC-LOCATION.
    lines = [
        b"BEGIN:VTIMEZONE\r\n",
        content_line("TZID", escape_text(zone)),
        content_line("X-LIC-LOCATION", escape_text(zone)),
    ]
    for observance in sorted(rules.observances, key=lambda o: o.is_daylight):
        lines.append(_observance_text(observance))
    lines.append(b"END:VTIMEZONE" + CRLF)
    return b"".join(lines)


def _observance_text(observance: Observance) -> bytes:
    kind = "DAYLIGHT" if observance.is_daylight else "STANDARD"
    lines = [f"BEGIN:{kind}".encode() + CRLF, content_line("DTSTART", wall_value(observance.start))]
    if (rule := observance.rule) is not None:
        lines.append(content_line("RRULE", f"FREQ=YEARLY;BYDAY={rule.byday};BYMONTH={rule.month}"))
    lines += [
        content_line("TZNAME", escape_text(observance.name)),
        content_line("TZOFFSETFROM", utc_offset_value(observance.offset_from)),
        content_line("TZOFFSETTO", utc_offset_value(observance.offset_to)),
        f"END:{kind}".encode() + CRLF,
    ]
    return b"".join(lines)
