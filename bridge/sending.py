"""Sending drafts exactly once: outbox items -> POST /events through the one paced client.

Entry point: `drain_outbox` (or `OutboxSender.drain`, which the worker holds). Each item is marked
"sending" and committed before its POST. An item whose send may have created an event without
our hearing of it ("sending" after a crash, "unknown" after a timeout or 5xx) is looked for in
Trackops first: found, it is recorded as sent; not found, it goes back to pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bridge.errors import BadRequestError, BridgeError, TrackopsError, UnexpectedResponseError
from bridge.models import Draft, Event
from bridge.store import OutboxItem, Store, StoreError
from bridge.trackops.bodies import read_request_body
from bridge.trackops.client import Page

log = logging.getLogger(__name__)

# How long after its last attempt an unresolved item is left alone before it is looked for in
# Trackops: a request the client gave up on (or whose sender died) may still be running on the
# server, and a search made before it finishes would miss the event it is about to create.
SETTLE = timedelta(seconds=60)
# How far either side of its start an unresolved item's event is searched for. The match itself
# is exact; the window only has to hold it whatever way Trackops reads the filter's times.
SEARCH_WINDOW = timedelta(days=1)

Progress = Callable[[OutboxItem], None]


class _Unreadable(Exception):
    """A search for an item's event listed records the bridge cannot read."""


class EventSender(Protocol):
    """What the sender needs of the Trackops client."""

    def create_event(self, body: Mapping[str, Any]) -> Event: ...
    def iter_event_pages(self, **filters: Any) -> Iterator[Page[Event]]: ...


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    unknown: int = 0  # sent without a clear answer this time: checked at a later drain
    recovered: int = 0  # unresolved items found in Trackops: sent by an earlier attempt
    requeued: int = 0  # unresolved items Trackops does not have: pending again
    waiting: int = 0  # unresolved items too recent to check yet (see SETTLE)
    has_more: bool = False  # stopped at the limit with items still pending
    is_busy: bool = False  # another process was sending the outbox: nothing done

    def summary(self) -> str:
        if self.is_busy:
            return "outbox: another process is sending it"
        parts = [f"outbox: {self.sent} sent", f"{self.failed} refused"]
        if self.recovered:
            parts.append(f"{self.recovered} found already created")
        if self.requeued:
            parts.append(f"{self.requeued} to send again")
        if self.unknown:
            parts.append(f"{self.unknown} without an answer (checked next time)")
        if self.waiting:
            parts.append(f"{self.waiting} waiting to be checked")
        return ", ".join(parts)

    @property
    def did_anything(self) -> bool:
        return bool(self.sent or self.failed or self.unknown or self.recovered or self.requeued)


