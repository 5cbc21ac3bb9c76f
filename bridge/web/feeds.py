"""Serving the .ics feeds: stored bytes or a 304, one small read per fetch, gzip.

Entry points: the ``feeds`` blueprint (``GET``/``HEAD /feeds/<token>/<name>.ics``),
``render_now()`` (an admin page's change rendered at once, when small enough) and
``feed_url()`` (the full subscription URL, for pages and the CLI).

The worker renders every feed right after the pass that changed it and stores the bytes
(bridge.feed_engine); a fetch reads the feed's head by its token (the stored render's ETag,
version and privacy: ``Store.find_feed_head``), so a rotated token or a new render shows at
once in every process, and the body from this process's memory, or once from the store. A web
process renders only a feed that was never rendered, and only one small enough to fit in a
request; a larger one is left to the worker and answered 503 with Retry-After. Fetches are
tallied in memory and written to the store at most once a minute per client.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.http import http_date

from bridge.feed_engine import FeedEngine, render_options
from bridge.models import Feed, Privacy
from bridge.store import FeedHead, FeedRender, Store, StoreError
from bridge.web.context import current_settings, current_store

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

bp = Blueprint("feeds", __name__)

FEED_RULE = "/feeds/<token>/<name>.ics"
# A rotated URL stops working at once (the README's promise), so no cache may answer for us:
# "private" keeps shared caches (a CDN, a corporate proxy) from storing a feed at all, and
# "no-cache" makes the client's own copy revalidate on every fetch, which costs a 304 (one
# small store read) when nothing changed, and a 404 once the URL was rotated.
CACHE_CONTROL = "private, no-cache"
# Renders each web process keeps, by feed; bounded in bytes, since one feed can be 2 MB. A
# fetch whose feed's stored ETag matches the one held here reads no body from the store.
RENDER_CACHE_BYTES = 64_000_000
# The largest never-rendered feed a web process renders itself on a subscriber's request:
# about a second of rendering and reading, well inside the request budget (Procfile). A larger
# one is left to the worker's next pass and answered 503 with Retry-After meanwhile.
LAST_RESORT_EVENTS = 10_000
# Privacy, from what shows least: a stored render may be served while it shows no more than
# the feed now allows (a feed just switched to "busy" is never served its "full" render).
_SHOWN = {Privacy.BUSY: 0, Privacy.LIMITED: 1, Privacy.FULL: 2}
_PLAIN_GZIP_ASKS = frozenset({"gzip", "gzip, deflate", "gzip, deflate, br", "gzip,deflate"})
# A fetch is written at once unless its (feed, User-Agent) was written less than this ago.
FETCH_WRITE_INTERVAL = timedelta(minutes=1)
_MEMORY_EXTENSION = "trackops_bridge.feeds"


def feed_path(feed: Feed) -> str:
    """The feed's path, built from the same rule the route is registered with."""
    return FEED_RULE.replace("<token>", quote(feed.token, safe="")).replace(
        "<name>", quote(feed.slug, safe="")
    )


def feed_url(public_url: str, feed: Feed) -> str:
    """The complete subscription URL of ``feed`` on the bridge at ``public_url``."""
    return public_url.rstrip("/") + feed_path(feed)


