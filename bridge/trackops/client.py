"""The Trackops HTTP client: auth, pacing, retries, paging and status mapping, on httpx.

Entry point: `TrackopsClient`. It returns typed records (bridge.models) and raises the error tree
of bridge.errors; no caller sees an httpx object or a raw JSON dict. The token is held only by
httpx's auth object and never appears in logs, errors or reprs.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from bridge import __version__
from bridge.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    ServerError,
    TrackopsError,
    TransportError,
    UnexpectedResponseError,
)
from bridge.models import Case, Event, Staff, Subject
from bridge.trackops import records
from bridge.trackops.pacing import Pacer, SharedSlot
from bridge.trackops.records import RecordWarning

log = logging.getLogger(__name__)

T = TypeVar("T")

PER_PAGE = 100  # Trackops' maximum page size
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
BODY_PREVIEW = 200


@dataclass
class RequestStats:
    """Counters the sync engine persists as sync health."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, rate_limited: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.rate_limited += rate_limited
            self.retries += retries


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a collection: the records read, and the ones that could not be."""

    records: list[T]
    problems: list[RecordError]
    size: int  # records Trackops sent, readable or not
    # Set by the keyed event walk (`iter_event_pages`): this page was reached through the
    # creation-stamp filter, so no concurrent insert or delete can have shifted records past it;
    # a walk restarted with `created_from=resume_from` misses nothing after this page; and
    # Trackops sent `sent_since_resume` records from `resume_from` on, this page included.
    is_keyed: bool = False
    resume_from: datetime | None = None
    sent_since_resume: int = 0
    # Records kept with a value changed or left out (an unknown zone): one warning per value.
    warnings: list[RecordWarning] = field(default_factory=list)


@dataclass(frozen=True)
class Count:
    record_count: int
    page_count: int


class TrackopsClient:
    """A polite client for one Trackops account.

    `transport` lets tests mount an app in-process (httpx.WSGITransport); `sleep` is injectable
    so retry paths can be tested without waiting, and so a worker's stop request ends a wait;
    `shared_slots` paces it together with other processes on the same account (see pacing).
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        token: str,
        *,
        rate_limit: float = 1.0,
        timeout: float = 30.0,
        max_retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        shared_slots: SharedSlot | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.stats = RequestStats()
        self.max_retries = max_retries
        self._sleep = sleep
        self._pacer = Pacer(rate_limit, sleep=sleep, shared=shared_slots)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(f"{username}/token", token),
            headers={
                "Accept": "application/json",
                "User-Agent": f"trackops-bridge/{__version__} (+calendar feeds)",
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"TrackopsClient({self.base_url!r}, user={self.username!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TrackopsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ---------------------------------------------------------------------------

    def get_event(self, event_id: int) -> Event:
        return records.read_event(records.unwrap_record(self._get(f"/events/{event_id}"), "event"))

    def get_raw_event(self, event_id: int) -> Mapping[str, Any]:
        """The event exactly as Trackops sends it, for `trackops-bridge check`."""
        return records.unwrap_record(self._get(f"/events/{event_id}"), "event")

    def create_event(self, body: Mapping[str, Any]) -> Event:
        """POST /events with a `{"event": {...}}` body; returns the event Trackops created."""
        reply = self._request("POST", "/events", json=body)
        return records.read_event(records.unwrap_record(reply, "event"))

    def iter_event_pages(
        self, *, created_from: datetime | None = None, by_key: bool = True, **filters: Any
    ) -> Iterator[Page[Event]]:
        """Every event matching `filters`, walked by creation stamp rather than page number.

        Offset paging shifts records across page boundaries when one is deleted mid-walk
        (docs/trackops-api.md, listing hazards): one is skipped at every later boundary. So
        each next page asks for events created at or after the newest creation stamp seen
        (`created_from`, an immutable key), and the events repeated at the seam are dropped
        by id. Page numbers are used only while a whole page comes from one creation second
        (a bulk import), which no stamp can split. Where the server's order turns out not to
        follow creation (a page out of order, events without a stamp), the walk carries on by
        page number with `is_keyed=False`, so callers know the listing proves less; so does
        `by_key=False`, for a server whose order has already proved not to follow creation. A
        short page ends the walk, as ever.
        """
        base = {**_encode(filters), "per_page": PER_PAGE, "dir": "asc"}
        key = created_from
        is_keyed = by_key
        seen_at_key: set[object] = set()  # ids yielded already whose creation stamp is `key`
        number = 1
        sent_since_resume = 0
        previous_ids: list[Any] | None = None
        while True:
            params = dict(base, page=number)
            if key is not None:
                params["created_from"] = _encode({"at": key})["at"]
            rows = _collection(self._get("/events", params), "/events")
            ids = _row_ids(rows)
            if rows and number > 1 and ids == previous_ids:
                raise _ignored_page_error("/events", number)
            previous_ids = ids
            sent_since_resume += len(rows)
            good, problems, warnings = _read_rows(rows, records.read_event)
            stamps = [event.created_at for event in good]
            if is_keyed and len(rows) >= PER_PAGE and not _is_ascending(stamps):
                log.warning("GET /events: not in creation order; walking on by page number")
                is_keyed = False
            yield Page(
                [e for e in good if e.event_id not in seen_at_key],
                [p for p in problems if p.record_id not in seen_at_key],
                len(rows),
                is_keyed=is_keyed,
                resume_from=key,
                sent_since_resume=sent_since_resume,
                warnings=[w for w in warnings if w.record_id not in seen_at_key],
            )
            if len(rows) < PER_PAGE:
                return
            newest = max(filter(None, stamps), default=None)
            if not is_keyed or newest is None or newest == key:
                # By page number: the order is not by creation, or a whole page came from one
                # second (a bulk import), which no stamp can split.
                number += 1
                seen_at_key.update(e.event_id for e in good if e.created_at == key)
                continue
            seen_at_key = {e.event_id for e in good if e.created_at == newest}
            seen_at_key.update(p.record_id for p in problems)
            if all(stamp == newest for stamp in stamps):
                # This page is page 1 of its own second already: go on to page 2 of it.
                key, number, sent_since_resume = newest, 2, len(rows)
            else:
                key, number, sent_since_resume = newest, 1, 0

    def iter_case_pages(self, **filters: Any) -> Iterator[Page[Case]]:
        return self.iter_pages("/cases", records.read_case, **filters)

    def iter_subject_pages(self, **filters: Any) -> Iterator[Page[Subject]]:
        return self.iter_pages("/subjects", records.read_subject, **filters)

    def iter_staff_pages(self, **filters: Any) -> Iterator[Page[Staff]]:
        return self.iter_pages("/staff", records.read_staff, **filters)

    # -- collections -----------------------------------------------------------------------

    def count(self, path: str, **filters: Any) -> Count:
        """Totals through `mode=count`: for progress and ETA, never for correctness."""
        body = self._get(path, {**_encode(filters), "mode": "count"})
        if not isinstance(body, Mapping) or "record_count" not in body:
            raise UnexpectedResponseError(
                f"GET {path}?mode=count did not return a record count", url=path
            )
        return Count(int(body["record_count"]), int(body.get("page_count") or 0))

    def iter_pages(
        self,
        path: str,
        read: Callable[[Any, list[RecordWarning]], T],
        *,
        dir: str = "asc",
        **filters: Any,
    ) -> Iterator[Page[T]]:
        """Every page of a collection, until a page shorter than PER_PAGE.

        Unreadable records are returned as problems beside the good ones, so one bad record
        never stops a sync. Trackops' sort key is unknown, so callers must not rely on order.
        """
        params = {**_encode(filters), "per_page": PER_PAGE, "dir": dir}
        previous_ids: list[Any] | None = None
        number = 1
        while True:
            rows = _collection(self._get(path, {**params, "page": number}), path)
            ids = _row_ids(rows)
            if rows and ids == previous_ids:
                raise _ignored_page_error(path, number)
            good, problems, warnings = _read_rows(rows, read)
            yield Page(good, problems, len(rows), warnings=warnings)
            if len(rows) < PER_PAGE:
                return
            previous_ids = ids
            number += 1

    # -- transport -------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request with pacing and retries; return its decoded JSON body."""
        attempt = 0
        while True:
            self._pacer.wait()
            started = time.monotonic()
            self.stats.add(requests=1)
            try:
                response = self._http.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                error = TransportError(
                    f"{method} {path}: {type(exc).__name__}: {exc or 'no detail'}", url=path
                )
                log.info("%s %s -> %s", method, path, type(exc).__name__)
                # A POST that may have reached the server must not be sent twice.
                reached_server = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (method == "POST" and reached_server) or attempt >= self.max_retries:
                    raise error from None
                delay = _backoff(attempt)
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                log.info(
                    "%s %s -> %s (%.0f ms)",
                    method,
                    _loggable(response.request.url),
                    response.status_code,
                    elapsed_ms,
                )
                if response.status_code == 429:
                    self.stats.add(rate_limited=1)
                retryable = response.status_code in RETRYABLE_STATUSES and (
                    method != "POST" or response.status_code == 429
                )
                if not retryable or attempt >= self.max_retries:
                    return _decode(response, method, path)
                delay = _retry_delay(response, attempt)
                if response.status_code == 429:
                    # Every thread sharing the account must wait, this one included: the
                    # pacer makes the wait at the top of the loop.
                    self._pacer.defer(delay)
                    delay = 0.0
            attempt += 1
            self.stats.add(retries=1)
            if delay:
                self._sleep(delay)


def _encode(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Filter values as Trackops expects them: UTC timestamps, lowercase booleans."""
    encoded: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        elif isinstance(value, bool):
            value = "true" if value else "false"
        encoded[key] = value
    return encoded


def _row_ids(rows: list[Any]) -> list[Any]:
    return [row.get("id") if isinstance(row, Mapping) else None for row in rows]


def _ignored_page_error(path: str, number: int) -> UnexpectedResponseError:
    # A server that ignores `page` would otherwise be paged forever.
    return UnexpectedResponseError(
        f"GET {path} returned the same records for page {number} as for "
        f"page {number - 1}; the server may be ignoring the page parameter",
        url=path,
    )


def _read_rows(
    rows: list[Any], read: Callable[[Any, list[RecordWarning]], T]
) -> tuple[list[T], list[RecordError], list[RecordWarning]]:
    """Unreadable records are returned beside the good ones, so one never stops a sync; and
    the warnings of records kept with a value changed."""
    good: list[T] = []
    problems: list[RecordError] = []
    warnings: list[RecordWarning] = []
    for row in rows:
        try:
            good.append(read(row, warnings))
        except RecordError as problem:
            problems.append(problem)
    return good, problems, warnings


def _is_ascending(stamps: list[datetime | None]) -> bool:
    """Every event has a creation stamp and the page lists them oldest first."""
    if any(stamp is None for stamp in stamps):
        return False
    return all(a <= b for a, b in itertools.pairwise(stamps))  # type: ignore[operator]


def _loggable(url: httpx.URL) -> str:
    return url.raw_path.decode("ascii", "replace")


def _backoff(attempt: int) -> float:
    """Capped exponential backoff with jitter, so retrying clients don't move in step."""
    ceiling: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


def _retry_delay(response: httpx.Response, attempt: int) -> float:
    """Honour Retry-After (seconds or an HTTP date) when given; otherwise back off."""
    header = response.headers.get("Retry-After", "").strip()
    if header:
        if header.isascii() and header.isdigit():  # "²".isdigit() is true, float("²") fails
            return min(float(header), BACKOFF_CAP)
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            wait = (when - datetime.now(UTC)).total_seconds()
            return min(max(wait, 0.0), BACKOFF_CAP)
    return _backoff(attempt)


def _collection(body: Any, path: str) -> list[Any]:
    """A collection is a bare JSON array; accept one list under a root key, refuse the rest."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        lists = [value for value in body.values() if isinstance(value, list)]
        if len(lists) == 1 and len(body) <= 2:
            return lists[0]
    raise UnexpectedResponseError(
        f"GET {path} returned {type(body).__name__} where a list of records was expected",
        url=path,
    )


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    """Map a final response to its JSON body or to the matching error."""
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    is_html = "html" in content_type.lower() or response.content.lstrip()[:1] == b"<"
    where = f"{method} {path}"
    if 200 <= status < 300 and not is_html:
        try:
            return json.loads(response.content)
        except ValueError:
            pass
    # A 2xx that is not JSON, or an HTML 403 (what web firewalls send), is not Trackops
    # speaking: report its first bytes. Other error statuses keep their meaning whatever the
    # body, since Trackops may word its own errors as text or HTML.
    if 200 <= status < 300 or (status == 403 and is_html):
        raise UnexpectedResponseError(
            f"{where}: HTTP {status} with a body that is not JSON "
            f"({_describe_body(response)}); expected JSON",
            url=path,
            status=status,
        )
    message, field_errors = _error_message(response)
    text = f"{where}: HTTP {status}: {message}"
    if status in (401, 403):
        raise AuthenticationError(text, url=path, status=status)
    if status == 404:
        raise NotFoundError(text, url=path, status=status)
    if status in (400, 409, 422):
        raise BadRequestError(text, url=path, status=status, field_errors=field_errors)
    if status == 429:
        raise RateLimitedError(text, url=path, status=status)
    if status >= 500:
        raise ServerError(text, url=path, status=status)
    raise TrackopsError(text, url=path, status=status)


def _describe_body(response: httpx.Response) -> str:
    if not response.content:
        return "empty body"
    preview = response.content[:BODY_PREVIEW].decode("utf-8", "replace")
    preview = re.sub(r"\s+", " ", preview).strip()
    return f"{len(response.content)} bytes starting {preview!r}"


def _error_message(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """The server's own words from any of the error-body shapes Trackops may use."""
    try:
        body = json.loads(response.content)
    except ValueError:
        text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", response.text, flags=re.S)
        text = re.sub(r"\s+", " ", text).strip()
        return (text[:BODY_PREVIEW] or response.reason_phrase or "no message"), {}
    field_errors: dict[str, list[str]] = {}
    message = ""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, Mapping):
            for name, problems in errors.items():
                items = problems if isinstance(problems, list) else [problems]
                field_errors[str(name)] = [str(p) for p in items]
        elif isinstance(errors, list):
            message = "; ".join(str(e) for e in errors)
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str) and body[key]:
                message = body[key]
                break
    elif isinstance(body, str):
        message = body
    if field_errors:
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in field_errors.items())
        message = f"{message} ({detail})" if message else detail
    return message or response.reason_phrase or "no message", field_errors


def pages_needed(records: int) -> int:
    """List requests a full listing of `records` costs: paging stops only on a short page."""
    return records // PER_PAGE + 1
