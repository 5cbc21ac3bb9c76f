"""The validation rules that turn one entry's raw text into a `Draft`, or into all its mistakes.

Entry point: `validate_entry(fields, directory, options)`. Each rule is a small function that
returns a value or raises `Invalid`; `validate_entry` runs them all and collects every error.

Stated rules (the messages say them too):
- Blank start and end times mean an all-day event: start_at is local 00:00:00 of the first day
  and end_at local 23:59:59 of the last day (end_date, default start_date), in UTC.
- An end_time earlier than the start_time on the same day is an error, not "next day": a shift
  past midnight gives its end_date. A blank end_time means `options.default_duration`.
- A wall-clock time skipped by a DST change is an error naming the gap; one that happens twice
  follows `options.repeated_time` ("first" by default: the daylight-time one), noted on the draft.
- The zone is the entry's, else its calendar's, else `options.default_timezone`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from bridge.entries.addresses import normalize_country, normalize_state, normalize_zip
from bridge.entries.directory import Directory
from bridge.entries.drafts import EntryFields, FieldError
from bridge.entries.zones import RepeatedTimeRule, day_bounds_utc, to_utc
from bridge.errors import AddressError, DirectoryError, Invalid, ZoneError
from bridge.models import Address, Calendar, Case, DateOrder, Draft
from bridge.zone_names import resolve_zone

T = TypeVar("T")

# Longest text each field may hold. Trackops publishes none; these keep a pasted page out of a
# title and match common VARCHAR(255) columns.
MAX_LENGTH = {
    "title": 255,
    "calendar": 255,
    "case": 255,
    "subject": 255,
    "service": 20,
    "staff": 2_000,
    "start_date": 40,
    "start_time": 40,
    "end_date": 40,
    "end_time": 40,
    "all_day": 10,
    "timezone": 64,
    "description": 10_000,
    "address_1": 255,
    "address_2": 255,
    "address_3": 255,
    "city": 100,
    "state": 100,
    "zip": 20,
    "country": 60,
}
FIRST_YEAR, LAST_YEAR = 1970, 2100
_MAX_ID = 2**31 - 1
_MULTILINE_FIELDS = {"description"}
_WHEN_FIELDS = {"start_date", "start_time", "end_date", "end_time", "all_day"}
_ADDRESS_FIELDS = {"address_1", "address_2", "address_3", "city", "state", "zip", "country"}
_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}

# ASCII digits only: \d alone also matches other scripts' digits ("٢٠٢٦"), and str.isdigit()
# accepts "²", which int() then refuses.
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_LOCAL_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})", re.ASCII)
_TIME_24 = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", re.ASCII)
_TIME_12 = re.compile(
    r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap])\.?\s*m\.?", re.IGNORECASE | re.ASCII
)
_NUMBER = re.compile(r"[0-9]+")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class EntryOptions:
    """Choices an operator makes once for everyone's entries."""

    default_timezone: str = "UTC"
    date_order: DateOrder | None = None  # how to read 03/04/2026; None: only unambiguous ones
    repeated_time: RepeatedTimeRule = "first"
    default_duration: timedelta = field(default=timedelta(hours=1))
    default_country: str = ""  # for addresses that give none; blank: leave it blank

    def __post_init__(self) -> None:
        # Checked here so a bad setting fails at start-up, not as an error on every row.
        object.__setattr__(self, "default_timezone", resolve_zone(self.default_timezone))
        if self.date_order not in (None, "DMY", "MDY"):
            raise ValueError(f"date_order must be DMY, MDY or None, got {self.date_order!r}")
        if self.repeated_time not in ("first", "second", "error"):
            raise ValueError(
                f"repeated_time must be first, second or error, got {self.repeated_time!r}"
            )
        if self.default_duration <= timedelta(0):
            raise ValueError("default_duration must be positive")
        if self.default_country:
            object.__setattr__(self, "default_country", normalize_country(self.default_country))


# --- rules on one value ----------------------------------------------------------------------


def check_text(field_name: str, text: str) -> str:
    """Length limit and no control characters (line breaks only where a field allows them)."""
    limit = MAX_LENGTH[field_name]
    if len(text) > limit:
        raise Invalid(field_name, f"is {len(text):,} characters long; the limit is {limit:,}")
    allowed = "\n\t" if field_name in _MULTILINE_FIELDS else "\t"
    for char in text:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            what = (
                "a line break"
                if char in "\r\n\u2028\u2029"
                else f"control character U+{ord(char):04X}"
            )
            raise Invalid(field_name, f"contains {what}; it must be one line of text")
    return text


