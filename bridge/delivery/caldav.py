"""CalDAV destinations: each feed event as one calendar object, pushed with conditional requests.

Entry points: ``push_destination()`` (one destination now) and ``push_due()`` (every destination
whose feed changed, whose backlog waits or whose reconcile is due, skipping those backing off).
Requests go through the ``caldav`` library's client (auth negotiation, Basic/Digest/Bearer, its
WebDAV response parsing); the plan is ``bridge.delivery.plan``; what each destination holds is in
the store, written after every request, so a push cut short resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import icalendar
from caldav.davclient import DAVClient
from caldav.lib.error import DAVError
from caldav.requests import HTTPBearerAuth
from caldav.response import DAVResponse

from bridge.delivery.plan import Delete, PushPlan, Put, WantedObject, plan_push
from bridge.errors import DestinationError
from bridge.feeds import feed_uid, render_feed
from bridge.models import Feed, FeedEvent
from bridge.store import Store
from bridge.store.delivery import Destination, PushedObject

log = logging.getLogger(__name__)

# How often a destination's own listing is compared with what the store says it holds.
RECONCILE_INTERVAL = timedelta(hours=1)
# Backoff after a failed push: doubles from the base, capped, with jitter so many destinations
# on one down server do not all retry in the same second.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# The calendar-level properties a standalone object keeps; a feed's METHOD is not allowed in a
# CalDAV object (RFC 4791 4.1) and its name and refresh hints belong to the collection.
_OBJECT_CALENDAR_PROPERTIES = ("VERSION", "PRODID", "CALSCALE")
# Statuses that mean "this destination cannot take anything now": try again later.
_REFUSALS = {401: "unauthorized", 403: "forbidden", 507: "insufficient storage"}

_SYNC_COLLECTION = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>'
    "<d:prop><d:getetag/></d:prop></d:sync-collection>"
)
_CALENDAR_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
    '<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR">'
    '<c:comp-filter name="VEVENT"/></c:comp-filter></c:filter></c:calendar-query>'
)


@dataclass(frozen=True)
class PushSettings:
    """What a push needs of the settings: the same choices the feed is rendered with."""

    account: str
    default_timezone: str
    feed_past_days: int
    timeout: float = 10.0


@dataclass
class PushOutcome:
    destination_id: int
    put: int = 0
    deleted: int = 0
    reconciled: bool = False
    skipped: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"destination {self.destination_id}: nothing to do"
        done = f"{self.put} put, {self.deleted} deleted" + (
            ", reconciled" if self.reconciled else ""
        )
        if self.error:
            return f"destination {self.destination_id}: {done}; failed: {self.error}"
        return f"destination {self.destination_id}: {done}"


def render_event_object(item: FeedEvent, feed: Feed, settings: PushSettings) -> WantedObject:
    """One event as a standalone VCALENDAR: the VEVENT the feed serves, with its VTIMEZONE."""
    stamp = item.event.updated_at or item.event.created_at or datetime(2000, 1, 1, tzinfo=UTC)
    feed_body = render_feed(
        [item],
        feed,
        account=settings.account,
        default_timezone=settings.default_timezone,
        refresh_interval=timedelta(hours=1),
        generated_at=stamp,
    )
    rendered = icalendar.Calendar.from_ical(feed_body)
    calendar = icalendar.Calendar()
    for name in _OBJECT_CALENDAR_PROPERTIES:
        if name in rendered:
            calendar.add(name, rendered[name])
    for component in rendered.subcomponents:
        calendar.add_component(component)
    body: bytes = calendar.to_ical()
    return WantedObject(feed_uid(settings.account, item.event.event_id), body)


def read_wanted_objects(
    store: Store, feed: Feed, settings: PushSettings, now: datetime
) -> tuple[int, dict[str, WantedObject]]:
    """The feed's version, then its events as objects (the version first, as the feed does: a
    change landing in between leaves an older version recorded, so the next pass pushes again)."""
    version = store.feed_version(feed.feed_id)
    day_start = datetime.combine(now.date(), time(0), tzinfo=UTC)
    items = store.feed_events(
        feed, ending_after=day_start - timedelta(days=settings.feed_past_days)
    )
    wanted = [render_event_object(item, feed, settings) for item in items]
    return version, {item.uid: item for item in wanted}


def read_credentials(destination: Destination) -> tuple[str | None, str | None, str | None]:
    """(username, password, bearer token) from the environment or the token file named."""
    password = token = None
    if destination.password_env:
        password = os.environ.get(destination.password_env)
        if not password:
            raise DestinationError(
                f"the environment variable {destination.password_env} is not set",
                advice="set it to the calendar's password (an app password for iCloud)",
            )
    if destination.token_file:
        try:
            token = Path(destination.token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise DestinationError(
                f"cannot read the token file {destination.token_file}: {error.strerror}",
                advice="check the path and its permissions",
            ) from None
        if not token:
            raise DestinationError(f"the token file {destination.token_file} is empty")
    return destination.username, password, token


class Collection:
    """One CalDAV calendar collection, through the caldav library's client."""

    def __init__(self, destination: Destination, timeout: float) -> None:
        self.url = destination.url if destination.url.endswith("/") else destination.url + "/"
        username, password, token = read_credentials(destination)
        auth = HTTPBearerAuth(token) if token else None
        self.client = DAVClient(
            self.url,
            username=username if not token else None,
            password=password,
            auth=auth,
            timeout=int(max(timeout, 1)),
        )

    def close(self) -> None:
        self.client.close()

    def put(self, name: str, body: bytes, if_match: str | None) -> tuple[int, str | None]:
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers.update({"If-Match": if_match} if if_match else {"If-None-Match": "*"})
        response = self._request(name, "PUT", body.decode("utf-8"), headers)
        return int(response.status), response.headers.get("ETag")

    def delete(self, name: str, if_match: str | None) -> int:
        headers = {"If-Match": if_match} if if_match else {}
        return int(self._request(name, "DELETE", "", headers).status)

    def read_etag(self, name: str) -> tuple[str | None, str | None]:
        """(ETag, UID) of the object now at ``name``; (None, None) when there is none."""
        response = self._request(name, "GET", "", {})
        if response.status == 404:
            return None, None
        self._check(response.status, name)
        try:
            uid = str(icalendar.Calendar.from_ical(response.raw).walk("VEVENT")[0]["UID"])
        except (ValueError, IndexError, KeyError):
            uid = None
        return response.headers.get("ETag"), uid

    def list_etags(self) -> dict[str, str | None]:
        """Object name -> ETag of every object in the collection: sync-collection (RFC 6578)
        where the server offers it, else a calendar-query REPORT."""
        response = self._report(_SYNC_COLLECTION, None)
        if response is None or response.status != 207:
            response = self._report(_CALENDAR_QUERY, 1)
        if response is None:
            raise DestinationError("the server refused to list the calendar")
        self._check(response.status, "")
        listed: dict[str, str | None] = {}
        if response.tree is None:
            raise DestinationError("the server's listing was not WebDAV XML")
        for item in response.tree.iter("{DAV:}response"):
            href = item.findtext("{DAV:}href") or ""
            if href.endswith("/"):
                continue  # the collection itself
            etag = None
            found = False
            for propstat in item.iter("{DAV:}propstat"):
                if " 200 " in (propstat.findtext("{DAV:}status") or ""):
                    found = True
                    etag = propstat.findtext(".//{DAV:}getetag")
            if found:
                listed[href.rsplit("/", 1)[-1]] = etag
        return listed

    def _report(self, query: str, depth: int | None) -> DAVResponse | None:
        """A REPORT on the collection; None when the server refuses this kind of report."""
        try:
            return self.client.report(self.url, query, depth=depth)
        except DAVError as error:
            status = getattr(error, "status", None)
            if status == 401 or (status == 403 and "valid-sync-token" not in str(error)):
                raise DestinationError(_refusal(status)) from None
            return None
        except OSError as error:
            raise DestinationError(f"cannot reach the server ({type(error).__name__})") from None

    def _request(
        self, name: str, method: str, body: str, headers: Mapping[str, str]
    ) -> DAVResponse:
        try:
            return self.client.request(self.url + name, method, body, dict(headers))
        except DAVError as error:
            status = getattr(error, "status", None) or _status_in(str(error))
            raise DestinationError(_refusal(status)) from None
        except OSError as error:
            raise DestinationError(f"cannot reach the server ({type(error).__name__})") from None

    def _check(self, status: int, name: str) -> None:
        if status >= 400:
            raise DestinationError(_refusal(status))


