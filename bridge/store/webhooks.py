"""Webhooks' durable queue: subscriptions, one message per change, one delivery per subscription.

Entry points: ``queue_event_messages`` (called inside the transaction that applies a pass's event
changes, so a change and its messages commit together or not at all), ``queue_batch_finished``
(inside the transaction that settles an outbox item), and for the sender ``claim_due_deliveries``
then ``record_delivered`` / ``record_failed_attempt``. A subscription receives only changes made
after it was created: deliveries are written for the subscriptions that exist at the change.

Order per event: a delivery waits while an earlier one of the same subscription and subject (an
event, a batch) is still pending, so a receiver never sees an event's update before its creation.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)

from bridge.errors import NotFound
from bridge.models import FeedEvent, Privacy
from bridge.store.sql import AnyRow, chunked
from bridge.store.tables import (
    batches,
    outbox_items,
    staff,
    webhook_deliveries,
    webhook_messages,
    webhook_subscriptions,
)

EVENT_TYPES = ("event.created", "event.updated", "event.deleted", "batch.finished")
ACTIVE, DISABLED = "active", "disabled"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

# The fields a subscriber may be told changed, and which of them each privacy shows (the same
# split as the feeds': busy shows the times, limited adds title and place, full everything).
_BUSY_FIELDS = frozenset({"start", "end", "timezone", "all_day", "calendar", "staff"})
_LIMITED_FIELDS = _BUSY_FIELDS | {"title", "location"}
VISIBLE_FIELDS: Mapping[Privacy, frozenset[str]] = {
    Privacy.BUSY: _BUSY_FIELDS,
    Privacy.LIMITED: _LIMITED_FIELDS,
    Privacy.FULL: _LIMITED_FIELDS | {"description", "case", "subject"},
}
# Which stored fact each of those fields is read from.
_FACT_OF_FIELD = {
    "title": "title",
    "description": "body",
    "location": "address",
    "start": "start_at",
    "end": "end_at",
    "timezone": "timezone",
    "all_day": "is_allday",
    "calendar": "calendar",
    "case": "case",
    "subject": "subject",
    "staff": "staff",
}
_UNFINISHED_ITEMS = ("pending", "sending", "unknown")


@dataclass(frozen=True)
class Subscription:
    """A receiver of signed webhooks. ``secret`` signs every message; it is shown once, when
    the subscription is added, and never in a repr, a list or a page."""

    subscription_id: int
    url: str
    secret: str = field(repr=False)
    event_types: tuple[str, ...]
    calendar_id: int | None
    staff_id: int | None
    privacy: Privacy
    state: str
    created_at: datetime
    disabled_reason: str | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    backlog: int = 0  # deliveries pending
    failed: int = 0  # deliveries given up on, replayable

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE


@dataclass(frozen=True)
class Delivery:
    """One message on its way to one subscription, as the delivery log shows it."""

    delivery_id: int
    subscription_id: int
    message_id: str  # the webhook-id header: the same on every attempt
    event_type: str
    subject_key: str  # "event:123", "batch:4": what the order is kept per
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    window_started_at: datetime  # retries stop a retry window after this
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    claimed_by: str | None = None


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery with all its sender needs: where, the secret, and the stored facts."""

    delivery: Delivery
    subscription: Subscription
    facts: dict[str, Any]


@dataclass(frozen=True)
class EventChange:
    """One event's change in a pass: ``before`` is None for a creation, ``after`` for a
    deletion. Both as feeds read them (names of calendar, case and subject resolved)."""

    event_type: str
    before: FeedEvent | None
    after: FeedEvent | None


def new_message_id() -> str:
    # 128 random bits: unique across processes without asking the database for a sequence.
    return "msg_" + secrets.token_urlsafe(16)


# -- subscriptions ------------------------------------------------------------------------


