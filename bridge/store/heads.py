"""The feed fetch's one small read: a feed by its token and the head of its stored render.

Entry point: ``HeadReader.read(token)``. It runs on every subscriber request, so it skips
SQLAlchemy's statement and result machinery (a quarter of a request's time around one SELECT):
one plain DBAPI query, on a connection each thread keeps, in autocommit so every read sees the
latest commit (a rotated token or a new render shows at once, in every process). The body is
read apart, and only by a process that does not hold it yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from bridge.errors import StoreUnavailable
from bridge.models import FeedKind, Privacy
from bridge.store.engine import describe_url
from bridge.store.rows import FeedHead

# The render's head columns sit before its body (migration 8), so on SQLite reading them never
# walks the body's overflow pages.
_QUERY = (
    "SELECT f.feed_id, f.kind, f.target_id, f.token, f.version, f.privacy,"
    " r.etag, r.version, r.privacy"
    " FROM feeds f LEFT JOIN feed_renders r ON r.feed_id = f.feed_id"
    " WHERE f.token_sha256 = {}"
)
_PRIVACIES = {privacy.value: privacy for privacy in Privacy}
_KINDS = {kind.value: kind for kind in FeedKind}


class HeadReader:
    """Reads feed heads on one DBAPI connection per thread, taken from (and detached from) the
    engine's pool, so it is set up as every other connection of the store is."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._query = _QUERY.format(marker)
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def read(self, token: str) -> FeedHead | None:
        """The feed whose token this is, confirmed in constant time, with its render's head."""
        if not token.isascii():
            return None  # tokens are URL-safe base64: no need to look further
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        row = self._fetch(digest)
        if row is None or not hmac.compare_digest(row[3].encode(), token.encode()):
            return None
        feed_id, kind, target_id, stored_token, version, privacy, etag, rendered, shows = row
        return FeedHead(
            feed_id=feed_id,
            kind=_KINDS[kind],
            target_id=target_id,
            token=stored_token,
            version=version,
            privacy=_PRIVACIES[privacy],
            render_etag=etag,
            render_version=rendered,
            render_privacy=_PRIVACIES.get(shows) if shows else None,
        )

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            # Closing at shutdown (perhaps from another thread than its own): nothing to tell.
            with contextlib.suppress(Exception):
                connection.close()

    def _fetch(self, digest: str) -> tuple[Any, ...] | None:
        for attempt in (1, 2):
            connection = self._connection()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(self._query, (digest,))
                    row: tuple[Any, ...] | None = cursor.fetchone()
                finally:
                    cursor.close()
                return row
            except self._engine.dialect.loaded_dbapi.Error as error:
                # A connection the server dropped (a restart) is replaced once; a database
                # that is really down says so as every store call does.
                self._forget(connection)
                if attempt == 2 or not isinstance(
                    error, self._engine.dialect.loaded_dbapi.OperationalError
                ):
                    raise StoreUnavailable(describe_url(self._engine), str(error)) from error
        raise AssertionError("unreachable")

    def _connection(self) -> Any:
        connection: Any = getattr(self._local, "connection", None)
        if connection is None:
            try:
                fairy = self._engine.raw_connection()
            except DBAPIError as error:
                raise StoreUnavailable(describe_url(self._engine), str(error.orig)) from error
            connection = fairy.driver_connection
            fairy.detach()  # kept by this thread, outside the pool's count
            if self._engine.dialect.name == "postgresql":
                connection.autocommit = True
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _forget(self, connection: Any) -> None:
        self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        with contextlib.suppress(Exception):  # it is being dropped because it failed
            connection.close()
