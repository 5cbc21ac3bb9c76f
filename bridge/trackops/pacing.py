"""Request pacing: start times at least 1/rate apart, shared by every thread of a client, and
by every process that shares a `SharedSlot` (the CLI gives each client one on the store).

Trackops measures the gap between requests at its end, so spacing them exactly 1/rate apart
still draws 429s from network jitter. The pacer adds a small margin and otherwise runs a backlog
at the full rate: it reserves slots, so waiting threads never sleep longer than needed.

A pacer alone knows only its own process: a command run a moment after the worker's last
request (or beside it) would start fresh and draw a 429. With a shared slot, every start is
reserved in one place all processes reach, after whatever any of them reserved last.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# 3% of the interval plus 5 ms (35 ms at 1 request/s) absorbs the jitter between our clock
# and the arrival Trackops measures, and keeps a backlog at 96.6% of the allowed rate; the
# retry path handles the rare 429 that still slips through.
MARGIN = 0.03
MARGIN_FLOOR = 0.005

SharedSlot = Callable[[float, float], float]
"""Reserve a request start among processes: called with (`not_before`: seconds from now this
process would start at the earliest, `interval`: seconds to leave free after the start), it
records the start plus the interval for whoever asks next and returns the seconds to wait."""


class Pacer:
    """Hands out request start times no closer than `(1 + MARGIN) / rate + MARGIN_FLOOR` s."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: SharedSlot | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.interval = (1 + MARGIN) / rate + MARGIN_FLOOR
        self._clock = clock
        self._sleep = sleep
        self._shared = shared
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        """Block until this caller may start a request."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_slot)
            if self._shared is not None:
                # Under the lock: this process's threads take shared slots in the order they
                # take local ones. Nothing is changed here if the reservation fails.
                wait = self._shared(start - now, self.interval)
                # The wait counts from a moment inside the reservation (a database
                # transaction, which may have queued for a lock): counting it from when the
                # call returned may start a little late, never early.
                now = self._clock()
                start = max(start, now + wait)
            self._next_slot = start + self.interval
        if start > now:
            self._sleep(start - now)
        self._started_late(start)

    def _started_late(self, start: float) -> None:
        """Space the next request from when this one really starts: a sleep that overran or a
        busy machine must not leave the next one closer than the interval."""
        late = self._clock() - start
        if late <= MARGIN_FLOOR:
            return
        with self._lock:
            self._next_slot = max(self._next_slot, start + late + self.interval)
            if self._shared is not None:
                self._shared(self.interval, 0.0)

    def defer(self, seconds: float) -> None:
        """Push every later request back, after the server asked us to wait (429)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)
            if self._shared is not None:
                self._shared(seconds, 0.0)  # the other processes share the account's limit
