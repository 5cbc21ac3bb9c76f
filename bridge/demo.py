"""The single-process demo: sandbox, worker thread and web app on 127.0.0.1, SQLite on disk.

Entry point: `run_demo()`, behind `trackops-bridge demo` and `make demo`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from bridge.config import Settings
from bridge.sandbox.app import SandboxOptions
from bridge.sandbox.server import SandboxServer
from bridge.store import Store, open_store

DEMO_DIR = Path("var/demo")


def demo_settings(base_url: str, options: SandboxOptions, port: int, password: str) -> Settings:
    return Settings(
        trackops_base_url=base_url,
        trackops_subdomain="sandbox",  # names the account in feed UIDs, as a real one would
        trackops_username=options.username,
        trackops_api_token=options.token,
        database_url=f"sqlite:///{DEMO_DIR / 'bridge.db'}",
        public_url=f"http://127.0.0.1:{port}",
        admin_password=password,
        secret_key=secrets.token_urlsafe(48),
        poll_interval=15.0,
        reconcile_interval=120.0,
        reference_interval=300.0,
        default_timezone="America/Chicago",
    )


def run_demo(*, port: int, events: int, echo: Callable[[str], None]) -> None:
    """Start everything, do the first sync in the foreground, print where to look, serve."""
    from bridge.cli import build_worker, open_current_store
    from bridge.web import create_app

    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    options = SandboxOptions(events=events, rate_limit=1.0)
    with SandboxServer(options) as sandbox:
        # A fresh password each run, printed below: the demo only listens on 127.0.0.1.
        settings = demo_settings(sandbox.base_url, options, port, secrets.token_urlsafe(9))
        echo(f"Simulated Trackops API: {sandbox.base_url} (1 request/s, {events} events)")
        with open_store(settings.database_url) as store:
            store.migrate()
        with open_current_store(settings) as store:
            stop = threading.Event()
            worker = build_worker(settings, store, stop)
            echo("First sync (Trackops allows one request per second; a few seconds)...")
            worker.run_once()
            # Trackops' API has no calendar names; name them as an admin would on the
            # calendars page, so the demo reads like a firm's setup.
            for calendar_id, name in sandbox.control.calendars().items():
                if store.get_calendar(calendar_id) is not None:
                    store.rename_calendar(calendar_id, name)
            thread = threading.Thread(target=worker.run, name="worker", daemon=True)
            thread.start()
            _print_where_to_look(settings, store, echo)
            try:
                create_app(settings).run(host="127.0.0.1", port=port, threaded=True)
            finally:
                stop.set()
                thread.join(timeout=10)


def _print_where_to_look(settings: Settings, store: Store, echo: Callable[[str], None]) -> None:
    from bridge.web.feeds import feed_url

    feeds = store.list_feeds()
    echo("")
    echo(f"Admin pages: {settings.public_url}/   password: {settings.admin_password}")
    echo("Feed URLs (subscribe from a calendar client on this machine):")
    for feed in feeds[:8]:
        echo(f"  {feed.name:<28} {feed_url(settings.public_url, feed)}")
    if len(feeds) > 8:
        echo(f"  ... and {len(feeds) - 8} more on the admin pages")
    echo("Ctrl-C stops the demo.")
