"""Everything one sandbox instance holds in memory, behind one lock: records, switches, faults,
the rate limiter, the server clock and the request log. Entry point: `SandboxState(options)`.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.records import (
    CaseRecord,
    EventRecord,
    StaffRecord,
    SubjectRecord,
    whole_seconds,
)
from trackops_sandbox.seed import build_seed

# One name per collection, as in the URL.
Kind = Literal["events", "cases", "subjects", "staff"]
KINDS: tuple[Kind, ...] = ("events", "cases", "subjects", "staff")

VARIANT_CHOICES: dict[str, tuple[str, ...]] = {
    "wrap": ("bare", "event", "Event"),
    "timestamps": ("space", "iso", "iso_z", "offset"),
    "fields": ("documented", "alternate", "nested"),
    "errors": ("message", "error", "errors", "text", "html"),
    "retry_after": ("seconds", "http_date", "none"),
}
FAULT_KINDS = (
    "500",
    "502",
    "503",
    "504",
    "html",
    "truncated",
    "empty",
    "delay",
    "disconnect",
    "short",
    "empty_list",
    "delete",
)
# These spoil a page of a listing, so they wait for one: a count or single-record request
# passes them by untouched.
LISTING_FAULTS = ("short", "empty_list", "delete")
REQUEST_LOG_LIMIT = 100_000  # newest entries kept; the counts cover every request

R = TypeVar("R", EventRecord, CaseRecord, SubjectRecord, StaffRecord)
Predicate = Callable[[Any], bool]


@dataclass
class Variants:
    """The answers to the API's unknowns currently served (see trackops-api.md)."""

    wrap: str = "bare"
    timestamps: str = "space"
    fields: str = "documented"
    errors: str = "message"
    retry_after: str = "seconds"

    def update(self, changes: dict[str, Any]) -> None:
        """Apply switch changes after checking them all; raises ValueError naming the bad one."""
        for name, value in changes.items():
            choices = VARIANT_CHOICES.get(name)
            if choices is None:
                raise ValueError(f"unknown switch {name!r}; switches: {', '.join(VARIANT_CHOICES)}")
            if value not in choices:
                raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Fault:
    """A failure served to the next `remaining` API requests whose path matches."""

    kind: str
    remaining: int = 1
    path_prefix: str | None = None  # "/events" or "/api/v1/events"; None: every API path
    seconds: float = 0.0  # for "delay"
    status: int | None = None  # for "html": 403 (default) or 200
    after: int = 0  # matching requests to let through untouched first ("a late page")
    records: int | None = None  # for "short": records the page keeps (default: half)
    event_ids: tuple[int, ...] = ()  # for "delete": events deleted once the page is served
    query_contains: str | None = None  # only requests whose query string has this, e.g. end_from

    def matches(self, api_path: str, full_path: str, query: str, *, is_listing: bool) -> bool:
        if self.kind in LISTING_FAULTS and not is_listing:
            return False
        if self.query_contains is not None and self.query_contains not in query:
            return False
        prefix = self.path_prefix
        return prefix is None or api_path.startswith(prefix) or full_path.startswith(prefix)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Table(Generic[R]):
    """Records of one kind, kept sorted by id, with a cache of filter results.

    Paging through 100k events re-runs the same filter for every page; the cache makes each page
    a slice. Any change to the table drops the cache.
    """

    def __init__(self, records: list[R]) -> None:
        self.rows: dict[int, R] = {record.id: record for record in records}
        self.ids: list[int] = sorted(self.rows)
        self._cache: dict[Hashable, list[int]] = {}

    def next_id(self) -> int:
        return self.ids[-1] + 1 if self.ids else 1

    def add(self, record: R) -> None:
        if record.id in self.rows:
            raise KeyError(record.id)
        self.rows[record.id] = record
        if not self.ids or record.id > self.ids[-1]:
            self.ids.append(record.id)
        else:
            bisect.insort(self.ids, record.id)
        self.touch()

    def remove(self, record_id: int) -> None:
        del self.rows[record_id]
        del self.ids[bisect.bisect_left(self.ids, record_id)]
        self.touch()

    def touch(self) -> None:
        """Forget cached filter results; call after changing a record in place."""
        self._cache.clear()

    def matching_ids(self, key: Hashable, predicates: list[Predicate]) -> list[int]:
        """Ids (ascending) of records passing every predicate; `key` names the filter for the cache.

        The result is shared: callers must not change it.
        """
        if not predicates:
            return self.ids
        found = self._cache.get(key)
        if found is None:
            rows = self.rows
            found = [i for i in self.ids if all(test(rows[i]) for test in predicates)]
            if len(self._cache) >= 32:
                self._cache.clear()
            self._cache[key] = found
        return found


@dataclass
class Tables:
    events: Table[EventRecord]
    cases: Table[CaseRecord]
    subjects: Table[SubjectRecord]
    staff: Table[StaffRecord]

    def of(self, kind: Kind) -> Table[Any]:
        table: Table[Any] = getattr(self, kind)
        return table


@dataclass
class RequestLog:
    entries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_LIMIT))
    by_status: Counter[str] = field(default_factory=Counter)

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        status = entry["status"]
        self.by_status["disconnected" if status is None else str(status)] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "requests": list(self.entries),
            "counts": {
                "total": sum(self.by_status.values()),
                "rate_limited": self.by_status["429"],
                "by_status": dict(self.by_status),
            },
        }


class SandboxState:
    """The one mutable object of a sandbox app. Hold `lock` while reading or changing anything."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.anchor: date = options.anchor or datetime.now(UTC).date()
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to the seed data, default switches, the configured rate, no faults, empty log."""
        seed = build_seed(self.options.events, self.options.seed, self.anchor)
        with self.lock:
            self.calendars = seed.calendars
            self.tables = Tables(
                events=Table(seed.events),
                cases=Table(seed.cases),
                subjects=Table(seed.subjects),
                staff=Table(seed.staff),
            )
            self.variants = Variants()
            self.faults: list[Fault] = []
            self.log = RequestLog()
            self.rate_limit = self.options.rate_limit
            self.clock_offset = 0.0
            self._last_accepted: dict[str, float] = {}

    # -- clock ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Server time for created/updated stamps: real UTC plus the offset, whole seconds."""
        return whole_seconds(datetime.now(UTC) + timedelta(seconds=self.clock_offset))

    # -- rate limit -------------------------------------------------------------------------------

    def admit(self, account: str) -> float | None:
        """Record an accepted request for `account`, or return the seconds it must still wait.

        The gap is measured from the previous *accepted* request; refused ones do not count, so a
        client hammering the API is refused until it pauses. No tolerance: clients keep a margin.
        """
        if not self.rate_limit:
            return None
        arrived = time.monotonic()
        previous = self._last_accepted.get(account)
        interval = 1.0 / self.rate_limit
        if previous is not None and arrived - previous < interval:
            return interval - (arrived - previous)
        self._last_accepted[account] = arrived
        return None

    # -- faults -----------------------------------------------------------------------------------

    def take_fault(
        self, api_path: str, full_path: str, query: str, *, is_listing: bool
    ) -> Fault | None:
        """The first queued fault matching this request, used up by one; None when none match.

        A fault still counting down its `after` lets this request by, and so do the faults
        queued behind it.
        """
        for fault in self.faults:
            if fault.matches(api_path, full_path, query, is_listing=is_listing):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None


def retry_after_seconds(wait: float) -> int:
    """Whole seconds a refused client should wait: rounded up, never 0."""
    return max(1, math.ceil(wait))
