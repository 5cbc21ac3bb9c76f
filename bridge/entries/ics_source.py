"""Calendar file uploads: .ics bytes exported from Outlook or Google -> `EntryFields` per event.

Entry point: `parse_ics`. An .ics file names no Trackops calendar or case: its entries leave
them blank for the caller to fill (`EntryFields.filled`) from the form's choice.

Stated rules:
- Times with a zone (TZID, including Outlook's Windows names, or UTC "Z") become exact instants;
  the event's zone is the TZID's IANA name, else the file's X-WR-TIMEZONE, else the calendar's.
- Floating times (no zone) are wall-clock times in the file's X-WR-TIMEZONE if it has one,
  else in the Trackops calendar's zone; the draft's notes say so.
- All-day events (VALUE=DATE): DTEND is exclusive, so the last day is DTEND minus one day.
- LOCATION becomes address_1 when it fits one address line (255 characters, line breaks
  joined with ", "); a longer one is added to the description as "Location: ...".
- Repeating events (RRULE/RDATE) are expanded up to `expand_until` (EXDATE honoured, changed
  occurrences taken from their RECURRENCE-ID copies), at most `max_occurrences` per event;
  without `expand_until` they are refused with an error naming the event.
- The work is bounded before it is done: the file's size, lines and VEVENTs are checked before
  it is parsed; occurrences, entries and search steps are counted as they are generated, against
  `max_entries` and a `Budget`, so no file costs more than about three seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from datetime import tzinfo as TzInfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rrule, rrulestr

from bridge.entries.budget import Budget, OverBudget
from bridge.entries.drafts import FILE, EntryFields, FieldError, Source
from bridge.entries.encoding import decode_upload
from bridge.errors import EncodingRefused, ZoneError
from bridge.zone_names import resolve_zone

ADDRESS_LINE_LIMIT = 255
_ICS_ADVICE = "export it again from the calendar program (they write UTF-8), or save it as UTF-8"
_VEVENT = re.compile(rb"^[ \t]*BEGIN[ \t]*:[ \t]*VEVENT", re.IGNORECASE | re.MULTILINE)
_END_OF_DAY = time(23, 59, 59)

Moment = date | datetime  # a DTSTART value: a date (all day), aware or floating datetime
T = TypeVar("T")


@dataclass(frozen=True)
class IcsParse:
    """The entries read from an .ics file, the errors, and what was skipped on purpose."""

    entries: tuple[EntryFields, ...]
    errors: tuple[FieldError, ...] = ()
    notices: tuple[str, ...] = ()
    encoding: str = ""  # as it was read: "UTF-8", "Windows-1252"; blank if it could not be
    budget: Budget | None = field(default=None, compare=False, repr=False)  # the work it cost

    @property
    def is_ok(self) -> bool:
        return not self.errors


class _Refused(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


class _TooMany(Exception):
    """The file gives more entries than it may: stop reading it (at the event named)."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


@dataclass
class _Reader:
    """What one parse needs to remember: the file's default zone and the running counts."""

    expand_until: date | None
    max_occurrences: int
    budget: Budget
    room: int = 0  # entries the file may still give
    file_zone: str | None = None


