"""Assembly: the long-lived parts (store, Trackops client, syncer, worker) built from Settings.

Below both the CLI and the demo, so neither imports the other to get a worker; the Flask app
factory (bridge.web.create_app) assembles the web side itself.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bridge.config import Settings
from bridge.delivery import push_settings
from bridge.delivery.webhooks import WebhookDeliverer, webhook_settings
from bridge.feed_engine import FeedEngine, render_options
from bridge.sending import OutboxSender
from bridge.store import Store, StoreError, open_store
from bridge.store.engine import is_new_sqlite_database, mask_url
from bridge.sync import Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient
from bridge.trackops.pacing import SharedSlot
from bridge.worker import LeaseKeeper, Worker, interruptible_sleep, lease_holder

log = logging.getLogger("bridge")


def build_client(
    settings: Settings, *, store: Store | None = None, **overrides: Any
) -> TrackopsClient:
    """A client paced together with every other process on this store (see `store_slots`).

    Without a store, it opens one for the pacing alone; where there is none to open (an
    unmigrated PostgreSQL, `check` before anything is set up) no other bridge process can be
    using it either, and the client paces itself alone.
    """
    settings.require_trackops()
    pacing_store = store
    if "shared_slots" not in overrides:
        if pacing_store is None:
            pacing_store = _open_pacing_store(settings)
        if pacing_store is not None:
            overrides["shared_slots"] = store_slots(pacing_store)
    client = TrackopsClient(
        settings.api_base_url,
        settings.trackops_username,
        settings.trackops_api_token,
        rate_limit=settings.trackops_rate_limit,
        timeout=settings.http_timeout,
        max_retries=settings.max_retries,
        **overrides,
    )
    if store is None and pacing_store is not None:
        weakref.finalize(client, pacing_store.close)
    return client


def store_slots(
    store: Store, holder: str | None = None, before: Callable[[], None] | None = None
) -> SharedSlot:
    """The store's request slot as a pacer's shared slot: `holder` only while it holds the
    worker lease; `before` runs ahead of each reservation (the worker's stop check)."""

    def reserve(not_before: float, interval: float) -> float:
        if before is not None:
            before()
        return store.reserve_request_slot(not_before, interval, holder)

    return reserve


def _open_pacing_store(settings: Settings) -> Store | None:
    try:
        return open_current_store(settings)
    except StoreError as error:
        log.info("pacing this command's requests alone: %s", error.describe())
        return None


def open_current_store(settings: Settings) -> Store:
    """The store, refusing to run on a schema older than this code (say: run migrate).

    A new SQLite file gets the schema at once: nothing there to upgrade, and no release step
    to forget. PostgreSQL keeps the explicit `migrate` (the Procfile's release step), and so
    does any database with tables in it.
    """
    is_new = is_new_sqlite_database(settings.database_url)
    store = open_store(settings.database_url)
    try:
        if is_new and store.migrate():
            log.info("created the database schema in %s", mask_url(settings.database_url))
        store.require_current_schema()
    except BaseException:
        store.close()
        raise
    return store


def sync_options(settings: Settings) -> SyncOptions:
    return SyncOptions(
        overlap=timedelta(seconds=settings.sync_overlap),
        feed_past_days=settings.feed_past_days,
        reconcile_interval=timedelta(seconds=settings.reconcile_interval),
        deletion_probes=settings.deletion_probes,
        reference_interval=timedelta(seconds=settings.reference_interval),
        default_privacy=settings.default_privacy,
    )


def build_worker(settings: Settings, store: Store, stop_event: threading.Event) -> Worker:
    """A worker under the store's lease, paced with every other process through the store,
    whose waits (pacing, backoff) end at once when it is asked to stop."""
    keeper = LeaseKeeper(store, holder=lease_holder("worker"), duration=settings.worker_lease)
    slots = store_slots(store, keeper.holder, before=lambda: worker.before_request())
    client = build_client(
        settings, store=store, shared_slots=slots, sleep=interruptible_sleep(stop_event)
    )
    syncer = Syncer(client, store, sync_options(settings))
    worker = Worker(
        syncer,
        store,
        poll_interval=settings.poll_interval,
        stop_event=stop_event,
        outbox=OutboxSender(client, store),
        lease=keeper,
        feeds=FeedEngine(store, render_options(settings)),
        push=push_settings(settings),
        # Sends while this worker holds the lease: the queue has one sender at a time.
        webhooks=WebhookDeliverer(
            store,
            webhook_settings(settings),
            holder=keeper.holder,
            is_active=lambda: keeper.lost is None,
        ),
    )
    return worker
