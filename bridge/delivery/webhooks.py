"""Webhooks: each queued change as a signed POST, the way the Standard Webhooks spec says.

Entry points: ``deliver_due()`` (every delivery due now, in rounds, until none is left: the CLI
and the tests), ``WebhookDeliverer`` (the same from a thread of the worker, woken after each pass
and by its own clock, one sender per subscription, so a slow receiver holds back nobody),
``check_target()`` (the address rules, at ``add`` time and before every send) and
``new_secret()``. The queue is the store's (``bridge.store.webhooks``); the body is made here, at
send time, from the facts stored with the change, the subscription's privacy and the zones.

Signing is ``standardwebhooks``, the spec's reference library (no dependencies of its own): the
code receivers are pointed to, so the two sides cannot drift apart.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from standardwebhooks.webhooks import Webhook

from bridge.config import Settings
from bridge.delivery.caldav import backoff_delay, display_url
from bridge.errors import BridgeError, WebhookTargetError
from bridge.feeds.blocks import allday_dates
from bridge.feeds.zones import WALL_CLOCK_YEARS, known_zone
from bridge.models import Privacy
from bridge.store import Store, StoreError
from bridge.store.webhooks import VISIBLE_FIELDS, DueDelivery, Subscription

log = logging.getLogger(__name__)

ALLOW_PRIVATE_SETTING = "BRIDGE_WEBHOOKS_ALLOW_PRIVATE"
# Retries: doubling from the base, capped, half of each wait jitter (as CalDAV destinations).
RETRY_BASE = timedelta(seconds=5)
RETRY_CAP = timedelta(hours=1)
# Waiting for a connection is bounded apart from waiting for the answer: an address that
# swallows packets must not cost the whole answer timeout.
CONNECT_TIMEOUT = 5.0
# How often the worker's sender looks at the queue on its own (changes queued by another
# process, a retry falling due); a pass wakes it at once.
LOOK_INTERVAL = 5.0
# Deliveries done long ago are forgotten; failed ones are kept a month to be replayed.
KEEP_DELIVERED = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)
PRUNE_INTERVAL = timedelta(hours=1)
# Receivers sent to at once by the worker, each its own subscription's deliveries in order.
SENDERS = 4
_USER_AGENT = "trackops-bridge (webhooks)"


@dataclass(frozen=True)
class WebhookSettings:
    """What sending needs of the settings."""

    allow_private: bool = False
    retry_for: timedelta = timedelta(days=1)
    timeout: float = 10.0
    default_timezone: str = "UTC"


def webhook_settings(settings: Settings) -> WebhookSettings:
    return WebhookSettings(
        allow_private=settings.webhooks_allow_private,
        retry_for=timedelta(seconds=settings.webhooks_retry_for),
        timeout=settings.webhooks_timeout,
        default_timezone=settings.default_timezone,
    )


def new_secret() -> str:
    """A signing secret as the spec writes it: ``whsec_`` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


# -- where a message may go -------------------------------------------------------------------


