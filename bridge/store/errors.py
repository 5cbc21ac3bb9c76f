"""The store's errors: one small tree, each carrying the fields an operator's message needs.

The CLI and the web app turn these into advice; nothing here knows how they are shown.
"""

from __future__ import annotations

from bridge.errors import BridgeError


class StoreError(BridgeError):
    """Anything the store could not do."""


class StoreUnavailable(StoreError):
    """The database could not be reached or stayed locked; retrying later may work."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url  # rendered without the password
        self.reason = reason
        super().__init__(f"cannot use the database at {url}: {reason}")


class SchemaOutOfDate(StoreError):
    """The database schema is not the version this program was built for."""

    def __init__(self, current: int, required: int) -> None:
        self.current = current
        self.required = required
        if current < required:
            message = (
                f"the database schema is at version {current} but this trackops-bridge needs "
                f"version {required}: run `trackops-bridge migrate`"
            )
        else:
            message = (
                f"the database schema is at version {current}, newer than the version {required} "
                "this trackops-bridge knows: upgrade trackops-bridge"
            )
        super().__init__(message)


class NotFound(StoreError):
    """A write named a row that does not exist (a feed or calendar id from a stale page)."""

    def __init__(self, kind: str, key: int) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} with id {key}")
