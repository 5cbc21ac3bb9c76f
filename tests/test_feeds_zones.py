"""Zones in the feeds, end to end over a real SQLite file: a calendar's zone reaches the renderer,
a change of zone changes the served feed at once, the feed page names the zone zone-less events
are shown in, and every admin field and command takes a zone through the one validator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from bridge.cli import main
from bridge.config import Settings
from bridge.errors import ZoneError
from bridge.feed_engine import FeedEngine, render_options
from bridge.models import Event, Feed, FeedKind, Privacy, Staff
from bridge.store import Store, open_store
from bridge.web.feed_urls import feed_path
from bridge.zone_names import offered_zones, resolve_zone
from tests.support.web import csrf_token, make_settings

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
UPDATED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def zoneless(event_id: int, calendar_id: int) -> Event:
    return Event(
        event_id=event_id,
        title=f"Zone-less {event_id}",
        start_at=START,
        end_at=START + timedelta(hours=1),
        calendar_id=calendar_id,
        staff_ids=(7,),
        updated_at=UPDATED,
    )


@pytest.fixture
def store_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
        filling.upsert_staff([Staff(7, "Ann", "Lee")])
        filling.apply_event_changes([zoneless(1, 2), zoneless(2, 3)], [], UPDATED)
        filling.ensure_feeds(Privacy.FULL)
    return url


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(default_timezone="America/Chicago")


def feed_of(db: Store, kind: FeedKind, target_id: int | None = None) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is kind and f.target_id == target_id)


def local_start(zone: str) -> str:
    return f"DTSTART;TZID={zone}:{START.astimezone(ZoneInfo(zone)):%Y%m%dT%H%M%S}"


def test_the_store_carries_each_calendar_zone_to_feeds_and_their_events(db: Store) -> None:
    db.set_calendar_timezone(2, "Asia/Tokyo")
    feed = feed_of(db, FeedKind.CALENDAR, 2)
    assert feed.calendar_timezone == "Asia/Tokyo"
    assert feed_of(db, FeedKind.CALENDAR, 3).calendar_timezone is None
    assert feed_of(db, FeedKind.ALL).calendar_timezone is None
    items = db.feed_events(feed_of(db, FeedKind.ALL), START - timedelta(days=1))
    assert {item.event.event_id: item.calendar_timezone for item in items} == {
        1: "Asia/Tokyo",
        2: None,
    }


def test_a_calendar_zone_change_changes_every_feed_showing_it_at_once(
    web: FlaskClient, db: Store
) -> None:
    feeds = [
        feed_of(db, FeedKind.CALENDAR, 2),
        feed_of(db, FeedKind.STAFF, 7),
        feed_of(db, FeedKind.ALL),
    ]
    before = [web.get(feed_path(feed)) for feed in feeds]
    assert all(local_start("America/Chicago") in r.get_data(as_text=True) for r in before)
    assert "X-WR-TIMEZONE:America/Chicago" in before[0].get_data(as_text=True)

    db.set_calendar_timezone(2, "Asia/Tokyo")
    # The worker's next pass renders every feed showing the calendar.
    FeedEngine(db, render_options(make_settings(default_timezone="America/Chicago"))).render_stale()
    after = [web.get(feed_path(feed)) for feed in feeds]
    for old, new in zip(before, after, strict=True):
        assert new.headers["ETag"] != old.headers["ETag"]
        assert local_start("Asia/Tokyo") in new.get_data(as_text=True)
        # The ETag the client holds no longer validates: it gets the new feed, not a 304.
        assert (
            web.get(new.request.path, headers={"If-None-Match": old.headers["ETag"]}).status_code
            == 200
        )
    assert "X-WR-TIMEZONE:Asia/Tokyo" in after[0].get_data(as_text=True)
    # Calendar 3's event keeps the default; the two feeds showing both zones name neither.
    assert local_start("America/Chicago") in after[2].get_data(as_text=True)
    assert "X-WR-TIMEZONE" not in after[2].get_data(as_text=True)


def test_a_feed_zone_change_changes_the_feed_at_once(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, 2)
    db.set_calendar_timezone(2, "Asia/Tokyo")
    old = admin.get(feed_path(feed))
    response = admin.post(
        f"/admin/feeds/{feed.feed_id}/settings",
        data={
            "csrf_token": csrf_token(admin),
            "name": feed.name,
            "privacy": "full",
            "timezone": "W. Europe Standard Time",
        },
    )
    assert response.status_code == 302
    assert db.get_feed(feed.feed_id).timezone == "Europe/Berlin", "stored as the IANA name"
    new = admin.get(feed_path(feed))
    assert new.headers["ETag"] != old.headers["ETag"]
    body = new.get_data(as_text=True)
    assert local_start("Europe/Berlin") in body and "X-WR-TIMEZONE:Europe/Berlin" in body


def feed_page(admin: FlaskClient, feed: Feed) -> str:
    """The feed's admin page, its whitespace collapsed as a browser shows it."""
    return " ".join(admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True).split())


