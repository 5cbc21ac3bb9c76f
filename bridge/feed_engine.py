"""The feed engine: renders every feed whose version or window moved and stores the bytes, from
VEVENT blocks it keeps, so a render after k changed events costs k event renders and a join.

Entry point: ``FeedEngine.render_stale()``, which the worker runs right after each pass (poll,
reconcile, outbox sends) and an admin page after a change to a feed or a calendar; the web app
only ever serves what it stored. ``render_options(settings)`` gives it what the bytes depend on.

A render reads the feed's light rows (``Store.feed_rows``: id, sequence, update stamp, calendar
zone, labels) from one index, reads in full only the events whose block it does not hold, and
joins the blocks. A render that fails (a bug meeting one odd event) is logged and leaves the
last good render stored and served: nothing empty or partial ever replaces it.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import islice

from bridge.config import Settings
from bridge.feeds import (
    FEED_SIZE_WARNING_BYTES,
    Block,
    BlockWriter,
    ZoneTable,
    assemble_feed,
    etag_for,
    fallback_zone,
    known_zone,
    require_zone,
    shown_zone,
)
from bridge.models import Feed, Privacy
from bridge.store import FeedRender, StaleFeed, Store, StoreError

log = logging.getLogger(__name__)

# Events read in full at a time when blocks are missing (a first render): bounds the memory a
# cold render of 50,000 events needs to the blocks and this many events.
READ_BATCH = 2_000
GZIP_LEVEL = 6
FAST_GZIP_FROM = 4_000_000  # bytes: above, level 1 (three times faster, a third larger)
# Blocks kept are pruned when they outnumber the events of the feeds last rendered this much.
_PRUNE_FACTOR = 2
# The largest stale feed a web process renders itself (an admin change, a fetch of a feed never
# rendered): about a second of rendering and reading, well inside the request budget
# (Procfile). A larger one is left to the worker's next pass.
LAST_RESORT_EVENTS = 10_000


@dataclass(frozen=True)
class RenderOptions:
    """The settings a feed's bytes depend on (and its window key names)."""

    account: str
    default_timezone: str
    feed_past_days: int
    refresh_interval: timedelta

    def window_key(self, now: datetime) -> str:
        """Today's UTC date (past events age out daily) and a digest of these settings: a
        stored render of another day or other settings is rendered again."""
        inputs = "|".join(
            (
                self.account,
                self.default_timezone,
                str(self.feed_past_days),
                str(self.refresh_interval.total_seconds()),
            )
        )
        return f"{now.date().isoformat()}/{hashlib.sha256(inputs.encode()).hexdigest()[:12]}"

    def window_start(self, now: datetime) -> datetime:
        """Events ending after this are in the feeds."""
        day_start = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
        return day_start - timedelta(days=self.feed_past_days)


def render_options(settings: Settings) -> RenderOptions:
    return RenderOptions(
        account=settings.account,
        default_timezone=settings.default_timezone,
        feed_past_days=settings.feed_past_days,
        # render_feed floors it at 15 minutes: polling faster gains a subscriber nothing.
        refresh_interval=timedelta(seconds=settings.poll_interval),
    )


@dataclass
class PassResult:
    """What one ``render_stale`` did."""

    rendered: list[tuple[Feed, int]] = field(default_factory=list)  # (feed, events)
    failed: list[Feed] = field(default_factory=list)
    deferred: list[Feed] = field(default_factory=list)  # over max_events: left to the worker
    events_written: int = 0  # blocks written afresh (the rest were reused)
    seconds: float = 0.0

    def summary(self) -> str:
        names = ", ".join(f"{feed.slug} ({count} events)" for feed, count in self.rendered)
        text = f"feeds rendered in {self.seconds:.2f} s: {names or 'none'}"
        text += f"; {self.events_written} events written, the rest reused"
        if self.failed:
            text += f"; failed, last render kept: {', '.join(f.slug for f in self.failed)}"
        if self.deferred:
            text += f"; left to the worker: {', '.join(f.slug for f in self.deferred)}"
        return text


# What a block's bytes depend on beyond the event's id: privacy and the zone an event without
# its own is shown in (per feed), then sequence, update stamp and labels (per event).
_Variant = tuple[Privacy, str]
_Version = tuple[int, object, tuple[str | None, str | None] | None]


