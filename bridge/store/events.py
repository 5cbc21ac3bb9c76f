"""Stored events: applying a plan of changes in one go, and reading events back.

Entry points: ``apply_event_plan(conn, plan, at)`` (a plan from ``bridge.changes``) and
``apply_event_changes(conn, upserts, tombstones, at)``, which plans and applies in one transaction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    delete,
    func,
    select,
    update,
)

from bridge.changes import ChangeKind, EventDigest, EventPlan, plan_event_changes
from bridge.models import Address, Case, Event, Feed, FeedEvent, FeedKind
from bridge.store import webhooks as webhook_rows
from bridge.store.feeds import bump_feed_versions
from bridge.store.rows import ChangeCounts, FeedRow
from bridge.store.sql import AnyRow, chunked, insert_or_merge
from bridge.store.tables import calendars, cases, event_staff, events, subjects

# Columns that hold an Event's own fields (the rest are the store's bookkeeping).
_EVENT_COLUMNS = (
    "event_id",
    "calendar_id",
    "case_id",
    "subject_id",
    "case_service_id",
    "title",
    "body",
    "start_at",
    "end_at",
    "timezone",
    "is_allday",
    "address",
    "alert_at",
    "created_at",
    "updated_at",
    "raw_json",
)


def select_event_digests(conn: Connection, event_ids: Iterable[int]) -> dict[int, EventDigest]:
    return {
        event_id: EventDigest(
            content_hash=row.content_hash,
            is_deleted=row.deleted_at is not None,
            calendar_id=row.calendar_id,
            title=row.title,
        )
        for event_id, row in _select_existing(conn, set(event_ids)).items()
    }


def apply_event_changes(
    conn: Connection,
    upserts: Sequence[Event],
    tombstones: Sequence[int],
    at: datetime,
    *,
    announce: bool = True,
) -> ChangeCounts:
    """Plan ``upserts`` and ``tombstones`` against the stored digests, then apply the plan.

    Runs inside the caller's transaction, so the plan cannot go stale before it is applied;
    unchanged events have their raw JSON and update stamp refreshed. See
    ``bridge.changes.plan_event_changes`` for duplicates and contradictions.
    """
    stored = select_event_digests(conn, [*(e.event_id for e in upserts), *tombstones])
    plan = plan_event_changes(upserts, stored, tombstones=tombstones, refresh_unchanged=True)
    return apply_event_plan(conn, plan, at, announce=announce)


def apply_event_plan(
    conn: Connection, plan: EventPlan, at: datetime, *, announce: bool = True
) -> ChangeCounts:
    """Write exactly what ``plan`` says, and bump the versions of the feeds it touches.

    Runs inside the caller's transaction. With ``announce``, the changes are queued for webhook
    subscribers in the same transaction (a first full pull passes False: the bridge learning
    what exists is no news).
    """
    rewrites = [w for w in plan.writes if w.before is not None]  # changed or undeleted
    old_staff = select_staff_ids(
        conn, [*(w.event.event_id for w in rewrites), *(i for i, _ in plan.deletions)]
    )
    _discover_calendars(conn, {e.calendar_id for e in plan.upserts if e.calendar_id is not None})

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    touched_calendars: set[int] = set()
    touched_staff: set[int] = set()
    for write in plan.writes:
        event = write.event
        if write.before is None:
            inserts.append(
                {
                    **event_values(event),
                    "content_hash": write.content_hash,
                    "sequence": 0,
                    "first_seen_at": at,
                    "changed_at": at,
                    "deleted_at": None,
                }
            )
        else:
            values = event_values(event)
            values["b_event_id"] = values.pop("event_id")  # SET may not bind the WHERE's name
            updates.append({**values, "content_hash": write.content_hash})
            touched_staff |= old_staff.get(event.event_id, set())
            if write.before.calendar_id is not None:
                touched_calendars.add(write.before.calendar_id)
        touched_staff |= set(event.staff_ids)
        if event.calendar_id is not None:
            touched_calendars.add(event.calendar_id)
    refreshes = [
        {"b_event_id": event.event_id, "raw_json": event.raw_json, "updated_at": event.updated_at}
        for event in (plan.unchanged if plan.refresh_unchanged else ())
    ]
    for event_id, digest in plan.deletions:
        touched_staff |= old_staff.get(event_id, set())
        if digest.calendar_id is not None:
            touched_calendars.add(digest.calendar_id)

    created = [w.event.event_id for w in plan.writes if w.before is None]
    changed = [w.event.event_id for w in rewrites]
    gone = [event_id for event_id, _ in plan.deletions]
    watched = announce and webhook_rows.has_event_subscribers(conn)
    before = _by_id(select_feed_events_by_id(conn, [*changed, *gone])) if watched else {}

    if inserts:
        # A `send` run outside the worker may record the event it created between a sync's
        # planning and this write; that row stands (the next overlap re-reads the event).
        conn.execute(
            insert_or_merge(conn, events).on_conflict_do_nothing(index_elements=["event_id"]),
            inserts,
        )
    if updates:
        conn.execute(
            update(events)
            .where(events.c.event_id == bindparam("b_event_id"))
            .values(sequence=events.c.sequence + 1, changed_at=at, deleted_at=None),
            updates,
        )
    if refreshes:
        conn.execute(update(events).where(events.c.event_id == bindparam("b_event_id")), refreshes)
    _replace_staff(conn, plan.upserts)
    for chunk in chunked(gone):
        conn.execute(
            update(events)
            .where(events.c.event_id.in_(chunk), events.c.deleted_at.is_(None))
            .values(deleted_at=at, sequence=events.c.sequence + 1, changed_at=at)
        )

    if plan.writes or plan.deletions:
        bump_feed_versions(
            conn, calendar_ids=touched_calendars, staff_ids=touched_staff, include_all=True
        )
    if watched:
        after = _by_id(select_feed_events_by_id(conn, [*created, *changed]))
        revived = {w.event.event_id for w in plan.of_kind(ChangeKind.UNDELETED)}
        news = [webhook_rows.EventChange("event.created", None, after[i]) for i in created]
        news += [
            webhook_rows.EventChange("event.created", None, after[i])
            if i in revived
            else webhook_rows.EventChange("event.updated", before[i], after[i])
            for i in changed
        ]
        news += [webhook_rows.EventChange("event.deleted", before[i], None) for i in gone]
        webhook_rows.queue_event_messages(conn, news, at)
    return ChangeCounts(
        inserted=len(created),
        updated=len(plan.of_kind(ChangeKind.CHANGED)),
        unchanged=len(plan.unchanged),
        deleted=len(gone),
        undeleted=len(plan.of_kind(ChangeKind.UNDELETED)),
        deleted_events=[(event_id, digest.title) for event_id, digest in plan.deletions],
    )


def _by_id(items: Iterable[FeedEvent]) -> dict[int, FeedEvent]:
    return {item.event.event_id: item for item in items}


def _select_existing(conn: Connection, event_ids: Iterable[int]) -> dict[int, AnyRow]:
    columns = (
        events.c.event_id,
        events.c.content_hash,
        events.c.deleted_at,
        events.c.calendar_id,
        events.c.title,
    )
    found: dict[int, AnyRow] = {}
    for chunk in chunked(event_ids):
        for row in conn.execute(select(*columns).where(events.c.event_id.in_(chunk))):
            found[row.event_id] = row
    return found


def select_staff_ids(conn: Connection, event_ids: Iterable[int]) -> dict[int, set[int]]:
    """The staff linked to each of the given events (events with none are left out)."""
    staff: dict[int, set[int]] = {}
    for chunk in chunked(event_ids):
        query = select(event_staff.c.event_id, event_staff.c.staff_id).where(
            event_staff.c.event_id.in_(chunk)
        )
        for event_id, staff_id in conn.execute(query):
            staff.setdefault(event_id, set()).add(staff_id)
    return staff


def _replace_staff(conn: Connection, written: Sequence[Event]) -> None:
    for chunk in chunked(e.event_id for e in written):
        conn.execute(delete(event_staff).where(event_staff.c.event_id.in_(chunk)))
    links = [
        {"event_id": e.event_id, "staff_id": staff_id}
        for e in written
        for staff_id in sorted(set(e.staff_ids))
    ]
    if links:
        conn.execute(event_staff.insert(), links)


def _discover_calendars(conn: Connection, calendar_ids: set[int]) -> None:
    """Give every calendar seen on an event a row (the API has no list of calendars)."""
    known: set[int] = set()
    for chunk in chunked(calendar_ids):
        query = select(calendars.c.calendar_id).where(calendars.c.calendar_id.in_(chunk))
        known.update(conn.execute(query).scalars())
    for calendar_id in sorted(calendar_ids - known):
        conn.execute(
            insert_or_merge(conn, calendars)
            .values(calendar_id=calendar_id, name=f"Calendar {calendar_id}", timezone=None)
            .on_conflict_do_nothing(index_elements=["calendar_id"])
        )


def event_values(event: Event) -> dict[str, Any]:
    """The event's own fields as column values (bookkeeping columns left to the caller)."""
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS if name != "address"}
    values["address"] = (
        json.dumps(dataclasses.asdict(event.address), sort_keys=True)
        if event.address is not None
        else None
    )
    return values


