"""What sits in front of the simulated API: injected faults and the request log. Entry: `ApiFront`.

It is WSGI middleware rather than Flask hooks because the faults it plays belong outside the
application: a gateway's 502, a firewall's HTML page, a body cut short, a dropped connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from trackops_sandbox.render import FIREWALL_PAGE, STATUS_TEXT, render_error
from trackops_sandbox.state import Fault, SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

API_PREFIX = "/api/v1"
# These faults let the request through to the API (so it counts against the rate limit and a
# POST still creates its event) and spoil or slow the answer; the others never reach the API.
PASS_THROUGH_FAULTS = ("truncated", "empty", "delay", "short", "empty_list", "delete")
COLLECTIONS = ("/events", "/cases", "/subjects", "/staff")
FAULT_MESSAGES = {
    "500": "Internal Server Error: something went wrong on our end",
    "502": "Bad Gateway: the upstream server did not answer",
    "503": "Service Unavailable: down for maintenance, try again later",
    "504": "Gateway Timeout: the upstream server took too long",
}

Headers = list[tuple[str, str]]


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ApiFront:
    """Serves queued faults for API paths and logs every API request; passes the rest through."""

    def __init__(self, app: WSGIApplication, state: SandboxState) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        full_path: str = environ.get("PATH_INFO", "")
        if not is_api_path(full_path):
            return self.app(environ, start_response)
        arrived = time.monotonic()
        api_path = full_path[len(API_PREFIX) :] or "/"
        query = environ.get("QUERY_STRING", "")
        is_listing = (
            environ.get("REQUEST_METHOD") == "GET"
            and api_path.rstrip("/") in COLLECTIONS
            and "mode=count" not in query
        )
        with self.state.lock:
            fault = self.state.take_fault(api_path, full_path, query, is_listing=is_listing)
            style = self.state.variants.errors
            arrived_at = datetime.now(UTC) + timedelta(seconds=self.state.clock_offset)
        if fault is not None and fault.kind == "disconnect":
            self._log(environ, None, fault, arrived, arrived_at)
            _drop_connection(environ)
        if fault is None or fault.kind in PASS_THROUGH_FAULTS:
            status, headers, body = _call_buffered(self.app, environ)
            if fault is not None:
                status, headers, body = _spoil(fault, status, headers, body)
            if fault is not None and fault.kind == "delete":
                with self.state.lock:
                    for event_id in fault.event_ids:
                        self.state.tables.of("events").remove(event_id)
        else:
            status, headers, body = _fault_response(fault, style)
        self._log(environ, int(status.split()[0]), fault, arrived, arrived_at)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)  # outside the lock: other requests go on meanwhile
        start_response(status, headers)
        return [body]

    def _log(
        self,
        environ: WSGIEnvironment,
        status: int | None,
        fault: Fault | None,
        arrived: float,
        arrived_at: datetime,
    ) -> None:
        entry = {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""),
            "status": status,
            "time": arrived_at.isoformat(),  # server clock, offset included
            "monotonic": arrived,
            "fault": fault.kind if fault else None,
        }
        with self.state.lock:
            self.state.log.add(entry)


def _call_buffered(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[str, Headers, bytes]:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None  # Flask never uses the legacy write() callable

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], list(captured["headers"]), body


def _with_length(headers: Headers, body: bytes) -> Headers:
    kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
    return [*kept, ("Content-Length", str(len(body)))]


def _spoil(fault: Fault, status: str, headers: Headers, body: bytes) -> tuple[str, Headers, bytes]:
    if fault.kind == "truncated":
        # A well-formed HTTP message whose JSON stops in the middle.
        body = body[: len(body) // 2]
        return status, _with_length(headers, body), body
    if fault.kind == "empty":
        return "200 OK", _with_length(headers, b""), b""
    if fault.kind in ("short", "empty_list"):
        # A well-formed page with records missing: a proxy's or a timed-out upstream's reply.
        records = json.loads(body)
        keep = 0 if fault.kind == "empty_list" else fault.records
        body = json.dumps(records[: len(records) // 2 if keep is None else keep]).encode()
        return status, _with_length(headers, body), body
    return status, headers, body


def _fault_response(fault: Fault, style: str) -> tuple[str, Headers, bytes]:
    if fault.kind == "html":
        code = fault.status or 403
        body = FIREWALL_PAGE
        content_type = "text/html; charset=UTF-8"
    else:
        code = int(fault.kind)
        body, content_type = render_error(style, code, FAULT_MESSAGES[fault.kind])
    status = f"{code} {STATUS_TEXT.get(code, 'OK' if code == 200 else 'Error')}"
    return status, _with_length([("Content-Type", content_type)], body), body


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Close the client's connection without a byte of response.

    werkzeug's server hands the socket over as `werkzeug.socket` and treats a ConnectionError from
    the application as a dropped connection, quietly. Served any other way (httpx.WSGITransport),
    the ConnectionAbortedError reaches the caller instead.
    """
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the client left first: the outcome is the same
            sock.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("sandbox fault: connection closed without a response")
