"""The local store: schema, migrations and every query, on SQLite or PostgreSQL.

Entry point: ``open_store(url)`` returns a ``Store``; the rest of the bridge never writes SQL.
"""

from bridge.changes import EventDigest, content_hash
from bridge.errors import NotFound, SchemaOutOfDate, StoreError, StoreUnavailable
from bridge.store.lease import Lease, LeaseLost
from bridge.store.login_throttle import LoginAttempt
from bridge.store.migrations import LATEST_VERSION
from bridge.store.outbox_items import (
    ITEM_STATES,
    UNFINISHED_STATES,
    Batch,
    BatchProgress,
    NewItem,
    OutboxItem,
    OutboxStateError,
    QueueResult,
    body_digest,
)
from bridge.store.problems import ProblemCounts, RecordProblem, problem_key
from bridge.store.rows import (
    HEARTBEAT_STALE_POLLS,
    ChangeCounts,
    FeedFetch,
    FeedHead,
    FeedRender,
    FeedRow,
    StaleFeed,
    SyncState,
)
from bridge.store.store import Store, open_store
from bridge.store.uploads import Upload

__all__ = [
    "HEARTBEAT_STALE_POLLS",
    "ITEM_STATES",
    "LATEST_VERSION",
    "UNFINISHED_STATES",
    "Batch",
    "BatchProgress",
    "ChangeCounts",
    "EventDigest",
    "FeedFetch",
    "FeedHead",
    "FeedRender",
    "FeedRow",
    "Lease",
    "LeaseLost",
    "LoginAttempt",
    "NewItem",
    "NotFound",
    "OutboxItem",
    "OutboxStateError",
    "ProblemCounts",
    "QueueResult",
    "RecordProblem",
    "SchemaOutOfDate",
    "StaleFeed",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "SyncState",
    "Upload",
    "body_digest",
    "content_hash",
    "open_store",
    "problem_key",
]
