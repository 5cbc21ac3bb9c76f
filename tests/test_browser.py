"""The admin pages in a real browser (Debian's Chromium through Playwright) against the bridge as
deployed (sandbox, worker and gunicorn web, one SQLite file): what a person does, page by page,
each page checked at 390 px and 1280 px wide, with no console error on any of them.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from bridge.models import FeedKind
from tests.support.browser import (
    DESKTOP,
    TIMEOUT_MS,
    Console,
    LiveBridge,
    check_layout,
    log_in,
)


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
