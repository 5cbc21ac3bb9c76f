"""One poll of Trackops into the store: what changed, the cursor, and deletions. No HTTP here.

Entry point: `Syncer.poll()`. Each pass is planned as plain data by pure functions
(`bridge.changes.plan_event_changes`, `plan_deletions`) and applied by the store in transactions,
so running the same pass twice gives an empty plan the second time.

Listings are hints, never proofs (docs/trackops-api.md, listing hazards). An event missing from
a listing becomes a deletion *candidate*; it is deleted only when `GET /events/{id}` answers 404,
a budget of such probes per pass. A listing shorter than Trackops' own count, or empty where the
mirror is not, is suspect: it adds no candidates, and an incremental poll that was suspect keeps
its cursor where it was, so nothing it may have skipped is passed over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bridge.changes import plan_event_changes
from bridge.errors import (
    BridgeError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from bridge.models import Case, Event, Privacy, Staff, Subject
from bridge.store import RecordProblem, Store, SyncState, problem_key
from bridge.trackops.client import PER_PAGE, Count, Page, RequestStats
from bridge.trackops.records import record_identity

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
    def get_event(self, event_id: int) -> Event: ...
    def iter_event_pages(
        self, *, created_from: datetime | None = None, by_key: bool = True, **filters: object
    ) -> Iterator[Page[Event]]: ...
    def iter_case_pages(self, **filters: object) -> Iterator[Page[Case]]: ...
    def iter_subject_pages(self, **filters: object) -> Iterator[Page[Subject]]: ...
    def iter_staff_pages(self, **filters: object) -> Iterator[Page[Staff]]: ...


Progress = Callable[[int, int | None], None]


def plan_deletions(listed_ids: set[int], stored_live_ids: set[int]) -> list[int]:
    """Ids the store shows in the window that a complete listing no longer has. Pure."""
    return sorted(stored_live_ids - listed_ids)


def is_mass_deletion(deletions: int, live: int) -> bool:
    return deletions > MASS_DELETE_MIN and deletions > live * MASS_DELETE_SHARE


def listing_doubt(listed: int, counted: int, stored_live: int) -> str | None:
    """Why a listing cannot be trusted to show absences, or None. Pure.

    Records created while the listing walked are both listed and counted, and records deleted
    meanwhile may be listed but not counted, so a complete listing is never shorter than the
    count taken after it.
    """
    if listed == 0 and stored_live:
        return f"Trackops listed no events where the mirror has {stored_live}"
    if listed < counted:
        return f"Trackops listed {listed} events but counts {counted}"
    return None


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
    probed: int = 0  # deletion candidates looked up one by one
    waiting: int = 0  # deletion candidates left for later passes
    doubt: str | None = None  # why a listing was not trusted this pass
    requests: int = 0
    reconciled: bool = False
    full: bool = False
    problems: list[str] = field(default_factory=list)
    kept_changed: int = 0  # records kept with a value changed or left out (an unknown zone)

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
        if self.kept_changed:
            parts.append(f"{self.kept_changed} records kept with a value changed")
        if self.reconciled:
            parts.append("deletions checked")
        if self.waiting:
            parts.append(f"{self.waiting} possible deletions waiting for proof")
        if self.doubt:
            parts.append(f"listing not trusted: {self.doubt}")
        return ", ".join(parts)


@dataclass(frozen=True)
class SyncOptions:
    overlap: timedelta = timedelta(seconds=120)
    feed_past_days: int = 90
    reconcile_interval: timedelta = timedelta(hours=1)
    reference_interval: timedelta = timedelta(minutes=15)
    default_privacy: Privacy = Privacy.LIMITED  # for feeds of newly seen calendars and staff
    deletion_probes: int = 20  # GET /events/{id} lookups a pass may spend proving deletions


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
        before = (
            self.client.stats.requests,
            self.client.stats.rate_limited,
            self.client.stats.retries,
        )
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
                if state.events_cursor is not None:
                    state = replace(state, last_reconcile_at=started)
            elif reconcile or (
                reconcile is None
                and self._is_due(state.last_reconcile_at, self.options.reconcile_interval)
            ):
                self._reconcile(result)
                state = replace(
                    state, last_reconcile_at=self.clock(), last_reconcile_note=result.doubt
                )
            self._probe_candidates(result)
        except BridgeError as error:
            failed = self._count_requests(
                self.store.get_sync_state(), result, before, has_failed=True
            )
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
        self,
        state: SyncState,
        result: PollResult,
        before: tuple[int, int, int],
        *,
        has_failed: bool = False,
    ) -> SyncState:
        result.requests = self.client.stats.requests - before[0]
        rate_limited = self.client.stats.rate_limited - before[1]
        # Failed requests: each one retried, and the one that ended a failed pass.
        errors = self.client.stats.retries - before[2] + int(has_failed)
        if result.requests or errors:
            self.store.record_request_hour(self.clock(), result.requests, errors, rate_limited)
        return replace(
            state,
            requests_total=state.requests_total + result.requests,
            rate_limited_total=state.rate_limited_total + rate_limited,
        )

    def _is_due(self, last: datetime | None, interval: timedelta) -> bool:
        return last is None or self.clock() - last >= interval

    # -- events ----------------------------------------------------------------------------

    def _sync_events(self, state: SyncState, result: PollResult, started: datetime) -> SyncState:
        if state.events_cursor is None:
            return self._sync_everything(state, result, started)
        read_from = self._read_from(state)
        pages = self.client.iter_event_pages(
            updated_from=read_from, by_key=not state.walk_by_number
        )
        walk = self._apply_pages(pages, result, None, started)
        if walk.pages > 1:
            # Only a short page ends a listing, so one cut short by a proxy looks complete:
            # Trackops' count of what changed up to this pass's start is the check. Idle and
            # quiet polls list one short page, and one request is all they cost.
            counted = self.client.count("/events", updated_from=read_from, updated_to=started)
            result.doubt = listing_doubt(walk.listed_before_start, counted.record_count, 0)
        if result.doubt:
            log.warning("changes listing not trusted (%s): the cursor stays", result.doubt)
            return replace(state, events_settled=False, walk_by_number=walk.is_keyed)
        cursor = state.events_cursor
        new_cursor = max(filter(None, (cursor, walk.cursor)), default=None)
        return replace(
            state,
            events_cursor=new_cursor,
            events_settled=self._settled(state, new_cursor, started),
            walk_by_number=False,
        )

    def _sync_everything(
        self, state: SyncState, result: PollResult, started: datetime
    ) -> SyncState:
        """The first full pull, resuming where an earlier one was cut short.

        A checkpoint after every chunk written keeps how far the walk got (a creation stamp),
        when it began and the newest update it saw, so a killed worker loses a chunk at most.
        A pull that ends with fewer events than Trackops counts starts again from the top,
        by page number.
        """
        result.full = True
        began = state.full_sync_started_at or started
        total = self.client.count("/events").record_count
        resume_from = state.full_sync_resume_from
        if resume_from:
            log.info(
                "first sync: resuming from events created %s", f"{resume_from:%Y-%m-%d %H:%M:%S}"
            )
        else:
            log.info("first sync: %d events to fetch", total)

        def checkpoint(page: Page[Event], newest: datetime | None) -> None:
            self.store.put_sync_state(
                replace(
                    self.store.get_sync_state(),
                    full_sync_resume_from=page.resume_from if page.is_keyed else None,
                    full_sync_started_at=began,
                    full_sync_newest=newest,
                )
            )

        pages = self.client.iter_event_pages(
            created_from=resume_from, by_key=not state.walk_by_number
        )
        walk = self._apply_pages(
            pages, result, total, began, newest=state.full_sync_newest, checkpoint=checkpoint
        )
        # Counted after the walk: events created meanwhile were walked too, and events
        # deleted meanwhile are in the mirror but no longer counted.
        counted = self.client.count("/events").record_count
        result.doubt = listing_doubt(self.store.count_events() + result.skipped, counted, 0)
        state = replace(
            self.store.get_sync_state(),
            full_sync_resume_from=None,
            full_sync_started_at=None,
            full_sync_newest=None,
        )
        if result.doubt:
            log.warning(
                "first sync incomplete (%s): it starts again at the next poll", result.doubt
            )
            return replace(state, walk_by_number=True)
        return replace(state, events_cursor=walk.cursor, events_settled=False, walk_by_number=False)

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
        self,
        pages: Iterable[Page[Event]],
        result: PollResult,
        total: int | None,
        started: datetime,
        *,
        newest: datetime | None = None,
        checkpoint: Callable[[Page[Event], datetime | None], None] | None = None,
    ) -> _Walk:
        walk = _Walk(started=started, newest=newest)
        chunk: list[Event] = []
        for page in pages:
            walk.add(page)
            result.fetched += len(page.records) + len(page.problems)
            self._report_problems(page, result)
            chunk.extend(page.records)
            if walk.pages % PAGES_PER_CHUNK == 0:
                self._write(chunk, result)
                chunk = []
                if checkpoint:
                    checkpoint(page, walk.newest)
            if self.progress:
                self.progress(result.fetched, total)
        self._write(chunk, result)
        return walk

    def _write(self, events: Sequence[Event], result: PollResult) -> None:
        if not events:
            return
        self.store.drop_deletion_candidates(e.event_id for e in events)
        plan = plan_event_changes(events, self.store.event_digests(e.event_id for e in events))
        result.unchanged += len(plan.unchanged)
        if plan.has_writes:
            # A first full pull is the bridge learning what exists, not news for webhooks.
            counts = self.store.apply_event_plan(plan, self.clock(), announce=not result.full)
            result.inserted += counts.inserted
            result.updated += counts.updated + counts.undeleted

    def _report_problems(self, page: Page[Any], result: PollResult) -> None:
        """Log and count the page's unreadable records and those kept with a value changed, and
        store them for the dashboard and `status`; records read fine lose their problems."""
        found: list[RecordProblem] = []
        for problem in page.problems:
            result.skipped += 1
            text = f"skipped {problem} (keys: {', '.join(problem.keys)})"
            result.problems.append(text)
            log.warning("%s", text)
            found.append(
                RecordProblem(
                    problem.kind or "record",
                    problem_key(problem.record_id),
                    problem.field or "",
                    problem.detail,
                    is_skipped=True,
                    label=problem.label,
                )
            )
        for warning in page.warnings:
            text = f"kept {warning}"
            result.problems.append(text)
            log.warning("%s", text)
            found.append(
                RecordProblem(
                    warning.kind,
                    problem_key(warning.record_id),
                    warning.field,
                    warning.detail,
                    is_skipped=False,
                    label=warning.label,
                )
            )
        result.kept_changed += len({(w.kind, w.record_id) for w in page.warnings})
        read = [record_identity(record) for record in page.records]
        self.store.update_record_problems(
            [(kind, problem_key(record_id)) for kind, record_id in read], found, self.clock()
        )

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
            self._report_problems(page, result)
            changed += upsert(page.records)
            for record in page.records:
                stamp = getattr(record, "updated_at", None)
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
        return newest, changed

    # -- deletions -------------------------------------------------------------------------

    def _reconcile(self, result: PollResult) -> None:
        """Mark window events Trackops no longer lists as candidates for deletion.

        Nothing is deleted here: a candidate is deleted once Trackops answers 404 for it
        (`_probe_candidates`). A listing that disagrees with Trackops' count, or is empty where
        the mirror is not, adds no candidates at all; a listing that would make a large share
        candidates must be confirmed by a second one.
        """
        window_start = self.clock() - timedelta(days=self.options.feed_past_days)
        listed, unidentified = self._list_window(window_start, result)
        counted = self.client.count("/events", end_from=window_start).record_count
        live = self.store.live_event_ids(ending_after=window_start)
        result.reconciled = True
        self.store.drop_deletion_candidates(listed)
        result.doubt = listing_doubt(len(listed) + unidentified, counted, len(live))
        if result.doubt:
            log.warning("deletion check not trusted (%s): nothing marked", result.doubt)
            return
        absent = plan_deletions(listed, live)
        if is_mass_deletion(len(absent), len(live)):
            log.warning(
                "listing lacks %d of %d events in the window; listing again to confirm",
                len(absent),
                len(live),
            )
            confirmed = plan_deletions(self._list_window(window_start, result)[0], live)
            absent = sorted(set(absent) & set(confirmed))
        if absent:
            added = self.store.add_deletion_candidates(absent, self.clock())
            log.info("%d events no longer listed: each is looked up before deletion", added)

    def _list_window(self, window_start: datetime, result: PollResult) -> tuple[set[int], int]:
        """Ids of every event ending in the window, and how many unreadable ones had no id.

        Also writes any changes it sees.
        """
        ids: set[int] = set()
        unidentified = 0
        chunk: list[Event] = []
        for page in self.client.iter_event_pages(end_from=window_start):
            self._report_problems(page, result)
            ids.update(e.event_id for e in page.records)
            for problem in page.problems:
                if isinstance(problem.record_id, int):
                    ids.add(problem.record_id)
                else:
                    unidentified += 1
            chunk.extend(page.records)
            if len(chunk) >= PAGES_PER_CHUNK * PER_PAGE:
                self._write(chunk, result)
                chunk = []
        self._write(chunk, result)
        return ids, unidentified

    def _probe_candidates(self, result: PollResult) -> None:
        """Look candidates up one by one: 404 deletes, an answer keeps; within the budget.

        Trackops' trouble (5xx, a dropped connection, a firewall page) ends the probing for this
        pass and proves nothing; the candidates wait for the next pass.
        """
        proven: list[int] = []
        for event_id in self.store.next_deletion_candidates(self.options.deletion_probes):
            result.probed += 1
            try:
                event = self.client.get_event(event_id)
            except NotFoundError:
                proven.append(event_id)
                continue
            except RecordError:
                self.store.drop_deletion_candidates([event_id])  # there, if unreadable
                continue
            except (
                ServerError,
                TransportError,
                RateLimitedError,
                UnexpectedResponseError,
            ) as error:
                self.store.mark_deletion_probed(event_id, self.clock())
                log.warning("could not look up event %d: %s", event_id, error.describe())
                break
            self._write([event], result)
        if proven:
            counts = self.store.apply_proven_deletions(proven, self.clock())
            result.deleted += counts.deleted
            for event_id, title in counts.deleted_events:
                log.info("deleted event %d %r: Trackops answers 404 for it", event_id, title)
        result.waiting = self.store.count_deletion_candidates()


@dataclass
class _Walk:
    """What a pass learned from the pages of one listing, beyond the events themselves."""

    started: datetime
    newest: datetime | None = None  # the newest update stamp listed
    pages: int = 0
    listed_before_start: int = 0  # records listed whose update stamp is before `started`
    is_keyed: bool = True  # every page was reached by creation stamp

    def add(self, page: Page[Event]) -> None:
        self.pages += 1
        self.is_keyed = self.is_keyed and page.is_keyed
        self.listed_before_start += len(page.problems)
        for event in page.records:
            stamp = event.updated_at
            if stamp is None or stamp <= self.started:
                self.listed_before_start += 1
            if stamp and (self.newest is None or stamp > self.newest):
                self.newest = stamp

    @property
    def cursor(self) -> datetime | None:
        """Where the next pass may start reading changes.

        A change made while this listing walked, to an event it had already passed, carries a
        stamp after `started`; the cursor never moves beyond that, so the next pass reads it.
        """
        if self.newest is None:
            return None
        return min(self.newest, self.started)
