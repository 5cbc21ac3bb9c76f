"""Push freshness: a change in the sandbox -> the event updated in a real Radicale calendar, with
a worker polling every BRIDGE_POLL_INTERVAL seconds. Prints each trial and the target (the poll
interval + 5 s); asserts nothing.

Run: .venv/bin/python bench/push.py [trials] [poll_interval_seconds]   (default: 5 trials, 5 s)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import icalendar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import use_sandbox_worker_env, wait_for
from bridge.assembly import build_worker
from bridge.config import load_settings
from bridge.delivery.plan import object_name
from bridge.feeds import feed_uid
from bridge.models import FeedKind
from bridge.store import open_store
from tests.support.caldav_servers import PASSWORD, USERNAME, Radicale
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    folder = Path(tempfile.mkdtemp(prefix="bench-push-"))
    sandbox = SandboxServer(SandboxOptions(events=300, rate_limit=None))
    radicale = Radicale(folder)
    radicale.start()
    use_sandbox_worker_env(
        sandbox, folder, interval, BRIDGE_FEED_PAST_DAYS="0", BENCH_CALDAV_PASSWORD=PASSWORD
    )
    settings = load_settings()
    stop = threading.Event()
    try:
        with _migrated(settings) as store:
            worker = build_worker(settings, store, stop)
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            feed = wait_for(lambda: _smallest_calendar_feed(store), 60)
            url = radicale.collection("bench")
            destination = store.add_destination(
                feed.feed_id,
                url,
                _now(),
                username=USERNAME,
                password_env="BENCH_CALDAV_PASSWORD",
            )
            wait_for(
                lambda: store.get_destination(destination.destination_id).last_success_at,
                interval * 3 + 30,
            )
            pushed = sorted(store.pushed_objects(destination.destination_id))
            event_ids = [int(uid.split("-event-")[1].split("@")[0]) for uid in pushed]
            print(f"feed {feed.feed_id}: {len(pushed)} events pushed to Radicale")
            figures = []
            for trial in range(trials):
                event_id = event_ids[trial % len(event_ids)]
                title = f"Bench change {trial} {time.time_ns()}"
                started = time.monotonic()
                sandbox.control.patch_event(event_id, title=title)
                name = object_name(feed_uid(settings.account, event_id))
                target, wanted = url + name, title
                wait_for(lambda: _has_title(radicale, target, wanted), interval * 3 + 30)  # noqa: B023
                figures.append(time.monotonic() - started)
                print(f"trial {trial + 1}: change -> Radicale in {figures[-1]:.2f} s")
            print(
                f"freshness: median {statistics.median(figures):.2f} s, max {max(figures):.2f} s"
                f" (target: poll interval {interval:.0f} s + 5 s = {interval + 5:.0f} s)"
            )
    finally:
        stop.set()
        radicale.stop()
        sandbox.stop()


def _migrated(settings):  # type: ignore[no-untyped-def]
    store = open_store(settings.database_url)
    store.migrate()
    return store


def _now():  # type: ignore[no-untyped-def]
    return datetime.now(UTC)


def _smallest_calendar_feed(store):  # type: ignore[no-untyped-def]
    feeds = [f for f in store.list_feeds() if f.kind is FeedKind.CALENDAR]
    if not feeds:
        return None
    now = _now()
    sized = [
        (len(store.feed_events(f, ending_after=now - timedelta(days=1))), f.feed_id, f)
        for f in feeds
    ]
    return min(item for item in sized if item[0])[2]


def _has_title(radicale: Radicale, url: str, title: str) -> bool | None:
    answer = httpx.get(url, auth=radicale.auth, timeout=5)
    if answer.status_code != 200:
        return None
    summary = str(icalendar.Calendar.from_ical(answer.text).walk("VEVENT")[0]["SUMMARY"])
    return True if summary == title else None


if __name__ == "__main__":
    main()
