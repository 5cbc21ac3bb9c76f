"""Sync figures: requests spent against the minimum, records/s at Trackops' real 1 request/s,
and the bridge's own cost (records/s, peak memory) for 10k and 100k events with limits raised.

The sandbox runs in its own process so its memory is not counted; each measured sync runs in a
fresh child process so peak RSS is the sync's alone. Prints figures; asserts nothing.

Run: .venv/bin/python bench/sync.py [--quick]   (--quick: skip the 100k run and the 1/s run)
"""

from __future__ import annotations

import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx

from bridge.store import open_store
from bridge.sync import Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient, pages_needed
from trackops_sandbox.control import SandboxControl

USER, TOKEN = "bench", "bench-token"
EVERYTHING = datetime(2000, 1, 1, tzinfo=UTC)
OPTIONS = SyncOptions(reference_interval=timedelta(days=1), reconcile_interval=timedelta(days=1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def sandbox(events: int, rate_limit: float) -> Iterator[str]:
    """A sandbox process; yields its root URL."""
    port = free_port()
    env = {**os.environ, "TRACKOPS_USERNAME": USER, "TRACKOPS_API_TOKEN": TOKEN}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge",
            "sandbox",
            "--port",
            str(port),
            "--events",
            str(events),
            "--rate-limit",
            str(rate_limit),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{root}/_sandbox/requests", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)
        yield root
    finally:
        process.terminate()
        process.wait()


def client_for(root: str, rate: float) -> TrackopsClient:
    return TrackopsClient(f"{root}/api/v1", USER, TOKEN, rate_limit=rate)


def event_requests(control: SandboxControl) -> int:
    log = control.requests()["requests"]
    return sum(1 for r in log if r["path"] == "/api/v1/events" and "mode=count" not in r["query"])


def requests_against_minimum() -> None:
    print("Requests per pass (events list requests; minimum = ceil(changes/100), 1 when idle)")
    with sandbox(2500, 0) as root, tempfile.TemporaryDirectory() as folder:
        control = SandboxControl(root)
        with client_for(root, 1000) as client, open_store(f"sqlite:///{folder}/b.db") as store:
            store.migrate()
            syncer = Syncer(client, store, OPTIONS)
            control.clear_requests()
            syncer.poll()
            print(
                f"  full sync of 2,500 events: {event_requests(control)} list requests "
                f"(+1 count, + reference data), minimum {pages_needed(2500)}; "
                f"{control.requests()['counts']['rate_limited']} 429s"
            )
            for changes in (0, 10, 99, 150, 250):
                ids = sorted(store.live_event_ids(ending_after=EVERYTHING))[:changes]
                for event_id in ids:
                    control.patch_event(event_id, title=f"Changed {event_id}")
                control.clear_requests()
                syncer.poll()
                minimum = max(1, math.ceil(changes / 100))
                print(
                    f"  poll after {changes:>3} changes: {event_requests(control)} list "
                    f"requests, minimum {minimum}"
                )
        control.close()


def at_real_limit() -> None:
    print("At Trackops' real limit (sandbox and client at 1 request/s)")
    with sandbox(1000, 1.0) as root, tempfile.TemporaryDirectory() as folder:
        control = SandboxControl(root)
        with client_for(root, 1.0) as client, open_store(f"sqlite:///{folder}/b.db") as store:
            store.migrate()
            started = time.perf_counter()
            Syncer(client, store, OPTIONS).poll()
            elapsed = time.perf_counter() - started
            log = control.requests()
            total = log["counts"]["total"]
            arrivals = [r["monotonic"] for r in log["requests"]]
            gap = (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1)
            print(
                f"  full sync of 1,000 events: {elapsed:.1f} s for {total} requests "
                f"(count, 11 pages, reference data); {1000 / elapsed:.1f} records/s "
                f"(ceiling 100/s)"
            )
            print(
                f"  mean gap between requests as the server saw them: {gap:.3f} s "
                f"= {1 / gap:.1%} of the limit; {log['counts']['rate_limited']} 429s"
            )
        control.close()


def own_cost(events: int) -> None:
    """Full syncs in child processes: one timed, one under tracemalloc for peak allocations."""
    with sandbox(events, 0) as root:
        timed = run_child(root, trace=False)
        traced = run_child(root, trace=True)
    print(
        f"  {events:>7,} events: {timed['records_per_s']:,.0f} records/s; peak Python "
        f"allocations during the sync {traced['traced_peak_mb']:.1f} MB; process peak RSS "
        f"{timed['peak_mb']:.0f} MB ({timed['baseline_mb']:.0f} MB before the sync)"
    )


def run_child(root: str, *, trace: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        args = [sys.executable, __file__, "--measure", root, f"sqlite:///{folder}/b.db"]
        out = subprocess.run(
            [*args, "--trace"] if trace else args, capture_output=True, text=True, check=True
        )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def measure(root: str, url: str, *, trace: bool) -> None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with client_for(root, 100_000) as client, open_store(url) as store:
        store.migrate()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        result = Syncer(client, store, OPTIONS).poll()
        elapsed = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] / 1e6 if trace else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "records_per_s": result.fetched / elapsed,
                "peak_mb": peak,
                "baseline_mb": baseline,
                "traced_peak_mb": traced_peak,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(sys.argv[2], sys.argv[3], trace="--trace" in sys.argv)
        sys.exit()
    quick = "--quick" in sys.argv
    requests_against_minimum()
    if not quick:
        at_real_limit()
    print("The bridge's own cost (limits raised, sandbox in another process)")
    for size in (10_000,) if quick else (10_000, 100_000):
        own_cost(size)
