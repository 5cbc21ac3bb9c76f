"""The web app over a real SQLite file: feed serving, caching, the admin login, and the pages."""

from __future__ import annotations

import gzip
import logging
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

import bridge.feed_engine
import bridge.web.admin
import bridge.web.feed_serving
import bridge.web.fetch_log
from bridge.config import ConfigError, Settings
from bridge.errors import BridgeError
from bridge.feed_engine import FeedEngine, PassResult, render_options
from bridge.models import Address, Event, Feed, FeedKind, Privacy, Staff
from bridge.store import FeedRender, SchemaOutOfDate, Store, StoreUnavailable, SyncState, open_store
from bridge.web import app_context_of, create_app, create_app_from_env
from bridge.web.auth import is_local_path
from bridge.web.clients import client_family
from bridge.web.feed_urls import feed_path, feed_url
from bridge.web.fetch_log import FetchLog
from bridge.web.render_cache import BoundedCache
from tests.support.web import (
    PASSWORD,
    PUBLIC_URL,
    SECRET_KEY,
    admin_routes,
    csrf_token,
    log_in,
    make_settings,
    sample_url,
)

GOOGLE_UA = "Google-Calendar-Importer"
NOW = datetime.now(UTC).replace(microsecond=0)
UPDATED = NOW - timedelta(days=3)


