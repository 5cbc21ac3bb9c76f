"""The outbox part of the store's contract, on a SQLite file and on PostgreSQL (TEST_DATABASE_URL).

Batches queued once per key, items with the exact API body, transitions that cannot skip a state,
sent events landing in the mirror in the same transaction, uploads, and the one-sender lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from bridge.models import Event, FeedKind, Privacy
from bridge.store import (
    ITEM_STATES,
    NewItem,
    NotFound,
    OutboxStateError,
    Store,
    SyncState,
    body_digest,
    open_store,
)
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from bridge.store.tables import outbox_items
from tests.support.store import BACKENDS

AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.migrate()
    return empty_store


def body(title: str, start: str = "2030-02-01 15:00:00", calendar_id: int = 2) -> dict[str, Any]:
    return {
        "event": {
            "casefile_id": 1201,
            "calendar_id": calendar_id,
            "start_at": start,
            "end_at": start[:11] + "23:00:00",
            "timezone": "America/Denver",
            "is_allday": False,
            "title": title,
            "address": {"zip": "02134", "country": "US"},
            "users_list": [106, 107],
        }
    }


def new_item(row: int, title: str, batch: str = "b1", **changes: Any) -> NewItem:
    item = NewItem(
        row=row, where=f"Row {row}", idempotency_key=f"{batch}-{row}", title=title, body=body(title)
    )
    return dataclasses.replace(item, **changes)


def queue(store: Store, key: str, items: list[NewItem], at: datetime = AT) -> Any:
    return store.queue_batch(
        batch_key=key,
        source="csv",
        label=f"{key}.csv",
        total=len(items) + 1,
        ready=len(items),
        invalid=1,
        items=items,
        at=at,
    )


def created(event_id: int, title: str = "Surveillance", calendar_id: int = 2) -> Event:
    return Event(
        event_id=event_id,
        title=title,
        start_at=datetime(2030, 2, 1, 15, tzinfo=UTC),
        end_at=datetime(2030, 2, 1, 23, tzinfo=UTC),
        calendar_id=calendar_id,
        case_id=1201,
        timezone="America/Denver",
        staff_ids=(106, 107),
        created_at=AT,
        updated_at=AT,
        raw_json=f'{{"id": {event_id}}}',
    )


@pytest.fixture
def other(database_url: str) -> Iterator[Store]:
    """A second handle on the same database, as another process would hold."""
    with open_store(database_url) as second:
        yield second


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
class TestOutboxContract:
    def test_a_batch_is_queued_once_with_the_exact_bodies(self, store: Store) -> None:
        first = queue(store, "b1", [new_item(2, "Surveillance"), new_item(3, "Hearing")])
        assert (first.is_new_batch, first.queued, first.already_queued) == (True, 2, 0)
        assert first.batch.created_at == AT
        assert (first.batch.total, first.batch.ready, first.batch.invalid) == (3, 2, 1)

        again = queue(
            store,
            "b1",
            [new_item(2, "Surveillance"), new_item(3, "Hearing")],
            AT + timedelta(hours=1),
        )
        assert (again.is_new_batch, again.queued, again.already_queued) == (False, 0, 2)
        assert again.batch == first.batch  # first submission's time, not the second's

        progress = store.batch_progress(first.batch.batch_id)
        assert [i.title for i in progress.items] == ["Surveillance", "Hearing"]
        assert progress.items[0].body == body("Surveillance")
        assert progress.items[0].body["event"]["address"]["zip"] == "02134"
        assert [i.where for i in progress.items] == ["Row 2", "Row 3"]
        assert progress.counts == {**dict.fromkeys(ITEM_STATES, 0), "pending": 2}
        assert progress.total == 2 and not progress.is_finished
        assert store.find_batch_by_key("b1") == first.batch
        assert store.find_batch_by_key("nope") is None

    def test_idempotency_keys_are_unique_in_the_database(self, store: Store) -> None:
        queue(store, "b1", [new_item(2, "Surveillance")])
        batch_id = store.list_batches()[0].batch_id
        with pytest.raises(IntegrityError):
            with transaction(store._engine, write=True) as conn:
                conn.execute(
                    insert(outbox_items).values(
                        batch_id=batch_id,
                        row_label="Row 9",
                        idempotency_key="b1-2",
                        body_sha256="x",
                        title="again",
                        body="{}",
                        state="pending",
                        attempts=0,
                        created_at=AT,
                        updated_at=AT,
                    )
                )
        assert store.count_outbox_items() == 1

    def test_identical_rows_in_one_batch_stay_two_items(self, store: Store) -> None:
        twins = [new_item(2, "Surveillance"), new_item(3, "Surveillance")]
        assert twins[0].body == twins[1].body
        assert queue(store, "b1", twins).queued == 2

    def test_a_copy_from_another_batch_is_left_out_unless_it_failed(self, store: Store) -> None:
        queue(store, "b1", [new_item(2, "Surveillance"), new_item(3, "Hearing")])
        corrected = [
            new_item(2, "Surveillance", batch="b2"),
            new_item(3, "Hearing", batch="b2"),
            new_item(4, "Interview", batch="b2"),
        ]
        result = queue(store, "b2", corrected)
        assert (result.queued, result.already_queued, result.copies_skipped) == (1, 0, 2)
        assert [i.title for i in store.batch_progress(result.batch.batch_id).items] == ["Interview"]

        hearing = store.batch_progress(1).items[1]
        store.claim_next_item(AT)  # row 2
        claimed = store.claim_next_item(AT)
        assert claimed is not None and claimed.item_id == hearing.item_id
        store.mark_item_failed(hearing.item_id, "HTTP 422: no", {}, AT)
        retry = queue(store, "b3", [new_item(3, "Hearing", batch="b3")])
        assert (retry.queued, retry.copies_skipped) == (1, 0)

        found = store.find_outbox_items({"b1-2"}, {body_digest(body("Interview"))})
        assert {(i.batch_id, i.title) for i in found} == {(1, "Surveillance"), (2, "Interview")}

    def test_claiming_is_oldest_first_committed_and_counted(
        self, store: Store, other: Store
    ) -> None:
        queue(store, "b1", [new_item(2, "First"), new_item(3, "Second")])
        queue(store, "b2", [new_item(2, "Third", batch="b2")])
        item = store.claim_next_item(AT)
        assert item is not None and (item.title, item.state, item.attempts) == (
            "First",
            "sending",
            1,
        )
        # Committed before anything is sent: another process sees it at once.
        assert [i.title for i in other.list_unresolved_items()] == ["First"]
        third = store.claim_next_item(AT, batch_id=2)
        assert third is not None and third.title == "Third"
        assert store.claim_next_item(AT, batch_id=2) is None
        second = store.claim_next_item(AT)
        assert second is not None and second.title == "Second"
        assert store.claim_next_item(AT) is None
        assert store.count_outbox_items(("sending",)) == 3
        assert store.count_outbox_items(batch_id=1) == 2

    def test_sent_goes_into_the_mirror_and_the_feeds_at_once(self, store: Store) -> None:
        store.ensure_feeds(Privacy.FULL)
        queue(store, "b1", [new_item(2, "Surveillance")])
        item = store.claim_next_item(AT)
        assert item is not None
        done = store.mark_item_sent(item.item_id, created(9001), AT + timedelta(seconds=1))
        assert (done.state, done.event_id, done.error) == ("sent", 9001, None)
        assert store.get_event(9001) == created(9001)
        store.ensure_feeds(Privacy.FULL)
        (calendar_feed,) = [
            f for f in store.list_feeds() if f.kind is FeedKind.CALENDAR and f.target_id == 2
        ]
        listed = store.feed_events(calendar_feed, AT)
        assert [fe.event.event_id for fe in listed] == [9001]
        assert store.batch_progress(1).is_finished
        assert store.linked_event_ids([9001, 9002]) == {9001}

    def test_sent_and_the_mirror_are_one_transaction(self, store: Store) -> None:
        queue(store, "b1", [new_item(2, "Surveillance")])
        item = store.claim_next_item(AT)
        assert item is not None
        broken = dataclasses.replace(created(9001), start_at=datetime(2030, 2, 1, 15))  # naive
        with pytest.raises(ValueError, match="timezone-aware"):
            store.mark_item_sent(item.item_id, broken, AT)
        assert store.batch_progress(1).items[0].state == "sending"
        assert store.get_event(9001) is None

    def test_transitions_cannot_skip_a_state(self, store: Store) -> None:
        queue(store, "b1", [new_item(2, "Surveillance")])
        with pytest.raises(OutboxStateError):
            store.mark_item_sent(1, created(9001), AT)  # still pending: never claimed
        with pytest.raises(OutboxStateError):
            store.mark_item_unknown(1, "timeout", AT)
        assert store.get_event(9001) is None
        store.claim_next_item(AT)
        store.mark_item_sent(1, created(9001), AT)
        with pytest.raises(OutboxStateError):
            store.release_item(1, AT)  # a sent item never goes back to pending

    def test_failed_unknown_and_released(self, store: Store) -> None:
        queue(store, "b1", [new_item(2, "A"), new_item(3, "B")])
        store.claim_next_item(AT)
        failed = store.mark_item_failed(
            1,
            "HTTP 422: The event could not be saved",
            {"users_list": ["staff 106 does not exist"]},
            AT,
        )
        assert failed.state == "failed" and failed.error.startswith("HTTP 422")  # type: ignore[union-attr]
        assert failed.field_errors == {"users_list": ("staff 106 does not exist",)}
        store.claim_next_item(AT)
        unknown = store.mark_item_unknown(2, "POST /events: ReadTimeout", AT)
        assert unknown.state == "unknown"
        assert [i.item_id for i in store.list_unresolved_items()] == [2]
        released = store.release_item(2, AT + timedelta(minutes=2))
        assert (released.state, released.attempts) == ("pending", 1)
        again = store.claim_next_item(AT + timedelta(minutes=3))
        assert again is not None and (again.attempts, again.error) == (2, None)
        progress = store.batch_progress(1)
        assert (progress.counts["failed"], progress.counts["sending"]) == (1, 1)

    def test_batches_newest_first_with_counts(self, store: Store) -> None:
        for n in range(1, 4):
            queue(store, f"b{n}", [new_item(2, f"T{n}", batch=f"b{n}")], AT + timedelta(minutes=n))
        assert [b.batch_key for b in store.list_batches()] == ["b3", "b2", "b1"]
        assert [b.batch_key for b in store.list_batches(limit=2)] == ["b3", "b2"]
        store.claim_next_item(AT)
        counts = store.batch_counts([1, 2, 99])
        assert counts[1]["sending"] == 1 and counts[2]["pending"] == 1
        assert sum(counts[99].values()) == 0
        assert store.get_batch(2) is not None and store.get_batch(99) is None
        with pytest.raises(NotFound):
            store.batch_progress(99)

    def test_uploads_round_trip_and_old_ones_are_pruned(self, store: Store) -> None:
        data = "title,calendar\r\nCaf\u00e9,2\r\n".encode("cp1252")
        old = store.save_upload(data, "old.csv", {}, AT - timedelta(days=2))
        upload_id = store.save_upload(data, "shifts.csv", {"calendar": "2", "case": "x"}, AT)
        assert len(upload_id) >= 22  # 128 bits at least, base64
        assert upload_id != old
        upload = store.get_upload(upload_id)
        assert upload is not None
        assert (upload.data, upload.filename, upload.created_at) == (data, "shifts.csv", AT)
        assert upload.choices == {"calendar": "2", "case": "x"}
        assert upload.parsed is None, "saved without its parse"
        assert store.get_upload(old) is None
        assert store.get_upload("no-such-upload") is None

    def test_an_upload_keeps_its_parse_exactly(self, store: Store) -> None:
        parsed = {"version": 1, "entries": [{"title": "Caf\u00e9 \u4f1a\u8b70", "row": 2}]}
        upload_id = store.save_upload(b"title\r\n", "a.csv", {}, AT, parsed=parsed)
        upload = store.get_upload(upload_id)
        assert upload is not None and upload.parsed == parsed

    def test_upgrade_from_version_5_keeps_waiting_uploads(
        self,
        empty_store: Store,
    ) -> None:
        engine = empty_store._engine
        begin = lambda: transaction(engine, write=True)  # noqa: E731
        assert apply_migrations(begin, [m for m in MIGRATIONS if m.version <= 5]) == [1, 2, 3, 4, 5]
        with transaction(engine, write=True) as conn:  # the v5 columns only, as v5 wrote them
            conn.execute(
                text(
                    "INSERT INTO uploads (upload_id, data, filename, choices, created_at)"
                    " VALUES ('u1', :data, 'week.csv', '{}', :at)"
                ),
                {
                    "data": b"title\r\n",
                    "at": AT if engine.dialect.name != "sqlite" else AT.replace(tzinfo=None),
                },
            )
        assert empty_store.migrate()[0] == 6, "the step that adds the kept parse"
        upload = empty_store.get_upload("u1")
        assert upload is not None
        assert (upload.data, upload.filename, upload.parsed) == (b"title\r\n", "week.csv", None)

    def test_one_sender_at_a_time(self, store: Store, other: Store) -> None:
        with store.outbox_drain_lock() as is_held:
            assert is_held
            with other.outbox_drain_lock() as is_second_held:
                assert not is_second_held
        with other.outbox_drain_lock() as is_held_after:
            assert is_held_after

    def test_a_send_error_is_recorded_without_moving_the_cursor(self, store: Store) -> None:
        store.record_sync_error("sending events: refused", AT)  # before any poll
        assert store.get_sync_state().last_error == "sending events: refused"
        store.put_sync_state(SyncState(events_cursor=AT, requests_total=7))
        store.record_sync_error("sending events: down", AT + timedelta(minutes=1))
        state = store.get_sync_state()
        assert (state.events_cursor, state.requests_total) == (AT, 7)
        assert (state.last_error, state.last_error_at) == (
            "sending events: down",
            AT + timedelta(minutes=1),
        )
