"""Reference data: cases, subjects, staff and calendars, the names that events point at.

Trackops sends these whole; ``upsert_rows`` writes only what differs, so a refresh that finds
nothing new leaves every feed's cache valid.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update

from bridge.errors import NotFound
from bridge.models import Calendar, Case, Staff, Subject
from bridge.store.feeds import bump_calendar_feed_versions, bump_every_feed_version
from bridge.store.sql import AnyRow, chunked
from bridge.store.tables import calendars, cases, staff, subjects


def upsert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Insert new rows and rewrite differing ones; return how many were written.

    When anything other than ``updated_at`` changed, feeds may show it (a case label, a name),
    so every feed's version rises: reference data changes rarely, and precision isn't worth
    the bookkeeping.
    """
    (key,) = (column.key for column in table.primary_key.columns)
    latest = {row[key]: row for row in rows}
    existing: dict[Any, AnyRow] = {}
    for chunk in chunked(latest):
        for row in conn.execute(select(table).where(table.c[key].in_(chunk))):
            existing[row._mapping[key]] = row
    new = [row for row_key, row in latest.items() if row_key not in existing]
    changed = [
        row
        for row_key, row in latest.items()
        if row_key in existing and _differs(existing[row_key], row, skip=())
    ]
    if new:
        conn.execute(table.insert(), new)
    if changed:
        conn.execute(
            update(table).where(table.c[key] == bindparam("b_key")),
            [{**{k: v for k, v in row.items() if k != key}, "b_key": row[key]} for row in changed],
        )
    is_shown = bool(new) or any(
        _differs(existing[row[key]], row, skip=("updated_at",)) for row in changed
    )
    if is_shown:
        bump_every_feed_version(conn)
    return len(new) + len(changed)


def _differs(stored: AnyRow, incoming: dict[str, Any], *, skip: tuple[str, ...]) -> bool:
    mapping = stored._mapping
    return any(mapping[k] != v for k, v in incoming.items() if k not in skip)


def case_values(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "case_number": case.case_number,
        "reference": case.reference,
        "title": case.title,
        "updated_at": case.updated_at,
    }


def subject_values(subject: Subject) -> dict[str, Any]:
    return {
        "subject_id": subject.subject_id,
        "case_id": subject.case_id,
        "name": subject.name,
        "updated_at": subject.updated_at,
    }


def staff_values(member: Staff) -> dict[str, Any]:
    return {
        "staff_id": member.staff_id,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "updated_at": member.updated_at,
    }


def _case(row: AnyRow) -> Case:
    return Case(
        case_id=row.case_id,
        case_number=row.case_number,
        reference=row.reference,
        title=row.title,
        updated_at=row.updated_at,
    )


def _subject(row: AnyRow) -> Subject:
    return Subject(
        subject_id=row.subject_id, case_id=row.case_id, name=row.name, updated_at=row.updated_at
    )


def _staff(row: AnyRow) -> Staff:
    return Staff(
        staff_id=row.staff_id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        updated_at=row.updated_at,
    )


def _calendar(row: AnyRow) -> Calendar:
    return Calendar(calendar_id=row.calendar_id, name=row.name, timezone=row.timezone)


def select_cases(conn: Connection) -> list[Case]:
    query = select(cases).order_by(cases.c.case_number, cases.c.case_id)
    return [_case(row) for row in conn.execute(query)]


def select_subjects(conn: Connection, case_id: int | None) -> list[Subject]:
    query = select(subjects).order_by(subjects.c.name, subjects.c.subject_id)
    if case_id is not None:
        query = query.where(subjects.c.case_id == case_id)
    return [_subject(row) for row in conn.execute(query)]


def select_staff(conn: Connection) -> list[Staff]:
    query = select(staff).order_by(staff.c.last_name, staff.c.first_name, staff.c.staff_id)
    return [_staff(row) for row in conn.execute(query)]


def select_calendars(conn: Connection) -> list[Calendar]:
    query = select(calendars).order_by(calendars.c.name, calendars.c.calendar_id)
    return [_calendar(row) for row in conn.execute(query)]


def select_calendar(conn: Connection, calendar_id: int) -> Calendar | None:
    row = conn.execute(select(calendars).where(calendars.c.calendar_id == calendar_id)).first()
    return _calendar(row) if row is not None else None


def update_calendar(conn: Connection, calendar_id: int, values: dict[str, Any]) -> None:
    """Rename a calendar or set its zone; the feeds showing its events are re-rendered."""
    result = conn.execute(
        update(calendars).where(calendars.c.calendar_id == calendar_id).values(**values)
    )
    if result.rowcount == 0:
        raise NotFound("calendar", calendar_id)
    bump_calendar_feed_versions(conn, calendar_id)