def test_the_feed_page_names_the_zone_its_zone_less_events_are_shown_in(
    admin: FlaskClient, db: Store
) -> None:
    calendar_feed = feed_of(db, FeedKind.CALENDAR, 2)
    page = feed_page(admin, calendar_feed)
    assert "Events without a zone of their own are shown in America/Chicago" in page
    assert "Empty: the bridge's default, America/Chicago" in page

    db.set_calendar_timezone(2, "Asia/Tokyo")
    page = feed_page(admin, calendar_feed)
    assert "Events without a zone of their own are shown in Asia/Tokyo" in page
    assert "Empty: this calendar's zone, Asia/Tokyo" in page
    assert 'placeholder="Asia/Tokyo"' in page

    db.update_feed(calendar_feed.feed_id, timezone="Europe/Berlin")
    assert "are shown in Europe/Berlin" in feed_page(admin, calendar_feed)

    page = feed_page(admin, feed_of(db, FeedKind.ALL))
    assert "shown in their calendar's zone" in page
    assert "Calendar 2: Asia/Tokyo" in page, "the zones in play are named"


def test_zone_pickers_offer_only_names_the_validator_keeps() -> None:
    offered = offered_zones()
    assert {"America/New_York", "Asia/Kolkata", "UTC"} <= offered
    assert not {"EST", "GB", "Asia/Calcutta", "US/Eastern", "localtime", "Factory"} & offered
    assert all(resolve_zone(name) == name for name in offered)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Eastern Standard Time", "America/New_York"),
        ("asia/calcutta", "Asia/Kolkata"),
        ("europe/berlin", "Europe/Berlin"),
        ("", None),
    ],
)
def test_the_calendars_page_takes_what_the_event_form_takes(
    admin: FlaskClient, db: Store, typed: str, stored: str | None
) -> None:
    response = admin.post(
        "/admin/calendars/2",
        data={"csrf_token": csrf_token(admin), "name": "Surveillance", "timezone": typed},
    )
    assert response.status_code == 302
    assert db.get_calendar(2).timezone == stored


@pytest.mark.parametrize("typed", ["America/Chicgo", "Easter Standard Time", "EST"])
def test_every_zone_field_gives_the_validators_advice(
    admin: FlaskClient,
    db: Store,
    typed: str,
    store_url: str,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ZoneError) as refused:
        resolve_zone(typed)
    advice = str(refused.value)
    shown = (advice[:1].upper() + advice[1:]).replace("'", "&#39;")

    feed = feed_of(db, FeedKind.CALENDAR, 2)
    pages = [
        admin.post(
            "/admin/calendars/2",
            data={"csrf_token": csrf_token(admin), "name": "Surveillance", "timezone": typed},
        ),
        admin.post(
            f"/admin/feeds/{feed.feed_id}/settings",
            data={
                "csrf_token": csrf_token(admin),
                "name": "",
                "privacy": "full",
                "timezone": typed,
            },
        ),
    ]
    for page in pages:
        assert page.status_code == 400
        assert shown in page.get_data(as_text=True)
    assert db.get_calendar(2).timezone is None and db.get_feed(feed.feed_id) == feed

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", store_url)
    command = CliRunner().invoke(main, ["calendars", "timezone", "2", typed])
    assert command.exit_code != 0 and advice in " ".join(command.output.split())
