"""POST /events request bodies: a draft -> the JSON body sent, and a kept body -> its draft again.

Entry points: `event_request_body(draft)` and `read_request_body(body)`. The outbox keeps the body
as built here and sends it unchanged on every retry; everything else reads it back as a `Draft`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.models import Address, Draft

# The vendor's example writes request times as UTC wall-clock text.
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def event_request_body(draft: Draft) -> dict[str, Any]:
    """The POST /events body, `{"event": {...}}`, with empty optional fields left out.

    Key order follows the vendor's example. The address, when present, carries all seven
    keys as the example does; `zip` stays a string so leading zeros survive (the example
    shows a number, which would turn 02134 into 2134).
    """
    event: dict[str, Any] = {"casefile_id": draft.casefile_id}
    if draft.subject_id is not None:
        event["subject_id"] = draft.subject_id
    if draft.case_service_id is not None:
        event["case_service_id"] = draft.case_service_id
    event["calendar_id"] = draft.calendar_id
    event["start_at"] = draft.start_at.strftime(API_TIME_FORMAT)
    event["end_at"] = draft.end_at.strftime(API_TIME_FORMAT)
    event["timezone"] = draft.timezone
    event["is_allday"] = draft.is_allday
    event["title"] = draft.title
    if draft.body:
        event["body"] = draft.body
    if draft.address is not None and not draft.address.is_empty:
        event["address"] = {
            f.name: getattr(draft.address, f.name) for f in dataclasses.fields(Address)
        }
    if draft.users_list:
        event["users_list"] = list(draft.users_list)
    return {"event": event}


def read_request_body(body: Mapping[str, Any]) -> Draft:
    """The draft a body from `event_request_body` was built from (without its row and notes).

    Raises ValueError, naming what is wrong, for a body of any other shape.
    """
    try:
        event = body["event"]
        address = event.get("address")
        return Draft(
            casefile_id=_id(event["casefile_id"]),
            calendar_id=_id(event["calendar_id"]),
            title=str(event["title"]),
            start_at=_time(event["start_at"]),
            end_at=_time(event["end_at"]),
            timezone=str(event["timezone"]),
            is_allday=bool(event.get("is_allday", False)),
            subject_id=_optional_id(event.get("subject_id")),
            case_service_id=_optional_id(event.get("case_service_id")),
            body=str(event.get("body", "")),
            address=Address(**address) if address is not None else None,
            users_list=tuple(_id(user) for user in event.get("users_list", ())),
        )
    except KeyError as missing:
        raise ValueError(f"not a POST /events body: no {missing}") from None
    except (AttributeError, TypeError) as wrong:
        raise ValueError(f"not a POST /events body: {wrong}") from None


def _id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an id, got {value!r}")
    return value


def _optional_id(value: object) -> int | None:
    return None if value is None else _id(value)


def _time(value: object) -> datetime:
    return datetime.strptime(str(value), API_TIME_FORMAT).replace(tzinfo=UTC)
