"""The test harness's control API under /_sandbox (not Trackops: no auth, no rate limit, no log).

Entry point: `install_harness(app, state)`. Records go in and come out in the documented shape with
"YYYY-MM-DD HH:MM:SS" stamps, whatever variant the API itself is serving.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from trackops_sandbox.api import KIND_PATTERN, json_response, make_renderer
from trackops_sandbox.records import (
    CaseRecord,
    EventRecord,
    FieldError,
    Record,
    StaffRecord,
    SubjectRecord,
    coerce_fields,
    parse_utc,
)
from trackops_sandbox.state import FAULT_KINDS, Fault, Kind, SandboxState, Variants

RECORD_TYPES: dict[Kind, type[Record]] = {
    "events": EventRecord,
    "cases": CaseRecord,
    "subjects": SubjectRecord,
    "staff": StaffRecord,
}


def _json_body() -> Any:
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequest("the body must be JSON")
    return payload


def _json_object() -> dict[str, Any]:
    payload = _json_body()
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    return payload


def install_harness(app: Flask, state: SandboxState) -> None:
    harness = Blueprint("sandbox_harness", __name__, url_prefix="/_sandbox")

    def render(record: Record) -> dict[str, Any]:
        return make_renderer(state, Variants()).render(record)

    def defaults(kind: Kind, record_id: int) -> dict[str, Any]:
        now = state.now()
        stamps = {"id": record_id, "updated_at": now}
        if kind == "events":
            return {
                **stamps,
                "title": "Sandbox event",
                "calendar_id": next(iter(state.calendars)),
                "start_at": now,
                "end_at": now + timedelta(hours=1),
                "created_at": now,
            }
        if kind == "cases":
            return {**stamps, "case_number": f"SBX-{record_id}", "created_at": now}
        if kind == "subjects":
            return {**stamps, "casefile_id": None, "first_name": "", "last_name": ""}
        return {**stamps, "first_name": "", "last_name": "", "email": ""}

    def create_one(kind: Kind, values: Any) -> Record:
        if not isinstance(values, dict):
            raise BadRequest("each record must be a JSON object")
        record_type = RECORD_TYPES[kind]
        try:
            given = coerce_fields(record_type, values)
        except FieldError as error:
            raise BadRequest(str(error)) from None
        table = state.tables.of(kind)
        fields = {**defaults(kind, table.next_id()), **given}
        if kind == "events" and "start_at" in given and "end_at" not in given:
            fields["end_at"] = fields["start_at"] + timedelta(hours=1)
        if fields["id"] in table.rows:
            raise Conflict(f"{kind} {fields['id']} already exists")
        record = record_type(**fields)
        table.add(record)
        return record

    @harness.post(f"/{KIND_PATTERN}")
    def create_records(kind: Kind) -> Response:
        """Create one record (a JSON object) or several (an array), bypassing validation."""
        payload = _json_body()
        with state.lock:
            if isinstance(payload, list):
                created = [render(create_one(kind, item)) for item in payload]
                return json_response(created, 201)
            return json_response(render(create_one(kind, payload)), 201)

    def find(kind: Kind, record_id: int) -> Record:
        record: Record | None = state.tables.of(kind).rows.get(record_id)
        if record is None:
            raise NotFound(f"{kind} {record_id} does not exist")
        return record

    @harness.get(f"/{KIND_PATTERN}/<int:record_id>")
    def show_record(kind: Kind, record_id: int) -> Response:
        with state.lock:
            return json_response(render(find(kind, record_id)))

    @harness.patch(f"/{KIND_PATTERN}/<int:record_id>")
    def patch_record(kind: Kind, record_id: int) -> Response:
        """Change fields; updated_at moves to server now unless the body sets it."""
        values = _json_object()
        if "id" in values:
            raise BadRequest("id cannot be changed")
        with state.lock:
            record = find(kind, record_id)
            try:
                changes = coerce_fields(type(record), values)
            except FieldError as error:
                raise BadRequest(str(error)) from None
            changes.setdefault("updated_at", state.now())
            for name, value in changes.items():
                setattr(record, name, value)
            state.tables.of(kind).touch()
            return json_response(render(record))

    @harness.delete(f"/{KIND_PATTERN}/<int:record_id>")
    def delete_record(kind: Kind, record_id: int) -> Response:
        with state.lock:
            find(kind, record_id)
            state.tables.of(kind).remove(record_id)
        return Response(status=204)

    @harness.get("/calendars")
    def list_calendars() -> Response:
        """The seed's calendar names (Trackops itself has no such endpoint)."""
        with state.lock:
            return json_response({str(key): name for key, name in state.calendars.items()})

    @harness.post("/reset")
    def reset() -> Response:
        state.reset()
        return json_response({"status": "reset"})

    @harness.route("/variants", methods=["GET", "POST"])
    def variants() -> Response:
        with state.lock:
            if request.method == "POST":
                try:
                    state.variants.update(_json_object())
                except ValueError as error:
                    raise BadRequest(str(error)) from None
            return json_response(state.variants.as_dict())

    @harness.route("/faults", methods=["GET", "POST"])
    def faults() -> Response:
        with state.lock:
            if request.method == "POST":
                state.faults.append(_read_fault(_json_object()))
            return json_response([fault.as_dict() for fault in state.faults])

    @harness.post("/faults/clear")
    def clear_faults() -> Response:
        with state.lock:
            state.faults.clear()
        return json_response([])

    @harness.get("/requests")
    def requests_log() -> Response:
        with state.lock:
            return json_response(state.log.summary())

    @harness.post("/requests/clear")
    def clear_requests() -> Response:
        with state.lock:
            state.log.entries.clear()
            state.log.by_status.clear()
        return json_response({"status": "cleared"})

    @harness.route("/rate_limit", methods=["GET", "POST"])
    def rate_limit() -> Response:
        with state.lock:
            if request.method == "POST":
                rate = _json_object().get("rate_limit")
                if rate is not None and (
                    isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0
                ):
                    raise BadRequest("rate_limit: expected requests per second >= 0, or null")
                state.rate_limit = rate
            return json_response({"rate_limit": state.rate_limit})

    @harness.route("/clock", methods=["GET", "POST"])
    def clock() -> Response:
        """The server clock for created/updated stamps: real UTC time plus `offset_seconds`.

        POST {"offset_seconds": s} sets the offset; {"now": timestamp} sets it so that the clock
        reads that time now (it keeps running).
        """
        with state.lock:
            if request.method == "POST":
                state.clock_offset = _read_offset(_json_object(), state)
            return json_response(
                {"now": state.now().isoformat(" ")[:19], "offset_seconds": state.clock_offset}
            )

    app.register_blueprint(harness)


