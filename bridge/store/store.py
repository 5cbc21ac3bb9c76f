"""The Store: the one interface the sync engine, web app and feed renderer use for shared state.

Entry point: ``open_store(url)``. Every method is one transaction; writers on SQLite take the
write lock up front, and readers never wait for them (WAL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bridge.models import Calendar, Case, Event, Feed, FeedEvent, Privacy, Staff, Subject
from bridge.store import events as event_rows
from bridge.store import feeds as feed_rows
from bridge.store import reference
from bridge.store import state as state_rows
from bridge.store.engine import create_store_engine, is_missing_table, transaction
from bridge.store.errors import SchemaOutOfDate
from bridge.store.migrations import LATEST_VERSION, apply_migrations, read_schema_version
from bridge.store.records import (
    ChangeCounts,
    EventDigest,
    FeedFetch,
    FeedRender,
    SyncState,
)
from bridge.store.tables import cases, staff, subjects


def open_store(url: str, *, busy_timeout_ms: int = 5000) -> Store:
    """Connect to ``sqlite:///path`` (its folder is created) or ``postgresql://...``.

    Raises StoreUnavailable when the database can't be reached. The schema is not checked
    here: call ``require_current_schema()`` (or ``migrate()``) before using it.
    """
    return Store(create_store_engine(url, busy_timeout_ms=busy_timeout_ms))


class Store:
    """Use ``open_store(url)`` to make one; close it (or use ``with``) when done."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            with transaction(self._engine, write=write) as conn:
                yield conn
        except DBAPIError as exc:
            if is_missing_table(exc):
                current = self.schema_version()
                if current != LATEST_VERSION:
                    raise SchemaOutOfDate(current, LATEST_VERSION) from exc
            raise

    # -- schema ----------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the missing migrations, each in its own transaction; return their versions."""
        return apply_migrations(lambda: transaction(self._engine, write=True))

    def schema_version(self) -> int:
        with transaction(self._engine, write=False) as conn:
            return read_schema_version(conn)

    def require_current_schema(self) -> None:
        current = self.schema_version()
        if current != LATEST_VERSION:
            raise SchemaOutOfDate(current, LATEST_VERSION)

    # -- events ----------------------------------------------------------------------------

    def event_digests(self, event_ids: Iterable[int]) -> dict[int, EventDigest]:
        """Digests of the given events that are stored, tombstoned ones included."""
        with self._transaction(write=False) as conn:
            return event_rows.select_event_digests(conn, event_ids)

    def apply_event_changes(
        self, upserts: Sequence[Event], tombstones: Sequence[int], at: datetime
    ) -> ChangeCounts:
        """Apply one sync plan in one transaction; see ``events.apply_event_changes``."""
        with self._transaction(write=True) as conn:
            return event_rows.apply_event_changes(conn, upserts, tombstones, at)

    def live_event_ids(self, ending_after: datetime) -> set[int]:
        with self._transaction(write=False) as conn:
            return event_rows.select_live_event_ids(conn, ending_after)

    def get_event(self, event_id: int) -> Event | None:
        """The stored event, tombstoned or not, raw_json included."""
        with self._transaction(write=False) as conn:
            return event_rows.select_event(conn, event_id)

    def count_events(self) -> int:
        with self._transaction(write=False) as conn:
            return event_rows.count_events(conn, is_deleted=False)

    def count_deleted_events(self) -> int:
        with self._transaction(write=False) as conn:
            return event_rows.count_events(conn, is_deleted=True)

    # -- reference data --------------------------------------------------------------------

    def upsert_cases(self, items: Iterable[Case]) -> int:
        with self._transaction(write=True) as conn:
            return reference.upsert_rows(conn, cases, [reference.case_values(c) for c in items])

    def upsert_subjects(self, items: Iterable[Subject]) -> int:
        rows = [reference.subject_values(s) for s in items]
        with self._transaction(write=True) as conn:
            return reference.upsert_rows(conn, subjects, rows)

    def upsert_staff(self, items: Iterable[Staff]) -> int:
        with self._transaction(write=True) as conn:
            return reference.upsert_rows(conn, staff, [reference.staff_values(s) for s in items])

    def list_cases(self) -> list[Case]:
        with self._transaction(write=False) as conn:
            return reference.select_cases(conn)

    def get_case(self, case_id: int) -> Case | None:
        with self._transaction(write=False) as conn:
            return reference.select_case(conn, case_id)

    def list_subjects(self, case_id: int | None = None) -> list[Subject]:
        with self._transaction(write=False) as conn:
            return reference.select_subjects(conn, case_id)

    def list_staff(self) -> list[Staff]:
        with self._transaction(write=False) as conn:
            return reference.select_staff(conn)

    def get_staff(self, staff_id: int) -> Staff | None:
        with self._transaction(write=False) as conn:
            return reference.select_staff_member(conn, staff_id)

    def list_calendars(self) -> list[Calendar]:
        with self._transaction(write=False) as conn:
            return reference.select_calendars(conn)

    def get_calendar(self, calendar_id: int) -> Calendar | None:
        with self._transaction(write=False) as conn:
            return reference.select_calendar(conn, calendar_id)

    def rename_calendar(self, calendar_id: int, name: str) -> None:
        """Rename; the calendar's feed follows unless its own name was set. NotFound if unknown."""
        with self._transaction(write=True) as conn:
            reference.update_calendar(conn, calendar_id, {"name": name})

    def set_calendar_timezone(self, calendar_id: int, timezone: str | None) -> None:
        with self._transaction(write=True) as conn:
            reference.update_calendar(conn, calendar_id, {"timezone": timezone})

    # -- sync state ------------------------------------------------------------------------

    def get_sync_state(self) -> SyncState:
        with self._transaction(write=False) as conn:
            return state_rows.select_sync_state(conn)

    def put_sync_state(self, state: SyncState) -> None:
        with self._transaction(write=True) as conn:
            state_rows.put_sync_state(conn, state)

    # -- feeds -----------------------------------------------------------------------------

    def ensure_feeds(self, default_privacy: Privacy) -> int:
        """Create any missing feed (per calendar, per staff member, all); return how many."""
        with self._transaction(write=True) as conn:
            return feed_rows.ensure_feeds(conn, default_privacy)

    def list_feeds(self) -> list[Feed]:
        with self._transaction(write=False) as conn:
            return feed_rows.select_feeds(conn)

    def get_feed(self, feed_id: int) -> Feed | None:
        with self._transaction(write=False) as conn:
            return feed_rows.select_feed(conn, feed_id)

    def find_feed_by_token(self, token: str) -> Feed | None:
        with self._transaction(write=False) as conn:
            return feed_rows.find_feed_by_token(conn, token)

    def rotate_feed_token(self, feed_id: int) -> Feed:
        """Give the feed a new token; the old URL stops working at once. NotFound if unknown."""
        with self._transaction(write=True) as conn:
            return feed_rows.rotate_feed_token(conn, feed_id)

    def update_feed(
        self,
        feed_id: int,
        *,
        name: str | None = None,
        privacy: Privacy | None = None,
        timezone: str | None = None,
    ) -> Feed:
        """Change the given settings (None: unchanged; "" resets name or zone to the default)."""
        with self._transaction(write=True) as conn:
            return feed_rows.update_feed(
                conn, feed_id, name=name, privacy=privacy, timezone=timezone
            )

    def feed_version(self, feed_id: int) -> int:
        """The feed's current version (NotFound if there is no such feed)."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_feed_version(conn, feed_id)

    def feed_events(self, feed: Feed, ending_after: datetime) -> list[FeedEvent]:
        """Live events in the feed ending after ``ending_after``, by start then id.

        Their Event.raw_json is left empty: the renderer has no use for it.
        """
        with self._transaction(write=False) as conn:
            return event_rows.select_feed_events(conn, feed, ending_after)

    def get_feed_render(self, feed_id: int) -> FeedRender | None:
        with self._transaction(write=False) as conn:
            return feed_rows.select_feed_render(conn, feed_id)

    def put_feed_render(self, render: FeedRender) -> None:
        with self._transaction(write=True) as conn:
            feed_rows.put_feed_render(conn, render)

    def record_feed_fetch(self, feed_id: int, at: datetime, user_agent: str) -> None:
        with self._transaction(write=True) as conn:
            feed_rows.record_feed_fetch(conn, feed_id, at, user_agent)

    def feed_fetches(self, feed_id: int) -> list[FeedFetch]:
        """Who fetched the feed, newest first."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_feed_fetches(conn, feed_id)

    # -- admin login throttle --------------------------------------------------------------

    def record_login_failure(self, client_key: str, at: datetime) -> None:
        with self._transaction(write=True) as conn:
            state_rows.record_login_failure(conn, client_key, at)

    def count_login_failures(self, client_key: str, since: datetime) -> int:
        with self._transaction(write=False) as conn:
            return state_rows.count_login_failures(conn, client_key, since)

    def clear_login_failures(self, client_key: str) -> None:
        with self._transaction(write=True) as conn:
            state_rows.clear_login_failures(conn, client_key)
