"""The worker lease and the shared request slot: which process may talk to Trackops, and when.

The lease (one row) names the one process that polls, reconciles and sends the outbox, until
``expires_at``. Its holder renews it long before then; a holder that dies stops renewing, and
once the lease has lapsed the next process to ask takes it. Releasing it (a clean stop) hands
it over at once.

The request slot (one row) is the earliest moment the next request to Trackops may start,
whichever process sends it: each process reserves its start there, so a command run right after
the worker, or two processes at once, stay within Trackops' limit together.

Times come from the database's clock on PostgreSQL, so processes on machines whose clocks
disagree still agree on who holds the lease and when a slot begins; a SQLite file is on one
machine, whose processes share its clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Table, func, select, update

from bridge.errors import StoreError
from bridge.store.sql import insert_or_merge
from bridge.store.tables import request_slot, worker_lease

# A slot further ahead than this was not set by a pacer at any sane rate or Retry-After (the
# client caps its waits at a minute): a clock that jumped, a restored backup. It is ignored
# rather than stalling every process for hours.
MAX_SLOT_AHEAD = 300.0


@dataclass(frozen=True)
class Lease:
    """The lease as read at ``now`` (the database's time)."""

    holder: str | None
    acquired_at: datetime | None
    renewed_at: datetime | None
    expires_at: datetime | None
    released_at: datetime | None
    now: datetime

    @property
    def is_live(self) -> bool:
        """Someone holds it and it has not lapsed."""
        return (
            self.holder is not None and self.expires_at is not None and self.expires_at > self.now
        )

    def is_held_by(self, holder: str) -> bool:
        return self.is_live and self.holder == holder


class LeaseLost(StoreError):
    """This process's lease lapsed and it may no longer talk to Trackops."""

    def __init__(self, holder: str, lease: Lease) -> None:
        self.holder = holder
        self.lease = lease
        now_held = f"held by {lease.holder}" if lease.is_live else "lapsed"
        super().__init__(
            f"the worker lease of {holder} was lost (it is {now_held}): it stopped renewing in "
            "time, so it stops talking to Trackops",
            advice="it waits to take the lease again; look for what froze it (a paused VM, a "
            "database that was unreachable for longer than BRIDGE_WORKER_LEASE)",
        )


def database_now(conn: Connection) -> datetime:
    """The database's clock on PostgreSQL; this machine's for a SQLite file."""
    if conn.dialect.name == "postgresql":
        now: datetime = conn.execute(select(func.clock_timestamp())).scalar_one()
        return now.astimezone(UTC)
    return datetime.now(UTC)


def read_lease(conn: Connection, *, for_update: bool = False) -> Lease:
    """The lease now; ``for_update`` locks its row to the end of the transaction (PostgreSQL;
    a SQLite writer holds the whole database already)."""
    now = database_now(conn)
    query = select(worker_lease).where(worker_lease.c.id == 1)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return Lease(None, None, None, None, None, now)
    return Lease(row.holder, row.acquired_at, row.renewed_at, row.expires_at, row.released_at, now)


def hold_lease(
    conn: Connection, holder: str, duration: timedelta, *, replacing: str | None = None
) -> Lease:
    """Take the lease if it is free, lapsed or already ours, for ``duration`` from now; return
    it as it stands afterwards (``is_held_by(holder)`` says whether it is ours).

    ``replacing`` names a holder the caller knows is dead (a process gone from this machine):
    its lease is taken at once instead of when it lapses, and only if it still holds it.
    """
    _ensure_row(conn, worker_lease, holder=None)
    current = read_lease(conn, for_update=True)
    if current.is_live and current.holder not in (holder, replacing):
        return current
    now = current.now
    # Renewing keeps when it was taken; taking it over (or again, after it lapsed) starts anew.
    acquired = current.acquired_at if current.is_held_by(holder) else now
    values = {
        "holder": holder,
        "acquired_at": acquired,
        "renewed_at": now,
        "expires_at": now + duration,
        "released_at": None,
    }
    conn.execute(update(worker_lease).where(worker_lease.c.id == 1).values(**values))
    return Lease(holder, acquired, now, now + duration, None, now)


def release_lease(conn: Connection, holder: str) -> bool:
    """Give the lease up if ``holder`` has it, so another process may take it at once."""
    now = database_now(conn)
    result = conn.execute(
        update(worker_lease)
        .where(worker_lease.c.id == 1, worker_lease.c.holder == holder)
        .values(holder=None, expires_at=now, released_at=now)
    )
    return bool(result.rowcount)


def reserve_request_slot(
    conn: Connection, not_before: float, interval: float, holder: str | None = None
) -> float:
    """Reserve the next request start, at least ``not_before`` s from now and no earlier than
    the slot any process left; leave ``interval`` s after it for the next one. Returns the
    seconds to wait until that start.

    With ``holder``, only while it holds the lease (else LeaseLost): a worker that lost its
    lease finds out before it sends anything more, not after.
    """
    if holder is not None:
        lease = read_lease(conn)
        if not lease.is_held_by(holder):
            raise LeaseLost(holder, lease)
    _ensure_row(conn, request_slot, next_at=0.0)
    now = _epoch_now(conn)
    slot = select(request_slot.c.next_at).where(request_slot.c.id == 1)
    if conn.dialect.name == "postgresql":
        slot = slot.with_for_update()
    recorded = float(conn.execute(slot).scalar_one())
    if recorded - now > MAX_SLOT_AHEAD + interval:
        recorded = now
    start = max(now + not_before, recorded)
    if start + interval > recorded:
        conn.execute(
            update(request_slot).where(request_slot.c.id == 1).values(next_at=start + interval)
        )
    return start - now


def _epoch_now(conn: Connection) -> float:
    if conn.dialect.name == "postgresql":
        return database_now(conn).timestamp()
    return time.time()


def _ensure_row(conn: Connection, table: Table, **values: object) -> None:
    """The table's one row, inserted with ``values`` the first time it is needed."""
    conn.execute(
        insert_or_merge(conn, table)
        .values(id=1, **values)
        .on_conflict_do_nothing(index_elements=["id"])
    )