def _read_fault(body: dict[str, Any]) -> Fault:
    fields = {"kind", "count", "path_prefix", "seconds", "status", "after", "records", "event_ids"}
    unknown = sorted(set(body) - fields - {"query_contains"})
    if unknown:
        raise BadRequest(f"unknown fault field {unknown[0]!r}")
    kind = str(body.get("kind"))
    if kind not in FAULT_KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(FAULT_KINDS)}, got {kind!r}")
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BadRequest("count: expected an integer >= 1")
    prefix = body.get("path_prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise BadRequest("path_prefix: expected a string like /events")
    seconds = body.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("seconds: expected a number >= 0")
    if kind == "delay" and not seconds:
        raise BadRequest("seconds: a delay fault needs seconds > 0")
    status = body.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599
    ):
        raise BadRequest("status: expected an HTTP status code such as 403 or 200")
    after = body.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise BadRequest("after: expected an integer >= 0")
    records = body.get("records")
    if records is not None and (
        isinstance(records, bool) or not isinstance(records, int) or records < 0
    ):
        raise BadRequest("records: expected an integer >= 0")
    event_ids = body.get("event_ids", [])
    if not isinstance(event_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in event_ids
    ):
        raise BadRequest("event_ids: expected a list of event ids")
    if kind == "delete" and not event_ids:
        raise BadRequest("event_ids: a delete fault needs the ids to delete")
    query = body.get("query_contains")
    if query is not None and not isinstance(query, str):
        raise BadRequest("query_contains: expected a string like end_from")
    return Fault(
        kind, count, prefix, float(seconds), status, after, records, tuple(event_ids), query
    )


def _read_offset(body: dict[str, Any], state: SandboxState) -> float:
    if "now" in body:
        try:
            wanted = parse_utc(body["now"])
        except (TypeError, ValueError):
            raise BadRequest("now: expected a timestamp") from None
        return (wanted - state.now()).total_seconds() + state.clock_offset
    offset = body.get("offset_seconds")
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not math.isfinite(offset):
        raise BadRequest("offset_seconds: expected a number of seconds")
    return float(offset)
