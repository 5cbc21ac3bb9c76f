"""Admin login under attack: the throttle through a real server, and logout revoking sessions.

Each test runs on a SQLite file and, with TEST_DATABASE_URL, on PostgreSQL (a schema per test):
the throttle's count-and-reserve must be one locked transaction on both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from bridge.config import Settings
from bridge.models import Event, Privacy
from bridge.store import StoreUnavailable, open_store
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from bridge.web import app_context_of
from bridge.web.auth import FAILURE_WINDOW, MAX_FAILURES, MAX_FAILURES_GLOBAL
from tests.support.store import BACKENDS
from tests.support.web import PASSWORD, csrf_token, hidden_value, log_in, make_settings

# The store contract suite's backends: a SQLite file, and a PostgreSQL schema of its own.
pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)

PARALLEL = 100
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store_url(database_url: str) -> str:
    with open_store(database_url) as filling:
        filling.migrate()
    return database_url


@pytest.fixture
def web_settings() -> Settings:
    # Plain http: httpx sends no Secure cookie to a local server. One trusted proxy: tests
    # play many clients through X-Forwarded-For.
    return make_settings(public_url="http://127.0.0.1:8000", trusted_proxies=1)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a real threaded werkzeug server on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def in_parallel(attempt: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run ``attempt(i)`` for i in range(PARALLEL), all released at once."""
    start = threading.Barrier(PARALLEL)
    results: list[httpx.Response | BaseException] = [RuntimeError("not run")] * PARALLEL

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = attempt(index)
        except BaseException as error:  # reported below, not lost in a thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    return [r for r in results if isinstance(r, httpx.Response)]


def login_form(client: httpx.Client) -> dict[str, str]:
    """A wrong-password form with the CSRF token of ``client``'s session."""
    page = client.get("/login")
    return {"password": "a wrong guess", "csrf_token": hidden_value(page.text, "csrf_token")}


