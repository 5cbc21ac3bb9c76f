"""Pacing at the real limits: a server enforcing exactly the client's rate never answers 429.

These run in real time (a few seconds); the achieved rate is measured by bench/sync.py.
"""

from __future__ import annotations

import itertools
import threading

import pytest

from bridge.trackops.pacing import MARGIN, MARGIN_FLOOR, Pacer
from tests.support.sandbox import make_client

pytestmark = pytest.mark.pacing


def arrival_gaps(sandbox) -> list[float]:
    times = [r["monotonic"] for r in sandbox.control.requests()["requests"]]
    return [b - a for a, b in itertools.pairwise(times)]


def test_requests_at_the_real_one_per_second_limit_draw_no_429(sandbox):
    sandbox.control.set_rate_limit(1.0)
    with make_client(sandbox, rate_limit=1.0, max_retries=0) as client:
        for _ in range(4):
            client.count("/events")
    log = sandbox.control.requests()
    assert log["counts"]["rate_limited"] == 0
    assert len(log["requests"]) == 4
    assert min(arrival_gaps(sandbox)) >= 1.0  # as the server measured them


def test_threads_sharing_a_client_share_its_budget(sandbox):
    sandbox.control.set_rate_limit(5.0)
    with make_client(sandbox, rate_limit=5.0, max_retries=0) as client:

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
