"""Time zones for entries: a zone name as people type it -> IANA, and wall-clock time -> UTC.

`resolve_zone` is the one validator of a zone people give (form, CSV, .ics, admin pages, CLI):
IANA names (any case), old IANA aliases and the Windows names Outlook writes. `to_utc` refuses a
time that does not exist (spring forward) and resolves one that happens twice (fall back) by a
stated rule; `day_bounds_utc` encodes all-day events.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

# icalendar ships CLDR's windowsZones table (generated, dated): better than typing our own.
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

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


@dataclass(frozen=True)
class _Catalogue:
    by_lower: dict[str, str]  # every zoneinfo key, lower-cased -> key
    listed: frozenset[str]  # zone.tab: the names zone pickers offer
    links: dict[str, str]  # alias -> target, from tzdata.zi
    windows_by_lower: dict[str, str]  # Windows name, lower-cased -> IANA


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    zone_dir = resources.files("tzdata.zoneinfo")
    listed = frozenset(
        line.split("\t")[2]
        for line in zone_dir.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    links = {}
    for line in zone_dir.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()
            links[alias] = target
    return _Catalogue(
        by_lower={key.lower(): key for key in available_timezones()},
        listed=listed,
        links=links,
        windows_by_lower={name.lower(): iana for name, iana in WINDOWS_TO_OLSON.items()},
    )


def _canonical(key: str, typed: str) -> str:
    """The name Trackops and zone pickers use for `key` (Asia/Calcutta -> Asia/Kolkata).

    Only aliases whose target is a listed zone are followed: tzdata also links distinct
    places (Europe/Amsterdam -> Europe/Brussels), which are listed themselves and kept.
    """
    cat = _catalogue()
    if key in ("UTC", "Etc/UTC") or cat.links.get(key) == "Etc/UTC":
        return "UTC"  # the one spelling every zone list has (PHP's included)
    if key in cat.listed or key.startswith("Etc/"):
        return key
    target = cat.links.get(key, "")
    if "/" not in key:
        # Bare names such as EST or GB: tzdata now links EST to America/Panama, which is not
        # what someone typing EST means. Only the UTC family is safe to accept.
        if target.startswith("Etc/"):
            return target
        raise ZoneError(
            f"{typed!r} is an abbreviation or legacy name, not a time zone: write a "
            "Region/City name such as America/New_York or Europe/London"
        )
    return target if target in cat.listed else key


def offered_zones() -> frozenset[str]:
    """The names a zone picker offers: each one `resolve_zone` gives back unchanged."""
    return _catalogue().listed | {"UTC"}


def resolve_zone(text: str) -> str:
    """The IANA name for a zone typed as IANA (any case, spaces for '_') or as a Windows name."""
    typed = " ".join(text.split())
    if not typed:
        raise ZoneError("no time zone given")
    cat = _catalogue()
    windows = cat.windows_by_lower.get(typed.lower())
    if windows is not None:
        return _canonical(windows, typed)
    key = cat.by_lower.get(typed.replace(" ", "_").lower())
    if key is not None:
        return _canonical(key, typed)
    hint = _suggest(typed)
    raise ZoneError(
        f"unknown time zone {typed!r}"
        + (
            f"; did you mean {hint}?"
            if hint
            else "; write a Region/City name such as America/New_York"
        )
    )


def _suggest(typed: str) -> str:
    cat = _catalogue()
    names = sorted(cat.listed) + sorted(WINDOWS_TO_OLSON)
    by_lower = {name.lower(): name for name in names}
    # People often type just the city ("new york"): match it against the last part too.
    by_city = {name.rsplit("/", 1)[-1].replace("_", " ").lower(): name for name in cat.listed}
    needle = typed.replace("_", " ").lower()
    found = [by_lower[m] for m in difflib.get_close_matches(typed.lower(), by_lower, n=3)]
    found += [by_city[m] for m in difflib.get_close_matches(needle, by_city, n=3)]
    unique = list(dict.fromkeys(found))[:3]
    return " or ".join(repr(name) for name in unique)


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
