"""Feeds: their tokens, names and versions, their stored renders, and who fetches them.

A feed's ``version`` rises whenever anything it shows may have changed; the feed engine then
renders it again (``select_stale_feeds``) and stores the bytes every web process serves.
Entry points: ``ensure_feeds``, ``select_stale_feeds`` and ``put_feed_render``.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)

from bridge.errors import NotFound
from bridge.models import Feed, FeedKind, Privacy, Staff
from bridge.store.rows import FeedFetch, FeedRender, StaleFeed
from bridge.store.sql import AnyRow, chunked, insert_or_merge
from bridge.store.tables import (
    calendars,
    event_staff,
    events,
    feed_fetches,
    feed_renders,
    feeds,
    staff,
)

ALL_EVENTS_NAME = "All events"
# Renders given without their gzipped body are compressed as the web would send them.
GZIP_LEVEL = 6
USER_AGENT_MAX = 300
_KIND_ORDER = {FeedKind.ALL: 0, FeedKind.CALENDAR: 1, FeedKind.STAFF: 2}


def new_token() -> tuple[str, str]:
    """A fresh feed token (192 random bits, 32 URL-safe characters) and its SHA-256."""
    token = secrets.token_urlsafe(24)
    return token, _token_digest(token)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bump_feed_versions(
    conn: Connection,
    *,
    calendar_ids: Iterable[int] = (),
    staff_ids: Iterable[int] = (),
    include_all: bool = False,
) -> None:
    """Invalidate the cached renders of the named calendars' and staff members' feeds."""
    conditions: list[ColumnElement[bool]] = []
    if include_all:
        conditions.append(feeds.c.kind == FeedKind.ALL.value)
    for kind, ids in ((FeedKind.CALENDAR, calendar_ids), (FeedKind.STAFF, staff_ids)):
        conditions.extend(
            and_(feeds.c.kind == kind.value, feeds.c.target_id.in_(chunk))
            for chunk in chunked(sorted(set(ids)))
        )
    if conditions:
        conn.execute(update(feeds).where(or_(*conditions)).values(version=feeds.c.version + 1))


def bump_every_feed_version(conn: Connection) -> None:
    conn.execute(update(feeds).values(version=feeds.c.version + 1))


def bump_calendar_feed_versions(conn: Connection, calendar_id: int) -> None:
    """After a calendar's name or zone changed: every feed that shows its events."""
    staff_with_events = (
        select(event_staff.c.staff_id)
        .join(events, events.c.event_id == event_staff.c.event_id)
        .where(events.c.calendar_id == calendar_id, events.c.deleted_at.is_(None))
    )
    bump_feed_versions(
        conn,
        calendar_ids=[calendar_id],
        staff_ids=conn.execute(staff_with_events.distinct()).scalars(),
        include_all=True,
    )


def ensure_feeds(conn: Connection, default_privacy: Privacy) -> int:
    """Create the missing feeds: one per calendar, one per staff member, one of everything."""
    has_calendar_feed = exists().where(
        feeds.c.kind == FeedKind.CALENDAR.value, feeds.c.target_id == calendars.c.calendar_id
    )
    has_staff_feed = exists().where(
        feeds.c.kind == FeedKind.STAFF.value, feeds.c.target_id == staff.c.staff_id
    )
    wanted: list[tuple[FeedKind, int | None]] = [
        (FeedKind.CALENDAR, calendar_id)
        for calendar_id in conn.execute(
            select(calendars.c.calendar_id).where(~has_calendar_feed)
        ).scalars()
    ]
    wanted += [
        (FeedKind.STAFF, staff_id)
        for staff_id in conn.execute(select(staff.c.staff_id).where(~has_staff_feed)).scalars()
    ]
    has_all = conn.execute(
        select(func.count()).select_from(feeds).where(feeds.c.kind == FeedKind.ALL.value)
    ).scalar_one()
    if not has_all:
        wanted.append((FeedKind.ALL, None))

    now = datetime.now(UTC)
    created = 0
    for kind, target_id in wanted:
        token, digest = new_token()
        # DO NOTHING: another process may be creating the same feed right now.
        result = conn.execute(
            insert_or_merge(conn, feeds)
            .values(
                kind=kind.value,
                target_id=target_id,
                name=None,
                privacy=default_privacy.value,
                timezone=None,
                token=token,
                token_sha256=digest,
                version=1,
                created_at=now,
                rotated_at=None,
            )
            .on_conflict_do_nothing()
            .returning(feeds.c.feed_id)
        )
        created += len(result.all())
    return created


def _select_feeds() -> Any:
    """Feeds joined with what names them by default, so renames show without a write."""
    return select(
        feeds,
        calendars.c.name.label("calendar_name"),
        calendars.c.timezone.label("calendar_timezone"),
        staff.c.first_name,
        staff.c.last_name,
    ).select_from(
        feeds.outerjoin(
            calendars,
            and_(
                feeds.c.kind == FeedKind.CALENDAR.value,
                calendars.c.calendar_id == feeds.c.target_id,
            ),
        ).outerjoin(
            staff,
            and_(feeds.c.kind == FeedKind.STAFF.value, staff.c.staff_id == feeds.c.target_id),
        )
    )