def _status_in(text: str) -> int | None:
    for status in (401, 403, 507):
        if str(status) in text:
            return status
    return None


def _refusal(status: int | None) -> str:
    if status is None:
        return "the server refused the request"
    return f"the server answered {status} {_REFUSALS.get(status, '')}".rstrip()


def push_destination(
    store: Store,
    destination: Destination,
    settings: PushSettings,
    now: datetime,
    *,
    reconcile: bool | None = None,
    on_request: Callable[[Put | Delete], None] | None = None,
) -> PushOutcome:
    """Bring one destination to the feed's current events; record the outcome in the store.

    Never raises for the destination's own failures: they are recorded (with the backoff) and
    returned. ``reconcile`` None: when one is due.
    """
    outcome = PushOutcome(destination.destination_id)
    feed = store.get_feed(destination.feed_id)
    if feed is None:
        outcome.error = f"feed {destination.feed_id} no longer exists"
        return outcome
    version, wanted = read_wanted_objects(store, feed, settings, now)
    held = store.pushed_objects(destination.destination_id)
    if reconcile is None:
        reconcile = is_reconcile_due(destination, now)
    plan = plan_push(held, wanted)
    try:
        collection = Collection(destination, settings.timeout)
    except DestinationError as error:
        return _fail(store, destination, outcome, error, plan.size, now)
    try:
        if reconcile:
            plan = plan_push(held, wanted, collection.list_etags())
            outcome.reconciled = True
        _apply(store, destination, collection, plan, outcome, now, on_request)
    except DestinationError as error:
        remaining = plan.size - outcome.put - outcome.deleted
        return _fail(store, destination, outcome, error, remaining, now)
    finally:
        collection.close()
    store.record_push_success(
        destination.destination_id, now, pushed_version=version, reconciled=outcome.reconciled
    )
    return outcome


