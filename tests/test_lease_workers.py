"""Two real `trackops-bridge worker` processes on one store: one works, the other waits and
takes over when the first is killed (or frozen) mid-pass. Each queued event is sent exactly
once, and the sandbox, enforcing the same rate as the workers, never answers 429.

On a SQLite file and on PostgreSQL (TEST_DATABASE_URL, a schema per test). The take-over time
printed (run with -s) is what the README's figure quotes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.store import NewItem, Store, open_store
from bridge.trackops.client import TrackopsClient
from tests.support.processes import (
    Sandbox,
    base_env,
    bridge,
    freeze_between_transactions,
    sandbox_process,
    started,
    wait_for,
)
from tests.support.store import BACKENDS

# The sandbox allows 10 requests/s and each worker sends at most 6: the pacer keeps 35 ms
# between requests at Trackops' real 1 request/s, and a loaded test machine delays a request's
# arrival by as much (seen: a new process's first request 54 ms late), which a strict sandbox
# would count against the next one. Two workers that both sent would make 12/s: 429s at once.
RATE = 10.0
WORKER_RATE = 6.0
LEASE = 3.0  # seconds: short, so a lapse is quick to wait out
EVENTS = 1500  # 15 pages of listing at 10 requests/s: a first pass long enough to kill inside


@pytest.fixture(scope="module")
def limited_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with sandbox_process(
        tmp_path_factory.mktemp("sandbox"), events=EVENTS, rate_limit=RATE
    ) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(limited_sandbox: Sandbox) -> Sandbox:
    limited_sandbox.control.reset()
    return limited_sandbox


def worker_env(sandbox: Sandbox, url: str) -> dict[str, str]:
    return base_env(
        **sandbox.client_env(),
        TRACKOPS_RATE_LIMIT=str(WORKER_RATE),
        DATABASE_URL=url,
        BRIDGE_WORKER_LEASE=str(LEASE),
        BRIDGE_POLL_INTERVAL="30",
    )


def queue(store: Store, label: str, count: int) -> list[str]:
    """Queue `count` events as one batch; their titles."""
    titles = [f"{label} {n}" for n in range(count)]
    items = [
        NewItem(
            row=n + 2,
            where=f"Row {n + 2}",
            idempotency_key=hashlib.sha256(title.encode()).hexdigest(),
            title=title,
            body={
                "event": {
                    "casefile_id": 1201,
                    "calendar_id": 2,
                    "start_at": f"2030-01-{n + 2:02d} 15:00:00",
                    "end_at": f"2030-01-{n + 2:02d} 16:00:00",
                    "timezone": "America/Chicago",
                    "is_allday": False,
                    "title": title,
                }
            },
        )
        for n, title in enumerate(titles)
    ]
    store.queue_batch(
        batch_key=hashlib.sha256(label.encode()).hexdigest(),
        source="csv",
        label=f"{label}.csv",
        total=count,
        ready=count,
        invalid=0,
        items=items,
        at=datetime.now(UTC),
    )
    return titles


def created_titles(sandbox: Sandbox, *titles: str) -> list[str]:
    """Titles of the sandbox's events named by a prefix of `titles`, one per event."""
    with TrackopsClient(
        sandbox.base_url, sandbox.username, sandbox.token, rate_limit=WORKER_RATE
    ) as client:
        return [
            event.title
            for prefix in titles
            for page in client.iter_event_pages(title=prefix)
            for event in page.records
            if event.title.startswith(prefix)
        ]


def accepted_posts(log: dict) -> int:
    return sum(1 for r in log["requests"] if r["method"] == "POST" and r["status"] == 201)


def holder_pid(store: Store) -> int | None:
    lease = store.read_worker_lease()
    if not lease.is_live or lease.holder is None:
        return None
    return int(lease.holder.split(" pid ")[1].split()[0])


def hold_a_page(sandbox: Sandbox, after: int, seconds: float) -> None:
    """Make the listing page after `after` others take `seconds` to answer: the pass is then
    known to be inside that request once the fault is taken (`in_held_page`). Watching the
    sandbox's whole request log instead would load it enough to skew its clock."""
    sandbox.control.inject_fault(
        "delay", seconds=seconds, path_prefix="/events", query_contains="page=", after=after
    )


def in_held_page(sandbox: Sandbox) -> bool:
    return not sandbox.control.faults()