def event_from_row(row: AnyRow, staff_ids: Iterable[int], *, raw_json: str = "") -> Event:
    """Rebuild an Event from an events row; staff_ids come back sorted."""
    return Event(
        event_id=row.event_id,
        title=row.title,
        start_at=row.start_at,
        end_at=row.end_at,
        calendar_id=row.calendar_id,
        case_id=row.case_id,
        subject_id=row.subject_id,
        case_service_id=row.case_service_id,
        body=row.body,
        timezone=row.timezone,
        is_allday=bool(row.is_allday),
        address=_address_from_json(row.address),
        staff_ids=tuple(sorted(staff_ids)),
        alert_at=row.alert_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        raw_json=raw_json,
    )


def _address_from_json(text: str | None) -> Address | None:
    if text is None:
        return None
    stored = json.loads(text)
    known = {f.name for f in dataclasses.fields(Address)}
    return Address(**{key: value for key, value in stored.items() if key in known})


def select_event(conn: Connection, event_id: int) -> Event | None:
    row = conn.execute(select(events).where(events.c.event_id == event_id)).first()
    if row is None:
        return None
    staff_ids = select_staff_ids(conn, [event_id]).get(event_id, set())
    return event_from_row(row, staff_ids, raw_json=row.raw_json)


def select_live_event_ids(conn: Connection, ending_after: datetime) -> set[int]:
    query = select(events.c.event_id).where(
        events.c.deleted_at.is_(None), events.c.end_at > ending_after
    )
    return set(conn.execute(query).scalars())


