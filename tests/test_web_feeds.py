"""Serving feeds (the feeds blueprint) over a real SQLite file: the stored render, conditional
answers, gzip, the in-memory cache, the fetch tally, and the token kept out of logs.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

import bridge.feed_engine
import bridge.web.admin
import bridge.web.feed_serving
import bridge.web.fetch_log
from bridge.config import Settings
from bridge.models import FeedKind, Privacy, Staff
from bridge.store import FeedRender, Store, StoreUnavailable
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path, feed_url
from bridge.web.fetch_log import FetchLog
from bridge.web.render_cache import BoundedCache
from tests.support.web_mirror import (
    GOOGLE_UA,
    NOW,
    feed_of,
    interview,
    mirror_settings,
    mirror_store,
    path_of,
    surveillance,
    worker_pass,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return mirror_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return mirror_settings()


@pytest.fixture
def no_web_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any render by the web app (its one render path) now fails the fetch."""

    def refuse(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a subscriber's request rendered a feed")

    monkeypatch.setattr(bridge.web.feed_serving, "render_small_feeds", refuse)


def test_feed_is_served_as_a_calendar_with_cache_headers(web: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    response = web.get(path_of(feed))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["ETag"]), "a strong ETag"
    assert response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Disposition"] == 'inline; filename="calendar-3.ics"'
    assert "Content-Encoding" not in response.headers
    body = response.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert "SUMMARY:Surveillance\\, Main St\\; day 1" in body
    assert "Witness interview" not in body, "calendar 4's event is not in calendar 3's feed"


def test_head_gives_the_same_headers_and_no_body(web: FlaskClient, db: Store) -> None:
    path = path_of(feed_of(db, FeedKind.ALL))
    got, head = web.get(path), web.head(path)
    assert head.status_code == 200
    assert head.get_data() == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["Content-Length"]) == len(got.get_data())


