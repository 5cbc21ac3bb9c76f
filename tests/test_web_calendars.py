"""The calendars page over a synced sandbox account: each calendar with its feed and event count;
renaming and zoning one takes what the event form takes (IANA names in any case, Windows
names), changes its feed at once, and a mistake re-shows the form with the validator's advice."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import FeedKind
from bridge.store import Store
from bridge.web.feed_urls import feed_path
from tests.support.pages import page_rows, synced_store
from tests.support.web import csrf_token, make_settings


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> str:
    return synced_store(tmp_path_factory.mktemp("calendars"), [], seed_events=80)[0]


@pytest.fixture
def store_url(synced: str, tmp_path: Path) -> str:
    copy = tmp_path / "bridge.db"
    copy.write_bytes(Path(synced.removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(default_timezone="America/Chicago")


def calendar_rows(admin: FlaskClient) -> dict[int, dict[str, str]]:
    page = admin.get("/admin/calendars").get_data(as_text=True)
    # The rows carry data-calendar-id; page_rows reads rows marked by an event id or UID.
    rows = page_rows(page.replace("<tr data-calendar-id=", "<tr data-event-id data-calendar-id="))
    return {int(row["calendar-id"]): row for row in rows}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def save(admin: FlaskClient, calendar_id: int, **fields: str) -> Any:
    token = csrf_token(admin, "/admin/calendars")
    return admin.post(f"/admin/calendars/{calendar_id}", data={"csrf_token": token, **fields})


def test_each_calendar_with_its_feed_and_event_count(admin: FlaskClient, db: Store) -> None:
    rows = calendar_rows(admin)
    feeds = {f.target_id: f for f in db.list_feeds() if f.kind is FeedKind.CALENDAR}
    # The feed engine's own reading of each calendar's live events: another query than the page's.
    counts = {cid: len(db.feed_rows(feed, EPOCH)) for cid, feed in feeds.items()}
    assert {cid: int(row["events"]) for cid, row in rows.items()} == counts
    assert sum(counts.values()) == db.count_events() > 0
    page = admin.get("/admin/calendars").get_data(as_text=True)
    for feed in feeds.values():
        assert f'href="/admin/feeds/{feed.feed_id}"' in page
    assert f'href="/admin/events?calendar={next(iter(rows))}"' in page


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("W. Europe Standard Time", "Europe/Berlin"), ("australia/adelaide", "Australia/Adelaide")],
)
def test_rename_and_zone_as_the_event_form_takes_them(
    admin: FlaskClient, db: Store, typed: str, stored: str
) -> None:
    calendar_id = next(iter(calendar_rows(admin)))
    response = save(admin, calendar_id, name="Surveillance team", timezone=typed)
    assert response.status_code == 302
    row = calendar_rows(admin)[calendar_id]
    assert row["zone"] == stored
    assert "Surveillance team" in row["text"]
    feed = next(
        f for f in db.list_feeds() if f.kind is FeedKind.CALENDAR and f.target_id == calendar_id
    )
    calendar = icalendar.Calendar.from_ical(admin.get(feed_path(feed)).get_data())
    assert str(calendar["X-WR-TIMEZONE"]) == stored, "its feed shows the change at once"
    assert str(calendar["X-WR-CALNAME"]) == "Surveillance team"


def test_a_bad_zone_re_shows_the_form_with_the_validators_advice(
    admin: FlaskClient, db: Store
) -> None:
    calendar_id = next(iter(calendar_rows(admin)))
    before = db.get_calendar(calendar_id)
    response = save(admin, calendar_id, name="Renamed", timezone="Europe/Berln")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="Europe/Berln"' in page, "what was typed is kept"
    assert "Europe/Berlin" in page.split('value="Europe/Berln"')[1], "a suggestion follows"
    assert 'role="alert"' in page
    assert db.get_calendar(calendar_id) == before, "nothing was saved"


def test_a_calendar_needs_a_name(admin: FlaskClient) -> None:
    calendar_id = next(iter(calendar_rows(admin)))
    response = save(admin, calendar_id, name="  ", timezone="")
    assert response.status_code == 400
    assert "A calendar needs a name." in response.get_data(as_text=True)
