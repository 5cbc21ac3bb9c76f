"""The browser suite's parts: the real bridge (sandbox, release, worker, gunicorn web on a free
port, one SQLite file) and Debian's Chromium driven by Playwright, both once per session.

Fixtures (loaded for every test through conftest's `pytest_plugins`, started only when used):
`live_bridge` (the running processes), `browser` (one Chromium), `admin_page` (the one logged-in
tab the tests share, its console watched) and `expect_console`. `check_layout` is the 390 px /
1280 px check; its screenshots go to $BRIDGE_SCREENSHOTS, else var/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from bridge.store import Store, open_store
from tests.support.processes import (
    REPO,
    Process,
    base_env,
    free_port,
    sandbox_process,
    started,
    wait_for,
)

# Debian's package (`make browser` installs it); Playwright's own browser downloads are never used.
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "browser-suite-admin-password"
SECRET_KEY = "b" * 24 + "-browser-suite-secret-key"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# Playwright waits this long (ms) for a page or an element: a loaded 2-core machine is slow.
TIMEOUT_MS = 20_000


@dataclass
class LiveBridge:
    """The bridge as deployed, for one test session: what a browser and a test can reach."""

    url: str
    database_url: str
    worker: Process
    web: Process

    def store(self) -> Store:
        """A handle on the app's database, as a second reader (close it)."""
        return open_store(self.database_url)


def _procfile(kind: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{kind}:"):
            return line.removeprefix(f"{kind}:").strip()
    raise AssertionError(f"the Procfile has a {kind} line")


@pytest.fixture(scope="session")
def live_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBridge]:
    """Sandbox, release (migrate), worker and gunicorn web, each its own process, as the
    Procfile runs them, sharing one SQLite file; ready once the worker's first sync is in."""
    root = tmp_path_factory.mktemp("live-bridge")
    database_url = f"sqlite:///{root / 'bridge.db'}"
    port = free_port()
    # The worker under the sandbox's limit (as the lease tests do); polls every 2 s, and each
    # pass sends the outbox first, so a confirmed batch goes within seconds.
    with sandbox_process(root, events=120, rate_limit=10) as sandbox:
        shared = {
            "DATABASE_URL": database_url,
            "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BRIDGE_DEFAULT_TIMEZONE": "America/Chicago",
            "TRACKOPS_SUBDOMAIN": "acme",
        }
        release = subprocess.run(
            ["sh", "-c", f"exec {_procfile('release')}"],
            cwd=root,
            env=base_env(**shared),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert release.returncode == 0, release.stdout + release.stderr
        worker_env = base_env(
            **shared,
            **sandbox.client_env(),
            TRACKOPS_RATE_LIMIT="6",
            BRIDGE_POLL_INTERVAL="2",
        )
        web_env = base_env(
            **shared,
            PORT=str(port),
            WEB_CONCURRENCY="2",
            BRIDGE_ADMIN_PASSWORD=PASSWORD,
            BRIDGE_SECRET_KEY=SECRET_KEY,
        )
        with (
            started(["sh", "-c", f"exec {_procfile('worker')}"], worker_env, root) as worker,
            started(["sh", "-c", f"exec {_procfile('web')}"], web_env, root) as web,
            open_store(database_url) as store,
        ):
            web.wait_for_line("Listening at")
            wait_for(lambda: store.get_sync_state().last_success_at, "the worker's first sync")
            wait_for(lambda: store.render_sizes(), "the worker's first renders")
            yield LiveBridge(f"http://127.0.0.1:{port}", database_url, worker, web)
            # SIGTERM, as a host stops them: gunicorn stops its workers (a SIGKILL of its master
            # would leave them holding the output pipe a while), the worker its lease.
            web.terminate()
            worker.terminate()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (as root)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI runs `make test` as root: a missing browser is a bug
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(executable_path=str(CHROMIUM))
    yield launched
    launched.close()


@dataclass
class Console:
    """Every console error and uncaught exception of the pages it watches."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"{message.text} ({message.location.get('url', '')})")

    def take(self, *expected: str) -> list[str]:
        """The problems since the last take, less one containing each of `expected` (a page
        answered 400 on purpose: Chromium logs that its document "failed to load"); each of
        `expected` must be among them."""
        found, self.problems[:] = list(self.problems), []
        for text in expected:
            match = next((problem for problem in found if text in problem), None)
            assert match is not None, f"expected a console line with {text!r}, got {found}"
            found.remove(match)
        return found


def log_in(page: Page, bridge_url: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person does; lands on the dashboard."""
    page.goto(bridge_url + "/")
    page.get_by_label("Admin password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(bridge_url + "/")


@dataclass
class Session:
    """The shared logged-in tab and the console it watches."""

    page: Page
    console: Console
    expected: list[str] = field(default_factory=list)  # this test's deliberate 4xx pages


@pytest.fixture(scope="session")
def admin_session(browser: Browser, live_bridge: LiveBridge) -> Iterator[Session]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_bridge.url)
    page = context.new_page()
    console = Console()
    console.watch(page)
    log_in(page, live_bridge.url)
    yield Session(page, console)
    context.close()


@pytest.fixture
def admin_page(admin_session: Session) -> Iterator[Page]:
    """The logged-in tab, back at desktop width; the test fails on any console error in it
    but those it announced with `expect_console`."""
    admin_session.console.take()
    admin_session.expected.clear()
    page = admin_session.page
    page.set_viewport_size(DESKTOP)
    yield page
    assert admin_session.console.take(*admin_session.expected) == []


@pytest.fixture
def expect_console(admin_session: Session) -> Callable[[str], None]:
    """Announce a console error the test causes on purpose (a form answered 400)."""
    return admin_session.expected.append


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("BRIDGE_SCREENSHOTS") or REPO / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def check_layout(page: Page, name: str) -> dict[str, int]:
    """The page at 390 px and at 1280 px: no sideways scrolling at either; a full-page
    screenshot of each. Returns the document's width at each, for the failure message."""
    widths = {}
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        widths[f"{size['width']}"] = width
        page.screenshot(
            path=screenshot_dir() / f"{_slug(name)}-{size['width']}.png", full_page=True
        )
        assert width <= size["width"], f"{name} is {width} px wide at a {size['width']} px viewport"
    return widths
