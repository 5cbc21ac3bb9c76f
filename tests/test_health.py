"""/healthz and /livez: what a host's health check reads, without a login, without secrets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import Store, open_store
from bridge.web import app_context_of
from tests.support.web import PASSWORD, SECRET_KEY, make_settings

LEASE = timedelta(seconds=30)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as store:
        store.migrate()
    return url


@pytest.fixture
def web_settings() -> Settings:
    return make_settings()


def body(web: FlaskClient, path: str) -> tuple[int, str]:
    response = web.get(path)
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for secret in (PASSWORD, SECRET_KEY):
        assert secret not in text
    return response.status_code, text.strip()


def test_healthy_while_a_worker_holds_a_fresh_lease(web: FlaskClient, db: Store) -> None:
    db.hold_worker_lease("worker on host pid 1 #abc", LEASE)
    status, text = body(web, "/healthz")
    assert status == 200, text
    assert text.startswith("ok")
    assert "pid" not in text and "host" not in text  # who holds it is not for strangers


def test_unhealthy_before_any_worker_ran(web: FlaskClient) -> None:
    assert body(web, "/healthz") == (503, "no worker has run yet")


def test_a_lapsed_lease_says_how_old_the_heartbeat_is(web: FlaskClient, db: Store) -> None:
    db.hold_worker_lease("worker on host pid 1 #abc", timedelta(0))  # lapsed at once
    status, text = body(web, "/healthz")
    assert status == 503
    assert text.startswith("worker heartbeat ") and text.endswith(" old")


def test_a_stopped_worker_says_since_when(web: FlaskClient, db: Store) -> None:
    db.hold_worker_lease("A", LEASE)
    db.release_worker_lease("A")
    status, text = body(web, "/healthz")
    assert status == 503
    assert text.startswith("worker stopped ")


def test_web_alone_is_healthy_without_a_worker(web: FlaskClient) -> None:
    assert body(web, "/livez") == (200, "ok")
    status, text = body(web, "/healthz?worker=0")
    assert status == 200 and text.startswith("ok")


def test_a_database_that_does_not_answer_is_named_without_details(
    web: FlaskClient, app, tmp_path: Path
) -> None:
    app_context_of(app).store.close()
    (tmp_path / "bridge.db").unlink()
    (tmp_path / "bridge.db").mkdir()  # the file is now a folder: no connection can open it
    status, text = body(web, "/healthz")
    assert (status, text) == (503, "database unreachable")
    assert str(tmp_path) not in text
    status, text = body(web, "/healthz?worker=0")
    assert status == 503
    assert body(web, "/livez") == (200, "ok")  # the web process itself is fine


def test_no_login_needed_and_nothing_cached(web: FlaskClient) -> None:
    response = web.get("/healthz")
    assert response.status_code in (200, 503)  # not a redirect to the login page
    assert "no-store" in response.headers["Cache-Control"]
