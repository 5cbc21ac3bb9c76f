"""The events page over a sandbox account synced into SQLite: each filter (title, case, calendar,
staff, dates, event id) finds exactly the events Trackops holds that match, by start, 50 a page;
times in the event's own zone and in the admin's; links to the calendar's feed and the batch
that created an event; batch pages link their event ids here; bad filters are explained."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import NewItem, Store
from tests.support.pages import INVESTIGATOR, at, event_record, page_rows, synced_store
from tests.support.sandbox import ANCHOR
from tests.support.web import make_settings

ADMIN_ZONE = "Europe/Berlin"
DEFAULT_ZONE = "America/Chicago"


def records() -> list[dict[str, Any]]:
    """Sixty events a day apart on calendars 2 and 3, in four zones, and two named ones."""
    zones = ["Asia/Kolkata", "Australia/Adelaide", "America/New_York", None]
    found = []
    for n in range(60):
        wall = datetime.combine(ANCHOR + timedelta(days=n), time(9, 30))
        zone = zones[n % 4]
        found.append(
            event_record(f"Site visit {n}", zone, at(zone or DEFAULT_ZONE, wall),
                         at(zone or DEFAULT_ZONE, wall + timedelta(hours=1)),
                         calendar_id=2 + n % 2, users_list=[INVESTIGATOR] if n % 3 else [])
        )  # fmt: skip
    late = datetime.combine(ANCHOR, time(23, 0))
    found.append(
        event_record("Deposition 100%_sure", "Pacific/Auckland", at("Pacific/Auckland", late),
                     at("Pacific/Auckland", late + timedelta(hours=2)))
    )  # fmt: skip
    return found


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict[str, Any]]]:
    return synced_store(tmp_path_factory.mktemp("events"), records(), seed_events=40)


@pytest.fixture
def store_url(synced: tuple[str, list[dict[str, Any]]], tmp_path: Path) -> str:
    copy = tmp_path / "bridge.db"
    copy.write_bytes(Path(synced[0].removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def created(synced: tuple[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return synced[1]


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(default_timezone=DEFAULT_ZONE, admin_timezone=ADMIN_ZONE)


def start_of(record: dict[str, Any]) -> datetime:
    return datetime.strptime(record["start_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def listed(admin: FlaskClient, **args: str) -> tuple[str, list[dict[str, str]], int]:
    """Every row over all pages (following the page's own Next links), the first page, status."""
    response = admin.get("/admin/events?" + urlencode(args))
    page = response.get_data(as_text=True)
    rows, next_page = page_rows(page), page
    while 'rel="next"' in next_page:
        link = next_page.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
        next_page = admin.get(link.replace("&amp;", "&")).get_data(as_text=True)
        rows += page_rows(next_page)
    return page, rows, response.status_code


def ids(rows: list[dict[str, str]]) -> list[int]:
    return [int(row["event-id"]) for row in rows]


def in_order(matching: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in sorted(matching, key=lambda r: (start_of(r), r["id"]))]


def test_every_event_once_by_start_fifty_a_page(
    admin: FlaskClient, db: Store, created: list[dict[str, Any]]
) -> None:
    page, rows, status = listed(admin)
    assert status == 200
    assert f'data-total="{db.count_events()}"' in page
    assert len(page_rows(page)) == 50
    assert len(ids(rows)) == len(set(ids(rows))) == db.count_events()
    mine = [r["id"] for r in created]
    assert set(mine) <= set(ids(rows))


def test_title_search_is_a_substring_in_any_case_with_wildcards_taken_literally(
    admin: FlaskClient, created: list[dict[str, Any]]
) -> None:
    _, rows, _ = listed(admin, title="SITE VISIT 1")
    expected = [r for r in created if r["title"].lower().startswith("site visit 1")]
    assert ids(rows) == in_order(expected)
    _, rows, _ = listed(admin, title="100%_")
    assert len(rows) == 1, "% and _ match themselves, not any text"
    assert "Deposition 100%_sure" in rows[0]["text"]
    _, rows, _ = listed(admin, title="%")
    assert ids(rows) == in_order([r for r in created if "%" in r["title"]])


def test_calendar_staff_and_dates_combine(
    admin: FlaskClient, created: list[dict[str, Any]]
) -> None:
    first, last = ANCHOR + timedelta(days=10), ANCHOR + timedelta(days=30)
    _, rows, status = listed(
        admin,
        calendar="3",
        staff=str(INVESTIGATOR),
        **{"from": first.isoformat(), "to": last.isoformat()},
    )
    assert status == 200
    berlin = ZoneInfo(ADMIN_ZONE)  # dates are the admin's days, "to" included
    expected = [
        r
        for r in created
        if r["calendar_id"] == 3
        and INVESTIGATOR in r["users_list"]
        and first <= start_of(r).astimezone(berlin).date() <= last
    ]
    assert expected and ids(rows) == in_order(expected)


def test_case_search_matches_the_cases_number(admin: FlaskClient, db: Store) -> None:
    case = next(c for c in db.list_cases() if c.case_number)
    _, rows, _ = listed(admin, case=case.case_number)
    found = {db.get_event(i).case_id for i in ids(rows)}  # type: ignore[union-attr]
    with_number = {c.case_id for c in db.list_cases() if case.case_number in c.case_number}
    assert found and found <= with_number
    every = {
        e.event_id
        for e in map(db.get_event, ids(listed(admin)[1]))
        if e and e.case_id in with_number
    }
    assert set(ids(rows)) == every, "every event of a matching case, and only those"


def test_times_in_the_events_zone_and_the_admins(
    admin: FlaskClient, created: list[dict[str, Any]]
) -> None:
    _, rows, _ = listed(admin, title="Site visit")
    by_id = {int(row["event-id"]): row for row in rows}
    for record in created[:8]:
        row = by_id[record["id"]]
        zone = record["timezone"] or DEFAULT_ZONE  # calendars 2 and 3 have no zone of their own
        start = start_of(record)
        assert row["zone"] == zone
        assert (
            row["start-local"] == start.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat()
        )
        viewer = start.astimezone(ZoneInfo(ADMIN_ZONE)).replace(tzinfo=None).isoformat()
        assert row["start-viewer"] == viewer
        assert "09:30" in row["text"], "its own wall time"


def test_links_to_the_calendars_feed_and_the_batch(
    admin: FlaskClient, db: Store, created: list[dict[str, Any]]
) -> None:
    record = created[0]
    event = db.get_event(record["id"])
    assert event is not None
    queued = db.queue_batch(
        batch_key="k" * 64, source="form", label="Site visit 0", total=1, ready=1, invalid=0,
        items=[NewItem(row=None, where="Form entry", idempotency_key="i" * 64,
                       title=event.title, body={})],
        at=datetime.now(UTC),
    )  # fmt: skip
    item = db.claim_next_item(datetime.now(UTC))
    assert item is not None
    db.mark_item_sent(item.item_id, event, datetime.now(UTC))
    page = admin.get(f"/admin/events?event={record['id']}").get_data(as_text=True)
    (row,) = page_rows(page)
    assert row["batch"] == str(queued.batch.batch_id)
    assert f'href="/admin/batches/{queued.batch.batch_id}"' in page
    feed = next(f for f in db.list_feeds() if f.target_id == 2 and f.kind.value == "calendar")
    assert f'href="/admin/feeds/{feed.feed_id}"' in page
    batch_page = admin.get(f"/admin/batches/{queued.batch.batch_id}").get_data(as_text=True)
    assert f'href="/admin/events?event={record["id"]}"' in batch_page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"from": "12/07/2026"}, "'12/07/2026' is not a date: write it as 2026-12-07."),
        ({"calendar": "two"}, "Choose a calendar from the list."),
        ({"event": "x1"}, "An event id is a number."),
    ],
)
def test_bad_filters_are_explained_and_kept(
    admin: FlaskClient, args: dict[str, str], message: str
) -> None:
    page, _, status = listed(admin, **args)
    assert status == 400
    assert message.replace("'", "&#39;") in page
    if "from" in args:
        assert 'value="12/07/2026"' in page, "what was typed stays in the form"
