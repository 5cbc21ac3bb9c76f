"""The single-process demo: sandbox, worker thread and web app on 127.0.0.1, SQLite on disk.

Entry point: `run_demo()`, behind `trackops-bridge demo` and `make demo`. Before anything else
it makes sure the web port is free (else it names a free one) and that no other demo uses
./var/demo/. The simulated Trackops lives in memory and is generated afresh each run, so the
demo's database starts afresh too, and says so: a mirror and batches from an earlier run would
disagree with it. It writes ./var/demo/demo.env, which points the CLI at the demo's data.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shlex
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bridge.assembly import build_worker, open_current_store
from bridge.config import Settings
from bridge.errors import DemoError
from bridge.logs import configure_logging
from bridge.store import Store
from bridge.web import create_app
from bridge.web.feed_urls import feed_url

if TYPE_CHECKING:
    from trackops_sandbox import SandboxOptions

DEMO_DIR = Path("var/demo")
HOST = "127.0.0.1"
# What the login page says about the password while the demo serves it.
LOGIN_HINT = (
    "This is the demo: its password is printed in the terminal where you started it, on the "
    "line “Admin pages: … password: …”. Each run has a new one."
)


def require_sandbox() -> ModuleType:
    """The simulated Trackops API, a development tool the product wheel leaves out."""
    try:
        import trackops_sandbox
    except ImportError:
        raise DemoError(
            "the demo and `trackops-bridge sandbox` need the simulated Trackops API, which is "
            "not installed here; from a checkout of this repository run: "
            "pip install -e ./trackops_sandbox -e '.[demo]'  (make demo does it for you)"
        ) from None
    return trackops_sandbox


def demo_settings(base_url: str, options: SandboxOptions, port: int, password: str) -> Settings:
    return Settings(
        trackops_base_url=base_url,
        trackops_subdomain="sandbox",  # names the account in feed UIDs, as a real one would
        trackops_username=options.username,
        trackops_api_token=options.token,
        database_url=f"sqlite:///{(DEMO_DIR / 'bridge.db').resolve()}",
        public_url=f"http://{HOST}:{port}",
        admin_password=password,
        secret_key=secrets.token_urlsafe(48),
        poll_interval=15.0,
        reconcile_interval=120.0,
        reference_interval=300.0,
        default_timezone="America/Chicago",
        webhooks_allow_private=True,  # a receiver tried beside the demo runs on this machine
    )


def require_free_port(port: int) -> None:
    """Raise DemoError, naming a free port to use, if something listens on `port` already."""
    if _can_listen(port):
        return
    free = next((p for p in range(port + 1, port + 100) if _can_listen(p)), None)
    instead = (
        f"`make demo PORT={free}` (or `trackops-bridge demo --port {free}`)"
        if free
        else "`make demo PORT=<a free port>` (or `trackops-bridge demo --port <port>`)"
    )
    raise DemoError(
        f"port {port} on {HOST} is already in use (another demo or server answers there, so "
        f"its login would not be this demo's)",
        advice=f"stop that server, or run {instead}",
    )


def _can_listen(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As werkzeug's server binds: a port left in TIME_WAIT by a stopped demo is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


@contextmanager
def _demo_folder_lock() -> Iterator[None]:
    """Hold ./var/demo/ for this demo: a second one would wipe the first one's database."""
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    with (DEMO_DIR / "demo.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            running = handle.read().strip() or "another demo"
            raise DemoError(
                f"{running} is using {DEMO_DIR}/ already",
                advice="stop it (Ctrl-C in its terminal) before starting another",
            ) from None
        handle.truncate(0)
        handle.write(f"the demo of pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_clean() -> None:
    """Remove an earlier run's database (and its WAL files and outbox lock)."""
    database = DEMO_DIR / "bridge.db"
    for suffix in ("", "-wal", "-shm", ".outbox-lock"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)


def write_cli_env(settings: Settings) -> Path:
    """Write the settings the CLI needs to read the demo's data, as lines a shell can source
    (and a .env reader can read); returns the file."""
    values = {
        "DATABASE_URL": settings.database_url,
        "TRACKOPS_BASE_URL": settings.trackops_base_url,
        "TRACKOPS_USERNAME": settings.trackops_username,
        "TRACKOPS_API_TOKEN": settings.trackops_api_token,  # the sandbox's public demo token
        "TRACKOPS_RATE_LIMIT": str(settings.trackops_rate_limit),
        "BRIDGE_PUBLIC_URL": settings.public_url,
        "BRIDGE_DEFAULT_TIMEZONE": settings.default_timezone,
        "BRIDGE_WEBHOOKS_ALLOW_PRIVATE": "1" if settings.webhooks_allow_private else "0",
    }
    path = DEMO_DIR / "demo.env"
    lines = ["# Written by `trackops-bridge demo`: `. var/demo/demo.env` points the CLI at it."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_demo(*, port: int, events: int, echo: Callable[[str], None]) -> None:
    """Check the port, start everything, do the first sync in the foreground, print where to
    look, serve."""
    require_free_port(port)
    with _demo_folder_lock():
        _start_clean()
        _serve(port=port, events=events, echo=echo)


def _serve(*, port: int, events: int, echo: Callable[[str], None]) -> None:
    sandbox_package = require_sandbox()
    options = sandbox_package.SandboxOptions(events=events, rate_limit=1.0)
    with sandbox_package.SandboxServer(options) as sandbox:
        # A fresh password each run, printed below: the demo only listens on 127.0.0.1.
        settings = demo_settings(sandbox.base_url, options, port, secrets.token_urlsafe(9))
        configure_logging(settings, to_stdout=True)
        echo(f"Simulated Trackops API: {sandbox.base_url} (1 request/s, {events} events)")
        echo(
            f"Starting from a clean slate: the simulated Trackops is generated afresh each run, "
            f"so the demo's database ({DEMO_DIR / 'bridge.db'}) is new too."
        )
        with open_current_store(settings) as store:
            stop = threading.Event()
            worker = build_worker(settings, store, stop)
            echo("First sync (Trackops allows one request per second; a few seconds)...")
            worker.take_lease()
            worker.run_once()
            # Trackops' API has no calendar names; name them as an admin would on the
            # calendars page, so the demo reads like a firm's setup.
            for calendar_id, name in sandbox.control.calendars().items():
                if store.get_calendar(calendar_id) is not None:
                    store.rename_calendar(calendar_id, name)
            thread = threading.Thread(target=worker.run, name="worker", daemon=True)
            thread.start()
            app = create_app(settings)
            app.config["BRIDGE_LOGIN_HINT"] = LOGIN_HINT
            _print_where_to_look(settings, store, write_cli_env(settings), echo)
            try:
                app.run(host=HOST, port=port, threaded=True)
            except OSError as error:  # taken in the seconds since the check
                raise DemoError(f"cannot listen on {HOST}:{port}: {error.strerror}") from None
            finally:
                stop.set()
                thread.join(timeout=10)


def _print_where_to_look(
    settings: Settings, store: Store, env_file: Path, echo: Callable[[str], None]
) -> None:
    feeds = store.list_feeds()
    echo("")
    echo(f"Admin pages: {settings.public_url}/   password: {settings.admin_password}")
    echo("Feed URLs (subscribe from a calendar client on this machine):")
    for feed in feeds[:8]:
        echo(f"  {feed.name:<28} {feed_url(settings.public_url, feed)}")
    if len(feeds) > 8:
        echo(f"  ... and {len(feeds) - 8} more on the admin pages")
    echo(f"The CLI on the demo's data, in another terminal: . {env_file}")
    echo("  then e.g. .venv/bin/trackops-bridge status")
    echo("Ctrl-C stops the demo.")
