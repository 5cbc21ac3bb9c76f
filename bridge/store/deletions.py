"""Deletion candidates: events a listing no longer showed, kept until Trackops proves it.

Absence from a listing is only a hint (trackops-api.md, listing hazards); `GET /events/{id}`
answering 404 is the proof. Candidates wait here between passes, so a budget of probes per pass
works through any number of them without losing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from bridge.store.sql import chunked, insert_or_merge
from bridge.store.tables import deletion_candidates


def insert_candidates(conn: Connection, event_ids: Iterable[int], at: datetime) -> int:
    """Add the ids not already waiting; return how many were new."""
    added = 0
    for chunk in chunked(sorted(set(event_ids))):
        statement = (
            insert_or_merge(conn, deletion_candidates)
            .values([{"event_id": i, "absent_since": at, "probes": 0} for i in chunk])
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(deletion_candidates.c.event_id)
        )
        added += len(conn.execute(statement).all())
    return added


def delete_candidates(conn: Connection, event_ids: Iterable[int]) -> int:
    """Drop ids that were listed again, proven gone or proven present; return how many."""
    removed = 0
    for chunk in chunked(set(event_ids)):
        query = delete(deletion_candidates).where(deletion_candidates.c.event_id.in_(chunk))
        removed += conn.execute(query).rowcount
    return removed


def select_candidates(conn: Connection, limit: int) -> list[int]:
    """The ids to probe next: never-probed first, then those probed longest ago."""
    query = (
        select(deletion_candidates.c.event_id)
        .order_by(
            deletion_candidates.c.last_probe_at.is_not(None),
            deletion_candidates.c.last_probe_at,
            deletion_candidates.c.event_id,
        )
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def count_candidates(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(deletion_candidates)).scalar_one())


def mark_probed(conn: Connection, event_id: int, at: datetime) -> None:
    """A probe that proved nothing (the request failed): try others before this one again."""
    conn.execute(
        update(deletion_candidates)
        .where(deletion_candidates.c.event_id == event_id)
        .values(probes=deletion_candidates.c.probes + 1, last_probe_at=at)
    )
