"""`webhooks` commands: signed webhook subscriptions (add, list, log, replay, remove), thin over
bridge.delivery.webhooks and the store's queue. The worker sends; these never do."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bridge.assembly import open_current_store
from bridge.cli.app import current_settings, main, print_json, reports_errors
from bridge.delivery.caldav import display_url
from bridge.delivery.webhooks import check_target, describe_subscription, new_secret
from bridge.errors import BridgeError
from bridge.models import Privacy
from bridge.store import Store
from bridge.store.webhooks import EVENT_TYPES, Delivery, Subscription


@main.group()
def webhooks() -> None:
    """Signed webhooks (Standard Webhooks) for event changes and finished batches.

    The worker sends each change after the pass that saw it, retrying for a day.
    """


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--types",
    default=",".join(EVENT_TYPES),
    show_default=True,
    help="Comma-separated event types to send.",
)
@click.option("--calendar", "calendar_id", type=int, help="Only events of this calendar id.")
@click.option("--staff", "staff_id", type=int, help="Only events of this staff member's id.")
@click.option(
    "--privacy",
    type=click.Choice([p.value for p in Privacy]),
    help="What each event shows, as for feeds (default: BRIDGE_DEFAULT_PRIVACY).",
)
@reports_errors
def webhooks_add(
    url: str, types: str, calendar_id: int | None, staff_id: int | None, privacy: str | None
) -> None:
    """Send signed webhooks to URL; prints the subscription's id and its secret, once."""
    settings = current_settings()
    event_types = _event_types(types)
    check_target(url, allow_private=settings.webhooks_allow_private)
    with open_current_store(settings) as store:
        _check_filters(store, calendar_id, staff_id)
        added = store.add_subscription(
            url,
            new_secret(),
            datetime.now(UTC),
            event_types=event_types,
            calendar_id=calendar_id,
            staff_id=staff_id,
            privacy=Privacy(privacy) if privacy else settings.default_privacy,
        )
    click.echo(f"{describe_subscription(added)}: receives the changes made from now on")
    click.echo("Its signing secret, shown this once (the receiver checks webhook-signature):")
    click.echo(added.secret)


