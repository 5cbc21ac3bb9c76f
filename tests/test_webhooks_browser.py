"""The webhooks page in Chromium against the bridge as deployed (gunicorn, worker, sandbox): at
390 px nothing scrolls sideways, however long a receiver's URL; a failed delivery is replayed
with its button (CSRF and all) and keeps its webhook-id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from bridge.models import FeedEvent
from bridge.store.webhooks import EventChange, queue_event_messages
from tests.support.browser import LiveBridge, check_layout
from tests.support.events import make_event

# A loopback receiver: the live worker (not allowed private addresses) refuses to send to it,
# so nothing leaves this machine; the path is long enough to overflow a phone if not wrapped.
URL = "https://127.0.0.1:9/" + "a-very-long-path-segment-without-any-break/" * 3 + "in"


@pytest.fixture
def failed_delivery(live_bridge: LiveBridge) -> Iterator[tuple[int, int, str]]:
    """A subscription with one failed and one delivered delivery: (subscription, failed
    delivery, its webhook-id); removed afterwards. Queued a day ahead, so the live worker
    leaves them to this test."""
    ahead = datetime.now(UTC) + timedelta(days=1)
    with live_bridge.store() as store:
        subscription = store.add_subscription(
            URL, "whsec_YnJvd3NlciBzdWl0ZQ==", ahead, event_types=["event.created"]
        )
        changes = [
            EventChange("event.created", None, FeedEvent(make_event(event_id), sequence=0))
            for event_id in (990_001, 990_002)
        ]
        with store._transaction(write=True) as conn:
            queue_event_messages(conn, changes, ahead)
        first, second = store.claim_due_deliveries(ahead, "browser test")
        store.record_failed_attempt(
            first.delivery.delivery_id, ahead, status=500, error="the receiver answered 500",
            next_attempt_at=None,
        )  # fmt: skip
        store.record_delivered(second.delivery.delivery_id, ahead, 204)
        try:
            yield (
                subscription.subscription_id,
                first.delivery.delivery_id,
                first.delivery.message_id,
            )
        finally:
            store.remove_subscription(subscription.subscription_id)


def test_the_webhooks_page_fits_a_phone_and_replays_a_failed_delivery(
    admin_page: Page, live_bridge: LiveBridge, failed_delivery: tuple[int, int, str]
) -> None:
    subscription_id, delivery_id, message_id = failed_delivery
    admin_page.goto(live_bridge.url + "/admin/webhooks")
    expect(admin_page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    row = admin_page.locator(f'tr[data-delivery-id="{delivery_id}"]')
    expect(row).to_have_attribute("data-state", "failed")
    expect(row).to_contain_text("the receiver answered 500")
    check_layout(admin_page, "webhooks")

    admin_page.set_viewport_size({"width": 390, "height": 844})
    admin_page.get_by_role("button", name=f"Replay delivery {delivery_id}").click()
    expect(admin_page.get_by_role("status")).to_contain_text("queued again")
    replayed = admin_page.locator(f'tr[data-delivery-id="{delivery_id}"]')
    expect(replayed).not_to_have_attribute("data-state", "failed")
    expect(replayed).to_have_attribute("data-webhook-id", message_id)
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(admin_page.locator(f'tr[data-subscription-id="{subscription_id}"]')).to_be_visible()
