"""Admin page figures at 10k events (asserts nothing): server time per page, printed.

A real SQLite store is filled with bench/feeds.py's event mix (10,000 events three hours apart,
five zones, every tenth all-day), given cases, staff, fetches and a day of request tallies,
and every feed rendered as the worker renders it. Then each page is requested through the
app in this process (Flask's test client: no network, so the time is the server's): once
cold (a fresh app, its templates compiled as at gunicorn's start-up: the preview splits the
render and parses its blocks) and then ROUNDS times warm.

Run: .venv/bin/python bench/pages.py [--events N]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from feeds import make_events  # noqa: E402  (bench/feeds.py: the shared event mix)

ROUNDS = 20
TARGET_MS = 50.0
PASSWORD = "bench-password-123"


def fill(url: str, count: int) -> None:
    from bridge.feed_engine import FeedEngine, render_options
    from bridge.models import Case, Privacy, Staff
    from bridge.store import open_store

    now = datetime.now(UTC).replace(microsecond=0)
    staff = [Staff(100 + n, f"Investigator{n}", f"Lee{n}") for n in range(20)]
    cases = [Case(500 + n, f"2026-{n:04d}", f"REF-{n}", f"Matter {n}") for n in range(200)]
    events = [
        dataclasses.replace(
            e,
            case_id=500 + e.event_id % 200,
            # Seven in ten name one of their case's five services, as Trackops' events do.
            case_service_id=None if e.event_id % 10 < 3 else 3000 + e.event_id % 1000 // 200,
            staff_ids=(100 + e.event_id % 20,),
        )
        for e in make_events(count, now - timedelta(days=30))
    ]
    with open_store(url) as store:
        store.migrate()
        store.upsert_staff(staff)
        store.upsert_cases(cases)
        for start in range(0, count, 5_000):
            store.apply_event_changes(events[start : start + 5_000], [], now)
        store.ensure_feeds(Privacy.FULL)
        FeedEngine(store, render_options(settings())).render_stale()
        all_events = next(f for f in store.list_feeds() if f.target_id is None)
        for n, agent in enumerate(("Google-Calendar-Importer", "vdirsyncer/0.19.2", "curl/8")):
            store.record_feed_fetch(all_events.feed_id, now - timedelta(hours=n * 30), agent)
        for hour in range(24):
            store.record_request_hour(now - timedelta(hours=hour), 60, hour % 3, 0)


def settings():  # type: ignore[no-untyped-def]
    from bridge.config import Settings

    return Settings(
        admin_password=PASSWORD,
        secret_key="bench-" + "k" * 40,
        public_url="https://calendar.example.com",
        trackops_subdomain="bench",
        default_timezone="America/Chicago",
        feed_past_days=90,
    )


def pages(url: str) -> dict[str, str]:
    from bridge.models import FeedKind
    from bridge.store import open_store

    with open_store(url) as store:
        feeds = store.list_feeds()
    everything = next(f for f in feeds if f.kind is FeedKind.ALL)
    calendar = next(f for f in feeds if f.kind is FeedKind.CALENDAR)
    week = (datetime.now(UTC) + timedelta(days=7)).isocalendar()
    return {
        "dashboard": "/",
        "feed page, agenda (All events)": f"/admin/feeds/{everything.feed_id}",
        "feed page, week (All events)": f"/admin/feeds/{everything.feed_id}"
        f"?view=week&week={week.year}-W{week.week:02d}",
        "feed page, agenda (a calendar)": f"/admin/feeds/{calendar.feed_id}",
        "events, no filter": "/admin/events",
        "events, title + calendar + dates": "/admin/events?title=site+visit&calendar=2"
        f"&from={datetime.now(UTC).date()}&to={(datetime.now(UTC) + timedelta(days=90)).date()}",
        "events, case + staff, page 3": "/admin/events?case=2026-00&staff=105&page=3",
        "calendars": "/admin/calendars",
        "event form (cases' known services)": "/admin/events/new",
    }


def measure(url: str) -> None:
    from bridge.web import app_context_of, compile_templates, create_app

    app = create_app(settings(), store_url=url)
    compile_templates(app)  # as the Procfile's gunicorn app does at start-up
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"password": PASSWORD, "csrf_token": token})
        print(f"{'page':36} {'cold ms':>8} {'median ms':>10} {'max ms':>8}")
        worst = 0.0
        for name, path in pages(url).items():
            timings = []
            for _ in range(ROUNDS + 1):
                started = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: {response.status_code}")
            cold, warm = timings[0], timings[1:]
            worst = max(worst, statistics.median(warm))
            print(f"{name:36} {cold:8.1f} {statistics.median(warm):10.1f} {max(warm):8.1f}")
        print(f"worst warm median {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
        after = _after_one_change(url, client, pages(url)["feed page, agenda (All events)"])
        print(
            f"feed page, agenda (All events), first view after the worker re-rendered it for "
            f"one changed event: median {statistics.median(after):.1f} ms, max {max(after):.1f} ms"
        )
    finally:
        app_context_of(app).store.close()


def _after_one_change(url: str, client, path: str) -> list[float]:  # type: ignore[no-untyped-def]
    """The first view of a feed page after each of ROUNDS renders that changed one event: the
    steady state of a running bridge (blocks it parsed before are cached by their bytes)."""
    from bridge.feed_engine import FeedEngine, render_options
    from bridge.store import open_store

    timings = []
    with open_store(url) as store:
        engine = FeedEngine(store, render_options(settings()))
        # The first event still to come: it is in the agenda the page shows.
        event = store.get_event(min(store.live_event_ids(datetime.now(UTC))))
        assert event is not None
        for n in range(ROUNDS):
            changed = dataclasses.replace(event, title=f"Changed {n}")
            store.apply_event_changes([changed], [], datetime.now(UTC))
            engine.render_stale()
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    count = parser.parse_args().events
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bridge.db'}"
        started = time.perf_counter()
        fill(url, count)
        print(f"{count} events stored and rendered in {time.perf_counter() - started:.1f} s")
        measure(url)


if __name__ == "__main__":
    main()
