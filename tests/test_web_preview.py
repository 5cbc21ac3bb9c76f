"""The feed page's preview against the feed itself: a sandbox account synced by the real sync into
a SQLite file, rendered as the worker renders, the .ics fetched from its URL and parsed by
icalendar here, and the preview's rows (their data-* attributes) compared with it: the same
events, local times, zones and days, over DST changes, half-hour and southern zones, all-day
spans, and a private feed. Then the figures, the subscribers and the QR code."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import segno
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.feed_engine import FeedEngine, render_options
from bridge.models import Feed, FeedKind, Privacy
from bridge.store import Store
from bridge.web.clients import webcal_url
from bridge.web.feed_urls import feed_path
from tests.support.pages import allday_record, at, event_record, page_rows, synced_store
from tests.support.sandbox import ANCHOR
from tests.support.web import make_settings
from tests.support.zones import next_changes

ADMIN_ZONE = "America/Chicago"
SOON = ANCHOR + timedelta(days=10)
BUSY_CALENDAR = 5
LONDON_CHANGES = next_changes("Europe/London", ANCHOR)[:2]


def records() -> list[dict[str, Any]]:
    wall = datetime.combine(SOON, time(9, 30))
    found = [
        event_record("Interview in Mumbai", "Asia/Kolkata", at("Asia/Kolkata", wall),
                     at("Asia/Kolkata", wall + timedelta(minutes=45))),
        # Half-hour offset, southern hemisphere, past midnight.
        event_record("Stake-out, Adelaide", "Australia/Adelaide",
                     at("Australia/Adelaide", wall.replace(hour=19)),
                     at("Australia/Adelaide", wall.replace(hour=19) + timedelta(hours=6.5))),
        allday_record("Conference in Wellington", "Pacific/Auckland", SOON + timedelta(days=1),
                      SOON + timedelta(days=3)),
        event_record("Court, Chicago", "America/Chicago",
                     at("America/Chicago", wall + timedelta(days=2)),
                     at("America/Chicago", wall + timedelta(days=2, hours=2)),
                     calendar_id=BUSY_CALENDAR),
    ]  # fmt: skip
    for change in LONDON_CHANGES:
        if change.after > change.before:  # spring: 01:00-02:00 never happens
            found.append(
                event_record("Across the gap", "Europe/London",
                             at("Europe/London", change.wall_before - timedelta(minutes=30)),
                             at("Europe/London", change.wall_after + timedelta(minutes=30)))
            )  # fmt: skip
        else:  # autumn: 01:00-02:00 happens twice; the feed writes such a time in UTC
            repeat = change.wall_after + timedelta(minutes=30)
            found.append(
                event_record("In the repeated hour", "Europe/London",
                             at("Europe/London", repeat, fold=1),
                             at("Europe/London", repeat + timedelta(minutes=20), fold=1))
            )  # fmt: skip
        found.append(
            allday_record("All day on the change", "Europe/London", change.wall_after.date(),
                          change.wall_after.date())
        )  # fmt: skip
    return found


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> str:
    url, _ = synced_store(tmp_path_factory.mktemp("preview"), records())
    return url


@pytest.fixture
def store_url(synced: str, tmp_path: Path) -> str:
    """A copy of the module's synced database per test: tests change feeds and fetches."""
    copy = tmp_path / "bridge.db"
    copy.write_bytes(Path(synced.removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(default_timezone=ADMIN_ZONE, feed_past_days=30)


def render(db: Store, settings: Settings) -> None:
    """What the worker does after a pass: render every stale feed and store it."""
    FeedEngine(db, render_options(settings)).render_stale()


def feed_of(db: Store, kind: FeedKind, target_id: int | None = None) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is kind and f.target_id == target_id)


# ----------------------------------------------------------------------------- the oracle


def read_feed(body: bytes) -> dict[str, dict[str, Any]]:
    """Each VEVENT of the served feed as icalendar reads it: wall times in DTSTART's zone."""
    found = {}
    for vevent in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        start = vevent.decoded("DTSTART")
        end = vevent.decoded("DTEND") if "DTEND" in vevent else start + vevent.decoded("DURATION")
        entry: dict[str, Any] = {"summary": str(vevent["SUMMARY"])}
        if isinstance(start, datetime):
            entry["zone"] = vevent["DTSTART"].params.get("TZID") or (
                "UTC" if start.utcoffset() == timedelta(0) else "?"
            )
            entry["start"] = start.replace(tzinfo=None).isoformat()
            entry["end"] = end.astimezone(start.tzinfo).replace(tzinfo=None).isoformat()
            entry["instants"] = (start.astimezone(UTC), end.astimezone(UTC))
            local_end = end.astimezone(start.tzinfo)
            last = local_end.date() - timedelta(days=local_end.time() == time(0))
            entry["days"] = (start.date(), max(start.date(), last))
            entry["minutes"] = int((end.astimezone(UTC) - start.astimezone(UTC)).seconds / 60)
        else:
            entry.update(zone="", start=start.isoformat(), end=end.isoformat())
            entry["days"] = (start, end - timedelta(days=1))
            entry["minutes"] = (end - start).days * 24 * 60
        found[str(vevent["UID"])] = entry
    return found


def overlaps(entry: dict[str, Any], starts: datetime, ends: datetime) -> bool:
    if "instants" in entry:
        return entry["instants"][0] < ends and entry["instants"][1] > starts
    first, last = entry["days"]  # dates: the window's days in the admin's zone
    zone = ZoneInfo(ADMIN_ZONE)
    return (
        first <= (ends - timedelta(seconds=1)).astimezone(zone).date()
        and last >= starts.astimezone(zone).date()
    )


def preview(admin: FlaskClient, feed: Feed, **args: str) -> tuple[str, list[dict[str, str]]]:
    response = admin.get(f"/admin/feeds/{feed.feed_id}", query_string=args)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return page, page_rows(page)


def window_of(page: str) -> tuple[datetime, datetime]:
    found = page_rows(page.replace('<section class="preview"', '<li data-uid="window"', 1))
    head = next(row for row in found if row["uid"] == "window")
    return datetime.fromisoformat(head["from"]), datetime.fromisoformat(head["to"])


def assert_rows_match(rows: list[dict[str, str]], served: dict[str, dict[str, Any]]) -> None:
    for row in rows:
        want = served[row["uid"]]
        got = (row["start-local"], row["end-local"], row["zone"], int(row["duration-minutes"]))
        assert got == (want["start"], want["end"], want["zone"], want["minutes"]), row["text"]
        assert want["summary"] in row["text"]


# ----------------------------------------------------------------------------- the tests


def test_agenda_shows_the_served_feeds_events_at_their_local_times(
    admin: FlaskClient, db: Store, web_settings: Settings
) -> None:
    render(db, web_settings)
    feed = feed_of(db, FeedKind.ALL)
    served = read_feed(admin.get(feed_path(feed)).get_data())
    # From the day before: Mumbai's morning is the evening before in the admin's Chicago.
    page, rows = preview(admin, feed, **{"from": (SOON - timedelta(days=1)).isoformat()})
    starts, ends = window_of(page)
    expected = {uid for uid, entry in served.items() if overlaps(entry, starts, ends)}
    assert {row["uid"] for row in rows} == expected
    assert len(rows) == len(expected), "each event once in the agenda"
    assert_rows_match(rows, served)
    by_title = {served[row["uid"]]["summary"]: row for row in rows}
    mumbai = by_title["Interview in Mumbai"]
    assert (mumbai["zone"], mumbai["start-local"]) == ("Asia/Kolkata", f"{SOON}T09:30:00")
    adelaide = by_title["Stake-out, Adelaide"]
    assert adelaide["end-local"] == f"{SOON + timedelta(days=1)}T02:00:00"  # from 19:30
    assert "6 h 30 min" in adelaide["text"]
    wellington = by_title["Conference in Wellington"]
    assert (wellington["allday"], wellington["start-local"], wellington["end-local"]) == (
        "true",
        (SOON + timedelta(days=1)).isoformat(),
        (SOON + timedelta(days=4)).isoformat(),  # DTEND: the day after the last
    )
    assert "3 days" in wellington["text"]


@pytest.mark.parametrize("change", LONDON_CHANGES, ids=lambda c: f"{c.at:%Y-%m-%d}")
def test_the_week_of_a_dst_change_matches_the_feed_day_by_day(
    admin: FlaskClient, db: Store, web_settings: Settings, change: Any
) -> None:
    render(db, web_settings)
    feed = feed_of(db, FeedKind.ALL)
    served = read_feed(admin.get(feed_path(feed)).get_data())
    day = change.wall_after.date()
    year, week, _ = day.isocalendar()
    _, rows = preview(admin, feed, view="week", week=f"{year}-W{week:02d}")
    monday = date.fromisocalendar(year, week, 1)
    days = {monday + timedelta(days=n) for n in range(7)}
    expected = {
        (uid, d.isoformat())
        for uid, entry in served.items()
        for d in days
        if entry["days"][0] <= d <= entry["days"][1]
    }
    assert {(row["uid"], row["day"]) for row in rows} == expected
    assert_rows_match(rows, served)
    on_change = [row for row in rows if served[row["uid"]]["summary"] != "All day on the change"]
    on_change = [r for r in on_change if "London" in r["zone"] or r["zone"] == "UTC"]
    assert on_change, "the change's own event is in its week"
    for row in on_change:
        if change.after > change.before:
            # 00:30 to 02:30 on the clock, one hour in fact: the hour in between never happens.
            assert (row["zone"], row["duration-minutes"]) == ("Europe/London", "60")
        else:
            assert row["zone"] == "UTC", "a time in the repeated hour is written (and shown) in UTC"


def test_a_private_feed_previews_what_it_hides(
    admin: FlaskClient, db: Store, web_settings: Settings
) -> None:
    feed = feed_of(db, FeedKind.CALENDAR, BUSY_CALENDAR)
    db.update_feed(feed.feed_id, name=None, privacy=Privacy.BUSY, timezone=None)
    render(db, web_settings)
    served = read_feed(admin.get(feed_path(feed)).get_data())
    page, rows = preview(admin, feed, **{"from": SOON.isoformat()})
    assert rows and {row["uid"] for row in rows} <= set(served)
    assert_rows_match(rows, served)
    assert all(row["text"].count("Busy") == 1 for row in rows)
    assert "Court, Chicago" not in page


def test_figures_are_the_served_feeds(
    admin: FlaskClient, db: Store, web_settings: Settings
) -> None:
    render(db, web_settings)
    feed = feed_of(db, FeedKind.CALENDAR, 2)
    body = admin.get(feed_path(feed)).get_data()
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    assert f'data-event-count="{len(read_feed(body))}"' in page
    assert f'data-size="{len(body)}"' in page
    assert "<meter" in page and 'max="1000000"' in page
    assert f'data-zoneless-zone="{ADMIN_ZONE}"' in page, "X-WR-TIMEZONE of a calendar's feed"


def test_a_feed_not_rendered_yet_says_so(admin: FlaskClient, db: Store) -> None:
    page = admin.get(f"/admin/feeds/{feed_of(db, FeedKind.ALL).feed_id}").get_data(as_text=True)
    assert "has not been rendered yet" in page


def test_a_bad_week_is_explained_and_this_week_shown(
    admin: FlaskClient, db: Store, web_settings: Settings
) -> None:
    render(db, web_settings)
    page, _ = preview(admin, feed_of(db, FeedKind.ALL), view="week", week="next tuesday")
    assert "is not a week: write it as 2026-W49" in page
    assert page.count('class="preview-day"') == 7


def test_subscribers_are_named_and_a_stopped_one_is_flagged(
    admin: FlaskClient, db: Store, web_settings: Settings
) -> None:
    feed = feed_of(db, FeedKind.ALL)
    now = datetime.now(UTC)
    clients = {
        "Google-Calendar-Importer": (now - timedelta(days=3), 4, timedelta(hours=8)),
        "macOS/14.4 CalendarAgent/988": (now - timedelta(minutes=3), 30, timedelta(minutes=5)),
        "vdirsyncer/0.19.2": (now - timedelta(hours=5), 10, timedelta(hours=1)),
        "Mozilla/5.0 Thunderbird/115.0": (now - timedelta(minutes=20), 3, timedelta(hours=1)),
        "curl/8.5.0": (now - timedelta(minutes=1), 1, timedelta(0)),
    }  # fmt: skip
    for agent, (last, count, every) in clients.items():
        first = last - every * (count - 1)
        db.record_feed_fetch(feed.feed_id, first, agent)
        db.record_feed_fetch(feed.feed_id, last, agent, count - 1) if count > 1 else None
    rows = {
        row["client"]: row["stopped"]
        for row in page_rows(
            admin.get(f"/admin/feeds/{feed.feed_id}")
            .get_data(as_text=True)
            .replace("<tr data-client=", "<tr data-event-id data-client=")
        )
    }
    assert rows == {
        "Google Calendar": "true",  # 3 days: past 48 h
        "Apple Calendar": "false",
        "khal/vdirsyncer": "true",  # hourly, silent for 5 h
        "Thunderbird": "false",
        "unknown": "false",
    }
    page = " ".join(admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True).split())
    assert "Google Calendar has not fetched this feed since" in page
    assert "it usually fetches every 1 h" in page
    assert "Unknown client" in page and "curl/8.5.0" in page


