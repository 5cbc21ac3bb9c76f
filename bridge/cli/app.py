"""The `trackops-bridge` command group and what every command shares: settings, the parts
built from them, and the one handler that turns a BridgeError into a line and exit status 1.

This package and the Flask app factory are the only places that wire parts together.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import click

from bridge import __version__
from bridge.config import Settings, load_settings
from bridge.errors import BridgeError
from bridge.outbox import OutboxSender
from bridge.store import Store, open_store
from bridge.sync import Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient
from bridge.worker import Worker, interruptible_sleep

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("bridge")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a BridgeError into `error: ...` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BridgeError as error:
            click.echo(f"error: {error.describe()}", err=True)
            sys.exit(1)

    return wrapper


def current_settings() -> Settings:
    return load_settings()


def build_client(settings: Settings, **overrides: Any) -> TrackopsClient:
    settings.require_trackops()
    return TrackopsClient(
        settings.api_base_url,
        settings.trackops_username,
        settings.trackops_api_token,
        rate_limit=settings.trackops_rate_limit,
        timeout=settings.http_timeout,
        max_retries=settings.max_retries,
        **overrides,
    )


def open_current_store(settings: Settings) -> Store:
    """The store, refusing to run on a schema older than this code (say: run migrate)."""
    store = open_store(settings.database_url)
    store.require_current_schema()
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


@contextmanager
def progress_reporter() -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on a terminal, a log line every 10 pages otherwise."""
    started = datetime.now(UTC)
    bar: Any = None

    def report(done: int, total: int | None) -> None:
        nonlocal bar
        if total is None:
            return
        if sys.stderr.isatty():
            if bar is None:
                bar = click.progressbar(length=total, label="Fetching events", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)
            return
        if done % 1000 < 100 or done >= total:
            elapsed = max((datetime.now(UTC) - started).total_seconds(), 1e-6)
            rate = done / elapsed
            eta = (total - done) / rate if rate else 0
            log.info("fetched %d of %d events (%.1f/s, about %.0f s left)", done, total, rate, eta)

    try:
        yield report
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trackops-bridge")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (never the token).")
def main(verbose: bool) -> None:
    """Mirror Trackops events, publish them as calendar feeds, create events from files.

    Settings come from the environment or a .env file: see `trackops-bridge settings`.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("bridge").setLevel(logging.INFO)
        logging.getLogger("bridge.trackops.client").setLevel(logging.WARNING)


def build_worker(settings: Settings, store: Store, stop_event: threading.Event) -> Worker:
    """A worker whose client's waits (pacing, backoff) end at once when it is asked to stop."""
    client = build_client(settings, sleep=interruptible_sleep(stop_event))
    syncer = Syncer(client, store, sync_options(settings))
    return Worker(
        syncer,
        store,
        poll_interval=settings.poll_interval,
        stop_event=stop_event,
        outbox=OutboxSender(client, store),
    )


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))
