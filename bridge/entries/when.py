"""When an entry happens: its dates, times and zone resolved to UTC start and end instants.

All-day entries run from local midnight of the first day to 23:59:59 of the last; a blank end
time takes the default duration; an end before the start is an error, not "the next day"; a
time DST skips is refused and a repeated one follows `EntryOptions.repeated_time`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from bridge.entries.drafts import EntryFields
from bridge.entries.values import (
    EntryOptions,
    SeveralProblems,
    parse_all_day,
    parse_date,
    parse_time,
)
from bridge.entries.wall_clock import RepeatedTimeRule, day_bounds_utc, to_utc
from bridge.errors import Invalid, ZoneError

T = TypeVar("T")


@dataclass(frozen=True)
class _When:
    start_at: datetime
    end_at: datetime
    is_allday: bool
    notes: tuple[str, ...] = ()


def _place(
    field_name: str, local: datetime, zone: str, rule: RepeatedTimeRule, notes: list[str]
) -> datetime:
    try:
        placed = to_utc(local, zone, rule)
    except ZoneError as bad:
        raise Invalid(field_name, str(bad)) from None
    if placed.note:
        notes.append(placed.note)
    return placed.instant


def _duration_words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{hours} hour{'s' if hours != 1 else ''}" if hours else "",
        f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes else "",
    ]
    return " ".join(p for p in parts if p)


def _default_end_note(options: EntryOptions) -> str:
    return f"no end time given: the event lasts {_duration_words(options.default_duration)}"


def resolve_when(fields: EntryFields, zone: str | None, options: EntryOptions) -> _When | None:
    """Start, end and all-day from the date/time fields (or the source's exact instants).

    Raises SeveralProblems with every problem found; returns None when `zone` is unknown (the zone
    rule has already reported why), after checking everything that needs no zone.
    """
    if fields.start_instant is not None:
        return _when_from_instants(fields.start_instant, fields.end_instant, options)
    problems: list[Invalid] = []

    def attempt(parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except Invalid as bad:
            problems.append(bad)
            return None

    text = {
        name: getattr(fields, name).strip()
        for name in ("start_date", "start_time", "end_date", "end_time", "all_day")
    }
    order = options.date_order
    start_day = (
        attempt(lambda: parse_date("start_date", text["start_date"], order))
        if text["start_date"]
        else None
    )
    if not text["start_date"]:
        problems.append(Invalid("start_date", "is required"))
    end_day = (
        attempt(lambda: parse_date("end_date", text["end_date"], order))
        if text["end_date"]
        else None
    )
    start_clock = (
        attempt(lambda: parse_time("start_time", text["start_time"]))
        if text["start_time"]
        else None
    )
    end_clock = (
        attempt(lambda: parse_time("end_time", text["end_time"])) if text["end_time"] else None
    )
    all_day = attempt(lambda: parse_all_day(text["all_day"]))

    if all_day is True and (text["start_time"] or text["end_time"]):
        problems.append(
            Invalid(
                "all_day",
                "is yes but times are given: clear start_time and end_time, or set all_day to no",
            )
        )
    elif all_day is False and not text["start_time"]:
        problems.append(Invalid("start_time", "is required when all_day is no"))
    elif text["end_time"] and not text["start_time"]:
        problems.append(Invalid("start_time", "is required when end_time is given"))
    if problems or start_day is None:
        raise SeveralProblems(problems)

    if start_clock is None:
        last_day = end_day or start_day
        if last_day < start_day:
            raise Invalid("end_date", f"{last_day} is before start_date {start_day}")
        if zone is None:
            return None
        start_at, end_at = day_bounds_utc(start_day, last_day, zone)
        return _When(start_at, end_at, is_allday=True)
    return _timed(start_day, start_clock, end_day, end_clock, zone, options)


def _timed(
    start_day: date,
    start_clock: time,
    end_day: date | None,
    end_clock: time | None,
    zone: str | None,
    options: EntryOptions,
) -> _When | None:
    start_local = datetime.combine(start_day, start_clock)
    end_local = datetime.combine(end_day or start_day, end_clock) if end_clock else None
    problems: list[Invalid] = []
    if end_local is None and end_day not in (None, start_day):
        problems.append(
            Invalid(
                "end_time", f"is required when the event ends on another day (end_date {end_day})"
            )
        )
    if end_local is not None and end_local <= start_local:
        problems.append(_end_before_start(start_local, end_local, has_end_day=bool(end_day)))
    is_ordered = not problems
    if zone is None:
        if problems:
            raise SeveralProblems(problems)
        return None
    notes: list[str] = []
    start_at = end_at = None
    try:
        start_at = _place("start_time", start_local, zone, options.repeated_time, notes)
    except Invalid as bad_start:
        problems.append(bad_start)
    if end_local is not None and is_ordered:
        try:
            end_at = _place("end_time", end_local, zone, options.repeated_time, notes)
        except Invalid as bad_end:
            problems.append(bad_end)
    if problems or start_at is None:
        raise SeveralProblems(problems)
    if end_at is None:
        end_at = start_at + options.default_duration
        notes.append(_default_end_note(options))
    elif end_at <= start_at:
        raise Invalid(
            "end_time",
            f"{end_local:%H:%M} is before the start once the clock change in {zone} is applied",
        )
    return _When(start_at, end_at, is_allday=False, notes=tuple(notes))


def _end_before_start(start: datetime, end: datetime, *, has_end_day: bool) -> Invalid:
    if start == end:
        return Invalid(
            "end_time",
            f"the event ends when it starts ({start:%Y-%m-%d %H:%M}); "
            "give a later end_time or leave it blank",
        )
    if not has_end_day:
        next_day = start.date() + timedelta(days=1)
        return Invalid(
            "end_time",
            f"{end:%H:%M} is before start_time {start:%H:%M} on "
            f"{start:%Y-%m-%d}; an event that runs past midnight needs "
            f"end_date {next_day}",
        )
    return Invalid(
        "end_date",
        f"the event ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})",
    )


def _when_from_instants(
    start_instant: datetime, end_instant: datetime | None, options: EntryOptions
) -> _When:
    start_at = start_instant.astimezone(UTC)
    if end_instant is None:
        end_at = start_at + options.default_duration
        return _When(start_at, end_at, is_allday=False, notes=(_default_end_note(options),))
    end_at = end_instant.astimezone(UTC)
    if end_at <= start_at:
        raise Invalid(
            "end_time",
            f"the event ends ({end_at:%Y-%m-%d %H:%M} UTC) "
            f"before it starts ({start_at:%Y-%m-%d %H:%M} UTC)",
        )
    return _When(start_at, end_at, is_allday=False)