def test_qr_code_is_the_webcal_url(admin: FlaskClient, db: Store) -> None:
    feed = feed_of(db, FeedKind.ALL)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    webcal = webcal_url(make_settings().public_url + feed_path(feed))
    assert webcal.startswith("webcal://")
    expected = segno.make(webcal, error="m").svg_inline(scale=4, title="Subscribe")
    assert expected in page
    assert "cannot reach" not in page, "a public address needs no warning"


@pytest.mark.parametrize(
    "public", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"]
)
def test_loopback_address_is_flagged_on_the_google_and_outlook_links(
    store_url: str, public: str
) -> None:
    from bridge.web import app_context_of, create_app
    from tests.support.web import log_in

    app = create_app(make_settings(public_url=public), store_url=store_url)
    try:
        web = app.test_client()
        assert log_in(web).status_code == 302
        feed = feed_of(app_context_of(app).store, FeedKind.ALL)
        page = web.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
        for client in ("Google Calendar", "Outlook.com"):
            assert (
                f"{client}\n          fetches feeds from its own servers, which cannot reach"
                in page
            )
        assert page.count("cannot reach") == 3, "Google, Outlook.com, Microsoft 365; not Apple"
    finally:
        app_context_of(app).store.close()


def test_a_late_tally_moves_the_first_fetch_back_never_forward(db: Store) -> None:
    """A web process writes its tallies up to a minute late: the usual interval stays right."""
    feed = feed_of(db, FeedKind.ALL)
    now = datetime.now(UTC).replace(microsecond=0)
    db.record_feed_fetch(feed.feed_id, now, "Google-Calendar-Importer")
    db.record_feed_fetch(feed.feed_id, now - timedelta(hours=2), "Google-Calendar-Importer", 2)
    db.record_feed_fetch(feed.feed_id, now + timedelta(hours=2), "Google-Calendar-Importer")
    (fetch,) = db.feed_fetches(feed.feed_id)
    assert (fetch.first_fetched_at, fetch.last_fetched_at, fetch.fetch_count) == (
        now - timedelta(hours=2),
        now + timedelta(hours=2),
        4,
    )
    assert fetch.usual_interval == timedelta(hours=4) / 3
