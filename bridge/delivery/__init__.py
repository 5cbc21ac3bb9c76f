"""Push: the second reader of each pass's changes (CalDAV destinations per feed, webhooks).

Entry points for the worker: ``push_after_pass(store, settings)``; it never raises, so a
destination that is down or refusing never fails a pass, polling or serving.
``WebhookDeliverer``: the thread that sends webhooks from the store's queue, woken after each
pass.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bridge.config import Settings
from bridge.delivery.caldav import PushOutcome, PushSettings, push_destination, push_due
from bridge.delivery.webhooks import WebhookDeliverer
from bridge.store import Store, StoreError

log = logging.getLogger(__name__)

__all__ = [
    "PushOutcome",
    "PushSettings",
    "WebhookDeliverer",
    "push_after_pass",
    "push_destination",
    "push_due",
]


def push_settings(settings: Settings) -> PushSettings:
    return PushSettings(
        account=settings.account,
        default_timezone=settings.default_timezone,
        feed_past_days=settings.feed_past_days,
        timeout=settings.http_timeout,
    )


def push_after_pass(store: Store, settings: PushSettings) -> None:
    """Push every destination whose feed changed (or that is catching up); log, never raise.

    ``settings`` are the worker's own, so a destination gets events in the zones its feed is
    rendered with. A StoreError is re-raised: the worker waits the database out like any other
    pass.
    """
    try:
        if not store.list_destinations():
            return
        outcomes = push_due(store, settings, datetime.now(UTC))
    except StoreError:
        raise
    except Exception:
        # A bug in pushing must not stop the mirror: log it whole, go on.
        log.exception("pushing to destinations failed unexpectedly")
        return
    for outcome in outcomes:
        if outcome.put or outcome.deleted or outcome.error:
            log.info("push %s", outcome.summary())
        for note in outcome.notes:
            log.warning("push destination %d: %s", outcome.destination_id, note)
