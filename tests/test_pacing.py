"""Pacing at the real limits: a server enforcing exactly the client's rate never answers 429.

These run in real time (a few seconds); the achieved rate is measured by bench/sync.py.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from bridge.trackops.client import TrackopsClient
from bridge.trackops.pacing import MARGIN, MARGIN_FLOOR, Pacer
from tests.support.processes import Sandbox, sandbox_process

pytestmark = pytest.mark.pacing


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The sandbox in a process of its own, as the lease tests run it: an in-process one's
    handler threads share this process with the client's, which on a busy machine (the suite
    on two workers) held up its clock between two arrivals, and it counted a 429."""
    with sandbox_process(tmp_path_factory.mktemp("sandbox"), events=10, rate_limit=1.0) as sb:
        yield sb


@pytest.fixture
def sandbox(own_sandbox: Sandbox) -> Sandbox:
    own_sandbox.control.reset()
    return own_sandbox


def make_client(sandbox: Sandbox, rate_limit: float) -> TrackopsClient:
    return TrackopsClient(
        sandbox.base_url, sandbox.username, sandbox.token, rate_limit=rate_limit, max_retries=0
    )


def arrival_gaps(sandbox: Sandbox) -> list[float]:
    times = [r["monotonic"] for r in sandbox.control.requests()["requests"]]
    return [b - a for a, b in itertools.pairwise(times)]


def test_requests_at_the_real_one_per_second_limit_draw_no_429(sandbox):
    sandbox.control.set_rate_limit(1.0)
    with make_client(sandbox, rate_limit=1.0) as client:
        for _ in range(4):
            client.count("/events")
    log = sandbox.control.requests()
    assert log["counts"]["rate_limited"] == 0
    assert len(log["requests"]) == 4
    assert min(arrival_gaps(sandbox)) >= 1.0  # as the server measured them


def test_threads_sharing_a_client_share_its_budget(sandbox):
    sandbox.control.set_rate_limit(5.0)
    with make_client(sandbox, rate_limit=5.0) as client:

        def work() -> None:
            for _ in range(4):
                client.count("/events")

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    log = sandbox.control.requests()
    assert log["counts"]["rate_limited"] == 0
    assert len(log["requests"]) == 12
    assert min(arrival_gaps(sandbox)) >= 0.2


def test_the_pacer_reserves_slots_so_a_backlog_runs_at_full_rate():
    """With a fake clock: N waiting callers are given starts exactly one interval apart."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    interval = (1 + MARGIN) / 2.0 + MARGIN_FLOOR
    assert slept == pytest.approx([interval * k for k in range(1, 5)])


def test_defer_pushes_every_later_start_back():
    now = [0.0]
    slept: list[float] = []
    pacer = Pacer(1.0, clock=lambda: now[0], sleep=slept.append)
    pacer.wait()
    pacer.defer(5.0)
    pacer.wait()
    assert slept == [5.0]
