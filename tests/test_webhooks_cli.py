"""`trackops-bridge webhooks ...`: the secret printed once and never listed, clear one-line
refusals (a bad URL, a private address naming its setting, an unknown id or type), and replaying
failed deliveries by delivery id or by subscription, on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click
import pytest
from click.testing import CliRunner

from bridge.assembly import open_current_store
from bridge.cli import main
from bridge.config import load_settings
from tests.support.events import make_event


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def db(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bridge.db'}")
    monkeypatch.delenv("BRIDGE_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    with open_current_store(load_settings()) as store:  # a mirror with calendar 1, staff 10
        store.apply_event_changes([make_event(1)], [], datetime.now(UTC))


def test_add_prints_the_secret_once_and_list_never_shows_it(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_WEBHOOKS_ALLOW_PRIVATE", "1")
    added = run(
        "webhooks", "add", "http://127.0.0.1:9/hook?team=ops", "--types", "event.deleted",
        "--calendar", "1", "--privacy", "busy",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and added.output.count(secret) == 1
    assert "subscription 1: http://127.0.0.1:9/hook (event.deleted; calendar 1; busy)" in (
        added.output
    )

    (row,) = json.loads(run("webhooks", "list", "--json").output)
    assert (row["id"], row["types"], row["calendar"], row["privacy"], row["state"]) == (
        1,
        ["event.deleted"],
        1,
        "busy",
        "active",
    )
    assert (row["backlog"], row["failed"], row["last_success"]) == (0, 0, None)
    for output in (run("webhooks", "list").output, json.dumps(row), run("webhooks", "log").output):
        assert secret not in output and secret.removeprefix("whsec_") not in output
    assert run("webhooks", "remove", "1").exit_code == 0
    assert "No webhook subscriptions" in run("webhooks", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://hooks.example/in"], "not a webhook URL"),
        (["https://ann:pw@hooks.example/in"], "carries a user name or password"),
        (["http://hooks.example/in"], "plain http is refused"),
        (["https://127.0.0.1:8443/in"], "BRIDGE_WEBHOOKS_ALLOW_PRIVATE=1"),
        (["https://[::1]/in"], "a loopback, private or link-local address"),
        (["https://hooks.invalid/in"], "cannot resolve hooks.invalid"),
        (["https://1.1.1.1/in", "--types", "event.moved"], "unknown event type 'event.moved'"),
        (["https://1.1.1.1/in", "--calendar", "99"], "no calendar 99 in the mirror"),
        (["https://1.1.1.1/in", "--staff", "77"], "no staff member 77 in the mirror"),
    ],
)
def test_add_refuses_bad_input_in_one_line(db: None, args: list[str], message: str) -> None:
    result = run("webhooks", "add", *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "pw@" not in result.output
    assert json.loads(run("webhooks", "list", "--json").output) == []


@pytest.mark.parametrize(
    "args",
    [["remove", "7"], ["replay", "7"], ["replay", "--subscription", "7"], ["log", "7"]],
)
def test_unknown_ids_get_one_line(db: None, args: list[str]) -> None:
    result = run("webhooks", *args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "with id 7" in result.output


def test_replay_by_delivery_or_by_subscription(db: None) -> None:
    settings = load_settings()
    now = datetime.now(UTC)
    with open_current_store(settings) as store:
        subscription = store.add_subscription(
            "https://hooks.example/in", "whsec_c2VjcmV0", now, event_types=["event.updated"]
        )
        for title in ("One", "Two"):
            store.apply_event_changes([make_event(1, title=title)], [], now)
        for due in store.claim_due_deliveries(now, "test"):
            store.record_failed_attempt(
                due.delivery.delivery_id, now, status=500, error="500", next_attempt_at=None
            )
        (second,) = store.claim_due_deliveries(now, "test")  # waited for the first
        store.record_delivered(second.delivery.delivery_id, now, 200)
    failed = json.loads(run("webhooks", "log", "--failed", "--json").output)
    assert [(row["state"], row["attempts"]) for row in failed] == [("failed", 1)]
    assert "failed 1" in run("webhooks", "list").output

    both = run("webhooks", "replay", str(failed[0]["id"]), "--subscription", "1")
    assert both.exit_code == 1 and "not both" in both.output
    delivered = run("webhooks", "replay", str(second.delivery.delivery_id))
    assert delivered.exit_code == 1 and "is delivered, not failed" in delivered.output
    replayed = run("webhooks", "replay", str(failed[0]["id"]))
    assert replayed.exit_code == 0 and "1 deliveries queued again" in replayed.output
    assert run("webhooks", "replay", "--subscription", "1").output.startswith("0 deliveries")
    with open_current_store(settings) as store:
        (due,) = store.claim_due_deliveries(now + timedelta(seconds=1), "test")
        assert due.delivery.message_id == failed[0]["webhook_id"]
        store.disable_subscription(subscription.subscription_id, "410 Gone", now)
    disabled = run("webhooks", "replay", "--subscription", "1")
    assert disabled.exit_code == 1 and "is disabled (410 Gone)" in disabled.output