class FeedEngine:
    """Renders feeds from blocks it keeps between passes (one per event and variant)."""

    def __init__(
        self,
        store: Store,
        options: RenderOptions,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.options = options
        self.clock = clock
        self._default_zone = require_zone(options.default_timezone)
        self._year: int | None = None
        self._blocks: dict[tuple[int, _Variant], tuple[_Version, Block]] = {}
        self._feed_sizes: dict[int, int] = {}

    def render_stale(
        self, *, feed_ids: set[int] | None = None, max_events: int | None = None
    ) -> PassResult:
        """Render and store every feed whose stored render is missing, older than the feed's
        version or of another window (of ``feed_ids`` only, when given; a feed of more than
        ``max_events`` events is left for the worker, when given).

        A StoreError is raised (the worker waits the database out); any other failure of one
        feed is logged, and its last good render stays.
        """
        started = self.clock()
        window_key = self.options.window_key(started)
        result = PassResult()
        reference = _Reference(self.store)
        for stale in self.store.stale_feeds(window_key):
            if feed_ids is not None and stale.feed.feed_id not in feed_ids:
                continue
            try:
                with _no_cyclic_collection():
                    done = self._render(stale, reference, window_key, started, max_events)
            except StoreError:
                raise
            except Exception:
                log.exception("feed %d (%s): render failed", stale.feed.feed_id, stale.feed.slug)
                result.failed.append(stale.feed)
            else:
                if done is None:
                    result.deferred.append(stale.feed)
                else:
                    result.rendered.append((stale.feed, done[0]))
                    result.events_written += done[1]
        self._prune()
        result.seconds = (self.clock() - started).total_seconds()
        return result

    def _render(
        self,
        stale: StaleFeed,
        reference: _Reference,
        window_key: str,
        now: datetime,
        max_events: int | None,
    ) -> tuple[int, int] | None:
        """Render one feed; (events in it, blocks written), or None when over max_events."""
        feed = stale.feed
        year = now.astimezone(UTC).year
        if year != self._year:
            # The VTIMEZONE rules are the render year's: every block is written anew.
            self._year, self._blocks = year, {}
        zones = ZoneTable(year)
        writer = BlockWriter(
            account=self.options.account, privacy=feed.privacy, zones=zones, generated_at=now
        )
        rows = self.store.feed_rows(feed, self.options.window_start(now))
        if max_events is not None and len(rows) > max_events:
            return None
        feed_zone = known_zone(feed.timezone)
        variants: dict[int | None, _Variant] = {}  # by calendar: the zone-less events' zone
        for calendar_id, zone in reference.calendar_zones.items():
            variants[calendar_id] = (
                feed.privacy,
                fallback_zone(feed_zone, zone, self._default_zone),
            )
        unknown = (feed.privacy, fallback_zone(feed_zone, None, self._default_zone))
        keys: list[tuple[tuple[int, _Variant], _Version]]
        if feed.privacy is Privacy.FULL:
            cases, subjects = reference.labels()
            keys = [
                (
                    (event_id, variants.get(calendar_id, unknown)),
                    (sequence, updated_at, (cases.get(case_id), subjects.get(subject_id))),
                )
                for event_id, sequence, updated_at, calendar_id, case_id, subject_id in rows
            ]
        else:
            keys = [
                ((event_id, variants.get(calendar_id, unknown)), (sequence, updated_at, None))
                for event_id, sequence, updated_at, calendar_id, _, _ in rows
            ]
        blocks: list[Block | None] = []
        missing: dict[int, int] = {}  # event_id -> position
        for position, (key, wanted) in enumerate(keys):
            held = self._blocks.get(key)
            if held is not None and held[0] == wanted:
                blocks.append(held[1])
            else:
                blocks.append(None)
                missing[key[0]] = position
        for batch in _batches(list(missing), READ_BATCH):
            for item in self.store.feed_events_by_id(batch):
                position = missing[item.event.event_id]
                block = writer.write(item, shown_zone(item, feed_zone, self._default_zone))
                key, wanted = keys[position]
                self._blocks[key] = (wanted, block)
                blocks[position] = block
        # An event deleted between the two reads has no block: it is left out, as it should be.
        present = [block for block in blocks if block is not None]
        body = assemble_feed(
            feed,
            present,
            zones=zones,
            default_timezone=self._default_zone,
            refresh_interval=self.options.refresh_interval,
        )
        self._store(stale, window_key, body, now)
        self._feed_sizes[feed.feed_id] = len(rows)
        return len(present), len(missing)

    def _store(self, stale: StaleFeed, window_key: str, body: bytes, now: datetime) -> None:
        etag = etag_for(body)
        # Same bytes as before (the window moved but no event left it): keep Last-Modified,
        # so If-Modified-Since clients still get their 304.
        unchanged = stale.render_etag == etag and stale.render_rendered_at is not None
        rendered_at = stale.render_rendered_at if unchanged else now
        assert rendered_at is not None
        # Stored gzipped, as most clients are sent it: a 25 MB feed is written as 1.5 MB. The
        # largest feeds get the fastest level, to stay current within half a second.
        level = GZIP_LEVEL if len(body) <= FAST_GZIP_FROM else 1
        self.store.put_feed_render(
            FeedRender(
                feed_id=stale.feed.feed_id,
                version=stale.version,
                window_key=window_key,
                body=body,
                etag=etag,
                rendered_at=rendered_at,
                privacy=stale.feed.privacy,
                gzipped=gzip.compress(body, level, mtime=0),
            )
        )
        if len(body) > FEED_SIZE_WARNING_BYTES:
            log.warning(
                "feed %d (%s) is %d bytes, over %d: Google Calendar drops events from feeds "
                "near 1 MB; lower BRIDGE_FEED_PAST_DAYS or use narrower feeds",
                stale.feed.feed_id,
                stale.feed.slug,
                len(body),
                FEED_SIZE_WARNING_BYTES,
            )

    def _prune(self) -> None:
        """Forget blocks of events that left every feed (deleted, aged out, another variant)
        once they clearly outnumber what the feeds hold."""
        if len(self._blocks) <= _PRUNE_FACTOR * max(sum(self._feed_sizes.values()), 1):
            return
        # Rebuilt from the feeds' next renders: dropping all is simpler than tracking each
        # feed's keys, and happens only after events left in bulk.
        self._blocks.clear()


def render_small_feeds(store: Store, options: RenderOptions, feed_ids: set[int] | None) -> bool:
    """Render the named feeds (None: every feed) now, if stale and each of at most
    LAST_RESORT_EVENTS events (an admin page after a change, or a fetch of a feed never
    rendered); True when none of them was left to the worker. Blocks are not kept: a web
    process holds no feed's events."""
    result = FeedEngine(store, options).render_stale(
        feed_ids=feed_ids, max_events=LAST_RESORT_EVENTS
    )
    if result.rendered:
        log.info("%s", result.summary())
    return not result.deferred and not result.failed


def render_after_pass(engine: FeedEngine) -> None:
    """The worker's step after each pass: render what the pass changed; log, never raise
    (a StoreError is re-raised: the worker waits the database out, as for any pass)."""
    try:
        result = engine.render_stale()
    except StoreError:
        raise
    except Exception:
        # A bug in rendering must not stop the mirror: the last good renders stay served.
        log.exception("rendering feeds failed unexpectedly")
        return
    if result.rendered or result.failed:
        log.info("%s", result.summary())
    if result.rendered:
        # The blocks kept are long-lived and acyclic: out of the collector's sight, no later
        # collection walks them (one in the middle of a render after one change cost it about
        # a tenth of a second at 50,000 events). Cyclic garbage is collected first, not frozen.
        gc.collect()
        gc.freeze()


class _Reference:
    """The calendars' zones and (for full-privacy feeds) the case and subject names, read once
    per pass: small tables, read whole rather than joined to 50,000 rows."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calendar_zones = {c.calendar_id: c.timezone for c in store.list_calendars()}
        self._labels: tuple[dict[int | None, str], dict[int | None, str]] | None = None

    def labels(self) -> tuple[dict[int | None, str], dict[int | None, str]]:
        if self._labels is None:
            cases: dict[int | None, str] = {c.case_id: c.label for c in self.store.list_cases()}
            subjects: dict[int | None, str] = {
                s.subject_id: s.name for s in self.store.list_subjects()
            }
            self._labels = cases, subjects
        return self._labels


@contextmanager
def _no_cyclic_collection() -> Iterator[None]:
    """A render makes 100,000 small acyclic tuples (refcounting frees them); a cyclic collection
    set off by them would walk every block kept, about half of the half second a render after
    one change may take."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _batches(items: list[int], size: int) -> Iterator[list[int]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
