"""Serving the .ics feeds: stored bytes or a 304, one small read per fetch, gzip.

Entry point: the ``feeds`` blueprint (``GET``/``HEAD /feeds/<token>/<name>.ics``).

The worker renders every feed right after the pass that changed it and stores the bytes
(bridge.feed_engine); a fetch reads the feed's head by its token (the stored render's ETag,
version and privacy: ``Store.find_feed_head``), so a rotated token or a new render shows at
once in every process, and the body from this process's memory (bridge.web.render_cache), or
once from the store. A web process renders only a feed that was never rendered, and only one
small enough to fit in a request; a larger one is left to the worker and answered 503 with
Retry-After. Fetches are tallied by bridge.web.fetch_log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState

from bridge.feed_engine import render_options, render_small_feeds
from bridge.models import Privacy
from bridge.store import FeedHead, Store
from bridge.web.context import current_settings, current_store
from bridge.web.feed_urls import FEED_RULE
from bridge.web.fetch_log import FetchLog
from bridge.web.render_cache import CACHE_CONTROL, BoundedCache, PreparedRender

bp = Blueprint("feeds", __name__)

# Renders each web process keeps, by feed; bounded in bytes, since one feed can be 2 MB. A
# fetch whose feed's stored ETag matches the one held here reads no body from the store.
RENDER_CACHE_BYTES = 64_000_000
# Privacy, from what shows least: a stored render may be served while it shows no more than
# the feed now allows (a feed just switched to "busy" is never served its "full" render).
_SHOWN = {Privacy.BUSY: 0, Privacy.LIMITED: 1, Privacy.FULL: 2}
_PLAIN_GZIP_ASKS = frozenset({"gzip", "gzip, deflate", "gzip, deflate, br", "gzip,deflate"})
_MEMORY_EXTENSION = "trackops_bridge.feeds"


@dataclass
class _Memory:
    """One per app, as its store: feed ids mean nothing in another app's database."""

    renders: BoundedCache[int, PreparedRender] = field(
        default_factory=lambda: BoundedCache(RENDER_CACHE_BYTES)
    )
    fetches: FetchLog = field(default_factory=FetchLog)


@bp.record_once
def _attach_memory(state: BlueprintSetupState) -> None:
    state.app.extensions[_MEMORY_EXTENSION] = _Memory()


@bp.get(FEED_RULE)
def serve_feed(token: str, name: str) -> Response:
    store = current_store()
    head = store.find_feed_head(token)
    if head is None or name != head.slug:
        abort(404)  # the same answer for an unknown token and a token/name mismatch
    memory: _Memory = current_app.extensions[_MEMORY_EXTENSION]
    user_agent = request.headers.get("User-Agent", "")
    memory.fetches.record(store, head.feed_id, user_agent, datetime.now(UTC))
    prepared = _servable(store, head, memory) or _render_as_last_resort(store, head, memory)
    if prepared is None:
        return _not_yet_rendered()
    return _feed_response(prepared)


def _servable(store: Store, head: FeedHead, memory: _Memory) -> PreparedRender | None:
    """The stored render, from this process's memory when it holds the ETag the store named,
    unless there is none or it shows more than the feed now allows."""
    if head.render_etag is None or not _may_show(head.render_privacy, head.privacy):
        return None
    prepared = memory.renders.get(head.feed_id)
    if prepared is None or prepared.etag != head.render_etag:
        return _read_render(store, head, memory)
    return prepared


def _read_render(store: Store, head: FeedHead, memory: _Memory) -> PreparedRender | None:
    """The stored render, read once and kept in this process's memory, if it may be shown."""
    render = store.get_feed_render(head.feed_id)
    if render is None or not _may_show(render.privacy, head.privacy):
        return None
    prepared = PreparedRender(render, head.slug)
    memory.renders.put(head.feed_id, prepared, prepared.size)
    return prepared


def _may_show(shown: Privacy | None, allowed: Privacy) -> bool:
    return shown is not None and _SHOWN[shown] <= _SHOWN[allowed]


def _render_as_last_resort(store: Store, head: FeedHead, memory: _Memory) -> PreparedRender | None:
    """A feed without a render it may serve (never rendered, or just made more private) is
    rendered here when small; a larger one waits for the worker (None)."""
    if not render_small_feeds(store, render_options(current_settings()), {head.feed_id}):
        return None
    return _read_render(store, head, memory)


def _not_yet_rendered() -> Response:
    # The worker renders after its next pass: ask again a little after that.
    retry_after = int(current_settings().poll_interval) + 30
    response = Response(
        "This feed is being prepared; try again in a few minutes.\n",
        status=503,
        mimetype="text/plain",
        headers={"Retry-After": str(retry_after), "Cache-Control": CACHE_CONTROL},
    )
    return response


def _feed_response(prepared: PreparedRender) -> Response:
    is_gzip = _accepts_gzip()
    if _is_not_modified(prepared):
        response = Response(status=304, headers=prepared.not_modified[is_gzip])
        # A 304 has no body and so no type: without one, no header meant for HTML pages
        # (Content-Security-Policy, X-Frame-Options) is added to it.
        del response.headers["Content-Type"]
        return response
    return Response(prepared.body(is_gzip), headers=prepared.full[is_gzip])


def _accepts_gzip() -> bool:
    header = request.headers.get("Accept-Encoding")
    if not header:
        return False
    if header in _PLAIN_GZIP_ASKS:  # what calendar clients send, decided without parsing
        return True
    return request.accept_encodings.quality("gzip") > 0


def _is_not_modified(prepared: PreparedRender) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it.
    The client's own copy of our ETag or date, the usual case, is matched without parsing."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match in (prepared.etag, prepared.gzip_etag):
            return True
        tags = request.if_none_match
        return tags.contains_weak(prepared.etag.strip('"')) or tags.contains_weak(
            prepared.gzip_etag.strip('"')
        )
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    if if_modified_since == prepared.last_modified_text:
        return True
    since = request.if_modified_since
    return since is not None and prepared.last_modified <= since