def check_url(url: str, *, allow_private: bool) -> None:
    """The URL's shape: http(s) with a host, no credentials in it; plain http only where
    private receivers are allowed (a public one would get people's schedules unencrypted)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookTargetError(
            f"not a webhook URL: {url!r}",
            advice="give the receiver's full address, e.g. https://hooks.example.com/trackops",
        )
    if parts.username or parts.password:
        raise WebhookTargetError(
            "the URL carries a user name or password",
            advice="receivers check the signature instead; give the URL without them",
        )
    if parts.scheme == "http" and not allow_private:
        raise WebhookTargetError(
            f"plain http is refused for {display_url(url)}",
            advice=f"use https, or set {ALLOW_PRIVATE_SETTING}=1 for a receiver on your own "
            "network",
        )


def check_target(url: str, *, allow_private: bool) -> list[str]:
    """The receiver's addresses, every one checked: none may be loopback, private, link-local
    or otherwise not on the public internet, unless ``allow_private``. Raises
    WebhookTargetError naming the address and the setting."""
    check_url(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise WebhookTargetError(
            f"cannot resolve {host}: {reason}", advice="check the receiver's host name"
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise WebhookTargetError(
                    f"{host} resolves to {address}, a loopback, private or link-local address: "
                    "refused",
                    advice=f"set {ALLOW_PRIVATE_SETTING}=1 to allow receivers on your own network",
                )
    return addresses


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip.is_global and not ip.is_multicast


# -- the body ---------------------------------------------------------------------------------


def render_body(
    event_type: str,
    facts: dict[str, Any],
    created_at: datetime,
    privacy: Privacy,
    default_timezone: str,
) -> bytes:
    """The JSON body: ``type``, ``timestamp`` (when the change was seen), ``data`` and, for an
    update, ``changed`` (the fields it shows that changed). Deterministic: every attempt of a
    delivery sends the same bytes."""
    payload: dict[str, Any] = {"type": event_type, "timestamp": _iso(created_at)}
    if event_type == "batch.finished":
        payload["data"] = facts["batch"]
    else:
        payload["data"] = event_data(facts["event"], privacy, default_timezone)
        if event_type == "event.updated":
            shown = VISIBLE_FIELDS[privacy]
            payload["changed"] = [name for name in facts["changed"] if name in shown]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def event_data(facts: dict[str, Any], privacy: Privacy, default_timezone: str) -> dict[str, Any]:
    """The event in the bridge's words: UTC instants, the IANA zone it is shown in (its own,
    else its calendar's, else the default), local start and end in that zone, or for an
    all-day event its first and last day; only the fields ``privacy`` shows."""
    start = _instant(facts["start_at"])
    end = _instant(facts["end_at"])
    zone = known_zone(facts["timezone"]) or known_zone(facts["calendar_timezone"])
    zone = zone or default_timezone
    if start.year not in WALL_CLOCK_YEARS or end.year not in WALL_CLOCK_YEARS:
        zone = "UTC"  # a typing slip of a year: no wall clock speaks for it
    data: dict[str, Any] = {
        "event_id": facts["event_id"],
        "title": "Busy" if privacy is Privacy.BUSY else facts["title"],
        "start": facts["start_at"],
        "end": facts["end_at"],
        "timezone": zone,
        "all_day": facts["is_allday"],
        "calendar": facts["calendar"],
        "staff": facts["staff"],
        "created_at": facts["created_at"],
        "updated_at": facts["updated_at"],
        "sequence": facts["sequence"],
    }
    if facts["is_allday"]:
        first, after_last = allday_dates(start, end, ZoneInfo(zone))
        data["first_day"] = first.isoformat()
        data["last_day"] = (after_last - timedelta(days=1)).isoformat()
    else:
        data["local_start"] = start.astimezone(ZoneInfo(zone)).isoformat()
        data["local_end"] = end.astimezone(ZoneInfo(zone)).isoformat()
    if privacy is not Privacy.BUSY:
        address = facts["address"]
        data["location"] = address["one_line"] if address else None
    if privacy is Privacy.FULL:
        data["description"] = facts["body"]
        data["case"] = facts["case"]
        data["subject"] = facts["subject"]
        data["address"] = (
            {key: value for key, value in address.items() if key != "one_line"}
            if (address := facts["address"])
            else None
        )
    return data


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(at: datetime | date) -> str:
    if isinstance(at, datetime):
        return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return at.isoformat()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (with the JSON content type)."""
    signature = Webhook(secret).sign(
        message_id, datetime.fromtimestamp(timestamp, UTC), body.decode("utf-8", "surrogatepass")
    )
    return {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


# -- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one POST of one delivery came to."""

    delivery_id: int
    subscription_id: int
    message_id: str
    status: int | None
    error: str | None = None
    gave_up: bool = False  # the retry window ended: failed, replayable
    disabled: bool = False  # 410 Gone: the subscription is off

    @property
    def is_delivered(self) -> bool:
        return self.error is None


def post_delivery(due: DueDelivery, settings: WebhookSettings) -> tuple[int | None, str | None]:
    """POST one delivery; (status, None) for a 2xx, else (status or None, what went wrong).

    The receiver's addresses are checked again here (DNS can change after ``add``) and the
    connection goes to the address checked, not to whatever a second lookup would say.
    Redirects are not followed: one could lead to an address the check refused.
    """
    subscription = due.subscription
    try:
        addresses = check_target(subscription.url, allow_private=settings.allow_private)
    except WebhookTargetError as error:
        return None, error.message
    body = render_body(
        due.delivery.event_type,
        due.facts,
        due.delivery.created_at,
        subscription.privacy,
        settings.default_timezone,
    )
    # The timestamp is the real time of this attempt, whatever clock schedules the retries:
    # receivers refuse one far from their own clock.
    headers = signed_headers(subscription.secret, due.delivery.message_id, int(time.time()), body)
    url = httpx.URL(subscription.url)
    headers["host"] = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    timeout = httpx.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout))
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                url.copy_with(host=addresses[0]),
                content=body,
                headers=headers,
                extensions=extensions,
            ) as response,
        ):
            status = response.status_code  # the body is never read: only the status counts
    except httpx.TimeoutException as error:
        return None, f"timed out ({_phase(error)})"
    except httpx.HTTPError as error:
        return None, f"cannot reach the receiver ({type(error).__name__})"
    if 200 <= status < 300:
        return status, None
    return status, f"the receiver answered {status}"


