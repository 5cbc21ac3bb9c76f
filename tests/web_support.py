"""Web-test fixtures and helpers: the app over a test module's database, logging in, form tokens.

Loaded for every test through `pytest_plugins` in conftest.py. A module that uses these fixtures
supplies two of its own: `store_url` (a migrated database holding that module's data) and
`web_settings` (the Settings its app runs with, usually `make_settings` plus its own choices).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.config import Settings
from bridge.store import Store, open_store
from bridge.web import app_context_of, create_app

PASSWORD = "correct horse battery"
SECRET_KEY = "k" * 24 + "-secret-key-for-tests-only"
PUBLIC_URL = "https://calendar.example-investigations.com"


def make_settings(**overrides: object) -> Settings:
    """Settings the web app starts with: a known admin password and secret key; overrides win."""
    values: dict[str, object] = {
        "admin_password": PASSWORD,
        "secret_key": SECRET_KEY,
        "public_url": PUBLIC_URL,
        "trackops_subdomain": "acme",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


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


def hidden_value(page: str, name: str) -> str:
    """The value of the page's hidden input `name`."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"the page has a hidden {name}"
    return found.group(1)


def hidden(response: TestResponse, name: str) -> str:
    return hidden_value(response.get_data(as_text=True), name)


def csrf_token(web: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form at `path` (the login page unless told)."""
    token = hidden(web.get(path, follow_redirects=True), "csrf_token")
    assert token, "the page carries a CSRF token"
    return token


def log_in(web: FlaskClient, password: str = PASSWORD, **extra: str) -> TestResponse:
    return web.post("/login", data={"password": password, "csrf_token": csrf_token(web), **extra})
