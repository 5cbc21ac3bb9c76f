"""Outbox items and their batches: each draft queued once, then moved through its send states.

An item moves pending -> sending (committed before its POST) -> sent | failed | unknown; an
unknown or abandoned sending item is checked against Trackops before it may become pending again.
Entry points: ``queue_batch``, ``claim_next_item`` and the ``mark_item_*`` transitions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from bridge.errors import NotFound, StoreError
from bridge.models import Event
from bridge.store.events import apply_event_changes
from bridge.store.sql import AnyRow, chunked, insert_or_merge
from bridge.store.tables import batches, outbox_items

PENDING, SENDING, UNKNOWN, SENT, FAILED = "pending", "sending", "unknown", "sent", "failed"
ITEM_STATES = (PENDING, SENDING, UNKNOWN, SENT, FAILED)
UNFINISHED_STATES = (PENDING, SENDING, UNKNOWN)


@dataclass(frozen=True)
class Batch:
    """One confirmed upload or form submission. Counts are of its preview's rows."""

    batch_id: int
    batch_key: str
    source: str  # "csv" | "ics" | "form"
    label: str  # file name, or "Form entry"
    created_at: datetime
    total: int
    ready: int
    invalid: int
    rejected: str | None = None  # JSON of the rows not queued (bridge.submissions.RejectedRows)


