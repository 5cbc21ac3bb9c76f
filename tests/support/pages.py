"""The admin pages' test account: a sandbox seeded with the events the preview, events,
calendars and dashboard tests need, synced into a real SQLite store by the real sync, and
reading the rows those pages mark with data-* attributes.

Entry points: ``synced_store(folder, records)``, ``event_record(...)``, ``page_rows(html)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge.models import Privacy
from bridge.store import open_store
from bridge.sync import Syncer, SyncOptions
from tests.support.sandbox import make_client
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer

INVESTIGATOR = 120  # every seeded event is assigned to this staff member


def at(zone: str, wall: datetime, fold: int = 0) -> datetime:
    """The UTC instant of a wall time in ``zone`` (fold 1: the second of a repeated hour)."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def event_record(
    title: str, zone: str | None, start: datetime, end: datetime, **more: Any
) -> dict[str, Any]:
    """An event as Trackops holds it: UTC stamps, its zone, on calendar 2 unless told."""
    return {
        "title": title,
        "timezone": zone,
        "start_at": f"{start.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "end_at": f"{end.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "calendar_id": 2,
        "users_list": [INVESTIGATOR],
        **more,
    }


def allday_record(title: str, zone: str, first: date, last: date, **more: Any) -> dict[str, Any]:
    """Trackops' all-day convention: 00:00:00 of the first day to 23:59:59 of the last, local."""
    start = at(zone, datetime.combine(first, time(0)))
    end = at(zone, datetime.combine(last, time(23, 59, 59)))
    return event_record(title, zone, start, end, is_allday=True, **more)


def synced_store(
    folder: Path, records: list[dict[str, Any]], *, seed_events: int = 0
) -> tuple[str, list[dict[str, Any]]]:
    """A SQLite store synced from a sandbox holding ``records`` (and ``seed_events`` of its
    own seed), feeds created at full privacy; the URL and the records as Trackops made them."""
    url = f"sqlite:///{folder / 'bridge.db'}"
    options = SandboxOptions(rate_limit=None, events=seed_events, anchor=datetime.now(UTC).date())
    with SandboxServer(options) as sandbox, open_store(url) as store:
        sandbox.control.create("staff", id=INVESTIGATOR, first_name="Ngaio", last_name="Tūhoe")
        created = sandbox.control.create_events(records) if records else []
        store.migrate()
        with make_client(sandbox) as client:
            Syncer(client, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
    return url, created


class _Rows(HTMLParser):
    """Elements carrying data-uid (preview rows) or data-event-id (events page rows), each with
    its data-* attributes, the data-day of the day box it sits in, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._day = ""
        self._open: list[tuple[str, dict[str, str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if "data-day" in values:
            self._day = values["data-day"]
        row = None
        if tag in ("li", "tr") and ("data-uid" in values or "data-event-id" in values):
            row = {k.removeprefix("data-"): v for k, v in values.items() if k.startswith("data-")}
            row["day"], row["text"] = self._day, ""
            self.rows.append(row)
        if tag not in ("br", "input", "meta", "img", "wbr"):
            self._open.append((tag, row))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, row in self._open:
            if row is not None:
                row["text"] += data


def page_rows(html: str) -> list[dict[str, str]]:
    """The data-* rows of a page, with their text squeezed to single spaces."""
    parser = _Rows()
    parser.feed(html)
    for row in parser.rows:
        row["text"] = " ".join(row["text"].split())
    return parser.rows
