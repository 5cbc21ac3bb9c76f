"""The worker loop: the only process that talks to Trackops. Outbox first, then a poll.

Entry point: `Worker.run()`. It works only while it holds the store's worker lease
(`LeaseKeeper`): a second worker waits, says so once, and takes over when the first stops
renewing (a crash, a kill) or releases it (a clean stop). The lease is renewed from a small
thread, so a long pass (a first sync of 100k events) keeps it.

A stop request (SIGTERM/SIGINT, or `stop()` from the demo) lets the request in flight finish,
interrupts any wait, releases the lease and returns; a request still running SHUTDOWN_GRACE s
after SIGTERM is abandoned, so the process exits within the 10 s hosts give. Work is committed
in transactions, so whatever was cut short is redone (or, for a send, looked up) next pass.
Nothing else ends the loop: Trackops' failures are logged and recorded, and a database that is
locked or down (a backup, another process) is waited out with backoff.
"""

from __future__ import annotations

import logging
import os
import random
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from bridge.delivery import PushSettings, WebhookDeliverer, push_after_pass
from bridge.errors import BridgeError
from bridge.feed_engine import FeedEngine, render_after_pass
from bridge.sending import OutboxSender
from bridge.store import Lease, LeaseLost, Store, StoreError
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
# After SIGTERM, how long the request in flight may take before the process exits without it:
# hosts kill 10 s after SIGTERM, and the lease must be released before that.
SHUTDOWN_GRACE = 8.0
# A worker that has neither started a request nor waited for this long is stuck (a hung call):
# its lease is left to lapse so another worker can take over. Far above any legitimate gap
# (a 30 s timeout times five attempts, with backoff).
STALL_LIMIT = 600.0


class ShutdownRequested(Exception):
    """Raised inside a wait when the worker was asked to stop; not an error to record."""


def interruptible_sleep(stop_event: threading.Event) -> Callable[[float], None]:
    """A sleep that a stop request cuts short: give it to the client for pacing and backoff."""

    def sleep(seconds: float) -> None:
        if stop_event.wait(seconds):
            raise ShutdownRequested

    return sleep


def lease_holder(role: str) -> str:
    """A name for this process in the lease: readable in logs, unique across restarts (in a
    container every worker may be pid 1), and saying where it runs, so another process on the
    same machine can tell when it is gone (see `is_gone`)."""
    namespace = _pid_namespace()
    where = f"pid {os.getpid()}" + (f" ns {namespace}" if namespace else "")
    return f"{role} on {socket.gethostname()} {where} #{secrets.token_hex(3)}"


_HOLDER = re.compile(r" on (?P<host>\S+) pid (?P<pid>\d+) ns (?P<ns>\d+) #[0-9a-f]+$")


def is_gone(holder: str) -> bool:
    """Whether `holder` names a process of this machine (same host name and pid namespace)
    that no longer runs: its lease can be taken at once instead of when it lapses.

    Anything else is assumed alive: another machine, a name this can't read, or this very
    pid (a restarted container's pid 1, or another keeper in this process).
    """
    match = _HOLDER.search(holder)
    if match is None or match["host"] != socket.gethostname():
        return False
    if match["ns"] != _pid_namespace():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process, alive
    try:  # a zombie: killed, not yet reaped by its parent
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _pid_namespace() -> str | None:
    """This process's pid namespace (Linux), so two containers sharing a host name never
    judge each other's pids."""
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    digits = "".join(c for c in link if c.isdigit())
    return digits or None


