"""Push destinations' durable state: each CalDAV destination and what it holds (UID -> ETag, hash).

Entry points: the functions below, each run inside one Store transaction. The worker plans a push
from ``select_pushed_objects`` and records each request's outcome as it lands, so a push cut
short resumes from what the destination is known to hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from bridge.errors import NotFound
from bridge.store.sql import AnyRow, insert_or_merge
from bridge.store.tables import push_destinations, push_objects


@dataclass(frozen=True)
class Destination:
    """A CalDAV calendar collection a feed is pushed to. Holds the *names* of its credentials
    (an environment variable, a file), never a password or token."""

    destination_id: int
    feed_id: int
    url: str
    username: str | None = None
    password_env: str | None = None
    token_file: str | None = None
    created_at: datetime | None = None
    pushed_version: int | None = None  # the feed version last applied in full
    backlog: int = 0  # changes planned but not yet applied
    failures: int = 0  # passes in a row that failed
    next_attempt_at: datetime | None = None  # backing off until then
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    reconciled_at: datetime | None = None
    pushed_count: int = 0

    @property
    def is_healthy(self) -> bool:
        return self.failures == 0


@dataclass(frozen=True)
class PushedObject:
    """One calendar object the bridge created at a destination."""

    uid: str
    href: str
    etag: str | None  # None when the server gave none: the next PUT is then unconditional
    content_hash: str


def insert_destination(
    conn: Connection,
    feed_id: int,
    url: str,
    at: datetime,
    *,
    username: str | None,
    password_env: str | None,
    token_file: str | None,
) -> int:
    result = conn.execute(
        insert(push_destinations).values(
            feed_id=feed_id,
            url=url,
            username=username,
            password_env=password_env,
            token_file=token_file,
            created_at=at,
            backlog=0,
            failures=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _destination(row: AnyRow, count: int) -> Destination:
    return Destination(
        destination_id=row.destination_id,
        feed_id=row.feed_id,
        url=row.url,
        username=row.username,
        password_env=row.password_env,
        token_file=row.token_file,
        created_at=row.created_at,
        pushed_version=row.pushed_version,
        backlog=row.backlog,
        failures=row.failures,
        next_attempt_at=row.next_attempt_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        reconciled_at=row.reconciled_at,
        pushed_count=count,
    )


def select_destinations(conn: Connection, feed_id: int | None = None) -> list[Destination]:
    counts: dict[int, int] = dict(
        conn.execute(
            select(push_objects.c.destination_id, func.count()).group_by(
                push_objects.c.destination_id
            )
        ).all()
    )
    query = select(push_destinations).order_by(push_destinations.c.destination_id)
    if feed_id is not None:
        query = query.where(push_destinations.c.feed_id == feed_id)
    return [
        _destination(row, int(counts.get(row.destination_id, 0))) for row in conn.execute(query)
    ]


def select_destination(conn: Connection, destination_id: int) -> Destination:
    found = [d for d in select_destinations(conn) if d.destination_id == destination_id]
    if not found:
        raise NotFound("push destination", destination_id)
    return found[0]


def delete_destination(conn: Connection, destination_id: int) -> None:
    select_destination(conn, destination_id)
    conn.execute(delete(push_objects).where(push_objects.c.destination_id == destination_id))
    conn.execute(
        delete(push_destinations).where(push_destinations.c.destination_id == destination_id)
    )


def select_pushed_objects(conn: Connection, destination_id: int) -> dict[str, PushedObject]:
    rows = conn.execute(select(push_objects).where(push_objects.c.destination_id == destination_id))
    return {row.uid: PushedObject(row.uid, row.href, row.etag, row.content_hash) for row in rows}


def put_pushed_object(
    conn: Connection, destination_id: int, pushed: PushedObject, at: datetime
) -> None:
    values = {
        "href": pushed.href,
        "etag": pushed.etag,
        "content_hash": pushed.content_hash,
        "pushed_at": at,
    }
    statement = insert_or_merge(conn, push_objects).values(
        destination_id=destination_id, uid=pushed.uid, **values
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[push_objects.c.destination_id, push_objects.c.uid], set_=values
        )
    )


def delete_pushed_objects(conn: Connection, destination_id: int, uids: Sequence[str]) -> None:
    if uids:
        conn.execute(
            delete(push_objects).where(
                push_objects.c.destination_id == destination_id, push_objects.c.uid.in_(uids)
            )
        )


def record_push_success(
    conn: Connection,
    destination_id: int,
    at: datetime,
    *,
    pushed_version: int,
    reconciled: bool,
) -> None:
    values: dict[str, object] = {
        "pushed_version": pushed_version,
        "backlog": 0,
        "failures": 0,
        "next_attempt_at": None,
        "last_success_at": at,
    }
    if reconciled:
        values["reconciled_at"] = at
    conn.execute(
        update(push_destinations)
        .where(push_destinations.c.destination_id == destination_id)
        .values(**values)
    )


def record_push_failure(
    conn: Connection,
    destination_id: int,
    at: datetime,
    *,
    error: str,
    backlog: int,
    next_attempt_at: datetime,
) -> None:
    conn.execute(
        update(push_destinations)
        .where(push_destinations.c.destination_id == destination_id)
        .values(
            failures=push_destinations.c.failures + 1,
            backlog=backlog,
            last_error=error,
            last_error_at=at,
            next_attempt_at=next_attempt_at,
        )
    )