def parse_ics(
    data: bytes,
    *,
    expand_until: date | None,
    max_bytes: int = 5_000_000,
    max_occurrences: int = 500,
    max_entries: int = 1000,
    max_events: int = 2000,
    max_lines: int = 40_000,
    budget: Budget | None = None,
) -> IcsParse:
    """Read VEVENTs from an .ics file into entries; never raises on a bad file.

    `max_events` (VEVENTs, changed occurrences included) and `max_lines` bound icalendar's
    parse, which cannot be stopped once begun (about 40 microseconds a line).
    """
    budget = budget or Budget()

    def refuse(message: str, encoding: str = "") -> IcsParse:
        return _refuse_file(message, encoding, budget)

    if len(data) > max_bytes:
        return refuse(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper()
    if head != b"BEGIN:VCALENDAR":
        return refuse(
            "this is not an iCalendar (.ics) file: it does not start with BEGIN:VCALENDAR"
        )
    lines = data.count(b"\n") + 1
    if lines > max_lines:
        return refuse(
            f"the file has {lines:,} lines; the limit is {max_lines:,}: export a shorter date "
            "range, or split it"
        )
    events = len(_VEVENT.findall(data))
    if events > max_events:
        return refuse(
            f"the file has {events:,} events (VEVENTs); the limit is {max_events:,}: export a "
            "shorter date range, or split it"
        )
    try:
        decoded = decode_upload(data, advice=_ICS_ADVICE)
    except EncodingRefused as bad:
        return refuse(str(bad))
    try:
        calendars = icalendar.Calendar.from_ical(decoded.text, multiple=True)
    except Exception as bad:  # icalendar raises many kinds on malformed input
        return refuse(f"the file is not valid iCalendar: {bad}", decoded.encoding)
    reader = _Reader(expand_until, max_occurrences, budget, room=max_entries)
    entries: list[EntryFields] = []
    errors: list[FieldError] = []
    notices: list[str] = []
    try:
        budget.check_time()
        _read_calendars(reader, calendars, entries, errors, notices)
    except _TooMany as full:
        return refuse(
            f"the file gives more than {max_entries:,} events by {full.label}; the limit is "
            f"{max_entries:,}: split it, or expand repeating events to an earlier date",
            decoded.encoding,
        )
    except OverBudget as over:
        return refuse(over.message, decoded.encoding)
    return IcsParse(tuple(entries), tuple(errors), tuple(notices), decoded.encoding, budget)


def _read_calendars(
    reader: _Reader,
    calendars: list[icalendar.Calendar],
    entries: list[EntryFields],
    errors: list[FieldError],
    notices: list[str],
) -> None:
    """Every VEVENT's entries (or its error) into `entries` (or `errors`), in file order."""
    number = 0
    for calendar in calendars:
        reader.file_zone = _file_zone(calendar, notices)
        events = [e for e in calendar.walk("VEVENT") if isinstance(e, icalendar.Event)]
        series = {str(e.get("UID", "")) for e in events if _repeats(e) and e.get("UID")}
        changes: dict[str, list[icalendar.Event]] = {}
        for e in events:
            if e.get("RECURRENCE-ID") is not None:
                changes.setdefault(str(e.get("UID", "")), []).append(e)
        for event in events:
            number += 1
            if event.get("RECURRENCE-ID") is not None and str(event.get("UID", "")) in series:
                continue  # a changed occurrence: read with its series
            label = _label(event, number)
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                notices.append(f"{label}: skipped, it is cancelled")
                continue
            reader.budget.check_time()
            try:
                if _repeats(event):
                    changed = changes.get(str(event.get("UID", "")), [])
                    found = _expand(reader, event, changed, number)
                else:
                    found = [_entry(reader, event, number)]
            except (ValueError, TypeError, KeyError, IndexError) as bad:
                # Malformed values icalendar let through: report the event, read the others.
                message = f"cannot be read: {bad}"
                errors.append(FieldError(FILE, message, row=number, where=label))
                continue
            except _Refused as refused:
                errors.append(
                    FieldError(refused.field_name, refused.message, row=number, where=label)
                )
                continue
            except OverBudget as over:
                if not over.is_event_only:
                    raise OverBudget(f"{label}: {over.message}") from None
                errors.append(FieldError("recurrence", over.message, row=number, where=label))
                continue
            if len(found) > reader.room:
                raise _TooMany(label)
            entries.extend(found)
            reader.room -= len(found)


def _refuse_file(message: str, encoding: str = "", budget: Budget | None = None) -> IcsParse:
    return IcsParse((), (FieldError(FILE, message),), (), encoding, budget)


def _label(event: icalendar.Event, number: int) -> str:
    summary = " ".join(str(event.get("SUMMARY", "")).split())
    return f"Event {number} ({summary!r})" if summary else f"Event {number}"


def _repeats(event: icalendar.Event) -> bool:
    return bool(event.get("RRULE") or event.get("RDATE"))


def _file_zone(calendar: icalendar.Calendar, notices: list[str]) -> str | None:
    """The file's X-WR-TIMEZONE (Google writes it), as IANA, when it names a known zone."""
    declared = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if not declared:
        return None
    try:
        return resolve_zone(declared)
    except ZoneError as bad:
        notices.append(f"the file's X-WR-TIMEZONE is not used: {bad}")
        return None


# --- one event -----------------------------------------------------------------------------


def _start_and_end(event: icalendar.Event) -> tuple[Moment, Moment | None]:
    """DTSTART and the end from DTEND or DURATION; None for a timed event that gives neither."""
    if "DTSTART" not in event:
        raise _Refused("start_date", "has no start (DTSTART)")
    start: Moment = _decoded(event, "DTSTART", "start_date", date)
    if "DTEND" in event:
        return start, _decoded(event, "DTEND", "end_date", date)
    if "DURATION" in event:
        return start, start + _decoded(event, "DURATION", "end_time", timedelta)
    if not isinstance(start, datetime):
        return start, start + timedelta(days=1)  # RFC 5545: an all-day event lasts one day
    return start, None


def _decoded(event: icalendar.Event, name: str, field_name: str, kind: type[T]) -> T:
    """The value of property `name`, refused unless it is one `kind` (a date, a duration)."""
    try:
        value = event.decoded(name)
    except Exception as bad:  # a broken value surfaces only when decoded, as many kinds
        raise _Refused(field_name, f"has a {name} that cannot be read: {bad}") from None
    if isinstance(value, list):
        raise _Refused(field_name, f"has {name} more than once")
    if not isinstance(value, kind):
        raise _Refused(field_name, f"has a {name} that cannot be read: {value!r}")
    return value


def _zone_param(event: icalendar.Event) -> str | None:
    prop = event.get("DTSTART")
    params = getattr(prop, "params", {})
    tzid = params.get("TZID")
    return str(tzid) if tzid else None


def _entry(
    reader: _Reader,
    event: icalendar.Event,
    number: int,
    start: Moment | None = None,
    end: Moment | None = None,
) -> EntryFields:
    """One entry from `event`, at `start`/`end` when given (an occurrence of a series)."""
    if start is None:
        start, end = _start_and_end(event)
    texts = _texts(event)
    base = EntryFields(row=number, source=Source.ICS, **texts)
    if not isinstance(start, datetime):
        if isinstance(end, datetime):
            raise _Refused("end_date", "starts on a date (all day) but ends at a time")
        last = end - timedelta(days=1) if end is not None and end > start else start
        return dataclasses.replace(
            base,
            start_date=start.isoformat(),
            end_date=last.isoformat() if last != start else "",
            all_day="yes",
            timezone=reader.file_zone or "",
        )
    if isinstance(end, date) and not isinstance(end, datetime):
        raise _Refused("end_date", "starts at a time but ends on a date")
    tzid = _zone_param(event)
    if start.tzinfo is None:
        if tzid:
            raise _Refused(
                "timezone",
                f"uses time zone {tzid!r}, which is unknown and not "
                "described in the file (no VTIMEZONE)",
            )
        return _floating(reader, base, start, end)
    return _exact(reader, base, start, end, tzid)


def _floating(
    reader: _Reader, base: EntryFields, start: datetime, end: datetime | None
) -> EntryFields:
    fields = dataclasses.replace(
        base,
        start_date=start.date().isoformat(),
        start_time=start.strftime("%H:%M"),
        end_date=end.date().isoformat() if end and end.date() != start.date() else "",
        end_time=end.strftime("%H:%M") if end else "",
    )
    if reader.file_zone:
        note = (
            f"the file gives times without a zone: read in {reader.file_zone}, the file's "
            "X-WR-TIMEZONE"
        )
        return dataclasses.replace(fields, timezone=reader.file_zone, notes=(*fields.notes, note))
    return dataclasses.replace(fields, is_floating=True)


def _exact(
    reader: _Reader, base: EntryFields, start: datetime, end: datetime | None, tzid: str | None
) -> EntryFields:
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=start.tzinfo)
    zone, notes = None, list(base.notes)
    if tzid:
        try:
            zone = resolve_zone(tzid)
        except ZoneError:
            notes.append(
                f"the file's zone {tzid!r} has no IANA name: the event keeps its exact "
                "time and takes the calendar's zone"
            )
    else:
        zone = reader.file_zone
    # The preview's wall-clock strings: as the file wrote them, in the event's zone, or in UTC
    # when the zone is unknown (the instants are what count).
    shown: TzInfo | None = UTC
    if tzid and zone:
        shown = start.tzinfo
    elif zone:
        shown = ZoneInfo(zone)
    local_start = start.astimezone(shown)
    local_end = end.astimezone(shown) if end else None
    return dataclasses.replace(
        base,
        start_date=local_start.date().isoformat(),
        start_time=local_start.strftime("%H:%M"),
        end_date=(
            local_end.date().isoformat()
            if local_end and local_end.date() != local_start.date()
            else ""
        ),
        end_time=local_end.strftime("%H:%M") if local_end else "",
        timezone=zone or "",
        start_instant=start.astimezone(UTC),
        end_instant=end.astimezone(UTC) if end else None,
        notes=tuple(notes),
    )