def statuses(responses: list[httpx.Response]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for response in responses:
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
    return counts


# -- the throttle ----------------------------------------------------------------------------


def test_parallel_guesses_from_one_address_get_at_most_the_limit_checked(app: Flask) -> None:
    limits = httpx.Limits(max_connections=PARALLEL)
    with serving(app) as base, httpx.Client(base_url=base, limits=limits, timeout=30) as client:
        form = login_form(client)
        responses = in_parallel(lambda _: client.post("/login", data=form))
        assert statuses(responses) == {401: MAX_FAILURES, 429: PARALLEL - MAX_FAILURES}
        assert all("Wrong password." in r.text for r in responses if r.status_code == 401)
        refused = next(r for r in responses if r.status_code == 429)
        assert "Too many failed attempts from your address" in refused.text
        assert "Wrong password" not in refused.text

        right = client.post("/login", data={**form, "password": PASSWORD})
        assert right.status_code == 429, "the right password is not even checked now"
        assert client.get("/").status_code == 302


def test_parallel_guesses_from_many_addresses_stop_at_the_global_ceiling(app: Flask) -> None:
    limits = httpx.Limits(max_connections=PARALLEL)
    with serving(app) as base, httpx.Client(base_url=base, limits=limits, timeout=30) as client:
        form = login_form(client)

        def guess(index: int) -> httpx.Response:
            # One guess per address: no address reaches its own limit.
            forwarded = {"X-Forwarded-For": f"198.51.100.{index + 1}"}
            return client.post("/login", data=form, headers=forwarded)

        responses = in_parallel(guess)
        assert statuses(responses) == {
            401: MAX_FAILURES_GLOBAL,
            429: PARALLEL - MAX_FAILURES_GLOBAL,
        }
        paused = next(r for r in responses if r.status_code == 429)
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        assert f"Logins are paused for {minutes} minutes" in paused.text
        assert "Wrong password" not in paused.text and "your address" not in paused.text
        assert 0 < int(paused.headers["Retry-After"]) <= FAILURE_WINDOW.total_seconds()

        fresh = {"X-Forwarded-For": "203.0.113.77"}
        right = client.post("/login", data={**form, "password": PASSWORD}, headers=fresh)
        assert right.status_code == 429, "paused for everyone, the admin too"
        assert "Logins are paused" in right.text
        assert client.get("/", headers=fresh).status_code == 302


def test_throttle_counts_reserves_and_waits_in_the_store(store_url: str) -> None:
    limits = {"window": FAILURE_WINDOW, "client_limit": 2, "global_limit": 3}
    with open_store(store_url) as store:
        first = store.reserve_login_attempt("ip:a", T0, **limits)
        second = store.reserve_login_attempt("ip:a", T0 + timedelta(minutes=5), **limits)
        assert first.allowed and second.allowed
        assert store.count_login_failures("ip:a", T0) == 2, "reserved before any check"

        refused = store.reserve_login_attempt("ip:a", T0 + timedelta(minutes=6), **limits)
        assert (refused.allowed, refused.paused_for_everyone) == (False, False)
        assert refused.retry_after == timedelta(minutes=9), "until the oldest leaves the window"
        assert store.count_login_failures("ip:a", T0) == 2, "a refused attempt is not recorded"

        assert store.reserve_login_attempt("ip:b", T0 + timedelta(minutes=6), **limits).allowed
        paused = store.reserve_login_attempt("ip:c", T0 + timedelta(minutes=7), **limits)
        assert (paused.allowed, paused.paused_for_everyone) == (False, True)
        assert paused.retry_after == timedelta(minutes=8)

        later = T0 + FAILURE_WINDOW + timedelta(seconds=1)  # the first failure has aged out
        assert store.reserve_login_attempt("ip:c", later, **limits).allowed
        store.clear_login_failures("ip:c")  # as a right password does: its reservation goes
        assert store.count_login_failures("ip:c", T0) == 0


def test_a_right_password_clears_the_reserved_failure(web: FlaskClient, db) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert log_in(web, "guess").status_code == 401
    assert log_in(web).status_code == 302
    assert db.count_login_failures("ip:127.0.0.1", T0 - timedelta(days=3650)) == 0


# -- sessions --------------------------------------------------------------------------------


def test_a_cookie_from_before_logout_is_refused(app: Flask, admin: FlaskClient) -> None:
    before = admin.get_cookie("bridge_session")
    assert before is not None and admin.get("/").status_code == 200
    elsewhere = app.test_client()  # a second browser, logged in too
    assert log_in(elsewhere).status_code == 302

    logged_out = admin.post("/logout", data={"csrf_token": csrf_token(admin)})
    assert logged_out.status_code == 302

    replay = app.test_client()
    replay.set_cookie("bridge_session", before.value, domain="localhost")
    assert replay.get("/").status_code == 302, "the copied cookie no longer opens a page"
    assert replay.get("/admin/feeds").headers["Location"].startswith("/login")
    refused = replay.post("/admin/feeds/1/rotate", data={"confirm": "yes"})
    assert refused.status_code == 401
    assert elsewhere.get("/").status_code == 302, "a logout ends every session"

    assert log_in(admin).status_code == 302
    assert admin.get("/").status_code == 200, "a new login works"
    assert replay.get("/").status_code == 302, "and revives no old cookie"


def test_a_signed_cookie_without_the_session_version_is_refused(
    app: Flask, admin: FlaskClient
) -> None:
    # What a login wrote before session versions: the password fingerprint alone, still
    # correctly signed with the secret key.
    signed = admin.get_cookie("bridge_session")
    assert signed is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    held = serializer.loads(signed.value)
    assert isinstance(held.get("admin_version"), int)
    forged = app.test_client()
    forged.set_cookie(
        "bridge_session",
        serializer.dumps({"admin": held["admin"]}),
        domain="localhost",
    )
    assert forged.get("/").status_code == 302


def test_an_unreadable_session_version_is_a_503_page(
    app: Flask, admin: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> int:
        raise StoreUnavailable("sqlite:///bridge.db", "database is locked")

    monkeypatch.setattr(app_context_of(app).store, "admin_session_version", unavailable)
    response = admin.get("/")
    assert response.status_code == 503
    assert "Database unavailable" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_migration_5_adds_the_session_version_and_keeps_data(database_url: str) -> None:
    with open_store(database_url) as store:
        begin = lambda: transaction(store._engine, write=True)  # noqa: E731
        earlier = [m for m in MIGRATIONS if m.version < 5]
        assert apply_migrations(begin, earlier) == [m.version for m in earlier]
        store.apply_event_changes([sample_event()], [], T0)
        store.ensure_feeds(Privacy.LIMITED)
        store.record_login_failure("ip:a", T0)
        feeds_before = store.list_feeds()

        assert 5 in store.migrate()
        store.require_current_schema()
        assert store.list_feeds() == feeds_before
        assert store.get_event(1) == sample_event()
        assert store.count_login_failures("ip:a", T0) == 1
        assert store.admin_session_version() == 0, "no logout yet"
        assert store.end_admin_sessions(T0) == 1
        assert store.end_admin_sessions(T0 + timedelta(minutes=1)) == 2
        assert store.admin_session_version() == 2


def sample_event() -> Event:
    return Event(
        event_id=1, title="Hearing", start_at=T0, end_at=T0 + timedelta(hours=1), calendar_id=1
    )
