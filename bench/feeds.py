"""Feed figures: cold render time of the pure renderer for 1k, 10k and 50k events; then served
requests per second for 200 (plain and gzip) and 304 against a baseline route that returns the
same bytes from memory in the same app, as ratios. Prints figures; asserts nothing.

Run: .venv/bin/python bench/feeds.py [events ...]
(default: render 1000, 10000, 50000; serve 1000, 5000)
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Response

import bridge.web.auth
from bridge.config import Settings
from bridge.feeds import render_feed
from bridge.models import Address, Event, Feed, FeedEvent, FeedKind, Privacy
from bridge.store import open_store
from bridge.web import app_context_of, create_app
from bridge.web.feeds import feed_path

SECONDS = 1.5


ZONES = ["America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", None]


def make_events(count: int, now: datetime) -> list[Event]:
    return [
        Event(
            event_id=i,
            title=f"Surveillance of subject {i}, site visit",
            start_at=now + timedelta(hours=3 * i),
            end_at=now + timedelta(hours=3 * i + 2),
            calendar_id=1,
            timezone=ZONES[i % len(ZONES)],
            body=f"Case notes for visit {i}: arrive early, park on the east side.",
            address=Address(address_1=f"{i} Main St", city="Springfield", state="IL", zip="62701"),
            updated_at=now - timedelta(days=1),
        )
        for i in range(1, count + 1)
    ]


def fill(url: str, count: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = make_events(count, now)
    with open_store(url) as store:
        store.migrate()
        store.apply_event_changes(events, [], now)
        store.ensure_feeds(Privacy.FULL)


def rate(call, seconds: float = SECONDS) -> float:
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        call()
        done += 1
    return done / elapsed


def bench(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        fill(url, count)
        settings = Settings(admin_password="bench-password", secret_key="b" * 40)
        app = create_app(settings, store_url=url)
        store = app_context_of(app).store
        feed = next(f for f in store.list_feeds() if f.kind is FeedKind.CALENDAR)
        path = feed_path(feed)
        client = app.test_client()
        in_memory: list[bytes] = []

        def baseline() -> Response:
            return Response(in_memory[0], content_type="text/calendar; charset=utf-8")

        app.add_url_rule("/baseline", "baseline", baseline)
        bridge.web.auth.PUBLIC_ENDPOINTS = bridge.web.auth.PUBLIC_ENDPOINTS | {"baseline"}

        started = time.perf_counter()
        body = client.get(path).get_data()
        cold = time.perf_counter() - started
        in_memory.append(body)
        zipped = gzip.compress(body, 6, mtime=0)
        etag = client.get(path).headers["ETag"]
        gz = {"Accept-Encoding": "gzip"}

        base = rate(lambda: client.get("/baseline"))
        plain = rate(lambda: client.get(path))
        with_gzip = rate(lambda: client.get(path, headers=gz))
        not_modified = rate(lambda: client.get(path, headers={"If-None-Match": etag}))
        compress_ms = 1000 / rate(lambda: gzip.compress(body, 6, mtime=0), 0.5)
        store.close()

    rows = [
        ("baseline (bytes in RAM)", base),
        ("200 plain", plain),
        ("200 gzip (cached by ETag)", with_gzip),
        ("304", not_modified),
    ]
    print(f"{count} events: {len(body) / 1000:.0f} KB ({len(zipped) / 1000:.0f} KB gzipped)")
    print(f"  cold render and serve      {cold * 1000:8.0f} ms")
    for label, value in rows:
        print(f"  {label:<26} {value:8.0f} req/s  ({value / base:.2f} x baseline)")
    print(f"  gzip of the body alone     {compress_ms:8.1f} ms (saved per request by the cache)")


def bench_render(count: int) -> None:
    """The renderer alone, cold: what a feed costs the first time after a change."""
    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        FeedEvent(event=e, sequence=0, case_label="2026-0142") for e in make_events(count, now)
    ]
    feed = Feed(1, FeedKind.ALL, None, "All events", Privacy.FULL, token="bench")
    started = time.perf_counter()
    body = render_feed(
        items,
        feed,
        account="bench",
        default_timezone="America/Chicago",
        refresh_interval=timedelta(minutes=15),
        generated_at=now,
    )
    elapsed = time.perf_counter() - started
    print(
        f"render {count:>6} events: {elapsed * 1000:8.0f} ms  "
        f"({count / elapsed:,.0f} events/s, {len(body) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    sizes = [int(arg) for arg in sys.argv[1:]]
    for size in sizes or [1000, 10000, 50000]:
        bench_render(size)
    for size in sizes or [1000, 5000]:
        bench(size)