def insert_subscription(
    conn: Connection,
    *,
    url: str,
    secret: str,
    event_types: Sequence[str],
    calendar_id: int | None,
    staff_id: int | None,
    privacy: Privacy,
    at: datetime,
) -> int:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise ValueError(f"unknown event types: {unknown}")
    result = conn.execute(
        insert(webhook_subscriptions).values(
            url=url,
            secret=secret,
            event_types=",".join(t for t in EVENT_TYPES if t in event_types),
            calendar_id=calendar_id,
            staff_id=staff_id,
            privacy=privacy.value,
            state=ACTIVE,
            created_at=at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _subscription(row: AnyRow, counts: Mapping[tuple[int, str], int]) -> Subscription:
    return Subscription(
        subscription_id=row.subscription_id,
        url=row.url,
        secret=row.secret,
        event_types=tuple(row.event_types.split(",")),
        calendar_id=row.calendar_id,
        staff_id=row.staff_id,
        privacy=Privacy(row.privacy),
        state=row.state,
        created_at=row.created_at,
        disabled_reason=row.disabled_reason,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        backlog=counts.get((row.subscription_id, PENDING), 0),
        failed=counts.get((row.subscription_id, FAILED), 0),
    )


def select_subscriptions(conn: Connection) -> list[Subscription]:
    d = webhook_deliveries.c
    counts = {
        (subscription_id, state): int(count)
        for subscription_id, state, count in conn.execute(
            select(d.subscription_id, d.state, func.count())
            .where(d.state.in_((PENDING, FAILED)))
            .group_by(d.subscription_id, d.state)
        )
    }
    query = select(webhook_subscriptions).order_by(webhook_subscriptions.c.subscription_id)
    return [_subscription(row, counts) for row in conn.execute(query)]


def select_subscription(conn: Connection, subscription_id: int) -> Subscription:
    found = [s for s in select_subscriptions(conn) if s.subscription_id == subscription_id]
    if not found:
        raise NotFound("webhook subscription", subscription_id)
    return found[0]


def delete_subscription(conn: Connection, subscription_id: int) -> None:
    select_subscription(conn, subscription_id)
    d = webhook_deliveries.c
    conn.execute(delete(webhook_deliveries).where(d.subscription_id == subscription_id))
    conn.execute(
        delete(webhook_subscriptions).where(
            webhook_subscriptions.c.subscription_id == subscription_id
        )
    )
    _delete_orphan_messages(conn)


def disable_subscription(conn: Connection, subscription_id: int, reason: str, at: datetime) -> None:
    conn.execute(
        update(webhook_subscriptions)
        .where(webhook_subscriptions.c.subscription_id == subscription_id)
        .values(state=DISABLED, disabled_reason=reason, last_error=reason, last_error_at=at)
    )


def _active_subscriptions(conn: Connection, event_types: Iterable[str]) -> list[Subscription]:
    wanted = set(event_types)
    query = select(webhook_subscriptions).where(webhook_subscriptions.c.state == ACTIVE)
    found = [_subscription(row, {}) for row in conn.execute(query)]
    return [s for s in found if wanted & set(s.event_types)]


def has_event_subscribers(conn: Connection) -> bool:
    """Whether any active subscription takes event messages: else a pass reads nothing more.

    A database not yet at migration 10 has none (events are written at older versions while
    upgrading, and in the upgrade tests).
    """
    if not inspect(conn).has_table("webhook_subscriptions"):
        return False
    return bool(_active_subscriptions(conn, EVENT_TYPES[:3]))


# -- queueing -----------------------------------------------------------------------------


def queue_event_messages(conn: Connection, changes: Sequence[EventChange], at: datetime) -> int:
    """A message per change that some active subscription wants, and a delivery per such
    subscription (its types, calendar and staff filters, and for an update a change its
    privacy shows). Returns the deliveries queued."""
    subscriptions = _active_subscriptions(conn, {c.event_type for c in changes})
    if not subscriptions or not changes:
        return 0
    staff_names = _staff_names(conn, changes)
    messages: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for change in changes:
        before = _facts(change.before, staff_names) if change.before else None
        after = _facts(change.after, staff_names) if change.after else None
        current = after or before
        assert current is not None
        changed = changed_fields(before, after) if change.event_type == "event.updated" else []
        takers = [
            s
            for s in subscriptions
            if change.event_type in s.event_types
            and _matches(s, before, after)
            and (change.event_type != "event.updated" or set(changed) & VISIBLE_FIELDS[s.privacy])
        ]
        if not takers:
            continue
        message_id = new_message_id()
        subject = f"event:{current['event_id']}"
        facts = {"event": current, "changed": changed}
        messages.append(_message(message_id, change.event_type, subject, facts, at))
        deliveries += [_delivery(s, message_id, subject, at) for s in takers]
    _insert(conn, messages, deliveries)
    return len(deliveries)


def queue_batch_finished(conn: Connection, batch_id: int, at: datetime) -> int:
    """``batch.finished`` for the batch once none of its items waits to be sent, to every
    active subscription that asked for it (once per batch). Returns the deliveries queued."""
    subscriptions = _active_subscriptions(conn, ["batch.finished"])
    if not subscriptions:
        return 0
    subject = f"batch:{batch_id}"
    already = select(webhook_messages.c.message_id).where(
        webhook_messages.c.subject_key == subject,
        webhook_messages.c.event_type == "batch.finished",
    )
    if conn.execute(already).first() is not None:
        return 0
    counts: dict[str, int] = dict(
        conn.execute(
            select(outbox_items.c.state, func.count())
            .where(outbox_items.c.batch_id == batch_id)
            .group_by(outbox_items.c.state)
        ).all()
    )
    if any(counts.get(state) for state in _UNFINISHED_ITEMS):
        return 0
    batch = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).one()
    created = [
        event_id
        for (event_id,) in conn.execute(
            select(outbox_items.c.event_id)
            .where(outbox_items.c.batch_id == batch_id, outbox_items.c.event_id.is_not(None))
            .order_by(outbox_items.c.item_id)
        )
    ]
    facts = {
        "batch": {
            "batch_id": batch_id,
            "label": batch.label,
            "source": batch.source,
            "created_at": _iso(batch.created_at),
            "finished_at": _iso(at),
            "rows": batch.total,
            "invalid": batch.invalid,
            "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0),
            "event_ids": created,
        }
    }
    message_id = new_message_id()
    _insert(
        conn,
        [_message(message_id, "batch.finished", subject, facts, at)],
        [_delivery(s, message_id, subject, at) for s in subscriptions],
    )
    return len(subscriptions)


def _insert(
    conn: Connection, messages: list[dict[str, Any]], deliveries: list[dict[str, Any]]
) -> None:
    if messages:
        conn.execute(insert(webhook_messages), messages)
    if deliveries:
        conn.execute(insert(webhook_deliveries), deliveries)


def _message(
    message_id: str, event_type: str, subject: str, facts: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "event_type": event_type,
        "subject_key": subject,
        "facts": json.dumps(facts, sort_keys=True, ensure_ascii=False),
        "created_at": at,
    }


def _delivery(
    subscription: Subscription, message_id: str, subject: str, at: datetime
) -> dict[str, Any]:
    return {
        "subscription_id": subscription.subscription_id,
        "message_id": message_id,
        "subject_key": subject,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "window_started_at": at,
    }


def _matches(
    subscription: Subscription, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> bool:
    """The filters: an event moved out of the calendar (or away from the staff member) is
    still news to that calendar's subscriber, so either side of the change may match."""
    sides = [side for side in (before, after) if side is not None]
    if subscription.calendar_id is not None and not any(
        (side["calendar"] or {}).get("id") == subscription.calendar_id for side in sides
    ):
        return False
    return subscription.staff_id is None or any(
        subscription.staff_id in [person["id"] for person in side["staff"]] for side in sides
    )


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The subscriber-facing fields whose stored facts differ between the two sides."""
    if before is None or after is None:
        return []
    return [name for name, fact in _FACT_OF_FIELD.items() if before.get(fact) != after.get(fact)]


def _staff_names(conn: Connection, changes: Sequence[EventChange]) -> dict[int, str]:
    ids = {
        staff_id
        for change in changes
        for item in (change.before, change.after)
        if item is not None
        for staff_id in item.event.staff_ids
    }
    names: dict[int, str] = {}
    for chunk in chunked(ids):
        for row in conn.execute(select(staff).where(staff.c.staff_id.in_(chunk))):
            names[row.staff_id] = f"{row.first_name} {row.last_name}".strip()
    return names


def _facts(item: FeedEvent, staff_names: Mapping[int, str]) -> dict[str, Any]:
    """The event as stored, in JSON values: what any subscriber's body is made from later."""
    event = item.event
    address = event.address
    return {
        "event_id": event.event_id,
        "title": event.title,
        "body": event.body,
        "start_at": _iso(event.start_at),
        "end_at": _iso(event.end_at),
        "timezone": event.timezone,
        "calendar_timezone": item.calendar_timezone,
        "is_allday": event.is_allday,
        "address": None
        if address is None or address.is_empty
        else {"one_line": address.one_line(), **dataclasses.asdict(address)},
        "calendar": None
        if event.calendar_id is None
        else {"id": event.calendar_id, "name": item.calendar_name},
        "case": None if event.case_id is None else {"id": event.case_id, "label": item.case_label},
        "subject": None
        if event.subject_id is None
        else {"id": event.subject_id, "name": item.subject_name},
        "staff": [
            {"id": staff_id, "name": staff_names.get(staff_id) or f"Staff {staff_id}"}
            for staff_id in sorted(set(event.staff_ids))
        ],
        "created_at": _iso(event.created_at),
        "updated_at": _iso(event.updated_at),
        "sequence": item.sequence,
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- sending ------------------------------------------------------------------------------


def _due_condition(now: datetime | None, holder: str) -> Any:
    """Pending, to an active subscription, not claimed by ``holder``, its earlier deliveries
    (same subscription and subject) done; and due at ``now`` unless None."""
    d = webhook_deliveries.c
    earlier = webhook_deliveries.alias("earlier")
    waits_for_earlier = exists().where(
        earlier.c.subscription_id == d.subscription_id,
        earlier.c.subject_key == d.subject_key,
        earlier.c.state == PENDING,
        earlier.c.delivery_id < d.delivery_id,
    )
    condition = and_(
        d.state == PENDING,
        webhook_subscriptions.c.state == ACTIVE,
        # Claimed by another holder: a worker that died mid-send (or lost the lease). At least
        # once: it is sent again, under the same id.
        or_(d.claimed_by.is_(None), d.claimed_by != holder),
        ~waits_for_earlier,
    )
    return condition if now is None else and_(condition, d.next_attempt_at <= now)


def _joined() -> Any:
    return webhook_deliveries.join(
        webhook_subscriptions,
        webhook_subscriptions.c.subscription_id == webhook_deliveries.c.subscription_id,
    ).join(webhook_messages, webhook_messages.c.message_id == webhook_deliveries.c.message_id)


def claim_due_deliveries(
    conn: Connection,
    now: datetime,
    holder: str,
    *,
    skip_subscriptions: Iterable[int] = (),
    limit: int = 50,
) -> list[DueDelivery]:
    """Claim for ``holder`` the deliveries due at ``now`` whose earlier ones are done, oldest
    first, of subscriptions not in ``skip_subscriptions`` (being sent to already)."""
    d = webhook_deliveries.c
    query = (
        select(
            webhook_deliveries,
            webhook_messages.c.event_type,
            webhook_messages.c.facts,
            webhook_messages.c.created_at.label("message_created_at"),
        )
        .select_from(_joined())
        .where(_due_condition(now, holder))
        .order_by(d.delivery_id)
        .limit(limit)
    )
    skipped = set(skip_subscriptions)
    if skipped:
        query = query.where(d.subscription_id.not_in(skipped))
    rows = conn.execute(query).all()
    if not rows:
        return []
    conn.execute(
        update(webhook_deliveries)
        .where(d.delivery_id.in_([row.delivery_id for row in rows]))
        .values(claimed_by=holder, claimed_at=now)
    )
    subscriptions = {s.subscription_id: s for s in select_subscriptions(conn)}
    return [
        DueDelivery(
            delivery=_delivery_of(row, claimed_by=holder),
            subscription=subscriptions[row.subscription_id],
            facts=json.loads(row.facts),
        )
        for row in rows
    ]


def _delivery_of(row: AnyRow, **override: Any) -> Delivery:
    values = {
        "delivery_id": row.delivery_id,
        "subscription_id": row.subscription_id,
        "message_id": row.message_id,
        "event_type": row.event_type,
        "subject_key": row.subject_key,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": row.message_created_at,
        "next_attempt_at": row.next_attempt_at,
        "window_started_at": row.window_started_at,
        "last_attempt_at": row.last_attempt_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "delivered_at": row.delivered_at,
        "claimed_by": row.claimed_by,
    }
    return Delivery(**{**values, **override})


def record_delivered(conn: Connection, delivery_id: int, at: datetime, status: int) -> None:
    subscription_id = _finish_attempt(
        conn,
        delivery_id,
        at,
        state=DELIVERED,
        last_status=status,
        last_error=None,
        delivered_at=at,
    )
    if subscription_id is not None:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.subscription_id == subscription_id)
            .values(last_success_at=at)
        )


def record_failed_attempt(
    conn: Connection,
    delivery_id: int,
    at: datetime,
    *,
    status: int | None,
    error: str,
    next_attempt_at: datetime | None,
) -> None:
    """An attempt that failed: retried at ``next_attempt_at``, or given up on (None)."""
    subscription_id = _finish_attempt(
        conn,
        delivery_id,
        at,
        state=PENDING if next_attempt_at is not None else FAILED,
        last_status=status,
        last_error=error,
        **({"next_attempt_at": next_attempt_at} if next_attempt_at is not None else {}),
    )
    if subscription_id is not None:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.subscription_id == subscription_id)
            .values(last_error=error, last_error_at=at)
        )


