"""What responses and logs give away: cache and HSTS headers, and feed tokens in server logs.

The log tests run the real servers as their own processes on a free port: `trackops-bridge web`
(werkzeug, as the demo serves) and the Procfile's gunicorn line, and read what they print.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import Event, Feed, FeedKind, Privacy, Staff
from bridge.store import Store, open_store
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path
from bridge.web.logs import REDACTED, redact_feed_tokens
from tests.support.web import (
    PASSWORD,
    SECRET_KEY,
    admin_routes,
    csrf_token,
    log_in,
    make_settings,
)

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)
HSTS = "max-age=31536000"
TOKEN = "Zq3_-x" * 5 + "Ab"  # the shape of a real token: 32 URL-safe characters


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    start = NOW + timedelta(days=1)
    with open_store(url) as filling:
        filling.migrate()
        filling.upsert_staff([Staff(7, "Ann", "Lee")])
        event = Event(
            event_id=101,
            title="Surveillance",
            start_at=start,
            end_at=start + timedelta(hours=2),
            calendar_id=3,
            staff_ids=(7,),
            updated_at=NOW,
        )
        filling.apply_event_changes([event], [], NOW)
        filling.ensure_feeds(Privacy.LIMITED)
    return url


@pytest.fixture
def web_settings() -> Settings:
    return make_settings()  # https public URL


def feed_of(db: Store) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is FeedKind.ALL)


@contextmanager
def app_with(store_url: str, **settings: object) -> Iterator[FlaskClient]:
    app = create_app(make_settings(**settings), store_url=store_url)
    try:
        yield app.test_client()
    finally:
        app_context_of(app).store.close()


# -- caching -----------------------------------------------------------------------------------


def test_every_admin_page_is_no_store(app: Flask, web: FlaskClient) -> None:
    logged_out = [
        web.get("/login"),
        web.get("/admin/feeds"),  # the redirect to the login page
        web.post("/admin/feeds/1/rotate"),  # "log in again"
        web.get("/no/such/page"),
        log_in(web, "a wrong guess"),
    ]
    assert log_in(web).status_code == 302
    logged_in = [web.get(url) for method, url in admin_routes(app) if method == "GET"]
    logged_in += [
        web.post("/admin/feeds/1/rotate", data={"confirm": "yes"}),  # no CSRF token: 400
        web.post("/logout", data={"csrf_token": csrf_token(web)}),
    ]
    assert len(logged_in) >= 8
    for response in logged_out + logged_in:
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_the_feed_page_showing_the_url_is_no_store(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db)
    page = admin.get(f"/admin/feeds/{feed.feed_id}")
    assert feed.token in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_feeds_revalidate_on_every_fetch_and_shared_caches_keep_none(
    web: FlaskClient, db: Store
) -> None:
    feed = feed_of(db)
    first = web.get(feed_path(feed))
    revalidated = web.get(feed_path(feed), headers={"If-None-Match": first.headers["ETag"]})
    assert (first.status_code, revalidated.status_code) == (200, 304)
    for response in (first, revalidated):
        cache = response.cache_control
        assert cache.private and cache.no_cache, "no shared cache; the client asks each time"
        assert not cache.public and cache.max_age is None and not cache.no_store
    db.rotate_feed_token(feed.feed_id)
    gone = web.get(feed_path(feed), headers={"If-None-Match": first.headers["ETag"]})
    assert gone.status_code == 404, "the revalidation that the header forces finds it rotated"
    assert gone.headers["Cache-Control"] == "no-store"


# -- HSTS --------------------------------------------------------------------------------------


def test_hsts_when_the_public_url_is_https(web: FlaskClient, db: Store) -> None:
    for response in (web.get("/login"), web.get(feed_path(feed_of(db))), web.get("/nowhere")):
        assert response.headers["Strict-Transport-Security"] == HSTS


def test_hsts_over_http_only_when_a_trusted_proxy_says_https(store_url: str) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    with app_with(store_url, public_url="http://127.0.0.1:8000") as local:
        assert "Strict-Transport-Security" not in local.get("/login").headers
        assert "Strict-Transport-Security" not in local.get("/login", headers=https).headers, (
            "an untrusted X-Forwarded-Proto is ignored"
        )
        secure = local.get("/login", base_url="https://localhost")
        assert secure.headers["Strict-Transport-Security"] == HSTS
    with app_with(store_url, public_url="http://127.0.0.1:8000", trusted_proxies=1) as proxied:
        assert "Strict-Transport-Security" not in proxied.get("/login").headers
        forwarded = proxied.get("/login", headers=https)
        assert forwarded.headers["Strict-Transport-Security"] == HSTS


# -- feed tokens in logs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        (f"/feeds/{TOKEN}/all.ics", "/feeds/[token]/all.ics"),
        (f"/feeds/{TOKEN}%2Fall.ics", "/feeds/[token]%2Fall.ics"),
        (f"/feeds/{TOKEN}%2fall.ics", "/feeds/[token]%2fall.ics"),
        (f'"GET /feeds/{TOKEN} HTTP/1.1" 404', '"GET /feeds/[token] HTTP/1.1" 404'),
        (f"/feeds/{TOKEN}", "/feeds/[token]"),
        (f"/feeds/{TOKEN}?refresh=1", "/feeds/[token]?refresh=1"),
        (f"/feeds/{TOKEN}junk/all.ics/more", "/feeds/[token]/all.ics/more"),
        (f"/%66eeds/{TOKEN}/all.ics", "/%66eeds/[token]/all.ics"),
        (f"/FEEDS/{TOKEN}/all.ics", "/FEEDS/[token]/all.ics"),
        (f"//feeds//{TOKEN}/all.ics", "//feeds//[token]/all.ics"),
        (f"/feeds/%5A{TOKEN[1:]}/all.ics", "/feeds/[token]/all.ics"),
        (f"/login?next=%2Ffeeds%2F{TOKEN}%2Fall.ics", "/login?next=%2Ffeeds%2F[token]%2Fall.ics"),
        (f'"https://h.example/feeds/{TOKEN}/all.ics"', '"https://h.example/feeds/[token]/all.ics"'),
        ("/admin/feeds/3/rotate", "/admin/feeds/3/rotate"),  # an id, not a token
        ("/admin/feeds/12 HTTP/1.1", "/admin/feeds/12 HTTP/1.1"),
        ("/admin/feeds", "/admin/feeds"),
    ],
)
def test_redact_feed_tokens(logged: str, expected: str) -> None:
    assert redact_feed_tokens(logged) == expected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process and everything it printed; ``ready`` once ``marker`` was printed."""

    process: subprocess.Popen[str]
    marker: str
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)
            if self.marker in line:
                self.ready.set()
        self.ready.set()  # the process ended: stop waiting (the requests will say why)

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path, marker: str) -> Iterator[Server]:
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        server = Server(process, marker)
        readers = [
            threading.Thread(target=server.read, args=(stream,), daemon=True)
            for stream in (process.stdout, process.stderr)
        ]
        for reader in readers:
            reader.start()
        try:
            assert server.ready.wait(timeout=60), "the server did not start"
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for reader in readers:
                reader.join(timeout=10)


