"""The webhooks page: each subscription's health and its recent deliveries, with replay.

Entry point: the ``webhooks`` blueprint (``GET /admin/webhooks``, ``?subscription=ID`` for one
subscription's log; ``POST`` replays, CSRF-checked like every admin form). Behind the login; a
subscription's secret is never on it (it is shown once, by ``trackops-bridge webhooks add``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bridge.delivery.caldav import display_url
from bridge.errors import NotFound
from bridge.store.webhooks import FAILED
from bridge.web.context import current_store

bp = Blueprint("webhooks", __name__)

RECENT_DELIVERIES = 50


@bp.get("/admin/webhooks")
def webhooks() -> str:
    store = current_store()
    chosen = request.args.get("subscription", "")
    subscription_id = int(chosen) if chosen.isdigit() else None
    subscriptions = store.list_subscriptions()
    if subscription_id is not None and subscription_id not in {
        s.subscription_id for s in subscriptions
    }:
        abort(404)
    return render_template(
        "admin/webhooks.html",
        subscriptions=subscriptions,
        urls={s.subscription_id: display_url(s.url) for s in subscriptions},
        deliveries=store.list_deliveries(subscription_id=subscription_id, limit=RECENT_DELIVERIES),
        chosen=subscription_id,
        failed_state=FAILED,
    )


@bp.post("/admin/webhooks/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id: int) -> Response:
    store = current_store()
    try:
        delivery = store.get_delivery(delivery_id)
        subscription = store.get_subscription(delivery.subscription_id)
    except NotFound:
        abort(404)
    if not subscription.is_active:
        flash(
            f"Subscription {subscription.subscription_id} is disabled: nothing was queued.",
            "warning",
        )
    elif store.replay_deliveries(datetime.now(UTC), delivery_id=delivery_id):
        flash(f"Delivery {delivery_id} queued again, with the same webhook-id.")
    else:
        flash(f"Delivery {delivery_id} had not failed: nothing to replay.", "warning")
    return redirect(_back(delivery.subscription_id))


@bp.post("/admin/webhooks/<int:subscription_id>/replay")
def replay_subscription(subscription_id: int) -> Response:
    store = current_store()
    try:
        subscription = store.get_subscription(subscription_id)
    except NotFound:
        abort(404)
    if not subscription.is_active:
        flash(f"Subscription {subscription_id} is disabled: nothing was queued.", "warning")
        return redirect(_back(subscription_id))
    queued = store.replay_deliveries(datetime.now(UTC), subscription_id=subscription_id)
    if queued:
        flash(f"{queued} failed deliveries queued again; the worker sends them within seconds.")
    else:
        flash("No failed deliveries to replay.", "warning")
    return redirect(_back(subscription_id))


def _back(subscription_id: int) -> str:
    return url_for("webhooks.webhooks", subscription=subscription_id)
