"""Wall-clock time in an entry's zone -> UTC, refusing DST gaps and resolving repeats by rule.

`to_utc` refuses a time that does not exist (spring forward) and resolves one that happens
twice (fall back) by a stated rule; `day_bounds_utc` encodes all-day events. Zone names
themselves are checked by bridge.zone_names.resolve_zone, the one validator of the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

# icalendar ships CLDR's windowsZones table (generated, dated): better than typing our own.
from bridge.errors import ZoneError

# "first": the earlier instant (daylight time, before the clocks go back); "second": the later
# one (standard time); "error": refuse and ask the person to say which.
RepeatedTimeRule = Literal["first", "second", "error"]

_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Placed:
    """A wall-clock time placed on the UTC time line, with a note when a rule chose for it."""

    instant: datetime  # aware UTC
    note: str | None = None


def format_offset(offset: timedelta | None) -> str:
    """UTC-04:00, UTC+05:30: how the notes show an offset."""
    total = int((offset or timedelta(0)).total_seconds())
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _transition(lo: datetime, hi: datetime, tz: ZoneInfo) -> datetime:
    """The first whole UTC second in (lo, hi] whose offset differs from lo's (lo, hi aware UTC)."""
    old = lo.astimezone(tz).utcoffset()
    while hi - lo > _ONE_SECOND:
        mid = lo + (hi - lo) // 2
        if mid.astimezone(tz).utcoffset() == old:
            lo = mid
        else:
            hi = mid
    return hi


def _shift(local: datetime, tz: ZoneInfo) -> tuple[datetime, timedelta, timedelta]:
    """For a wall time at a transition: (transition instant, offset before, offset after)."""
    offsets = [local.replace(tzinfo=tz, fold=fold).utcoffset() or timedelta(0) for fold in (0, 1)]
    lo = (local - max(offsets)).replace(tzinfo=UTC)
    hi = (local - min(offsets)).replace(tzinfo=UTC)
    moment = _transition(lo, hi, tz)
    before = lo.astimezone(tz).utcoffset() or timedelta(0)
    after = moment.astimezone(tz).utcoffset() or timedelta(0)
    return moment, before, after


def _is_gap(local: datetime, tz: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local


def to_utc(local: datetime, zone: str, repeated: RepeatedTimeRule = "first") -> Placed:
    """Place a naive wall-clock time of `zone` on the UTC time line.

    A time in a spring-forward gap raises ZoneError naming the gap. A time that happens twice
    follows `repeated`, and the result's note says which offset was used.
    """
    tz = ZoneInfo(zone)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return Placed(first.astimezone(UTC))
    moment, before, after = _shift(local, tz)
    clock_from = (moment + before).replace(tzinfo=None)
    clock_to = (moment + after).replace(tzinfo=None)
    when = f"{local:%H:%M} on {local:%Y-%m-%d}"
    if _is_gap(local, tz):
        raise ZoneError(
            f"{local:%H:%M} does not exist on {local:%Y-%m-%d} in {zone} (clocks skip from "
            f"{clock_from:%H:%M} to {clock_to:%H:%M}); pick a time outside the gap"
        )
    back = f"clocks go back from {clock_from:%H:%M} to {clock_to:%H:%M}"
    if repeated == "error":
        raise ZoneError(
            f"{when} happens twice in {zone} ({back}); pick a time outside that hour, or ask "
            "for the repeated-time rule to be set"
        )
    chosen = first if repeated == "first" else second
    which = "first" if repeated == "first" else "second"
    note = (
        f"{when} happens twice in {zone} ({back}); used the {which}, "
        f"{chosen.tzname()} ({format_offset(chosen.utcoffset())})"
    )
    return Placed(chosen.astimezone(UTC), note)


def day_start_utc(day: date, zone: str) -> datetime:
    """The first instant of `day` in `zone`: local midnight, or the end of a gap at midnight."""
    tz = ZoneInfo(zone)
    midnight = datetime.combine(day, time(0))
    if _is_gap(midnight, tz):
        moment, _, _ = _shift(midnight, tz)
        return moment
    return midnight.replace(tzinfo=tz, fold=0).astimezone(UTC)


def day_bounds_utc(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """All-day encoding: local 00:00:00 of `first` to local 23:59:59 of `last`, in UTC.

    Taken as "first instant of the first day" to "one second before the next day starts", so
    a zone whose clocks change at midnight still gets its whole days.
    """
    return day_start_utc(first, zone), day_start_utc(last + timedelta(days=1), zone) - _ONE_SECOND
