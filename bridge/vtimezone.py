"""VTIMEZONE components built from zoneinfo, in the one-STANDARD/one-DAYLIGHT shape Outlook reads.

Entry points: ``build_vtimezone()`` for the component, ``derive_zone_rules()`` for the rules behind
it, which also tell the feed renderer whether a wall-clock time it writes reads back as the right
instant, and only that one (``ZoneRules.readings``).

Outlook turns a VTIMEZONE into one Windows rule (a standard and a daylight onset given as "nth
weekday of a month"), so long RDATE lists or several STANDARD blocks put its events an hour off.
We therefore describe a zone by the rules of the last year the feed spans, and let each
sub-component's DTSTART start no earlier than those rules really held. Times the rules cannot
express (years before a rule change) are caught by ``ZoneRules.readings`` and written in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

# Names that mean UTC itself: events in them are written with a trailing Z, never with a TZID.
UTC_ZONE_NAMES = frozenset(
    {
        "UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
        "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0",
        "Greenwich", "Etc/Greenwich",
    }
)  # fmt: skip

# The conventional onset of a zone that has kept one offset for as long as the feed cares.
_EPOCH_ONSET = datetime(1970, 1, 1)  # noqa: DTZ001 - a VTIMEZONE DTSTART is wall-clock time
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def is_utc_zone(zone_name: str) -> bool:
    """True for the names of UTC itself (not for zones that merely sit at +0000 in winter)."""
    return zone_name in UTC_ZONE_NAMES


@dataclass(frozen=True)
class Transition:
    """One change of UTC offset, as zoneinfo has it."""

    at: datetime  # aware UTC instant from which offset_to applies
    offset_from: timedelta
    offset_to: timedelta
    name: str  # abbreviation in force after the change (TZNAME)

    @property
    def wall(self) -> datetime:
        """Wall-clock time of the change on the clock it ends (how VTIMEZONE DTSTART reads)."""
        return (self.at + self.offset_from).replace(tzinfo=None)


@dataclass(frozen=True)
class YearlyRule:
    """An onset each year on the week-th weekday of a month (week -1: the last) at a wall time."""

    month: int
    week: int
    weekday: int  # Monday is 0, as in datetime.weekday()
    wall_time: time

    @classmethod
    def matching(cls, wall: datetime) -> YearlyRule:
        """The rule that names this wall time: "last" when it falls in the month's last 7 days."""
        days_in_month = calendar.monthrange(wall.year, wall.month)[1]
        week = -1 if wall.day > days_in_month - 7 else (wall.day - 1) // 7 + 1
        return cls(wall.month, week, wall.weekday(), wall.time())

    @property
    def byday(self) -> str:
        """The RRULE BYDAY value, e.g. ``2SU`` or ``-1SU``."""
        return f"{self.week}{_WEEKDAYS[self.weekday]}"

    def wall(self, year: int) -> datetime:
        """The wall time of the onset in ``year``."""
        days_in_month = calendar.monthrange(year, self.month)[1]
        if self.week == -1:
            last_weekday = calendar.weekday(year, self.month, days_in_month)
            day = days_in_month - (last_weekday - self.weekday) % 7
        else:
            first_weekday = calendar.weekday(year, self.month, 1)
            day = 1 + (self.weekday - first_weekday) % 7 + 7 * (self.week - 1)
        return datetime.combine(date(year, self.month, day), self.wall_time)


@dataclass(frozen=True)
class Observance:
    """A STANDARD or DAYLIGHT sub-component: an onset, yearly or once, and the offset it brings."""

    is_daylight: bool
    start: datetime  # naive wall time of the first onset, on the clock before it (DTSTART)
    offset_from: timedelta
    offset_to: timedelta
    name: str
    rule: YearlyRule | None = None  # None when the onset happens once, at start

    def onsets_near(self, year: int) -> Iterator[datetime]:
        """UTC instants of the onsets this observance makes in the years around ``year``."""
        rule = self.rule
        walls = [self.start] if rule is None else [rule.wall(y) for y in (year - 1, year, year + 1)]
        for wall in walls:
            if wall >= self.start:
                yield (wall - self.offset_from).replace(tzinfo=UTC)

    def to_component(self) -> icalendar.TimezoneDaylight | icalendar.TimezoneStandard:
        component = (
            icalendar.TimezoneDaylight() if self.is_daylight else icalendar.TimezoneStandard()
        )
        component.add("dtstart", self.start)
        if self.rule is not None:
            rrule = {"FREQ": "YEARLY", "BYMONTH": self.rule.month, "BYDAY": self.rule.byday}
            component.add("rrule", rrule)
        component.add("tzoffsetfrom", self.offset_from)
        component.add("tzoffsetto", self.offset_to)
        component.add("tzname", self.name)
        return component