class BoundedCache(Generic[K, V]):
    """Values by key; the least recently used go first once their sizes pass ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if (entry := self._entries.get(key)) is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V, size: int) -> None:
        with self._lock:
            if (replaced := self._entries.pop(key, None)) is not None:
                self.size -= replaced[1]
            if size > self.max_bytes:
                return  # it would push out everything else and still not fit
            self._entries[key] = (value, size)
            self.size += size
            while self.size > self.max_bytes:
                self.size -= self._entries.popitem(last=False)[1][1]


@dataclass
class _Tally:
    written_at: datetime
    last_at: datetime
    count: int = 0  # fetches since written_at, not yet in the store


class FetchLog:
    """Who fetched which feed, written to the store at most once a minute per (feed, User-Agent).

    A write per fetch would make every subscriber a writer, queued behind the sync worker on
    SQLite. A key's first fetch in a minute is written at once, so a client polling every few
    hours is recorded exactly; a faster one is counted within about a minute, while this process
    serves any feed. (Counts held when the process stops are lost: a minute's worth at most.)
    """

    def __init__(self) -> None:
        # By last write, oldest first: the keys due a write are at the front.
        self._tallies: OrderedDict[tuple[int, str], _Tally] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, store: Store, feed_id: int, user_agent: str, at: datetime) -> None:
        key = (feed_id, user_agent)
        with self._lock:
            due = []
            tally = self._tallies.get(key)
            if tally is None:
                self._tallies[key] = _Tally(written_at=at, last_at=at)
                due.append((key, 1, at))
            else:
                tally.count += 1
                tally.last_at = at
            due += self._take_due(at)
        for (due_feed_id, due_user_agent), count, last_at in due:
            try:
                store.record_feed_fetch(due_feed_id, last_at, due_user_agent, count)
            except StoreError as error:
                # Bookkeeping must not cost a subscriber the feed (the worker may hold the
                # write lock): the count goes back, to be written a minute from now.
                log.warning("feed %d: fetches not recorded: %s", due_feed_id, error)
                with self._lock:
                    kept = self._tallies.setdefault(
                        (due_feed_id, due_user_agent), _Tally(written_at=at, last_at=last_at)
                    )
                    kept.count += count
                    kept.last_at = max(kept.last_at, last_at)

    def _take_due(self, now: datetime) -> list[tuple[tuple[int, str], int, datetime]]:
        """Take the counts of keys last written a minute ago or more; forget the idle ones, so
        the map holds only the last minute's clients and their next fetch is written at once."""
        due = []
        while self._tallies:
            key, tally = next(iter(self._tallies.items()))
            if now - tally.written_at < FETCH_WRITE_INTERVAL:
                break
            del self._tallies[key]
            if tally.count:
                due.append((key, tally.count, tally.last_at))
                self._tallies[key] = _Tally(written_at=now, last_at=now)
        return due


class _Prepared:
    """A stored render with what every answer from it repeats, worked out once: its ETags,
    its Last-Modified as sent and its headers. Gzip-accepting clients get the gzipped body as
    the store keeps it (the same bytes from every process, so its ETag holds across them)."""

    def __init__(self, render: FeedRender, slug: str) -> None:
        self.render = render
        # Always there when read from the store; a render made here is compressed as stored.
        self.gzipped = render.gzipped or gzip.compress(render.body, 6, mtime=0)
        self.size = len(render.body) + len(self.gzipped)
        self.etag = render.etag
        # Each encoding is its own representation and needs its own strong ETag; either one
        # validates a conditional request, since both carry the same calendar.
        self.gzip_etag = render.etag[:-1] + '-gzip"'
        self.last_modified = render.rendered_at.replace(microsecond=0)
        self.last_modified_text = http_date(self.last_modified)
        common = [
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Accept-Encoding"),
            ("Last-Modified", self.last_modified_text),
        ]
        self.not_modified = {
            False: [("ETag", self.etag), *common],
            True: [("ETag", self.gzip_etag), *common],
        }
        disposition = ("Content-Disposition", f'inline; filename="{slug}.ics"')
        calendar = ("Content-Type", "text/calendar; charset=utf-8")
        self.full = {
            False: [("ETag", self.etag), *common, calendar, disposition],
            True: [
                ("ETag", self.gzip_etag),
                *common,
                calendar,
                ("Content-Encoding", "gzip"),
                disposition,
            ],
        }

    def body(self, is_gzip: bool) -> bytes:
        return self.gzipped if is_gzip else self.render.body


@dataclass
class _Memory:
    """One per app, as its store: feed ids mean nothing in another app's database."""

    renders: BoundedCache[int, _Prepared] = field(
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


def _servable(store: Store, head: FeedHead, memory: _Memory) -> _Prepared | None:
    """The stored render, from this process's memory when it holds the ETag the store named,
    unless there is none or it shows more than the feed now allows."""
    if head.render_etag is None or not _may_show(head.render_privacy, head.privacy):
        return None
    prepared = memory.renders.get(head.feed_id)
    if prepared is None or prepared.etag != head.render_etag:
        render = store.get_feed_render(head.feed_id)
        if render is None or not _may_show(render.privacy, head.privacy):
            return None
        prepared = _Prepared(render, head.slug)
        memory.renders.put(head.feed_id, prepared, prepared.size)
    return prepared


def _may_show(shown: Privacy | None, allowed: Privacy) -> bool:
    return shown is not None and _SHOWN[shown] <= _SHOWN[allowed]


def _render_as_last_resort(store: Store, head: FeedHead, memory: _Memory) -> _Prepared | None:
    """A feed without a render it may serve (never rendered, or just made more private) is
    rendered here when small; a larger one waits for the worker (None)."""
    if not render_now(store, {head.feed_id}):
        return None
    render = store.get_feed_render(head.feed_id)
    if render is None or not _may_show(render.privacy, head.privacy):
        return None
    prepared = _Prepared(render, head.slug)
    memory.renders.put(head.feed_id, prepared, prepared.size)
    return prepared


def render_now(store: Store, feed_ids: set[int] | None) -> bool:
    """Render the named feeds (None: every feed) now, if stale and each of at most
    LAST_RESORT_EVENTS events (an admin page after a change, or a fetch of a feed never
    rendered); True when none of them was left to the worker. Blocks are not kept: a web
    process holds no feed's events."""
    engine = FeedEngine(store, render_options(current_settings()))
    result = engine.render_stale(feed_ids=feed_ids, max_events=LAST_RESORT_EVENTS)
    if result.rendered:
        log.info("%s", result.summary())
    return not result.deferred and not result.failed


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


def _feed_response(prepared: _Prepared) -> Response:
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


def _is_not_modified(prepared: _Prepared) -> bool:
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
