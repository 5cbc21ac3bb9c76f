"""Records and errors as the API's JSON (or text, or HTML), in whichever variant is switched on.

Pure functions: `render_record`, `wrap_record`, `render_error`, `dumps`. The documented variant is
what trackops-api.md describes; the others are the plausible shapes its "Unknown" table lists.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from trackops_sandbox.records import (
    CaseRecord,
    EventRecord,
    Record,
    StaffRecord,
    SubjectRecord,
)
from trackops_sandbox.state import Kind, Variants

# The root key of a wrapped single record, per collection ("event" style; "Event" capitalises).
ROOT_KEYS: dict[Kind, str] = {
    "events": "event",
    "cases": "casefile",
    "subjects": "subject",
    "staff": "staff",
}
# Field-name sets per `fields` variant: (created key, updated key, case key style, users style).
_CREATED = {"documented": "created_at", "alternate": "created", "nested": "created"}
_UPDATED = {"documented": "updated_at", "alternate": "modified", "nested": "updated"}

Formatter = Callable[[datetime | None], str | None]
STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def timestamp_formatter(style: str) -> Formatter:
    """A function printing aware UTC datetimes in the given `timestamps` variant."""
    suffix = {"space": "", "iso": "", "iso_z": "Z", "offset": "+00:00"}[style]
    sep = " " if style == "space" else "T"

    def render(value: datetime | None) -> str | None:
        # Stored stamps are whole seconds in UTC, so the first 19 characters are the wall time.
        return None if value is None else value.isoformat(sep)[:19] + suffix

    return render


class RecordRenderer:
    """Turns records into dicts for one request's variants; build one per response."""

    def __init__(
        self,
        variants: Variants,
        calendars: Mapping[int, str],
        staff_names: Callable[[int], str | None],
    ) -> None:
        self.fields = variants.fields
        self.ts = timestamp_formatter(variants.timestamps)
        self.calendars = calendars
        self.staff_names = staff_names

    def render(self, record: Record) -> dict[str, Any]:
        if isinstance(record, EventRecord):
            return self.event(record)
        if isinstance(record, CaseRecord):
            return self.case(record)
        if isinstance(record, SubjectRecord):
            return self.subject(record)
        return self.staff(record)

    def _case_ref(self, out: dict[str, Any], case_id: int | None) -> None:
        if self.fields == "documented":
            out["casefile_id"] = case_id
        elif self.fields == "alternate":
            out["case_id"] = case_id
        else:
            out["Casefile"] = None if case_id is None else {"id": case_id}

    def _stamps(self, out: dict[str, Any], created: datetime | None, updated: datetime) -> None:
        if created is not None:
            out[_CREATED[self.fields]] = self.ts(created)
        out[_UPDATED[self.fields]] = self.ts(updated)

    def event(self, record: EventRecord) -> dict[str, Any]:
        ts = self.ts
        out: dict[str, Any] = {"id": record.id, "title": record.title, "body": record.body}
        if self.fields == "documented":
            out["calendar_id"] = record.calendar_id
        elif self.fields == "alternate":
            name = self.calendars.get(record.calendar_id)
            out["calendar"] = {"id": record.calendar_id, "name": name}
        else:
            out["calendar"] = record.calendar_id
        self._case_ref(out, record.casefile_id)
        out["subject_id"] = record.subject_id
        out["case_service_id"] = record.case_service_id
        out["start_at"] = ts(record.start_at)
        out["end_at"] = ts(record.end_at)
        out["is_allday"] = record.is_allday
        out["timezone"] = record.timezone
        out["address"] = dict(record.address) if record.address is not None else None
        if self.fields == "documented":
            out["users_list"] = list(record.users_list)
        elif self.fields == "alternate":
            out["users"] = [
                {"id": staff_id, "first_name": self.staff_names(staff_id)}
                for staff_id in record.users_list
            ]
        else:
            out["users"] = list(record.users_list)
        out["alert_at"] = ts(record.alert_at)
        out["alert_sent_at"] = ts(record.alert_sent_at)
        self._stamps(out, record.created_at, record.updated_at)
        return out

    def case(self, record: CaseRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": record.id,
            "case_number": record.case_number,
            "reference": record.reference,
            "title": record.title,
            "primary_investigator": record.primary_investigator,
        }
        self._stamps(out, record.created_at, record.updated_at)
        return out

    def subject(self, record: SubjectRecord) -> dict[str, Any]:
        out: dict[str, Any] = {"id": record.id}
        self._case_ref(out, record.casefile_id)
        out["first_name"] = record.first_name
        out["last_name"] = record.last_name
        out["name"] = record.name
        self._stamps(out, None, record.updated_at)
        return out

    def staff(self, record: StaffRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": record.id,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "email": record.email,
            "is_vendor": record.is_vendor,
        }
        self._stamps(out, None, record.updated_at)
        return out


def wrap_record(kind: Kind, body: dict[str, Any], wrap: str) -> dict[str, Any]:
    """A single record as GET-by-id and POST answer it: bare, or under its root key."""
    if wrap == "bare":
        return body
    root = ROOT_KEYS[kind]
    return {root.capitalize() if wrap == "Event" else root: body}


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def render_error(
    style: str,
    status: int,
    message: str,
    field_errors: Mapping[str, list[str]] | None = None,
) -> tuple[bytes, str]:
    """An error body and its content type in the given `errors` variant.

    Field errors ride along in every style: under "errors" in the JSON ones (alone in the "errors"
    style, where a plain message becomes {"base": [message]}), as lines in text and HTML.
    """
    fields = dict(field_errors or {})
    if style in ("message", "error"):
        payload: dict[str, Any] = {style: message}
        if fields:
            payload["errors"] = fields
        return dumps(payload), "application/json"
    if style == "errors":
        return dumps({"errors": fields or {"base": [message]}}), "application/json"
    lines = [f"{name}: {'; '.join(problems)}" for name, problems in fields.items()]
    if style == "text":
        return "\n".join([message, *lines]).encode(), "text/plain; charset=utf-8"
    title = f"{status} {STATUS_TEXT.get(status, 'Error')}"
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    page = (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{html.escape(message)}</p>"
        + (f"<ul>{items}</ul>" if items else "")
        + "</body></html>\n"
    )
    return page.encode(), "text/html; charset=utf-8"


FIREWALL_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Attention Required! | Web Application Firewall</title></head>"
    b'<body><div class="cf-wrapper"><h1>Sorry, you have been blocked</h1>'
    b"<h2>You are unable to access viewcases.com</h2>"
    b"<p>This website is using a security service to protect itself from online attacks. "
    b"The action you just performed triggered the security solution.</p>"
    b"<p>Ray ID: <code>8a1f2c3d4e5f6789</code></p></div></body></html>\n"
)