def test_unknown_token_and_wrong_name_get_the_same_plain_404(web: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    other = feed_of(db, FeedKind.CALENDAR, 4)
    unknown_token = web.get(f"/feeds/{'A' * len(feed.token)}/{feed.slug}.ics")
    wrong_name = web.get(f"/feeds/{feed.token}/{other.slug}.ics")
    not_ascii = web.get(f"/feeds/{quote('tökén')}/{feed.slug}.ics")
    answers = [unknown_token, wrong_name, not_ascii]
    assert [r.status_code for r in answers] == [404, 404, 404]
    assert len({r.get_data() for r in answers}) == 1, "nothing tells the cases apart"
    assert unknown_token.mimetype == "text/plain"
    assert b"<" not in unknown_token.get_data() and b"VCALENDAR" not in unknown_token.get_data()


def test_rotated_token_stops_working_at_once(web: FlaskClient, db: Store) -> None:
    old = feed_of(db, FeedKind.STAFF, 7)
    assert web.get(path_of(old)).status_code == 200  # cached render exists under the old URL
    new = db.rotate_feed_token(old.feed_id)
    assert new.token != old.token
    assert web.get(path_of(old)).status_code == 404
    assert web.get(path_of(new)).status_code == 200


def test_if_none_match_gives_304(web: FlaskClient, db: Store) -> None:
    path = path_of(feed_of(db, FeedKind.ALL))
    first = web.get(path)
    again = web.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "private, no-cache"
    other = web.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_if_modified_since_gives_304_unless_if_none_match_disagrees(
    web: FlaskClient, db: Store
) -> None:
    path = path_of(feed_of(db, FeedKind.ALL))
    last_modified = web.get(path).headers["Last-Modified"]
    assert web.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert web.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
    # RFC 9110: If-None-Match decides when both are sent.
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"stale"'}
    assert web.get(path, headers=both).status_code == 200


def test_gzip_only_when_the_client_asks(web: FlaskClient, db: Store) -> None:
    path = path_of(feed_of(db, FeedKind.ALL))
    plain = web.get(path)
    zipped = web.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    refused = web.get(path, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] != plain.headers["ETag"], "one strong ETag per encoding"
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data() == plain.get_data()
    revalidated = web.get(
        path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    )
    assert revalidated.status_code == 304


def test_no_content_negotiation(web: FlaskClient, db: Store) -> None:
    path = path_of(feed_of(db, FeedKind.ALL))
    response = web.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"


def test_a_fetch_serves_the_stored_render_and_the_worker_pass_brings_changes(
    web: FlaskClient, db: Store, no_web_render: None
) -> None:
    feed = feed_of(db, FeedKind.STAFF, 7)
    stored = db.get_feed_render(feed.feed_id)
    first = web.get(path_of(feed))
    assert first.get_data() == stored.body and first.headers["ETag"] == stored.etag

    db.apply_event_changes([surveillance(title="Surveillance moved")], [], NOW)
    # Until the worker's pass has rendered it, the last good render is what is served.
    assert web.get(path_of(feed)).get_data() == first.get_data()
    assert [f.slug for f, _ in worker_pass(db).rendered] == ["all", "calendar-3", "staff-7"]
    third = web.get(path_of(feed))
    assert b"Surveillance moved" in third.get_data()
    assert third.headers["ETag"] != first.headers["ETag"]
    assert db.get_feed_render(feed.feed_id).version == db.feed_version(feed.feed_id)


def test_a_change_elsewhere_leaves_the_render_alone(
    web: FlaskClient, db: Store, no_web_render: None
) -> None:
    feed = feed_of(db, FeedKind.STAFF, 7)
    first, stored = web.get(path_of(feed)), db.get_feed_render(feed.feed_id)
    changed = replace(interview(), title="Interview, rescheduled")
    db.apply_event_changes([changed], [], NOW)  # staff 8's event, not in staff 7's feed
    assert "staff-7" not in {f.slug for f, _ in worker_pass(db).rendered}
    assert db.get_feed_render(feed.feed_id) == stored
    assert web.get(path_of(feed)).get_data() == first.get_data()


def test_new_day_renders_again_but_keeps_last_modified_when_bytes_match(db: Store) -> None:
    feed = feed_of(db, FeedKind.ALL)
    today = db.get_feed_render(feed.feed_id)
    worker_pass(db, clock=NOW + timedelta(days=1))
    tomorrow = db.get_feed_render(feed.feed_id)
    assert tomorrow.window_key != today.window_key
    assert tomorrow.body == today.body, "no event aged out: the same bytes"
    assert tomorrow.rendered_at == today.rendered_at, "so If-Modified-Since still matches"
    worker_pass(db, clock=NOW + timedelta(days=400))
    next_year = db.get_feed_render(feed.feed_id)
    assert b"VEVENT" not in next_year.body, "the events have left the past window"
    assert next_year.rendered_at > today.rendered_at


def test_fetch_is_recorded_with_the_user_agent(
    web: FlaskClient, db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bridge.web.fetch_log, "FETCH_WRITE_INTERVAL", timedelta(0))  # no tallying
    feed = feed_of(db, FeedKind.ALL)
    web.get(path_of(feed), headers={"User-Agent": GOOGLE_UA})
    etag = web.get(path_of(feed), headers={"User-Agent": GOOGLE_UA}).headers["ETag"]
    web.get(path_of(feed), headers={"User-Agent": GOOGLE_UA, "If-None-Match": etag})
    web.head(path_of(feed), headers={"User-Agent": "Microsoft Outlook 16.0"})
    fetches = {f.user_agent: f for f in db.feed_fetches(feed.feed_id)}
    assert fetches[GOOGLE_UA].fetch_count == 3, "304s count as fetches too"
    assert fetches["Microsoft Outlook 16.0"].fetch_count == 1
    assert NOW - timedelta(minutes=1) <= fetches[GOOGLE_UA].last_fetched_at


def test_fetches_are_tallied_and_written_once_a_minute(db: Store) -> None:
    feed_id = feed_of(db, FeedKind.ALL).feed_id
    writes: list[tuple[str, int]] = []
    real_record = db.record_feed_fetch

    def counting_record(feed_id: int, at: datetime, user_agent: str, count: int = 1) -> None:
        writes.append((user_agent, count))
        real_record(feed_id, at, user_agent, count)

    db.record_feed_fetch = counting_record  # type: ignore[method-assign]
    fetch_log, outlook = FetchLog(), "Microsoft Outlook 16.0"

    def fetch(user_agent: str, seconds: int) -> None:
        fetch_log.record(db, feed_id, user_agent, NOW + timedelta(seconds=seconds))

    def stored() -> dict[str, tuple[int, datetime]]:
        found = db.feed_fetches(feed_id)
        return {f.user_agent: (f.fetch_count, f.last_fetched_at) for f in found}

    for second in range(0, 50, 10):
        fetch(GOOGLE_UA, second)
    fetch(outlook, 55)
    assert writes == [(GOOGLE_UA, 1), (outlook, 1)], "each client's first fetch, at once"
    assert stored()[GOOGLE_UA] == (1, NOW)

    fetch(outlook, 70)  # Google's tally is a minute old: written now; Outlook's is not yet
    assert writes[2:] == [(GOOGLE_UA, 4)]
    assert stored()[GOOGLE_UA] == (5, NOW + timedelta(seconds=40))

    fetch(GOOGLE_UA, 200)
    assert stored() == {
        GOOGLE_UA: (6, NOW + timedelta(seconds=200)),
        outlook: (2, NOW + timedelta(seconds=70)),
    }, "every fetch counted"
    assert len(writes) == 5


def test_a_refused_fetch_write_is_kept_for_the_next(db: Store) -> None:
    feed_id = feed_of(db, FeedKind.ALL).feed_id
    real_record = db.record_feed_fetch

    def locked(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("sqlite:///bridge.db", "database is locked")

    fetch_log = FetchLog()
    db.record_feed_fetch = locked  # type: ignore[method-assign]
    fetch_log.record(db, feed_id, GOOGLE_UA, NOW)
    fetch_log.record(db, feed_id, GOOGLE_UA, NOW + timedelta(seconds=10))
    db.record_feed_fetch = real_record  # type: ignore[method-assign]
    fetch_log.record(db, feed_id, GOOGLE_UA, NOW + timedelta(seconds=60))
    assert [(f.fetch_count, f.last_fetched_at) for f in db.feed_fetches(feed_id)] == [
        (3, NOW + timedelta(seconds=60))
    ]


@pytest.fixture
def blob_reads(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The feed ids whose stored render (body and all) the app's store was asked for."""
    app_store = app_context_of(app).store
    real_get = app_store.get_feed_render
    reads: list[int] = []

    def counting_get(feed_id: int) -> FeedRender | None:
        reads.append(feed_id)
        return real_get(feed_id)

    monkeypatch.setattr(app_store, "get_feed_render", counting_get)
    return reads


def test_a_served_render_is_kept_in_memory_until_the_feed_changes(
    web: FlaskClient, db: Store, blob_reads: list[int]
) -> None:
    feed = feed_of(db, FeedKind.STAFF, 7)
    first = web.get(path_of(feed))
    assert b"Surveillance" in first.get_data()
    read_once = len(blob_reads)
    gz = {"Accept-Encoding": "gzip"}
    assert web.get(path_of(feed)).get_data() == first.get_data()
    assert gzip.decompress(web.get(path_of(feed), headers=gz).get_data()) == first.get_data()
    assert web.head(path_of(feed)).headers["ETag"] == first.headers["ETag"]
    assert len(blob_reads) == read_once, "served from this process's memory"

    db.update_feed(feed.feed_id, privacy=Privacy.BUSY)  # a new version, no event changed
    worker_pass(db)
    busy = web.get(path_of(feed))
    assert b"Surveillance" not in busy.get_data() and b"SUMMARY:Busy" in busy.get_data()
    assert busy.headers["ETag"] != first.headers["ETag"]


def test_another_process_serves_the_stored_render_without_rendering(
    web: FlaskClient,
    db: Store,
    store_url: str,
    web_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = feed_of(db, FeedKind.STAFF, 7)
    first = web.get(path_of(feed))
    monkeypatch.setattr(
        bridge.web.feed_serving, "render_small_feeds", None
    )  # any render would now fail
    # Another web process: it shares the database, not this process's memory.
    other = create_app(web_settings, store_url=store_url)
    other_store = app_context_of(other).store
    real_get = other_store.get_feed_render
    blob_reads: list[int] = []

    def counting_get(feed_id: int) -> FeedRender | None:
        blob_reads.append(feed_id)
        return real_get(feed_id)

    other_store.get_feed_render = counting_get  # type: ignore[method-assign]
    # The render's head came with the token lookup: reading it again would fail the fetch.
    other_store.feed_version = None  # type: ignore[assignment]
    other_store.stale_feeds = None  # type: ignore[assignment]
    try:
        client = other.test_client()
        revalidated = client.get(path_of(feed), headers={"If-None-Match": first.headers["ETag"]})
        again = client.get(path_of(feed))
    finally:
        other_store.close()
    assert revalidated.status_code == 304
    assert again.get_data() == first.get_data()
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]
    assert len(blob_reads) == 1, "read from the store once, then from memory"


def test_rotation_is_seen_at_once_with_the_body_in_memory(
    web: FlaskClient, db: Store, blob_reads: list[int]
) -> None:
    old = feed_of(db, FeedKind.STAFF, 7)
    assert web.get(path_of(old)).status_code == 200
    read_once = len(blob_reads)
    assert web.get(path_of(old)).status_code == 200
    assert len(blob_reads) == read_once, "the body is in this process's memory"
    new = db.rotate_feed_token(old.feed_id)  # as the admin page in another process would
    assert web.get(path_of(old)).status_code == 404
    assert web.get(path_of(new)).status_code == 200


def test_bounded_cache_drops_the_least_recently_used_past_its_size() -> None:
    cache: BoundedCache[str, bytes] = BoundedCache(max_bytes=10)
    for key in "abc":
        cache.put(key, key.encode() * 4, 4)
        cache.get("a")  # "a" stays the most recently used
    assert [cache.get(key) for key in "abc"] == [b"aaaa", None, b"cccc"]
    assert cache.size == 8
    cache.put("c", b"cc", 2)  # replaced, not added
    assert (cache.get("c"), cache.size) == (b"cc", 6)
    cache.put("big", b"x" * 11, 11)
    assert cache.get("big") is None, "larger than the whole cache: not kept"
    assert (cache.get("a"), cache.size) == (b"aaaa", 6)


def test_feed_is_served_when_the_store_refuses_writes(
    app: Flask, web: FlaskClient, db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args, **kwargs):
        raise StoreUnavailable("sqlite:///bridge.db", "database is locked")

    app_store = app_context_of(app).store
    monkeypatch.setattr(app_store, "put_feed_render", locked)
    monkeypatch.setattr(app_store, "record_feed_fetch", locked)
    response = web.get(path_of(feed_of(db, FeedKind.ALL)))
    assert response.status_code == 200, "the worker holding the write lock costs no one a feed"
    assert b"Witness interview" in response.get_data()


def test_failure_while_serving_is_a_plain_500_with_the_token_out_of_the_log(
    app: Flask,
    web: FlaskClient,
    db: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_read(*args, **kwargs):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(app_context_of(app).store, "get_feed_render", broken_read)
    feed = feed_of(db, FeedKind.ALL)
    with caplog.at_level(logging.ERROR):
        response = web.get(path_of(feed))
    assert response.status_code == 500, "never a 200 that a client could read as 'no events'"
    assert response.mimetype == "text/plain"
    assert "renderer bug" in caplog.text, "the traceback is logged"
    assert "/feeds/[token]/all.ics" in caplog.text
    assert feed.token not in caplog.text


def test_oversized_feed_is_logged_and_shown_on_the_dashboard(
    admin: FlaskClient, db: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    big, small = feed_of(db, FeedKind.ALL), feed_of(db, FeedKind.STAFF, 7)
    sizes = {feed.feed_id: len(admin.get(path_of(feed)).get_data()) for feed in (big, small)}
    assert "Every rendered feed is under" in admin.get("/").get_data(as_text=True)
    # Between the two: the feed of everything is over it, staff 7's one event is not.
    threshold = (sizes[big.feed_id] + sizes[small.feed_id]) // 2
    monkeypatch.setattr(bridge.feed_engine, "FEED_SIZE_WARNING_BYTES", threshold)
    monkeypatch.setattr(bridge.web.admin, "FEED_SIZE_WARNING_BYTES", threshold)
    db.update_feed(big.feed_id, name="Everything")  # a new version: rendered again, and warned
    with caplog.at_level(logging.WARNING, logger="bridge.feed_engine"):
        worker_pass(db)
    assert f"feed {big.feed_id} (all) is" in caplog.text
    assert big.token not in caplog.text
    page = admin.get("/").get_data(as_text=True)
    assert "Google Calendar silently drops events" in page
    assert f'href="/admin/feeds/{big.feed_id}">Everything</a>' in page
    assert f'href="/admin/feeds/{small.feed_id}"' not in page, "under the threshold: not listed"


def test_feed_urls_stay_well_under_256_characters(app: Flask, db: Store) -> None:
    db.upsert_staff([Staff(987654321, "Maximilian", "Featherstonehaugh-Worthington")])
    db.ensure_feeds(Privacy.LIMITED)
    public_url = "https://calendar-bridge.northwestern-investigative-services.example.com"
    for feed in db.list_feeds():
        url = feed_url(public_url, feed)
        assert len(url) < 200, url.replace(feed.token, "[token]")
        # The Google link carries it percent-encoded; the URL itself is what Google's field holds.
    with app.test_request_context():
        from flask import url_for

        feed = db.list_feeds()[0]
        built = url_for("feeds.serve_feed", token=feed.token, name=feed.slug)
    assert built == feed_path(feed), "the route and the URL builder agree"


def test_werkzeug_request_log_shows_no_feed_token(
    app: Flask, db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    feed = feed_of(db, FeedKind.ALL)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            response = httpx.get(f"http://127.0.0.1:{server.server_port}{path_of(feed)}")
            server.shutdown()  # returns once the request, and its log line, are done
    finally:
        thread.join()
        server.server_close()
    assert response.status_code == 200
    assert "/feeds/[token]/all.ics" in caplog.text
    assert feed.token not in caplog.text