@pytest.mark.parametrize(
    ("database_url", "how"),
    [
        pytest.param(BACKENDS[0].values[0], "killed", id="sqlite-killed", marks=BACKENDS[0].marks),
        pytest.param(BACKENDS[0].values[0], "frozen", id="sqlite-frozen", marks=BACKENDS[0].marks),
        pytest.param(
            BACKENDS[1].values[0], "killed", id="postgres-killed", marks=BACKENDS[1].marks
        ),
    ],
    indirect=["database_url"],
)
def test_a_second_worker_takes_over_and_nothing_is_sent_twice(
    sandbox: Sandbox,
    database_url: str,
    how: str,
    tmp_path: Path,
) -> None:
    env = worker_env(sandbox, database_url)
    with open_store(database_url) as store:
        store.migrate()
        before = queue(store, "Before", 5)
        hold_a_page(sandbox, after=2, seconds=3.0)
        with (
            started(bridge("worker"), env, tmp_path) as first,
            started(bridge("worker"), env, tmp_path) as second,
        ):
            wait_for(lambda: holder_pid(store) in (first.pid, second.pid), "a worker to hold it")
            holder, waiter = (first, second) if holder_pid(store) == first.pid else (second, first)
            waiter.wait_for_line("another worker holds the lease")

            # The holder sends what was queued, then starts its first full sync.
            wait_for(lambda: store.count_outbox_items() == 0, "the first batch to be sent")
            wait_for(lambda: in_held_page(sandbox), "the holder to be mid-sync, inside a request")
            during = queue(store, "During", 4)  # for whoever drains next
            assert store.get_sync_state().events_cursor is None, "the pass is still running"

            if how == "killed":
                stopped_at = time.monotonic()
                holder.kill()
            else:  # frozen (a paused VM, a machine cut off): alive, but no longer renewing
                freeze_between_transactions(store, holder)
                stopped_at = time.monotonic()
            wait_for(lambda: holder_pid(store) == waiter.pid, "the waiter to take over", 4 * LEASE)
            took = time.monotonic() - stopped_at
            print(f"\ntake-over after the holder was {how}: {took:.2f} s (lease {LEASE:.0f} s)")
            assert took < 2 * LEASE + 1

            # It drains the outbox first: the events queued while the first was mid-pass.
            wait_for(lambda: store.count_outbox_items() == 0, "the new holder to send the rest")
            holder.kill()
            assert waiter.count("another worker holds the lease") == 1  # said once
            assert waiter.popen.poll() is None, waiter.output

        log = sandbox.control.requests()  # what the workers sent, before the checks below
        titles = created_titles(sandbox, "Before", "During")
        assert sorted(titles) == sorted(before + during), "each queued event sent exactly once"
        assert accepted_posts(log) == len(before + during)
        items = [i for b in store.list_batches() for i in store.batch_progress(b.batch_id).items]
        assert {i.state for i in items} == {"sent"}
        assert len({i.event_id for i in items}) == len(before + during)
        times = [r["monotonic"] for r in log["requests"]]
        print(f"closest two requests, as the sandbox saw them: {_closest(times):.3f} s apart")
        assert log["counts"]["rate_limited"] == 0, _around_429s(log["requests"])


def test_sigterm_finishes_the_request_in_flight_and_releases_the_lease(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    env = worker_env(sandbox, url)
    hold_a_page(sandbox, after=11, seconds=1.0)  # past the first chunk written
    with started(bridge("-v", "worker"), env, tmp_path) as worker, open_store(url) as store:
        worker.wait_for_line("worker lease taken")
        wait_for(lambda: in_held_page(sandbox), "the worker to be inside a request")
        asked = time.monotonic()
        assert worker.terminate(timeout=10) == 0, worker.output
        assert time.monotonic() - asked < 10
        # The page it was waiting for (held 1 s) was answered and logged before it stopped.
        after_sigterm = worker.output.split("received SIGTERM", 1)[1]
        answered = re.search(r"GET /api/v1/events\S* -> 200 \((\d+) ms\)", after_sigterm)
        assert answered and int(answered[1]) >= 800, worker.output
        assert "unexpectedly" not in worker.output
        lease = store.read_worker_lease()
        assert lease.holder is None and lease.released_at is not None
        assert "worker lease released" in worker.output
        # What it fetched before the stop is kept: the next pass resumes, not restarts.
        assert store.count_events() > 900  # ten pages, less the events repeated at seams
        assert store.get_sync_state().full_sync_resume_from is not None


def _around_429s(requests: list[dict]) -> list[str]:
    shown = []
    for n, r in enumerate(requests):
        if r["status"] == 429:
            for near in requests[max(n - 3, 0) : n + 2]:
                gap = near["monotonic"] - requests[max(requests.index(near) - 1, 0)]["monotonic"]
                shown.append(f"{near['method']} {near['query'][:40]} {near['status']} +{gap:.3f}")
    return shown


def _closest(times: list[float]) -> float:
    return min((b - a for a, b in itertools.pairwise(times)), default=0.0)
