"""Who fetched which feed: tallied in memory, written to the store once a minute per client."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.store import Store, StoreError

log = logging.getLogger(__name__)

# A fetch is written at once unless its (feed, User-Agent) was written less than this ago.
FETCH_WRITE_INTERVAL = timedelta(minutes=1)


@dataclass
class _Tally:
    written_at: datetime
    last_at: datetime
    count: int = 0  # fetches since written_at, not yet in the store


class FetchLog:
    """Who fetched which feed, written to the store at most once a minute per (feed, User-Agent).

    A write per fetch would make every subscriber a writer, queued behind the sync worker on
    SQLite. A key's first fetch in a minute is written at once, so a client polling every few
    hours is recorded exactly; a faster one is counted within about a minute, while this process
    serves any feed. (Counts held when the process stops are lost: a minute's worth at most.)
    """

    def __init__(self) -> None:
        # By last write, oldest first: the keys due a write are at the front.
        self._tallies: OrderedDict[tuple[int, str], _Tally] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, store: Store, feed_id: int, user_agent: str, at: datetime) -> None:
        key = (feed_id, user_agent)
        with self._lock:
            due = []
            tally = self._tallies.get(key)
            if tally is None:
                self._tallies[key] = _Tally(written_at=at, last_at=at)
                due.append((key, 1, at))
            else:
                tally.count += 1
                tally.last_at = at
            due += self._take_due(at)
        for (due_feed_id, due_user_agent), count, last_at in due:
            try:
                store.record_feed_fetch(due_feed_id, last_at, due_user_agent, count)
            except StoreError as error:
                # Bookkeeping must not cost a subscriber the feed (the worker may hold the
                # write lock): the count goes back, to be written a minute from now.
                log.warning("feed %d: fetches not recorded: %s", due_feed_id, error)
                with self._lock:
                    kept = self._tallies.setdefault(
                        (due_feed_id, due_user_agent), _Tally(written_at=at, last_at=last_at)
                    )
                    kept.count += count
                    kept.last_at = max(kept.last_at, last_at)

    def _take_due(self, now: datetime) -> list[tuple[tuple[int, str], int, datetime]]:
        """Take the counts of keys last written a minute ago or more; forget the idle ones, so
        the map holds only the last minute's clients and their next fetch is written at once."""
        due = []
        while self._tallies:
            key, tally = next(iter(self._tallies.items()))
            if now - tally.written_at < FETCH_WRITE_INTERVAL:
                break
            del self._tallies[key]
            if tally.count:
                due.append((key, tally.count, tally.last_at))
                self._tallies[key] = _Tally(written_at=now, last_at=now)
        return due
