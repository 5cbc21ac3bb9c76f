"""The admin pages in a real browser (Debian's Chromium through Playwright) against the bridge as
deployed (sandbox, worker and gunicorn web, one SQLite file): what a person does, page by page,
each page checked at 390 px and 1280 px wide, with no console error on any of them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
from playwright.sync_api import Browser, Page, expect

from bridge.models import Calendar, Feed, FeedKind
from bridge.web.event_form import case_value
from tests.support.browser import (
    DESKTOP,
    TIMEOUT_MS,
    Console,
    LiveBridge,
    check_layout,
    log_in,
)
from tests.support.processes import wait_for


def test_logging_in(browser: Browser, live_bridge: LiveBridge) -> None:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        page.goto(live_bridge.url + "/admin/feeds")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        check_layout(page, "login")
        page.get_by_label("Admin password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong password")
        log_in(page, live_bridge.url)
        expect(page.get_by_role("heading", name="Sync health")).to_be_visible()
    finally:
        context.close()
    assert console.take("status of 401") == []


def test_the_dashboard(admin_page: Page, live_bridge: LiveBridge) -> None:
    admin_page.goto(live_bridge.url + "/")
    with live_bridge.store() as store:
        mirrored = store.count_events()
    expect(admin_page.locator("dd").filter(has_text="deleted in Trackops")).to_contain_text(
        str(mirrored)
    )
    check_layout(admin_page, "dashboard")


def test_copying_and_rotating_a_feed_url(admin_page: Page, live_bridge: LiveBridge) -> None:
    with live_bridge.store() as store:
        feed = next(f for f in store.list_feeds() if f.kind is FeedKind.STAFF)
    admin_page.goto(live_bridge.url + "/admin/feeds")
    check_layout(admin_page, "feeds")
    admin_page.get_by_role("link", name=feed.name).click()
    expect(admin_page.get_by_role("heading", name=feed.name, exact=True)).to_be_visible()
    check_layout(admin_page, "feed")

    old_url = admin_page.locator("#feed-url").inner_text()
    admin_page.get_by_role("button", name="Copy").click()
    expect(admin_page.get_by_role("button", name="Copied")).to_be_visible()
    assert admin_page.evaluate("navigator.clipboard.readText()") == old_url
    assert httpx.get(old_url, timeout=10).status_code == 200

    admin_page.get_by_label("I understand the current URL stops working").check()
    admin_page.get_by_role("button", name="Give this feed a new URL").click()
    expect(admin_page.get_by_role("status")).to_contain_text("The feed has a new URL")
    new_url = admin_page.locator("#feed-url").inner_text()
    assert new_url != old_url
    assert httpx.get(old_url, timeout=10).status_code == 404
    assert httpx.get(new_url, timeout=10).status_code == 200


def test_naming_a_calendar_and_its_zone_by_windows_name(
    admin_page: Page, live_bridge: LiveBridge
) -> None:
    with live_bridge.store() as store:
        calendar = store.list_calendars()[0]
    admin_page.goto(live_bridge.url + "/admin/calendars")
    check_layout(admin_page, "calendars")
    name_box = admin_page.get_by_label(f"Name of calendar {calendar.calendar_id}", exact=True)
    name_box.fill("Surveillance — Berlin office")
    admin_page.get_by_label(f"Time zone of calendar {calendar.calendar_id}", exact=True).fill(
        "W. Europe Standard Time"
    )
    name_box.press("Enter")
    expect(admin_page.get_by_role("status")).to_contain_text("Surveillance — Berlin office")
    zone_box = admin_page.get_by_label(f"Time zone of calendar {calendar.calendar_id}", exact=True)
    expect(zone_box).to_have_value("Europe/Berlin")
    with live_bridge.store() as store:
        saved = store.get_calendar(calendar.calendar_id)
    assert saved is not None
    assert (saved.name, saved.timezone) == ("Surveillance — Berlin office", "Europe/Berlin")


def _served_events(url: str) -> dict[str, icalendar.Event]:
    """The feed as a subscriber's client gets it, parsed by icalendar, by UID."""
    served = httpx.get(url, timeout=10)
    assert served.status_code == 200
    calendar = icalendar.Calendar.from_ical(served.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def _local_start(event: icalendar.Event) -> tuple[str, str]:
    """DTSTART as the preview names it: the wall time as the feed wrote it, and its zone."""
    start = event.decoded("DTSTART")
    if not isinstance(start, datetime):
        return start.isoformat(), ""
    zone = str(event["DTSTART"].params.get("TZID") or ("UTC" if start.tzinfo else "floating"))
    return start.replace(tzinfo=None).isoformat(), zone


def _preview_rows(page: Page) -> list[dict[str, str]]:
    return page.locator(".preview-row").evaluate_all(
        "rows => rows.map(r => ({uid: r.dataset.uid, start: r.dataset.startLocal,"
        " zone: r.dataset.zone, text: r.innerText}))"
    )


def _open_feed_page(page: Page, bridge_url: str, feed: Feed) -> str:
    page.goto(f"{bridge_url}/admin/feeds/{feed.feed_id}")
    return page.locator("#feed-url").inner_text()


def test_a_feed_preview_shows_what_the_served_feed_says(
    admin_page: Page, live_bridge: LiveBridge
) -> None:
    with live_bridge.store() as store:
        feed = next(f for f in store.list_feeds() if f.kind is FeedKind.ALL)
    url = _open_feed_page(admin_page, live_bridge.url, feed)
    check_layout(admin_page, "feed preview")
    section = admin_page.locator("#preview")
    starts = datetime.fromisoformat(section.get_attribute("data-from") or "")
    ends = datetime.fromisoformat(section.get_attribute("data-to") or "")
    rows = _preview_rows(admin_page)
    served = _served_events(url)
    assert rows, "the seed has events in the coming two weeks"
    for row in rows:
        event = served[row["uid"]]
        assert (row["start"], row["zone"]) == _local_start(event), row["text"]
        assert str(event.get("SUMMARY")) in row["text"]
    # Every timed event the feed has starting inside the window is in the preview.
    inside = {
        uid
        for uid, event in served.items()
        if isinstance(event.decoded("DTSTART"), datetime)
        and starts <= event.decoded("DTSTART") < ends
    }
    assert inside <= {row["uid"] for row in rows}


@dataclass(frozen=True)
class Target:
    """Where the tests create events: a calendar, its feed and a case."""

    calendar: Calendar
    feed: Feed
    case: str


def _target(bridge: LiveBridge, index: int) -> Target:
    with bridge.store() as store:
        calendars = store.list_calendars()
        cases = store.list_cases()
        feeds = store.list_feeds()
    calendar = calendars[index % len(calendars)]
    feed = next(
        f for f in feeds if f.kind is FeedKind.CALENDAR and f.target_id == calendar.calendar_id
    )
    return Target(calendar, feed, case_value(cases[index % len(cases)]))


def _coming_day(days: int) -> date:
    return datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=days)