def _event_types(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown or not chosen:
        raise BridgeError(
            f"unknown event type {unknown[0]!r}" if unknown else "no event type given",
            advice=f"choose from {', '.join(EVENT_TYPES)}",
        )
    return chosen


def _check_filters(store: Store, calendar_id: int | None, staff_id: int | None) -> None:
    if calendar_id is not None and store.get_calendar(calendar_id) is None:
        raise BridgeError(
            f"no calendar {calendar_id} in the mirror",
            advice="`trackops-bridge calendars` lists the calendars seen in Trackops",
        )
    if staff_id is not None and staff_id not in {s.staff_id for s in store.list_staff()}:
        raise BridgeError(
            f"no staff member {staff_id} in the mirror",
            advice="give the Trackops id of a staff member (the feeds page lists them)",
        )


def _row(subscription: Subscription) -> dict[str, object]:
    if subscription.is_active:
        state = "failing" if subscription.last_error and subscription.backlog else "active"
    else:
        state = f"disabled: {subscription.disabled_reason}"
    return {
        "id": subscription.subscription_id,
        "url": display_url(subscription.url),
        "types": list(subscription.event_types),
        "calendar": subscription.calendar_id,
        "staff": subscription.staff_id,
        "privacy": subscription.privacy.value,
        "state": state,
        "last_success": _iso(subscription.last_success_at),
        "last_error": subscription.last_error,
        "backlog": subscription.backlog,
        "failed": subscription.failed,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def webhooks_list(as_json: bool) -> None:
    """Subscriptions: id, url, types, state, last success, last error, backlog (no secret)."""
    with open_current_store(current_settings()) as store:
        rows = [_row(subscription) for subscription in store.list_subscriptions()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No webhook subscriptions: add one with `trackops-bridge webhooks add URL`.")
    for row in rows:
        filters = "".join(
            f" {name} {row[name]}" for name in ("calendar", "staff") if row[name] is not None
        )
        click.echo(
            f"{row['id']:>4}  {row['state']:<10} backlog {row['backlog']:<4} failed "
            f"{row['failed']:<4} last ok {row['last_success'] or '-'}  {row['url']}\n"
            f"      {','.join(row['types'])}{filters} ({row['privacy']})"  # type: ignore[arg-type]
            + (f"\n      last error: {row['last_error']}" if row["last_error"] else "")
        )


def _delivery_row(delivery: Delivery) -> dict[str, object]:
    return {
        "id": delivery.delivery_id,
        "subscription": delivery.subscription_id,
        "webhook_id": delivery.message_id,
        "type": delivery.event_type,
        "subject": delivery.subject_key,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt": _iso(delivery.next_attempt_at) if delivery.state == "pending" else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created": _iso(delivery.created_at),
    }


@webhooks.command("log")
@click.argument("subscription_id", type=int, required=False)
@click.option("--failed", "only_failed", is_flag=True, help="Only deliveries given up on.")
@click.option("--limit", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def webhooks_log(subscription_id: int | None, only_failed: bool, limit: int, as_json: bool) -> None:
    """Recent deliveries, newest first (of one subscription): state, attempts, last answer."""
    with open_current_store(current_settings()) as store:
        if subscription_id is not None:
            store.get_subscription(subscription_id)
        deliveries = store.list_deliveries(
            subscription_id=subscription_id,
            states=["failed"] if only_failed else None,
            limit=limit,
        )
    rows = [_delivery_row(delivery) for delivery in deliveries]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No deliveries.")
    for row in rows:
        answer = row["last_error"] or (f"answered {row['last_status']}" if row["attempts"] else "")
        click.echo(
            f"{row['id']:>6}  sub {row['subscription']:<3} {row['type']:<15} {row['subject']:<14}"
            f" {row['state']:<9} attempts {row['attempts']:<3} {answer}"
            + (f" (next {row['next_attempt']})" if row["next_attempt"] else "")
        )


@webhooks.command("replay")
@click.argument("delivery_id", type=int, required=False)
@click.option(
    "--subscription", "subscription_id", type=int, help="Every failed delivery of this one."
)
@reports_errors
def webhooks_replay(delivery_id: int | None, subscription_id: int | None) -> None:
    """Queue a failed delivery again (DELIVERY_ID, from `webhooks log --failed`), or every
    failed delivery of a subscription (--subscription ID); same webhook-id, a fresh day of
    retries. The worker sends them at its next look (within seconds)."""
    one_of = BridgeError(
        "give a DELIVERY_ID or --subscription ID, not both",
        advice="`trackops-bridge webhooks log --failed` lists the failed deliveries",
    )
    if delivery_id is not None and subscription_id is not None:
        raise one_of
    now = datetime.now(UTC)
    with open_current_store(current_settings()) as store:
        if delivery_id is not None:
            delivery = store.get_delivery(delivery_id)
            if delivery.state != "failed":
                raise BridgeError(
                    f"delivery {delivery_id} is {delivery.state}, not failed: nothing to replay",
                    advice="only deliveries given up on are replayed; pending ones are retried",
                )
            subscription_id = delivery.subscription_id
        elif subscription_id is None:
            raise one_of
        subscription = store.get_subscription(subscription_id)
        if not subscription.is_active:
            raise BridgeError(
                f"subscription {subscription_id} is disabled ({subscription.disabled_reason})",
                advice="its receiver said it is gone: add the URL again once it is back",
            )
        if delivery_id is not None:
            queued = store.replay_deliveries(now, delivery_id=delivery_id)
        else:
            queued = store.replay_deliveries(now, subscription_id=subscription_id)
    click.echo(f"{queued} deliveries queued again; the worker sends them within seconds")


@webhooks.command("remove")
@click.argument("subscription_id", type=int)
@reports_errors
def webhooks_remove(subscription_id: int) -> None:
    """Stop sending to subscription ID and forget its deliveries."""
    with open_current_store(current_settings()) as store:
        store.remove_subscription(subscription_id)
    click.echo(f"webhook subscription {subscription_id} removed")
