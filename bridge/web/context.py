"""What every view reaches through the running app: its settings and its store.

One Store per app, shared by every request and thread: a SQLAlchemy engine is a thread-safe
connection pool, and each store call is its own short transaction. Opening a store per request
would build (and test-connect) a new engine for every feed fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from bridge.config import Settings
from bridge.store import Store

_EXTENSION = "trackops_bridge"


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store


def attach(app: Flask, settings: Settings, store: Store) -> None:
    app.extensions[_EXTENSION] = AppContext(settings, store)


def app_context_of(app: Flask) -> AppContext:
    """The settings and store of ``app``: the CLI and tests use it to close the store."""
    context: AppContext = app.extensions[_EXTENSION]
    return context


def current_store() -> Store:
    return app_context_of(current_app).store


def current_settings() -> Settings:
    return app_context_of(current_app).settings
