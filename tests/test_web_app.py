"""The app as a whole (create_app and its handlers): security headers on every answer, a
BridgeError shown as advice, and start-up refusing unsafe settings or an unmigrated database.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.errors import BridgeError, ConfigError
from bridge.models import FeedKind
from bridge.store import SchemaOutOfDate, Store, open_store
from bridge.web import app_context_of, create_app, create_app_from_env
from tests.support.web import (
    SECRET_KEY,
    log_in,
    make_settings,
)
from tests.support.web_mirror import (
    feed_of,
    mirror_settings,
    mirror_store,
    path_of,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return mirror_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return mirror_settings()


def test_pages_and_feeds_carry_the_security_headers(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    for url in ("/", "/admin/feeds", "/no/such/page"):
        response = admin.get(url)
        policy = response.headers["Content-Security-Policy"]
        for directive in (
            "default-src 'none'",
            "script-src 'none'",  # no script on these pages: none may run
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "style-src 'self';",  # stylesheets from static/ only: no inline style may apply
        ):
            assert directive in policy, (url, directive)
        assert response.headers["X-Frame-Options"] == "DENY", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == "same-origin", url

    nonces = []
    for _ in range(2):
        page = admin.get(f"/admin/feeds/{feed.feed_id}")
        found = re.search(r"script-src 'nonce-([^']+)';", page.headers["Content-Security-Policy"])
        assert found, "the copy button's script runs by its nonce"
        assert f'<script nonce="{found.group(1)}">' in page.get_data(as_text=True)
        assert "<script>" not in page.get_data(as_text=True)
        nonces.append(found.group(1))
    assert nonces[0] != nonces[1], "a fresh nonce per response"

    assert admin.get(path_of(feed)).headers["X-Content-Type-Options"] == "nosniff"


def test_bridge_errors_become_a_page_with_advice(app: Flask, store_url: str) -> None:
    def failing_view() -> str:
        raise BridgeError("Trackops refused the change", advice="check the case number")

    app.add_url_rule("/boom", "boom", failing_view)
    web = app.test_client()
    log_in(web)
    response = web.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Trackops refused the change" in page and "check the case number" in page
    assert "Traceback" not in page


def test_unsafe_admin_settings_stop_start_up(store_url: str) -> None:
    with pytest.raises(ConfigError, match="BRIDGE_ADMIN_PASSWORD"):
        create_app(make_settings(admin_password="short"), store_url=store_url)
    with pytest.raises(ConfigError, match="BRIDGE_SECRET_KEY"):
        create_app(make_settings(secret_key="too short"), store_url=store_url)


def test_an_unmigrated_database_stops_start_up(tmp_path) -> None:
    with pytest.raises(SchemaOutOfDate, match="trackops-bridge migrate"):
        create_app(make_settings(), store_url=f"sqlite:///{tmp_path / 'empty.db'}")


def test_gunicorn_factory_reports_a_bad_setting_in_one_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gunicorn.errors import AppImportError

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("BRIDGE_ADMIN_PASSWORD", "short")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", SECRET_KEY)
    with pytest.raises(AppImportError) as raised:
        create_app_from_env()
    assert str(raised.value).startswith("BRIDGE_ADMIN_PASSWORD: not set or shorter than 8")
    assert "\n" not in str(raised.value)


def test_the_gunicorn_app_has_every_page_template_compiled_before_its_first_request(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as store:
        store.migrate()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BRIDGE_ADMIN_PASSWORD", "a-long-enough-password")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", SECRET_KEY)
    app = create_app_from_env()
    try:
        pages = set(app.jinja_env.list_templates(extensions=["html"]))
        assert {"base.html", "auth/login.html", "admin/feed.html"} <= pages
        # Jinja's cache is keyed by (loader weakref, name): every page is in it already.
        assert {name for _, name in app.jinja_env.cache} >= pages
    finally:
        app_context_of(app).store.close()