def _phase(error: httpx.TimeoutException) -> str:
    if isinstance(error, httpx.ConnectTimeout):
        return "connecting"
    return "waiting for the answer" if isinstance(error, httpx.ReadTimeout) else "sending"


def send_group(
    store: Store,
    settings: WebhookSettings,
    group: Sequence[DueDelivery],
    clock: Callable[[], datetime],
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Attempt]:
    """One subscription's claimed deliveries, in order, each outcome recorded as it lands. At
    the first failure the rest are released untried: a receiver that is down costs one
    timeout per round, not one per message."""
    attempts: list[Attempt] = []
    for index, due in enumerate(group):
        if should_stop():
            store.release_delivery_claims([d.delivery.delivery_id for d in group[index:]])
            break
        attempt = send_one(store, settings, due, clock)
        attempts.append(attempt)
        if not attempt.is_delivered:
            store.release_delivery_claims([d.delivery.delivery_id for d in group[index + 1 :]])
            break
    return attempts


def send_one(
    store: Store, settings: WebhookSettings, due: DueDelivery, clock: Callable[[], datetime]
) -> Attempt:
    """POST one delivery and record what came of it: delivered, retried later with backoff,
    failed once its retry window is over, or (410) its subscription disabled."""
    delivery = due.delivery
    status, error = post_delivery(due, settings)
    now = clock()
    where = display_url(due.subscription.url)
    attempt = Attempt(delivery.delivery_id, delivery.subscription_id, delivery.message_id, status)
    if error is None:
        store.record_delivered(delivery.delivery_id, now, status or 200)
        return attempt
    window_end = delivery.window_started_at + settings.retry_for
    retry_at = min(now + backoff_delay(delivery.attempts + 1, RETRY_BASE, RETRY_CAP), window_end)
    gave_up = now >= window_end
    store.record_failed_attempt(
        delivery.delivery_id,
        now,
        status=status,
        error=error,
        next_attempt_at=None if gave_up else retry_at,
    )
    disabled = status == 410
    if disabled:
        reason = "the receiver answered 410 Gone: subscription disabled"
        store.disable_subscription(delivery.subscription_id, reason, now)
        log.warning("webhook subscription %d (%s): %s", delivery.subscription_id, where, reason)
    elif gave_up:
        log.error(
            "webhook delivery %d (%s) to %s failed for good after %d attempts: %s; "
            "replay it with `trackops-bridge webhooks replay %d`",
            delivery.delivery_id,
            delivery.message_id,
            where,
            delivery.attempts + 1,
            error,
            delivery.delivery_id,
        )
    else:
        log.warning(
            "webhook delivery %d (%s) to %s: %s; retrying in %.0f s",
            delivery.delivery_id,
            delivery.message_id,
            where,
            error,
            (retry_at - now).total_seconds(),
        )
    return replace(attempt, error=error, gave_up=gave_up, disabled=disabled)


def by_subscription(claimed: Iterable[DueDelivery]) -> dict[int, list[DueDelivery]]:
    groups: dict[int, list[DueDelivery]] = {}
    for due in claimed:
        groups.setdefault(due.subscription.subscription_id, []).append(due)
    return groups


def deliver_due(
    store: Store,
    settings: WebhookSettings,
    *,
    holder: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_rounds: int = 100,
) -> list[Attempt]:
    """Send everything due at ``clock()``, round after round (an event's next message is due
    once its earlier one is delivered), until a round delivers nothing. In this thread."""
    attempts: list[Attempt] = []
    for _ in range(max_rounds):
        claimed = store.claim_due_deliveries(clock(), holder)
        if not claimed:
            break
        round_attempts = [
            attempt
            for group in by_subscription(claimed).values()
            for attempt in send_group(store, settings, group, clock)
        ]
        attempts += round_attempts
        if not any(attempt.is_delivered for attempt in round_attempts):
            break
    return attempts


