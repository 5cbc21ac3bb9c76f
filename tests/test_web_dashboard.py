"""The dashboard over a store the real sync filled from the sandbox: the 24 h chart counts the
requests each pass made (and the one that ended a failed pass), times read in the admin's zone,
the next poll, the outbox by state, and the largest feeds against Google's 1 MB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.errors import BridgeError
from bridge.feed_engine import FeedEngine, render_options
from bridge.models import Privacy
from bridge.store import NewItem, Store, open_store
from bridge.sync import Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient
from tests.support.sandbox import make_client
from tests.support.web import make_settings
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer

ADMIN_ZONE = "Asia/Kolkata"
POLL_INTERVAL = 300.0


@pytest.fixture(scope="module")
def sandbox_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """Two passes, the second refused (a wrong token); the requests the client counted."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'bridge.db'}"
    options = SandboxOptions(rate_limit=None, events=120, anchor=datetime.now(UTC).date())
    with SandboxServer(options) as sandbox, open_store(url) as store:
        store.migrate()
        with make_client(sandbox) as client:
            Syncer(client, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
            requests = client.stats.requests
        wrong = TrackopsClient(sandbox.base_url, sandbox.options.username, "wrong", rate_limit=500)
        with wrong as refused:
            with pytest.raises(BridgeError):
                Syncer(refused, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
            requests += refused.stats.requests
        FeedEngine(store, render_options(make_settings())).render_stale()
    return url, requests


@pytest.fixture
def store_url(sandbox_run: tuple[str, int], tmp_path: Path) -> str:
    copy = tmp_path / "bridge.db"
    copy.write_bytes(Path(sandbox_run[0].removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(admin_timezone=ADMIN_ZONE, poll_interval=POLL_INTERVAL)


def dashboard(admin: FlaskClient) -> str:
    response = admin.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def attribute(page: str, name: str) -> str:
    return page.split(f'{name}="', 1)[1].split('"', 1)[0]


def test_the_chart_counts_every_request_and_the_failed_pass(
    admin: FlaskClient, db: Store, sandbox_run: tuple[str, int]
) -> None:
    page = dashboard(admin)
    assert int(attribute(page, "data-requests-24h")) == sandbox_run[1]
    assert db.get_sync_state().requests_total == sandbox_run[1]
    assert int(attribute(page, "data-errors-24h")) == 1, "the refused pass"
    assert page.count("<g data-hour=") == 24
    bars = [int(part.split('"', 1)[0]) for part in page.split('data-requests="')[1:]]
    assert sum(bars) == sandbox_run[1], "the hours' bars add up to every request"


def test_times_are_in_the_admins_zone_with_the_next_poll(admin: FlaskClient, db: Store) -> None:
    page = dashboard(admin)
    state = db.get_sync_state()
    assert state.last_attempt_at is not None and state.last_success_at is not None
    success = state.last_success_at.astimezone(ZoneInfo(ADMIN_ZONE))
    assert f"{success:%a %d %b %Y %H:%M} IST" in page
    next_poll = state.last_attempt_at + timedelta(seconds=POLL_INTERVAL)
    assert attribute(page, "data-next-poll") == next_poll.isoformat()
    assert "Times in Asia/Kolkata" in page


def test_outbox_by_state(admin: FlaskClient, db: Store) -> None:
    items = [
        NewItem(row=n, where=f"Row {n}", idempotency_key=f"{n:064d}", title=f"E{n}", body={})
        for n in range(3)
    ]
    db.queue_batch(batch_key="b" * 64, source="csv", label="x.csv", total=3, ready=3, invalid=0,
                   items=items, at=datetime.now(UTC))  # fmt: skip
    claimed = db.claim_next_item(datetime.now(UTC))
    assert claimed is not None
    db.mark_item_failed(claimed.item_id, "Trackops refused it", {}, datetime.now(UTC))
    db.claim_next_item(datetime.now(UTC))
    page = dashboard(admin)
    pending, sending, failed = (
        attribute(page, f"data-outbox-{state}") for state in ("pending", "sending", "failed")
    )
    assert (pending, sending, failed) == ("1", "1", "1")


def test_largest_feeds_first_against_one_megabyte(admin: FlaskClient, db: Store) -> None:
    page = dashboard(admin)
    sizes = [int(part.split('"', 1)[0]) for part in page.split('data-size="')[1:]]
    stored = sorted(db.render_sizes().values(), reverse=True)[: len(sizes)]
    assert sizes == stored and len(sizes) == min(5, len(db.render_sizes()))
    assert 'max="1000000"' in page