def surveillance(event_id: int = 101, title: str = "Surveillance, Main St; day 1") -> Event:
    start = (NOW + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    return Event(
        event_id=event_id,
        title=title,
        start_at=start,
        end_at=start + timedelta(hours=2),
        calendar_id=3,
        staff_ids=(7,),
        timezone="America/Chicago",
        address=Address(address_1="12 Main St", city="Springfield", state="IL"),
        created_at=UPDATED,
        updated_at=UPDATED,
    )


def interview() -> Event:
    start = (NOW + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    return Event(
        event_id=202,
        title="Witness interview",
        start_at=start,
        end_at=start + timedelta(hours=1),
        calendar_id=4,
        staff_ids=(8,),
        timezone="Europe/London",
        updated_at=UPDATED,
    )


@pytest.fixture
def store_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
        filling.upsert_staff([Staff(7, "Ann", "Lee"), Staff(8, "Bo", "Chen")])
        filling.apply_event_changes([surveillance(), interview()], [], UPDATED)
        filling.ensure_feeds(Privacy.FULL)
        worker_pass(filling)
    return url


def worker_pass(db: Store, clock: datetime | None = None) -> PassResult:
    """What the worker does after each pass: render every feed the pass changed, and store it."""
    engine = FeedEngine(db, render_options(make_settings(feed_past_days=30)))
    # The data is built around NOW: rendering by the real clock would put a first render on
    # another day than NOW's when the suite runs across midnight.
    engine.clock = lambda: clock or NOW
    return engine.render_stale()


@pytest.fixture
def no_web_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any render by the web app (its one render path) now fails the fetch."""

    def refuse(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a subscriber's request rendered a feed")

    monkeypatch.setattr(bridge.web.feed_serving, "render_small_feeds", refuse)


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(feed_past_days=30)


def feed_of(db: Store, kind: FeedKind, target_id: int | None = None) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is kind and f.target_id == target_id)


def path_of(feed: Feed) -> str:
    return feed_path(feed)


# -- serving feeds -------------------------------------------------------------------------


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
    thread = threading.Thread(target=server.serve_forever)
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


# -- login ---------------------------------------------------------------------------------


# The stylesheet and favicon are public: the login page needs them.
def test_every_admin_route_needs_a_login(app: Flask, web: FlaskClient) -> None:
    routes = admin_routes(app)
    assert {("GET", "/"), ("POST", "/logout"), ("GET", "/admin/calendars")} <= set(routes)
    for method, url in routes:
        response = web.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, url
            assert urlsplit(response.headers["Location"]).path == "/login", url
        else:
            assert response.status_code == 401, (method, url)


def test_every_form_post_needs_the_csrf_token(app: Flask, admin: FlaskClient, db: Store) -> None:
    posts = [
        url
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        for url in [sample_url(app, rule)]
    ]
    assert "/login" in posts and "/logout" in posts and len(posts) >= 5
    before = [(f.token, f.name, f.privacy) for f in db.list_feeds()]
    for url in posts:
        response = admin.post(
            url, data={"confirm": "yes", "name": "Changed", "privacy": "busy", "password": "x"}
        )
        assert response.status_code == 400, url
        assert "security token" in response.get_data(as_text=True)
    assert [(f.token, f.name, f.privacy) for f in db.list_feeds()] == before
    assert admin.get("/").status_code == 200, "logout without a token did not log out"


def test_wrong_password_is_refused(web: FlaskClient) -> None:
    response = log_in(web, "not the password")
    assert response.status_code == 401
    assert "Wrong password." in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_login_throttle_after_five_failures(web: FlaskClient, app: Flask) -> None:
    for _ in range(5):
        assert log_in(web, "guess").status_code == 401
    locked = log_in(web, PASSWORD)
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.get_data(as_text=True)
    assert locked.headers["Retry-After"] == "900"
    assert web.get("/").status_code == 302, "the right password did not get through"

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert log_in(elsewhere, PASSWORD).status_code == 302, "other addresses are not locked out"


def test_success_clears_earlier_failures(web: FlaskClient) -> None:
    for _ in range(4):
        log_in(web, "guess")
    assert log_in(web).status_code == 302
    web.post("/logout", data={"csrf_token": csrf_token(web)})
    for _ in range(4):
        log_in(web, "guess")
    assert log_in(web).status_code == 302, "the count started again after the success"


def test_login_page_sends_a_logged_in_admin_on(admin: FlaskClient) -> None:
    assert admin.get("/login").headers["Location"] == "/"
    assert admin.get("/login?next=/admin/feeds").headers["Location"] == "/admin/feeds"


def test_logout(admin: FlaskClient) -> None:
    assert admin.get("/").status_code == 200
    response = admin.post("/logout", data={"csrf_token": csrf_token(admin)})
    assert response.status_code == 302
    assert admin.get("/").status_code == 302


def test_login_follows_next_only_to_local_paths(web: FlaskClient) -> None:
    assert web.get("/admin/calendars").headers["Location"] == "/login?next=/admin/calendars"
    assert log_in(web, next="/admin/calendars").headers["Location"] == "/admin/calendars"
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        web.post("/logout", data={"csrf_token": csrf_token(web)})
        assert log_in(web, next=target).headers["Location"] == "/", target


@pytest.mark.parametrize(
    ("target", "is_local"),
    [
        ("/admin/feeds/3", True),
        ("/?a=b", True),
        ("https://evil.example/", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("/\t/evil.example", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_is_local_path(target: str, is_local: bool) -> None:
    assert is_local_path(target) is is_local


def test_session_cookie_flags(web: FlaskClient, store_url: str) -> None:
    log_in(web)
    cookie = web.get_cookie("bridge_session")
    assert cookie is not None
    assert cookie.http_only and cookie.secure and cookie.same_site == "Lax"
    local = create_app(make_settings(public_url="http://127.0.0.1:8000"), store_url=store_url)
    try:
        local_client = local.test_client()
        log_in(local_client)
        assert local_client.get_cookie("bridge_session").secure is False
    finally:
        app_context_of(local).store.close()


def test_changing_the_password_ends_sessions(admin: FlaskClient, store_url: str) -> None:
    cookie = admin.get_cookie("bridge_session")
    renewed = create_app(make_settings(admin_password="a new password"), store_url=store_url)
    try:
        other = renewed.test_client()
        other.set_cookie("bridge_session", cookie.value, domain="localhost")
        assert other.get("/").status_code == 302
    finally:
        app_context_of(renewed).store.close()


def test_secrets_never_reach_the_log(
    web: FlaskClient, db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        log_in(web, "wrong password attempt")
        log_in(web)
        for feed in db.list_feeds():
            web.get(path_of(feed), headers={"User-Agent": GOOGLE_UA})
            web.get(f"/admin/feeds/{feed.feed_id}")
    for secret in [PASSWORD, SECRET_KEY, *(f.token for f in db.list_feeds())]:
        assert secret not in caplog.text


def test_pages_and_feeds_carry_the_security_headers(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    for url in ("/", "/admin/feeds", "/no/such/page"):
        response = admin.get(url)
        policy = response.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'none'",
            "script-src 'none'",  # no script on these pages: none may run
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ):
            assert directive in policy, (url, directive)
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == "same-origin", url

    nonces = []
    for _ in range(2):
        page = admin.get(f"/admin/feeds/{feed.feed_id}")
        found = re.search(r"script-src 'nonce-([^']+)';", page.headers["Content-Security-Policy"])
        assert found, "the copy button's script runs by its nonce"
        assert f'<script nonce="{found.group(1)}">' in page.get_data(as_text=True)
        assert "<script>" not in page.get_data(as_text=True)
        nonces.append(found.group(1))
    assert nonces[0] != nonces[1], "a fresh nonce per response"

    assert admin.get(path_of(feed)).headers["X-Content-Type-Options"] == "nosniff"


# -- admin pages ---------------------------------------------------------------------------


def test_feed_token_appears_only_on_its_own_page(admin: FlaskClient, db: Store) -> None:
    feeds = db.list_feeds()
    shared_pages = {url: admin.get(url).get_data(as_text=True) for url in ("/", "/admin/feeds")}
    shared_pages["/admin/calendars"] = admin.get("/admin/calendars").get_data(as_text=True)
    for url, page in shared_pages.items():
        assert all(f.token not in page for f in feeds), url
    feeds_page = shared_pages["/admin/feeds"]
    for feed in feeds:
        assert f'href="/admin/feeds/{feed.feed_id}"' in feeds_page
        page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
        assert feed.token in page
        assert all(other.token not in page for other in feeds if other != feed)


def test_feed_page_has_subscribe_links_and_refresh_delays(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    url = f"{PUBLIC_URL}/feeds/{feed.token}/calendar-3.ics"
    webcal = "webcal://" + url.removeprefix("https://")
    assert url in page
    assert f"https://calendar.google.com/calendar/r?cid={quote(webcal, safe='')}" in page
    assert f"https://outlook.live.com/calendar/0/addfromweb?url={quote(url, safe='')}" in page
    assert f"https://outlook.office.com/calendar/0/addfromweb?url={quote(url, safe='')}" in page
    assert f'href="{webcal}"' in page
    assert "ignores the feed&#39;s refresh hint" in page or "ignores the feed's refresh" in page
    assert 'id="copy-url"' in page
    assert "No calendar client has fetched this feed yet." in page


def test_feed_page_says_who_fetched_it(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    db.record_feed_fetch(feed.feed_id, NOW - timedelta(hours=9, minutes=5), GOOGLE_UA)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    assert "Google Calendar last fetched this 9 h ago" in page


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        ("Google-Calendar-Importer", "Google Calendar"),
        ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)", "Outlook"),
        ("Microsoft.Exchange/15.20 (Windows NT 10.0; Win64; x64)", "Outlook"),
        ("macOS/14.4 (23E214) CalendarAgent/988", "Apple Calendar"),
        ("iOS/17.4 (21E219) dataaccessd/1.0", "Apple Calendar"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "A client without a User-Agent"),
    ],
)
def test_client_family(user_agent: str, family: str) -> None:
    assert client_family(user_agent) == family


def test_feed_settings_change_what_the_feed_shows(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    response = admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Surveillance team",
            "privacy": "busy",
            "timezone": "America/Denver",
        },
    )
    assert response.status_code == 302
    changed = db.get_feed(feed.feed_id)
    assert (changed.name, changed.privacy, changed.timezone) == (
        "Surveillance team",
        Privacy.BUSY,
        "America/Denver",
    )
    body = admin.get(path_of(changed)).get_data(as_text=True)
    assert "SUMMARY:Busy" in body and "Surveillance, Main" not in body
    assert "X-WR-CALNAME:Surveillance team" in body


def test_saving_the_shown_name_does_not_pin_it(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={"csrf_token": csrf_token(admin), "name": feed.name, "privacy": "limited"},
    )
    db.rename_calendar(3, "Field work")
    assert db.get_feed(feed.feed_id).name == "Field work", "the feed still follows its calendar"


def test_bad_time_zone_is_explained_and_the_input_kept(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    response = admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Kept name",
            "privacy": "full",
            "timezone": "America/Chicgo",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Unknown time zone &#39;America/Chicgo&#39;" in page
    assert 'value="America/Chicgo"' in page and 'value="Kept name"' in page
    assert db.get_feed(feed.feed_id) == feed, "nothing was saved"


def test_rotating_needs_confirmation_and_breaks_the_old_url(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.STAFF, 8)
    rotate = f"/admin/feeds/{feed.feed_id}/rotate"
    unconfirmed = admin.post(rotate, data={"csrf_token": csrf_token(admin)})
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert db.get_feed(feed.feed_id).token == feed.token

    done = admin.post(rotate, data={"csrf_token": csrf_token(admin), "confirm": "yes"})
    assert done.status_code == 302
    rotated = db.get_feed(feed.feed_id)
    assert rotated.token != feed.token
    assert admin.get(path_of(feed)).status_code == 404
    assert admin.get(path_of(rotated)).status_code == 200
    assert rotated.token in admin.get(done.headers["Location"]).get_data(as_text=True)


def test_calendars_can_be_renamed_and_given_a_zone(admin: FlaskClient, db: Store) -> None:
    response = admin.post(
        "/admin/calendars/3",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Surveillance",
            "timezone": "America/Chicago",
        },
    )
    assert response.status_code == 302
    assert db.get_calendar(3).name == "Surveillance"
    assert db.get_calendar(3).timezone == "America/Chicago"
    assert feed_of(db, FeedKind.CALENDAR, 3).name == "Surveillance"
    assert "Surveillance" in admin.get("/admin/calendars").get_data(as_text=True)


def test_calendar_form_keeps_a_bad_zone_with_the_message(admin: FlaskClient, db: Store) -> None:
    response = admin.post(
        "/admin/calendars/4",
        data={"csrf_token": csrf_token(admin), "name": "Interviews", "timezone": "Mars/Olympus"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Unknown time zone" in page and 'value="Mars/Olympus"' in page
    assert db.get_calendar(4).name == "Calendar 4"


def test_unknown_calendar_or_feed_is_a_friendly_404(admin: FlaskClient) -> None:
    for response in (
        admin.get("/admin/feeds/999"),
        admin.post("/admin/calendars/999", data={"csrf_token": csrf_token(admin), "name": "x"}),
        admin.get("/no/such/page"),
    ):
        assert response.status_code == 404
        assert "Not found" in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)


def test_dashboard_shows_sync_health(admin: FlaskClient, db: Store) -> None:
    now = datetime.now(UTC)  # not the module's NOW: "5 min ago" is relative to the request
    db.put_sync_state(
        SyncState(
            last_success_at=now - timedelta(minutes=5, seconds=10),
            last_attempt_at=now - timedelta(minutes=1),
            last_error="Trackops answered 503",
            last_error_at=now - timedelta(minutes=1),
            heartbeat_at=now - timedelta(hours=2),
            requests_total=1234,
            rate_limited_total=3,
        )
    )
    page = admin.get("/").get_data(as_text=True)
    assert "5 min ago" in page
    assert "stale" in page, "a 2-hour-old heartbeat with a 60 s poll interval"
    assert "Trackops answered 503" in page
    assert "1234" in page and "3 answered" in page
    assert re.search(r"\b2 <span class=\"muted\">\(0 deleted in Trackops\)", page)

    db.put_sync_state(SyncState(heartbeat_at=datetime.now(UTC)))
    assert "stale" not in admin.get("/").get_data(as_text=True)


def test_bridge_errors_become_a_page_with_advice(app: Flask, store_url: str) -> None:
    def failing_view() -> str:
        raise BridgeError("Trackops refused the change", advice="check the case number")

    app.add_url_rule("/boom", "boom", failing_view)
    web = app.test_client()
    log_in(web)
    response = web.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Trackops refused the change" in page and "check the case number" in page
    assert "Traceback" not in page


# -- start-up ------------------------------------------------------------------------------


def test_unsafe_admin_settings_stop_start_up(store_url: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ADMIN_PASSWORD"):
        create_app(make_settings(admin_password="short"), store_url=store_url)
    with pytest.raises(ConfigError, match="BRIDGE_SECRET_KEY"):
        create_app(make_settings(secret_key="too short"), store_url=store_url)


def test_an_unmigrated_database_stops_start_up(tmp_path) -> None:
    with pytest.raises(SchemaOutOfDate, match="trackops-bridge migrate"):
        create_app(make_settings(), store_url=f"sqlite:///{tmp_path / 'empty.db'}")


def test_gunicorn_factory_reports_a_bad_setting_in_one_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gunicorn.errors import AppImportError

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BRIDGE_ADMIN_PASSWORD", "short")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", SECRET_KEY)
    with pytest.raises(AppImportError) as raised:
        create_app_from_env()
    assert str(raised.value).startswith("BRIDGE_ADMIN_PASSWORD: not set or shorter than 8")
    assert "\n" not in str(raised.value)
