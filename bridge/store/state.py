"""The worker's single row of sync state, and the admin login throttle's failure log."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from bridge.store.records import SyncState
from bridge.store.sql import insert_or_merge
from bridge.store.tables import login_failures, sync_state

_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(SyncState))
# Far longer than any throttle window: older failures can never count again, so they go.
LOGIN_FAILURE_RETENTION = timedelta(days=1)


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


def record_login_failure(conn: Connection, client_key: str, at: datetime) -> None:
    """Log a failure, pruning every client's failures past the retention, so that
    failures from many addresses (a scan that never logs in) cannot pile up."""
    conn.execute(delete(login_failures).where(login_failures.c.at < at - LOGIN_FAILURE_RETENTION))
    conn.execute(login_failures.insert().values(client_key=client_key, at=at))


def count_login_failures(conn: Connection, client_key: str, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(login_failures)
        .where(login_failures.c.client_key == client_key, login_failures.c.at >= since)
    )
    return int(conn.execute(query).scalar_one())


def clear_login_failures(conn: Connection, client_key: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.client_key == client_key))