def parse_date(field_name: str, text: str, order: DateOrder | None) -> date:
    """YYYY-MM-DD always; D/M/Y or M/D/Y as `order` says, or when only one reading is a date."""
    iso = _ISO_DATE.fullmatch(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        return _make_date(field_name, text, year, month, day)
    local = _LOCAL_DATE.fullmatch(text)
    if not local:
        raise Invalid(field_name, f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-03-14")
    first, second, year_text = local.groups()
    if len(year_text) == 2:
        raise Invalid(field_name, f"{text!r}: write the year in full (20{year_text})")
    a, b, year = int(first), int(second), int(year_text)
    if order == "DMY":
        return _make_date(field_name, text, year, b, a, "day/month/year")
    if order == "MDY":
        return _make_date(field_name, text, year, a, b, "month/day/year")
    readings = {d for d in (_try_date(year, b, a), _try_date(year, a, b)) if d is not None}
    if len(readings) == 1:
        return readings.pop()
    if not readings:
        raise Invalid(field_name, f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-03-14")
    dmy, mdy = sorted(readings, key=lambda d: (d.month != b, d))
    raise Invalid(
        field_name,
        f"{text!r} is ambiguous: {dmy.day} {_MONTHS[dmy.month - 1]} or {_MONTHS[mdy.month - 1]} "
        f"{mdy.day}? Write {dmy.isoformat()} or {mdy.isoformat()} (YYYY-MM-DD), or ask for the "
        "date order (DMY or MDY) to be set",
    )


def _try_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _make_date(
    field_name: str, text: str, year: int, month: int, day: int, read_as: str = ""
) -> date:
    found = _try_date(year, month, day)
    if found is None:
        how = f" (read as {read_as})" if read_as else ""
        raise Invalid(field_name, f"{text!r} is not a date{how}")
    if not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise Invalid(
            field_name, f"{text!r}: the year must be between {FIRST_YEAR} and {LAST_YEAR}"
        )
    return found


def parse_time(field_name: str, text: str) -> time:
    """24-hour HH:MM (seconds allowed, as Excel writes them), or 12-hour like "6:30 PM"."""
    h24 = _TIME_24.fullmatch(text)
    h12 = _TIME_12.fullmatch(text)
    try:
        if h24:
            hour, minute, second = (int(g or 0) for g in h24.groups())
            return time(hour, minute, second)
        if h12:
            hour, minute, second = (int(g or 0) for g in h12.groups()[:3])
            if not 1 <= hour <= 12:
                raise ValueError
            return time(hour % 12 + (12 if h12.group(4).lower() == "p" else 0), minute, second)
    except ValueError:
        pass
    raise Invalid(
        field_name, f"{text!r} is not a time: write HH:MM (24-hour, e.g. 18:30) or like 6:30 PM"
    )


def parse_all_day(text: str) -> bool | None:
    """yes/no, true/false, 1/0 (any case); blank: decided by whether times are given."""
    value = text.lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise Invalid(
        "all_day", f"{text!r}: write yes or no (or leave it blank: no times means all day)"
    )


def parse_id(field_name: str, text: str, what: str) -> int:
    """A Trackops id: a whole number, as the API's integer fields require."""
    if not _NUMBER.fullmatch(text) or not 0 < int(text) <= _MAX_ID:
        raise Invalid(field_name, f"{text!r} is not {what} (a whole number)")
    return int(text)


def choose_zone(text: str, calendar: Calendar | None, default: str) -> tuple[str, str]:
    """(IANA zone, where it came from): the entry's, else the calendar's, else the default."""
    if text:
        try:
            return resolve_zone(text), "given"
        except ZoneError as bad:
            raise Invalid("timezone", str(bad)) from None
    if calendar is not None and calendar.timezone:
        try:
            return resolve_zone(calendar.timezone), f"the zone of calendar {calendar.name!r}"
        except ZoneError as bad:
            raise Invalid(
                "timezone",
                f"calendar {calendar.name!r} has a zone Trackops "
                f"cannot use ({bad}); give a timezone",
            ) from None
    return default, "the default zone"


def build_address(fields: EntryFields, default_country: str) -> Address | None:
    """The address, or None when every address field is blank; country and state normalized."""
    street = Address(
        address_1=fields.address_1.strip(),
        address_2=fields.address_2.strip(),
        address_3=fields.address_3.strip(),
        city=fields.city.strip(),
        state=fields.state.strip(),
        zip=fields.zip.strip(),
        country=fields.country.strip(),
    )
    if street.is_empty:
        return None
    problems: list[Invalid] = []
    country = street.country
    if country:
        try:
            country = normalize_country(country)
        except AddressError as bad:
            problems.append(Invalid("country", str(bad)))
            country = ""
    else:
        country = default_country
    state, zip_code = street.state, street.zip
    try:
        state = normalize_state(country, state)
    except AddressError as bad:
        problems.append(Invalid("state", str(bad)))
    try:
        zip_code = normalize_zip(country, zip_code)
    except AddressError as bad:
        problems.append(Invalid("zip", str(bad)))
    if problems:
        raise _Several(problems)
    return Address(
        street.address_1, street.address_2, street.address_3, street.city, state, zip_code, country
    )


class _Several(Exception):
    def __init__(self, problems: list[Invalid]) -> None:
        super().__init__(problems)
        self.problems = problems


# --- when: dates, times and zone -> UTC ------------------------------------------------------


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

    Raises _Several with every problem found; returns None when `zone` is unknown (the zone
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
        raise _Several(problems)

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
            raise _Several(problems)
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
        raise _Several(problems)
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


# --- one entry -------------------------------------------------------------------------------


def validate_entry(
    fields: EntryFields, directory: Directory, options: EntryOptions
) -> Draft | list[FieldError]:
    """A Draft when every rule passes; otherwise every error of the entry, each naming its field."""
    errors: list[FieldError] = []

    def report(bad: Invalid) -> None:
        errors.append(
            FieldError(
                bad.field_name,
                bad.message,
                fields.row,
                fields.column_of(bad.field_name),
                fields.where,
            )
        )

    def attempt(rule: Callable[[], T]) -> T | None:
        try:
            return rule()
        except Invalid as bad:
            report(bad)
        except _Several as many:
            for problem in many.problems:
                report(problem)
        return None

    text: dict[str, str] = {}
    for name in MAX_LENGTH:
        try:
            value = getattr(fields, name).strip().replace("\r\n", "\n").replace("\r", "\n")
            text[name] = check_text(name, value)
        except Invalid as bad:
            report(bad)
    too_long = set(MAX_LENGTH) - set(text)

    def lookup(name: str, find: Callable[[str], T], required: bool = True) -> T | None:
        if name in too_long:
            return None
        if not text[name]:
            if required:
                report(Invalid(name, "is required"))
            return None
        try:
            return find(text[name])
        except DirectoryError as missing:
            report(Invalid(name, str(missing)))
            return None

    if "title" not in too_long and not text["title"]:
        report(Invalid("title", "is required"))
    calendar = lookup("calendar", directory.calendar)
    case = lookup("case", directory.case)
    subject = None
    if case is not None:
        the_case: Case = case
        subject = lookup("subject", lambda t: directory.subject(t, the_case), required=False)
    service_id = None
    if text.get("service"):
        service_id = attempt(lambda: parse_id("service", text["service"], "a case service id"))
    staff_ids = _staff_ids(text.get("staff", ""), directory, report)
    # Without the calendar the zone may be wrong, and DST errors in a wrong zone would mislead.
    zone_and_origin = None
    if "timezone" in text and (text["timezone"] or calendar is not None):
        zone_and_origin = attempt(
            lambda: choose_zone(text["timezone"], calendar, options.default_timezone)
        )
    zone = zone_and_origin[0] if zone_and_origin else None
    when = None
    if not too_long & _WHEN_FIELDS:
        when = attempt(lambda: resolve_when(fields, zone, options))
    address = None
    if not too_long & _ADDRESS_FIELDS:
        address = attempt(lambda: build_address(fields, options.default_country))

    if errors:
        return errors
    if calendar is None or case is None or when is None or zone is None:
        # Each of these is None only after a rule reported why; reaching here is a bug.
        raise RuntimeError(f"entry passed validation without calendar, case or time: {fields}")
    notes = [*fields.notes, *when.notes]
    if fields.is_floating and zone_and_origin is not None:
        notes.append(
            f"the file gives these times without a zone: read in {zone} ({zone_and_origin[1]})"
        )
    return Draft(
        casefile_id=case.case_id,
        calendar_id=calendar.calendar_id,
        title=text["title"],
        start_at=when.start_at,
        end_at=when.end_at,
        timezone=zone,
        is_allday=when.is_allday,
        subject_id=subject.subject_id if subject else None,
        case_service_id=service_id,
        body=text["description"],
        address=address,
        users_list=staff_ids,
        row=fields.row,
        notes=tuple(notes),
    )


def _staff_ids(
    text: str, directory: Directory, report: Callable[[Invalid], None]
) -> tuple[int, ...]:
    """Each ';'-separated name, email or id resolved; every unknown or ambiguous one reported."""
    ids: list[int] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            ids.append(directory.staff_member(part).staff_id)
        except DirectoryError as missing:
            hint = (
                " (separate several staff with ';')"
                if "," in part and not missing.candidates
                else ""
            )
            report(Invalid("staff", f"{missing}{hint}"))
    return tuple(dict.fromkeys(ids))
