"""Trackops JSON -> typed records: the one place that knows the API's field names and shapes.

The API's single-record wrapping, field names and timestamp format are partly undocumented, so
each reader accepts every plausible variant listed in trackops-api.md and raises `RecordError`
(with the record's id and keys) when it meets none of them. Nothing downstream sees a dict.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from dateutil import parser as dateparser

from bridge.errors import RecordError
from bridge.models import Address, Case, Event, Staff, Subject

T = TypeVar("T")

ADDRESS_KEYS = ("address_1", "address_2", "address_3", "city", "state", "zip", "country")


def unwrap_record(body: Any, *names: str) -> Mapping[str, Any]:
    """A single record may come bare or under a root key (`event`, `Event`): return the record."""
    if isinstance(body, Mapping):
        for name in names:
            for key in (name, name.capitalize()):
                inner = body.get(key)
                if isinstance(inner, Mapping) and "id" not in body:
                    return inner
        return body
    raise RecordError(f"expected a JSON object, got {type(body).__name__}")


def parse_timestamp(value: Any) -> datetime | None:
    """Read a Trackops timestamp as an aware UTC datetime.

    Trackops documents its timestamps as UTC, and its examples carry no offset, so a value
    without one is UTC — never local time. ISO forms with `T`, `Z` or an offset are read too.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp string, got {value!r}")
    if value.startswith("0000-00-00"):
        return None  # MySQL's "no date", seen in PHP back ends
    parsed = dateparser.isoparse(value.strip().replace(" ", "T", 1))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _first(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in record and record[key] is not None:
            return record[key]
    return None


def _optional_id(value: Any) -> int | None:
    """An id given as an int, a numeric string, or a nested object with `id`."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected an id, got {value!r}")
    return int(value)


def _required_id(record: Mapping[str, Any], *keys: str) -> int:
    value = _optional_id(_first(record, *keys))
    if value is None:
        raise ValueError(f"missing {keys[0]}")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def _address(value: Any) -> Address | None:
    if not isinstance(value, Mapping):
        return None
    address = Address(**{key: _text(value.get(key)).strip() for key in ADDRESS_KEYS})
    return None if address.is_empty else address


def _id_list(value: Any) -> tuple[int, ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"expected a list of staff, got {type(value).__name__}")
    ids = {_optional_id(item) for item in value}
    return tuple(sorted(i for i in ids if i is not None))


def _read(record: Any, kind: str, build: Callable[[Mapping[str, Any]], T]) -> T:
    """Run `build`, turning any shape problem into a RecordError naming the id and keys."""
    if not isinstance(record, Mapping):
        raise RecordError(f"{kind} record is a {type(record).__name__}, not an object")
    try:
        return build(record)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise RecordError(
            f"{kind} {record.get('id', '?')}: {exc}",
            record_id=_problem_id(record.get("id")),
            keys=sorted(str(k) for k in record),
        ) from None


def _problem_id(value: Any) -> object:
    """An unreadable record's id as an int when it reads as one ("17" too), else as sent.

    Reconcile counts an unreadable record as listed only by an int id: a string id left as
    sent would let a record Trackops still has be deleted from the mirror.
    """
    try:
        return _optional_id(value)
    except (ValueError, TypeError, OverflowError):
        return value


# Every key each event field has been seen under, first choice first. The builder below and
# `describe_event_keys` (used by `trackops-bridge check`) both read this one table.
EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "event_id": ("id",),
    "title": ("title", "name"),
    "start_at": ("start_at", "start"),
    "end_at": ("end_at", "end"),
    "calendar_id": ("calendar_id", "calendar", "Calendar"),
    "case_id": ("casefile_id", "case_id", "Casefile", "casefile", "Case"),
    "subject_id": ("subject_id", "subject", "Subject"),
    "case_service_id": ("case_service_id", "CaseService"),
    "body": ("body", "description"),
    "timezone": ("timezone", "time_zone"),
    "is_allday": ("is_allday", "all_day"),
    "address": ("address", "Address"),
    "staff_ids": ("users_list", "users", "User", "Users", "staff"),
    "alert_at": ("alert_at",),
    "created_at": ("created_at", "created"),
    "updated_at": ("updated_at", "modified", "updated"),
}


def _build_event(r: Mapping[str, Any]) -> Event:
    def pick(name: str) -> Any:
        return _first(r, *EVENT_KEYS[name])

    start_at = parse_timestamp(pick("start_at"))
    end_at = parse_timestamp(pick("end_at"))
    if start_at is None or end_at is None:
        raise ValueError("missing start_at or end_at")
    return Event(
        event_id=_required_id(r, "id"),
        title=_text(pick("title")),
        start_at=start_at,
        end_at=end_at,
        calendar_id=_optional_id(pick("calendar_id")),
        case_id=_optional_id(pick("case_id")),
        subject_id=_optional_id(pick("subject_id")),
        case_service_id=_optional_id(pick("case_service_id")),
        body=_text(pick("body")),
        timezone=_text(pick("timezone")).strip() or None,
        is_allday=_bool(pick("is_allday")),
        address=_address(pick("address")),
        staff_ids=_id_list(pick("staff_ids")),
        alert_at=parse_timestamp(pick("alert_at")),
        created_at=parse_timestamp(pick("created_at")),
        updated_at=parse_timestamp(pick("updated_at")),
        raw_json=json.dumps(r, sort_keys=True, separators=(",", ":"), default=str),
    )


def read_event(record: Any) -> Event:
    """One event from list or single-record JSON; RecordError if its shape is unreadable."""
    return _read(record, "event", _build_event)


def read_case(record: Any) -> Case:
    return _read(
        record,
        "case",
        lambda r: Case(
            case_id=_required_id(r, "id"),
            case_number=_text(_first(r, "case_number", "number", "case_no")),
            reference=_text(_first(r, "reference", "reference_number", "client_reference")),
            title=_text(_first(r, "title", "name")),
            updated_at=parse_timestamp(_first(r, "updated_at", "modified", "updated")),
        ),
    )


def read_subject(record: Any) -> Subject:
    def build(r: Mapping[str, Any]) -> Subject:
        name = _text(_first(r, "name", "full_name")).strip()
        if not name:
            name = f"{_text(r.get('first_name'))} {_text(r.get('last_name'))}".strip()
        return Subject(
            subject_id=_required_id(r, "id"),
            case_id=_optional_id(_first(r, "casefile_id", "case_id", "Casefile", "case")),
            name=name or f"Subject {r.get('id')}",
            updated_at=parse_timestamp(_first(r, "updated_at", "modified", "updated")),
        )

    return _read(record, "subject", build)


def read_staff(record: Any) -> Staff:
    return _read(
        record,
        "staff",
        lambda r: Staff(
            staff_id=_required_id(r, "id"),
            first_name=_text(r.get("first_name")).strip(),
            last_name=_text(r.get("last_name")).strip(),
            email=_text(r.get("email")).strip(),
            updated_at=parse_timestamp(_first(r, "updated_at", "modified", "updated")),
        ),
    )


def describe_event_keys(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """How the bridge reads each raw event key: (raw key, bridge field, or "not used").

    `trackops-bridge check` prints this so a firm sees at once whether its account's shape is
    understood; a field read from a key that was not the first choice is still mapped.
    """
    field_of = {key: name for name, keys in EVENT_KEYS.items() for key in keys}
    return [(key, field_of.get(key, "not used")) for key in sorted(record)]


def missing_event_fields(record: Mapping[str, Any]) -> list[str]:
    """Event fields none of whose known keys appear in the record."""
    return [name for name, keys in EVENT_KEYS.items() if not any(k in record for k in keys)]
