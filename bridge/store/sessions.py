"""The admin session version: signed into each login's cookie, bumped at logout.

A session cookie is signed, not stored, so a copy of it stays valid until it expires; the
version is what the server keeps to refuse a copy made before a logout. One version for the
whole site: a logout ends every admin session, on every browser.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from bridge.store.sql import insert_or_merge
from bridge.store.tables import admin_session


def select_session_version(conn: Connection) -> int:
    """The current version; 0 before the first logout."""
    version = conn.execute(
        select(admin_session.c.version).where(admin_session.c.id == 1)
    ).scalar_one_or_none()
    return int(version or 0)


def bump_session_version(conn: Connection, at: datetime) -> int:
    """Move to the next version, so every cookie carrying an earlier one is refused."""
    statement = insert_or_merge(conn, admin_session).values(id=1, version=1, changed_at=at)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={"version": admin_session.c.version + 1, "changed_at": at},
        )
    )
    return select_session_version(conn)
