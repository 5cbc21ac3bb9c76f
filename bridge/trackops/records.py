"""Trackops JSON -> typed records: the one place that knows the API's field names and shapes.

The API's single-record wrapping, field names and timestamp format are partly undocumented, so
each reader accepts every plausible variant listed in trackops-api.md and raises `RecordError`
(with the record's id, keys and the field at fault) when it meets none of them. Nothing
downstream sees a dict, and nothing downstream meets a value it cannot store or show: text fit for
SQLite, PostgreSQL and iCalendar, ids that fit a BIGINT, zones that load, instants that have a
local time in every zone. A value the reader had to change or leave out is a `RecordWarning`.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from dateutil import parser as dateparser

from bridge.errors import RecordError
from bridge.models import Address, Case, Event, Staff, Subject
from bridge.zone_names import known_zones

T = TypeVar("T")

ADDRESS_KEYS = ("address_1", "address_2", "address_3", "city", "state", "zip", "country")

# Every instant must have a local date in any zone (offsets stay within a day) and a day after
# it (an all-day event's exclusive end), so the renderer and a PostgreSQL session in any zone
# can convert it without overflowing Python's years 1 to 9999.
EARLIEST_INSTANT = datetime.min.replace(tzinfo=UTC) + timedelta(days=2)
LATEST_INSTANT = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
MAX_ID = 2**63 - 1  # the store's BIGINT
# Zone names the zone database lists that depend on the host or mean nothing to a person.
# C0 controls but tab and line breaks, and DEL: PostgreSQL refuses NUL, iCalendar TEXT all of
# them (RFC 5545 3.3.11).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: line breaks to some clients, not to others.
_UNICODE_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")
# A JSON "\ud800" escape decodes to a lone surrogate, which no UTF-8 encoder accepts.
_SURROGATES = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]+")
_SHOWN_LENGTH = 60
_LABEL_LENGTH = 60
_MAX_KEYS_REPORTED = 50


@dataclass(frozen=True)
class RecordWarning:
    """A record that was kept with one value changed or left out: which, and what was done."""

    kind: str  # "event", "case", "subject" or "staff"
    record_id: int
    field: str  # the key the value was under, as Trackops sent it
    detail: str
    label: str = ""  # the record's title or name, shortened, to find it by in Trackops

    def __str__(self) -> str:
        record = _describe_record(self.kind, self.record_id, self.label)
        return f"{record}: {self.field}: {self.detail}"


def clean_text(text: str) -> str:
    """Text every store, feed and page can hold: lone surrogates replaced by U+FFFD, NEL and the
    Unicode line and paragraph separators made plain newlines, other control characters but
    tab, CR and LF removed."""
    return _clean(text)[0]


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
    """Read a Trackops timestamp as an aware UTC datetime (ValueError or OverflowError if not).

    Trackops documents its timestamps as UTC, and its examples carry no offset, so a value
    without one is UTC — never local time. ISO forms with `T`, `Z` or an offset are read too.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp string, got {value!r}")
    if value.startswith("0000-00-00"):
        return None  # MySQL's "no date", seen in PHP back ends
    text = value.strip()
    try:
        # The standard library reads every documented shape (space or T, Z or an offset) in a
        # fraction of dateutil's time: a full sync reads five stamps an event.
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = dateparser.isoparse(text.replace(" ", "T", 1))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _Refused(Exception):
    """A value the record cannot be kept with: the record is skipped and reported."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass
class _Reading:
    """One record being read: its fields by key, and what had to be changed to keep it."""

    kind: str
    record: Mapping[str, Any]
    label: str
    notes: list[tuple[str, str]] = field(default_factory=list)  # (field, detail)

    def pick(self, keys: tuple[str, ...]) -> tuple[str, Any]:
        """The first key holding a value, and the value; the first key and None if none does."""
        for key in keys:
            value = self.record.get(key)
            if value is not None:
                return key, value
        return keys[0], None

    def warn(self, key: str, detail: str) -> None:
        self.notes.append((key, detail))

    def id(self, keys: tuple[str, ...], *, required: bool = False) -> int | None:
        key, value = self.pick(keys)
        found = _id_value(key, value)
        if found is None and required:
            raise _Refused(key, "missing: a record without an id cannot be kept")
        return found

    def ids(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        key, value = self.pick(keys)
        if value is None or value == [] or value == {} or value == "":
            return ()
        if not isinstance(value, list):
            raise _Refused(key, f"expected a list of staff, got {_shown(value)}")
        ids = {_id_value(key, item) for item in value}
        return tuple(sorted(i for i in ids if i is not None))

    def text(self, keys: tuple[str, ...], *, strip: bool = False) -> str:
        key, value = self.pick(keys)
        return self._text_value(key, value, strip=strip)

    def _text_value(self, key: str, value: Any, *, strip: bool) -> str:
        if value is None or value is False:
            return ""  # PHP back ends send false for "nothing"
        if isinstance(value, str):
            text, lost = _clean(value)
            if lost:
                self.warn(key, "control characters or broken Unicode removed from the text")
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 64:
            text = str(value)  # the vendor's own example sends zip as a number
        elif isinstance(value, float) and value == value and abs(value) != float("inf"):
            text = str(value)
        else:
            raise _Refused(key, f"expected text, got {_shown(value)}")
        return text.strip() if strip else text

    def instant(self, keys: tuple[str, ...], *, required: bool = False) -> datetime | None:
        key, value = self.pick(keys)
        try:
            parsed = parse_timestamp(value)
        except (ValueError, OverflowError):
            raise _Refused(
                key, f"{_shown(value)} is not a timestamp like 2026-01-30 18:00:00"
            ) from None
        if parsed is None:
            if required:
                raise _Refused(key, "missing")
            return None
        if parsed < EARLIEST_INSTANT:
            raise _Refused(
                key,
                f"{_shown(value)} is too far in the past to show in every time zone "
                f"(the earliest is {EARLIEST_INSTANT:%Y-%m-%d})",
            )
        if parsed > LATEST_INSTANT:
            raise _Refused(
                key,
                f"{_shown(value)} is too far in the future to show in every time zone "
                f"(the latest is {LATEST_INSTANT:%Y-%m-%d})",
            )
        return parsed

    def flag(self, keys: tuple[str, ...]) -> bool:
        key, value = self.pick(keys)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y", "t")
        if value is None or isinstance(value, bool | int | float):
            return bool(value)
        raise _Refused(key, f"expected true or false, got {_shown(value)}")

    def zone(self, keys: tuple[str, ...]) -> str | None:
        """The event's IANA zone; a name nothing could show it in is left out, with a warning,
        so the event is shown as one without a zone (its instants stay right)."""
        key, value = self.pick(keys)
        if value is None or value == "" or value is False:
            return None
        name = value.strip() if isinstance(value, str) else None
        if name == "":
            return None
        if name is None or name not in known_zones() or not _loads(name):
            self.warn(
                key,
                f"{_shown(value)} is not a time zone; shown as an event without one "
                "(in its feed's or calendar's zone)",
            )
            return None
        return name

    def address(self, keys: tuple[str, ...]) -> Address | None:
        key, value = self.pick(keys)
        if value is None or value is False or value in ("", [], {}):
            return None  # PHP encodes an empty address as []
        if isinstance(value, str):
            parts = {"address_1": self._text_value(key, value, strip=True)}
        elif isinstance(value, Mapping):
            parts = {
                part: self._text_value(f"{key}.{part}", value.get(part), strip=True)
                for part in ADDRESS_KEYS
            }
        else:
            raise _Refused(key, f"expected an address object, got {_shown(value)}")
        address = Address(**parts)
        return None if address.is_empty else address


def _loads(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # KeyError: ZoneInfoNotFoundError
        return False
    return True


def _id_value(key: str, value: Any) -> int | None:
    """An id given as an int, a numeric string, or a nested object with `id`; None for none."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None or value is False or value == "" or value == 0:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(digits := value.strip()):
        number = int(digits) if len(digits) <= 20 else MAX_ID + 1
    if number == 0:
        return None
    if number is None or not 1 <= number <= MAX_ID:
        raise _Refused(key, f"expected a Trackops id, got {_shown(value)}")
    return number


