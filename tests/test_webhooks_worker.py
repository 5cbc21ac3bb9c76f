"""Webhooks end to end: the sandbox over HTTP, a SQLite file, the worker, and a real receiver that
checks every signature. A created, an updated (with `changed`) and a deleted event each arrive
once, with their instants and zones; a worker killed (SIGKILL) while the receiver holds its
request is followed by another that sends the same webhook-id again; nothing shows the secret."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner

from bridge.assembly import build_worker, open_current_store
from bridge.cli import main
from bridge.config import load_settings
from tests.support.processes import base_env, bridge, started, wait_for
from tests.support.webhook_receiver import Receiver, running_receiver

# The worker polls (and checks deletions) every second here, so a deletion proven by its
# lookup arrives within a pass or two, not an hour.
FAST = {
    "BRIDGE_WEBHOOKS_ALLOW_PRIVATE": "1",
    "BRIDGE_POLL_INTERVAL": "1",
    "BRIDGE_RECONCILE_INTERVAL": "0.5",
    "BRIDGE_WORKER_LEASE": "6",
}


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def subscribed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> int:
    """After a first pull of the sandbox (announced to no one), a subscription to `receiver`;
    returns its id and gives the receiver the secret `add` printed."""
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    assert run("poll", "--once").exit_code == 0
    added = run("webhooks", "add", receiver.url)
    assert added.exit_code == 0, added.output
    receiver.secret = added.output.strip().splitlines()[-1]
    assert receiver.secret.startswith("whsec_")
    return int(added.output.split()[1].rstrip(":"))


def timed_event_ids(count: int) -> list[int]:
    """Future timed events of the mirror that carry a zone of their own."""
    settings = load_settings()
    now = datetime.now(UTC)
    with open_current_store(settings) as store:
        feed = next(f for f in store.list_feeds() if f.kind.value == "all")
        items = store.feed_events(feed, ending_after=now + timedelta(days=1))
    return [i.event.event_id for i in items if i.event.timezone and not i.event.is_allday][:count]


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_created_updated_deleted_reach_the_receiver_once_each_from_the_worker(
    subscribed: int, receiver: Receiver, sandbox
) -> None:
    assert receiver.received() == []  # the first pull was no news
    changed_id, deleted_id = timed_event_ids(2)
    created = sandbox.control.create_event(
        title="Deposition",
        calendar_id=2,
        start_at="2031-05-06 14:00:00",
        end_at="2031-05-06 15:30:00",
        timezone="America/New_York",
    )
    before = sandbox.control.get_event(changed_id)
    moved_start = utc(before["start_at"]) + timedelta(hours=2)
    moved_end = utc(before["end_at"]) + timedelta(hours=2)
    sandbox.control.patch_event(
        changed_id,
        title="Moved hearing",
        start_at=f"{moved_start:%Y-%m-%d %H:%M:%S}",
        end_at=f"{moved_end:%Y-%m-%d %H:%M:%S}",
    )
    sandbox.control.delete_event(deleted_id)

    settings = load_settings()
    stop = threading.Event()
    with open_current_store(settings) as store:
        worker = build_worker(settings, store, stop)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(receiver.received()) >= 3, "the three changes at the receiver")
        finally:
            worker.stop()
            thread.join(timeout=15)

    messages = receiver.by_id()
    assert all(len(copies) == 1 for copies in messages.values())  # once per webhook-id
    payloads = {m.payload["type"]: m.payload for m in receiver.received()}
    assert all(m.is_verified for m in receiver.received())
    assert set(payloads) == {"event.created", "event.updated", "event.deleted"}

    new = payloads["event.created"]["data"]
    assert new["event_id"] == created["id"] and new["title"] == "Deposition"
    assert (utc(new["start"]), utc(new["end"])) == (
        datetime(2031, 5, 6, 14, 0, tzinfo=UTC),
        datetime(2031, 5, 6, 15, 30, tzinfo=UTC),
    )
    assert new["timezone"] == "America/New_York"
    assert new["local_start"] == "2031-05-06T10:00:00-04:00"  # EDT

    update = payloads["event.updated"]
    assert update["data"]["event_id"] == changed_id
    assert {"title", "start", "end"} <= set(update["changed"])
    assert utc(update["data"]["start"]) == moved_start
    zone = ZoneInfo(update["data"]["timezone"])
    assert update["data"]["local_start"] == moved_start.astimezone(zone).isoformat()

    assert payloads["event.deleted"]["data"]["event_id"] == deleted_id
    listed = run("webhooks", "list").output
    assert receiver.secret not in listed and "backlog 0" in listed


def test_a_worker_killed_mid_delivery_is_followed_by_one_that_sends_the_same_id(
    subscribed: int, receiver: Receiver, sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    (event_id,) = timed_event_ids(1)
    worker_env = base_env(**env, **FAST)
    release = receiver.hold()
    with started(bridge("worker"), worker_env, tmp_path) as first:
        first.wait_for_line("worker lease taken")
        sandbox.control.patch_event(event_id, title="Changed while the worker dies")
        wait_for(receiver.held.is_set, "the receiver to hold the first delivery open")
        first.kill()
    release.set()  # the receiver answers a sender that is gone
    wait_for(lambda: len(receiver.received()) == 1, "the held request to be recorded")

    with started(bridge("worker"), worker_env, tmp_path) as second:
        wait_for(lambda: len(receiver.received()) >= 2, "the second worker's delivery")
        second.terminate()
    held, resent = receiver.received()[:2]
    assert held.webhook_id == resent.webhook_id  # at least once, under one id
    assert held.body == resent.body and resent.is_verified
    assert resent.payload["data"]["title"] == "Changed while the worker dies"
    for process in (first, second):
        assert receiver.secret not in process.output
        assert receiver.secret.removeprefix("whsec_") not in process.output
    log = run("webhooks", "log", "--json").output
    assert '"state": "delivered"' in log and receiver.secret not in log


def test_sigterm_while_a_receiver_holds_a_request_stops_the_worker_in_time(
    subscribed: int, receiver: Receiver, sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    """A receiver that never answers does not keep the worker from stopping: it waits a few
    seconds for the POST, releases the lease and exits 0, well within a host's 10 s."""
    (event_id,) = timed_event_ids(1)
    release = receiver.hold()
    with started(bridge("worker"), base_env(**env, **FAST), tmp_path) as worker:
        worker.wait_for_line("worker lease taken")
        sandbox.control.patch_event(event_id, title="Changed just before a deploy")
        wait_for(receiver.held.is_set, "the receiver to hold the delivery open")
        status = worker.terminate(timeout=10)
    release.set()
    assert status == 0, worker.output
    assert "worker lease released" in worker.output and "still busy" not in worker.output
