"""Request pacing: start times at least 1/rate apart, shared by every thread of a client.

Trackops measures the gap between requests at its end, so spacing them exactly 1/rate apart
still draws 429s from network jitter. The pacer adds a small margin and otherwise runs a backlog
at the full rate: it reserves slots, so waiting threads never sleep longer than needed.
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


class Pacer:
    """Hands out request start times no closer than `(1 + MARGIN) / rate + MARGIN_FLOOR` s."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.interval = (1 + MARGIN) / rate + MARGIN_FLOOR
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        """Block until this caller may start a request."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_slot)
            self._next_slot = start + self.interval
        if start > now:
            self._sleep(start - now)

    def defer(self, seconds: float) -> None:
        """Push every later request back, after the server asked us to wait (429)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)
