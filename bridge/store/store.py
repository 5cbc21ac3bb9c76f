"""The Store: the one interface the sync engine, web app and feed renderer use for shared state.

Entry point: ``open_store(url)``. Every method is one transaction; writers on SQLite take the
write lock up front, and readers never wait for them (WAL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bridge.changes import EventDigest, EventPlan
from bridge.errors import SchemaOutOfDate
from bridge.models import Calendar, Case, Event, Feed, FeedEvent, Privacy, Staff, Subject
from bridge.store import case_services as case_service_rows
from bridge.store import deletions, lease, login_throttle, reference, sync_state
from bridge.store import delivery as delivery_rows
from bridge.store import events as event_rows
from bridge.store import feeds as feed_rows
from bridge.store import outbox_items as item_rows
from bridge.store import overview as overview_rows
from bridge.store import problems as problem_rows
from bridge.store import sessions as session_rows
from bridge.store import uploads as upload_rows
from bridge.store import webhooks as webhook_rows
from bridge.store.case_services import KnownService
from bridge.store.delivery import Destination, PushedObject
from bridge.store.engine import create_store_engine, is_missing_table, transaction
from bridge.store.heads import HeadReader
from bridge.store.lease import Lease
from bridge.store.migrations import LATEST_VERSION, apply_migrations, read_schema_version
from bridge.store.outbox_items import (
    UNFINISHED_STATES,
    Batch,
    BatchProgress,
    NewItem,
    OutboxItem,
    QueueResult,
)
from bridge.store.outbox_lock import hold_drain_lock
from bridge.store.overview import EventQuery, HourCount, ListedEvent
from bridge.store.problems import ProblemCounts, RecordProblem
from bridge.store.rows import (
    ChangeCounts,
    FeedFetch,
    FeedHead,
    FeedRender,
    FeedRow,
    StaleFeed,
    SyncState,
)
from bridge.store.tables import cases, staff, subjects
from bridge.store.uploads import Upload
from bridge.store.webhooks import Delivery, DueDelivery, Subscription


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
        self._heads = HeadReader(engine)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._heads.close()
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
        self,
        upserts: Sequence[Event],
        tombstones: Sequence[int],
        at: datetime,
        *,
        announce: bool = True,
    ) -> ChangeCounts:
        """Plan these events and deletions against the mirror and apply the plan, in one
        transaction; see ``events.apply_event_changes``."""
        with self._transaction(write=True) as conn:
            return event_rows.apply_event_changes(conn, upserts, tombstones, at, announce=announce)

    def apply_event_plan(
        self, plan: EventPlan, at: datetime, *, announce: bool = True
    ) -> ChangeCounts:
        """Apply a plan made from ``event_digests`` in one transaction (the worker, holding
        the lease, is the mirror's only writer, so the digests are still true)."""
        with self._transaction(write=True) as conn:
            return event_rows.apply_event_plan(conn, plan, at, announce=announce)

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

    # -- deletion candidates (see ``deletions``) -------------------------------------------

    def add_deletion_candidates(self, event_ids: Iterable[int], at: datetime) -> int:
        with self._transaction(write=True) as conn:
            return deletions.insert_candidates(conn, event_ids, at)

    def drop_deletion_candidates(self, event_ids: Iterable[int]) -> int:
        with self._transaction(write=True) as conn:
            return deletions.delete_candidates(conn, event_ids)

    def next_deletion_candidates(self, limit: int) -> list[int]:
        with self._transaction(write=False) as conn:
            return deletions.select_candidates(conn, limit)

    def count_deletion_candidates(self) -> int:
        with self._transaction(write=False) as conn:
            return deletions.count_candidates(conn)

    def mark_deletion_probed(self, event_id: int, at: datetime) -> None:
        with self._transaction(write=True) as conn:
            deletions.mark_probed(conn, event_id, at)

    def apply_proven_deletions(self, event_ids: Sequence[int], at: datetime) -> ChangeCounts:
        """Tombstone events Trackops answered 404 for, and forget them as candidates, at once."""
        with self._transaction(write=True) as conn:
            counts = event_rows.apply_event_changes(conn, [], event_ids, at)
            deletions.delete_candidates(conn, event_ids)
            return counts

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

    def list_subjects(self, case_id: int | None = None) -> list[Subject]:
        with self._transaction(write=False) as conn:
            return reference.select_subjects(conn, case_id)

    def list_staff(self) -> list[Staff]:
        with self._transaction(write=False) as conn:
            return reference.select_staff(conn)

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
            return sync_state.select_sync_state(conn)

    def put_sync_state(self, state: SyncState) -> None:
        with self._transaction(write=True) as conn:
            sync_state.put_sync_state(conn, state)

    def record_sync_error(self, message: str, at: datetime) -> None:
        """Set the sync state's last error without touching the rest of the state."""
        with self._transaction(write=True) as conn:
            sync_state.record_sync_error(conn, message, at)

    # -- worker lease and the shared request slot (see ``lease``) ---------------------------

    def read_worker_lease(self) -> Lease:
        with self._transaction(write=False) as conn:
            return lease.read_lease(conn)

    def hold_worker_lease(
        self, holder: str, duration: timedelta, *, replacing: str | None = None
    ) -> Lease:
        """Take or renew the lease for ``duration`` unless another (other than ``replacing``,
        known dead) holds it; the lease after."""
        with self._transaction(write=True) as conn:
            return lease.hold_lease(conn, holder, duration, replacing=replacing)

    def release_worker_lease(self, holder: str) -> bool:
        """Give the lease up (if ``holder`` has it): the next process may take it at once."""
        with self._transaction(write=True) as conn:
            return lease.release_lease(conn, holder)

    def reserve_request_slot(
        self, not_before: float, interval: float, holder: str | None = None
    ) -> float:
        """Seconds to wait before this process's next request to Trackops (see ``lease``)."""
        with self._transaction(write=True) as conn:
            return lease.reserve_request_slot(conn, not_before, interval, holder)

    # -- record problems (see ``problems``) ------------------------------------------------

    def update_record_problems(
        self,
        read: Iterable[tuple[str, str]],
        problems: Sequence[RecordProblem],
        at: datetime,
    ) -> None:
        """The records in ``read`` (kind, key: read fine) and those in ``problems`` now have
        exactly ``problems``. Writes nothing when there is nothing to record or clear."""
        keys = set(read)
        if not problems:
            with self._transaction(write=False) as conn:
                if not problem_rows.has_record_problems(conn, keys):
                    return
        with self._transaction(write=True) as conn:
            problem_rows.replace_record_problems(conn, keys, problems, at)

    def list_record_problems(self, limit: int = 50) -> list[RecordProblem]:
        """Skipped records first, then kept ones; newest sightings first within each."""
        with self._transaction(write=False) as conn:
            return problem_rows.select_record_problems(conn, limit)

    def count_record_problems(self) -> ProblemCounts:
        """Records (not problems) skipped, and kept with a value changed."""
        with self._transaction(write=False) as conn:
            return problem_rows.count_record_problems(conn)

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

    def find_feed_and_version(self, token: str) -> tuple[Feed, int] | None:
        """The token's feed and its current version in one read: all a feed fetch needs from
        the store while its web process holds the render."""
        with self._transaction(write=False) as conn:
            return feed_rows.find_feed_and_version(conn, token)

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

    def find_feed_head(self, token: str) -> FeedHead | None:
        """The token's feed and its stored render's head (ETag, version, time, privacy), in one
        small read on a plain DBAPI connection: what a warm feed fetch costs the store."""
        return self._heads.read(token)

    def stale_feeds(self, window_key: str) -> list[StaleFeed]:
        """Feeds whose stored render is missing, behind their version, or of another window."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_stale_feeds(conn, window_key)

    def feed_rows(self, feed: Feed, ending_after: datetime) -> list[FeedRow]:
        """The feed's events as light rows in feed order (see ``events.select_feed_rows``)."""
        with self._transaction(write=False) as conn:
            return event_rows.select_feed_rows(conn, feed, ending_after)

    def feed_events_by_id(self, event_ids: Iterable[int]) -> list[FeedEvent]:
        """The named events as feeds show them, in any order; raw_json left empty."""
        with self._transaction(write=False) as conn:
            return event_rows.select_feed_events_by_id(conn, event_ids)

    def put_feed_render(self, render: FeedRender) -> None:
        with self._transaction(write=True) as conn:
            feed_rows.put_feed_render(conn, render)

    def record_feed_fetch(
        self, feed_id: int, at: datetime, user_agent: str, count: int = 1
    ) -> None:
        """Add ``count`` fetches by ``user_agent``, the last at ``at``."""
        with self._transaction(write=True) as conn:
            feed_rows.record_feed_fetch(conn, feed_id, at, user_agent, count)

    def feed_fetches(self, feed_id: int) -> list[FeedFetch]:
        """Who fetched the feed, newest first."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_feed_fetches(conn, feed_id)

    def last_fetches(self) -> dict[int, FeedFetch]:
        """Each feed's newest fetch, by feed id (feeds never fetched are absent)."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_last_fetches(conn)

    def render_sizes(self) -> dict[int, int]:
        """Each cached render's size in bytes, by feed id, without reading the bodies."""
        with self._transaction(write=False) as conn:
            return feed_rows.select_render_sizes(conn)

    # -- the admin pages' overviews --------------------------------------------------------

    def search_events(
        self, query: EventQuery, *, limit: int, offset: int = 0
    ) -> tuple[list[ListedEvent], int]:
        """One page of live events matching ``query`` (by start), and how many match."""
        with self._transaction(write=False) as conn:
            return overview_rows.search_events(conn, query, limit=limit, offset=offset)

    def feed_window(
        self, feed: Feed, ending_after: datetime, starting_before: datetime, limit: int
    ) -> list[int]:
        """Ids of the feed's live events overlapping the window, in feed order."""
        with self._transaction(write=False) as conn:
            return overview_rows.select_feed_window(
                conn, feed, ending_after, starting_before, limit
            )

    def count_calendar_events(self) -> dict[int, int]:
        """Live events per calendar id."""
        with self._transaction(write=False) as conn:
            return overview_rows.count_calendar_events(conn)

    def case_services(self) -> dict[int, list[KnownService]]:
        """The case services live events carry, by case id, the most recently used first."""
        with self._transaction(write=False) as conn:
            return case_service_rows.select_case_services(conn)

    def record_request_hour(
        self, at: datetime, requests: int, errors: int, rate_limited: int
    ) -> None:
        """Add requests to Trackops (and how many failed) to the tally of ``at``'s UTC hour."""
        hour_start = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        with self._transaction(write=True) as conn:
            overview_rows.add_request_hour(conn, hour_start, requests, errors, rate_limited)

    def request_hours(self, since: datetime) -> list[HourCount]:
        """The hourly tallies from ``since`` on, oldest first (hours without requests absent)."""
        with self._transaction(write=False) as conn:
            return overview_rows.select_request_hours(conn, since)

    # -- admin login throttle --------------------------------------------------------------

    def record_login_failure(self, client_key: str, at: datetime) -> None:
        """Log a failed login; failures older than a day (any client's) are pruned here."""
        with self._transaction(write=True) as conn:
            login_throttle.record_login_failure(conn, client_key, at)

    def count_login_failures(self, client_key: str, since: datetime) -> int:
        with self._transaction(write=False) as conn:
            return login_throttle.count_login_failures(conn, client_key, since)

    def clear_login_failures(self, client_key: str) -> None:
        with self._transaction(write=True) as conn:
            login_throttle.clear_login_failures(conn, client_key)

    def reserve_login_attempt(
        self,
        client_key: str,
        at: datetime,
        *,
        window: timedelta,
        client_limit: int,
        global_limit: int,
    ) -> login_throttle.LoginAttempt:
        """Under both limits, record the attempt as a failure before its password is checked
        (clear the client's failures when it was right); parallel attempts count in turn."""
        with self._transaction(write=True) as conn:
            return login_throttle.reserve_login_attempt(
                conn,
                client_key,
                at,
                window=window,
                client_limit=client_limit,
                global_limit=global_limit,
            )

    # -- admin sessions --------------------------------------------------------------------

    def admin_session_version(self) -> int:
        """The version a live admin session's cookie carries (see ``sessions``)."""
        with self._transaction(write=False) as conn:
            return session_rows.select_session_version(conn)

    def end_admin_sessions(self, at: datetime) -> int:
        """Log out every admin session: bump the version; returns the new one."""
        with self._transaction(write=True) as conn:
            return session_rows.bump_session_version(conn, at)

    # -- outbox: batches, items to send, uploads -------------------------------------------

    def queue_batch(
        self,
        *,
        batch_key: str,
        source: str,
        label: str,
        total: int,
        ready: int,
        invalid: int,
        items: Sequence[NewItem],
        at: datetime,
        rejected: str | None = None,
    ) -> QueueResult:
        """Record the batch once per key and queue its items not already in the outbox;
        `rejected` is kept with a new batch (JSON of the rows not queued)."""
        with self._transaction(write=True) as conn:
            return item_rows.queue_batch(
                conn,
                batch_key=batch_key,
                source=source,
                label=label,
                total=total,
                ready=ready,
                invalid=invalid,
                items=items,
                at=at,
                rejected=rejected,
            )

    def find_batch_by_key(self, batch_key: str) -> Batch | None:
        with self._transaction(write=False) as conn:
            return item_rows.select_batch_by_key(conn, batch_key)

    def get_batch(self, batch_id: int) -> Batch | None:
        with self._transaction(write=False) as conn:
            return item_rows.select_batch(conn, batch_id)

    def list_batches(self, limit: int = 50) -> list[Batch]:
        """The most recent batches, newest first."""
        with self._transaction(write=False) as conn:
            return item_rows.select_batches(conn, limit)

    def batch_counts(self, batch_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Items per state of each batch (every state, zeros included), in one query."""
        with self._transaction(write=False) as conn:
            return item_rows.select_batch_counts(conn, set(batch_ids))

    def batch_progress(self, batch_id: int) -> BatchProgress:
        """The batch, its items and their counts per state; NotFound if there is no such batch."""
        with self._transaction(write=False) as conn:
            return item_rows.select_batch_progress(conn, batch_id)

    def find_outbox_items(
        self, idempotency_keys: Iterable[str], body_digests: Iterable[str] = ()
    ) -> list[OutboxItem]:
        """Items with one of these keys, or with one of these bodies (see ``body_digest``)
        that did not fail: what a submission would find already queued or sent."""
        with self._transaction(write=False) as conn:
            return item_rows.select_items_matching(conn, set(idempotency_keys), set(body_digests))

    def claim_next_item(self, at: datetime, batch_id: int | None = None) -> OutboxItem | None:
        """Mark the oldest pending item (of the batch, if given) sending and return it."""
        with self._transaction(write=True) as conn:
            return item_rows.claim_next_item(conn, at, batch_id)

    def list_unresolved_items(self, batch_id: int | None = None) -> list[OutboxItem]:
        """Items left sending or unknown: their send may have created an event."""
        with self._transaction(write=False) as conn:
            return item_rows.select_unresolved_items(conn, batch_id)

    def mark_item_sent(self, item_id: int, event: Event, at: datetime) -> OutboxItem:
        """Record the created event on the item and put it in the mirror, in one transaction."""
        with self._transaction(write=True) as conn:
            item = item_rows.mark_item_sent(conn, item_id, event, at)
            webhook_rows.queue_batch_finished(conn, item.batch_id, at)
            return item

    def mark_item_failed(
        self,
        item_id: int,
        error: str,
        field_errors: Mapping[str, Sequence[str]],
        at: datetime,
    ) -> OutboxItem:
        """Trackops refused the item: keep its message and per-field problems."""
        with self._transaction(write=True) as conn:
            item = item_rows.mark_item_failed(conn, item_id, error, field_errors, at)
            webhook_rows.queue_batch_finished(conn, item.batch_id, at)
            return item

    def mark_item_unknown(self, item_id: int, error: str, at: datetime) -> OutboxItem:
        """The send got no clear answer: check Trackops before sending it again."""
        with self._transaction(write=True) as conn:
            return item_rows.mark_item_unknown(conn, item_id, error, at)

    def release_item(self, item_id: int, at: datetime, error: str | None = None) -> OutboxItem:
        """Back to pending (from sending or unknown): Trackops does not have the event."""
        with self._transaction(write=True) as conn:
            return item_rows.release_item(conn, item_id, error, at)

    def linked_event_ids(self, event_ids: Iterable[int]) -> set[int]:
        """Which of these events an outbox item already records as created by it."""
        with self._transaction(write=False) as conn:
            return item_rows.select_linked_event_ids(conn, set(event_ids))

    def count_outbox_items(
        self, states: Iterable[str] = UNFINISHED_STATES, batch_id: int | None = None
    ) -> int:
        """Items in one of these states (of one batch, if given)."""
        with self._transaction(write=False) as conn:
            return item_rows.count_items(conn, set(states), batch_id)

    def outbox_drain_lock(self) -> AbstractContextManager[bool]:
        """Enter to learn whether this process may send the outbox (one sender at a time)."""
        return hold_drain_lock(self._engine)

    def save_upload(
        self,
        data: bytes,
        filename: str,
        choices: Mapping[str, str],
        at: datetime,
        parsed: Mapping[str, Any] | None = None,
    ) -> str:
        """Keep an uploaded file until it is confirmed; returns its random id (>= 128 bits).

        `parsed` (JSON values) is what reading it gave, kept so it is never read again.
        Uploads older than a day are pruned here.
        """
        with self._transaction(write=True) as conn:
            return upload_rows.insert_upload(conn, data, filename, choices, at, parsed)

    def get_upload(self, upload_id: str) -> Upload | None:
        with self._transaction(write=False) as conn:
            return upload_rows.select_upload(conn, upload_id)

    # -- push destinations (bridge.delivery) ------------------------------------------------

    def add_destination(
        self,
        feed_id: int,
        url: str,
        at: datetime,
        *,
        username: str | None = None,
        password_env: str | None = None,
        token_file: str | None = None,
    ) -> Destination:
        """Add a CalDAV destination to the feed (NotFound if there is no such feed)."""
        with self._transaction(write=True) as conn:
            feed_rows.select_feed_version(conn, feed_id)
            destination_id = delivery_rows.insert_destination(
                conn,
                feed_id,
                url,
                at,
                username=username,
                password_env=password_env,
                token_file=token_file,
            )
            return delivery_rows.select_destination(conn, destination_id)

    def list_destinations(self, feed_id: int | None = None) -> list[Destination]:
        with self._transaction(write=False) as conn:
            return delivery_rows.select_destinations(conn, feed_id)

    def get_destination(self, destination_id: int) -> Destination:
        """The destination (NotFound if unknown)."""
        with self._transaction(write=False) as conn:
            return delivery_rows.select_destination(conn, destination_id)

    def remove_destination(self, destination_id: int) -> None:
        """Forget the destination and what it holds (NotFound if unknown)."""
        with self._transaction(write=True) as conn:
            delivery_rows.delete_destination(conn, destination_id)

    def pushed_objects(self, destination_id: int) -> dict[str, PushedObject]:
        """What the destination holds of ours, by UID."""
        with self._transaction(write=False) as conn:
            return delivery_rows.select_pushed_objects(conn, destination_id)

    def put_pushed_object(self, destination_id: int, pushed: PushedObject, at: datetime) -> None:
        with self._transaction(write=True) as conn:
            delivery_rows.put_pushed_object(conn, destination_id, pushed, at)

    def drop_pushed_objects(self, destination_id: int, uids: Sequence[str]) -> None:
        with self._transaction(write=True) as conn:
            delivery_rows.delete_pushed_objects(conn, destination_id, uids)

    def record_push_success(
        self, destination_id: int, at: datetime, *, pushed_version: int, reconciled: bool
    ) -> None:
        with self._transaction(write=True) as conn:
            delivery_rows.record_push_success(
                conn, destination_id, at, pushed_version=pushed_version, reconciled=reconciled
            )

    def record_push_failure(
        self,
        destination_id: int,
        at: datetime,
        *,
        error: str,
        backlog: int,
        next_attempt_at: datetime,
    ) -> None:
        with self._transaction(write=True) as conn:
            delivery_rows.record_push_failure(
                conn,
                destination_id,
                at,
                error=error,
                backlog=backlog,
                next_attempt_at=next_attempt_at,
            )

    # -- webhooks (bridge.delivery.webhooks; see ``webhooks``) -------------------------------

    def add_subscription(
        self,
        url: str,
        secret: str,
        at: datetime,
        *,
        event_types: Sequence[str],
        calendar_id: int | None = None,
        staff_id: int | None = None,
        privacy: Privacy = Privacy.LIMITED,
    ) -> Subscription:
        """A webhook subscription; it receives the changes made from now on."""
        with self._transaction(write=True) as conn:
            subscription_id = webhook_rows.insert_subscription(
                conn,
                url=url,
                secret=secret,
                event_types=event_types,
                calendar_id=calendar_id,
                staff_id=staff_id,
                privacy=privacy,
                at=at,
            )
            return webhook_rows.select_subscription(conn, subscription_id)

    def list_subscriptions(self) -> list[Subscription]:
        """Every subscription, with its backlog and failed counts."""
        with self._transaction(write=False) as conn:
            return webhook_rows.select_subscriptions(conn)

    def get_subscription(self, subscription_id: int) -> Subscription:
        """The subscription (NotFound if unknown)."""
        with self._transaction(write=False) as conn:
            return webhook_rows.select_subscription(conn, subscription_id)

    def remove_subscription(self, subscription_id: int) -> None:
        """Forget the subscription and its deliveries (NotFound if unknown)."""
        with self._transaction(write=True) as conn:
            webhook_rows.delete_subscription(conn, subscription_id)

    def disable_subscription(self, subscription_id: int, reason: str, at: datetime) -> None:
        with self._transaction(write=True) as conn:
            webhook_rows.disable_subscription(conn, subscription_id, reason, at)

    def claim_due_deliveries(
        self,
        now: datetime,
        holder: str,
        *,
        skip_subscriptions: Iterable[int] = (),
        limit: int = 50,
    ) -> list[DueDelivery]:
        """Claim the deliveries due at ``now`` whose earlier ones (per event) are done."""
        with self._transaction(write=True) as conn:
            return webhook_rows.claim_due_deliveries(
                conn, now, holder, skip_subscriptions=skip_subscriptions, limit=limit
            )

    def record_delivered(self, delivery_id: int, at: datetime, status: int) -> None:
        with self._transaction(write=True) as conn:
            webhook_rows.record_delivered(conn, delivery_id, at, status)

    def record_failed_attempt(
        self,
        delivery_id: int,
        at: datetime,
        *,
        status: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> None:
        """Retry at ``next_attempt_at``; None: give up (failed, replayable)."""
        with self._transaction(write=True) as conn:
            webhook_rows.record_failed_attempt(
                conn, delivery_id, at, status=status, error=error, next_attempt_at=next_attempt_at
            )

    def release_delivery_claims(self, delivery_ids: Sequence[int]) -> None:
        with self._transaction(write=True) as conn:
            webhook_rows.release_claims(conn, delivery_ids)

    def next_delivery_due_at(
        self, holder: str, skip_subscriptions: Iterable[int] = ()
    ) -> datetime | None:
        with self._transaction(write=False) as conn:
            return webhook_rows.next_due_at(conn, holder, skip_subscriptions)

    def list_deliveries(
        self,
        *,
        subscription_id: int | None = None,
        states: Iterable[str] | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        """The newest deliveries first: the delivery log."""
        with self._transaction(write=False) as conn:
            return webhook_rows.select_deliveries(
                conn, subscription_id=subscription_id, states=states, limit=limit
            )

    def get_delivery(self, delivery_id: int) -> Delivery:
        """The delivery (NotFound if unknown)."""
        with self._transaction(write=False) as conn:
            return webhook_rows.select_delivery(conn, delivery_id)

    def replay_deliveries(
        self,
        at: datetime,
        *,
        delivery_id: int | None = None,
        subscription_id: int | None = None,
    ) -> int:
        """Queue failed deliveries again, same message id (NotFound for an unknown id)."""
        with self._transaction(write=True) as conn:
            return webhook_rows.replay_deliveries(
                conn, at, delivery_id=delivery_id, subscription_id=subscription_id
            )

    def prune_deliveries(self, *, delivered_before: datetime, failed_before: datetime) -> int:
        with self._transaction(write=True) as conn:
            return webhook_rows.prune_deliveries(
                conn, delivered_before=delivered_before, failed_before=failed_before
            )
