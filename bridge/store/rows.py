"""Plain records the store hands out besides the shared models: counts, caches, sync state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

from bridge.models import Feed, FeedKind, Privacy, feed_slug


@dataclass(frozen=True)
class ChangeCounts:
    """What applying one plan of event changes did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    undeleted: int = 0
    deleted_events: list[tuple[int, str]] = field(default_factory=list)  # (event_id, title)


@dataclass(frozen=True)
class FeedRender:
    """A feed's rendered .ics bytes, stored for every web process to serve."""

    feed_id: int
    version: int
    window_key: str
    body: bytes = field(repr=False)
    etag: str
    rendered_at: datetime
    privacy: Privacy | None = None  # what it shows; None: unknown (stored before migration 8)
    # The body gzipped, as the store keeps it and gzip-accepting clients get it; a render
    # given to the store without it is compressed there.
    gzipped: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StaleFeed:
    """A feed whose stored render is missing or behind: its version, the render's ETag."""

    feed: Feed
    version: int
    render_etag: str | None
    render_rendered_at: datetime | None


# One event of a feed as the feed engine reads it on every render: what decides its VEVENT
# block besides its content, for which its sequence stands. (event_id, sequence, updated_at as
# the database keeps it, calendar_id, case_id, subject_id): a plain tuple, since a render reads
# 50,000 of them and a named one costs as much again to make.
FeedRow: TypeAlias = tuple[int, int, object, int | None, int | None, int | None]


@dataclass(frozen=True, slots=True)
class FeedHead:
    """What a feed fetch reads: the feed by its token, and the head of its stored render."""

    feed_id: int
    kind: FeedKind
    target_id: int | None
    token: str = field(repr=False)
    version: int
    privacy: Privacy
    render_etag: str | None  # None: never rendered
    render_version: int | None
    render_privacy: Privacy | None

    @property
    def slug(self) -> str:
        """The file name in the feed URL (as ``Feed.slug``)."""
        return feed_slug(self.kind, self.target_id)


@dataclass(frozen=True)
class FeedFetch:
    """How often one calendar client (by User-Agent) fetched a feed."""

    user_agent: str
    last_fetched_at: datetime
    fetch_count: int
    first_fetched_at: datetime | None = None  # None: first fetched before migration 12

    @property
    def usual_interval(self) -> timedelta | None:
        """The mean time between its fetches; None until it has fetched twice since the first
        fetch was recorded."""
        if self.first_fetched_at is None or self.fetch_count < 2:
            return None
        return (self.last_fetched_at - self.first_fetched_at) / (self.fetch_count - 1)


# The worker beats before and after every pass; one that hasn't for three poll intervals is
# stopped or stuck. The dashboard, the batch page and `submit` all judge it by this one rule.
HEARTBEAT_STALE_POLLS = 3


@dataclass(frozen=True)
class SyncState:
    """The worker's cursors, health and counters; change it with dataclasses.replace."""

    events_cursor: datetime | None = None
    # True once a pass has re-read the overlap after the cursor could still gain late records;
    # the next pass may then start just after the cursor (see bridge.sync).
    events_settled: bool = False
    cases_cursor: datetime | None = None
    subjects_cursor: datetime | None = None
    staff_cursor: datetime | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_reconcile_at: datetime | None = None
    reference_refreshed_at: datetime | None = None
    heartbeat_at: datetime | None = None
    requests_total: int = 0
    rate_limited_total: int = 0
    events_fetched_total: int = 0
    # A first full sync that was cut short resumes from here (see bridge.sync).
    full_sync_resume_from: datetime | None = None
    full_sync_started_at: datetime | None = None
    full_sync_newest: datetime | None = None
    # Why the last deletion check deleted nothing or left some unproven, for `status`.
    last_reconcile_note: str | None = None
    # A walk by creation stamp missed events Trackops counts (its order is not by creation):
    # the next listings go by page number, checked whole against the count, until one is clean.
    walk_by_number: bool = False

    def is_worker_alive(self, poll_interval: float, now: datetime) -> bool:
        """The worker beat within HEARTBEAT_STALE_POLLS poll intervals of `now`."""
        if self.heartbeat_at is None:
            return False
        return now - self.heartbeat_at <= timedelta(seconds=poll_interval * HEARTBEAT_STALE_POLLS)
