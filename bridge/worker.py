"""The worker loop: the only process that talks to Trackops. Outbox first, then a poll.

Entry point: `Worker.run()`. A stop request (SIGTERM/SIGINT, or `stop()` from the demo) lets the
request in flight finish, interrupts any wait, and returns within a few seconds; work is
committed in transactions, so whatever was cut short is redone by the next pass. Nothing ends
the loop but a stop request: Trackops' failures are logged and recorded, and a database that is
locked or down (a backup, another process) is waited out with backoff.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from types import FrameType

from bridge.errors import BridgeError
from bridge.outbox import OutboxSender
from bridge.store import Store, StoreError
from bridge.sync import Syncer

log = logging.getLogger(__name__)


# Items sent per pass before the poll: a long batch (one a second) must not keep the mirror from
# seeing other people's changes; the next pass starts at once while items are left.
SENDS_PER_PASS = 60
# While waiting for the next poll, how often to look for newly queued events: a local query that
# costs Trackops nothing, so a person who submits a form sees it sent in seconds, not a minute.
OUTBOX_LOOK_INTERVAL = 5.0
# First wait after the database refused a pass; it doubles up to the poll interval.
STORE_RETRY_BASE = 1.0


class ShutdownRequested(Exception):
    """Raised inside a wait when the worker was asked to stop; not an error to record."""


def interruptible_sleep(stop_event: threading.Event) -> Callable[[float], None]:
    """A sleep that a stop request cuts short: give it to the client for pacing and backoff."""

    def sleep(seconds: float) -> None:
        if stop_event.wait(seconds):
            raise ShutdownRequested

    return sleep


class Worker:
    def __init__(
        self,
        syncer: Syncer,
        store: Store,
        *,
        poll_interval: float,
        stop_event: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        outbox: OutboxSender | None = None,
    ) -> None:
        self.syncer = syncer
        self.outbox = outbox
        self.has_more_to_send = False
        self.drain_failed = False
        self.store = store
        self.poll_interval = poll_interval
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        self.passes = 0
        self.store_failures = 0  # passes in a row the database refused
        self.sleep = interruptible_sleep(self.stop_event)

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info(
                "received %s: finishing the request in flight, then stopping",
                signal.Signals(signum).name,
            )
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, max_passes: int | None = None) -> None:
        """Poll every `poll_interval` seconds until stopped (or after `max_passes`)."""
        log.info("worker started: polling every %.0f s", self.poll_interval)
        try:
            while not self.stop_event.is_set():
                try:
                    self.run_once()
                    if self.store_failures:
                        log.info(
                            "the database answers again after %d failures", self.store_failures
                        )
                        self.store_failures = 0
                    if max_passes is not None and self.passes >= max_passes:
                        break
                    if not self.has_more_to_send:
                        self._wait_for_next_pass()
                except StoreError as error:
                    self._wait_out_the_store(error)
        except ShutdownRequested:
            pass
        log.info("worker stopped after %d passes", self.passes)

    def _wait_out_the_store(self, error: StoreError) -> None:
        """Back off (with jitter) while the database is locked or down; never give up."""
        self.store_failures += 1
        ceiling = min(self.poll_interval, STORE_RETRY_BASE * 2.0 ** (self.store_failures - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter
        log.error(
            "database unavailable (%d in a row): %s; retrying in %.1f s",
            self.store_failures,
            error.describe(),
            delay,
        )
        self.sleep(delay)

    def _wait_for_next_pass(self) -> None:
        """Sleep until the next poll, but start early when events are queued to send.

        Not after a failed drain: Trackops being down must not turn into a retry every few
        seconds; the regular poll interval paces those retries.
        """
        remaining = self.poll_interval
        while remaining > 0:
            step = min(remaining, OUTBOX_LOOK_INTERVAL)
            self.sleep(step)
            remaining -= step
            wanted = self.outbox is not None and not self.drain_failed
            if wanted and self.store.count_outbox_items(("pending",)):
                return

    def run_once(self) -> None:
        """One pass: heartbeat, the outbox, then a poll; errors are logged, never fatal.

        A StoreError is raised: the database is the one thing a pass cannot do without, and
        `run` waits it out.
        """
        self._beat()
        self._drain()
        try:
            result = self.syncer.poll()
        except StoreError:
            raise
        except BridgeError as error:
            log.error("poll failed: %s", error.describe())
        except Exception:
            # A bug meeting one odd record must not stop the mirror: log it whole, go on.
            log.exception("poll failed unexpectedly")
        else:
            log.info("%s", result.summary())
        self.passes += 1
        self._beat()

    def _drain(self) -> None:
        """Send what the outbox holds; whatever goes wrong, the poll still runs."""
        self.has_more_to_send = False
        if self.outbox is None:
            return
        self.drain_failed = True
        try:
            result = self.outbox.drain(limit=SENDS_PER_PASS, should_stop=self.stop_event.is_set)
        except (ShutdownRequested, StoreError):
            raise
        except BridgeError as error:
            log.error("sending events failed: %s", error.describe())
        except Exception:
            # A bug in sending must not stop the mirror: log it whole, poll anyway.
            log.exception("sending events failed unexpectedly")
        else:
            self.drain_failed = False
            self.has_more_to_send = result.has_more
            if result.did_anything or result.waiting:
                log.info("%s", result.summary())

    def _beat(self) -> None:
        self.store.put_sync_state(replace(self.store.get_sync_state(), heartbeat_at=self.clock()))
