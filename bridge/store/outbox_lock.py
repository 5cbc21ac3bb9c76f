"""The outbox's drain lock: one sender at a time across processes, held by the operating system.

Entry point: ``hold_drain_lock(engine)``.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

# The lock's two-key form: this constant, and the schema's name hashed, so bridges (and test
# runs) that share one PostgreSQL database in schemas of their own never take each other's
# lock. (The single-key locks of migrations and the login throttle live in another key space.)
_PG_DRAIN_LOCK = 7_406_111
_PG_DRAIN_KEYS = (_PG_DRAIN_LOCK, func.hashtext(func.current_schema()))


@contextmanager
def hold_drain_lock(engine: Engine) -> Iterator[bool]:
    """Whether this process may send the outbox now: one sender at a time, across processes.

    The lock belongs to the operating system (a file lock beside a SQLite database, a session
    advisory lock on PostgreSQL), so a sender that dies releases it at once: whoever drains next
    may treat every item still "sending" as abandoned, never as being sent by someone alive.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            session = conn.execution_options(isolation_level="AUTOCOMMIT")
            is_held = bool(
                session.execute(select(func.pg_try_advisory_lock(*_PG_DRAIN_KEYS))).scalar_one()
            )
            try:
                yield is_held
            finally:
                if is_held:
                    session.execute(select(func.pg_advisory_unlock(*_PG_DRAIN_KEYS)))
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield True  # a private database: no other process can reach it
        return
    path = Path(database).with_name(Path(database).name + ".outbox-lock")
    with path.open("a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            is_held = False
        else:
            is_held = True
        try:
            yield is_held
        finally:
            if is_held:
                fcntl.flock(handle, fcntl.LOCK_UN)