def _texts(event: icalendar.Event) -> dict[str, Any]:
    """title, description and address_1 from SUMMARY, DESCRIPTION and LOCATION."""
    title = str(event.get("SUMMARY", "")).strip()
    description = str(event.get("DESCRIPTION", "")).strip()
    location = ", ".join(
        line.strip() for line in str(event.get("LOCATION", "")).splitlines() if line.strip()
    )
    texts: dict[str, Any] = {"title": title, "description": description}
    if len(location) <= ADDRESS_LINE_LIMIT:
        texts["address_1"] = location
    else:
        texts["description"] = "\n\n".join(p for p in (description, f"Location: {location}") if p)
        texts["notes"] = ("LOCATION is too long for an address line: added to the description",)
    return texts


# --- repeating events -----------------------------------------------------------------------


def _expand(
    reader: _Reader,
    master: icalendar.Event,
    changed: list[icalendar.Event],
    number: int,
) -> list[EntryFields]:
    """Every occurrence of a repeating event up to reader.expand_until, as entries."""
    _refuse_broken_repeats(master)
    rules = b", ".join(rule.to_ical() for rule in master.rrules).decode() or "RDATE"
    if reader.expand_until is None:
        raise _Refused(
            "recurrence",
            f"repeats ({rules}); choose a date to expand repeating "
            "events until, or leave it out of the file",
        )
    start, end = _start_and_end(master)
    length = end - start if end is not None else None
    excluded = {_instant_key(_like(start, x)) for x in master.exdates}
    replaced = {}
    for copy in changed:
        recurrence_id = _decoded(copy, "RECURRENCE-ID", "recurrence", date)
        replaced[_instant_key(_like(start, recurrence_id))] = copy

    entries: list[EntryFields] = []
    for rule in master.rrules:
        if _never_matches(rule):
            raise _Refused(
                "recurrence",
                f"repeats by {rule.to_ical().decode()}, which never happens (no such day in "
                "its months): correct the rule, or remove the RRULE line to create only the "
                "first occurrence",
            )
    occurrences = _occurrences(reader, master, start, reader.max_occurrences + 1)
    for count, occurrence in enumerate(occurrences, start=1):
        if count > reader.max_occurrences:
            raise _Refused(
                "recurrence",
                f"repeats ({rules}) more than "
                f"{reader.max_occurrences:,} times before "
                f"{reader.expand_until}: choose an earlier date",
            )
        key = _instant_key(occurrence)
        if key in excluded or key in replaced:
            continue
        occurrence_end = occurrence + length if length is not None else None
        entries.append(
            _entry(
                reader, master, number, _unlike(start, occurrence), _unlike(start, occurrence_end)
            )
        )
        if len(entries) > reader.room:
            raise _TooMany(_label(master, number))
    for key, copy in replaced.items():
        copy_start, copy_end = _start_and_end(copy)
        cancelled = str(copy.get("STATUS", "")).upper() == "CANCELLED"
        if key in excluded or cancelled or _day(copy_start) > reader.expand_until:
            continue
        entries.append(_entry(reader, copy, number, copy_start, copy_end))
    return sorted(
        entries,
        key=lambda e: (
            e.start_instant or datetime.min.replace(tzinfo=UTC),
            e.start_date,
            e.start_time,
        ),
    )


