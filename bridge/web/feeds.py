"""Serving the .ics feeds: token lookup, the shared render cache, conditional GET and gzip.

Entry points: the ``feeds`` blueprint (``GET``/``HEAD /feeds/<token>/<name>.ics``),
``load_render()`` (the cached bytes, rendered again only when the feed or the day changed) and
``feed_url()`` (the full subscription URL, for pages and the CLI).

A fetch costs one store read while its web process holds the feed's current render: the token
and the feed's version, so a rotated token or a changed feed shows at once in every process.
Fetches are tallied in memory and written to the store at most once a minute per client.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Generic, TypeVar
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState

from bridge.config import Settings
from bridge.feeds import FEED_SIZE_WARNING_BYTES, etag_for, render_feed
from bridge.models import Feed, FeedEvent
from bridge.store import FeedRender, Store, StoreError
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
GZIP_LEVEL = 6
# Renders each web process keeps, by feed; bounded in bytes, since one feed can be 2 MB. Reading
# a stored render costs more than the rest of a fetch: on SQLite even its ETag, stored after
# the body, means walking the whole body (about 0.3 ms for 2 MB).
RENDER_CACHE_BYTES = 64_000_000
# Compressed bodies, by ETag (content-addressed: never stale). Compressing a 2 MB feed takes
# about 9 ms (bench/feeds.py).
GZIP_CACHE_BYTES = 16_000_000
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


_gzip_cache: BoundedCache[str, bytes] = BoundedCache(GZIP_CACHE_BYTES)


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


@dataclass
class _Memory:
    """One per app, as its store: feed ids mean nothing in another app's database."""

    renders: BoundedCache[int, FeedRender] = field(
        default_factory=lambda: BoundedCache(RENDER_CACHE_BYTES)
    )
    fetches: FetchLog = field(default_factory=FetchLog)


@bp.record_once
def _attach_memory(state: BlueprintSetupState) -> None:
    state.app.extensions[_MEMORY_EXTENSION] = _Memory()


@bp.get(FEED_RULE)
def serve_feed(token: str, name: str) -> Response:
    store = current_store()
    found = store.find_feed_and_version(token)
    if found is None or name != found[0].slug:
        abort(404)  # the same answer for an unknown token and a token/name mismatch
    feed, version = found
    now = datetime.now(UTC)
    memory: _Memory = current_app.extensions[_MEMORY_EXTENSION]
    memory.fetches.record(store, feed.feed_id, request.user_agent.string, now)
    settings = current_settings()
    window_key = _window_key(settings, now)
    # A render stays good while the feed's version and window hold (see load_render).
    render = memory.renders.get(feed.feed_id)
    if render is None or render.version != version or render.window_key != window_key:
        render = load_render(store, feed, version, settings, now)
        memory.renders.put(feed.feed_id, render, len(render.body))
    return _feed_response(render, feed)


def load_render(
    store: Store, feed: Feed, version: int, settings: Settings, now: datetime
) -> FeedRender:
    """The feed's bytes: the cached render while ``version`` and the window hold, else a new one.

    ``version`` is the feed's, read before this call reads the events, so a change landing in
    between leaves a render tagged with the older version, which the next fetch replaces: never
    the reverse.
    """
    window_key = _window_key(settings, now)
    cached = store.get_feed_render(feed.feed_id)
    if cached is not None and cached.version == version and cached.window_key == window_key:
        return cached

    day_start = datetime.combine(now.date(), time(0), tzinfo=UTC)
    items = store.feed_events(
        feed, ending_after=day_start - timedelta(days=settings.feed_past_days)
    )
    body = render_feed(
        items,
        feed,
        account=settings.account,
        default_timezone=settings.default_timezone,
        refresh_interval=timedelta(seconds=settings.poll_interval),  # render_feed floors it
        generated_at=_generated_at(items, day_start),
    )
    etag = etag_for(body)
    # Same bytes as before (the window moved but no event left it): keep Last-Modified, so
    # If-Modified-Since clients still get their 304.
    unchanged = cached is not None and cached.etag == etag
    render = FeedRender(
        feed_id=feed.feed_id,
        version=version,
        window_key=window_key,
        body=body,
        etag=etag,
        rendered_at=cached.rendered_at if cached is not None and unchanged else now,
    )
    try:
        store.put_feed_render(render)
    except StoreError as error:
        log.warning("feed %d: render not cached, serving it anyway: %s", feed.feed_id, error)
    else:
        # Had another process stored this version and window first, its render stays stored
        # (put_feed_render): serve that one, with its Last-Modified, as every process will.
        stored = store.get_feed_render(feed.feed_id)
        if stored is not None and (stored.version, stored.window_key) == (version, window_key):
            render = stored
    if len(body) > FEED_SIZE_WARNING_BYTES:
        log.warning(
            "feed %d (%s) is %d bytes, over %d: Google Calendar drops events from feeds near "
            "1 MB; lower BRIDGE_FEED_PAST_DAYS or use narrower feeds",
            feed.feed_id,
            feed.slug,
            len(body),
            FEED_SIZE_WARNING_BYTES,
        )
    return render


def _window_key(settings: Settings, now: datetime) -> str:
    """Today's UTC date (past events age out daily) and the settings the bytes depend on."""
    inputs = "|".join(
        (
            settings.account,
            settings.default_timezone,
            str(settings.feed_past_days),
            str(settings.poll_interval),
        )
    )
    return f"{now.date().isoformat()}/{hashlib.sha256(inputs.encode()).hexdigest()[:12]}"


def _generated_at(items: list[FeedEvent], day_start: datetime) -> datetime:
    """The DTSTAMP of events with no update time: the newest update in the feed, else the start
    of today, so a re-render of unchanged data gives the same bytes (and ETag)."""
    stamps = [item.event.updated_at for item in items if item.event.updated_at is not None]
    return max(stamps, default=day_start)


def _feed_response(render: FeedRender, feed: Feed) -> Response:
    is_gzip = request.accept_encodings.quality("gzip") > 0
    # Each encoding is its own representation and needs its own strong ETag; either one
    # validates a conditional request, since both carry the same calendar.
    gzip_etag = render.etag[:-1] + '-gzip"'
    etag = gzip_etag if is_gzip else render.etag
    last_modified = render.rendered_at.replace(microsecond=0)

    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if _is_not_modified(last_modified, (render.etag, gzip_etag)):
        response = Response(status=304, headers=headers)
    else:
        body = _gzipped(render) if is_gzip else render.body
        response = Response(body, headers=headers, content_type="text/calendar; charset=utf-8")
        if is_gzip:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Content-Disposition"] = f'inline; filename="{feed.slug}.ics"'
    response.last_modified = last_modified
    return response


def _gzipped(render: FeedRender) -> bytes:
    if (body := _gzip_cache.get(render.etag)) is None:
        # mtime=0: the same bytes in every process, so the gzip ETag holds across them.
        body = gzip.compress(render.body, GZIP_LEVEL, mtime=0)
        _gzip_cache.put(render.etag, body, len(body))
    return body


def _is_not_modified(last_modified: datetime, etags: tuple[str, ...]) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if request.if_none_match:
        return any(request.if_none_match.contains_weak(tag.strip('"')) for tag in etags)
    since = request.if_modified_since
    return since is not None and last_modified <= since