class LeaseKeeper:
    """Holds the store's worker lease for one process: takes it, renews it, gives it back.

    Renewal runs in a daemon thread every third of the lease, as long as the process shows
    progress (`note_progress`, from every request and wait): a process that hangs stops
    renewing and the lease lapses. Losing the lease (it lapsed and another took it) is kept in
    `lost` for the worker to act on; the store's request slot refuses the lost holder anyway.
    """

    def __init__(
        self,
        store: Store,
        *,
        holder: str,
        duration: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.holder = holder
        self.duration = duration
        self.renew_every = duration / 3
        self.lost: LeaseLost | None = None
        self._clock = clock
        self._progress_at = clock()
        self._stalled = False
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def note_progress(self) -> None:
        self._progress_at = self._clock()

    def try_take(self) -> Lease:
        """One attempt; `is_held_by(self.holder)` on the answer says whether it worked. A
        holder gone from this machine (killed) is replaced without waiting for it to lapse."""
        duration = timedelta(seconds=self.duration)
        lease = self.store.hold_worker_lease(self.holder, duration)
        if not lease.is_held_by(self.holder) and lease.holder and is_gone(lease.holder):
            log.warning("the lease's holder (%s) is no longer running: taking over", lease.holder)
            lease = self.store.hold_worker_lease(self.holder, duration, replacing=lease.holder)
        if lease.is_held_by(self.holder):
            self.lost = None
            self._start_renewing()
        return lease

    def wait_until_held(self, sleep: Callable[[float], None]) -> None:
        """Take the lease, waiting (through `sleep`, which a stop request interrupts) while
        another process holds it; says so once. A database that refuses is waited out."""
        announced = False
        failures = 0
        while True:
            self.note_progress()
            try:
                lease = self.try_take()
            except StoreError as error:
                failures += 1
                delay = min(self.duration, STORE_RETRY_BASE * 2.0 ** (failures - 1))
                log.error(
                    "database unavailable while taking the worker lease (%d in a row): %s; "
                    "retrying in %.1f s",
                    failures,
                    error.describe(),
                    delay,
                )
                sleep(delay)
                continue
            failures = 0
            if lease.is_held_by(self.holder):
                if lease.renewed_at != lease.acquired_at:
                    return  # held already (the demo takes it before its first pass)
                log.info(
                    "worker lease taken by %s (%.0f s, renewed every %.0f s)",
                    self.holder,
                    self.duration,
                    self.renew_every,
                )
                return
            if not announced:
                log.warning(
                    "another worker holds the lease (%s, renewed %s ago): waiting; this one "
                    "takes over if that one stops or goes %.0f s without renewing",
                    lease.holder,
                    _seconds_since(lease.renewed_at, lease.now),
                    self.duration,
                )
                announced = True
            left = (lease.expires_at - lease.now).total_seconds() if lease.expires_at else 0.0
            # Ask again a moment after it would lapse, and meanwhile often enough to notice a
            # release (a clean stop) soon.
            sleep(min(self.renew_every, max(left, 0.0) + 0.05))

    def release(self) -> None:
        """Stop renewing and give the lease back, so another worker may start at once."""
        self._stop_renewing()
        try:
            if self.store.release_worker_lease(self.holder):
                log.info("worker lease released by %s", self.holder)
        except StoreError as error:
            log.warning(
                "could not release the worker lease (%s): another worker takes over when it "
                "lapses, within %.0f s",
                error.describe(),
                self.duration,
            )

    def check(self) -> None:
        """Raise LeaseLost if the renewing thread found the lease gone."""
        if self.lost is not None:
            raise self.lost

    def _start_renewing(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._halt.clear()
        self._thread = threading.Thread(target=self._renew, name="lease-renewal", daemon=True)
        self._thread.start()

    def _stop_renewing(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.duration)
        self._thread = None

    def _renew(self) -> None:
        while not self._halt.wait(self.renew_every):
            stalled_for = self._clock() - self._progress_at
            if stalled_for > STALL_LIMIT:
                if not self._stalled:
                    log.error(
                        "no request or wait for %.0f s: this worker looks stuck, so it stops "
                        "renewing its lease and another worker may take over",
                        stalled_for,
                    )
                    self._stalled = True
                continue
            self._stalled = False
            try:
                lease = self.try_renew()
            except StoreError as error:
                log.warning("could not renew the worker lease: %s", error.describe())
                continue
            if not lease.is_held_by(self.holder):
                self.lost = LeaseLost(self.holder, lease)
                log.error("%s", self.lost.describe())
                return

    def try_renew(self) -> Lease:
        return self.store.hold_worker_lease(self.holder, timedelta(seconds=self.duration))


def _seconds_since(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    return f"{max((now - when).total_seconds(), 0.0):.0f} s"


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
        lease: LeaseKeeper | None = None,
        feeds: FeedEngine | None = None,
        webhooks: WebhookDeliverer | None = None,
        push: PushSettings | None = None,
    ) -> None:
        self.syncer = syncer
        self.push = push
        self.webhooks = webhooks
        self.feeds = feeds
        self.lease = lease
        self.outbox = outbox
        self.has_more_to_send = False
        self.drain_failed = False
        self.store = store
        self.poll_interval = poll_interval
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        self.passes = 0
        self.store_failures = 0  # passes in a row the database refused
        self._sleep = interruptible_sleep(self.stop_event)

    def sleep(self, seconds: float) -> None:
        """A wait a stop request cuts short; it counts as progress for the lease."""
        if self.lease is not None:
            self.lease.note_progress()
        self._sleep(seconds)

    def before_request(self) -> None:
        """Called before each request to Trackops: none starts once a stop was requested."""
        if self.stop_event.is_set():
            raise ShutdownRequested
        if self.lease is not None:
            self.lease.note_progress()

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            log.info(
                "received %s: finishing the request in flight, then stopping",
                signal.Signals(signum).name,
            )
            if not self.stop_event.is_set():
                timer = threading.Timer(SHUTDOWN_GRACE, self._exit_without_finishing)
                timer.daemon = True
                timer.start()
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _exit_without_finishing(self) -> None:
        """SHUTDOWN_GRACE after a stop request the pass is still busy: exit anyway. Every step
        is committed as it goes, and a send left without its answer is looked up in Trackops
        by whoever drains next, so nothing is lost or sent twice."""
        log.error(
            "still busy %.0f s after the stop request: exiting without the request in flight",
            SHUTDOWN_GRACE,
        )
        if self.lease is not None:
            self.lease.release()
        logging.shutdown()
        os._exit(1)

    def take_lease(self) -> None:
        """Wait until this worker holds the lease (at once when there is none to wait for)."""
        if self.lease is not None:
            self.lease.wait_until_held(self.sleep)

    def run(self, *, max_passes: int | None = None) -> None:
        """Poll every `poll_interval` seconds until stopped (or after `max_passes`), while
        holding the lease; the lease is released on the way out."""
        log.info("worker started: polling every %.0f s", self.poll_interval)
        try:
            while not self.stop_event.is_set():
                self.take_lease()
                self._start_webhooks()
                try:
                    self._run_passes(max_passes)
                except LeaseLost as lost:
                    log.warning("%s", lost.describe())
                    continue
                break
        except ShutdownRequested:
            pass
        finally:
            if self.webhooks is not None:
                self.webhooks.stop()
            if self.lease is not None:
                self.lease.release()
        log.info("worker stopped after %d passes", self.passes)

    def _start_webhooks(self) -> None:
        """The webhook sender, a thread beside the passes, started once the lease is held: a
        slow receiver never delays a poll."""
        if self.webhooks is not None:
            self.webhooks.start()

    def _run_passes(self, max_passes: int | None) -> None:
        while not self.stop_event.is_set():
            try:
                if self.lease is not None:
                    self.lease.check()
                self.run_once()
                if self.store_failures:
                    log.info("the database answers again after %d failures", self.store_failures)
                    self.store_failures = 0
                if max_passes is not None and self.passes >= max_passes:
                    return
                if not self.has_more_to_send:
                    self._wait_for_next_pass()
            except LeaseLost:
                raise
            except StoreError as error:
                self._wait_out_the_store(error)

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
            if self.lease is not None:
                self.lease.check()
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
        except (ShutdownRequested, StoreError):
            raise
        except BridgeError as error:
            log.error("poll failed: %s", error.describe())
        except Exception:
            # A bug meeting one odd record must not stop the mirror: log it whole, go on.
            log.exception("poll failed unexpectedly")
        else:
            log.info("%s", result.summary())
        if self.webhooks is not None:
            # What the sends and the poll queued goes out now, from the sender's thread, while
            # this one renders and pushes.
            self.webhooks.wake()
        if self.feeds is not None:
            render_after_pass(self.feeds)  # what the sends and the poll changed; never raises
        if self.push is not None:
            # Never raises but StoreError: a destination can't fail a pass.
            push_after_pass(self.store, self.push)
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