def _refuse_broken_repeats(event: icalendar.Event) -> None:
    """Refuse an RRULE, RDATE or EXDATE that icalendar kept as unparsed text.

    Read as if valid, such a value fails deep inside icalendar with a message about its own
    attributes; this names the property and what was wrong with it instead.
    """
    for name in ("RRULE", "RDATE", "EXDATE"):
        values = event.get(name)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, icalendar.vBroken):
                raise _Refused(
                    "recurrence",
                    f"has {name}:{value}, which cannot be read ({value.parse_error}): "
                    f"correct it, or remove the {name} line",
                )


def _occurrences(
    reader: _Reader, master: icalendar.Event, start: Moment, limit: int
) -> list[datetime]:
    """The series' start times up to the end of the expand date, sorted, at most `limit`.

    Each RRULE is given the expand date as its UNTIL, and COUNT is applied by taking the first
    COUNT occurrences, so no rule is iterated past the expand date once it matches again; every
    occurrence and every day searched is spent from the reader's budget as it is generated.
    """
    until = reader.expand_until
    if until is None:
        raise ValueError("a series is expanded only up to a date")
    reader.budget.start_event()
    base = _like(start, start)
    cap = _like(start, datetime.combine(until, _END_OF_DAY))
    found: set[datetime] = {base} if _instant_key(base) <= _instant_key(cap) else set()
    for rule in master.rrules:
        frequency = str((rule.get("FREQ") or [""])[0]).upper()
        if frequency in _TOO_OFTEN:
            # dateutil searches these second by second between matches (86,400 a day), which
            # no day-by-day budget sees; and no firm schedules an event every minute.
            raise _Refused(
                "recurrence",
                f"repeats every {_TOO_OFTEN[frequency]} ({rule.to_ical().decode()}): events "
                "that repeat more often than hourly are not expanded; give it a coarser rule, "
                "or leave it out of the file",
            )
        parts = {k: v for k, v in rule.items() if k not in ("COUNT", "UNTIL")}
        stop = cap
        if "UNTIL" in rule:
            stop = min(cap, _like(start, rule["UNTIL"][0], end_of_day=True), key=_instant_key)
        count = int(rule["COUNT"][0]) if "COUNT" in rule else None
        text = icalendar.vRecur(parts).to_ical().decode()  # type: ignore[no-untyped-call]
        try:
            parsed = rrulestr(text, dtstart=base)
        except (ValueError, TypeError) as bad:
            raise _Refused("recurrence", f"has a repeat rule that cannot be read ({bad})") from None
        if not isinstance(parsed, rrule):
            raise _Refused("recurrence", f"has a repeat rule that cannot be read: {text}")
        generated = _metered(parsed.replace(until=stop), reader.budget)
        for moment in itertools.islice(generated, min(count or limit, limit)):
            reader.budget.occurrence()
            found.add(moment)
    for rdate, _period_end in master.rdates:
        reader.budget.occurrence()
        moment = _like(start, rdate)
        if _instant_key(moment) <= _instant_key(cap):
            found.add(moment)
    ordered = sorted(found, key=_instant_key)
    unique = {_instant_key(moment): moment for moment in ordered}
    return list(unique.values())[:limit]


