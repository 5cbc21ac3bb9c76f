"""Health checks for the host: ``/healthz`` (the store and the worker) and ``/livez`` (this web
process alone). No login (both are in bridge.web.auth.PUBLIC_ENDPOINTS), plain text, and
nothing in them a stranger could use.

A host restarts what fails its check: point the web process's check at ``/livez`` (or
``/healthz?worker=0``, which also asks the store), so web is not restarted because the worker
is down, and alert on ``/healthz``, which is 503 while no worker holds a fresh lease.
"""

from __future__ import annotations

import logging

from flask import Blueprint, request
from werkzeug.wrappers import Response

from bridge.store import Lease, SchemaOutOfDate, StoreError
from bridge.web.context import current_store
from bridge.web.display import describe_age

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/livez")
def livez() -> Response:
    """This process answers: all a web process's own health is."""
    return _plain("ok", 200)


@bp.get("/healthz")
def healthz() -> Response:
    """200 when the store answers and (unless ``?worker=0``) the worker's lease is fresh."""
    try:
        lease = current_store().read_worker_lease()
    except SchemaOutOfDate:
        return _plain("database schema out of date: run trackops-bridge migrate", 503)
    except StoreError as error:
        # The reason (a host, a driver message) goes to the log only.
        log.warning("health check: %s", error.describe())
        return _plain("database unreachable", 503)
    if request.args.get("worker") == "0":
        return _plain("ok: database answers", 200)
    problem = worker_problem(lease)
    if problem is not None:
        return _plain(problem, 503)
    return _plain("ok: database answers, worker heartbeat fresh", 200)


def worker_problem(lease: Lease) -> str | None:
    """Why the worker is not known to be running, or None when its lease is fresh."""
    if lease.is_live:
        return None
    if lease.holder is not None and lease.renewed_at is not None:
        return f"worker heartbeat {describe_age(lease.now - lease.renewed_at)} old"
    if lease.released_at is not None:
        return f"worker stopped {describe_age(lease.now - lease.released_at)} ago"
    return "no worker has run yet"


def _plain(text: str, status: int) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")
