"""One poll of Trackops into the store: what changed, the cursor, and deletions. No HTTP here.

Entry point: `Syncer.poll()`. Each pass is planned as plain data by pure functions
(`plan_upserts`, `plan_deletions`) and applied by the store in transactions, so running the same
pass twice gives an empty plan the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from bridge.errors import BridgeError, RecordError
from bridge.models import Case, Event, Privacy, Staff, Subject
from bridge.store import EventDigest, Store, SyncState, content_hash
from bridge.trackops.client import PER_PAGE, Count, Page, RequestStats

log = logging.getLogger(__name__)

T = TypeVar("T")

# Pages are applied in chunks: a fault before the first chunk is written changes nothing, and
# memory stays flat however many events a full pull brings.
PAGES_PER_CHUNK = 10
# Reconcile deletes a large share only after a second listing agrees (a half-empty listing
# from a confused server must not wipe people's calendars).
MASS_DELETE_SHARE = 0.5
MASS_DELETE_MIN = 20


class EventSource(Protocol):
    """What sync needs of the Trackops client (its whole API surface here)."""

    stats: RequestStats

    def count(self, path: str, **filters: object) -> Count: ...
    def iter_event_pages(self, **filters: object) -> Iterator[Page[Event]]: ...
    def iter_case_pages(self, **filters: object) -> Iterator[Page[Case]]: ...
    def iter_subject_pages(self, **filters: object) -> Iterator[Page[Subject]]: ...
    def iter_staff_pages(self, **filters: object) -> Iterator[Page[Staff]]: ...


Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class UpsertPlan:
    """Events to write (new, changed or back from a tombstone), and how many were unchanged."""

    upserts: list[Event]
    unchanged: int


def plan_upserts(listed: Sequence[Event], stored: Mapping[int, EventDigest]) -> UpsertPlan:
    """Which of the listed events differ from what the store holds. Pure."""
    latest: dict[int, Event] = {}
    for event in listed:  # an overlap can list one event twice: keep the newest
        previous = latest.get(event.event_id)
        if previous is None or _stamp(event) >= _stamp(previous):
            latest[event.event_id] = event
    upserts = []
    for event in latest.values():
        digest = stored.get(event.event_id)
        if digest is None or digest.is_deleted or digest.content_hash != content_hash(event):
            upserts.append(event)
    return UpsertPlan(upserts=upserts, unchanged=len(latest) - len(upserts))


def plan_deletions(listed_ids: set[int], stored_live_ids: set[int]) -> list[int]:
    """Ids the store shows in the window that a complete listing no longer has. Pure."""
    return sorted(stored_live_ids - listed_ids)


def is_mass_deletion(deletions: int, live: int) -> bool:
    return deletions > MASS_DELETE_MIN and deletions > live * MASS_DELETE_SHARE


def _stamp(event: Event) -> datetime:
    return event.updated_at or datetime.min.replace(tzinfo=UTC)


@dataclass
class PollResult:
    """What one poll did, for the CLI's one-line summary and the worker's log."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0  # unreadable records
    reference_changes: int = 0
    requests: int = 0
    reconciled: bool = False
    full: bool = False
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kind = "full sync" if self.full else "poll"
        parts = [
            f"{kind}: {self.fetched} fetched",
            f"{self.inserted} new",
            f"{self.updated} changed",
            f"{self.deleted} deleted",
            f"{self.requests} requests",
        ]
        if self.skipped:
            parts.append(f"{self.skipped} unreadable records skipped")
        if self.reconciled:
            parts.append("deletions checked")
        return ", ".join(parts)


@dataclass(frozen=True)
class SyncOptions:
    overlap: timedelta = timedelta(seconds=120)
    feed_past_days: int = 90
    reconcile_interval: timedelta = timedelta(hours=1)
    reference_interval: timedelta = timedelta(minutes=15)
    default_privacy: Privacy = Privacy.LIMITED  # for feeds of newly seen calendars and staff


