"""Serving the .ics feeds: token lookup, the shared render cache, conditional GET and gzip.

Entry points: the ``feeds`` blueprint (``GET``/``HEAD /feeds/<token>/<name>.ics``),
``load_render()`` (the cached bytes, rendered again only when the feed or the day changed) and
``feed_url()`` (the full subscription URL, for pages and the CLI).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime, time, timedelta
from urllib.parse import quote

from flask import Blueprint, Response, abort, request

from bridge.config import Settings
from bridge.feeds import FEED_SIZE_WARNING_BYTES, etag_for, render_feed
from bridge.models import Feed, FeedEvent
from bridge.store import FeedRender, Store, StoreError
from bridge.web.context import current_settings, current_store

log = logging.getLogger(__name__)

bp = Blueprint("feeds", __name__)

FEED_RULE = "/feeds/<token>/<name>.ics"
# Shared caches (a CDN, a corporate proxy) may keep a feed for 5 minutes: enough to absorb a burst
# of subscribers polling at once, short enough that a rotated (revoked) URL or a privacy change
# takes effect within minutes. "private" would forbid exactly the proxies that help; the URL is
# already a bearer secret, so a shared cache serves it to no one who could not fetch it anyway.
CACHE_CONTROL = "public, max-age=300"
GZIP_LEVEL = 6
# Compressed bodies kept per process, by ETag (content-addressed: never stale). Compressing a
# 1.3 MB feed takes about 5 ms, more than the rest of the request (bench/web_feeds.py).
GZIP_CACHE_ENTRIES = 64
_gzip_cache: OrderedDict[str, bytes] = OrderedDict()
_gzip_lock = threading.Lock()


def feed_path(feed: Feed) -> str:
    """The feed's path, built from the same rule the route is registered with."""
    return FEED_RULE.replace("<token>", quote(feed.token, safe="")).replace(
        "<name>", quote(feed.slug, safe="")
    )


def feed_url(public_url: str, feed: Feed) -> str:
    """The complete subscription URL of ``feed`` on the bridge at ``public_url``."""
    return public_url.rstrip("/") + feed_path(feed)


@bp.get(FEED_RULE)
def serve_feed(token: str, name: str) -> Response:
    store = current_store()
    feed = store.find_feed_by_token(token)
    if feed is None or name != feed.slug:
        abort(404)  # the same answer for an unknown token and a token/name mismatch
    now = datetime.now(UTC)
    render = load_render(store, feed, current_settings(), now)
    try:
        store.record_feed_fetch(feed.feed_id, now, request.user_agent.string)
    except StoreError as error:
        # Bookkeeping must not cost a subscriber the feed (the worker may hold the write lock).
        log.warning("feed %d: fetch not recorded: %s", feed.feed_id, error)
    return _feed_response(render, feed)


def load_render(store: Store, feed: Feed, settings: Settings, now: datetime) -> FeedRender:
    """The feed's bytes: the cached render while its version and window hold, else a new one.

    The version is read before the events, so a change landing in between leaves a render
    tagged with the older version, which the next fetch replaces: never the reverse.
    """
    version = store.feed_version(feed.feed_id)
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
    with _gzip_lock:
        if (cached := _gzip_cache.get(render.etag)) is not None:
            _gzip_cache.move_to_end(render.etag)
            return cached
    # mtime=0: the same bytes in every process, so the gzip ETag holds across them.
    body = gzip.compress(render.body, GZIP_LEVEL, mtime=0)
    with _gzip_lock:
        _gzip_cache[render.etag] = body
        while len(_gzip_cache) > GZIP_CACHE_ENTRIES:
            _gzip_cache.popitem(last=False)
    return body


def _is_not_modified(last_modified: datetime, etags: tuple[str, ...]) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if request.if_none_match:
        return any(request.if_none_match.contains_weak(tag.strip('"')) for tag in etags)
    since = request.if_modified_since
    return since is not None and last_modified <= since
