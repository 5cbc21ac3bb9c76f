"""The mirror under bad luck, over real HTTP: listings that shift, shrink or come back empty.

Each case ends with the mirror equal to the sandbox, nothing Trackops still has deleted, and
every deletion proven by a 404 (docs/trackops-api.md, listing hazards).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.errors import UnexpectedResponseError
from bridge.store import open_store
from bridge.sync import Syncer, SyncOptions
from bridge.worker import Worker

OPTIONS = SyncOptions(feed_past_days=90, deletion_probes=20)


@pytest.fixture
def syncer(sandbox, client, store):
    return Syncer(client, store, OPTIONS)


@pytest.fixture
def mirrored(sandbox, syncer):
    """A sandbox with enough events in the feed window for a listing of several pages."""
    soon = datetime.now(UTC) + timedelta(days=3)
    sandbox.control.create_events(
        [
            {
                "title": f"Stakeout {i}",
                "calendar_id": 3,
                "start_at": f"{soon + timedelta(hours=i):%Y-%m-%d %H:%M:%S}",
                "end_at": f"{soon + timedelta(hours=i, minutes=45):%Y-%m-%d %H:%M:%S}",
            }
            for i in range(200)
        ]
    )
    syncer.poll()
    sandbox.control.clear_requests()
    return syncer


def window_start() -> datetime:
    return datetime.now(UTC) - timedelta(days=OPTIONS.feed_past_days)


def trackops_window(client) -> list[int]:
    return sorted(
        e.event_id
        for page in client.iter_event_pages(end_from=window_start())
        for e in page.records
    )


def mirror_window(store) -> list[int]:
    return sorted(store.live_event_ids(ending_after=window_start()))


def lookups(sandbox, status: int) -> list[str]:
    return [
        r["path"]
        for r in sandbox.control.requests()["requests"]
        if r["status"] == status and r["path"].startswith("/api/v1/events/")
    ]


def test_deletions_between_pages_of_a_deletion_check_delete_only_those(
    sandbox, client, store, mirrored
):
    listed = trackops_window(client)
    assert len(listed) > 300  # the check walks at least four pages
    doomed = [listed[5], listed[40], listed[90]]  # all on the check's first page
    # The check's second page is served, then they go.
    sandbox.control.inject_fault("delete", after=1, event_ids=doomed, query_contains="end_from")
    result = mirrored.poll(reconcile=True)
    assert not sandbox.control.faults()  # the deletions did happen mid-walk
    assert result.deleted == 0
    assert set(trackops_window(client)) <= set(mirror_window(store))  # nothing it has was lost

    result = mirrored.poll(reconcile=True)
    assert result.deleted == 3 and result.waiting == 0
    assert mirror_window(store) == trackops_window(client)
    assert sorted(lookups(sandbox, 404)) == sorted(f"/api/v1/events/{i}" for i in doomed)


def test_a_late_page_cut_short_marks_nothing_and_says_why(sandbox, client, store, mirrored, env):
    before = mirror_window(store)
    sandbox.control.delete_event(before[-1])  # a real deletion, left for a trustworthy check
    # Page 3 of the check keeps 60 of its 100 events: a short page, so the walk ends there.
    sandbox.control.inject_fault("short", after=2, records=60, query_contains="end_from")
    result = mirrored.poll(reconcile=True)
    assert result.doubt is not None and "counts" in result.doubt
    assert result.deleted == 0 and store.count_deletion_candidates() == 0
    assert mirror_window(store) == before
    assert store.get_sync_state().last_reconcile_note == result.doubt
    assert "listing not trusted" in result.summary()
    shown = CliRunner().invoke(main, ["status"], catch_exceptions=False).output  # same file
    assert f"listing not trusted, nothing deleted: {result.doubt}" in shown

    result = mirrored.poll(reconcile=True)
    assert result.doubt is None and result.deleted == 1
    assert mirror_window(store) == trackops_window(client)
    assert store.get_sync_state().last_reconcile_note is None


def test_every_listing_empty_deletes_nothing(sandbox, store, mirrored):
    before = mirror_window(store)
    sandbox.control.inject_fault("empty_list", count=50, path_prefix="/events")
    result = mirrored.poll(reconcile=True)
    assert result.doubt == f"Trackops listed no events where the mirror has {len(before)}"
    assert result.deleted == 0 and store.count_deletion_candidates() == 0
    assert mirror_window(store) == before


def test_updates_listed_while_events_are_deleted_are_not_skipped(sandbox, client, store, mirrored):
    changed = mirror_window(store)[:250]
    for event_id in changed:
        sandbox.control.patch_event(event_id, title=f"Moved {event_id}")
    doomed = changed[10:15]  # on the poll's first page of changes
    sandbox.control.inject_fault("delete", event_ids=doomed, query_contains="updated_from")
    result = mirrored.poll()
    assert not sandbox.control.faults()
    assert result.updated == 250
    assert all(store.get_event(i).title == f"Moved {i}" for i in changed)  # type: ignore[union-attr]


def test_an_incremental_poll_cut_short_keeps_its_cursor(sandbox, client, store, mirrored):
    changed = mirror_window(store)[:250]
    for event_id in changed:
        sandbox.control.patch_event(event_id, title=f"Renamed {event_id}")
    cursor = store.get_sync_state().events_cursor
    sandbox.control.inject_fault("short", after=1, records=30, query_contains="updated_from")
    result = mirrored.poll()
    assert result.doubt is not None
    assert store.get_sync_state().events_cursor == cursor  # nothing it skipped is passed over
    mirrored.poll()
    assert all(store.get_event(i).title == f"Renamed {i}" for i in changed)  # type: ignore[union-attr]


def test_an_event_missing_from_the_listing_but_still_there_is_kept(
    sandbox, client, store, mirrored
):
    # A seed event, last updated long before the poll's overlap re-reads anything.
    kept = next(
        i
        for i in mirror_window(store)
        if store.get_event(i).updated_at < datetime.now(UTC) - timedelta(days=1)  # type: ignore[union-attr,operator]
    )
    record = sandbox.control.get_event(kept)
    # Moved out of the window without a new update stamp: only absence hints at anything.
    sandbox.control.patch_event(
        kept,
        start_at="2001-01-01 09:00:00",
        end_at="2001-01-01 10:00:00",
        updated_at=record["updated_at"],
    )
    result = mirrored.poll(reconcile=True)
    assert result.deleted == 0 and result.waiting == 0
    assert lookups(sandbox, 200) == [f"/api/v1/events/{kept}"]
    assert store.get_event(kept).end_at == datetime(2001, 1, 1, 10, tzinfo=UTC)  # type: ignore[union-attr]
    assert kept in store.live_event_ids(ending_after=datetime(2000, 1, 1, tzinfo=UTC))


def test_deletions_wait_within_the_budget_and_survive_an_outage(sandbox, client, store, mirrored):
    syncer = Syncer(mirrored.client, store, replace(OPTIONS, deletion_probes=4))
    doomed = mirror_window(store)[100:110]
    for event_id in doomed:
        sandbox.control.delete_event(event_id)
    result = syncer.poll(reconcile=True)
    assert (result.deleted, result.waiting) == (4, 6)
    assert len(lookups(sandbox, 404)) == 4

    # Trackops fails every lookup: the pass still succeeds, and nothing is proven.
    sandbox.control.inject_fault("503", count=20, path_prefix="/events/")
    result = syncer.poll()
    assert (result.deleted, result.waiting) == (0, 6)
    assert store.get_sync_state().last_error is None
    sandbox.control.clear_faults()

    passes = 0
    while result.waiting:
        result = syncer.poll()
        assert result.deleted <= 4
        passes += 1
    assert passes == 2
    assert mirror_window(store) == trackops_window(client)


def archive(count: int, start: datetime) -> list[dict[str, object]]:
    """Events created a second apart from `start` (an import would stamp them so)."""
    stamps = [f"{start + timedelta(seconds=i):%Y-%m-%d %H:%M:%S}" for i in range(count)]
    return [
        {"title": f"Archive {i}", "calendar_id": 5, "created_at": at, "updated_at": at}
        for i, at in enumerate(stamps)
    ]


def every_event_id(client) -> set[int]:
    return {e.event_id for page in client.iter_event_pages(by_key=False) for e in page.records}


def test_a_first_sync_cut_short_resumes_where_it_stopped(sandbox, client, store, syncer):
    sandbox.control.create_events(archive(1200, datetime.now(UTC) + timedelta(hours=1)))
    sandbox.control.clear_requests()
    # The count, then 12 pages; the 13th is a firewall's page. A checkpoint follows page 10.
    sandbox.control.inject_fault("html", after=13, path_prefix="/events")
    with pytest.raises(UnexpectedResponseError):
        syncer.poll()
    state = store.get_sync_state()
    assert state.events_cursor is None and state.full_sync_resume_from is not None
    assert store.count_events() >= 900  # ten pages checkpointed, less the seams

    sandbox.control.clear_requests()
    result = syncer.poll()
    assert result.full and result.doubt is None
    listing = [
        r
        for r in sandbox.control.requests()["requests"]
        if r["path"] == "/api/v1/events" and "mode=count" not in r["query"]
    ]
    assert len(listing) <= 7  # the five pages left and the seam, not all sixteen again
    every = every_event_id(client)
    assert store.live_event_ids(ending_after=datetime(2000, 1, 1, tzinfo=UTC)) == every
    state = store.get_sync_state()
    assert state.events_cursor is not None and state.full_sync_resume_from is None


def test_events_whose_ids_do_not_follow_creation_are_all_mirrored(sandbox, client, store, syncer):
    """A walk by creation stamp misses events created before others with lower ids."""
    sandbox.control.create_events(archive(300, datetime(2026, 6, 1, tzinfo=UTC)))
    result = syncer.poll()
    assert result.doubt is not None and "counts" in result.doubt
    assert store.get_sync_state().events_cursor is None  # not done: it starts again
    result = syncer.poll()
    assert result.full and result.doubt is None
    mirrored = store.live_event_ids(ending_after=datetime(2000, 1, 1, tzinfo=UTC))
    assert mirrored == every_event_id(client)


def test_the_worker_waits_out_a_locked_database_and_catches_up(sandbox, client, tmp_path):
    path = tmp_path / "locked.db"
    with open_store(f"sqlite:///{path}", busy_timeout_ms=200) as store:
        store.migrate()
        worker = Worker(Syncer(client, store, OPTIONS), store, poll_interval=0.2)
        worker.run(max_passes=1)
        import sqlite3

        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while worker.store_failures < 3 and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for the condition, not for a race to settle
            assert worker.store_failures >= 3
            assert thread.is_alive()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        created = sandbox.control.create_event(title="After the backup", calendar_id=2)
        deadline = time.monotonic() + 30
        while store.get_event(created["id"]) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        thread.join(timeout=10)
        assert store.get_event(created["id"]) is not None
        assert worker.store_failures == 0 and not thread.is_alive()