def _feed_from_row(row: AnyRow) -> Feed:
    kind = FeedKind(row.kind)
    return Feed(
        feed_id=row.feed_id,
        kind=kind,
        target_id=row.target_id,
        name=row.name if row.name is not None else _default_name(kind, row),
        privacy=Privacy(row.privacy),
        token=row.token,
        timezone=row.timezone,
        calendar_timezone=row.calendar_timezone,
    )


def _default_name(kind: FeedKind, row: AnyRow) -> str:
    if kind is FeedKind.CALENDAR:
        return row.calendar_name or f"Calendar {row.target_id}"
    if kind is FeedKind.STAFF:
        return Staff(
            staff_id=row.target_id, first_name=row.first_name or "", last_name=row.last_name or ""
        ).name
    return ALL_EVENTS_NAME


def select_feeds(conn: Connection) -> list[Feed]:
    """Every feed: the feed of everything first, then calendars, then staff, each by name."""
    found = [_feed_from_row(row) for row in conn.execute(_select_feeds())]
    return sorted(found, key=lambda f: (_KIND_ORDER[f.kind], f.name.casefold(), f.feed_id))


def select_feed(conn: Connection, feed_id: int) -> Feed | None:
    row = conn.execute(_select_feeds().where(feeds.c.feed_id == feed_id)).first()
    return _feed_from_row(row) if row is not None else None


# Built once: every feed fetch runs it, and building the statement costs as much as running it.
_FEED_BY_DIGEST = _select_feeds().where(feeds.c.token_sha256 == bindparam("digest"))


def find_feed_and_version(conn: Connection, token: str) -> tuple[Feed, int] | None:
    """The feed whose token this is, found by its digest and confirmed in constant time, and
    its version."""
    if not token.isascii():
        return None  # tokens are URL-safe base64: no need to look further
    row = conn.execute(_FEED_BY_DIGEST, {"digest": _token_digest(token)}).first()
    if row is None or not hmac.compare_digest(row.token.encode(), token.encode()):
        return None
    return _feed_from_row(row), int(row.version)


def rotate_feed_token(conn: Connection, feed_id: int) -> Feed:
    token, digest = new_token()
    _update_feed_row(
        conn,
        feed_id,
        {"token": token, "token_sha256": digest, "rotated_at": datetime.now(UTC)},
    )
    return _require_feed(conn, feed_id)


def update_feed(
    conn: Connection,
    feed_id: int,
    *,
    name: str | None,
    privacy: Privacy | None,
    timezone: str | None,
) -> Feed:
    """Change the named settings; None leaves one as it is, "" resets name or zone to default."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name or None
    if privacy is not None:
        values["privacy"] = Privacy(privacy).value
    if timezone is not None:
        values["timezone"] = timezone or None
    _update_feed_row(conn, feed_id, values)
    return _require_feed(conn, feed_id)


def _update_feed_row(conn: Connection, feed_id: int, values: dict[str, Any]) -> None:
    result = conn.execute(
        update(feeds)
        .where(feeds.c.feed_id == feed_id)
        .values(**values, version=feeds.c.version + 1)
    )
    if result.rowcount == 0:
        raise NotFound("feed", feed_id)


def _require_feed(conn: Connection, feed_id: int) -> Feed:
    feed = select_feed(conn, feed_id)
    if feed is None:
        raise NotFound("feed", feed_id)
    return feed


def select_feed_version(conn: Connection, feed_id: int) -> int:
    version = conn.execute(select(feeds.c.version).where(feeds.c.feed_id == feed_id)).scalar()
    if version is None:
        raise NotFound("feed", feed_id)
    return int(version)


def _render_from_row(row: AnyRow) -> FeedRender:
    gzipped = bytes(row.body_gzip)
    return FeedRender(
        feed_id=row.feed_id,
        version=row.version,
        window_key=row.window_key,
        body=gzip.decompress(gzipped),
        etag=row.etag,
        rendered_at=row.rendered_at,
        privacy=Privacy(row.privacy) if row.privacy is not None else None,
        gzipped=gzipped,
    )


def select_feed_render(conn: Connection, feed_id: int) -> FeedRender | None:
    row = conn.execute(select(feed_renders).where(feed_renders.c.feed_id == feed_id)).first()
    return _render_from_row(row) if row is not None else None


def select_stale_feeds(conn: Connection, window_key: str) -> list[StaleFeed]:
    """Feeds whose stored render is missing, of an older version or of another window (another
    day or other settings), with their version and the stored render's ETag and time."""
    is_stale = or_(
        feed_renders.c.feed_id.is_(None),
        feed_renders.c.version < feeds.c.version,
        feed_renders.c.window_key != window_key,
    )
    query = (
        _select_feeds()
        .add_columns(
            feed_renders.c.etag.label("render_etag"),
            feed_renders.c.rendered_at.label("render_rendered_at"),
        )
        .outerjoin(feed_renders, feed_renders.c.feed_id == feeds.c.feed_id)
        .where(is_stale)
    )
    found = [
        StaleFeed(_feed_from_row(row), int(row.version), row.render_etag, row.render_rendered_at)
        for row in conn.execute(query)
    ]
    # The feed of everything first: the one every subscriber of a small firm watches.
    return sorted(found, key=lambda s: (_KIND_ORDER[s.feed.kind], s.feed.feed_id))


