"""Connecting: database URLs, per-connection SQLite settings, transactions, connection errors.

Entry points: ``create_store_engine(url)`` and ``transaction(engine, write=...)``; and
``is_new_sqlite_database(url)``, which lets commands create a new SQLite file's schema
themselves (a PostgreSQL database is migrated explicitly, by the release step).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, StatementError

from bridge.errors import StoreUnavailable

_WRITE_OPTION = "bridge_write"
# No transaction of the bridge waits between statements; one idle this long belongs to a
# process that froze (see _with_idle_limit). As long as the default worker lease.
IDLE_TRANSACTION_LIMIT_MS = 30_000


def normalise_url(url: str) -> str:
    """Point plain PostgreSQL URLs (as hosting platforms hand them out: ``postgres://``, or
    ``postgresql://``) at psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def describe_url(engine: Engine) -> str:
    """The engine's URL fit for messages and logs: the password masked."""
    return engine.url.render_as_string(hide_password=True)


def create_store_engine(url: str, *, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for a ``sqlite:///`` or ``postgresql://`` URL, checked by connecting once.

    Its errors and logs never show bound parameters (``hide_parameters``): they are people's
    event titles, notes and addresses, and a failing batch would print hundreds of them.
    """
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError as exc:
        raise StoreUnavailable(mask_url(url), f"not a database URL ({exc})") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(parsed, busy_timeout_ms)
    elif parsed.get_backend_name() == "postgresql":
        # pre_ping: a web process may hold pooled connections across a database restart.
        engine = create_engine(_with_idle_limit(parsed), pool_pre_ping=True, hide_parameters=True)
    else:
        raise StoreUnavailable(
            parsed.render_as_string(hide_password=True),
            "only sqlite:/// and postgresql:// URLs are supported",
        )
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        raise StoreUnavailable(describe_url(engine), _reason(exc)) from exc
    return engine


def _with_idle_limit(url: URL) -> URL:
    """The URL with the server told to end a transaction left idle for IDLE_TRANSACTION_LIMIT_MS
    (its own ``options`` kept): a worker whose machine froze or lost the network mid-transaction
    would otherwise hold its row locks (the lease, the request slot) until TCP gives up, hours
    later, and the worker on the other machine could never take over."""
    options = url.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    limit = f"-c idle_in_transaction_session_timeout={IDLE_TRANSACTION_LIMIT_MS}"
    return url.update_query_dict({"options": f"{options} {limit}".strip()})


def _create_sqlite_engine(url: URL, busy_timeout_ms: int) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets the web process read while the worker writes; NORMAL is durable
            # enough under WAL (a power cut may lose the last commit, never corrupt).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with "database is locked" at once instead of waiting busy_timeout.
        is_write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")

    return engine


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One transaction, committed when the block ends; connection trouble -> StoreUnavailable."""
    try:
        with engine.connect() as conn:
            if write:
                conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
    except OperationalError as exc:
        if is_missing_table(exc):
            raise
        raise StoreUnavailable(describe_url(engine), _reason(exc)) from exc
    except StatementError as exc:
        # A parameter refused before reaching the database (a naive datetime): the caller's
        # bug, so it surfaces as the plain error, not as a database failure.
        if not isinstance(exc, DBAPIError) and isinstance(exc.orig, ValueError | TypeError):
            raise exc.orig from exc
        raise


def is_missing_table(exc: DBAPIError) -> bool:
    """Whether a statement failed because a table does not exist (an unmigrated database)."""
    if getattr(exc.orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    return "no such table" in str(exc.orig)


def _reason(exc: OperationalError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def is_new_sqlite_database(url: str) -> bool:
    """Whether ``url`` names a SQLite file that does not exist yet or holds no table at all:
    one whose schema a command may create without being told to. Never True for PostgreSQL,
    in-memory databases, or a file with anything in it (ours at an older version, or not ours).
    """
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return False
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    if database.startswith("file:"):
        return False
    path = Path(database)
    if not path.exists() or path.stat().st_size == 0:
        return True
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error:
        return False  # not a database we can read: let opening it say why
    return int(tables) == 0


def mask_url(url: str) -> str:
    """A database URL fit for messages and logs: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"
