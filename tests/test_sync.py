"""The mirror against the sandbox over HTTP and a real SQLite file: exact, cheap and safe."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.errors import UnexpectedResponseError
from bridge.models import Privacy
from bridge.sync import Syncer, SyncOptions
from tests.support.sandbox import make_client

OPTIONS = SyncOptions(
    overlap=timedelta(seconds=120),
    feed_past_days=90,
    reconcile_interval=timedelta(hours=1),
    reference_interval=timedelta(minutes=15),
    default_privacy=Privacy.LIMITED,
)


@pytest.fixture
def syncer(sandbox, client, store):
    return Syncer(client, store, OPTIONS)


def sandbox_events(client) -> dict[int, object]:
    return {e.event_id: e for page in client.iter_event_pages() for e in page.records}


def list_requests(sandbox, path="/api/v1/events"):
    return [
        r
        for r in sandbox.control.requests()["requests"]
        if r["path"] == path and "mode=count" not in r["query"]
    ]


def test_first_sync_mirrors_everything_in_the_fewest_requests(sandbox, client, store, syncer):
    later = datetime.now(UTC) + timedelta(minutes=1)  # created after every seed event, in order
    stamps = [f"{later + timedelta(seconds=i):%Y-%m-%d %H:%M:%S}" for i in range(934)]
    sandbox.control.create_events(
        [{"title": f"Bulk {i}", "calendar_id": 2, "created_at": at} for i, at in enumerate(stamps)]
    )
    sandbox.control.clear_requests()
    result = syncer.poll()
    assert result.full
    assert store.count_events() == 1234
    # The walk by creation stamp lists each page's last event again at the top of the next:
    # 100 + 12 x 99 covers 1,234 in the same 13 pages paging by number would take.
    assert len(list_requests(sandbox)) == math.ceil(1234 / 100)
    assert sandbox.control.requests()["counts"]["rate_limited"] == 0
    stored = {eid: store.get_event(eid) for eid in sandbox_events(client)}
    assert all(stored.values())
    assert {c.calendar_id for c in store.list_calendars()} == set(sandbox.control.calendars())
    assert store.list_staff() and store.list_cases() and store.list_subjects()
    assert store.list_feeds()  # a feed per calendar and staff member, and one for everything


def test_an_idle_poll_costs_exactly_one_request(sandbox, store, syncer):
    syncer.poll()
    sandbox.control.clear_requests()
    result = syncer.poll()
    assert sandbox.control.requests()["counts"]["total"] == 1
    assert result.requests == 1
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)


def test_creates_updates_and_calendar_moves_land(sandbox, store, syncer):
    syncer.poll()
    created = sandbox.control.create_event(title="New: stakeout", calendar_id=3)
    some = next(e for e in store.feed_events(feed_for(store, "calendar", 2), far_past()))
    sandbox.control.patch_event(some.event.event_id, title="Renamed", calendar_id=5)
    sandbox.control.clear_requests()
    result = syncer.poll()
    assert sandbox.control.requests()["counts"]["total"] == 1
    assert (result.inserted, result.updated) == (1, 1)
    assert store.get_event(created["id"]).title == "New: stakeout"
    moved = store.get_event(some.event.event_id)
    assert (moved.title, moved.calendar_id) == ("Renamed", 5)
    old = {i.event.event_id for i in store.feed_events(feed_for(store, "calendar", 2), far_past())}
    new = {i.event.event_id for i in store.feed_events(feed_for(store, "calendar", 5), far_past())}
    assert some.event.event_id not in old
    assert some.event.event_id in new


def test_deletions_are_found_by_reconcile_and_logged(sandbox, store, syncer, caplog):
    syncer.poll()
    victim = next(iter(store.live_event_ids(ending_after=datetime.now(UTC))))
    title = store.get_event(victim).title
    sandbox.control.delete_event(victim)
    assert syncer.poll().deleted == 0  # an ordinary poll can't see deletions
    caplog.set_level("INFO")
    result = syncer.poll(reconcile=True)
    assert result.deleted == 1
    assert victim not in store.live_event_ids(ending_after=far_past())
    assert f"deleted event {victim} {title!r}" in caplog.text


def test_an_incomplete_listing_deletes_nothing(sandbox, store, syncer):
    syncer.poll()
    live_before = store.live_event_ids(ending_after=far_past())
    sandbox.control.delete_event(next(iter(store.live_event_ids(ending_after=datetime.now(UTC)))))
    # The window listing's first page arrives intact; its second is cut short.
    original = syncer.client.iter_event_pages
    window_pages = []

    def fail_after_first_window_page(**filters):
        for number, page in enumerate(original(**filters), start=1):
            yield page
            if "end_from" in filters:
                window_pages.append(page)
                if number == 1:
                    sandbox.control.inject_fault("truncated", count=1, path_prefix="/api/v1/events")

    syncer.client = WithPages(syncer.client, fail_after_first_window_page)
    syncer_state_before = store.get_sync_state()
    with pytest.raises(UnexpectedResponseError):
        syncer.poll(reconcile=True)
    assert len(window_pages) == 1  # the fault struck the window listing, not the poll before it
    assert store.live_event_ids(ending_after=far_past()) == live_before
    state = store.get_sync_state()
    assert state.events_cursor == syncer_state_before.events_cursor
    assert "not JSON" in state.last_error
    syncer.client = syncer.client.real
    assert syncer.poll(reconcile=True).deleted == 1  # the deletion was there to be found


def test_a_mass_deletion_is_confirmed_by_a_second_listing(sandbox, store, syncer, caplog):
    syncer.poll()
    window = datetime.now(UTC) - timedelta(days=OPTIONS.feed_past_days)
    live = sorted(store.live_event_ids(ending_after=window))
    doomed = live[: len(live) * 2 // 3]
    for event_id in doomed:
        sandbox.control.delete_event(event_id)
    sandbox.control.clear_requests()
    caplog.set_level("WARNING")
    result = syncer.poll(reconcile=True)
    assert "listing again to confirm" in caplog.text
    listings = [r for r in list_requests(sandbox) if "end_from" in r["query"]]
    assert len(listings) >= 2  # two complete listings of the window
    # Each deletion is proven by a 404, within the budget per pass; the rest wait their turn.
    deleted = result.deleted
    assert deleted == OPTIONS.deletion_probes and result.waiting == len(doomed) - deleted
    while result.waiting:
        result = syncer.poll()
        assert result.deleted <= OPTIONS.deletion_probes
        deleted += result.deleted
    assert deleted == len(doomed)
    assert store.live_event_ids(ending_after=window) == set(live) - set(doomed)
    lookups = {r["path"] for r in sandbox.control.requests()["requests"] if r["status"] == 404}
    assert lookups == {f"/api/v1/events/{event_id}" for event_id in doomed}


def test_a_mass_deletion_one_listing_shows_but_the_next_does_not_is_not_applied(
    sandbox, client, store
):
    """A listing that comes back half-empty once (a confused server) deletes nothing."""

    listings = []

    def first_listing_loses_most(**filters):
        pages = client.iter_event_pages(**filters)
        if "end_from" in filters:
            listings.append(filters)
            if len(listings) == 1:
                return (replace(p, records=p.records[:10]) for p in pages)
        return pages

    Syncer(client, store, OPTIONS).poll()
    before = store.live_event_ids(ending_after=far_past())
    result = Syncer(WithPages(client, first_listing_loses_most), store, OPTIONS).poll(
        reconcile=True
    )
    assert result.deleted == 0
    assert store.live_event_ids(ending_after=far_past()) == before


def test_a_fault_mid_pass_changes_nothing_and_the_next_poll_recovers(sandbox, store, syncer):
    syncer.poll()
    sandbox.control.create_events([{"title": f"Burst {i}", "calendar_id": 8} for i in range(250)])
    count_before, state_before = store.count_events(), store.get_sync_state()
    # Page 1 of the pass arrives intact; page 2 is a firewall's HTML page.
    original = syncer.client.iter_event_pages

    def fail_on_second_page(**filters):
        for number, page in enumerate(original(**filters), start=1):
            yield page
            if number == 1:
                sandbox.control.inject_fault("html", count=1, path_prefix="/api/v1/events")

    syncer.client = WithPages(syncer.client, fail_on_second_page)
    with pytest.raises(UnexpectedResponseError):
        syncer.poll()
    assert store.count_events() == count_before
    assert store.get_sync_state().events_cursor == state_before.events_cursor
    syncer.client = syncer.client.real
    result = syncer.poll()
    assert result.inserted == 250
    assert store.count_events() == count_before + 250
    assert store.get_sync_state().last_error is None


def test_a_malformed_record_is_skipped_and_the_rest_of_the_page_kept(sandbox, store, syncer):
    syncer.poll()
    good = sandbox.control.create_event(title="Good one", calendar_id=2)
    bad = sandbox.control.create_event(title="Bad one", calendar_id=2)
    # A shape the bridge can't read: staff "ids" that are not numbers.
    sandbox.state.tables.of("events").rows[bad["id"]].users_list = ["Sam Spade"]
    result = syncer.poll()
    assert result.skipped == 1
    assert store.get_event(good["id"]) is not None
    assert store.get_event(bad["id"]) is None
    assert any(str(bad["id"]) in p and "users_list" in p for p in result.problems)


def test_after_a_bulk_change_an_idle_poll_costs_one_request_again(sandbox, client, store):
    clock = FakeClock(datetime.now(UTC))
    syncer = Syncer(client, store, OPTIONS, clock=clock)
    syncer.poll()
    sandbox.control.create_events([{"title": f"Import {i}", "calendar_id": 2} for i in range(150)])
    assert syncer.poll().inserted == 150
    clock.advance(OPTIONS.overlap + timedelta(seconds=5))
    syncer.poll()  # re-reads the overlap once, late enough to be sure: settled
    sandbox.control.clear_requests()
    syncer.poll()
    assert len(list_requests(sandbox)) == 1


def test_running_the_same_pass_twice_writes_nothing_the_second_time(sandbox, store, syncer):
    syncer.poll()
    versions = {f.feed_id: store.feed_version(f.feed_id) for f in store.list_feeds()}
    store.put_sync_state(replace(store.get_sync_state(), events_cursor=None))
    result = syncer.poll()
    assert (result.inserted, result.updated) == (0, 0)
    assert {f.feed_id: store.feed_version(f.feed_id) for f in store.list_feeds()} == versions


def test_every_field_variant_mirrors_identically(sandbox, client, store, tmp_path):
    from bridge.store import open_store

    syncer = Syncer(client, store, OPTIONS)
    syncer.poll()
    sandbox.control.set_variants(fields="alternate", timestamps="iso_z", wrap="Event")
    with open_store(f"sqlite:///{tmp_path / 'other.db'}") as other:
        other.migrate()
        Syncer(make_client(sandbox, sleep=lambda s: None), other, OPTIONS).poll()
        for event_id in list(store.live_event_ids(ending_after=far_past()))[:50]:
            assert other.get_event(event_id) == store.get_event(event_id)


# -- helpers -----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def __call__(self) -> datetime:
        return self.now


class WithPages:
    """The real client with its event listing replaced: one unit of sync faked, not HTTP."""

    def __init__(self, real, pages):
        self.real, self.stats, self._pages = real, real.stats, pages

    def __getattr__(self, name):
        return getattr(self.real, name)

    def iter_event_pages(self, **filters):
        return self._pages(**filters)


def far_past() -> datetime:
    return datetime(2000, 1, 1, tzinfo=UTC)


def feed_for(store, kind, target_id):
    return next(f for f in store.list_feeds() if f.kind == kind and f.target_id == target_id)
