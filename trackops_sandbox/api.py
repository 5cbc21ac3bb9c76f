"""The simulated Trackops REST API under /api/v1: auth, rate limit, collections, POST /events.

Entry point: `install_api(app, state)`. Order for every API request: fault (front.py), then auth,
then the rate limit (it is per account, so the account must be known first; a refused login is not
counted), then the view. Errors are rendered in the `errors` variant switched on at the time.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from trackops_sandbox.errors import ApiError
from trackops_sandbox.front import is_api_path
from trackops_sandbox.query import parse_collection_query, reject_parameters
from trackops_sandbox.records import EventRecord
from trackops_sandbox.render import RecordRenderer, dumps, render_error, wrap_record
from trackops_sandbox.state import Kind, SandboxState, Variants, retry_after_seconds
from trackops_sandbox.validation import read_event_payload, validate_new_event

KIND_PATTERN = "<any(events, cases, subjects, staff):kind>"
RECORD_NAMES: dict[Kind, str] = {
    "events": "Event",
    "cases": "Case",
    "subjects": "Subject",
    "staff": "Staff member",
}


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def make_renderer(state: SandboxState, variants: Variants | None = None) -> RecordRenderer:
    """A renderer for the current switches (or the given ones); call with the lock held."""
    staff = state.tables.staff.rows

    def staff_first_name(staff_id: int) -> str | None:
        member = staff.get(staff_id)
        return member.first_name if member else None

    return RecordRenderer(variants or state.variants, state.calendars, staff_first_name)


def install_api(app: Flask, state: SandboxState) -> None:
    """Register the API views, the auth and rate-limit guard, and API-style error pages."""
    api = Blueprint("trackops_api", __name__, url_prefix="/api/v1")

    @app.before_request
    def guard() -> None:
        if is_api_path(request.path):
            _check_credentials(state)
            _check_rate(state)

    @api.get(f"/{KIND_PATTERN}")
    def list_records(kind: Kind) -> Response:
        query = parse_collection_query(kind, request.args)
        with state.lock:
            table = state.tables.of(kind)
            matching = table.matching_ids(query.filter_key, query.predicates)
            rows = table.rows
            if query.created_from is not None:
                narrow = query.created_from
                matching = [i for i in matching if narrow(rows[i])]
            if query.is_count:
                return json_response(query.count(matching))
            renderer = make_renderer(state)
            return json_response([renderer.render(rows[i]) for i in query.page_of(matching)])

    @api.get(f"/{KIND_PATTERN}/<int:record_id>")
    def show_record(kind: Kind, record_id: int) -> Response:
        reject_parameters(request.args)
        with state.lock:
            record = state.tables.of(kind).rows.get(record_id)
            if record is None:
                raise ApiError(404, f"{RECORD_NAMES[kind]} {record_id} not found")
            body = make_renderer(state).render(record)
            return json_response(wrap_record(kind, body, state.variants.wrap))

    @api.post("/events")
    def create_event() -> Response:
        reject_parameters(request.args)
        try:
            payload = json.loads(request.get_data() or b"null")
        except ValueError:
            raise ApiError(400, "Bad request: the body is not valid JSON") from None
        fields = read_event_payload(payload)
        with state.lock:
            values = validate_new_event(fields, state)
            now = state.now()
            table = state.tables.events
            record = EventRecord(id=table.next_id(), created_at=now, updated_at=now, **values)
            table.add(record)
            body = make_renderer(state).render(record)
            return json_response(wrap_record("events", body, state.variants.wrap), 201)

    app.register_blueprint(api)

    @app.errorhandler(ApiError)
    def render_api_error(error: ApiError) -> Response:
        with state.lock:
            style = state.variants.errors
        body, content_type = render_error(style, error.status, error.message, error.field_errors)
        return Response(body, status=error.status, content_type=content_type, headers=error.headers)

    @app.errorhandler(HTTPException)
    def render_http_error(error: HTTPException) -> Response | HTTPException:
        code = error.code or 500
        if is_api_path(request.path):
            message = f"{error.name}: {request.method} {request.path}"
            return render_api_error(ApiError(code, message))
        if request.path.startswith("/_sandbox"):
            return json_response({"message": f"{error.name}: {error.description}"}, code)
        return error


def _check_credentials(state: SandboxState) -> None:
    options = state.options
    auth = request.authorization
    is_valid = (
        auth is not None
        and auth.type == "basic"
        and auth.username == f"{options.username}/token"
        and hmac.compare_digest((auth.password or "").encode(), options.token.encode())
    )
    if not is_valid:
        # One message for every failure, as a real server gives nothing away.
        raise ApiError(
            401,
            "Unauthorized: authenticate with HTTP Basic as '{username}/token' and the API token",
            headers={"WWW-Authenticate": 'Basic realm="Trackops API"'},
        )


def _check_rate(state: SandboxState) -> None:
    with state.lock:
        wait = state.admit(state.options.username)
        style = state.variants.retry_after
        rate = state.rate_limit
    if wait is None:
        return
    headers = {}
    if style == "seconds":
        headers["Retry-After"] = str(retry_after_seconds(wait))
    elif style == "http_date":
        # HTTP dates have whole seconds: round up so waiting until then is always enough.
        headers["Retry-After"] = http_date(math.ceil(time.time() + wait))
    per_second = f"{rate:g} request{'' if rate == 1 else 's'} per second"
    raise ApiError(429, f"Too Many Requests: this API allows at most {per_second}", headers=headers)
