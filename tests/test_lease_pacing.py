"""Pacing across processes: the pacer's shared slot, and CLI commands run one after another
(or while a worker holds the lease) against a sandbox enforcing the same rate.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.store import open_store
from bridge.trackops.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class SharedSlot:
    """What the store does, in one place two pacers reach: the next start, on a shared clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.next_at = 0.0
        self.calls: list[tuple[float, float]] = []

    def __call__(self, not_before: float, interval: float) -> float:
        self.calls.append((not_before, interval))
        start = max(self.clock.now + not_before, self.next_at)
        self.next_at = max(self.next_at, start + interval)
        return start - self.clock.now


def test_two_pacers_sharing_a_slot_never_start_closer_than_the_interval() -> None:
    clock = FakeClock()
    shared = SharedSlot(clock)
    worker = Pacer(1.0, clock=clock, sleep=clock.sleep, shared=shared)
    command = Pacer(1.0, clock=clock, sleep=clock.sleep, shared=shared)
    starts = []
    for pacer in (worker, worker, command, worker, command, command):
        pacer.wait()
        starts.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= worker.interval - 1e-9


def test_without_a_shared_slot_a_new_pacer_starts_at_once() -> None:
    # What the shared slot is for: a fresh process's pacer knows nothing of the last request.
    clock = FakeClock()
    Pacer(1.0, clock=clock, sleep=clock.sleep).wait()
    Pacer(1.0, clock=clock, sleep=clock.sleep).wait()
    assert clock.slept == []


def test_a_deferral_after_a_429_reaches_the_other_processes() -> None:
    clock = FakeClock()
    shared = SharedSlot(clock)
    worker = Pacer(1.0, clock=clock, sleep=clock.sleep, shared=shared)
    command = Pacer(1.0, clock=clock, sleep=clock.sleep, shared=shared)
    worker.wait()
    worker.defer(30.0)
    command.wait()
    assert clock.now >= 130.0


def test_a_failed_reservation_changes_nothing_locally() -> None:
    clock = FakeClock()

    def refuse(not_before: float, interval: float) -> float:
        raise RuntimeError("the database is down")

    pacer = Pacer(1.0, clock=clock, sleep=clock.sleep, shared=refuse)
    with pytest.raises(RuntimeError):
        pacer.wait()
    assert clock.slept == []


# -- commands against a rate-limited sandbox ------------------------------------------------


@pytest.fixture
def paced_env(env: dict[str, str], sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI and the sandbox both at 2 requests/s: a command that starts its first request
    within half a second of the previous one's last draws a 429."""
    sandbox.control.set_rate_limit(2.0)
    monkeypatch.setenv("TRACKOPS_RATE_LIMIT", "2")
    monkeypatch.setenv("TRACKOPS_MAX_RETRIES", "0")  # a 429 would fail the command outright
    return env


def test_a_command_right_after_another_draws_no_429(paced_env, sandbox) -> None:
    sandbox.control.clear_requests()
    for _ in range(2):
        result = CliRunner().invoke(main, ["check"])
        assert result.exit_code == 0, result.output
    log = sandbox.control.requests()
    assert len(log["requests"]) == 6  # count, a page, one event: twice
    assert log["counts"]["rate_limited"] == 0


def test_poll_once_refuses_to_race_a_worker_and_says_what_to_do(env, sandbox) -> None:
    runner = CliRunner()
    with open_store(env["DATABASE_URL"]) as store:
        store.migrate()
        store.hold_worker_lease("worker on elsewhere pid 7 #abc", timedelta(seconds=30))
        sandbox.control.clear_requests()
        result = runner.invoke(main, ["poll", "--once"])
        assert result.exit_code == 1
        assert result.output.count("\n") == 1, result.output  # one line
        assert "worker on elsewhere pid 7 #abc holds the lease" in result.output
        assert "poll --once --wait" in result.output
        assert sandbox.control.requests()["requests"] == []  # nothing sent to Trackops

        store.hold_worker_lease("worker on elsewhere pid 7 #abc", timedelta(0))  # it lapses
        result = runner.invoke(main, ["poll", "--once", "--wait"])
        assert result.exit_code == 0, result.output
        assert "full sync:" in result.output
        assert store.read_worker_lease().holder is None  # given back when done


def test_a_new_sqlite_file_needs_no_migrate(env, sandbox, tmp_path: Path) -> None:
    assert not (tmp_path / "bridge.db").exists()
    result = CliRunner().invoke(main, ["poll", "--once"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert "Events mirrored:      300" in result.output


def test_an_older_database_still_says_to_run_migrate(env, tmp_path: Path) -> None:
    from bridge.store.engine import transaction
    from bridge.store.migrations import MIGRATIONS, apply_migrations

    with open_store(env["DATABASE_URL"]) as store:
        apply_migrations(lambda: transaction(store._engine, write=True), MIGRATIONS[:3])
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    assert "version 3" in result.output and "run `trackops-bridge migrate`" in result.output
