"""Web-test helpers: the settings the app starts with, logging in, form tokens, the admin routes.

The fixtures built on them (`db`, `app`, `web`, `admin`) are in tests/conftest.py.
"""

from __future__ import annotations

import re

from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule
from werkzeug.test import TestResponse

from bridge.config import Settings

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


# The endpoints anyone may reach; every other route needs the admin's login.
# The stylesheets and favicon are public: the login page needs them.
OPEN_ENDPOINTS = {"feeds.serve_feed", "auth.login", "health.healthz", "health.livez", "static"}


def sample_url(app: Flask, rule: Rule) -> str:
    converters = rule._converters  # which arguments are numbers, to build a matching URL
    values = {a: 1 if isinstance(converters[a], IntegerConverter) else "x" for a in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def admin_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, sample URL) of every route behind the login."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OPEN_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, sample_url(app, rule)))
    return found
