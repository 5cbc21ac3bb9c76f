"""One malformed Trackops record never takes feeds or the sync down (issue 8, items 2 and 3).

Malformed events go into the sandbox beside good ones over its harness (no validation); a sync
over real HTTP writes to SQLite and PostgreSQL; every feed answers 200, the bad events are kept
(shown as if zone-less, text cleaned) or skipped, and `status` and the dashboard name each one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.models import Privacy
from bridge.store import Store
from bridge.sync import Syncer, SyncOptions
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path
from tests.support.sandbox import make_client
from tests.support.store import BACKENDS
from tests.support.web import log_in, make_settings
from trackops_sandbox.server import SandboxServer

# The store contract's backends (a fresh database per test, on PostgreSQL a schema of its own
# in a session zone west of UTC) and its migrated store.


@pytest.fixture
def store(empty_store: Store) -> Store:
    """The contract's database (conftest's `database_url` over BACKENDS), migrated."""
    empty_store.migrate()
    return empty_store


OPTIONS = SyncOptions(default_privacy=Privacy.FULL)
# The sandbox writes JSON as UTF-8 and cannot encode a lone surrogate; Trackops (PHP's
# json_encode) sends one as the escape "\ud800". The marker is swapped for that escape on the
# way out, so the bridge reads exactly what Trackops would send.
SURROGATE_MARKER = "LONE-SURROGATE-HERE"
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class EscapeSurrogates:
    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        captured: list[Any] = []
        result = self.app(
            environ, lambda status, headers, *rest: captured.extend([status, headers])
        )
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        body = body.replace(SURROGATE_MARKER.encode(), b"\\ud800")
        status, headers = captured
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture
def trackops(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    monkeypatch.setattr(sandbox.app, "wsgi_app", EscapeSurrogates(sandbox.app.wsgi_app))
    return sandbox


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S")


def malformed_events(sandbox: SandboxServer) -> dict[str, int]:
    """Each malformed event of the issue, with a good one beside it; their ids by name."""
    common = {"calendar_id": 2, "users_list": [101], "start_at": at(24), "end_at": at(25)}
    wanted: dict[str, dict[str, Any]] = {
        "good": {"title": "Good: surveillance", "timezone": "America/Chicago"},
        "zone US": {"title": "Zone US", "timezone": "US"},  # IsADirectoryError
        "zone Europe": {"title": "Zone Europe", "timezone": "Europe"},
        "zone too long": {"title": "Zone too long", "timezone": "z" * 300},  # OSError
        "year 9999": {  # OverflowError east of UTC
            "title": "Far future",
            "timezone": "Asia/Tokyo",
            "start_at": "9999-12-31 20:00:00",
            "end_at": "9999-12-31 21:00:00",
        },
        "NUL": {"title": "Hearing\x00 prep", "body": "Client notes\x00 private"},  # PostgreSQL
        "surrogate": {"title": f"Interview {SURROGATE_MARKER}"},  # content_hash
    }
    created = sandbox.control.create_events([{**common, **fields} for fields in wanted.values()])
    return {name: record["id"] for name, record in zip(wanted, created, strict=True)}


@pytest.fixture
def web_client(database_url: str) -> Iterator[Any]:
    app = create_app(make_settings(), store_url=database_url)
    yield app.test_client()
    app_context_of(app).store.close()


def status_output(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no .env from the repo
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    return result.output


def uids(body: bytes) -> set[str]:
    return {str(e["uid"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_malformed_events_neither_stop_the_sync_nor_take_a_feed_down(
    trackops: SandboxServer,
    store: Store,
    database_url: str,
    web_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = malformed_events(trackops)
    with make_client(trackops, sleep=lambda seconds: None) as client:
        result = Syncer(client, store, OPTIONS).poll()
    assert result.skipped == 1  # the year-9999 event has no local time east of UTC
    assert result.kept_changed == 5
    assert store.get_sync_state().last_error is None

    kept = {name: store.get_event(i) for name, i in ids.items() if name != "year 9999"}
    assert all(kept.values())
    assert store.get_event(ids["year 9999"]) is None
    assert kept["good"].timezone == "America/Chicago"
    assert [kept[n].timezone for n in ("zone US", "zone Europe", "zone too long")] == [None] * 3
    assert (kept["NUL"].title, kept["NUL"].body) == ("Hearing prep", "Client notes private")
    assert kept["surrogate"].title == "Interview \ufffd"

    feeds = store.list_feeds()
    assert {f.kind.value for f in feeds} == {"all", "calendar", "staff"}
    for feed in feeds:
        response = web_client.get(feed_path(feed))
        assert response.status_code == 200, feed.slug
        shown = uids(response.data)
        if feed.kind.value == "all" or feed.target_id in (2, 101):
            assert all(any(f"-event-{i}@" in uid for uid in shown) for i in ids_of(kept))

    assert log_in(web_client).status_code == 302
    dashboard = web_client.get("/").get_data(as_text=True)
    status = status_output(database_url, tmp_path, monkeypatch)
    for page in (dashboard, status):
        assert f"event {ids['year 9999']} (&#39;Far future&#39;)" in page.replace("'", "&#39;")
        assert "start_at" in page and "too far in the future" in page
        for name in ("zone US", "zone Europe", "zone too long", "NUL", "surrogate"):
            assert f"event {ids[name]} " in page, name
        assert "&#39;US&#39; is not a time zone" in page.replace("'", "&#39;")
        assert f"event {ids['good']} " not in page
    assert "Skipped records:      1" in status and "Kept with changes:    5" in status


def ids_of(events: dict[str, Any]) -> list[int]:
    return [event.event_id for event in events.values()]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_record_fixed_in_trackops_loses_its_problem(
    trackops: SandboxServer,
    store: Store,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = malformed_events(trackops)
    with make_client(trackops, sleep=lambda seconds: None) as client:
        syncer = Syncer(client, store, OPTIONS)
        syncer.poll()
        trackops.control.patch_event(ids["year 9999"], start_at=at(48), end_at=at(49))
        trackops.control.patch_event(ids["zone US"], timezone="America/Denver")
        trackops.control.patch_event(ids["NUL"], title="Hearing prep", body="Client notes")
        result = syncer.poll()
    assert result.skipped == 0
    assert store.get_event(ids["year 9999"]) is not None
    counts = store.count_record_problems()
    assert (counts.skipped, counts.kept) == (0, 3)  # Europe, too long, surrogate: still wrong
    status = status_output(database_url, tmp_path, monkeypatch)
    assert "Skipped records" not in status
    assert f"event {ids['zone US']} " not in status and f"event {ids['NUL']} " not in status
    assert f"event {ids['zone Europe']} " in status
