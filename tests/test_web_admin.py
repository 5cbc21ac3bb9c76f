"""The admin pages (the admin blueprint): the dashboard, feeds and their settings, rotation,
calendars, and friendly 404s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import FeedKind, Privacy
from bridge.store import Store, SyncState
from bridge.web.clients import client_family
from tests.support.web import (
    PUBLIC_URL,
    csrf_token,
)
from tests.support.web_mirror import (
    GOOGLE_UA,
    NOW,
    feed_of,
    mirror_settings,
    mirror_store,
    path_of,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return mirror_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return mirror_settings()


def test_feed_token_appears_only_on_its_own_page(admin: FlaskClient, db: Store) -> None:
    feeds = db.list_feeds()
    shared_pages = {url: admin.get(url).get_data(as_text=True) for url in ("/", "/admin/feeds")}
    shared_pages["/admin/calendars"] = admin.get("/admin/calendars").get_data(as_text=True)
    for url, page in shared_pages.items():
        assert all(f.token not in page for f in feeds), url
    feeds_page = shared_pages["/admin/feeds"]
    for feed in feeds:
        assert f'href="/admin/feeds/{feed.feed_id}"' in feeds_page
        page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
        assert feed.token in page
        assert all(other.token not in page for other in feeds if other != feed)


def test_feed_page_has_subscribe_links_and_refresh_delays(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    url = f"{PUBLIC_URL}/feeds/{feed.token}/calendar-3.ics"
    webcal = "webcal://" + url.removeprefix("https://")
    assert url in page
    assert f"https://calendar.google.com/calendar/r?cid={quote(webcal, safe='')}" in page
    assert f"https://outlook.live.com/calendar/0/addfromweb?url={quote(url, safe='')}" in page
    assert f"https://outlook.office.com/calendar/0/addfromweb?url={quote(url, safe='')}" in page
    assert f'href="{webcal}"' in page
    assert "ignores the feed&#39;s refresh hint" in page or "ignores the feed's refresh" in page
    assert 'id="copy-url"' in page
    assert "No calendar client has fetched this feed yet." in page


def test_feed_page_says_who_fetched_it(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    db.record_feed_fetch(feed.feed_id, NOW - timedelta(hours=9, minutes=5), GOOGLE_UA)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    assert "Google Calendar last fetched this 9 h ago" in page


@pytest.mark.parametrize(
    ("user_agent", "family"),
    [
        ("Google-Calendar-Importer", "Google Calendar"),
        ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328)", "Outlook"),
        ("Microsoft.Exchange/15.20 (Windows NT 10.0; Win64; x64)", "Outlook"),
        ("macOS/14.4 (23E214) CalendarAgent/988", "Apple Calendar"),
        ("iOS/17.4 (21E219) dataaccessd/1.0", "Apple Calendar"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "A client without a User-Agent"),
    ],
)
def test_client_family(user_agent: str, family: str) -> None:
    assert client_family(user_agent) == family


def test_feed_settings_change_what_the_feed_shows(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    response = admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Surveillance team",
            "privacy": "busy",
            "timezone": "America/Denver",
        },
    )
    assert response.status_code == 302
    changed = db.get_feed(feed.feed_id)
    assert (changed.name, changed.privacy, changed.timezone) == (
        "Surveillance team",
        Privacy.BUSY,
        "America/Denver",
    )
    body = admin.get(path_of(changed)).get_data(as_text=True)
    assert "SUMMARY:Busy" in body and "Surveillance, Main" not in body
    assert "X-WR-CALNAME:Surveillance team" in body


def test_saving_the_shown_name_does_not_pin_it(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={"csrf_token": csrf_token(admin), "name": feed.name, "privacy": "limited"},
    )
    db.rename_calendar(3, "Field work")
    assert db.get_feed(feed.feed_id).name == "Field work", "the feed still follows its calendar"


def test_bad_time_zone_is_explained_and_the_input_kept(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 3)
    response = admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Kept name",
            "privacy": "full",
            "timezone": "America/Chicgo",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Unknown time zone &#39;America/Chicgo&#39;" in page
    assert 'value="America/Chicgo"' in page and 'value="Kept name"' in page
    assert db.get_feed(feed.feed_id) == feed, "nothing was saved"


def test_rotating_needs_confirmation_and_breaks_the_old_url(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.STAFF, 8)
    rotate = f"/admin/feeds/{feed.feed_id}/rotate"
    unconfirmed = admin.post(rotate, data={"csrf_token": csrf_token(admin)})
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.get_data(as_text=True)
    assert db.get_feed(feed.feed_id).token == feed.token

    done = admin.post(rotate, data={"csrf_token": csrf_token(admin), "confirm": "yes"})
    assert done.status_code == 302
    rotated = db.get_feed(feed.feed_id)
    assert rotated.token != feed.token
    assert admin.get(path_of(feed)).status_code == 404
    assert admin.get(path_of(rotated)).status_code == 200
    assert rotated.token in admin.get(done.headers["Location"]).get_data(as_text=True)


def test_calendars_can_be_renamed_and_given_a_zone(admin: FlaskClient, db: Store) -> None:
    response = admin.post(
        "/admin/calendars/3",
        data={
            "csrf_token": csrf_token(admin),
            "name": "Surveillance",
            "timezone": "America/Chicago",
        },
    )
    assert response.status_code == 302
    assert db.get_calendar(3).name == "Surveillance"
    assert db.get_calendar(3).timezone == "America/Chicago"
    assert feed_of(db, FeedKind.CALENDAR, 3).name == "Surveillance"
    assert "Surveillance" in admin.get("/admin/calendars").get_data(as_text=True)


def test_calendar_form_keeps_a_bad_zone_with_the_message(admin: FlaskClient, db: Store) -> None:
    response = admin.post(
        "/admin/calendars/4",
        data={"csrf_token": csrf_token(admin), "name": "Interviews", "timezone": "Mars/Olympus"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Unknown time zone" in page and 'value="Mars/Olympus"' in page
    assert db.get_calendar(4).name == "Calendar 4"


def test_unknown_calendar_or_feed_is_a_friendly_404(admin: FlaskClient) -> None:
    for response in (
        admin.get("/admin/feeds/999"),
        admin.post("/admin/calendars/999", data={"csrf_token": csrf_token(admin), "name": "x"}),
        admin.get("/no/such/page"),
    ):
        assert response.status_code == 404
        assert "Not found" in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)


def test_dashboard_shows_sync_health(admin: FlaskClient, db: Store) -> None:
    now = datetime.now(UTC)  # not the module's NOW: "5 min ago" is relative to the request
    db.put_sync_state(
        SyncState(
            last_success_at=now - timedelta(minutes=5, seconds=10),
            last_attempt_at=now - timedelta(minutes=1),
            last_error="Trackops answered 503",
            last_error_at=now - timedelta(minutes=1),
            heartbeat_at=now - timedelta(hours=2),
            requests_total=1234,
            rate_limited_total=3,
        )
    )
    page = admin.get("/").get_data(as_text=True)
    assert "5 min ago" in page
    assert "stale" in page, "a 2-hour-old heartbeat with a 60 s poll interval"
    assert "Trackops answered 503" in page
    assert "1234" in page and "3 answered" in page
    assert re.search(r"\b2 <span class=\"muted\">\(0 deleted in Trackops\)", page)

    db.put_sync_state(SyncState(heartbeat_at=datetime.now(UTC)))
    assert "stale" not in admin.get("/").get_data(as_text=True)
