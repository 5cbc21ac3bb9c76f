"""The feed engine: the worker renders and stores feeds after its pass; subscribers get bytes.

Over real HTTP (the sandbox for the worker, the web app on a free port for the subscriber) a
change in Trackops reaches a fetch only through the worker's stored render: the web app's one
render path is made to fail. Then: blocks are reused (one changed event costs one block), the
assembled feed is what the pure renderer gives for the same events, a failing render keeps the
last good one, a render that shows more than the feed now allows is never served, and a web
process renders only small feeds that were never rendered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flask import Flask
from sqlalchemy import inspect
from werkzeug.serving import make_server

import bridge.feed_engine
import bridge.web.feed_serving
import bridge.web.feed_urls
from bridge.config import Settings
from bridge.feed_engine import FeedEngine, RenderOptions, render_options
from bridge.feeds import BlockWriter, render_feed
from bridge.models import Event, Feed, FeedKind, Privacy
from bridge.store import Store, open_store
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from bridge.sync import Syncer, SyncOptions
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_url
from bridge.worker import Worker
from tests.support.sandbox import make_client
from tests.support.web import make_settings
from trackops_sandbox.server import SandboxServer

NOW = datetime.now(UTC).replace(microsecond=0)


def settings_for(url: str) -> Settings:
    return make_settings(database_url=url, feed_past_days=30, default_timezone="America/Chicago")


def event(event_id: int, calendar_id: int = 1, **changes: object) -> Event:
    start = (NOW + timedelta(days=1 + event_id % 20)).replace(hour=9 + event_id % 8, minute=0)
    fields: dict[str, object] = {
        "event_id": event_id,
        "title": f"Visit {event_id}",
        "start_at": start,
        "end_at": start + timedelta(hours=1),
        "calendar_id": calendar_id,
        "timezone": ("America/New_York", "Australia/Adelaide", None)[event_id % 3],
        "body": f"Notes {event_id}",
        "updated_at": NOW - timedelta(days=1),
        **changes,
    }
    return Event(**fields)  # type: ignore[arg-type]


def feed_of(db: Store, kind: FeedKind, target_id: int | None = None) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is kind and f.target_id == target_id)


@pytest.fixture
def refuse_web_renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The web app's one render path fails the fetch (and says so) from now on."""
    tried: list[str] = []

    def refuse(*args: object, **kwargs: object) -> bool:
        tried.append("render")
        raise AssertionError("a subscriber's request rendered a feed")

    monkeypatch.setattr(bridge.web.feed_serving, "render_small_feeds", refuse)
    return tried


