"""The command line: help everywhere, one-line errors, and real processes against the sandbox."""

from __future__ import annotations

import signal
from pathlib import Path

import click
from click.testing import CliRunner

from bridge.cli import main
from bridge.store import open_store
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from tests.support.processes import bridge_process, wait_for

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, f"{prefix}{name} "))
    return found


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name, command in all_commands(main):
        assert command.help and len(command.help) > 20, f"{name} lacks help"
        assert f"trackops-bridge {name}" in readme, f"`trackops-bridge {name}` not in README"
        result = run(*name.split(), "--help")
        assert result.exit_code == 0


def test_check_reports_auth_and_how_an_event_is_read(sandbox, env):
    sandbox.control.clear_requests()
    result = run("check")
    assert result.exit_code == 0, result.output
    assert "Authentication: OK" in result.output
    assert "start_at" in result.output and "-> start_at" in result.output
    assert "Read as: " in result.output and "UTC to " in result.output
    paths = [r["path"] for r in sandbox.control.requests()["requests"]]
    assert len([p for p in paths if p.startswith("/api/v1/events/")]) == 1  # fetched once
    assert env["TRACKOPS_API_TOKEN"] not in result.output


def test_bad_credentials_give_one_line_and_exit_1_without_the_token(env, monkeypatch):
    monkeypatch.setenv("TRACKOPS_API_TOKEN", "wrong-token-123")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "error: " in result.output and "TRACKOPS_USERNAME" in result.output
    assert "Traceback" not in result.output
    assert "wrong-token-123" not in result.output


def test_a_bad_setting_names_the_variable(env, monkeypatch):
    monkeypatch.setenv("BRIDGE_POLL_INTERVAL", "-5")
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 1
    assert "BRIDGE_POLL_INTERVAL: expected seconds > 0, got '-5'" in result.output


def test_a_fresh_sqlite_file_needs_no_migrate_but_an_older_schema_says_what_to_run(env):
    fresh = CliRunner().invoke(main, ["status"])
    assert fresh.exit_code == 0, fresh.output
    assert "Events mirrored:      0" in fresh.output

    older = env["DATABASE_URL"].replace("bridge.db", "older.db")
    with open_store(older) as store:
        apply_migrations(lambda: transaction(store._engine, write=True), MIGRATIONS[:1])
    result = CliRunner().invoke(main, ["status"], env={"DATABASE_URL": older})
    assert result.exit_code == 1
    assert "trackops-bridge migrate" in result.output


def test_migrate_poll_and_status(env):
    assert "Applied migrations" in run("migrate").output
    assert "already current" in run("migrate").output
    result = run("poll", "--once")
    assert result.exit_code == 0, result.output
    assert "full sync: 300 fetched, 300 new" in result.output
    again = run("poll", "--once", "--reconcile")
    assert "0 new, 0 changed, 0 deleted, 1 requests" not in again.output  # reconcile lists too
    assert "deletions checked" in again.output
    status = run("status")
    assert "Events mirrored:      300 (0 deleted)" in status.output


def test_a_poll_killed_mid_pass_loses_and_duplicates_nothing(sandbox, env, tmp_path):
    sandbox.control.create_events([{"title": f"Bulk {i}", "calendar_id": 2} for i in range(1200)])
    run("migrate")
    sandbox.control.set_rate_limit(20.0)
    slow = {**env, "TRACKOPS_RATE_LIMIT": "20"}
    sandbox.control.clear_requests()
    process = bridge_process(slow, "poll", "--once")

    def pages_served() -> int:
        log = sandbox.control.requests()["requests"]
        return sum(1 for r in log if "page=" in r["query"] and r["status"] == 200)

    wait_for(
        lambda: pages_served() >= 12 or process.poll() is not None,
        "the pass to be past its first written chunk",
    )
    assert process.poll() is None, process.communicate()[0].decode()
    process.send_signal(signal.SIGKILL)
    process.communicate()
    with open_store(env["DATABASE_URL"]) as store:
        partial = store.count_events()
        assert store.get_sync_state().events_cursor is None  # the pass never completed
    assert 0 < partial < 1500, sandbox.control.requests()["requests"][-3:]
    sandbox.control.set_rate_limit(None)  # the slow pace was for the kill; the rerun needs none
    result = run("poll", "--once")
    assert result.exit_code == 0, result.output
    with open_store(env["DATABASE_URL"]) as store:
        assert store.count_events() == 1500
        assert store.get_sync_state().events_cursor is not None


def test_the_worker_stops_cleanly_on_sigterm(sandbox, env):
    run("migrate")
    process = bridge_process({**env, "BRIDGE_POLL_INTERVAL": "3600"}, "worker")

    def has_beaten() -> bool:
        with open_store(env["DATABASE_URL"]) as store:
            return store.get_sync_state().last_success_at is not None

    wait_for(has_beaten, "the worker's first pass")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output


def test_feeds_json_lists_every_feed_and_rotate_replaces_the_url(env):
    import json

    run("migrate")
    run("poll", "--once")
    feeds = json.loads(run("feeds", "--json").output)
    assert {"kind", "id", "name", "privacy", "url"} <= set(feeds[0])
    assert {f["kind"] for f in feeds} == {"all", "calendar", "staff"}
    first = feeds[0]
    old_token = first["url"].split("/feeds/")[1].split("/")[0]
    result = run("feeds", "rotate", str(first["id"]))
    assert result.exit_code == 0
    new_url = result.output.strip().splitlines()[-1]
    assert new_url != first["url"] and new_url.endswith(".ics")
    with open_store(env["DATABASE_URL"]) as store:
        assert store.find_feed_and_version(old_token) is None
    assert len(first["url"]) < 256  # Google's subscribe field fails silently above that


def test_calendars_can_be_named_and_given_a_zone(env):
    run("migrate")
    run("poll", "--once")
    assert "Calendar 2" in run("calendars").output
    assert "is now 'Surveillance'" in run("calendars", "rename", "2", "Surveillance").output
    assert "America/New_York" in run("calendars", "timezone", "2", "Eastern Standard Time").output
    bad = CliRunner().invoke(main, ["calendars", "timezone", "2", "America/New_Yrok"])
    assert bad.exit_code != 0 and "America/New_York" in bad.output  # a suggestion, not a trace
    listing = run("calendars").output
    assert "Surveillance" in listing and "America/New_York" in listing
