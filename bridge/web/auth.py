"""Admin login: one password, a signed session the server can revoke, a throttle, and logout.

Entry points: the ``auth`` blueprint (``/login``, ``/logout``) and ``require_login``, installed
by the app factory in front of every view except the ones in ``PUBLIC_ENDPOINTS``: pages are
closed unless named here, so a new page can't be left open by forgetting a decorator.

A session cookie carries the store's admin session version from its login; logout bumps the
version, so a copy of the cookie taken before (a shared computer, a stolen backup) is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from bridge.config import Settings
from bridge.store import LoginAttempt, StoreError
from bridge.web.context import current_settings, current_store

bp = Blueprint("auth", __name__)

# The health checks too: a host probes them with no session (bridge.web.health).
PUBLIC_ENDPOINTS = frozenset(
    {"feeds.serve_feed", "auth.login", "health.healthz", "health.livez", "static"}
)
MAX_FAILURES = 5  # per client address, in FAILURE_WINDOW
# Across every address: a guesser with many addresses gets this many tries per window, not five
# per address. Reaching it pauses logins for everyone (the admin too) until failures age out.
MAX_FAILURES_GLOBAL = 50
FAILURE_WINDOW = timedelta(minutes=15)
_SESSION_KEY = "admin"
_VERSION_KEY = "admin_version"


def session_fingerprint(settings: Settings) -> str:
    """What a logged-in session carries: changes with the password, so changing it logs
    everyone out; reveals nothing about it without the secret key."""
    message = b"admin-session:" + settings.admin_password.encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def is_logged_in() -> bool:
    """Whether this request carries a live admin session; False when the store can't say
    (for pages and error handlers: ``require_login`` lets that store error show)."""
    try:
        return _holds_live_session()
    except StoreError:
        return False


def _holds_live_session() -> bool:
    """Raises StoreError when the store can't be read; once per request (pages ask again)."""
    if "admin_session_live" not in g:
        held, version = session.get(_SESSION_KEY), session.get(_VERSION_KEY)
        g.admin_session_live = (
            isinstance(held, str)
            and hmac.compare_digest(held, session_fingerprint(current_settings()))
            and isinstance(version, int)
            and version == current_store().admin_session_version()
        )
    live: bool = g.admin_session_live
    return live


def require_login() -> Response | tuple[str, int] | None:
    """Before every request: let public views and logged-in admins through, stop the rest."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # no route matched: let the 404/405 happen
    if _holds_live_session():
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return render_template("auth/session_ended.html"), 401


def is_local_path(target: str) -> bool:
    """Whether ``target`` is a path on this site: the only places ``next`` may send a browser.

    Browsers drop tabs and newlines and treat a backslash as a slash, so "/\\evil.example" or
    "/\t/evil.example" would leave the site: anything but a plain absolute path is refused.
    """
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _client_key() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int, dict[str, str]]:
    next_target = request.values.get("next", "")
    if not is_local_path(next_target):
        next_target = ""
    if request.method == "GET":
        if is_logged_in():
            return redirect(next_target or url_for("admin.dashboard"))
        return render_template("auth/login.html", next=next_target, error=None)

    store, client = current_store(), _client_key()
    # Counted as a failure before the password is looked at: parallel guesses can't all pass
    # the count before any of them is recorded.
    attempt = store.reserve_login_attempt(
        client,
        datetime.now(UTC),
        window=FAILURE_WINDOW,
        client_limit=MAX_FAILURES,
        global_limit=MAX_FAILURES_GLOBAL,
    )
    if not attempt.allowed:
        return _refused(attempt, next_target)
    if not _is_admin_password(request.form.get("password", ""), current_settings()):
        return (
            render_template("auth/login.html", next=next_target, error="Wrong password."),
            401,
            {},
        )

    store.clear_login_failures(client)  # the reserved failure too
    version = store.admin_session_version()
    session.clear()  # a fresh session: nothing from before the login carries over
    session[_SESSION_KEY] = session_fingerprint(current_settings())
    session[_VERSION_KEY] = version
    session.permanent = True
    return redirect(next_target or url_for("admin.dashboard"))


def _refused(attempt: LoginAttempt, next_target: str) -> tuple[str, int, dict[str, str]]:
    """The throttle's page: how long to wait, and nothing about the password given."""
    seconds = max(1, math.ceil(attempt.retry_after.total_seconds()))
    minutes = math.ceil(seconds / 60)
    wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if attempt.paused_for_everyone:
        error = (
            f"Logins are paused for {wait}: too many failed attempts from many addresses. "
            "The password was not checked."
        )
    else:
        error = f"Too many failed attempts from your address: try again in {wait}."
    page = render_template("auth/login.html", next=next_target, error=error)
    return page, 429, {"Retry-After": str(seconds)}


def _is_admin_password(given: str, settings: Settings) -> bool:
    # Digests first: compare_digest is constant-time only for inputs of equal length.
    given_digest = hashlib.sha256(given.encode()).digest()
    expected_digest = hashlib.sha256(settings.admin_password.encode()).digest()
    return hmac.compare_digest(given_digest, expected_digest)


@bp.post("/logout")
def logout() -> Response:
    # Every session, not just this one: the cookie is all a session is, so ending one means
    # refusing every cookie signed before now.
    current_store().end_admin_sessions(datetime.now(UTC))
    session.clear()
    flash("You are logged out, on every browser that was logged in.")
    return redirect(url_for("auth.login"))
