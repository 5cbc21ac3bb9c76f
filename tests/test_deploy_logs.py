"""Log lines as a host's collector reads them: one event per line with its level and component,
text or JSON (BRIDGE_LOG_FORMAT), and never a configured secret."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from bridge.config import Settings
from bridge.logs import REDACTED, LineFormatter, secrets_of
from tests.support.processes import base_env, bridge


def record(message: str, *, name: str = "bridge.worker", exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, exc_info)


def test_a_traceback_and_a_multi_line_message_stay_on_their_line() -> None:
    line = LineFormatter().format(record("Trackops said:\n<html>", exc=True))
    assert "\n" not in line
    assert " ERROR worker: Trackops said:\\n<html> | Traceback" in line
    assert "second line" in line


def test_json_is_one_object_per_line_with_level_and_component() -> None:
    line = LineFormatter("json").format(record("two\nlines", name="bridge.trackops.client"))
    assert "\n" not in line
    event = json.loads(line)
    assert (event["level"], event["component"], event["message"]) == (
        "error",
        "trackops.client",
        "two\nlines",
    )
    assert event["time"].endswith("Z")


def test_configured_secrets_never_reach_a_line() -> None:
    settings = Settings(
        trackops_api_token="tok-0123456789",
        admin_password="admin-pass-42",
        secret_key="k" * 40,
        database_url="postgresql://bridge:db-pass-77@db.example/bridge",
    )
    secrets = secrets_of(settings)
    assert set(secrets) == {"tok-0123456789", "admin-pass-42", "k" * 40, "db-pass-77"}
    for log_format in ("text", "json"):
        line = LineFormatter(log_format, secrets).format(
            record("auth tok-0123456789 admin-pass-42 postgresql://bridge:db-pass-77@db", exc=True)
        )
        for secret in secrets:
            assert secret not in line
        assert REDACTED in line


def test_a_command_logs_json_when_asked(env: dict[str, str]) -> None:
    result = subprocess.run(
        bridge("poll", "--once"),
        env=base_env(**env, BRIDGE_LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("full sync:")  # the command's own output stays clean
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events and {e["component"] for e in events} >= {"sync"}
    assert all(set(e) >= {"time", "level", "component", "message"} for e in events)
    assert env["TRACKOPS_API_TOKEN"] not in result.stderr
