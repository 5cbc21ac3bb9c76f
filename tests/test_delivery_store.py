"""Push destinations in the store: migration 9 from a schema-7 database with data, and the
per-destination record of what each holds, on SQLite (and PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.errors import NotFound
from bridge.models import FeedKind, Privacy
from bridge.store import Store, open_store
from bridge.store.delivery import PushedObject
from bridge.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, apply_migrations
from tests.support.store import BACKENDS

AT = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def test_migration_9_upgrades_a_schema_7_database_keeping_its_feeds(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'old.db'}") as store:
        before_9 = [m for m in MIGRATIONS if m.version < 9]
        _migrate_to(store, before_9)
        store.ensure_feeds(Privacy.FULL)
        feeds_before = store.list_feeds()
        assert store.schema_version() == max(m.version for m in before_9)

        assert 9 in store.migrate()
        assert store.schema_version() == LATEST_VERSION
        assert store.list_feeds() == feeds_before
        feed = next(f for f in feeds_before if f.kind is FeedKind.ALL)
        added = store.add_destination(feed.feed_id, "http://127.0.0.1:1/cal/", AT, username="u")
        assert store.list_destinations(feed.feed_id) == [added]


def _migrate_to(store: Store, migrations: list[Migration]) -> None:
    apply_migrations(lambda: store._transaction(write=True), migrations)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.migrate()
        yield opened


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_destination_keeps_what_it_holds_and_its_health(store: Store) -> None:
    store.ensure_feeds(Privacy.FULL)
    feed = store.list_feeds()[0]
    added = store.add_destination(
        feed.feed_id, "https://caldav.example/cal/", AT, password_env="CALDAV_PASSWORD"
    )
    assert (added.pushed_count, added.failures, added.password_env) == (0, 0, "CALDAV_PASSWORD")

    one = PushedObject("uid-1", "/cal/uid-1.ics", '"e1"', "h1")
    store.put_pushed_object(added.destination_id, one, AT)
    store.put_pushed_object(
        added.destination_id, PushedObject("uid-2", "/cal/2.ics", None, "h2"), AT
    )
    changed = PushedObject("uid-1", "/cal/uid-1.ics", '"e2"', "h3")
    store.put_pushed_object(added.destination_id, changed, AT)
    assert store.pushed_objects(added.destination_id)["uid-1"] == changed
    store.drop_pushed_objects(added.destination_id, ["uid-2"])
    assert set(store.pushed_objects(added.destination_id)) == {"uid-1"}

    later = AT + timedelta(minutes=1)
    store.record_push_failure(
        added.destination_id, AT, error="401 Unauthorized", backlog=3, next_attempt_at=later
    )
    store.record_push_failure(
        added.destination_id, AT, error="401 Unauthorized", backlog=3, next_attempt_at=later
    )
    failing = store.get_destination(added.destination_id)
    assert (failing.failures, failing.backlog, failing.next_attempt_at) == (2, 3, later)
    assert failing.last_error == "401 Unauthorized" and not failing.is_healthy

    store.record_push_success(added.destination_id, later, pushed_version=4, reconciled=True)
    healthy = store.get_destination(added.destination_id)
    assert (healthy.failures, healthy.backlog, healthy.pushed_version) == (0, 0, 4)
    assert healthy.last_success_at == later and healthy.reconciled_at == later
    assert healthy.pushed_count == 1 and healthy.is_healthy

    store.remove_destination(added.destination_id)
    assert store.list_destinations() == []
    with pytest.raises(NotFound):
        store.get_destination(added.destination_id)


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_destination_needs_a_feed(store: Store) -> None:
    with pytest.raises(NotFound):
        store.add_destination(404, "https://caldav.example/cal/", AT)