@dataclass(frozen=True)
class OutboxItem:
    """One draft to send, with the exact POST /events body, and what became of it."""

    item_id: int
    batch_id: int
    row: int | None
    idempotency_key: str
    title: str
    body: dict[str, Any]
    state: str  # one of ITEM_STATES
    event_id: int | None
    error: str | None
    attempts: int
    updated_at: datetime
    where: str = ""  # "Row 4", "Event 3 ('Hearing')", "Form entry"
    field_errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchProgress:
    batch: Batch
    counts: dict[str, int]  # every state, zeros included
    items: list[OutboxItem]  # in the order they were queued

    @property
    def is_finished(self) -> bool:
        return not any(self.counts[state] for state in UNFINISHED_STATES)

    @property
    def total(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class NewItem:
    """What a submission hands the store for each ready row."""

    row: int | None
    where: str
    idempotency_key: str
    title: str
    body: dict[str, Any]


@dataclass(frozen=True)
class QueueResult:
    batch: Batch
    is_new_batch: bool
    queued: int
    already_queued: int  # the same item (same idempotency key) was already in the outbox
    copies_skipped: int  # the same body is already queued or sent from another batch


class OutboxStateError(StoreError):
    """An item was not in the state a transition needs (a bug, or two senders at once)."""

    def __init__(self, item_id: int, wanted: Collection[str]) -> None:
        self.item_id = item_id
        super().__init__(f"outbox item {item_id} is not {' or '.join(wanted)}")


def body_digest(body: Mapping[str, Any]) -> str:
    """sha256 of the body's canonical JSON: equal for equal content, whatever the key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# -- batches ---------------------------------------------------------------------------------


def queue_batch(
    conn: Connection,
    *,
    batch_key: str,
    source: str,
    label: str,
    total: int,
    ready: int,
    invalid: int,
    items: Sequence[NewItem],
    at: datetime,
    rejected: str | None = None,
) -> QueueResult:
    """Record the batch (once per key) and queue each item not already in the outbox.

    An item is left out when its idempotency key is already queued (this batch again), or when
    an identical body is queued or sent from another batch (a corrected file uploaded again):
    either way the event exists or will, and sending it again would make a duplicate.
    """
    # ON CONFLICT: a second submission racing this one (a double-clicked button) waits for it
    # and then finds its batch, rather than failing on the unique key.
    inserted = conn.execute(
        insert_or_merge(conn, batches)
        .values(
            batch_key=batch_key,
            source=source,
            label=label,
            created_at=at,
            total=total,
            ready=ready,
            invalid=invalid,
            rejected=rejected,
        )
        .on_conflict_do_nothing(index_elements=["batch_key"])
        .returning(batches.c.batch_id)
    )
    is_new_batch = inserted.scalar() is not None
    batch = select_batch_by_key(conn, batch_key)
    if batch is None:  # inserted above, or by the submission it waited for: cannot happen
        raise StoreError(f"batch {batch_key} was neither inserted nor found")
    known_keys = _existing_keys(conn, [item.idempotency_key for item in items])
    copies = _live_bodies_elsewhere(
        conn, {body_digest(item.body) for item in items}, batch.batch_id
    )
    rows: list[dict[str, Any]] = []
    already = skipped = 0
    for item in items:
        digest = body_digest(item.body)
        if item.idempotency_key in known_keys:
            already += 1
        elif digest in copies:
            skipped += 1
        else:
            known_keys.add(item.idempotency_key)
            rows.append(
                {
                    "batch_id": batch.batch_id,
                    "source_row": item.row,
                    "row_label": item.where,
                    "idempotency_key": item.idempotency_key,
                    "body_sha256": digest,
                    "title": item.title,
                    "body": json.dumps(item.body, ensure_ascii=False),
                    "state": PENDING,
                    "attempts": 0,
                    "created_at": at,
                    "updated_at": at,
                }
            )
    if rows:
        conn.execute(
            insert_or_merge(conn, outbox_items).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            ),
            rows,
        )
    return QueueResult(batch, is_new_batch, len(rows), already, skipped)


def _existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(keys):
        query = select(outbox_items.c.idempotency_key).where(
            outbox_items.c.idempotency_key.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def _live_bodies_elsewhere(conn: Connection, digests: set[str], batch_id: int) -> set[str]:
    found: set[str] = set()
    for chunk in chunked(sorted(digests)):
        query = select(outbox_items.c.body_sha256).where(
            outbox_items.c.body_sha256.in_(chunk),
            outbox_items.c.state != FAILED,
            outbox_items.c.batch_id != batch_id,
        )
        found.update(conn.execute(query).scalars())
    return found


def select_items_matching(
    conn: Connection, keys: Collection[str], digests: Collection[str]
) -> list[OutboxItem]:
    """Items with one of the idempotency keys, or with one of the bodies and not failed."""
    found: dict[int, OutboxItem] = {}
    for chunk in chunked(sorted(keys)):
        query = select(outbox_items).where(outbox_items.c.idempotency_key.in_(chunk))
        found.update((row.item_id, _item_from_row(row)) for row in conn.execute(query))
    for chunk in chunked(sorted(digests)):
        query = select(outbox_items).where(
            outbox_items.c.body_sha256.in_(chunk), outbox_items.c.state != FAILED
        )
        found.update((row.item_id, _item_from_row(row)) for row in conn.execute(query))
    return [found[item_id] for item_id in sorted(found)]


def select_batch(conn: Connection, batch_id: int) -> Batch | None:
    row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
    return _batch_from_row(row) if row is not None else None


def select_batch_by_key(conn: Connection, batch_key: str) -> Batch | None:
    row = conn.execute(select(batches).where(batches.c.batch_key == batch_key)).first()
    return _batch_from_row(row) if row is not None else None


def select_batches(conn: Connection, limit: int) -> list[Batch]:
    query = select(batches).order_by(batches.c.batch_id.desc()).limit(limit)
    return [_batch_from_row(row) for row in conn.execute(query)]


def select_batch_counts(conn: Connection, batch_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Items per state of each batch, every state present (zeros included)."""
    counts = {batch_id: dict.fromkeys(ITEM_STATES, 0) for batch_id in batch_ids}
    for chunk in chunked(sorted(batch_ids)):
        query = (
            select(outbox_items.c.batch_id, outbox_items.c.state, func.count())
            .where(outbox_items.c.batch_id.in_(chunk))
            .group_by(outbox_items.c.batch_id, outbox_items.c.state)
        )
        for batch_id, state, count in conn.execute(query):
            counts[batch_id][state] = int(count)
    return counts


def select_batch_progress(conn: Connection, batch_id: int) -> BatchProgress:
    batch = select_batch(conn, batch_id)
    if batch is None:
        raise NotFound("batch", batch_id)
    query = (
        select(outbox_items)
        .where(outbox_items.c.batch_id == batch_id)
        .order_by(outbox_items.c.item_id)
    )
    items = [_item_from_row(row) for row in conn.execute(query)]
    counts = dict.fromkeys(ITEM_STATES, 0)
    for item in items:
        counts[item.state] += 1
    return BatchProgress(batch, counts, items)


# -- sending ---------------------------------------------------------------------------------


def claim_next_item(conn: Connection, at: datetime, batch_id: int | None) -> OutboxItem | None:
    """The oldest pending item, now marked sending; None when none is pending."""
    query = select(outbox_items.c.item_id).where(outbox_items.c.state == PENDING)
    if batch_id is not None:
        query = query.where(outbox_items.c.batch_id == batch_id)
    query = query.order_by(outbox_items.c.item_id).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    item_id = conn.execute(query).scalar()
    if item_id is None:
        return None
    _transition(
        conn,
        item_id,
        (PENDING,),
        state=SENDING,
        attempts=outbox_items.c.attempts + 1,
        error=None,
        field_errors=None,
        updated_at=at,
    )
    return select_item(conn, item_id)


def select_unresolved_items(conn: Connection, batch_id: int | None) -> list[OutboxItem]:
    """Items whose send may or may not have created an event (sending or unknown), oldest first."""
    query = select(outbox_items).where(outbox_items.c.state.in_((SENDING, UNKNOWN)))
    if batch_id is not None:
        query = query.where(outbox_items.c.batch_id == batch_id)
    return [_item_from_row(row) for row in conn.execute(query.order_by(outbox_items.c.item_id))]


def mark_item_sent(conn: Connection, item_id: int, event: Event, at: datetime) -> OutboxItem:
    """Record the created event on the item and put it in the mirror (caller's transaction)."""
    _transition(
        conn,
        item_id,
        (SENDING, UNKNOWN),
        state=SENT,
        event_id=event.event_id,
        error=None,
        field_errors=None,
        updated_at=at,
    )
    apply_event_changes(conn, [event], [], at)
    return _require_item(conn, item_id)


def mark_item_failed(
    conn: Connection,
    item_id: int,
    error: str,
    field_errors: Mapping[str, Sequence[str]],
    at: datetime,
) -> OutboxItem:
    _transition(
        conn,
        item_id,
        (SENDING,),
        state=FAILED,
        error=error,
        field_errors=json.dumps({k: list(v) for k, v in field_errors.items()}, ensure_ascii=False)
        if field_errors
        else None,
        updated_at=at,
    )
    return _require_item(conn, item_id)


def mark_item_unknown(conn: Connection, item_id: int, error: str, at: datetime) -> OutboxItem:
    _transition(conn, item_id, (SENDING,), state=UNKNOWN, error=error, updated_at=at)
    return _require_item(conn, item_id)


def release_item(conn: Connection, item_id: int, error: str | None, at: datetime) -> OutboxItem:
    """Back to pending: the send never reached Trackops, or Trackops was searched and lacks it."""
    _transition(conn, item_id, (SENDING, UNKNOWN), state=PENDING, error=error, updated_at=at)
    return _require_item(conn, item_id)


def select_linked_event_ids(conn: Connection, event_ids: Collection[int]) -> set[int]:
    """Which of these events an outbox item already records as the one it created."""
    found: set[int] = set()
    for chunk in chunked(sorted(event_ids)):
        query = select(outbox_items.c.event_id).where(outbox_items.c.event_id.in_(chunk))
        found.update(conn.execute(query).scalars())
    return found


def count_items(conn: Connection, states: Collection[str], batch_id: int | None) -> int:
    query = select(func.count()).select_from(outbox_items).where(outbox_items.c.state.in_(states))
    if batch_id is not None:
        query = query.where(outbox_items.c.batch_id == batch_id)
    return int(conn.execute(query).scalar_one())


def select_item(conn: Connection, item_id: int) -> OutboxItem | None:
    row = conn.execute(select(outbox_items).where(outbox_items.c.item_id == item_id)).first()
    return _item_from_row(row) if row is not None else None


def _require_item(conn: Connection, item_id: int) -> OutboxItem:
    item = select_item(conn, item_id)
    if item is None:
        raise NotFound("outbox item", item_id)
    return item


def _transition(conn: Connection, item_id: int, wanted: Sequence[str], **values: Any) -> None:
    """Change an item only from one of the `wanted` states, so no state is skipped or undone."""
    result = conn.execute(
        update(outbox_items)
        .where(outbox_items.c.item_id == item_id, outbox_items.c.state.in_(wanted))
        .values(**values)
    )
    if result.rowcount != 1:
        raise OutboxStateError(item_id, wanted)


# -- rows -> records -------------------------------------------------------------------------


def _batch_from_row(row: AnyRow) -> Batch:
    return Batch(
        batch_id=row.batch_id,
        batch_key=row.batch_key,
        source=row.source,
        label=row.label,
        created_at=row.created_at,
        total=row.total,
        ready=row.ready,
        invalid=row.invalid,
        rejected=row.rejected,
    )


def _item_from_row(row: AnyRow) -> OutboxItem:
    field_errors = json.loads(row.field_errors) if row.field_errors else {}
    return OutboxItem(
        item_id=row.item_id,
        batch_id=row.batch_id,
        row=row.source_row,
        idempotency_key=row.idempotency_key,
        title=row.title,
        body=json.loads(row.body),
        state=row.state,
        event_id=row.event_id,
        error=row.error,
        attempts=row.attempts,
        updated_at=row.updated_at,
        where=row.row_label,
        field_errors={name: tuple(problems) for name, problems in field_errors.items()},
    )
