"""The rules `POST /events` enforces, as the vendor documents them. Entry: `validate_new_event`.

Every problem is collected (not just the first) and reported per field, the way a form-backed API
answers. A body that is not `{"event": {...}}` or names unknown event fields is a 400; broken field
rules are a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import pycountry

from trackops_sandbox.errors import ApiError
from trackops_sandbox.records import ADDRESS_KEYS, whole_seconds
from trackops_sandbox.records import parse_utc as _parse_utc
from trackops_sandbox.state import SandboxState

EVENT_FIELDS = (
    "casefile_id",
    "calendar_id",
    "subject_id",
    "case_service_id",
    "start_at",
    "end_at",
    "is_allday",
    "timezone",
    "title",
    "body",
    "address",
    "users_list",
)
REQUIRED = ("casefile_id", "calendar_id", "start_at", "end_at", "title")

# ANSI (FIPS 5-2) codes: the 50 states, DC, and the territories.


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


US_STATES = _codes(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR VI UM"
)
CA_PROVINCES = _codes("AB BC MB NB NL NS NT NU ON PE QC SK YT")
# The vendor says "3-character", but SA, WA and NT are two letters: the real set is accepted.
AU_STATES = _codes("NSW VIC QLD SA WA TAS NT ACT")
STATE_RULES = {
    "US": (US_STATES, "a 2-letter US state code"),
    "CA": (CA_PROVINCES, "a 2-letter Canadian province or territory code"),
    "AU": (AU_STATES, "an Australian state abbreviation (NSW, VIC, QLD, SA, WA, TAS, NT, ACT)"),
}
Fail = Callable[[str, str], None]


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def read_event_payload(payload: Any) -> dict[str, Any]:
    """The `event` object of a POST body; ApiError(400) when the body has another shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise ApiError(400, 'Bad request: the body must be a JSON object {"event": {...}}')
    extra = sorted(set(payload) - {"event"})
    if extra:
        raise ApiError(
            400, f"Bad request: unknown parameter '{extra[0]}'", {extra[0]: ["unknown parameter"]}
        )
    event: dict[str, Any] = payload["event"]
    unknown = sorted(set(event) - set(EVENT_FIELDS))
    if unknown:
        raise ApiError(
            400,
            f"Bad request: unknown parameter '{unknown[0]}' in event",
            {name: ["unknown parameter"] for name in unknown},
        )
    return event


def validate_new_event(event: dict[str, Any], state: SandboxState) -> dict[str, Any]:
    """Check an `event` object against every documented rule; return EventRecord field values.

    Raises ApiError(422) with `{"field": ["problem", ...]}` for each broken rule. Call with the
    state's lock held (cases, subjects and staff are looked up).
    """
    problems: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    for name in REQUIRED:
        if event.get(name) in (None, "") or (
            name == "title" and isinstance(event[name], str) and not event[name].strip()
        ):
            fail(name, "is required")

    ints: dict[str, int | None] = {}
    for name in ("casefile_id", "calendar_id", "subject_id", "case_service_id"):
        value = event.get(name)
        if value is None:
            ints[name] = None
        elif isinstance(value, bool) or not isinstance(value, int):
            fail(name, "must be an integer")
            ints[name] = None
        else:
            ints[name] = value

    case_id, subject_id = ints["casefile_id"], ints["subject_id"]
    tables = state.tables
    if case_id is not None and case_id not in tables.cases.rows:
        fail("casefile_id", f"case {case_id} does not exist")
    calendar_id = ints["calendar_id"]
    if calendar_id is not None and not _is_known_calendar(calendar_id, state):
        fail("calendar_id", f"calendar {calendar_id} does not exist")
    if subject_id is not None:
        subject = tables.subjects.rows.get(subject_id)
        if subject is None:
            fail("subject_id", f"subject {subject_id} does not exist")
        elif case_id is not None and subject.casefile_id != case_id:
            fail("subject_id", f"subject {subject_id} does not belong to case {case_id}")

    stamps: dict[str, datetime | None] = {}
    for name in ("start_at", "end_at"):
        stamps[name] = _timestamp(event.get(name), name, fail)
    start, end = stamps["start_at"], stamps["end_at"]
    if start is not None and end is not None and end < start:
        fail("end_at", "must not be before start_at")

    is_allday = event.get("is_allday", False)
    if is_allday is None:
        is_allday = False
    if not isinstance(is_allday, bool):
        fail("is_allday", "must be true or false")

    zone = event.get("timezone")
    if zone in ("", None):
        zone = None
    elif not isinstance(zone, str) or zone not in _zone_names():
        fail("timezone", "must be an IANA time zone name like America/Denver")

    title, body = event.get("title"), event.get("body")
    if title is not None and not isinstance(title, str):
        fail("title", "must be a string")
    if body is not None and not isinstance(body, str):
        fail("body", "must be a string")

    address = _address(event.get("address"), fail)
    users = event.get("users_list")
    staff_ids: list[int] = []
    if users is not None:
        if not isinstance(users, list):
            fail("users_list", "must be an array of staff ids")
        else:
            for item in users:
                if isinstance(item, bool) or not isinstance(item, int):
                    fail("users_list", f"{item!r} is not a staff id")
                elif item not in tables.staff.rows:
                    fail("users_list", f"staff {item} does not exist")
                else:
                    staff_ids.append(item)

    if problems:
        count = len(problems)
        raise ApiError(
            422,
            f"The event could not be saved: {count} field{'s are' if count > 1 else ' is'} invalid",
            problems,
        )
    return {
        "title": title,
        "body": body or "",
        "calendar_id": calendar_id,
        "casefile_id": case_id,
        "subject_id": subject_id,
        "case_service_id": ints["case_service_id"],
        "start_at": start,
        "end_at": end,
        "is_allday": is_allday,
        "timezone": zone,
        "address": address,
        "users_list": staff_ids,
    }


def _is_known_calendar(calendar_id: int, state: SandboxState) -> bool:
    # Calendars exist beyond the seed's name map when the harness files events on new ids.
    if calendar_id in state.calendars:
        return True
    events = state.tables.events.rows.values()
    return any(event.calendar_id == calendar_id for event in events)


def _timestamp(value: Any, name: str, fail: Fail) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return whole_seconds(_parse_utc(value))
    except (TypeError, ValueError):
        fail(name, "must be a UTC timestamp like 2026-01-30 18:00:00")
        return None


def _address(value: Any, fail: Fail) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        fail("address", "must be an object")
        return None
    unknown = sorted(set(value) - set(ADDRESS_KEYS))
    for key in unknown:
        fail(f"address.{key}", "unknown address field")
    address: dict[str, str] = {}
    for key in ADDRESS_KEYS:
        part = value.get(key)
        if part is None:
            address[key] = ""
        elif isinstance(part, str):
            address[key] = part
        elif key == "zip" and isinstance(part, int) and not isinstance(part, bool):
            address[key] = str(part)  # the vendor's own example sends a number
        else:
            fail(f"address.{key}", "must be a string")
            address[key] = ""
    country = address["country"]
    if country not in _country_codes():
        fail("address.country", "must be a 2-letter ISO 3166 country code like US")
    rule = STATE_RULES.get(country)
    if rule is not None and address["state"] not in rule[0]:
        fail("address.state", f"must be {rule[1]} when country is {country}")
    return address
