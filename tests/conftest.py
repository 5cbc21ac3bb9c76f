"""Shared fixtures: the sandbox over real HTTP on a free port, clients, a real SQLite store, the
store contract's databases and the web app. Their helpers live in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import Store, open_store
from bridge.trackops.client import TrackopsClient
from bridge.web import app_context_of, create_app
from tests.support.sandbox import ANCHOR, PINNED_ANCHOR, make_client
from tests.support.store import fresh_database
from tests.support.web import log_in
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer

# The browser suite's fixtures (the bridge's processes and Chromium, started only for a test
# that asks for them).
pytest_plugins = ["tests.support.browser"]


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


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[TrackopsClient]:
    with make_client(sandbox, sleep=lambda seconds: None) as c:
        yield c


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'bridge.db'}") as s:
        s.migrate()
        yield s


# -- the store contract's databases (tests/support/store.py) --------------------------------


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on the backend the test is parametrized with (`BACKENDS`, indirect)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def empty_store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as store:
        yield store


# -- the web app (tests/support/web.py) ------------------------------------------------------
# A module that uses these supplies two fixtures of its own: `store_url` (a migrated database
# holding that module's data) and `web_settings` (the Settings its app runs with, usually
# `make_settings` plus its own choices).


@pytest.fixture
def db(store_url: str) -> Iterator[Store]:
    """A second handle on the same database, as the worker would hold."""
    with open_store(store_url) as handle:
        yield handle


@pytest.fixture
def app(store_url: str, web_settings: Settings) -> Iterator[Flask]:
    application = create_app(web_settings, store_url=store_url)
    yield application
    app_context_of(application).store.close()


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(web: FlaskClient) -> FlaskClient:
    """A client logged in as the admin."""
    assert log_in(web).status_code == 302
    return web
