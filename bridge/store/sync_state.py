"""The worker's single row of sync state: cursors, counters, the last error."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import Connection, select

from bridge.store.rows import SyncState
from bridge.store.sql import insert_or_merge
from bridge.store.tables import sync_state

_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(SyncState))


def select_sync_state(conn: Connection) -> SyncState:
    """The stored state, or a fresh one before the first sync."""
    row = conn.execute(select(sync_state).where(sync_state.c.id == 1)).first()
    if row is None:
        return SyncState()
    return SyncState(**{name: row._mapping[name] for name in _STATE_FIELDS})


def put_sync_state(conn: Connection, state: SyncState) -> None:
    values = dataclasses.asdict(state)
    statement = insert_or_merge(conn, sync_state).values(id=1, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=values))


def record_sync_error(conn: Connection, message: str, at: datetime) -> None:
    """Set the last error alone, leaving the poller's cursors and counters as they are."""
    error = {"last_error": message, "last_error_at": at}
    values = dataclasses.asdict(SyncState(last_error=message, last_error_at=at))
    statement = insert_or_merge(conn, sync_state).values(id=1, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=error))