class OutboxSender:
    """Sends the outbox through one client; the worker holds one built on its own client."""

    def __init__(
        self,
        client: EventSender,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settle: timedelta = SETTLE,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.settle = settle

    def drain(
        self,
        *,
        batch_id: int | None = None,
        limit: int | None = None,
        progress: Progress | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> DrainResult:
        """Resolve unresolved items, then send pending ones oldest first (of one batch, if given).

        Stops after `limit` sends, or when `should_stop()` says so between items. Raises the
        client's error when Trackops cannot be used (refused credentials, no answer): the item
        in hand is then pending again or unknown, the error is recorded as the sync state's
        last error, and nothing is lost.
        """
        result = DrainResult()
        with self.store.outbox_drain_lock() as is_held:
            if not is_held:
                result.is_busy = True
                log.info("outbox: another process is sending it; leaving it to that process")
                return result
            try:
                self._resolve(batch_id, result, progress)
                self._send(batch_id, limit, result, progress, should_stop)
            except BridgeError as error:
                if not isinstance(error, StoreError):
                    message = f"sending events: {error.describe()}"
                    self.store.record_sync_error(message, self.clock())
                raise
        return result

    # -- items whose send may have created an event ----------------------------------------

    def _resolve(
        self, batch_id: int | None, result: DrainResult, progress: Progress | None
    ) -> None:
        # Holding the drain lock means no live process is sending: every "sending" item here was
        # abandoned by a sender that died or failed after its POST.
        for item in self.store.list_unresolved_items(batch_id):
            if self.clock() - item.updated_at < self.settle:
                result.waiting += 1
                continue
            try:
                event = self._find_created(item)
            except _Unreadable as unreadable:
                result.waiting += 1
                log.warning(
                    "batch %d %s %r: cannot tell whether an earlier attempt created it (%s); "
                    "it stays unresolved",
                    item.batch_id,
                    item.where,
                    item.title,
                    unreadable,
                )
                continue
            if event is not None:
                done = self.store.mark_item_sent(item.item_id, event, self.clock())
                result.recovered += 1
                log.info(
                    "batch %d %s %r: found as event %d in Trackops, created by an earlier "
                    "attempt; not sent again",
                    item.batch_id,
                    item.where,
                    item.title,
                    event.event_id,
                )
            else:
                done = self.store.release_item(item.item_id, self.clock())
                result.requeued += 1
                log.info(
                    "batch %d %s %r: not in Trackops; it will be sent",
                    item.batch_id,
                    item.where,
                    item.title,
                )
            if progress is not None:
                progress(done)

    def _find_created(self, item: OutboxItem) -> Event | None:
        """The event an earlier attempt at `item` created, if Trackops has it."""
        wanted = read_request_body(item.body)
        candidates: list[Event] = []
        pages = self.client.iter_event_pages(
            title=wanted.title,
            case=wanted.casefile_id,
            start_from=wanted.start_at - SEARCH_WINDOW,
            start_to=wanted.start_at + SEARCH_WINDOW,
        )
        for page in pages:
            if page.problems:
                # An unreadable record may be the very event: sending again could duplicate it.
                raise _Unreadable(f"{len(page.problems)} listed events could not be read")
            candidates.extend(page.records)
        # An event another item already claims is that item's: two identical rows of one file
        # are two events, and each item may take only one of them.
        taken = self.store.linked_event_ids(e.event_id for e in candidates)
        return match_created_event(wanted, (e for e in candidates if e.event_id not in taken))

    # -- pending items -----------------------------------------------------------------------

    def _send(
        self,
        batch_id: int | None,
        limit: int | None,
        result: DrainResult,
        progress: Progress | None,
        should_stop: Callable[[], bool],
    ) -> None:
        attempted = 0
        while not should_stop():
            if limit is not None and attempted >= limit:
                result.has_more = self.store.count_outbox_items(("pending",), batch_id) > 0
                return
            item = self.store.claim_next_item(self.clock(), batch_id)
            if item is None:
                return
            attempted += 1
            done = self._send_one(item, result)
            if progress is not None:
                progress(done)

    def _send_one(self, item: OutboxItem, result: DrainResult) -> OutboxItem:
        """POST one claimed item and record what came of it; raise when the drain must stop."""
        try:
            event = self.client.create_event(item.body)
        except BadRequestError as refused:
            done = self.store.mark_item_failed(
                item.item_id, _trackops_words(refused), refused.field_errors, self.clock()
            )
            result.failed += 1
            log.warning(
                "Trackops refused batch %d %s %r: %s",
                item.batch_id,
                item.where,
                item.title,
                done.error,
            )
            return done
        except TrackopsError as error:
            if _may_have_created(error):
                self.store.mark_item_unknown(item.item_id, error.describe(), self.clock())
                result.unknown += 1
                log.warning(
                    "batch %d %s %r: no clear answer from Trackops (%s); it will be looked "
                    "for in Trackops before any new attempt",
                    item.batch_id,
                    item.where,
                    item.title,
                    error.message,
                )
            else:
                self.store.release_item(item.item_id, self.clock(), error.describe())
            raise
        except BridgeError as unreadable:
            # Created (2xx), but the reply could not be read as an event: find it later.
            self.store.mark_item_unknown(item.item_id, unreadable.describe(), self.clock())
            result.unknown += 1
            raise
        done = self.store.mark_item_sent(item.item_id, event, self.clock())
        result.sent += 1
        log.info(
            "sent batch %d %s %r: created event %d",
            item.batch_id,
            item.where,
            item.title,
            event.event_id,
        )
        return done


def drain_outbox(
    client: EventSender,
    store: Store,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress | None = None,
    batch_id: int | None = None,
    limit: int | None = None,
    settle: timedelta = SETTLE,
) -> DrainResult:
    """Send what the outbox holds (see `OutboxSender.drain`)."""
    sender = OutboxSender(client, store, clock=clock, settle=settle)
    return sender.drain(batch_id=batch_id, limit=limit, progress=progress)


def match_created_event(wanted: Draft, candidates: Iterable[Event]) -> Event | None:
    """The candidate that is the event sending `wanted` would create. Pure.

    Title, calendar, start and end must be equal, and the case too when the record names one;
    of several equal ones the lowest id is taken.
    """
    matches = [
        event
        for event in candidates
        if event.title == wanted.title
        and event.calendar_id == wanted.calendar_id
        and event.case_id in (None, wanted.casefile_id)
        and event.start_at == wanted.start_at
        and event.end_at == wanted.end_at
    ]
    return min(matches, key=lambda e: e.event_id, default=None)


def _may_have_created(error: TrackopsError) -> bool:
    """Whether a failed POST may still have created its event.

    No answer (a timeout, a cut connection), a 5xx or a reply that is not JSON leave it open.
    Refused credentials, 429 and 404 are answers from before anything was written.
    """
    return error.status is None or error.status >= 500 or isinstance(error, UnexpectedResponseError)


def _trackops_words(refused: BadRequestError) -> str:
    """Trackops' own message ("HTTP 422: ..."), without the request line the client adds."""
    return refused.message.removeprefix(f"POST {refused.url}: ")
