"""`SandboxControl`: the Python face of the sandbox's /_sandbox harness API, for tests and the demo.

Records go in as API-shaped dicts (timestamps as "YYYY-MM-DD HH:MM:SS" or ISO 8601 strings) and
come back in the documented shape, whatever variant the API is serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import httpx

Record = dict[str, Any]


class SandboxControl:
    """Drives one sandbox's harness API at `root_url` (e.g. "http://127.0.0.1:54321")."""

    def __init__(self, root_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=root_url.rstrip("/") + "/_sandbox", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    # -- records ----------------------------------------------------------------------------------

    def create_event(self, **fields: Any) -> Record:
        """Add an event as-is (no validation); id, stamps and times default sensibly."""
        record: Record = self._send("POST", "/events", fields)
        return record

    def create_events(self, records: list[Record]) -> list[Record]:
        created: list[Record] = self._send("POST", "/events", records)
        return created

    def patch_event(self, event_id: int, **fields: Any) -> Record:
        """Change fields; updated_at moves to the server clock's now unless given."""
        return self.patch("events", event_id, **fields)

    def delete_event(self, event_id: int) -> None:
        self.delete("events", event_id)

    def get_event(self, event_id: int) -> Record:
        return self.get("events", event_id)

    def create(self, kind: str, **fields: Any) -> Record:
        """Add a record of `kind` ("events", "cases", "subjects" or "staff")."""
        record: Record = self._send("POST", f"/{kind}", fields)
        return record

    def get(self, kind: str, record_id: int) -> Record:
        record: Record = self._send("GET", f"/{kind}/{record_id}")
        return record

    def patch(self, kind: str, record_id: int, **fields: Any) -> Record:
        record: Record = self._send("PATCH", f"/{kind}/{record_id}", fields)
        return record

    def delete(self, kind: str, record_id: int) -> None:
        self._send("DELETE", f"/{kind}/{record_id}")

    def calendars(self) -> dict[int, str]:
        """Calendar id -> name of the seed data (Trackops itself never lists calendars)."""
        names: dict[str, str] = self._send("GET", "/calendars")
        return {int(key): name for key, name in names.items()}

    # -- switches, faults, limits -----------------------------------------------------------------

    def set_variants(self, **switches: str) -> dict[str, str]:
        """Switch wrap / timestamps / fields / errors / retry_after; returns all switches."""
        current: dict[str, str] = self._send("POST", "/variants", switches)
        return current

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        *,
        path_prefix: str | None = None,
        seconds: float | None = None,
        status: int | None = None,
        after: int = 0,
        records: int | None = None,
        event_ids: Sequence[int] = (),
        query_contains: str | None = None,
    ) -> None:
        """Serve `kind` to the next `count` API requests (whose path starts with path_prefix),
        once `after` matching requests went by untouched."""
        body: dict[str, Any] = {"kind": kind, "count": count, "path_prefix": path_prefix}
        if seconds is not None:
            body["seconds"] = seconds
        if status is not None:
            body["status"] = status
        if after:
            body["after"] = after
        if records is not None:
            body["records"] = records
        if event_ids:
            body["event_ids"] = list(event_ids)
        if query_contains is not None:
            body["query_contains"] = query_contains
        self._send("POST", "/faults", body)

    def faults(self) -> list[dict[str, Any]]:
        pending: list[dict[str, Any]] = self._send("GET", "/faults")
        return pending

    def clear_faults(self) -> None:
        self._send("POST", "/faults/clear")

    def set_rate_limit(self, rate_limit: float | None) -> None:
        """Requests per second per account; None or 0 switches the limit off."""
        self._send("POST", "/rate_limit", {"rate_limit": rate_limit})

    def set_clock(self, offset_seconds: float | None = None, *, now: str | None = None) -> str:
        """Move the server clock used for created/updated stamps, by an offset from real time or
        to read `now` (a timestamp) at this moment; it keeps running. Returns its "now"."""
        body = {"now": now} if now is not None else {"offset_seconds": offset_seconds or 0}
        current: str = self._send("POST", "/clock", body)["now"]
        return current

    def now(self) -> str:
        """The server clock, "YYYY-MM-DD HH:MM:SS" UTC."""
        now: str = self._send("GET", "/clock")["now"]
        return now

    # -- log and reset ----------------------------------------------------------------------------

    def requests(self) -> dict[str, Any]:
        """The API request log: {"requests": [{method, path, query, status, time, monotonic,
        fault}, ...], "counts": {"total", "rate_limited", "by_status"}}."""
        log: dict[str, Any] = self._send("GET", "/requests")
        return log

    def clear_requests(self) -> None:
        self._send("POST", "/requests/clear")

    def reset(self) -> None:
        """Seed data, default switches and rate, no faults, empty log, clock offset 0."""
        self._send("POST", "/reset")
