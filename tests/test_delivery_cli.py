"""Push from the command line and from the worker, end to end: the sandbox over HTTP, a SQLite
file, and a real Radicale; a change in the sandbox reaches the calendar after one worker pass."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import click
import icalendar
import pytest
from click.testing import CliRunner

from bridge.assembly import build_worker, open_current_store
from bridge.cli import main
from bridge.config import load_settings
from bridge.delivery import push_settings
from bridge.delivery.caldav import read_wanted_objects
from bridge.delivery.plan import object_name
from bridge.feeds import feed_uid
from bridge.models import FeedKind
from tests.support.caldav_servers import PASSWORD, Radicale

PERSONAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Someone//Phone//EN\r\nBEGIN:VEVENT\r\n"
    "UID:lunch@phone.example\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300305T120000Z\r\n"
    "DTEND:20300305T130000Z\r\nSUMMARY:Lunch\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def synced(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """After a first poll of the sandbox, the id of its smallest calendar feed (future events
    only), so the push stays a few dozen requests."""
    monkeypatch.setenv("CALDAV_PASSWORD", PASSWORD)
    monkeypatch.setenv("BRIDGE_FEED_PAST_DAYS", "0")
    assert run("migrate").exit_code == 0
    assert run("poll", "--once").exit_code == 0
    settings = load_settings()
    now = datetime.now(UTC)
    with open_current_store(settings) as store:
        sizes = {
            feed.feed_id: len(read_wanted_objects(store, feed, push_settings(settings), now)[1])
            for feed in store.list_feeds()
            if feed.kind is FeedKind.CALENDAR
        }
    return min((size, feed_id) for feed_id, size in sizes.items() if size)[1]


def test_push_add_sync_list_and_the_worker_pushes_a_sandbox_change(
    synced: int, radicale: Radicale, sandbox
) -> None:
    url = radicale.collection("cli-work")
    assert radicale.request("PUT", url + "lunch.ics", content=PERSONAL).status_code == 201
    added = run(
        "push", "add", str(synced), url, "--username", "alice", "--password-env", "CALDAV_PASSWORD"
    )
    assert added.exit_code == 0 and "destination 1" in added.output
    listed = json.loads(run("push", "list", "--json").output)
    assert [(r["id"], r["feed"], r["state"]) for r in listed] == [(1, synced, "not pushed yet")]

    synced_now = run("push", "sync")
    assert synced_now.exit_code == 0, synced_now.output
    settings = load_settings()
    with open_current_store(settings) as store:
        feed = store.get_feed(synced)
        assert feed is not None
        _, wanted = read_wanted_objects(store, feed, push_settings(settings), datetime.now(UTC))
    held = radicale.objects(url)
    assert set(held) == {object_name(uid) for uid in wanted} | {"lunch.ics"}
    served = [
        int(str(vevent(body)["X-TRACKOPS-EVENT-ID"]))
        for body in held.values()
        if "Trackops" in body
    ]
    row = json.loads(run("push", "list", "--json").output)[0]
    assert (row["state"], row["pushed"], row["last_error"]) == ("ok", len(served), None)
    assert PASSWORD not in run("push", "list").output

    # A change in Trackops reaches the calendar after one worker pass: poll, then push.
    event_id = min(served)
    sandbox.control.patch_event(event_id, title="Moved by the sandbox")
    with open_current_store(settings) as store:
        worker = build_worker(settings, store, threading.Event())
        worker.take_lease()
        try:
            worker.run_once()
        finally:
            assert worker.lease is not None
            worker.lease.release()
    name = object_name(feed_uid(settings.account, event_id))
    assert str(vevent(radicale.objects(url)[name])["SUMMARY"]) == "Moved by the sandbox"

    removed = run("push", "remove", "1", "--delete-pushed")
    assert removed.exit_code == 0, removed.output
    assert set(radicale.objects(url)) == {"lunch.ics"}
    assert json.loads(run("push", "list", "--json").output) == []


def vevent(text: str) -> icalendar.Event:
    return icalendar.Calendar.from_ical(text).walk("VEVENT")[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://alice:pw@caldav.example/cal/"], "carries a user name or password"),
        (["ftp://caldav.example/cal/"], "not a calendar URL"),
        (["https://caldav.example/cal/", "--password-env", "my secret"], "NAME of an environment"),
        (["https://caldav.example/cal/", "--token-file", "/nonexistent/token"], "no such token"),
    ],
)
def test_push_add_refuses_bad_input_with_a_clear_line(
    synced: int, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["push", "add", str(synced), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert "pw@" not in result.output


def test_push_remove_asks_what_happens_to_the_pushed_events(synced: int) -> None:
    assert run("push", "add", str(synced), "https://caldav.example/cal/").exit_code == 0
    result = CliRunner().invoke(main, ["push", "remove", "1"])
    assert result.exit_code == 1 and "--delete-pushed or --keep-pushed" in result.output
    kept = run("push", "remove", "1", "--keep-pushed")
    assert kept.exit_code == 0 and "removed" in kept.output
    unknown = CliRunner().invoke(main, ["push", "remove", "1", "--keep-pushed"])
    assert unknown.exit_code == 1 and "Traceback" not in unknown.output


def test_push_add_refuses_an_unknown_feed(synced: int) -> None:
    result = CliRunner().invoke(main, ["push", "add", "9999", "https://caldav.example/cal/"])
    assert result.exit_code == 1 and "9999" in result.output


def test_the_worker_pushes_with_its_own_settings_not_the_environment_s(
    env: dict[str, str],
) -> None:
    # The demo builds its worker from settings it made itself: a destination must get events in
    # the zone its feed is rendered with, not in whatever the environment says.
    assert run("migrate").exit_code == 0
    settings = replace(load_settings(), default_timezone="America/Chicago")
    assert load_settings().default_timezone != "America/Chicago"
    with open_current_store(settings) as store:
        worker = build_worker(settings, store, threading.Event())
    assert worker.push == push_settings(settings)