class _MeteredMonths:
    """Stands in for a dateutil rrule's BYMONTH so that its search spends a budget.

    dateutil checks UNTIL only on days that match: a rule that never matches again
    (BYYEARDAY=366;BYMONTH=1) is searched day by day up to the year 9999 without yielding, so
    no check between yields can stop it. Its loop asks `bymonth and ...` first of every day it
    looks at; this answers as the original tuple (or None) does, and spends a step each time.
    """

    __slots__ = ("_budget", "_months")

    def __init__(self, months: tuple[int, ...] | None, budget: Budget) -> None:
        self._months = months
        self._budget = budget

    def __bool__(self) -> bool:
        self._budget.step()
        return bool(self._months)

    def __contains__(self, month: object) -> bool:
        return month in (self._months or ())

    def __iter__(self) -> Iterator[int]:
        return iter(self._months or ())


def _metered(generated: rrule, budget: Budget) -> rrule:
    """`generated` with its search metered (see _MeteredMonths): the same dates, bounded work."""
    # A private attribute, read once when iteration starts; tests pin that the metering works.
    generated._bymonth = _MeteredMonths(generated._bymonth, budget)  # type: ignore[attr-defined]
    return generated


_TOO_OFTEN = {"SECONDLY": "second", "MINUTELY": "minute"}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# The months a day of the year falls in, in a common year and in a leap year.
_YEAR_DAY_MONTHS = {
    day: {(date(2025, 1, 1) + timedelta(days=day - 1)).month}
    | {(date(2024, 1, 1) + timedelta(days=day - 1)).month}
    for day in range(1, 366)
}
_YEAR_DAY_MONTHS[366] = {12}