class WebhookDeliverer:
    """The worker's sender: a thread that sends what is due, woken after each pass (``wake``)
    and at least every LOOK_INTERVAL s, with one sender per subscription at a time, so a slow
    or broken receiver never holds back another, nor polling, serving or CalDAV pushes.

    It sends only while ``is_active()`` (the worker holds the lease). A receiver that failed
    rests until its retry is due (in memory: a restarted worker tries it once again at once).
    """

    def __init__(
        self,
        store: Store,
        settings: WebhookSettings,
        *,
        holder: str,
        is_active: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        senders: int = SENDERS,
    ) -> None:
        self.store = store
        self.settings = settings
        self.holder = holder
        self.is_active = is_active
        self.clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self.senders = senders
        self._running: dict[int, threading.Thread] = {}
        self._resting: dict[int, datetime] = {}
        self._pruned_at: datetime | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a pass may have queued changes)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming; POSTs in flight get ``timeout`` s to finish and be recorded. One
        still running is left behind (a daemon thread): its claim names this holder, so the
        next worker sends that delivery again, under the same id."""
        deadline = time.monotonic() + timeout
        self._halt.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            senders = list(self._running.values())
        for sender in senders:
            sender.join(max(deadline - time.monotonic(), 0.0))

    def _run(self) -> None:
        failures = 0
        while not self._halt.is_set():
            delay = LOOK_INTERVAL
            try:
                if self.is_active():
                    self.run_round()
                    delay = self._until_next_due()
                failures = 0
            except StoreError as error:
                failures += 1
                delay = min(LOOK_INTERVAL * failures, 60.0)
                log.warning("webhooks: database unavailable (%s); retrying", error.describe())
            except Exception:
                # A bug in sending must not end the worker's webhooks for good: log, go on.
                log.exception("webhooks: sending failed unexpectedly")
            self._wake.wait(delay)
            self._wake.clear()

    def run_round(self) -> int:
        """Claim what is due for receivers not busy or resting, and hand each its sender (at
        most ``senders`` at once; the rest wait for the next round, due as they were)."""
        now = self.clock()
        busy = self._busy()
        with self._lock:
            free = self.senders - len(self._running)
        if free <= 0:
            return 0
        claimed = self.store.claim_due_deliveries(now, self.holder, skip_subscriptions=busy)
        groups = list(by_subscription(claimed).items())
        for subscription_id, group in groups[:free]:
            # Daemon threads: a process that exits mid-POST leaves the claim behind, and the
            # next worker sends that delivery again (at least once, same id).
            sender = threading.Thread(
                target=self._send,
                args=(subscription_id, group),
                name=f"webhook-{subscription_id}",
                daemon=True,
            )
            with self._lock:
                self._running[subscription_id] = sender
            sender.start()
        left = [d.delivery.delivery_id for _, group in groups[free:] for d in group]
        if left:
            self.store.release_delivery_claims(left)
        self._prune(now)
        return len(claimed) - len(left)

    def _busy(self) -> set[int]:
        """Subscriptions being sent to, or resting after a failure (kept in step by the
        senders' threads, hence the lock)."""
        now = self.clock()
        with self._lock:
            self._running = {key: t for key, t in self._running.items() if t.is_alive()}
            self._resting = {key: at for key, at in self._resting.items() if at > now}
            return set(self._running) | set(self._resting)

    def _send(self, subscription_id: int, group: Sequence[DueDelivery]) -> None:
        try:
            attempts = send_group(self.store, self.settings, group, self.clock, self._halt.is_set)
            failed = [a for a in attempts if not a.is_delivered]
            if failed:
                self._rest(subscription_id, failed[-1])
        except StoreError as error:
            # Its claims stay: sent again at the next look, as after a crash.
            log.warning("webhooks: database unavailable while sending (%s)", error.describe())
        except Exception:
            log.exception("webhooks: sending to subscription %d failed", subscription_id)
        finally:
            with self._lock:
                self._running.pop(subscription_id, None)
            self._wake.set()

    def _rest(self, subscription_id: int, attempt: Attempt) -> None:
        try:
            delivery = self.store.get_delivery(attempt.delivery_id)
        except (StoreError, BridgeError):
            return
        with self._lock:
            self._resting[subscription_id] = delivery.next_attempt_at

    def _until_next_due(self) -> float:
        """Seconds until a delivery this sender could start falls due (a busy or resting
        receiver's wake it through ``_finished`` or their own retry time)."""
        busy = self._busy()
        with self._lock:
            resting = list(self._resting.values())
        times = [self.store.next_delivery_due_at(self.holder, busy), *resting]
        soonest = min((t for t in times if t is not None), default=None)
        if soonest is None:
            return LOOK_INTERVAL
        return min(max((soonest - self.clock()).total_seconds(), 0.05), LOOK_INTERVAL)

    def _prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = now
        self.store.prune_deliveries(
            delivered_before=now - KEEP_DELIVERED, failed_before=now - KEEP_FAILED
        )


def describe_subscription(subscription: Subscription) -> str:
    """One line for logs and the CLI: never the secret."""
    filters = [
        f"calendar {subscription.calendar_id}" if subscription.calendar_id is not None else "",
        f"staff {subscription.staff_id}" if subscription.staff_id is not None else "",
    ]
    shown = ", ".join(f for f in filters if f)
    return (
        f"subscription {subscription.subscription_id}: {display_url(subscription.url)} "
        f"({', '.join(subscription.event_types)}{'; ' + shown if shown else ''}; "
        f"{subscription.privacy.value})"
    )
