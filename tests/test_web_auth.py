"""The admin login (the auth blueprint): every admin route behind it, CSRF tokens on every form,
the throttle, sessions and their cookie, and secrets kept out of the log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import Store
from bridge.web import app_context_of, create_app
from bridge.web.auth import is_local_path
from tests.support.web import (
    PASSWORD,
    SECRET_KEY,
    admin_routes,
    csrf_token,
    log_in,
    make_settings,
    sample_url,
)
from tests.support.web_mirror import (
    GOOGLE_UA,
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


# The stylesheet and favicon are public: the login page needs them.
def test_every_admin_route_needs_a_login(app: Flask, web: FlaskClient) -> None:
    routes = admin_routes(app)
    assert {("GET", "/"), ("POST", "/logout"), ("GET", "/admin/calendars")} <= set(routes)
    for method, url in routes:
        response = web.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, url
            assert urlsplit(response.headers["Location"]).path == "/login", url
        else:
            assert response.status_code == 401, (method, url)


def test_every_form_post_needs_the_csrf_token(app: Flask, admin: FlaskClient, db: Store) -> None:
    posts = [
        url
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set())
        for url in [sample_url(app, rule)]
    ]
    assert "/login" in posts and "/logout" in posts and len(posts) >= 5
    before = [(f.token, f.name, f.privacy) for f in db.list_feeds()]
    for url in posts:
        response = admin.post(
            url, data={"confirm": "yes", "name": "Changed", "privacy": "busy", "password": "x"}
        )
        assert response.status_code == 400, url
        assert "security token" in response.get_data(as_text=True)
    assert [(f.token, f.name, f.privacy) for f in db.list_feeds()] == before
    assert admin.get("/").status_code == 200, "logout without a token did not log out"


def test_wrong_password_is_refused(web: FlaskClient) -> None:
    response = log_in(web, "not the password")
    assert response.status_code == 401
    assert "Wrong password." in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_login_throttle_after_five_failures(web: FlaskClient, app: Flask) -> None:
    for _ in range(5):
        assert log_in(web, "guess").status_code == 401
    locked = log_in(web, PASSWORD)
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.get_data(as_text=True)
    assert locked.headers["Retry-After"] == "900"
    assert web.get("/").status_code == 302, "the right password did not get through"

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert log_in(elsewhere, PASSWORD).status_code == 302, "other addresses are not locked out"


def test_success_clears_earlier_failures(web: FlaskClient) -> None:
    for _ in range(4):
        log_in(web, "guess")
    assert log_in(web).status_code == 302
    web.post("/logout", data={"csrf_token": csrf_token(web)})
    for _ in range(4):
        log_in(web, "guess")
    assert log_in(web).status_code == 302, "the count started again after the success"


def test_login_page_sends_a_logged_in_admin_on(admin: FlaskClient) -> None:
    assert admin.get("/login").headers["Location"] == "/"
    assert admin.get("/login?next=/admin/feeds").headers["Location"] == "/admin/feeds"


def test_logout(admin: FlaskClient) -> None:
    assert admin.get("/").status_code == 200
    response = admin.post("/logout", data={"csrf_token": csrf_token(admin)})
    assert response.status_code == 302
    assert admin.get("/").status_code == 302


def test_login_follows_next_only_to_local_paths(web: FlaskClient) -> None:
    assert web.get("/admin/calendars").headers["Location"] == "/login?next=/admin/calendars"
    assert log_in(web, next="/admin/calendars").headers["Location"] == "/admin/calendars"
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        web.post("/logout", data={"csrf_token": csrf_token(web)})
        assert log_in(web, next=target).headers["Location"] == "/", target


@pytest.mark.parametrize(
    ("target", "is_local"),
    [
        ("/admin/feeds/3", True),
        ("/?a=b", True),
        ("https://evil.example/", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("/\t/evil.example", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_is_local_path(target: str, is_local: bool) -> None:
    assert is_local_path(target) is is_local


def test_session_cookie_flags(web: FlaskClient, store_url: str) -> None:
    log_in(web)
    cookie = web.get_cookie("bridge_session")
    assert cookie is not None
    assert cookie.http_only and cookie.secure and cookie.same_site == "Lax"
    local = create_app(make_settings(public_url="http://127.0.0.1:8000"), store_url=store_url)
    try:
        local_client = local.test_client()
        log_in(local_client)
        assert local_client.get_cookie("bridge_session").secure is False
    finally:
        app_context_of(local).store.close()


def test_changing_the_password_ends_sessions(admin: FlaskClient, store_url: str) -> None:
    cookie = admin.get_cookie("bridge_session")
    renewed = create_app(make_settings(admin_password="a new password"), store_url=store_url)
    try:
        other = renewed.test_client()
        other.set_cookie("bridge_session", cookie.value, domain="localhost")
        assert other.get("/").status_code == 302
    finally:
        app_context_of(renewed).store.close()


def test_secrets_never_reach_the_log(
    web: FlaskClient, db: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        log_in(web, "wrong password attempt")
        log_in(web)
        for feed in db.list_feeds():
            web.get(path_of(feed), headers={"User-Agent": GOOGLE_UA})
            web.get(f"/admin/feeds/{feed.feed_id}")
    for secret in [PASSWORD, SECRET_KEY, *(f.token for f in db.list_feeds())]:
        assert secret not in caplog.text
