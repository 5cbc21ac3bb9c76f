"""The deployment the README describes, run for real: `migrate` (the release step), then the
worker and the web app (gunicorn, exactly as the Procfile says) as separate processes, each in
a folder of its own, sharing nothing but PostgreSQL (TEST_DATABASE_URL, a schema per test) and
reaching it with the `postgres://` spelling hosts hand out.

One pass through it: the worker syncs, a feed is served, an event entered in the web form is
sent by the worker through the outbox and shows up in the feed; /healthz says all is well;
every log line is one event with a level, and none carries a secret.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bridge.store import open_store
from bridge.web.feed_urls import feed_path
from tests.support.processes import (
    REPO,
    Sandbox,
    base_env,
    free_port,
    sandbox_process,
    started,
    wait_for,
)
from tests.support.store import BACKENDS

PASSWORD = "deploy-admin-password"
SECRET_KEY = "s" * 20 + "-deploy-secret-key-for-tests"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")

pytestmark = BACKENDS[1].marks  # PostgreSQL only: the deploy path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with sandbox_process(tmp_path_factory.mktemp("sandbox"), events=150, rate_limit=20) as sb:
        yield sb


def procfile(kind: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return line.removeprefix(f"{kind}:").strip()
    raise AssertionError(f"the Procfile has a {kind} line")


def as_hosts_spell_it(url: str) -> str:
    assert url.startswith("postgresql://")
    return "postgres://" + url.removeprefix("postgresql://")


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found[1]


@pytest.mark.parametrize("database_url", [BACKENDS[1].values[0]], indirect=True)
def test_release_worker_and_web_share_only_postgresql(
    sandbox: Sandbox,
    database_url: str,
    tmp_path: Path,
) -> None:
    url = as_hosts_spell_it(database_url)
    release, worker_dir, web_dir = (tmp_path / name for name in ("release", "worker", "web"))
    for folder in (release, worker_dir, web_dir):
        folder.mkdir()
    trackops = {**sandbox.client_env(), "TRACKOPS_RATE_LIMIT": "16"}
    port = free_port()
    web_env = base_env(
        DATABASE_URL=url,
        PORT=str(port),
        BRIDGE_ADMIN_PASSWORD=PASSWORD,
        BRIDGE_SECRET_KEY=SECRET_KEY,
        BRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        TRACKOPS_SUBDOMAIN="acme",
    )
    # Polling every 2 s: it also drains the outbox at each pass, so the form entry goes soon.
    worker_env = base_env(DATABASE_URL=url, BRIDGE_POLL_INTERVAL="2", **trackops)

    # The release step, as the Procfile runs it.
    migrated = subprocess.run(
        ["sh", "-c", f"exec {procfile('release')}"],
        cwd=release,
        env=base_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Applied migrations" in migrated.stdout

    with (
        started(["sh", "-c", f"exec {procfile('worker')}"], worker_env, worker_dir) as worker,
        started(["sh", "-c", f"exec {procfile('web')}"], web_env, web_dir) as web,
        open_store(database_url) as store,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):
        web.wait_for_line("Listening at")
        wait_for(lambda: store.get_sync_state().last_success_at, "the worker's first sync")
        assert store.count_events() == 150
        assert http.get("/healthz").status_code == 200

        everything = next(f for f in store.list_feeds() if f.kind.value == "all")
        feed = http.get(feed_path(everything))
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        assert feed.text.count("BEGIN:VEVENT") > 0

        # An event entered in the web form ...
        login_page = http.get("/login").text
        logged_in = http.post("/login", data={"password": PASSWORD, "csrf_token": csrf(login_page)})
        assert logged_in.status_code == 302, logged_in.text
        form = http.get("/admin/events/new").text
        calendar = store.list_calendars()[0]
        case = store.list_cases()[0]
        day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        title = "Deposition: deploy check"
        posted = http.post(
            "/admin/events/new",
            data={
                "csrf_token": csrf(form),
                "submission_id": re.search(r'name="submission_id" value="([^"]*)"', form)[1],  # type: ignore[index]
                "title": title,
                "calendar": str(calendar.calendar_id),
                "case": case.case_number,
                "start_date": day,
                "start_time": "09:00",
                "end_time": "10:30",
                "timezone": "America/Chicago",
            },
        )
        assert posted.status_code == 302, posted.text
        # ... is sent by the worker (the web process never talks to Trackops) ...
        wait_for(lambda: store.count_outbox_items() == 0, "the worker to send the form entry")
        (item,) = [i for b in store.list_batches() for i in store.batch_progress(b.batch_id).items]
        assert item.state == "sent" and item.event_id is not None
        # ... and shows in the feed.
        wait_for(lambda: title in http.get(feed_path(everything)).text, "the event in the feed")

        assert worker.terminate() == 0
        assert web.terminate() == 0

    web_posts = [r for r in sandbox.control.requests()["requests"] if r["method"] == "POST"]
    assert len(web_posts) == 1
    for process in (worker, web):
        for secret in (PASSWORD, SECRET_KEY, sandbox.token, everything.token):
            assert secret not in process.output
    # One event per line, with its time, level and component: the worker's, and the web's
    # own and gunicorn's alike.
    for line in worker.lines + web.lines:
        assert LOG_LINE.match(line), line
    assert any(" INFO gunicorn.access: " in line and "/healthz" in line for line in web.lines)
