"""The admin login throttle: failed attempts per client, counted and reserved under a lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, func, select

from bridge.store.tables import login_failures

# Far longer than any throttle window: older failures can never count again, so they go.
LOGIN_FAILURE_RETENTION = timedelta(days=1)
# Serialises login attempts on PostgreSQL (SQLite's BEGIN IMMEDIATE already does); any constant
# other than the migrations' lock works, as long as every process uses the same one.
_PG_LOGIN_LOCK = 7_406_111_505


@dataclass(frozen=True)
class LoginAttempt:
    """The throttle's answer to one login attempt.

    ``allowed``: the attempt was recorded as a failure in advance and the password may be
    checked (clear the client's failures if it was right). Otherwise ``retry_after`` says when
    the next attempt can be allowed, and ``paused_for_everyone`` whether that is because of the
    ceiling across all clients rather than this client's own limit.
    """

    allowed: bool
    retry_after: timedelta = timedelta(0)
    paused_for_everyone: bool = False


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


def reserve_login_attempt(
    conn: Connection,
    client_key: str,
    at: datetime,
    *,
    window: timedelta,
    client_limit: int,
    global_limit: int,
) -> LoginAttempt:
    """Count the failures in ``window`` (the client's and everyone's) and, under both limits,
    record this attempt as a failure before its password is checked.

    The count and the record are one transaction under a lock held to its end (BEGIN IMMEDIATE
    on SQLite, an advisory lock on PostgreSQL), so parallel guesses are counted one after
    another: never more than the limits get their password checked.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_LOGIN_LOCK)))
    conn.execute(delete(login_failures).where(login_failures.c.at < at - LOGIN_FAILURE_RETENTION))
    since = at - window
    client_wait = _wait_under_limit(
        conn, login_failures.c.client_key == client_key, since, client_limit, window, at
    )
    global_wait = _wait_under_limit(conn, None, since, global_limit, window, at)
    if client_wait is None and global_wait is None:
        conn.execute(login_failures.insert().values(client_key=client_key, at=at))
        return LoginAttempt(allowed=True)
    waits = [wait for wait in (client_wait, global_wait) if wait is not None]
    # The client's own limit is the more specific answer; it waits for whichever ends last.
    return LoginAttempt(
        allowed=False, retry_after=max(waits), paused_for_everyone=client_wait is None
    )


def _wait_under_limit(
    conn: Connection,
    condition: ColumnElement[bool] | None,
    since: datetime,
    limit: int,
    window: timedelta,
    at: datetime,
) -> timedelta | None:
    """None while fewer than ``limit`` failures match since ``since``; else how long until one
    fewer would: when the oldest failure that keeps the count at the limit leaves the window."""
    conditions = [login_failures.c.at >= since]
    if condition is not None:
        conditions.append(condition)
    count = int(
        conn.execute(
            select(func.count()).select_from(login_failures).where(*conditions)
        ).scalar_one()
    )
    if count < limit:
        return None
    deciding: datetime = conn.execute(
        select(login_failures.c.at)
        .where(*conditions)
        .order_by(login_failures.c.at)
        .offset(count - limit)
        .limit(1)
    ).scalar_one()
    return max(deciding + window - at, timedelta(0))
