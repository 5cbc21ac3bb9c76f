"""Error pages: one handler per kind of failure, never a traceback, never a 200.

Feed URLs get short plain-text answers (a calendar client shows no HTML, and a lenient one may
read an error page served with 200 as "the calendar is now empty"); admin pages get a page that
says what happened and what to do.
"""

from __future__ import annotations

import logging

from flask import Flask, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from bridge.errors import BridgeError
from bridge.store import NotFound, SchemaOutOfDate, StoreError, StoreUnavailable
from bridge.web.auth import is_logged_in

log = logging.getLogger(__name__)

_FEED_PREFIX = "/feeds/"


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(BridgeError, _bridge_error)
    app.register_error_handler(StoreError, _store_error)


def _is_feed_request() -> bool:
    return request.path.startswith(_FEED_PREFIX)


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status=status, headers=headers, mimetype="text/plain")


def _page(status: int, title: str, message: str, advice: str = "") -> Response:
    page = render_template("error.html", title=title, message=message, advice=advice)
    return make_response(page, status)


_TITLES = {
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page can't be used that way."),
    500: ("Something went wrong", "The bridge hit an unexpected error; it has been logged."),
}


def _http_error(error: HTTPException) -> Response:
    # An unexpected exception arrives here as InternalServerError, already logged by Flask.
    status = error.code or 500
    title, message = _TITLES.get(status, (error.name, error.description or ""))
    response = _plain(title, status) if _is_feed_request() else _page(status, title, message)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _csrf_error(error: CSRFError) -> Response:
    return _page(
        400,
        "The form expired",
        "This form's security token is missing or too old.",
        "Go back, reload the page and submit the form again.",
    )


def _bridge_error(error: BridgeError) -> Response:
    log.error("request failed: %s", error.describe())
    if _is_feed_request():
        return _plain("Temporarily unavailable", 503, {"Retry-After": "300"})
    return _page(500, "The bridge could not do that", error.message, error.advice)


def _store_error(error: StoreError) -> Response:
    if isinstance(error, NotFound) and not _is_feed_request():
        return _page(404, "Not found", "It may have been removed since the page was loaded.")
    log.error("store error: %s", error)
    if _is_feed_request():
        # The last good render lives in the same database: without it there is nothing to
        # serve, and a 503 makes clients keep what they have rather than empty the calendar.
        return _plain("Temporarily unavailable", 503, {"Retry-After": "300"})
    advice = ""
    if isinstance(error, SchemaOutOfDate):
        advice = "Run `trackops-bridge migrate`, then reload."
    elif isinstance(error, StoreUnavailable):
        advice = "Check DATABASE_URL and that the database is running; then reload."
    # Details (the database's address) only for someone logged in.
    message = str(error) if is_logged_in() else "The bridge's database can't be used right now."
    return _page(503, "Database unavailable", message, advice if is_logged_in() else "")