@dataclass(frozen=True)
class ZoneRules:
    """A zone as its VTIMEZONE describes it: one STANDARD observance, at most one DAYLIGHT."""

    zone_name: str
    standard: Observance
    daylight: Observance | None = None

    @property
    def observances(self) -> tuple[Observance, ...]:
        return (self.standard,) if self.daylight is None else (self.standard, self.daylight)

    def utcoffset(self, instant: datetime) -> timedelta | None:
        """The offset these rules give at an aware instant; None before their first onset."""
        instant = instant.astimezone(UTC)
        latest: tuple[datetime, timedelta] | None = None
        for observance in self.observances:
            for onset in observance.onsets_near(instant.year):
                if onset <= instant and (latest is None or onset > latest[0]):
                    latest = (onset, observance.offset_to)
        return None if latest is None else latest[1]

    def readings(self, wall: datetime) -> list[datetime]:
        """Every instant at which these rules show the naive ``wall``, earliest first: two in a
        repeated hour, none in a skipped one or before the rules begin.

        RFC 5545 (3.3.5) reads a repeated wall time as its first occurrence, but clients differ
        (khal takes the second), so the renderer writes a wall time only when it has one reading.
        """
        offsets = {o for obs in self.observances for o in (obs.offset_from, obs.offset_to)}
        return sorted(
            candidate
            for offset in offsets
            if self.utcoffset(candidate := (wall - offset).replace(tzinfo=UTC)) == offset
        )

    def to_component(self) -> icalendar.Timezone:
        component = icalendar.Timezone()
        component.add("tzid", self.zone_name)
        # Lightning and Evolution map a VTIMEZONE to their own zone through this name.
        component.add("x-lic-location", self.zone_name)
        for observance in sorted(self.observances, key=lambda o: o.is_daylight):
            component.add_component(observance.to_component())
        return component


def build_vtimezone(zone_name: str, first_year: int, last_year: int) -> icalendar.Timezone:
    """The VTIMEZONE for ``zone_name`` that is right for wall times from first to last year."""
    return derive_zone_rules(zone_name, first_year, last_year).to_component()


def derive_zone_rules(zone_name: str, first_year: int, last_year: int) -> ZoneRules:
    """The rules of ``last_year``, each starting as early as it held (at most a year before
    ``first_year``, so that January of the first year is covered in the southern hemisphere too).

    A zone with no DST in the last year is one STANDARD observance: from 1970 when its offset never
    changed in the span, else from its last change.
    """
    if first_year > last_year:
        raise ValueError(f"first_year {first_year} is after last_year {last_year}")
    zone = ZoneInfo(zone_name)
    transitions = [
        t
        for t in iter_transitions(
            zone,
            datetime(first_year - 1, 1, 1, tzinfo=UTC) - timedelta(days=2),
            datetime(last_year + 1, 1, 1, tzinfo=UTC) + timedelta(days=2),
        )
        if first_year - 1 <= t.wall.year <= last_year
    ]
    by_year: dict[int, list[Transition]] = {}
    for transition in transitions:
        by_year.setdefault(transition.wall.year, []).append(transition)

    last = by_year.get(last_year, [])
    if len(last) == 2 and _is_cycle(*last):
        return _yearly_rules(zone_name, last, by_year, first_year - 1)
    if not transitions:
        offset = _offset_at(zone, datetime(last_year, 7, 1, tzinfo=UTC))
        name = datetime(last_year, 7, 1, tzinfo=UTC).astimezone(zone).tzname() or zone_name
        return ZoneRules(zone_name, Observance(False, _EPOCH_ONSET, offset, offset, name))
    final = transitions[-1]
    return ZoneRules(
        zone_name,
        Observance(False, final.wall, final.offset_from, final.offset_to, final.name),
    )


def _is_cycle(a: Transition, b: Transition) -> bool:
    return a.offset_to == b.offset_from and b.offset_to == a.offset_from != a.offset_to


def _yearly_rules(
    zone_name: str,
    last: list[Transition],
    by_year: dict[int, list[Transition]],
    earliest_year: int,
) -> ZoneRules:
    # DAYLIGHT is the larger offset, whatever zoneinfo's dst() says: Europe/Dublin's "negative
    # DST" in winter is still the lower offset, and clients expect it as STANDARD.
    daylight_t, standard_t = sorted(last, key=lambda t: t.offset_to, reverse=True)
    pairs = [(daylight_t, YearlyRule.matching(daylight_t.wall), True),
             (standard_t, YearlyRule.matching(standard_t.wall), False)]  # fmt: skip

    def is_ruled(year: int) -> bool:
        expected = sorted((rule.wall(year), t.offset_from, t.offset_to) for t, rule, _ in pairs)
        actual = sorted((t.wall, t.offset_from, t.offset_to) for t in by_year.get(year, []))
        return actual == expected

    first_ruled = last[0].wall.year
    while first_ruled - 1 >= earliest_year and is_ruled(first_ruled - 1):
        first_ruled -= 1
    daylight, standard = (
        Observance(is_daylight, rule.wall(first_ruled), t.offset_from, t.offset_to, t.name, rule)
        for t, rule, is_daylight in pairs
    )
    return ZoneRules(zone_name, standard, daylight)


def iter_transitions(zone: ZoneInfo, start: datetime, stop: datetime) -> Iterator[Transition]:
    """Offset changes between two aware instants, found by a daily scan then bisection.

    zoneinfo has no public list of transitions. A day is finer than any rule in use since 1970
    (two changes inside one day would be seen as one, or not at all).
    """
    day = timedelta(days=1)
    here, here_offset = start, _offset_at(zone, start)
    while here < stop:
        there = here + day
        there_offset = _offset_at(zone, there)
        if there_offset != here_offset:
            yield _bisect(zone, here, here_offset, there)
        here, here_offset = there, there_offset


def _bisect(zone: ZoneInfo, before: datetime, offset: timedelta, after: datetime) -> Transition:
    low, high = before, after  # offset holds at low, not at high; close in to the second
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
        if _offset_at(zone, middle) == offset:
            low = middle
        else:
            high = middle
    local = high.astimezone(zone)
    return Transition(high, offset, _offset_at(zone, high), local.tzname() or zone.key)


def _offset_at(zone: ZoneInfo, instant: datetime) -> timedelta:
    utc = instant.astimezone(UTC)
    return utc.astimezone(zone).replace(tzinfo=None) - utc.replace(tzinfo=None)
