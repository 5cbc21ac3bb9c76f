"""The event form's "Case service" in Chromium against the bridge as deployed (gunicorn, worker,
sandbox): typing a case fills the list with that case's known services, a listed one hides the
box for another and is what is sent; a case the mirror knows no service of gets the box alone;
at 390 px nothing scrolls sideways, however long a service's latest title."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from bridge.web.event_form import case_value, service_label
from tests.support.browser import LiveBridge, check_layout

# The text box's name, alone (no list) and beside the list.
ONLY_BOX = "Case service (optional: its Trackops id)"
ANOTHER_BOX = "Another case service (optional: its Trackops id)"


def test_the_list_follows_the_case_and_sends_the_chosen_service(
    admin_page: Page, live_bridge: LiveBridge
) -> None:
    with live_bridge.store() as store:
        services = store.case_services()
        cases = store.list_cases()
        calendar = store.list_calendars()[0]
    served = next(c for c in cases if c.case_id in services)
    quiet = [c for c in cases if c.case_id not in services]
    assert quiet, "the sandbox's seed has a case whose events name no service"
    known = services[served.case_id]

    page = admin_page
    page.goto(live_bridge.url + "/admin/events/new")
    choice, other = page.locator("#service_choice"), page.locator("#service")
    expect(choice).to_be_hidden()
    expect(page.get_by_label(ONLY_BOX, exact=True)).to_be_visible()

    page.get_by_label("Case", exact=True).fill(case_value(served))
    expect(choice).to_be_visible()
    shown = [o.strip() for o in choice.locator("option").all_inner_texts()]
    assert shown == ["— none, or another below —", *(service_label(s) for s in known)]
    expect(page.get_by_label(ANOTHER_BOX, exact=True)).to_be_visible()
    expect(page.get_by_label(ONLY_BOX, exact=True)).to_have_count(0)
    check_layout(page, "event form, case services")

    chosen = known[-1]
    choice.select_option(str(chosen.case_service_id))
    expect(other).to_be_hidden()
    expect(other).to_be_disabled()
    choice.select_option("")
    expect(other).to_be_visible()

    page.get_by_label("Case", exact=True).fill(case_value(quiet[0]))
    expect(choice).to_be_hidden()
    expect(page.get_by_label(ONLY_BOX, exact=True)).to_be_visible()
    expect(other).to_be_enabled()

    page.get_by_label("Case", exact=True).fill(case_value(served))
    choice.select_option(str(chosen.case_service_id))
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    page.get_by_label("Title", exact=True).fill("Case service — browser test")
    page.get_by_label("Calendar", exact=True).select_option(str(calendar.calendar_id))
    page.get_by_label("Date", exact=True).fill(day.isoformat())
    page.get_by_label("Start time").fill("10:00")
    page.get_by_role("button", name="Queue the event").click()
    expect(page.get_by_role("status").first).to_contain_text("Queued ")
    found = re.search(r"/admin/batches/(\d+)$", page.url)
    assert found, page.url
    with live_bridge.store() as store:
        (item,) = store.batch_progress(int(found.group(1))).items
    assert item.body["event"]["casefile_id"] == served.case_id
    assert item.body["event"]["case_service_id"] == chosen.case_service_id