def _never_matches(rule: icalendar.vRecur) -> bool:
    """True for a rule whose BYMONTHDAY or BYYEARDAY fits none of its months (30 February,
    the 366th day in January).

    dateutil would search such a rule day by day up to the year 9999; the metering stops it,
    but these are common enough to name plainly, and a file of them costs nothing to refuse.
    """
    months = {int(month) for month in rule.get("BYMONTH", [])} or set(range(1, 13))
    days = [abs(int(day)) for day in rule.get("BYMONTHDAY", [])]
    if days and all(day > _MONTH_DAYS[month - 1] for day in days for month in months):
        return True
    year_days = [int(day) for day in rule.get("BYYEARDAY", [])]
    # Counted from the end, -1 is 31 December and -366 is 1 January of a leap year.
    fits = [_YEAR_DAY_MONTHS.get(day if day > 0 else 367 + day, set()) for day in year_days]
    return bool(year_days) and not any(found & months for found in fits)


def _like(start: Moment, value: Moment, *, end_of_day: bool = False) -> datetime:
    """`value` as the same kind of datetime as the series' DTSTART, so that they compare.

    Dates become naive midnights for an all-day series; for a timed series a date takes the
    start's clock time (or the end of the day for an UNTIL), a naive time takes the start's zone.
    """
    if not isinstance(start, datetime):
        if isinstance(value, datetime):
            value = value.astimezone(UTC).date() if value.tzinfo else value.date()
        return datetime.combine(value, time(0))
    if not isinstance(value, datetime):
        clock = _END_OF_DAY if end_of_day else start.time()
        value = datetime.combine(value, clock)
    if start.tzinfo is None:
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value if value.tzinfo else value.replace(tzinfo=start.tzinfo)


def _unlike(start: Moment, value: datetime | None) -> Moment | None:
    """Back from `_like`: an all-day series' occurrences are dates again."""
    if value is None:
        return None
    return value if isinstance(start, datetime) else value.date()


def _instant_key(moment: datetime) -> datetime:
    """What makes two occurrences the same: the UTC instant, or the wall time if floating."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(moment: Moment) -> date:
    return moment.date() if isinstance(moment, datetime) else moment