class Syncer:
    """Runs passes of the mirror: incremental events, reference data, deletion reconcile."""

    def __init__(
        self,
        client: EventSource,
        store: Store,
        options: SyncOptions,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.options = options
        self.clock = clock
        self.progress = progress

    def poll(self, *, reconcile: bool | None = None) -> PollResult:
        """One pass. `reconcile=None` checks deletions when the interval has passed.

        On any error the cursor stays where it was, the error is recorded in the sync state,
        and the error is raised; the next poll starts from the same place.
        """
        started = self.clock()
        before = (self.client.stats.requests, self.client.stats.rate_limited)
        state = replace(self.store.get_sync_state(), last_attempt_at=started)
        self.store.put_sync_state(state)
        result = PollResult()
        try:
            state = self._sync_events(state, result, started)
            if self._is_due(state.reference_refreshed_at, self.options.reference_interval):
                state = self._sync_reference(state, result)
            if result.full and not reconcile:
                # A first pull listed everything there is: nothing can be missing yet, so a
                # window listing now would spend requests to learn nothing.
                state = replace(state, last_reconcile_at=started)
            elif reconcile or (
                reconcile is None
                and self._is_due(state.last_reconcile_at, self.options.reconcile_interval)
            ):
                self._reconcile(result)
                state = replace(state, last_reconcile_at=self.clock())
        except BridgeError as error:
            failed = self._count_requests(self.store.get_sync_state(), result, before)
            self.store.put_sync_state(
                replace(failed, last_error=error.describe(), last_error_at=self.clock())
            )
            raise
        if result.inserted or result.reference_changes:
            self.store.ensure_feeds(self.options.default_privacy)
        state = self._count_requests(state, result, before)
        self.store.put_sync_state(
            replace(
                state,
                last_success_at=self.clock(),
                last_error=None,
                events_fetched_total=state.events_fetched_total + result.fetched,
            )
        )
        return result

    def _count_requests(
        self, state: SyncState, result: PollResult, before: tuple[int, int]
    ) -> SyncState:
        result.requests = self.client.stats.requests - before[0]
        return replace(
            state,
            requests_total=state.requests_total + result.requests,
            rate_limited_total=state.rate_limited_total
            + self.client.stats.rate_limited
            - before[1],
        )

    def _is_due(self, last: datetime | None, interval: timedelta) -> bool:
        return last is None or self.clock() - last >= interval

    # -- events ----------------------------------------------------------------------------

    def _sync_events(self, state: SyncState, result: PollResult, started: datetime) -> SyncState:
        cursor = state.events_cursor
        if cursor is None:
            result.full = True
            total = self.client.count("/events").record_count
            log.info("first sync: %d events to fetch", total)
            pages = self.client.iter_event_pages()
        else:
            total = None
            pages = self.client.iter_event_pages(updated_from=self._read_from(state))
        newest = self._apply_pages(pages, result, total)
        new_cursor = max(filter(None, (cursor, newest)), default=None)
        return replace(
            state,
            events_cursor=new_cursor,
            events_settled=self._settled(state, new_cursor, started),
        )

    def _read_from(self, state: SyncState) -> datetime:
        """Where an incremental pass starts reading.

        Re-reading `overlap` before the cursor catches records committed late or stamped by a
        clock slightly behind. Once a pass that began `overlap` after the cursor has re-read that
        stretch, nothing more can appear in it, so the next pass starts just after the cursor
        and an idle poll costs one request even after a bulk change of over 100 records.
        """
        cursor = state.events_cursor
        assert cursor is not None
        if state.events_settled:
            return cursor + timedelta(seconds=1)
        return cursor - self.options.overlap

    def _settled(self, before: SyncState, cursor: datetime | None, started: datetime) -> bool:
        if cursor is None or before.events_cursor is None:
            return False
        return started >= cursor + self.options.overlap

    def _apply_pages(
        self, pages: Iterable[Page[Event]], result: PollResult, total: int | None
    ) -> datetime | None:
        newest: datetime | None = None
        chunk: list[Event] = []
        for number, page in enumerate(pages, start=1):
            result.fetched += page.size
            self._report_problems(page.problems, result)
            chunk.extend(page.records)
            for event in page.records:
                if event.updated_at and (newest is None or event.updated_at > newest):
                    newest = event.updated_at
            if number % PAGES_PER_CHUNK == 0:
                self._write(chunk, result)
                chunk = []
            if self.progress:
                self.progress(result.fetched, total)
        self._write(chunk, result)
        return newest

    def _write(self, events: Sequence[Event], result: PollResult) -> None:
        if not events:
            return
        plan = plan_upserts(events, self.store.event_digests(e.event_id for e in events))
        result.unchanged += plan.unchanged
        if plan.upserts:
            counts = self.store.apply_event_changes(plan.upserts, [], self.clock())
            result.inserted += counts.inserted
            result.updated += counts.updated + counts.undeleted

    def _report_problems(self, problems: Sequence[RecordError], result: PollResult) -> None:
        for problem in problems:
            result.skipped += 1
            text = f"skipped unreadable record {problem.record_id}: {problem} (keys: "
            text += ", ".join(problem.keys) + ")"
            result.problems.append(text)
            log.warning("%s", text)

    # -- reference data --------------------------------------------------------------------

    def _sync_reference(self, state: SyncState, result: PollResult) -> SyncState:
        """Cases, subjects and staff: incremental by their own cursors, less often than events."""
        cases_cursor, n = self._pull(
            self.client.iter_case_pages, state.cases_cursor, self.store.upsert_cases, result
        )
        result.reference_changes += n
        subjects_cursor, n = self._pull(
            self.client.iter_subject_pages,
            state.subjects_cursor,
            self.store.upsert_subjects,
            result,
        )
        result.reference_changes += n
        staff_cursor, n = self._pull(
            self.client.iter_staff_pages, state.staff_cursor, self.store.upsert_staff, result
        )
        result.reference_changes += n
        return replace(
            state,
            cases_cursor=cases_cursor,
            subjects_cursor=subjects_cursor,
            staff_cursor=staff_cursor,
            reference_refreshed_at=self.clock(),
        )

    def _pull(
        self,
        iter_pages: Callable[..., Iterator[Page[T]]],
        cursor: datetime | None,
        upsert: Callable[[Iterable[T]], int],
        result: PollResult,
    ) -> tuple[datetime | None, int]:
        filters = {} if cursor is None else {"updated_from": cursor - self.options.overlap}
        changed = 0
        newest = cursor
        for page in iter_pages(**filters):
            self._report_problems(page.problems, result)
            changed += upsert(page.records)
            for record in page.records:
                stamp = getattr(record, "updated_at", None)
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
        return newest, changed

    # -- deletions -------------------------------------------------------------------------

    def _reconcile(self, result: PollResult) -> None:
        """Tombstone window events Trackops no longer lists.

        The API reports no deletions, so absence from a *complete* listing is the only evidence.
        Any error midway raises before anything is deleted; a listing that would delete a large
        share must be confirmed by a second one.
        """
        window_start = self.clock() - timedelta(days=self.options.feed_past_days)
        listed = self._list_window(window_start, result)
        live = self.store.live_event_ids(ending_after=window_start)
        absent = plan_deletions(set(listed), live)
        if is_mass_deletion(len(absent), len(live)):
            log.warning(
                "listing lacks %d of %d events in the window; listing again to confirm",
                len(absent),
                len(live),
            )
            confirmed = plan_deletions(set(self._list_window(window_start, result)), live)
            absent = sorted(set(absent) & set(confirmed))
        result.reconciled = True
        if not absent:
            return
        counts = self.store.apply_event_changes([], absent, self.clock())
        result.deleted += counts.deleted
        for event_id, title in counts.deleted_events:
            log.info("deleted event %d %r: Trackops no longer lists it", event_id, title)

    def _list_window(self, window_start: datetime, result: PollResult) -> list[int]:
        """Ids of every event ending in the window; also writes any changes it sees."""
        ids: list[int] = []
        chunk: list[Event] = []
        for page in self.client.iter_event_pages(end_from=window_start):
            self._report_problems(page.problems, result)
            ids.extend(e.event_id for e in page.records)
            ids.extend(p.record_id for p in page.problems if isinstance(p.record_id, int))
            chunk.extend(page.records)
            if len(chunk) >= PAGES_PER_CHUNK * PER_PAGE:
                self._write(chunk, result)
                chunk = []
        self._write(chunk, result)
        return ids