def delete_pushed(
    store: Store, destination: Destination, settings: PushSettings, now: datetime
) -> PushOutcome:
    """Delete every object the bridge created at the destination (before removing it)."""
    outcome = PushOutcome(destination.destination_id)
    held = store.pushed_objects(destination.destination_id)
    plan = plan_push(held, {})
    try:
        collection = Collection(destination, settings.timeout)
    except DestinationError as error:
        outcome.error = error.describe()
        return outcome
    try:
        _apply(store, destination, collection, plan, outcome, now, None)
    except DestinationError as error:
        outcome.error = error.describe()
    finally:
        collection.close()
    return outcome


def is_reconcile_due(destination: Destination, now: datetime) -> bool:
    return (
        destination.reconciled_at is None or now - destination.reconciled_at >= RECONCILE_INTERVAL
    )


def is_push_due(destination: Destination, version: int, now: datetime) -> bool:
    """Whether a pass should push: the feed changed, a backlog waits or a reconcile is due, and
    the destination is not backing off."""
    if destination.next_attempt_at is not None and now < destination.next_attempt_at:
        return False
    return (
        destination.pushed_version != version
        or destination.backlog > 0
        or destination.failures > 0
        or is_reconcile_due(destination, now)
    )


def _apply(
    store: Store,
    destination: Destination,
    collection: Collection,
    plan: PushPlan,
    outcome: PushOutcome,
    now: datetime,
    on_request: Callable[[Put | Delete], None] | None,
) -> None:
    key = destination.destination_id
    if plan.forgotten:
        store.drop_pushed_objects(key, plan.forgotten)
    for put in plan.puts:
        is_ours, etag = _put(collection, put, outcome)
        if is_ours:
            href = collection.url + put.name
            store.put_pushed_object(key, PushedObject(put.uid, href, etag, put.content_hash), now)
            outcome.put += 1
        if on_request is not None:
            on_request(put)
    for gone in plan.deletes:
        _delete(collection, gone, outcome)
        store.drop_pushed_objects(key, [gone.uid])
        outcome.deleted += 1
        if on_request is not None:
            on_request(gone)


def _put(collection: Collection, put: Put, outcome: PushOutcome) -> tuple[bool, str | None]:
    """PUT conditionally; on 412 (someone changed the object, or it is already there) look at
    what is there and overwrite it only if it carries our UID. (False, None): left alone."""
    status, etag = collection.put(put.name, put.body, put.if_match)
    if status in (412, 404):
        current, uid = collection.read_etag(put.name)
        if current is not None and uid != put.uid:
            outcome.notes.append(f"{put.name}: holds another event (UID {uid}); left alone")
            return False, None
        if current is not None:
            outcome.notes.append(f"{put.uid}: edited in the calendar; replaced by Trackops'")
        status, etag = collection.put(put.name, put.body, current)
    if status >= 300:
        raise DestinationError(_refusal(status))
    return True, etag


def _delete(collection: Collection, gone: Delete, outcome: PushOutcome) -> None:
    status = collection.delete(gone.name, gone.if_match)
    if status == 412:
        current, uid = collection.read_etag(gone.name)
        if current is None or uid != gone.uid:
            return
        outcome.notes.append(f"{gone.uid}: edited in the calendar, deleted as it left the feed")
        status = collection.delete(gone.name, current)
    if status >= 300 and status != 404:
        raise DestinationError(_refusal(status))


def _fail(
    store: Store,
    destination: Destination,
    outcome: PushOutcome,
    error: DestinationError,
    backlog: int,
    now: datetime,
) -> PushOutcome:
    outcome.error = error.describe()
    store.record_push_failure(
        destination.destination_id,
        now,
        error=outcome.error,
        backlog=max(backlog, 1),
        next_attempt_at=now + backoff_delay(destination.failures + 1),
    )
    log.warning("push to destination %d failed: %s", destination.destination_id, outcome.error)
    return outcome


def backoff_delay(
    failures: int, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP
) -> timedelta:
    """The wait after ``failures`` failed passes in a row: doubling, capped, half of it jitter
    (webhook retries use it too, with their own base and cap)."""
    ceiling = min(cap, base * 2 ** min(max(failures - 1, 0), 30))
    half = ceiling.total_seconds() / 2
    return timedelta(seconds=half + half * random.random())  # noqa: S311 - jitter, not a secret


def push_due(store: Store, settings: PushSettings, now: datetime) -> list[PushOutcome]:
    """Push every destination that is due; one failing never stops the others."""
    outcomes = []
    versions: dict[int, int] = {}
    for destination in store.list_destinations():
        if destination.feed_id not in versions:
            versions[destination.feed_id] = store.feed_version(destination.feed_id)
        if is_push_due(destination, versions[destination.feed_id], now):
            outcomes.append(push_destination(store, destination, settings, now))
    return outcomes


def display_url(url: str) -> str:
    """The URL without any user:password part, for lists and pages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
