"""Rules on one value of an entry (text, date, time, all-day, id, zone, address), and the
options they follow: each returns the value or raises `Invalid` naming the field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from bridge.entries.addresses import normalize_country, normalize_state, normalize_zip
from bridge.entries.drafts import EntryFields
from bridge.entries.wall_clock import RepeatedTimeRule
from bridge.errors import AddressError, Invalid, ZoneError
from bridge.models import Address, Calendar, DateOrder
from bridge.zone_names import resolve_zone

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
        raise SeveralProblems(problems)
    return Address(
        street.address_1, street.address_2, street.address_3, street.city, state, zip_code, country
    )


class SeveralProblems(Exception):
    def __init__(self, problems: list[Invalid]) -> None:
        super().__init__(problems)
        self.problems = problems