class ServedApp:
    """The web app over real HTTP on a free port, in a thread."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


# ----------------------------------------------------------------------------- the whole path


def test_the_worker_stores_the_new_render_before_the_next_fetch(
    sandbox: SandboxServer, tmp_path: Path, refuse_web_renders: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    settings = settings_for(url)
    with open_store(url) as store:
        store.migrate()
        with make_client(sandbox, sleep=lambda seconds: None) as client:
            options = SyncOptions(feed_past_days=30, default_privacy=Privacy.FULL)
            worker = Worker(
                Syncer(client, store, options),
                store,
                poll_interval=60.0,
                feeds=FeedEngine(store, render_options(settings)),
            )
            worker.run_once()  # the first sync, and every feed rendered after it
            app = create_app(settings, store_url=url)
            served = ServedApp(app)
            try:
                feed = feed_of(store, FeedKind.ALL)
                with httpx.Client(timeout=10) as subscriber:
                    before = subscriber.get(feed_url(served.base_url, feed))
                    assert before.status_code == 200 and b"BEGIN:VEVENT" in before.content

                    some = next(
                        item for item in store.feed_events(feed, NOW) if item.event.timezone
                    )
                    sandbox.control.patch_event(some.event.event_id, title="Moved to noon")
                    worker.run_once()  # poll, then render what it changed

                    after = subscriber.get(
                        feed_url(served.base_url, feed),
                        headers={"If-None-Match": before.headers["ETag"]},
                    )
            finally:
                served.close()
                app_context_of(app).store.close()
            stored = store.get_feed_render(feed.feed_id)
            assert after.status_code == 200, "the held ETag no longer matches"
            assert b"SUMMARY:Moved to noon" in after.content
            assert after.content == stored.body  # httpx asked for gzip and decoded it
            assert after.headers["ETag"] == stored.etag[:-1] + '-gzip"'
            assert stored.version == store.feed_version(feed.feed_id)
    assert refuse_web_renders == [], "no subscriber request rendered"


# ----------------------------------------------------------------------------- the engine


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    with open_store(url) as store:
        store.migrate()
        store.apply_event_changes([event(n, calendar_id=1 + n % 2) for n in range(1, 41)], [], NOW)
        store.ensure_feeds(Privacy.FULL)
        yield store


OPTIONS = RenderOptions("acme", "America/Chicago", 30, timedelta(minutes=15))


def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    written: list[int] = []
    real_write = BlockWriter.write

    def counting(self: BlockWriter, item, zone):  # type: ignore[no-untyped-def]
        written.append(item.event.event_id)
        return real_write(self, item, zone)

    monkeypatch.setattr(BlockWriter, "write", counting)
    return written


def test_one_changed_event_costs_one_block_and_gives_what_the_pure_renderer_gives(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FeedEngine(db, OPTIONS, clock=lambda: NOW)
    written = count_writes(monkeypatch)
    first = engine.render_stale()
    assert len(first.rendered) == 3  # all, and the two calendars
    assert sorted(written) == list(range(1, 41)), "calendar feeds reuse the blocks of 'all'"

    written.clear()
    db.apply_event_changes([event(7, calendar_id=2, title="Changed")], [], NOW)
    second = engine.render_stale()
    assert {feed.slug for feed, _ in second.rendered} == {"all", "calendar-2"}
    assert written == [7], "one event written again, once for both feeds"

    for feed in db.list_feeds():
        items = db.feed_events(feed, OPTIONS.window_start(NOW))
        expected = render_feed(
            items,
            feed,
            account=OPTIONS.account,
            default_timezone=OPTIONS.default_timezone,
            refresh_interval=OPTIONS.refresh_interval,
            generated_at=NOW,
        )
        assert db.get_feed_render(feed.feed_id).body == expected, feed.slug


def test_a_zone_or_label_change_writes_the_blocks_it_touches(
    db: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FeedEngine(db, OPTIONS, clock=lambda: NOW)
    engine.render_stale()
    written = count_writes(monkeypatch)
    db.set_calendar_timezone(1, "Asia/Tokyo")  # zone-less events of calendar 1 move
    engine.render_stale()
    # Calendar 1's events are written again (those with a zone of their own the same as
    # before: a block is keyed by its calendar's zone, not by what each event makes of it).
    assert set(written) == {n for n in range(1, 41) if n % 2 == 0}
    all_feed = db.get_feed_render(feed_of(db, FeedKind.ALL).feed_id)
    assert b"DTSTART;TZID=Asia/Tokyo" in all_feed.body


def test_a_failing_render_keeps_the_last_good_one(
    db: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FeedEngine(db, OPTIONS, clock=lambda: NOW)
    engine.render_stale()
    feed = feed_of(db, FeedKind.ALL)
    good = db.get_feed_render(feed.feed_id)

    def broken(self: BlockWriter, item, zone):  # type: ignore[no-untyped-def]
        raise RuntimeError("writer bug")

    monkeypatch.setattr(BlockWriter, "write", broken)
    db.apply_event_changes([event(3, calendar_id=2, title="Odd")], [], NOW)
    with caplog.at_level(logging.ERROR, logger="bridge.feed_engine"):
        result = engine.render_stale()
    assert {f.slug for f in result.failed} == {"all", "calendar-2"}
    assert "writer bug" in caplog.text
    assert db.get_feed_render(feed.feed_id) == good, "nothing partial replaced it"
    assert feed.feed_id in {s.feed.feed_id for s in db.stale_feeds(OPTIONS.window_key(NOW))}


def test_events_that_leave_the_feed_leave_its_render(db: Store) -> None:
    engine = FeedEngine(db, OPTIONS, clock=lambda: NOW)
    engine.render_stale()
    db.apply_event_changes([], [5, 6], NOW)
    engine.render_stale()
    body = db.get_feed_render(feed_of(db, FeedKind.ALL).feed_id).body
    assert b"X-TRACKOPS-EVENT-ID:5\r\n" not in body and b"X-TRACKOPS-EVENT-ID:6\r\n" not in body
    assert body.count(b"BEGIN:VEVENT") == 38


# ----------------------------------------------------------------------------- the web's part


@pytest.fixture
def served_store(db: Store, tmp_path: Path) -> Iterator[tuple[Flask, Store]]:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'engine.db'}"))
    yield app, db
    app_context_of(app).store.close()


def test_a_render_showing_more_than_the_feed_now_allows_is_never_served(
    served_store: tuple[Flask, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db = served_store
    FeedEngine(db, OPTIONS, clock=lambda: NOW).render_stale()
    feed = feed_of(db, FeedKind.ALL)
    web = app.test_client()
    assert b"SUMMARY:Visit 1\r\n" in web.get(bridge.web.feed_urls.feed_path(feed)).data
    db.update_feed(feed.feed_id, privacy=Privacy.BUSY)  # as from another process

    monkeypatch.setattr(bridge.feed_engine, "LAST_RESORT_EVENTS", 10)  # too big to render here
    waiting = web.get(bridge.web.feed_urls.feed_path(feed))
    assert waiting.status_code == 503 and int(waiting.headers["Retry-After"]) > 0
    assert b"Visit" not in waiting.data and waiting.headers["Cache-Control"] == "private, no-cache"

    monkeypatch.setattr(bridge.feed_engine, "LAST_RESORT_EVENTS", 10_000)  # small enough
    busy = web.get(bridge.web.feed_urls.feed_path(feed))
    assert busy.status_code == 200
    assert b"SUMMARY:Busy" in busy.data and b"Visit" not in busy.data


def test_a_web_process_renders_only_a_small_feed_never_rendered(
    served_store: tuple[Flask, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db = served_store
    web = app.test_client()
    calendar = feed_of(db, FeedKind.CALENDAR, 1)
    monkeypatch.setattr(bridge.feed_engine, "LAST_RESORT_EVENTS", 20)  # calendar 1 holds 20
    first = web.get(bridge.web.feed_urls.feed_path(calendar))
    assert first.status_code == 200 and first.data.count(b"BEGIN:VEVENT") == 20
    assert db.get_feed_render(calendar.feed_id).body == first.data, "stored for every process"
    everything = web.get(bridge.web.feed_urls.feed_path(feed_of(db, FeedKind.ALL)))
    assert everything.status_code == 503, "40 events: left to the worker"
    assert db.get_feed_render(feed_of(db, FeedKind.ALL).feed_id) is None


def test_a_304_carries_no_header_meant_for_pages(served_store: tuple[Flask, Store]) -> None:
    app, db = served_store
    FeedEngine(db, OPTIONS, clock=lambda: NOW).render_stale()
    path = bridge.web.feed_urls.feed_path(feed_of(db, FeedKind.ALL))
    web = app.test_client()
    etag = web.get(path).headers["ETag"]
    not_modified = web.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    for name in ("Content-Type", "Content-Security-Policy", "X-Frame-Options"):
        assert name not in not_modified.headers, name
    assert not_modified.headers["Cache-Control"] == "private, no-cache"
    assert not_modified.headers["ETag"] == etag


def test_every_process_sees_a_new_render_and_a_rotated_token_at_once(
    db: Store, tmp_path: Path
) -> None:
    FeedEngine(db, OPTIONS, clock=lambda: NOW).render_stale()
    feed = feed_of(db, FeedKind.ALL)
    with open_store(f"sqlite:///{tmp_path / 'engine.db'}") as web_store:
        head = web_store.find_feed_head(feed.token)
        assert head is not None and head.render_etag == db.get_feed_render(feed.feed_id).etag
        db.apply_event_changes([event(2, calendar_id=1, title="Again")], [], NOW)
        FeedEngine(db, OPTIONS, clock=lambda: NOW).render_stale()
        newer = web_store.find_feed_head(feed.token)
        assert newer is not None and newer.render_etag != head.render_etag
        rotated = db.rotate_feed_token(feed.feed_id)
        assert web_store.find_feed_head(feed.token) is None
        assert web_store.find_feed_head(rotated.token) is not None
        assert web_store.find_feed_head("x" * 32) is None and web_store.find_feed_head("é") is None


# ----------------------------------------------------------------------------- migration 8


def test_migration_8_keeps_renders_and_marks_the_privacy_of_older_ones_unknown(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with open_store(url) as store:
        engine = store._engine
        apply_migrations(
            lambda: transaction(engine, write=True), [m for m in MIGRATIONS if m.version < 8]
        )
        store.apply_event_changes([event(1)], [], NOW)
        store.ensure_feeds(Privacy.LIMITED)
        feeds = store.list_feeds()
        with transaction(engine, write=True) as conn:
            for feed in feeds:  # renders as schema 7 kept them; the calendar's one is behind
                behind = 1 if feed.kind is FeedKind.CALENDAR else 0
                conn.exec_driver_sql(
                    "INSERT INTO feed_renders (feed_id, version, window_key, body, etag,"
                    " rendered_at) VALUES (?, ?, 'w', ?, ?, ?)",
                    (feed.feed_id, 1 - behind, b"BODY", f'"{feed.feed_id}"', "2029-01-01"),
                )
        assert 8 in store.migrate()
        store.require_current_schema()
        for feed in feeds:
            render = store.get_feed_render(feed.feed_id)
            assert render is not None and render.body == b"BODY"
            expected = None if feed.kind is FeedKind.CALENDAR else Privacy.LIMITED
            assert render.privacy == expected, feed.slug
        assert store.list_feeds() == feeds
        assert "ix_events_feed_rows" in {i["name"] for i in inspect(engine).get_indexes("events")}
        all_feed = next(f for f in feeds if f.kind is FeedKind.ALL)
        assert [row[0] for row in store.feed_rows(all_feed, NOW - timedelta(days=1))] == [1]
