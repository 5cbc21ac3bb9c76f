"""The sandbox's in-memory records and the conversions of loose JSON values into their fields.

Records hold Python values (aware UTC datetimes, ints, dicts); `render.py` turns them into whichever
JSON shape the current variant asks for. The control API feeds field values through `coerce_fields`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

ADDRESS_KEYS = ("address_1", "address_2", "address_3", "city", "state", "zip", "country")


@dataclass(slots=True)
class EventRecord:
    id: int
    title: str
    start_at: datetime
    end_at: datetime
    calendar_id: int
    created_at: datetime
    updated_at: datetime
    body: str = ""
    casefile_id: int | None = None
    subject_id: int | None = None
    case_service_id: int | None = None
    is_allday: bool = False
    timezone: str | None = None
    address: dict[str, str] | None = None
    users_list: list[int] = field(default_factory=list)
    alert_at: datetime | None = None
    alert_sent_at: datetime | None = None


@dataclass(slots=True)
class CaseRecord:
    id: int
    case_number: str
    created_at: datetime
    updated_at: datetime
    reference: str = ""
    title: str = ""
    primary_investigator: int | None = None


@dataclass(slots=True)
class SubjectRecord:
    id: int
    casefile_id: int | None
    first_name: str
    last_name: str
    updated_at: datetime

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(slots=True)
class StaffRecord:
    id: int
    first_name: str
    last_name: str
    email: str
    updated_at: datetime
    is_vendor: bool = False


Record = EventRecord | CaseRecord | SubjectRecord | StaffRecord


class FieldError(ValueError):
    """One field value that could not be read; `field` names it as the API does."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def parse_utc(text: str) -> datetime:
    """Read "YYYY-MM-DD HH:MM:SS" or ISO 8601 (a date alone means its midnight) as aware UTC.

    A timestamp without an offset is UTC, as everywhere in Trackops. Raises ValueError.
    """
    if not isinstance(text, str) or len(text) < 10:
        raise ValueError(f"not a timestamp: {text!r}")
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def whole_seconds(value: datetime) -> datetime:
    """Drop sub-second digits: the API shows seconds, so stored stamps must equal what it shows."""
    return value.replace(microsecond=0)


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, "must be an integer")
    return value


def _as_optional_int(name: str, value: Any) -> int | None:
    return None if value is None else _as_int(name, value)


def _as_str(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(name, "must be a string")
    return value


def _as_optional_str(name: str, value: Any) -> str | None:
    return None if value in (None, "") else _as_str(name, value)


def _as_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError(name, "must be true or false")
    return value


def _as_timestamp(name: str, value: Any) -> datetime:
    try:
        return whole_seconds(parse_utc(value))
    except (TypeError, ValueError):
        raise FieldError(name, "must be a timestamp like 2026-01-30 18:00:00") from None


def _as_optional_timestamp(name: str, value: Any) -> datetime | None:
    return None if value is None else _as_timestamp(name, value)


def _as_address(name: str, value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError(name, "must be an object")
    unknown = sorted(set(value) - set(ADDRESS_KEYS))
    if unknown:
        raise FieldError(f"{name}.{unknown[0]}", "unknown address field")
    address = {}
    for key in ADDRESS_KEYS:
        part = value.get(key)
        # The vendor's own example sends zip as a number.
        address[key] = (
            str(part)
            if isinstance(part, int) and not isinstance(part, bool)
            else (_as_str(f"{name}.{key}", part))
        )
    return address


def _as_id_list(name: str, value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError(name, "must be an array of integers")
    return [_as_int(name, item) for item in value]


Converter = Callable[[str, Any], Any]

_CONVERTERS: dict[type[Any], dict[str, Converter]] = {
    EventRecord: {
        "id": _as_int,
        "title": _as_str,
        "body": _as_str,
        "calendar_id": _as_int,
        "casefile_id": _as_optional_int,
        "subject_id": _as_optional_int,
        "case_service_id": _as_optional_int,
        "start_at": _as_timestamp,
        "end_at": _as_timestamp,
        "is_allday": _as_bool,
        "timezone": _as_optional_str,
        "address": _as_address,
        "users_list": _as_id_list,
        "alert_at": _as_optional_timestamp,
        "alert_sent_at": _as_optional_timestamp,
        "created_at": _as_timestamp,
        "updated_at": _as_timestamp,
    },
    CaseRecord: {
        "id": _as_int,
        "case_number": _as_str,
        "reference": _as_str,
        "title": _as_str,
        "primary_investigator": _as_optional_int,
        "created_at": _as_timestamp,
        "updated_at": _as_timestamp,
    },
    SubjectRecord: {
        "id": _as_int,
        "casefile_id": _as_optional_int,
        "first_name": _as_str,
        "last_name": _as_str,
        "updated_at": _as_timestamp,
    },
    StaffRecord: {
        "id": _as_int,
        "first_name": _as_str,
        "last_name": _as_str,
        "email": _as_str,
        "is_vendor": _as_bool,
        "updated_at": _as_timestamp,
    },
}


def coerce_fields(record_type: type[Record], values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn JSON field values (API names, any accepted timestamp form) into record values.

    Raises FieldError for an unknown field or a value of the wrong type.
    """
    converters = _CONVERTERS[record_type]
    result = {}
    for name, value in values.items():
        converter = converters.get(name)
        if converter is None:
            raise FieldError(name, "unknown field")
        result[name] = converter(name, value)
    return result


def midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