def _clean(text: str) -> tuple[str, bool]:
    """The text made storable, and whether anything was lost doing so."""
    before = text
    if _SURROGATES.search(text):
        # A surrogate pair split in two is joined again; a lone one becomes U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _UNICODE_LINE_BREAKS.sub("\n", text)
    cleaned = _CONTROL_CHARS.sub("", text)
    return cleaned, cleaned != _UNICODE_LINE_BREAKS.sub("\n", before)


def _shown(value: Any) -> str:
    """A value as a message may quote it: short, with anything unprintable escaped."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "a number too large to be one"
    text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."


def _label(record: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """The record's title or name as sent, shortened to one line, or ""."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            text = " ".join(clean_text(value).split())
            return text if len(text) <= _LABEL_LENGTH else text[: _LABEL_LENGTH - 3] + "..."
    return ""


def _describe_record(kind: str, record_id: object, label: str) -> str:
    shown = record_id if isinstance(record_id, int) else _shown(record_id)
    return f"{kind} {shown} ({label!r})" if label else f"{kind} {shown}"


def _problem_id(value: Any) -> object:
    """An unreadable record's id as an int when it reads as one ("17" too), else as sent.

    Reconcile counts an unreadable record as listed only by an int id: a string id left as
    sent would let a record Trackops still has be deleted from the mirror.
    """
    try:
        return _id_value("id", value)
    except _Refused:
        return value