def _finish_attempt(conn: Connection, delivery_id: int, at: datetime, **values: Any) -> int | None:
    """Record an attempt's outcome on a delivery still pending (a replay or a removal may have
    come first); its subscription's id, or None when there was nothing to record."""
    d = webhook_deliveries.c
    row = conn.execute(
        select(d.subscription_id).where(d.delivery_id == delivery_id, d.state == PENDING)
    ).first()
    if row is None:
        return None
    conn.execute(
        update(webhook_deliveries)
        .where(d.delivery_id == delivery_id)
        .values(
            attempts=d.attempts + 1,
            last_attempt_at=at,
            claimed_by=None,
            claimed_at=None,
            **values,
        )
    )
    return int(row.subscription_id)


def release_claims(conn: Connection, delivery_ids: Sequence[int]) -> None:
    """Claims not attempted (the sender stopped first): due again at once, attempts unchanged."""
    for chunk in chunked(delivery_ids):
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.delivery_id.in_(chunk))
            .values(claimed_by=None, claimed_at=None)
        )


def next_due_at(
    conn: Connection, holder: str, skip_subscriptions: Iterable[int] = ()
) -> datetime | None:
    """When the next delivery ``claim_due_deliveries`` could claim falls due (one waiting for
    an earlier delivery counts when that one is done): for the sender's sleep."""
    d = webhook_deliveries.c
    query = select(func.min(d.next_attempt_at)).select_from(_joined())
    query = query.where(_due_condition(None, holder))
    skipped = set(skip_subscriptions)
    if skipped:
        query = query.where(d.subscription_id.not_in(skipped))
    found: datetime | None = conn.execute(query).scalar_one()
    return found


