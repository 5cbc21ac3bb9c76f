"""Webhook delivery to a real receiver on a free port, which checks every signature: the body in
the bridge's words (instants, zones, local times, all-day dates, privacy), retries under the same
webhook-id on an injected clock (no waiting), giving up and replaying, 410, bounded timeouts, the
address rules at send time, a slow receiver holding back no other, and no secret in the logs."""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bridge.delivery.webhooks import (
    ALLOW_PRIVATE_SETTING,
    WebhookDeliverer,
    WebhookSettings,
    WebhookTargetError,
    check_target,
    deliver_due,
    is_public_address,
    new_secret,
    send_group,
)
from bridge.models import Address, Privacy
from bridge.store import NewItem, Store
from tests.support.events import make_event
from tests.support.processes import wait_for
from tests.support.webhook_receiver import Receiver, readme_verify, running_receiver

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
ALLOWED = WebhookSettings(allow_private=True, timeout=5.0, default_timezone="Europe/London")
ALL_TYPES = ["event.created", "event.updated", "event.deleted"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def subscribe(store: Store, receiver: Receiver, **options: object) -> int:
    receiver.secret = new_secret()
    values: dict[str, object] = {"event_types": ALL_TYPES, "privacy": Privacy.FULL, **options}
    added = store.add_subscription(receiver.url, receiver.secret, NOW, **values)  # type: ignore[arg-type]
    return added.subscription_id


def deliver(store: Store, at: datetime = NOW, settings: WebhookSettings = ALLOWED):  # type: ignore[no-untyped-def]
    return deliver_due(store, settings, holder="test", clock=lambda: at)


def test_created_updated_deleted_arrive_signed_in_the_bridges_words(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver)
    address = Address(address_1="1 Main St", city="Denver", state="CO", country="US")
    event = make_event(1, body="Gate code 4411", address=address)  # 10:00 UTC, Chicago
    store.apply_event_changes([event], [], NOW)
    store.apply_event_changes([dataclasses.replace(event, title="Moved")], [], NOW)
    store.apply_event_changes([], [1], NOW)
    attempts = deliver(store)

    assert [a.is_delivered for a in attempts] == [True, True, True]
    messages = receiver.received()
    assert all(m.is_verified for m in messages)
    assert len({m.webhook_id for m in messages}) == 3
    created, updated, deleted = (m.payload for m in messages)
    assert [created["type"], updated["type"], deleted["type"]] == [
        "event.created",
        "event.updated",
        "event.deleted",
    ]
    data = created["data"]
    assert (data["start"], data["end"]) == ("2030-01-01T10:00:00Z", "2030-01-01T11:30:00Z")
    assert (data["timezone"], data["local_start"]) == (
        "America/Chicago",
        "2030-01-01T04:00:00-06:00",
    )
    assert data["local_end"] == "2030-01-01T05:30:00-06:00" and data["all_day"] is False
    assert data["location"] == "1 Main St, Denver, CO, US"
    assert data["description"] == "Gate code 4411" and data["calendar"]["id"] == 1
    assert updated["changed"] == ["title"] and updated["data"]["title"] == "Moved"
    assert deleted["data"]["event_id"] == 1 and "changed" not in deleted
    assert created["timestamp"] == "2030-03-01T12:00:00Z"


def test_privacy_and_zones_all_day_as_dates_and_the_default_zone(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver, privacy=Privacy.LIMITED)
    allday = make_event(
        2,
        is_allday=True,
        timezone=None,  # no zone of its own: the default (Europe/London) shows it
        start_at=datetime(2030, 7, 4, 0, 0, tzinfo=UTC),
        end_at=datetime(2030, 7, 5, 23, 59, 59, tzinfo=UTC),
        body="Not for limited",
    )
    store.apply_event_changes([allday], [], NOW)
    deliver(store)
    (message,) = receiver.received()
    data = message.payload["data"]
    assert (data["first_day"], data["last_day"]) == ("2030-07-04", "2030-07-05")
    assert data["timezone"] == "Europe/London" and "local_start" not in data
    assert "description" not in data and "case" not in data
    assert data["start"] == "2030-07-04T00:00:00Z"


def test_a_500_then_200_is_delivered_under_the_same_id_on_an_injected_clock(
    store: Store, receiver: Receiver
) -> None:
    subscription_id = subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    receiver.answers = [500]
    (failed,) = deliver(store)
    assert (failed.status, failed.error, failed.gave_up) == (
        500,
        "the receiver answered 500",
        False,
    )
    assert deliver(store) == []  # backing off: not due yet at the same instant
    retry_at = store.get_delivery(failed.delivery_id).next_attempt_at
    assert NOW + timedelta(seconds=2) <= retry_at <= NOW + timedelta(seconds=5)

    (done,) = deliver(store, retry_at)
    assert done.is_delivered
    first, second = receiver.received()
    assert first.webhook_id == second.webhook_id == failed.message_id
    assert first.body == second.body and first.is_verified and second.is_verified
    health = store.get_subscription(subscription_id)
    assert (health.backlog, health.last_success_at) == (0, retry_at)
    assert store.get_delivery(failed.delivery_id).attempts == 2


def test_after_the_retry_window_it_is_failed_and_a_replay_sends_the_same_id(
    store: Store, receiver: Receiver
) -> None:
    subscription_id = subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    receiver.answers = [503, 503]
    deliver(store)
    late = NOW + ALLOWED.retry_for
    (last,) = deliver(store, late)
    assert last.gave_up and store.get_delivery(last.delivery_id).state == "failed"
    assert store.get_subscription(subscription_id).failed == 1
    assert deliver(store, late + timedelta(days=1)) == []

    assert store.replay_deliveries(late, subscription_id=subscription_id) == 1
    (replayed,) = deliver(store, late)
    assert replayed.is_delivered
    ids = {m.webhook_id for m in receiver.received()}
    assert ids == {last.message_id} and len(receiver.received()) == 3


def test_a_410_disables_the_subscription(store: Store, receiver: Receiver) -> None:
    subscription_id = subscribe(store, receiver)
    store.apply_event_changes([make_event(1), make_event(2)], [], NOW)
    receiver.answers = [410]
    (gone,) = deliver(store)
    assert gone.disabled
    disabled = store.get_subscription(subscription_id)
    assert not disabled.is_active and "410" in (disabled.disabled_reason or "")
    assert deliver(store, NOW + timedelta(days=1)) == [] and len(receiver.received()) == 1


def test_a_receiver_that_does_not_answer_times_out_within_the_bound(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    release = receiver.hold()
    try:
        (attempt,) = deliver(store, settings=WebhookSettings(allow_private=True, timeout=0.5))
    finally:
        release.set()
    assert attempt.error == "timed out (waiting for the answer)" and attempt.status is None
    assert store.get_delivery(attempt.delivery_id).state == "pending"


def test_private_addresses_are_refused_at_send_time_without_the_setting(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    (refused,) = deliver(store, settings=WebhookSettings(allow_private=False))
    assert refused.error is not None and "plain http is refused" in refused.error
    assert receiver.received() == []

    with pytest.raises(WebhookTargetError) as caught:
        check_target("https://127.0.0.1:8443/hook", allow_private=False)
    assert ALLOW_PRIVATE_SETTING in caught.value.describe()
    assert "127.0.0.1" in caught.value.message
    with pytest.raises(WebhookTargetError, match="resolves to ::1"):
        check_target("https://[::1]:8443/hook", allow_private=False)
    for address in ("10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "::ffff:127.0.0.1",
                    "fe80::1", "100.64.0.1", "0.0.0.0", "fd00::1"):  # fmt: skip
        assert not is_public_address(address), address
    assert is_public_address("93.184.216.34") and is_public_address("2606:4700::1111")


def test_a_slow_receiver_holds_back_no_other_in_the_workers_sender(store: Store) -> None:
    with running_receiver() as slow, running_receiver() as quick:
        subscribe(store, slow)
        subscribe(store, quick)
        release = slow.hold()
        deliverer = WebhookDeliverer(store, ALLOWED, holder="worker test")
        deliverer.start()
        try:
            store.apply_event_changes([make_event(1)], [], datetime.now(UTC))
            deliverer.wake()
            wait_for(slow.held.is_set, "the slow receiver to hold its request")
            wait_for(quick.received, "the quick receiver's message while the slow one holds")
        finally:
            release.set()
            wait_for(slow.received, "the slow receiver's message once released")
            deliverer.stop()
        assert [m.is_verified for m in quick.received() + slow.received()] == [True, True]


def test_no_secret_in_the_logs(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    receiver.answers = [500]
    with caplog.at_level(logging.DEBUG):
        deliver(store)
        deliver(store, NOW + ALLOWED.retry_for)
    assert "webhook delivery" in caplog.text
    assert receiver.secret not in caplog.text
    assert receiver.secret.removeprefix("whsec_") not in caplog.text


def test_the_readmes_verify_refuses_a_changed_body_another_secret_and_an_old_message(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver)
    store.apply_event_changes([make_event(1)], [], NOW)
    deliver(store)
    (message,) = receiver.received()
    headers = {
        "webhook-id": message.webhook_id,
        "webhook-timestamp": message.timestamp,
        "webhook-signature": message.signature,
    }
    verify = readme_verify()
    assert verify(receiver.secret, headers, message.body)
    assert not verify(receiver.secret, headers, message.body.replace(b"Surveillance", b"Lunch"))
    assert not verify(new_secret(), headers, message.body)
    old = {**headers, "webhook-timestamp": str(int(message.timestamp) - 3600)}
    assert not verify(receiver.secret, old, message.body)


def test_new_secrets_are_whsec_base64_of_24_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


def test_deliveries_do_not_race_the_sender_stopping(store: Store, receiver: Receiver) -> None:
    """A sender asked to stop claims nothing more; what it claimed and did not try is due again
    at once for the next worker (same id)."""
    subscribe(store, receiver)
    store.apply_event_changes([make_event(1), make_event(2)], [], NOW)
    claimed = store.claim_due_deliveries(NOW, "worker A")
    stop = threading.Event()
    stop.set()
    assert send_group(store, ALLOWED, claimed, lambda: NOW, stop.is_set) == []
    again = store.claim_due_deliveries(NOW, "worker A")
    assert [d.delivery.message_id for d in again] == [d.delivery.message_id for d in claimed]


def test_a_finished_batch_arrives_with_its_counts_and_created_events(
    store: Store, receiver: Receiver
) -> None:
    subscribe(store, receiver, event_types=["batch.finished", "event.created"])
    item = NewItem(1, "Row 1", "key-1", "Hearing", {"event": {"title": "Hearing"}})
    queued = store.queue_batch(
        batch_key="c" * 64, source="form", label="Form entry", total=1, ready=1, invalid=0,
        items=[item], at=NOW,
    )  # fmt: skip
    claimed = store.claim_next_item(NOW)
    assert claimed is not None
    store.mark_item_sent(claimed.item_id, make_event(77, title="Hearing"), NOW)
    deliver(store)
    created, finished = (m.payload for m in receiver.received())  # in the order they happened
    assert (created["type"], created["data"]["event_id"]) == ("event.created", 77)
    assert finished["type"] == "batch.finished"
    batch = finished["data"]
    assert (batch["batch_id"], batch["source"], batch["sent"], batch["failed"]) == (
        queued.batch.batch_id,
        "form",
        1,
        0,
    )
    assert batch["event_ids"] == [77] and batch["finished_at"] == "2030-03-01T12:00:00Z"
