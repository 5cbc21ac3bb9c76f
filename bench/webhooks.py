"""Webhook freshness: a change in the sandbox -> the signed message at a real receiver, with a
worker polling every BRIDGE_POLL_INTERVAL seconds. Prints each trial split in two (change ->
queued by the pass that saw it; queued -> received), then the median and the worst; asserts
nothing.

Run: .venv/bin/python bench/webhooks.py [trials] [poll_interval_seconds]   (default: 10, 5 s)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import use_sandbox_worker_env, wait_for
from bridge.assembly import build_worker
from bridge.config import load_settings
from bridge.delivery.webhooks import new_secret
from bridge.models import FeedKind
from bridge.store import open_store
from tests.support.webhook_receiver import running_receiver
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    folder = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    sandbox = SandboxServer(SandboxOptions(events=300, rate_limit=None))
    use_sandbox_worker_env(sandbox, folder, interval, BRIDGE_WEBHOOKS_ALLOW_PRIVATE="1")
    settings = load_settings()
    stop = threading.Event()
    with running_receiver() as receiver, open_store(settings.database_url) as store:
        store.migrate()
        worker = build_worker(settings, store, stop)
        thread = threading.Thread(target=worker.run, daemon=True)
        try:
            thread.start()
            wait_for(lambda: store.get_sync_state().events_cursor, 120)  # the first pull
            receiver.secret = new_secret()
            store.add_subscription(
                receiver.url, receiver.secret, datetime.now(UTC), event_types=["event.updated"]
            )
            feed = next(f for f in store.list_feeds() if f.kind is FeedKind.ALL)
            soon = datetime.now(UTC) + timedelta(days=1)
            event_ids = [item.event.event_id for item in store.feed_events(feed, soon)]
            print(f"worker polling every {interval:.0f} s; receiver on {receiver.url}")
            totals, queued_to_received = [], []
            for trial in range(trials):
                title = f"Bench change {trial} {time.time_ns()}"
                changed_at = datetime.now(UTC)
                started = time.monotonic()
                sandbox.control.patch_event(event_ids[trial % len(event_ids)], title=title)
                message = wait_for(lambda: _with_title(receiver, title), interval * 3 + 30)  # noqa: B023
                received_at = datetime.now(UTC)
                totals.append(time.monotonic() - started)
                delivery = store.list_deliveries(limit=1)[0]
                queued = delivery.created_at
                queued_to_received.append((received_at - queued).total_seconds())
                assert message.is_verified and delivery.message_id == message.webhook_id
                print(
                    f"trial {trial + 1}: change -> received in {totals[-1]:.2f} s "
                    f"(-> queued {(queued - changed_at).total_seconds():.2f} s, "
                    f"queued -> received {queued_to_received[-1] * 1000:.0f} ms)"
                )
            own = [seconds * 1000 for seconds in queued_to_received]
            print(
                f"webhook freshness: median {statistics.median(totals):.2f} s, "
                f"max {max(totals):.2f} s (poll interval {interval:.0f} s); the sender's own "
                f"part (queued -> received): median {statistics.median(own):.0f} ms, "
                f"max {max(own):.0f} ms"
            )
        finally:
            worker.stop()
            thread.join(timeout=15)
            sandbox.stop()


def _with_title(receiver, title: str):  # type: ignore[no-untyped-def]
    for message in receiver.received():
        if message.payload["data"]["title"] == title:
            return message
    return None


if __name__ == "__main__":
    main()
