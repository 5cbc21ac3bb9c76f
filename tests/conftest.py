"""Shared fixtures: the sandbox over real HTTP on a free port, clients, and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from bridge.sandbox.options import SandboxOptions
from bridge.sandbox.server import SandboxServer
from bridge.store import Store, open_store
from bridge.trackops.client import TrackopsClient

# The web tests' app, client and login fixtures, in one module beside their helpers; the browser
# suite's (the bridge's processes and Chromium, started only for a test that asks for them).
pytest_plugins = ["tests.web_support", "tests.support.browser"]

# Most tests run sandbox and client far above Trackops' 1 request/s; only tests marked
# `pacing` run at the real limit.
FAST_RATE = 500.0
# Seed data is spread around today, so "the feed window" and "events still to come" always
# hold seed events however long after this was written the suite runs.
ANCHOR = datetime.now(UTC).date()
# The sandbox API tests pin their seed to a fixed day, so what they expect of dates holds.
PINNED_ANCHOR = date(2026, 3, 15)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxOptions(rate_limit=None, events=300, anchor=ANCHOR)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session's sandbox, reset to its seed data, default variants and an empty log."""
    sandbox_server.control.reset()
    return sandbox_server


@pytest.fixture(scope="module")
def pinned_sandbox_server() -> Iterator[SandboxServer]:
    """A sandbox per module seeded around PINNED_ANCHOR; 300 events, so listings span pages."""
    with SandboxServer(
        SandboxOptions(events=300, rate_limit=None, anchor=PINNED_ANCHOR)
    ) as running:
        yield running


@pytest.fixture
def pinned_sandbox(pinned_sandbox_server: SandboxServer) -> SandboxServer:
    """The module's pinned sandbox, reset to its seed data, default variants and an empty log."""
    pinned_sandbox_server.control.reset()
    return pinned_sandbox_server


@pytest.fixture
def api(pinned_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """Plain HTTP with the pinned sandbox's credentials: the API as a raw client sees it."""
    auth = pinned_sandbox.basic_auth
    with httpx.Client(base_url=pinned_sandbox.base_url, auth=auth, timeout=10) as client:
        yield client


@pytest.fixture
def env(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Command-line settings pointing at the sandbox and a fresh SQLite file, in the environment.

    The working directory moves to tmp_path, so no .env from the repo is read.
    """
    monkeypatch.chdir(tmp_path)
    values = {
        "TRACKOPS_BASE_URL": sandbox.base_url,
        "TRACKOPS_USERNAME": sandbox.options.username,
        "TRACKOPS_API_TOKEN": sandbox.options.token,
        "TRACKOPS_RATE_LIMIT": "200",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def make_client(server: SandboxServer, **overrides: object) -> TrackopsClient:
    options = {"rate_limit": FAST_RATE, "max_retries": 3, "timeout": 10.0, **overrides}
    return TrackopsClient(
        server.base_url,
        server.options.username,
        server.options.token,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[TrackopsClient]:
    with make_client(sandbox, sleep=lambda seconds: None) as c:
        yield c


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'bridge.db'}") as s:
        s.migrate()
        yield s
