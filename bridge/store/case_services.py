"""The case services the mirror knows: the case_service_id values its live events carry, by case.

Trackops has case services but the API lists none (only events name one, by id, and nothing of
it but the id), so these are what the event form can offer. Entry point:
``select_case_services``; one pass over a partial index (migration 15) at any number of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from bridge.store.tables import events


@dataclass(frozen=True)
class KnownService:
    """One case service seen on a case's live events; the latest one's title says what it is
    about, since Trackops gives a service's id and nothing more."""

    case_service_id: int
    event_count: int
    latest_start_at: datetime
    latest_title: str


def select_case_services(conn: Connection) -> dict[int, list[KnownService]]:
    """Each case's services on live events, the most recently used first, by case id."""
    live = (
        events.c.deleted_at.is_(None),
        events.c.case_service_id.is_not(None),
        events.c.case_id.is_not(None),
    )
    used = (
        select(
            events.c.case_id,
            events.c.case_service_id,
            func.count().label("event_count"),
            func.max(events.c.start_at).label("latest_start_at"),
        )
        .where(*live)
        .group_by(events.c.case_id, events.c.case_service_id)
        .subquery()
    )
    # The title of the service's latest event: one index seek per service.
    latest = events.alias("latest")
    title = (
        select(latest.c.title)
        .where(
            latest.c.deleted_at.is_(None),
            latest.c.case_service_id.is_not(None),
            latest.c.case_id == used.c.case_id,
            latest.c.case_service_id == used.c.case_service_id,
        )
        .order_by(latest.c.start_at.desc(), latest.c.event_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(used, title.label("latest_title")).order_by(
        used.c.case_id, used.c.latest_start_at.desc(), used.c.case_service_id
    )
    found: dict[int, list[KnownService]] = {}
    for row in conn.execute(query):
        found.setdefault(int(row.case_id), []).append(
            KnownService(
                case_service_id=int(row.case_service_id),
                event_count=int(row.event_count),
                latest_start_at=row.latest_start_at,
                latest_title=row.latest_title or "",
            )
        )
    return found
