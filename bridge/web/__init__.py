"""The web app: public .ics feeds and the admin pages behind a login.

Entry points: ``create_app(settings)`` (the CLI's ``web`` and ``demo``, tests) and
``create_app_from_env()`` for gunicorn: ``gunicorn 'bridge.web:create_app_from_env()'``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from bridge.config import Settings, load_settings
from bridge.errors import BridgeError
from bridge.store import StoreError, open_store
from bridge.web import admin, auth, events_page, feed_serving, health, submit, webhooks
from bridge.web.context import app_context_of, attach, current_settings
from bridge.web.display import register_filters
from bridge.web.error_pages import install_error_handlers
from bridge.web.logs import install_token_filter

__all__ = ["app_context_of", "create_app", "create_app_from_env"]

SESSION_LIFETIME = timedelta(hours=12)
# A year, the usual HSTS span; no includeSubDomains: the firm's other hosts are not ours to pin.
HSTS = "max-age=31536000"


def create_app(settings: Settings, *, store_url: str | None = None) -> Flask:
    """The app, serving from the store at ``store_url`` (default: settings.database_url).

    Raises ConfigError when the admin password or secret key is unusable, and StoreError when
    the database can't be reached or its schema is not current. The app holds one Store; close
    it with ``app_context_of(app).store.close()`` when the app is done.
    """
    settings.require_admin()
    store = open_store(store_url or settings.database_url)
    try:
        store.require_current_schema()
    except StoreError:
        store.close()
        raise

    # static/: the stylesheet and the favicon, public (the login page needs them too).
    app = Flask(__name__, static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="bridge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlsplit(settings.public_url).scheme == "https",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # A CSRF token lives as long as the session, not flask-wtf's default hour: a login
        # page left open over lunch should still work.
        WTF_CSRF_TIME_LIMIT=None,
        # Uploads are the only large bodies; anything bigger gets submit's "too large" page.
        MAX_CONTENT_LENGTH=submit.MAX_REQUEST_BYTES,
    )
    attach(app, settings, store)
    # Before CSRFProtect: a logged-out POST is answered "log in", not "bad form token".
    app.before_request(auth.require_login)
    CSRFProtect(app)
    blueprints = (
        *(feed_serving.bp, auth.bp, admin.bp, events_page.bp, submit.bp, health.bp),
        webhooks.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    install_error_handlers(app)
    register_filters(app)
    install_token_filter(app)
    app.context_processor(lambda: {"is_logged_in": auth.is_logged_in, "csp_nonce": _csp_nonce})
    app.after_request(_add_security_headers)
    if settings.trusted_proxies:
        # Behind a router (a Procfile host, nginx) every request comes from the proxy; the
        # login throttle must key on the client it forwards, not lock everyone out together.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    return app


def create_app_from_env() -> Flask:
    """For gunicorn: settings from the environment; a bad one stops start-up with one line."""
    try:
        app = create_app(load_settings())
    except BridgeError as error:
        # gunicorn prints an AppImportError's message alone and halts, instead of printing
        # a traceback and booting worker after worker.
        from gunicorn.errors import AppImportError

        raise AppImportError(error.describe()) from None
    compile_templates(app)
    return app


def compile_templates(app: Flask) -> None:
    """Compile every page template now, at start-up: Jinja compiles one on its first use, and
    all of them cost about 0.2 s, which the first person to open each page would wait for."""
    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)


def _csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


def _add_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # request.is_secure is the scheme the trusted proxy reports (ProxyFix); a plain-http hop
    # behind an https address counts too. Browsers ignore the header over plain http anyway.
    if request.is_secure or urlsplit(current_settings().public_url).scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    # Admin pages show feed URLs, CSRF tokens and the sync state: no cache, shared or the
    # browser's, keeps them. Feeds set their own (see feeds.CACHE_CONTROL).
    response.headers.setdefault("Cache-Control", "no-store")
    # same-origin, not no-referrer: flask-wtf checks the Referer of HTTPS form posts.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        script = f"'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'none'; script-src {script}; style-src 'self'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response
