"""The web tests' mirror: two events around NOW (a surveillance in Chicago, an interview in
London), two staff, a feed for each calendar and person and one for all, rendered as a worker
pass renders them. Used by tests/test_web_{feeds,auth,admin,app}.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.config import Settings
from bridge.feed_engine import FeedEngine, PassResult, render_options
from bridge.models import Address, Event, Feed, FeedKind, Privacy, Staff
from bridge.store import Store, open_store
from bridge.web.feed_urls import feed_path
from tests.support.web import make_settings

GOOGLE_UA = "Google-Calendar-Importer"
NOW = datetime.now(UTC).replace(microsecond=0)
UPDATED = NOW - timedelta(days=3)


def surveillance(event_id: int = 101, title: str = "Surveillance, Main St; day 1") -> Event:
    start = (NOW + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    return Event(
        event_id=event_id,
        title=title,
        start_at=start,
        end_at=start + timedelta(hours=2),
        calendar_id=3,
        staff_ids=(7,),
        timezone="America/Chicago",
        address=Address(address_1="12 Main St", city="Springfield", state="IL"),
        created_at=UPDATED,
        updated_at=UPDATED,
    )


def interview() -> Event:
    start = (NOW + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    return Event(
        event_id=202,
        title="Witness interview",
        start_at=start,
        end_at=start + timedelta(hours=1),
        calendar_id=4,
        staff_ids=(8,),
        timezone="Europe/London",
        updated_at=UPDATED,
    )


def mirror_store(tmp_path: Path) -> str:
    """The URL of a new SQLite file under `tmp_path` holding the mirror, its feeds rendered."""
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
        filling.upsert_staff([Staff(7, "Ann", "Lee"), Staff(8, "Bo", "Chen")])
        filling.apply_event_changes([surveillance(), interview()], [], UPDATED)
        filling.ensure_feeds(Privacy.FULL)
        worker_pass(filling)
    return url


def mirror_settings() -> Settings:
    return make_settings(feed_past_days=30)


def worker_pass(db: Store, clock: datetime | None = None) -> PassResult:
    """What the worker does after each pass: render every feed the pass changed, and store it."""
    engine = FeedEngine(db, render_options(mirror_settings()))
    # The data is built around NOW: rendering by the real clock would put a first render on
    # another day than NOW's when the suite runs across midnight.
    engine.clock = lambda: clock or NOW
    return engine.render_stale()


def feed_of(db: Store, kind: FeedKind, target_id: int | None = None) -> Feed:
    return next(f for f in db.list_feeds() if f.kind is kind and f.target_id == target_id)


def path_of(feed: Feed) -> str:
    return feed_path(feed)
