"""The webhooks page: subscriptions and their recent deliveries (state, attempts, next try, last
answer), replays behind the login and the CSRF check, and never the secret."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import Privacy
from bridge.store import Store, open_store
from tests.support.events import make_event
from tests.support.web import hidden, make_settings

SECRET = "whsec_dGhpcyBpcyB0aGUgc2lnbmluZyBzZWNyZXQ="
LONG_URL = "https://hooks.example-investigations.com/" + "very-long-path-segment/" * 8 + "in"


@pytest.fixture
def store_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
    return url


@pytest.fixture
def web_settings() -> Settings:
    return make_settings()


def failed_and_delivered(db: Store) -> tuple[int, int, int]:
    """A subscription with one delivery given up on and one delivered: their ids."""
    now = datetime.now(UTC)
    subscription = db.add_subscription(
        LONG_URL + "?token=abc", SECRET, now, event_types=["event.created"], privacy=Privacy.BUSY
    )
    db.apply_event_changes([make_event(1), make_event(2)], [], now)
    first, second = db.claim_due_deliveries(now, "worker")
    db.record_failed_attempt(
        first.delivery.delivery_id, now, status=503, error="the receiver answered 503",
        next_attempt_at=None,
    )  # fmt: skip
    db.record_delivered(second.delivery.delivery_id, now, 204)
    return subscription.subscription_id, first.delivery.delivery_id, second.delivery.delivery_id


def test_the_page_shows_health_and_deliveries_and_never_the_secret(
    db: Store, admin: FlaskClient
) -> None:
    assert "No webhook subscriptions yet" in admin.get("/admin/webhooks").get_data(as_text=True)
    subscription_id, failed, delivered = failed_and_delivered(db)
    page = admin.get("/admin/webhooks").get_data(as_text=True)
    assert SECRET not in page and SECRET.removeprefix("whsec_") not in page
    assert "?token=abc" not in page  # the query string may carry a receiver's own token
    assert LONG_URL in page and 'class="url"' in page  # wraps on a phone
    assert f'data-subscription-id="{subscription_id}" data-state="active"' in page
    assert 'data-backlog="0" data-failed="1"' in page
    assert f'data-delivery-id="{failed}" data-state="failed"' in page
    assert f'data-delivery-id="{delivered}" data-state="delivered"' in page
    assert "the receiver answered 503" in page and ">204<" in page
    assert "Replay 1 failed" in page and 'aria-label="Replay delivery' in page
    assert 'href="/admin/webhooks"' in page  # in the navigation

    one = admin.get(f"/admin/webhooks?subscription={subscription_id}")
    assert one.status_code == 200 and f"Deliveries to #{subscription_id}" in one.get_data(
        as_text=True
    )
    assert admin.get("/admin/webhooks?subscription=99").status_code == 404


def test_replay_needs_the_form_token_and_keeps_the_webhook_id(
    db: Store, admin: FlaskClient
) -> None:
    subscription_id, failed, _ = failed_and_delivered(db)
    message_id = db.get_delivery(failed).message_id
    refused = admin.post(f"/admin/webhooks/deliveries/{failed}/replay")
    assert refused.status_code == 400 and db.get_delivery(failed).state == "failed"

    token = hidden(admin.get("/admin/webhooks"), "csrf_token")
    replayed = admin.post(
        f"/admin/webhooks/deliveries/{failed}/replay",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "queued again, with the same webhook-id" in replayed.get_data(as_text=True)
    again = db.get_delivery(failed)
    assert (again.state, again.message_id) == ("pending", message_id)

    none_left = admin.post(
        f"/admin/webhooks/{subscription_id}/replay",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "No failed deliveries to replay" in none_left.get_data(as_text=True)
    unknown = admin.post("/admin/webhooks/deliveries/999/replay", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_the_page_needs_the_login(db: Store, web: FlaskClient) -> None:
    failed_and_delivered(db)
    response = web.get("/admin/webhooks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