def send_raw(port: int, target: str, referer: str) -> str:
    """One request with ``target`` exactly as written (no client re-encodes it); its status."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nReferer: {referer}\r\n"
        "User-Agent: Google-Calendar-Importer\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def spellings(feed: Feed) -> list[str]:
    token, name = feed.token, feed.slug
    return [
        f"/feeds/{token}/{name}.ics",
        f"/feeds/{token}%2F{name}.ics",
        f"/feeds/{token}%2f{name}.ics",
        f"/feeds/{token}",
        f"/feeds/{token}/",
        f"/feeds/{token}/{name}.ics?refresh=1",
        f"/feeds/{token}/{name}.ics/trailing",
        f"/feeds/{token}junk",
        f"/%66eeds/{token}/{name}.ics",
        f"//feeds//{token}/{name}.ics",
        f"/login?next=/feeds/{token}/{name}.ics",
    ]


def server_env(store_url: str, port: int) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "DATABASE_URL": store_url,
        "TRACKOPS_SUBDOMAIN": "acme",
        "BRIDGE_ADMIN_PASSWORD": PASSWORD,
        "BRIDGE_SECRET_KEY": SECRET_KEY,
        "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }


def procfile_web_command() -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise AssertionError("the Procfile has a web line")


@pytest.mark.parametrize("server", ["trackops-bridge web", "Procfile gunicorn"])
def test_no_feed_token_reaches_the_server_logs(
    server: str, store_url: str, db: Store, tmp_path: Path
) -> None:
    feed, port = feed_of(db), free_port()
    if server == "trackops-bridge web":
        command = [str(Path(sys.executable).parent / "trackops-bridge"), "web"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
        marker = "Running on"
    else:
        # The Procfile's own line, as the host runs it (exec: SIGTERM reaches gunicorn).
        command = ["sh", "-c", f"exec {procfile_web_command()}"]
        marker = "Listening at"
    referer = f"http://127.0.0.1:{port}{feed_path(feed)}"
    with running(command, server_env(store_url, port), tmp_path, marker) as process:
        answers = [send_raw(port, target, referer) for target in spellings(feed)]
    assert answers[0].endswith("200 OK"), process.output
    assert answers[1].endswith("200 OK"), "%2F for the slash still serves the feed"
    assert answers[3].split()[1] == "404"
    output = process.output
    assert feed.token not in output
    assert output.count(REDACTED) >= len(answers), "every request was logged, redacted"
    assert f"/feeds/{REDACTED}/all.ics" in output
