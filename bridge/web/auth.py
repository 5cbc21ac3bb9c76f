"""Admin login: one password, a signed session, a per-address throttle, and logout.

Entry points: the ``auth`` blueprint (``/login``, ``/logout``) and ``require_login``, installed
by the app factory in front of every view except the ones in ``PUBLIC_ENDPOINTS``: pages are
closed unless named here, so a new page can't be left open by forgetting a decorator.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from bridge.config import Settings
from bridge.web.context import current_settings, current_store

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"feeds.serve_feed", "auth.login"})
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
_SESSION_KEY = "admin"


def session_fingerprint(settings: Settings) -> str:
    """What a logged-in session carries: changes with the password, so changing it logs
    everyone out; reveals nothing about it without the secret key."""
    message = b"admin-session:" + settings.admin_password.encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def is_logged_in() -> bool:
    held = session.get(_SESSION_KEY)
    return isinstance(held, str) and hmac.compare_digest(
        held, session_fingerprint(current_settings())
    )


def require_login() -> Response | tuple[str, int] | None:
    """Before every request: let public views and logged-in admins through, stop the rest."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None  # no route matched: let the 404/405 happen
    if is_logged_in():
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return render_template("session_ended.html"), 401


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
        return render_template("login.html", next=next_target, error=None)

    store, now = current_store(), datetime.now(UTC)
    client = _client_key()
    if store.count_login_failures(client, since=now - FAILURE_WINDOW) >= MAX_FAILURES:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        error = f"Too many failed attempts from your address: try again in {minutes} minutes."
        retry = {"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))}
        return render_template("login.html", next=next_target, error=error), 429, retry
    if not _is_admin_password(request.form.get("password", ""), current_settings()):
        store.record_login_failure(client, now)
        return render_template("login.html", next=next_target, error="Wrong password."), 401, {}

    store.clear_login_failures(client)
    session.clear()  # a fresh session: nothing from before the login carries over
    session[_SESSION_KEY] = session_fingerprint(current_settings())
    session.permanent = True
    return redirect(next_target or url_for("admin.dashboard"))


def _is_admin_password(given: str, settings: Settings) -> bool:
    # Digests first: compare_digest is constant-time only for inputs of equal length.
    given_digest = hashlib.sha256(given.encode()).digest()
    expected_digest = hashlib.sha256(settings.admin_password.encode()).digest()
    return hmac.compare_digest(given_digest, expected_digest)


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