def put_feed_render(conn: Connection, render: FeedRender) -> None:
    """Store a render, unless one of a newer version, or of this version and window, is
    stored already: whoever stored it first (the worker, an admin page) wins, and every
    process serves the same bytes with the same Last-Modified."""
    gzipped = render.gzipped
    if gzipped is None:
        gzipped = gzip.compress(render.body, GZIP_LEVEL, mtime=0)
    statement = insert_or_merge(conn, feed_renders).values(
        feed_id=render.feed_id,
        version=render.version,
        window_key=render.window_key,
        etag=render.etag,
        rendered_at=render.rendered_at,
        privacy=render.privacy.value if render.privacy is not None else None,
        size=len(render.body),
        body_gzip=gzipped,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["feed_id"],
            set_={
                "version": statement.excluded.version,
                "window_key": statement.excluded.window_key,
                "etag": statement.excluded.etag,
                "rendered_at": statement.excluded.rendered_at,
                "privacy": statement.excluded.privacy,
                "size": statement.excluded.size,
                "body_gzip": statement.excluded.body_gzip,
            },
            where=or_(
                feed_renders.c.version < statement.excluded.version,
                and_(
                    feed_renders.c.version == statement.excluded.version,
                    feed_renders.c.window_key != statement.excluded.window_key,
                ),
            ),
        )
    )


def record_feed_fetch(
    conn: Connection, feed_id: int, at: datetime, user_agent: str, count: int = 1
) -> None:
    """Add ``count`` fetches, the last at ``at``. Web processes write their tallies late, so
    an older ``at`` leaves a newer stored time alone."""
    statement = insert_or_merge(conn, feed_fetches).values(
        feed_id=feed_id,
        user_agent=user_agent[:USER_AGENT_MAX],
        last_fetched_at=at,
        fetch_count=count,
        first_fetched_at=at,
    )
    stored, given = feed_fetches.c.last_fetched_at, statement.excluded.last_fetched_at
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["feed_id", "user_agent"],
            set_={
                "last_fetched_at": case((given > stored, given), else_=stored),
                # A tally written late may hold an earlier first fetch than the one stored.
                # Unknown (NULL, a row from before migration 12) stays unknown: its count
                # includes fetches from before any time it could be given now.
                "first_fetched_at": case(
                    (given < feed_fetches.c.first_fetched_at, given),
                    else_=feed_fetches.c.first_fetched_at,
                ),
                "fetch_count": feed_fetches.c.fetch_count + statement.excluded.fetch_count,
            },
        )
    )


def select_render_sizes(conn: Connection) -> dict[int, int]:
    """Each stored render's size in bytes (uncompressed), without reading a body."""
    query = select(feed_renders.c.feed_id, feed_renders.c.size)
    return {int(feed_id): int(size) for feed_id, size in conn.execute(query)}


def select_last_fetches(conn: Connection) -> dict[int, FeedFetch]:
    """The newest fetch of every feed that has one, in one query (for the feeds list)."""
    newest = (
        select(feed_fetches.c.feed_id, func.max(feed_fetches.c.last_fetched_at).label("at"))
        .group_by(feed_fetches.c.feed_id)
        .subquery()
    )
    query = (
        select(feed_fetches)
        .join(
            newest,
            (feed_fetches.c.feed_id == newest.c.feed_id)
            & (feed_fetches.c.last_fetched_at == newest.c.at),
        )
        .order_by(feed_fetches.c.feed_id, feed_fetches.c.user_agent)
    )
    found: dict[int, FeedFetch] = {}
    for row in conn.execute(query):
        found.setdefault(
            row.feed_id,
            FeedFetch(row.user_agent, row.last_fetched_at, row.fetch_count, row.first_fetched_at),
        )
    return found


def select_feed_fetches(conn: Connection, feed_id: int) -> list[FeedFetch]:
    query = (
        select(feed_fetches)
        .where(feed_fetches.c.feed_id == feed_id)
        .order_by(feed_fetches.c.last_fetched_at.desc(), feed_fetches.c.user_agent)
    )
    return [
        FeedFetch(
            user_agent=row.user_agent,
            last_fetched_at=row.last_fetched_at,
            fetch_count=row.fetch_count,
            first_fetched_at=row.first_fetched_at,
        )
        for row in conn.execute(query)
    ]