# -- the delivery log and replays -----------------------------------------------------------


def _select_deliveries() -> Select[Any]:
    """Deliveries with their message's type and time, as `_delivery_of` reads them."""
    return select(
        webhook_deliveries,
        webhook_messages.c.event_type,
        webhook_messages.c.created_at.label("message_created_at"),
    ).select_from(_joined())


def select_deliveries(
    conn: Connection,
    *,
    subscription_id: int | None = None,
    states: Iterable[str] | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """The newest deliveries first (of one subscription, in some states, if given)."""
    d = webhook_deliveries.c
    query = _select_deliveries().order_by(d.delivery_id.desc()).limit(limit)
    if subscription_id is not None:
        query = query.where(d.subscription_id == subscription_id)
    if states is not None:
        query = query.where(d.state.in_(list(states)))
    return [_delivery_of(row) for row in conn.execute(query)]


def select_delivery(conn: Connection, delivery_id: int) -> Delivery:
    query = _select_deliveries().where(webhook_deliveries.c.delivery_id == delivery_id)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("webhook delivery", delivery_id)
    return _delivery_of(row)


def replay_deliveries(
    conn: Connection,
    at: datetime,
    *,
    delivery_id: int | None = None,
    subscription_id: int | None = None,
) -> int:
    """Queue failed deliveries again (one, or all of a subscription), due now, with a fresh
    retry window and the same message id. Returns how many were queued."""
    d = webhook_deliveries.c
    condition = d.state == FAILED
    if delivery_id is not None:
        select_delivery(conn, delivery_id)
        condition = and_(condition, d.delivery_id == delivery_id)
    if subscription_id is not None:
        select_subscription(conn, subscription_id)
        condition = and_(condition, d.subscription_id == subscription_id)
    result = conn.execute(
        update(webhook_deliveries)
        .where(condition)
        .values(state=PENDING, next_attempt_at=at, window_started_at=at)
    )
    return int(result.rowcount)


def prune_deliveries(
    conn: Connection, *, delivered_before: datetime, failed_before: datetime
) -> int:
    """Forget deliveries done long ago (and messages no delivery needs any more)."""
    d = webhook_deliveries.c
    result = conn.execute(
        delete(webhook_deliveries).where(
            or_(
                and_(d.state == DELIVERED, d.delivered_at < delivered_before),
                and_(d.state == FAILED, d.last_attempt_at < failed_before),
            )
        )
    )
    if result.rowcount:
        _delete_orphan_messages(conn)
    return int(result.rowcount)


def _delete_orphan_messages(conn: Connection) -> None:
    used = select(webhook_deliveries.c.message_id).where(
        webhook_deliveries.c.message_id == webhook_messages.c.message_id
    )
    conn.execute(delete(webhook_messages).where(~exists(used)))
