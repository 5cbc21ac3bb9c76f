"""What the admin pages read beyond the sync's own records: the events page's search, counts
per calendar, a feed's events in a window, and the hourly tally of requests to Trackops.

Entry points: ``search_events`` (filters in SQL, one page at a time), ``select_feed_window``,
``count_calendar_events``, ``add_request_hour`` and ``select_request_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, or_, select

from bridge.models import Case, Feed, Staff
from bridge.store.events import _in_feed
from bridge.store.sql import insert_or_merge
from bridge.store.tables import (
    calendars,
    cases,
    event_staff,
    events,
    outbox_items,
    request_hours,
    staff,
)


@dataclass(frozen=True)
class EventQuery:
    """The events page's filters; empty ones filter nothing. Times are aware UTC."""

    event_id: int | None = None
    title: str = ""
    case: str = ""  # a case's number, reference or title, in part
    calendar_id: int | None = None
    staff_id: int | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None


@dataclass(frozen=True)
class ListedEvent:
    """One live event as the events page lists it."""

    event_id: int
    title: str
    start_at: datetime
    end_at: datetime
    timezone: str | None
    is_allday: bool
    calendar_id: int | None
    calendar_name: str | None
    calendar_timezone: str | None
    case_label: str | None
    staff_names: tuple[str, ...]
    batch_id: int | None  # the upload or form batch that created it, if one did


@dataclass(frozen=True)
class HourCount:
    hour_start: datetime
    requests: int
    errors: int
    rate_limited: int


def _like(text: str) -> str:
    """A LIKE pattern finding ``text`` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(query: EventQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [events.c.deleted_at.is_(None)]
    if query.event_id is not None:
        found.append(events.c.event_id == query.event_id)
    if query.title:
        found.append(events.c.title.ilike(_like(query.title), escape="\\"))
    if query.case:
        pattern = _like(query.case)
        found.append(
            events.c.case_id.in_(
                select(cases.c.case_id).where(
                    or_(
                        cases.c.case_number.ilike(pattern, escape="\\"),
                        cases.c.reference.ilike(pattern, escape="\\"),
                        cases.c.title.ilike(pattern, escape="\\"),
                    )
                )
            )
        )
    if query.calendar_id is not None:
        found.append(events.c.calendar_id == query.calendar_id)
    if query.staff_id is not None:
        found.append(
            events.c.event_id.in_(
                select(event_staff.c.event_id).where(event_staff.c.staff_id == query.staff_id)
            )
        )
    if query.starts_from is not None:
        found.append(events.c.start_at >= query.starts_from)
    if query.starts_before is not None:
        found.append(events.c.start_at < query.starts_before)
    return found


def search_events(
    conn: Connection, query: EventQuery, *, limit: int, offset: int
) -> tuple[list[ListedEvent], int]:
    """One page of the live events matching ``query``, by start then id, and how many match."""
    where = _conditions(query)
    total = conn.execute(select(func.count()).select_from(events).where(*where)).scalar_one()
    # The batch that created an event: the sent outbox item naming it (one at most).
    batch = (
        select(func.min(outbox_items.c.batch_id))
        .where(outbox_items.c.event_id == events.c.event_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            events.c.event_id,
            events.c.title,
            events.c.start_at,
            events.c.end_at,
            events.c.timezone,
            events.c.is_allday,
            events.c.calendar_id,
            calendars.c.name.label("calendar_name"),
            calendars.c.timezone.label("calendar_timezone"),
            cases.c.case_id.label("known_case_id"),
            cases.c.case_number,
            cases.c.reference,
            batch.label("batch_id"),
        )
        .select_from(
            events.outerjoin(calendars, calendars.c.calendar_id == events.c.calendar_id).outerjoin(
                cases, cases.c.case_id == events.c.case_id
            )
        )
        .where(*where)
        .order_by(events.c.start_at, events.c.event_id)
        .limit(limit)
        .offset(offset)
    ).all()
    names: dict[int, list[str]] = {}
    if rows:
        staff_rows = conn.execute(
            select(event_staff.c.event_id, staff.c.staff_id, staff.c.first_name, staff.c.last_name)
            .join(staff, staff.c.staff_id == event_staff.c.staff_id)
            .where(event_staff.c.event_id.in_([row.event_id for row in rows]))
            .order_by(staff.c.last_name, staff.c.first_name)
        )
        for event_id, staff_id, first, last in staff_rows:
            names.setdefault(event_id, []).append(Staff(staff_id, first, last).name)
    listed = [
        ListedEvent(
            event_id=row.event_id,
            title=row.title,
            start_at=row.start_at,
            end_at=row.end_at,
            timezone=row.timezone,
            is_allday=row.is_allday,
            calendar_id=row.calendar_id,
            calendar_name=row.calendar_name,
            calendar_timezone=row.calendar_timezone,
            case_label=None
            if row.known_case_id is None
            else Case(row.known_case_id, row.case_number, row.reference).label,
            staff_names=tuple(names.get(row.event_id, ())),
            batch_id=row.batch_id,
        )
        for row in rows
    ]
    return listed, int(total)


def select_feed_window(
    conn: Connection, feed: Feed, ending_after: datetime, starting_before: datetime, limit: int
) -> list[int]:
    """The ids of the feed's live events overlapping [ending_after, starting_before), in feed
    order, at most ``limit``: which blocks of its stored render a preview reads."""
    query = (
        select(events.c.event_id)
        .where(*_in_feed(feed, ending_after), events.c.start_at < starting_before)
        .order_by(events.c.start_at, events.c.event_id)
        .limit(limit)
    )
    return [int(event_id) for event_id in conn.execute(query).scalars()]


def count_calendar_events(conn: Connection) -> dict[int, int]:
    """Live events per calendar id."""
    query = (
        select(events.c.calendar_id, func.count())
        .where(events.c.deleted_at.is_(None), events.c.calendar_id.is_not(None))
        .group_by(events.c.calendar_id)
    )
    return {int(calendar_id): int(count) for calendar_id, count in conn.execute(query)}


def add_request_hour(
    conn: Connection, hour_start: datetime, requests: int, errors: int, rate_limited: int
) -> None:
    """Add to the tally of the UTC hour starting at ``hour_start``."""
    statement = insert_or_merge(conn, request_hours).values(
        hour_start=hour_start, requests=requests, errors=errors, rate_limited=rate_limited
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["hour_start"],
            set_={
                name: request_hours.c[name] + statement.excluded[name]
                for name in ("requests", "errors", "rate_limited")
            },
        )
    )


def select_request_hours(conn: Connection, since: datetime) -> list[HourCount]:
    query = (
        select(request_hours)
        .where(request_hours.c.hour_start >= since)
        .order_by(request_hours.c.hour_start)
    )
    return [
        HourCount(row.hour_start, row.requests, row.errors, row.rate_limited)
        for row in conn.execute(query)
    ]
