"""Webhooks' queue in the store, on a SQLite file and on PostgreSQL (TEST_DATABASE_URL): messages
written with the change, only for subscriptions that existed then, filtered by type, calendar,
staff and privacy; order per event; claims a dead worker left; retries, giving up, replays;
batch.finished once per batch; and migration 10 over a schema-9 database with data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.models import Privacy
from bridge.store import NewItem, NotFound, Store, open_store
from bridge.store.migrations import LATEST_VERSION, MIGRATIONS, apply_migrations
from bridge.store.webhooks import EVENT_TYPES
from tests.support.events import make_event
from tests.support.store import BACKENDS

AT = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENTS = list(EVENT_TYPES[:3])

pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.migrate()
    return empty_store


def subscribe(store: Store, **options: object) -> int:
    values: dict[str, object] = {"event_types": EVENTS, "privacy": Privacy.FULL, **options}
    added = store.add_subscription("https://hooks.example/in", SECRET, AT, **values)  # type: ignore[arg-type]
    return added.subscription_id


def claim(store: Store, holder: str = "worker A", now: datetime = AT) -> list[tuple[str, int]]:
    """(event type, event or batch id) of what `holder` may send at `now`, claiming it."""
    return [
        (due.delivery.event_type, int(due.delivery.subject_key.split(":")[1]))
        for due in store.claim_due_deliveries(now, holder)
    ]


def deliver_all(store: Store, holder: str = "worker A") -> list[tuple[str, int]]:
    """Claim and mark delivered, round after round, as a sender does: the order received."""
    received = []
    while claimed := store.claim_due_deliveries(AT, holder):
        for due in claimed:
            store.record_delivered(due.delivery.delivery_id, AT, 204)
            received.append((due.delivery.event_type, int(due.delivery.subject_key[6:])))
    return received


def test_a_subscription_keeps_its_secret_out_of_reprs_and_is_removed_whole(store: Store) -> None:
    subscription_id = subscribe(store, calendar_id=7, staff_id=10)
    found = store.get_subscription(subscription_id)
    assert (found.calendar_id, found.staff_id, found.is_active) == (7, 10, True)
    assert found.event_types == tuple(EVENTS) and found.secret == SECRET
    assert SECRET not in repr(found) and SECRET not in repr(store.list_subscriptions())
    store.apply_event_changes([make_event(1, calendar_id=7)], [], AT)
    assert store.get_subscription(subscription_id).backlog == 1

    store.remove_subscription(subscription_id)
    assert store.list_subscriptions() == [] and store.list_deliveries() == []
    with pytest.raises(NotFound):
        store.remove_subscription(subscription_id)


def test_changes_after_a_subscription_arrive_created_updated_deleted_in_order(
    store: Store,
) -> None:
    store.apply_event_changes([make_event(1)], [], AT)  # before anyone subscribed: no message
    subscribe(store)
    store.apply_event_changes([make_event(2)], [], AT)
    store.apply_event_changes([make_event(2, title="Moved"), make_event(1, body="Notes")], [], AT)
    store.apply_event_changes([], [2], AT)
    store.apply_event_changes([make_event(2)], [], AT)  # back from the dead: created again

    # Event 2's update waits for its creation, its deletion for its update.
    assert claim(store) == [("event.created", 2), ("event.updated", 1)]
    assert claim(store) == []  # claimed: not handed out twice to the same holder
    assert deliver_all(store, "worker B") == [
        ("event.created", 2),
        ("event.updated", 1),
        ("event.updated", 2),
        ("event.deleted", 2),
        ("event.created", 2),
    ]
    logged = store.list_deliveries()
    assert len({d.message_id for d in logged}) == 5
    assert all(d.message_id.startswith("msg_") and d.state == "delivered" for d in logged)


def test_the_facts_say_what_changed_and_a_privacy_that_hides_it_gets_nothing(
    store: Store,
) -> None:
    full = subscribe(store, privacy=Privacy.FULL)
    busy = subscribe(store, privacy=Privacy.BUSY)
    store.apply_event_changes([make_event(1)], [], AT)
    deliver_all(store)
    store.apply_event_changes([make_event(1, body="New notes")], [], AT)  # only full shows it
    later = make_event(1, body="New notes", start_at=make_event(1).start_at + timedelta(hours=1))
    store.apply_event_changes([later], [], AT)

    claimed = {due.subscription.subscription_id: due for due in store.claim_due_deliveries(AT, "A")}
    assert claimed[full].facts["changed"] == ["description"]
    assert claimed[busy].facts["changed"] == ["start"]
    event = claimed[busy].facts["event"]
    assert (event["event_id"], event["timezone"], event["start_at"]) == (
        1,
        "America/Chicago",
        "2030-01-01T11:00:00Z",
    )
    assert event["staff"] == [{"id": 10, "name": "Staff 10"}]


def test_filters_by_type_calendar_and_staff_see_a_move_out_as_news(store: Store) -> None:
    only_deleted = subscribe(store, event_types=["event.deleted"])
    calendar_7 = subscribe(store, calendar_id=7)
    staff_11 = subscribe(store, staff_id=11)
    store.apply_event_changes(
        [make_event(1, calendar_id=7), make_event(2, staff_ids=(11,))], [], AT
    )
    store.apply_event_changes([make_event(1, calendar_id=8)], [], AT)  # moved out of calendar 7
    store.apply_event_changes([], [2], AT)

    def received(subscription_id: int) -> list[tuple[str, str]]:
        deliveries = store.list_deliveries(subscription_id=subscription_id)
        return sorted((d.event_type, d.subject_key) for d in deliveries)

    assert received(only_deleted) == [("event.deleted", "event:2")]
    assert received(calendar_7) == [("event.created", "event:1"), ("event.updated", "event:1")]
    assert received(staff_11) == [("event.created", "event:2"), ("event.deleted", "event:2")]


def test_a_first_full_pull_announces_nothing(store: Store) -> None:
    subscribe(store)
    store.apply_event_changes([make_event(1), make_event(2)], [], AT, announce=False)
    assert store.list_deliveries() == []


def test_a_claim_left_by_a_dead_worker_goes_to_the_next_one_with_the_same_id(
    store: Store,
) -> None:
    subscribe(store)
    store.apply_event_changes([make_event(1)], [], AT)
    (first,) = store.claim_due_deliveries(AT, "worker A")  # A is killed mid-POST
    assert store.claim_due_deliveries(AT, "worker A") == []
    (again,) = store.claim_due_deliveries(AT, "worker B")
    assert again.delivery.message_id == first.delivery.message_id
    assert again.delivery.delivery_id == first.delivery.delivery_id


def test_retries_wait_their_turn_then_give_up_and_replay_keeps_the_id(store: Store) -> None:
    subscription_id = subscribe(store)
    store.apply_event_changes([make_event(1), make_event(2)], [], AT)
    one, two = store.claim_due_deliveries(AT, "A")
    retry_at = AT + timedelta(seconds=30)
    store.record_failed_attempt(
        one.delivery.delivery_id, AT, status=500, error="500", next_attempt_at=retry_at
    )
    store.record_failed_attempt(
        two.delivery.delivery_id, AT, status=None, error="timed out", next_attempt_at=None
    )
    assert store.claim_due_deliveries(AT + timedelta(seconds=29), "A") == []
    assert store.next_delivery_due_at("A") == retry_at
    (due,) = store.claim_due_deliveries(retry_at, "A")  # the injected clock: no waiting
    assert due.delivery.attempts == 1 and due.delivery.message_id == one.delivery.message_id
    store.record_delivered(due.delivery.delivery_id, retry_at, 200)

    health = store.get_subscription(subscription_id)
    assert (health.backlog, health.failed, health.last_success_at) == (0, 1, retry_at)
    assert health.last_error == "timed out"
    failed = store.get_delivery(two.delivery.delivery_id)
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 1, "timed out")

    later = AT + timedelta(days=2)
    assert store.replay_deliveries(later, delivery_id=failed.delivery_id) == 1
    assert store.replay_deliveries(later, subscription_id=subscription_id) == 0  # none left
    (replayed,) = store.claim_due_deliveries(later, "A")
    assert replayed.delivery.message_id == two.delivery.message_id
    assert replayed.delivery.window_started_at == later
    with pytest.raises(NotFound):
        store.replay_deliveries(later, delivery_id=9999)


def test_a_disabled_subscription_is_sent_nothing(store: Store) -> None:
    subscription_id = subscribe(store)
    store.apply_event_changes([make_event(1)], [], AT)
    store.disable_subscription(subscription_id, "410 Gone", AT)
    assert store.claim_due_deliveries(AT, "A") == []
    store.apply_event_changes([make_event(2)], [], AT)
    assert store.get_subscription(subscription_id).backlog == 1  # queued before it went


def test_batch_finished_once_when_its_last_item_settles(store: Store) -> None:
    subscribe(store, event_types=["batch.finished"])
    items = [
        NewItem(row, f"Row {row}", f"key-{row}", f"Hearing {row}", {"event": {"title": "x"}})
        for row in (1, 2)
    ]
    queued = store.queue_batch(
        batch_key="b" * 64,
        source="csv",
        label="hearings.csv",
        total=3,
        ready=2,
        invalid=1,
        items=items,
        at=AT,
    )
    first = store.claim_next_item(AT)
    assert first is not None
    store.mark_item_sent(first.item_id, make_event(41), AT)
    assert store.list_deliveries() == []  # one item still to send
    second = store.claim_next_item(AT)
    assert second is not None
    store.mark_item_failed(second.item_id, "Trackops refused it", {"title": ["too long"]}, AT)

    (due,) = store.claim_due_deliveries(AT, "A")
    batch = due.facts["batch"]
    assert (batch["batch_id"], batch["label"], batch["sent"], batch["failed"]) == (
        queued.batch.batch_id,
        "hearings.csv",
        1,
        1,
    )
    assert (batch["rows"], batch["invalid"], batch["event_ids"]) == (3, 1, [41])


def test_old_deliveries_are_pruned_with_their_messages(store: Store) -> None:
    subscribe(store)
    store.apply_event_changes([make_event(1)], [], AT)
    deliver_all(store)
    kept = AT - timedelta(days=1)
    assert store.prune_deliveries(delivered_before=kept, failed_before=kept) == 0
    assert store.prune_deliveries(delivered_before=AT + timedelta(seconds=1), failed_before=kept)
    assert store.list_deliveries() == []


def test_migration_10_upgrades_a_schema_9_database_with_data(
    tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the upgrade is the same DDL on both; once is enough")
    with open_store(f"sqlite:///{tmp_path / 'old.db'}") as old:
        before = [m for m in MIGRATIONS if m.version < 10]
        apply_migrations(lambda: old._transaction(write=True), before)
        old.apply_event_changes([make_event(1)], [], AT)
        assert 10 in old.migrate()
        assert old.schema_version() == LATEST_VERSION
        assert old.get_event(1) is not None
        subscribe(old)
        old.apply_event_changes([make_event(1, title="Changed")], [], AT)
        assert [d.event_type for d in old.list_deliveries()] == ["event.updated"]
