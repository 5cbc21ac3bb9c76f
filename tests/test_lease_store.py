"""The worker lease and the shared request slot in the store, on SQLite and PostgreSQL.

Two Store objects on one database stand for two processes: each has its own engine and pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bridge.models import Privacy
from bridge.store import LeaseLost, Store, open_store
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from tests.support.events import SYNC_AT, make_event
from tests.support.store import BACKENDS

LEASE = timedelta(seconds=30)
LAPSED = timedelta(0)  # a lease that ends the moment it is taken: no waiting in tests


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.migrate()
    return empty_store


@pytest.fixture
def other(store: Store, database_url: str) -> Iterator[Store]:
    """A second process's store on the same database."""
    with open_store(database_url) as second:
        yield second


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
class TestLease:
    def test_one_holder_at_a_time(self, store: Store, other: Store) -> None:
        assert store.read_worker_lease().holder is None
        first = store.hold_worker_lease("A", LEASE)
        assert first.is_held_by("A")
        refused = other.hold_worker_lease("B", LEASE)
        assert not refused.is_held_by("B")
        assert refused.holder == "A" and refused.is_live
        assert other.read_worker_lease().holder == "A"

    def test_renewing_keeps_when_it_was_taken_and_moves_the_expiry(self, store: Store) -> None:
        first = store.hold_worker_lease("A", LEASE)
        again = store.hold_worker_lease("A", LEASE * 2)
        assert again.acquired_at == first.acquired_at
        assert again.expires_at is not None and first.expires_at is not None
        assert again.expires_at > first.expires_at
        assert again.renewed_at is not None and again.renewed_at >= first.now

    def test_a_lapsed_lease_goes_to_whoever_asks_next(self, store: Store, other: Store) -> None:
        store.hold_worker_lease("A", LAPSED)
        taken = other.hold_worker_lease("B", LEASE)
        assert taken.is_held_by("B")
        # A, back from wherever it froze, finds it held and does not take it back.
        assert not store.hold_worker_lease("A", LEASE).is_held_by("A")

    def test_release_hands_it_over_at_once(self, store: Store, other: Store) -> None:
        store.hold_worker_lease("A", LEASE)
        assert not other.release_worker_lease("B")  # not B's to release
        assert store.release_worker_lease("A")
        released = other.read_worker_lease()
        assert released.holder is None and released.released_at is not None
        assert other.hold_worker_lease("B", LEASE).is_held_by("B")

    def test_a_slot_reserved_by_one_process_holds_back_the_other(
        self, store: Store, other: Store
    ) -> None:
        assert store.reserve_request_slot(0.0, 10.0) == pytest.approx(0.0, abs=0.5)
        wait = other.reserve_request_slot(0.0, 10.0)
        assert 9.0 < wait <= 10.0
        # And the next after that, whoever asks, waits for both.
        assert 19.0 < store.reserve_request_slot(0.0, 10.0) <= 20.0

    def test_a_deferral_pushes_every_process_back(self, store: Store, other: Store) -> None:
        store.reserve_request_slot(30.0, 0.0)  # a 429 said: wait 30 s
        assert 29.0 < other.reserve_request_slot(0.0, 1.0) <= 30.0

    def test_a_slot_far_in_the_future_is_not_believed(self, store: Store, other: Store) -> None:
        store.reserve_request_slot(3600.0, 0.0)  # no pacer asks this: a clock that jumped
        assert other.reserve_request_slot(0.0, 1.0) == pytest.approx(0.0, abs=0.5)

    def test_only_the_holder_may_reserve_under_its_name(self, store: Store, other: Store) -> None:
        store.hold_worker_lease("A", LEASE)
        assert store.reserve_request_slot(0.0, 1.0, holder="A") >= 0.0
        with pytest.raises(LeaseLost, match="held by A"):
            other.reserve_request_slot(0.0, 1.0, holder="B")
        store.hold_worker_lease("A", LAPSED)
        with pytest.raises(LeaseLost, match="lapsed"):
            store.reserve_request_slot(0.0, 1.0, holder="A")

    def test_upgrade_from_version_6_keeps_data(self, empty_store: Store) -> None:
        engine = empty_store._engine
        earlier = [m for m in MIGRATIONS if m.version < 7]
        apply_migrations(lambda: transaction(engine, write=True), earlier)
        empty_store.apply_event_changes([make_event(1)], [], SYNC_AT)
        empty_store.ensure_feeds(Privacy.FULL)
        feeds = empty_store.list_feeds()

        assert 7 in empty_store.migrate()
        empty_store.require_current_schema()
        assert empty_store.get_event(1) == make_event(1)
        assert empty_store.list_feeds() == feeds
        assert empty_store.read_worker_lease().holder is None
        assert empty_store.hold_worker_lease("A", LEASE).is_held_by("A")

    def test_a_holder_known_dead_is_replaced_at_once(self, store: Store, other: Store) -> None:
        store.hold_worker_lease("A", LEASE)
        assert not other.hold_worker_lease("B", LEASE, replacing="C").is_held_by("B")
        assert other.hold_worker_lease("B", LEASE, replacing="A").is_held_by("B")