def count_events(conn: Connection, *, is_deleted: bool) -> int:
    condition = events.c.deleted_at.is_not(None) if is_deleted else events.c.deleted_at.is_(None)
    return int(conn.execute(select(func.count()).select_from(events).where(condition)).scalar_one())


def _in_feed(feed: Feed, ending_after: datetime) -> list[ColumnElement[bool]]:
    """What puts an event in the feed: live, ending after the window's start, and its own."""
    in_feed = [events.c.deleted_at.is_(None), events.c.end_at > ending_after]
    if feed.kind is FeedKind.CALENDAR:
        in_feed.append(events.c.calendar_id == feed.target_id)
    elif feed.kind is FeedKind.STAFF:
        in_feed.append(
            events.c.event_id.in_(
                select(event_staff.c.event_id).where(event_staff.c.staff_id == feed.target_id)
            )
        )
    return in_feed


def _select_feed_items() -> Select[Any]:
    return select(
        # raw_json is for diagnosis; a feed of thousands of events need not carry it.
        *(column for column in events.c if column.key != "raw_json"),
        cases.c.case_id.label("known_case_id"),
        cases.c.case_number,
        cases.c.reference,
        cases.c.title.label("case_title"),
        subjects.c.name.label("subject_name"),
        calendars.c.name.label("calendar_name"),
        calendars.c.timezone.label("calendar_timezone"),
    ).select_from(
        events.outerjoin(cases, cases.c.case_id == events.c.case_id)
        .outerjoin(subjects, subjects.c.subject_id == events.c.subject_id)
        .outerjoin(calendars, calendars.c.calendar_id == events.c.calendar_id)
    )