def _read(
    record: Any,
    kind: str,
    label_keys: tuple[str, ...],
    build: Callable[[_Reading], T],
    warnings: list[RecordWarning] | None,
) -> T:
    """Run `build`; any value it cannot keep the record with becomes a RecordError naming the
    record (id, title), the field and what was wrong, and the keys the record had."""
    if not isinstance(record, Mapping):
        detail = f"expected an object, got {_shown(record)}"
        raise RecordError(f"{kind} record: {detail}", kind=kind, detail=detail)
    reading = _Reading(kind, record, _label(record, label_keys))
    field_name: str | None
    try:
        result = build(reading)
    except _Refused as refused:
        field_name, detail = refused.field, refused.detail
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        # A shape no field reader foresaw: still one skipped record, never a failed sync.
        field_name, detail = None, clean_text(f"{type(exc).__name__}: {exc}")[:200]
    else:
        if warnings is not None and reading.notes:
            record_id = _problem_id(record.get("id"))
            assert isinstance(record_id, int)  # build() read it
            warnings.extend(
                RecordWarning(kind, record_id, key, detail, reading.label)
                for key, detail in reading.notes
            )
        return result
    record_id = _problem_id(record.get("id"))
    where = f"{field_name}: " if field_name else ""
    keys = sorted(clean_text(str(key)) for key in record)
    raise RecordError(
        f"{_describe_record(kind, record_id, reading.label)}: {where}{detail}",
        record_id=record_id,
        keys=keys[:_MAX_KEYS_REPORTED],
        kind=kind,
        field=field_name,
        detail=detail,
        label=reading.label,
    )


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
_UPDATED_KEYS = ("updated_at", "modified", "updated")


def _build_event(r: _Reading) -> Event:
    keys = EVENT_KEYS
    event_id = r.id(keys["event_id"], required=True)
    start_at = r.instant(keys["start_at"], required=True)
    end_at = r.instant(keys["end_at"], required=True)
    assert event_id is not None and start_at is not None and end_at is not None
    return Event(
        event_id=event_id,
        title=r.text(keys["title"]),
        start_at=start_at,
        end_at=end_at,
        calendar_id=r.id(keys["calendar_id"]),
        case_id=r.id(keys["case_id"]),
        subject_id=r.id(keys["subject_id"]),
        case_service_id=r.id(keys["case_service_id"]),
        body=r.text(keys["body"]),
        timezone=r.zone(keys["timezone"]),
        is_allday=r.flag(keys["is_allday"]),
        address=r.address(keys["address"]),
        staff_ids=r.ids(keys["staff_ids"]),
        alert_at=r.instant(keys["alert_at"]),
        created_at=r.instant(keys["created_at"]),
        updated_at=r.instant(keys["updated_at"]),
        # ASCII (json's default escapes the rest), so any store holds it as sent.
        raw_json=json.dumps(r.record, sort_keys=True, separators=(",", ":"), default=str),
    )


def read_event(record: Any, warnings: list[RecordWarning] | None = None) -> Event:
    """One event from list or single-record JSON; RecordError if it cannot be kept.

    Values kept changed or left out (an unknown zone, control characters) are appended to
    `warnings` when it is given.
    """
    return _read(record, "event", EVENT_KEYS["title"], _build_event, warnings)


def _build_case(r: _Reading) -> Case:
    case_id = r.id(("id",), required=True)
    assert case_id is not None
    return Case(
        case_id=case_id,
        case_number=r.text(("case_number", "number", "case_no")),
        reference=r.text(("reference", "reference_number", "client_reference")),
        title=r.text(("title", "name")),
        updated_at=r.instant(_UPDATED_KEYS),
    )


def read_case(record: Any, warnings: list[RecordWarning] | None = None) -> Case:
    return _read(record, "case", ("case_number", "number", "title"), _build_case, warnings)


def _build_subject(r: _Reading) -> Subject:
    subject_id = r.id(("id",), required=True)
    assert subject_id is not None
    name = r.text(("name", "full_name"), strip=True)
    if not name:
        name = f"{r.text(('first_name',))} {r.text(('last_name',))}".strip()
    return Subject(
        subject_id=subject_id,
        case_id=r.id(("casefile_id", "case_id", "Casefile", "case")),
        name=name or f"Subject {subject_id}",
        updated_at=r.instant(_UPDATED_KEYS),
    )


def read_subject(record: Any, warnings: list[RecordWarning] | None = None) -> Subject:
    return _read(record, "subject", ("name", "full_name", "last_name"), _build_subject, warnings)


def _build_staff(r: _Reading) -> Staff:
    staff_id = r.id(("id",), required=True)
    assert staff_id is not None
    return Staff(
        staff_id=staff_id,
        first_name=r.text(("first_name",), strip=True),
        last_name=r.text(("last_name",), strip=True),
        email=r.text(("email",), strip=True),
        updated_at=r.instant(_UPDATED_KEYS),
    )


def read_staff(record: Any, warnings: list[RecordWarning] | None = None) -> Staff:
    return _read(record, "staff", ("last_name", "first_name", "email"), _build_staff, warnings)


def record_identity(record: Event | Case | Subject | Staff) -> tuple[str, int]:
    """The kind and id a record read fine is known by, as in RecordError and RecordWarning."""
    if isinstance(record, Event):
        return "event", record.event_id
    if isinstance(record, Case):
        return "case", record.case_id
    if isinstance(record, Subject):
        return "subject", record.subject_id
    return "staff", record.staff_id


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
