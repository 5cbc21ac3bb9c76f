"""The local store: schema, migrations and every query, on SQLite or PostgreSQL.

Entry point: ``open_store(url)`` returns a ``Store``; the rest of the bridge never writes SQL.
"""

from bridge.store.errors import NotFound, SchemaOutOfDate, StoreError, StoreUnavailable
from bridge.store.events import content_hash
from bridge.store.migrations import LATEST_VERSION
from bridge.store.records import ChangeCounts, EventDigest, FeedFetch, FeedRender, SyncState
from bridge.store.store import Store, open_store

__all__ = [
    "LATEST_VERSION",
    "ChangeCounts",
    "EventDigest",
    "FeedFetch",
    "FeedRender",
    "NotFound",
    "SchemaOutOfDate",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "SyncState",
    "content_hash",
    "open_store",
]