def _feed_item(row: AnyRow, staff_ids: Iterable[int]) -> FeedEvent:
    return FeedEvent(
        event=event_from_row(row, staff_ids),
        sequence=row.sequence,
        case_label=_case_label(row),
        subject_name=row.subject_name,
        calendar_name=row.calendar_name,
        calendar_timezone=row.calendar_timezone,
        changed_at=row.changed_at,
    )


def select_feed_events(conn: Connection, feed: Feed, ending_after: datetime) -> list[FeedEvent]:
    """The feed's live events ending after ``ending_after``, with the names a feed shows."""
    in_feed = _in_feed(feed, ending_after)
    query = _select_feed_items().where(*in_feed).order_by(events.c.start_at, events.c.event_id)
    rows = conn.execute(query).all()
    staff_query = select(event_staff.c.event_id, event_staff.c.staff_id).where(
        event_staff.c.event_id.in_(select(events.c.event_id).where(*in_feed))
    )
    staff: dict[int, list[int]] = {}
    for event_id, staff_id in conn.execute(staff_query):
        staff.setdefault(event_id, []).append(staff_id)
    return [_feed_item(row, staff.get(row.event_id, ())) for row in rows]


def select_feed_events_by_id(conn: Connection, event_ids: Iterable[int]) -> list[FeedEvent]:
    """The named events as feeds show them (any order; ids not stored are left out)."""
    found: list[FeedEvent] = []
    for chunk in chunked(event_ids):
        rows = conn.execute(_select_feed_items().where(events.c.event_id.in_(chunk))).all()
        staff = select_staff_ids(conn, chunk)
        found += [_feed_item(row, staff.get(row.event_id, ())) for row in rows]
    return found


def select_feed_rows(conn: Connection, feed: Feed, ending_after: datetime) -> list[FeedRow]:
    """The feed's events as light rows, in feed order (start, then id): what decides each
    event's VEVENT block besides its content, for which its sequence stands.

    Read from one covering index (``ix_events_feed_rows``), never the event rows, and taken
    from the DBAPI cursor as the database hands them out: 50,000 rows are read on every render
    and none needs SQLAlchemy's per-row work (updated_at stays text on SQLite: it is only ever
    compared with the same column read at another pass).
    """
    query = (
        select(
            events.c.event_id,
            events.c.sequence,
            events.c.updated_at,
            events.c.calendar_id,
            events.c.case_id,
            events.c.subject_id,
        )
        .where(*_in_feed(feed, ending_after))
        .order_by(events.c.start_at, events.c.event_id)
    )
    return [cast(FeedRow, row) for row in conn.execute(query).cursor.fetchall()]


def _case_label(row: AnyRow) -> str | None:
    # An event may name a case the reference refresh has not brought in yet: no label then.
    if row.known_case_id is None:
        return None
    case = Case(
        case_id=row.known_case_id,
        case_number=row.case_number,
        reference=row.reference,
        title=row.case_title,
    )
    return case.label