def _wait_for_finished_batch(page: Page) -> None:
    # The page reloads itself every few seconds until every row is settled.
    expect(page.locator("main")).to_contain_text("finished.", timeout=60_000)


def _wait_for_preview_rows(
    page: Page, feed_url_page: str, titles: set[str]
) -> list[dict[str, str]]:
    """Reload the feed's page until its preview shows every one of `titles` (the worker mirrors
    and renders a sent event at its next pass)."""

    def shown() -> list[dict[str, str]] | None:
        page.goto(feed_url_page)
        rows = _preview_rows(page)
        found = {title for title in titles for row in rows if title in row["text"]}
        return rows if found == titles else None

    return wait_for(shown, f"{sorted(titles)} in the preview of {feed_url_page}", timeout=60)


def test_one_event_through_the_form(
    admin_page: Page, live_bridge: LiveBridge, expect_console: Callable[[str], None]
) -> None:
    target = _target(live_bridge, 1)
    page = admin_page
    page.goto(live_bridge.url + "/admin/events/new")
    check_layout(page, "event form")
    title = "Court hearing — form test"
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Calendar", exact=True).select_option(str(target.calendar.calendar_id))
    page.get_by_label("Case", exact=True).fill(target.case)
    page.get_by_label("Date", exact=True).fill("2026-03-29")
    page.get_by_label("Start time").fill("02:30")
    page.get_by_label("End time").fill("03:30")
    page.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    expect_console("status of 400")
    page.get_by_role("button", name="Queue the event").click()

    # Refused, in the form's own words: the label "Start time", not the CSV column start_time.
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The event was not queued")
    expect(alert).to_contain_text("Start time: 02:30 does not exist on 2026-03-29 in Europe/Berlin")
    expect(alert).not_to_contain_text("start_time")
    start_box = page.get_by_label("Start time")
    expect(start_box).to_have_attribute("aria-invalid", "true")
    described = page.locator(f"#{start_box.get_attribute('aria-describedby')}")
    expect(described).to_contain_text("clocks skip from 02:00 to 03:00")
    check_layout(page, "event form refused")

    day = _coming_day(2)
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("End time").fill("11:30")
    page.get_by_role("button", name="Queue the event").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Queued {title!r}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    _wait_for_finished_batch(page)
    check_layout(page, "batch of the form")

    rows = _wait_for_preview_rows(
        page, f"{live_bridge.url}/admin/feeds/{target.feed.feed_id}", {title}
    )
    (row,) = [row for row in rows if title in row["text"]]
    assert (row["start"], row["zone"]) == (f"{day.isoformat()}T10:00:00", "Europe/Berlin")
    served = _served_events(page.locator("#feed-url").inner_text())
    assert _local_start(served[row["uid"]]) == (row["start"], row["zone"])


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def test_an_upload_with_a_bad_row_fixed_from_the_downloaded_rows(
    admin_page: Page, live_bridge: LiveBridge, tmp_path: Path
) -> None:
    target = _target(live_bridge, 2)
    page = admin_page
    day = _coming_day(3)
    name = target.calendar.name
    # The person's own headings and order, as a spreadsheet of theirs would have them.
    header = ["Title", "Calendar", "Case", "Start Date", "Start Time", "End Time", "Timezone"]
    good = [
        [
            "Surveillance — upload test A",
            name,
            target.case,
            day.isoformat(),
            "08:00",
            "12:00",
            "Europe/Berlin",
        ],
        [
            "Interview — upload test B",
            name,
            target.case,
            day.isoformat(),
            "14:00",
            "15:00",
            "Europe/Berlin",
        ],
    ]
    bad = [
        "Report — upload test C",
        name,
        target.case,
        day.isoformat(),
        "16:00",
        "15:00",
        "Europe/Berlin",
    ]
    upload = tmp_path / "week-plan.csv"
    upload.write_bytes(_csv([header, good[0], bad, good[1]]))

    page.goto(live_bridge.url + "/admin/uploads")
    check_layout(page, "upload")
    page.get_by_label("File").set_input_files(upload)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("main")).to_contain_text("2 ready")
    expect(page.locator("main")).to_contain_text("1 with mistakes")
    check_layout(page, "upload preview")
    page.get_by_role("button", name="Queue the 2 ready events").click()

    # The batch lists every row, the one not sent with its mistake, and offers it to fix.
    expect(page.get_by_role("heading", level=1)).to_contain_text("week-plan.csv")
    not_sent = page.locator("tr", has_text="Report — upload test C")
    expect(not_sent).to_contain_text("not sent")
    expect(not_sent).to_contain_text("is before Start Time 16:00")
    _wait_for_finished_batch(page)
    check_layout(page, "batch of the upload")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these rows to fix").click()
    fix = tmp_path / "to-fix.csv"
    download.value.save_as(fix)
    rows = list(csv.reader(io.StringIO(fix.read_text("utf-8-sig"))))
    assert rows == [header, bad], "the bad row only, under the file's own headings"

    rows[1][5] = "17:00"  # the fix, in the downloaded file as it is
    fix.write_bytes(_csv(rows))
    page.goto(live_bridge.url + "/admin/uploads")
    page.get_by_label("File").set_input_files(fix)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("main")).to_contain_text("1 ready")
    page.get_by_role("button", name="Queue the 1 ready event").click()
    _wait_for_finished_batch(page)

    titles = {row[0] for row in [*good, rows[1]]}
    shown = _wait_for_preview_rows(
        page, f"{live_bridge.url}/admin/feeds/{target.feed.feed_id}", titles
    )
    starts = {row["start"] for row in shown if any(t in row["text"] for t in titles)}
    assert starts == {f"{day.isoformat()}T{clock}:00" for clock in ("08:00", "14:00", "16:00")}
