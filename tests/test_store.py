"""The store's contract: one class of behaviours, run on a SQLite file and on PostgreSQL.

PostgreSQL runs when TEST_DATABASE_URL is set; each test gets a schema of its own there
(tests/support/store.py; the `database_url` and `empty_store` fixtures are in conftest.py).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, text

from bridge.models import Address, Case, FeedKind, Privacy, Staff, Subject
from bridge.store import (
    LATEST_VERSION,
    FeedFetch,
    FeedRender,
    NotFound,
    SchemaOutOfDate,
    Store,
    StoreUnavailable,
    SyncState,
    content_hash,
    open_store,
    tables,
)
from bridge.store.engine import normalise_url, transaction
from bridge.store.events import apply_event_changes
from bridge.store.migrations import MIGRATIONS, Migration, apply_migrations
from tests.support.events import SYNC_AT, T0, make_event
from tests.support.store import BACKENDS

LATER = SYNC_AT + timedelta(hours=1)


def altered(token: str) -> str:
    """The token with its last character changed: never equal to it (unlike appending "x")."""
    return token[:-1] + ("y" if token.endswith("x") else "x")


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.migrate()
    return empty_store


def versions(store: Store) -> dict[tuple[FeedKind, int | None], int]:
    return {(f.kind, f.target_id): store.feed_version(f.feed_id) for f in store.list_feeds()}


def feed_of(store: Store, kind: FeedKind, target_id: int | None = None) -> int:
    (feed_id,) = [
        f.feed_id for f in store.list_feeds() if f.kind is kind and f.target_id == target_id
    ]
    return feed_id


def feed_event_ids(store: Store, kind: FeedKind, target_id: int | None = None) -> list[int]:
    feed = store.get_feed(feed_of(store, kind, target_id))
    assert feed is not None
    return [fe.event.event_id for fe in store.feed_events(feed, SYNC_AT)]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
class TestStoreContract:
    # -- schema ------------------------------------------------------------------------

    def test_migrate_applies_everything_once(self, empty_store: Store) -> None:
        assert empty_store.schema_version() == 0
        with pytest.raises(SchemaOutOfDate, match="run `trackops-bridge migrate`"):
            empty_store.require_current_schema()

        assert empty_store.migrate() == [m.version for m in MIGRATIONS]
        assert empty_store.migrate() == []
        assert empty_store.schema_version() == LATEST_VERSION
        empty_store.require_current_schema()

    def test_unmigrated_database_says_to_migrate(self, empty_store: Store) -> None:
        with pytest.raises(SchemaOutOfDate, match="run `trackops-bridge migrate`") as caught:
            empty_store.count_events()
        assert (caught.value.current, caught.value.required) == (0, LATEST_VERSION)

    def test_schema_matches_the_query_tables(self, store: Store, database_url: str) -> None:
        engine = create_engine(normalise_url(database_url))
        try:
            inspector = inspect(engine)
            for table in tables.metadata.sorted_tables:
                reflected = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
                declared = {c.name: c.nullable for c in table.columns}
                assert reflected == declared, table.name
                reflected_indexes = {
                    i["name"]
                    for i in inspector.get_indexes(table.name)
                    if "duplicates_constraint" not in i  # PostgreSQL lists UNIQUE's index too
                }
                assert reflected_indexes == {i.name for i in table.indexes}, table.name
        finally:
            engine.dispose()

    def test_upgrade_from_version_1_keeps_data(self, empty_store: Store) -> None:
        store = empty_store
        engine = store._engine
        begin = lambda: transaction(engine, write=True)  # noqa: E731
        assert apply_migrations(begin, MIGRATIONS[:1]) == [1]
        store.apply_event_changes([make_event(1), make_event(2, staff_ids=(10, 11))], [], SYNC_AT)
        store.ensure_feeds(Privacy.FULL)
        with transaction(engine, write=True) as conn:  # the v1 columns only, as v1 wrote them
            conn.execute(
                text(
                    "INSERT INTO sync_state (id, events_cursor, events_settled, last_error,"
                    " requests_total, rate_limited_total, events_fetched_total)"
                    " VALUES (1, :cursor, false, 'earlier', 0, 0, 0)"
                ),
                {
                    "cursor": SYNC_AT
                    if engine.dialect.name != "sqlite"
                    else SYNC_AT.replace(tzinfo=None)
                },
            )
        feeds_before = store.list_feeds()

        assert store.migrate() == [m.version for m in MIGRATIONS[1:]]
        assert store.schema_version() == LATEST_VERSION
        store.require_current_schema()
        assert store.get_event(1) == make_event(1)
        assert store.get_event(2) == make_event(2, staff_ids=(10, 11))
        assert store.list_feeds() == feeds_before
        assert store.get_sync_state().events_cursor == SYNC_AT
        assert store.get_sync_state().last_error == "earlier"
        assert store.get_sync_state().full_sync_resume_from is None
        assert store.list_batches() == [] and store.count_outbox_items() == 0

        def add_later(conn: object) -> None:
            later = Table("later", MetaData(), Column("later_id", Integer, primary_key=True))
            later.create(conn)  # type: ignore[arg-type]

        future = Migration(LATEST_VERSION + 1, "later", add_later)
        assert apply_migrations(begin, [*MIGRATIONS, future]) == [future.version]
        assert apply_migrations(begin, [*MIGRATIONS, future]) == []
        assert store.get_event(1) == make_event(1)
        with pytest.raises(SchemaOutOfDate, match="upgrade trackops-bridge"):
            store.require_current_schema()

    def test_failed_migration_changes_nothing(self, store: Store) -> None:
        def half_done(conn: object) -> None:
            Table("half", MetaData(), Column("x", Integer)).create(conn)  # type: ignore[arg-type]
            raise RuntimeError("step failed")

        broken = Migration(LATEST_VERSION + 1, "broken", half_done)
        with pytest.raises(RuntimeError):
            apply_migrations(lambda: transaction(store._engine, write=True), [broken])
        assert store.schema_version() == LATEST_VERSION
        with transaction(store._engine, write=False) as conn:
            assert not inspect(conn).has_table("half")

    # -- applying sync plans -----------------------------------------------------------

    def test_insert_then_read_back(self, store: Store) -> None:
        event = make_event(
            1,
            address=Address(address_1="1 Main St", city="Austin", state="TX"),
            staff_ids=(12, 10),
            alert_at=T0 - timedelta(minutes=15),
            created_at=SYNC_AT - timedelta(days=1),
            case_id=5,
            subject_id=6,
            case_service_id=7,
            body="Bring the long lens",
            is_allday=True,
        )
        counts = store.apply_event_changes([event, make_event(2)], [], SYNC_AT)

        assert (counts.inserted, counts.updated, counts.unchanged) == (2, 0, 0)
        assert store.get_event(1) == dataclasses.replace(event, staff_ids=(10, 12))
        assert store.get_event(1).raw_json == '{"id": 1}'  # type: ignore[union-attr]
        assert store.get_event(99) is None
        assert store.count_events() == 2
        digest = store.event_digests([1, 99])
        assert list(digest) == [1]
        assert digest[1].content_hash == content_hash(event)
        assert (digest[1].is_deleted, digest[1].calendar_id, digest[1].title) == (
            False,
            1,
            "Surveillance 1",
        )

    def test_identical_event_only_refreshes_bookkeeping(self, store: Store) -> None:
        store.apply_event_changes([make_event(1)], [], SYNC_AT)
        store.ensure_feeds(Privacy.FULL)
        before = versions(store)

        again = make_event(1, raw_json='{"id": 1, "v": 2}', updated_at=LATER)
        counts = store.apply_event_changes([again], [], LATER)

        assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
        stored = store.get_event(1)
        assert stored is not None
        assert (stored.raw_json, stored.updated_at) == ('{"id": 1, "v": 2}', LATER)
        assert versions(store) == before
        assert self._sequence(store, 1) == 0

    def test_changed_event_gets_a_new_sequence(self, store: Store) -> None:
        store.apply_event_changes([make_event(1)], [], SYNC_AT)
        counts = store.apply_event_changes([make_event(1, title="Moved")], [], LATER)
        assert (counts.updated, counts.unchanged) == (1, 0)
        assert self._sequence(store, 1) == 1
        assert store.get_event(1).title == "Moved"  # type: ignore[union-attr]

    def test_tombstone_and_undelete(self, store: Store) -> None:
        other = make_event(2, calendar_id=2, staff_ids=(11,))
        store.apply_event_changes([make_event(1), other], [], SYNC_AT)
        store.upsert_staff([Staff(staff_id=10), Staff(staff_id=11)])
        store.ensure_feeds(Privacy.FULL)
        before = versions(store)

        counts = store.apply_event_changes([], [1, 404], LATER)
        assert (counts.deleted, counts.deleted_events) == (1, [(1, "Surveillance 1")])
        after = versions(store)
        assert {key for key in before if after[key] > before[key]} == {
            (FeedKind.ALL, None),
            (FeedKind.CALENDAR, 1),
            (FeedKind.STAFF, 10),  # the feeds that showed it, and no other
        }
        assert (store.count_events(), store.count_deleted_events()) == (1, 1)
        assert store.event_digests([1])[1].is_deleted
        assert store.live_event_ids(SYNC_AT) == {2}
        assert feed_event_ids_all(store) == [2]

        before = versions(store)
        assert store.apply_event_changes([], [1], LATER).deleted == 0  # already gone
        assert versions(store) == before

        counts = store.apply_event_changes([make_event(1)], [], LATER)
        assert (counts.undeleted, counts.updated, counts.inserted) == (1, 0, 0)
        assert store.live_event_ids(SYNC_AT) == {1, 2}
        assert self._sequence(store, 1) == 2  # +1 deleted, +1 back

    def test_deletion_candidates_wait_until_proven(self, store: Store) -> None:
        store.apply_event_changes([make_event(i) for i in (1, 2, 3, 4)], [], SYNC_AT)
        assert store.add_deletion_candidates([3, 1, 2], SYNC_AT) == 3
        assert store.add_deletion_candidates([1, 4], SYNC_AT) == 1  # 1 was already waiting
        assert store.count_deletion_candidates() == 4
        store.mark_deletion_probed(1, SYNC_AT + timedelta(minutes=1))
        # Never-probed ones first, so a failing probe cannot starve the rest.
        assert store.next_deletion_candidates(3) == [2, 3, 4]
        assert store.drop_deletion_candidates([4, 99]) == 1  # listed again: no longer a hint

        counts = store.apply_proven_deletions([2], SYNC_AT)
        assert counts.deleted_events == [(2, "Surveillance 2")]
        assert store.next_deletion_candidates(10) == [3, 1]
        assert store.get_event(2) is not None and store.count_events() == 3
        assert store.live_event_ids(ending_after=T0) == {1, 3, 4}

    def test_large_batches(self, store: Store) -> None:
        many = [make_event(i, staff_ids=(10, 11)) for i in range(1, 1202)]
        assert store.apply_event_changes(many, [], SYNC_AT).inserted == 1201
        assert len(store.event_digests(range(1, 1300))) == 1201
        counts = store.apply_event_changes([], list(range(1, 1202)), LATER)
        assert counts.deleted == 1201
        assert store.live_event_ids(SYNC_AT) == set()

    def test_upsert_and_tombstone_of_one_event_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError, match="both upserted and tombstoned"):
            store.apply_event_changes([make_event(1)], [1], SYNC_AT)
        assert store.count_events() == 0

    def test_calendars_are_discovered(self, store: Store) -> None:
        store.apply_event_changes(
            [make_event(1, calendar_id=7), make_event(2, calendar_id=None)], [], SYNC_AT
        )
        assert [(c.calendar_id, c.name) for c in store.list_calendars()] == [(7, "Calendar 7")]

        store.rename_calendar(7, "Field team")
        store.set_calendar_timezone(7, "Europe/London")
        store.apply_event_changes([make_event(3, calendar_id=7)], [], LATER)
        calendar = store.get_calendar(7)
        assert calendar is not None
        assert (calendar.name, calendar.timezone) == ("Field team", "Europe/London")
        with pytest.raises(NotFound):
            store.rename_calendar(8, "Nobody's")

    def test_moving_an_event_between_calendars(self, store: Store) -> None:
        store.apply_event_changes(
            [
                make_event(1, calendar_id=1),
                make_event(2, calendar_id=2),
                make_event(3, calendar_id=3, staff_ids=()),
            ],
            [],
            SYNC_AT,
        )
        store.ensure_feeds(Privacy.FULL)
        before = versions(store)

        store.apply_event_changes([make_event(1, calendar_id=2)], [], LATER)

        after = versions(store)
        assert feed_event_ids(store, FeedKind.CALENDAR, 1) == []
        assert feed_event_ids(store, FeedKind.CALENDAR, 2) == [1, 2]
        for key in [(FeedKind.CALENDAR, 1), (FeedKind.CALENDAR, 2), (FeedKind.ALL, None)]:
            assert after[key] > before[key], key
        assert after[(FeedKind.CALENDAR, 3)] == before[(FeedKind.CALENDAR, 3)]

    def test_staff_feeds_follow_staff_changes(self, store: Store) -> None:
        store.upsert_staff([Staff(staff_id=i, first_name=f"S{i}") for i in (10, 11, 12, 13)])
        store.apply_event_changes([make_event(1, staff_ids=(10, 11))], [], SYNC_AT)
        store.ensure_feeds(Privacy.BUSY)
        before = versions(store)

        store.apply_event_changes([make_event(1, staff_ids=(11, 12))], [], LATER)

        after = versions(store)
        assert feed_event_ids(store, FeedKind.STAFF, 10) == []
        assert feed_event_ids(store, FeedKind.STAFF, 11) == [1]
        assert feed_event_ids(store, FeedKind.STAFF, 12) == [1]
        for staff_id in (10, 11, 12):
            assert after[(FeedKind.STAFF, staff_id)] > before[(FeedKind.STAFF, staff_id)]
        assert after[(FeedKind.STAFF, 13)] == before[(FeedKind.STAFF, 13)]
        assert store.get_event(1).staff_ids == (11, 12)  # type: ignore[union-attr]

    def test_window_boundary(self, store: Store) -> None:
        edge = make_event(1, start_at=SYNC_AT - timedelta(hours=1), end_at=SYNC_AT)
        inside = make_event(
            2, start_at=SYNC_AT - timedelta(hours=1), end_at=SYNC_AT + timedelta(microseconds=1)
        )
        store.apply_event_changes([edge, inside], [], SYNC_AT)
        store.ensure_feeds(Privacy.FULL)
        assert store.live_event_ids(SYNC_AT) == {2}
        assert feed_event_ids_all(store) == [2]
        assert store.live_event_ids(SYNC_AT - timedelta(seconds=1)) == {1, 2}

    def test_feed_events_are_ordered_and_named(self, store: Store) -> None:
        store.upsert_cases([Case(case_id=5, case_number="2030-17", reference="Acme v. Doe")])
        store.upsert_subjects([Subject(subject_id=6, case_id=5, name="John Doe")])
        same_start = T0 + timedelta(hours=3)
        store.apply_event_changes(
            [
                make_event(9, start_at=same_start, case_id=5, subject_id=6),
                make_event(4, start_at=same_start, case_id=404),
                make_event(2),
            ],
            [],
            SYNC_AT,
        )
        store.rename_calendar(1, "Field team")
        store.ensure_feeds(Privacy.FULL)
        feed = store.get_feed(feed_of(store, FeedKind.ALL))
        assert feed is not None

        shown = store.feed_events(feed, SYNC_AT)

        assert [fe.event.event_id for fe in shown] == [2, 4, 9]
        assert [(fe.case_label, fe.subject_name, fe.calendar_name) for fe in shown] == [
            (None, None, "Field team"),
            (None, None, "Field team"),  # the case is not known yet
            ("2030-17 / Acme v. Doe", "John Doe", "Field team"),
        ]
        assert shown[2].event == dataclasses.replace(
            make_event(9, start_at=same_start, case_id=5, subject_id=6), raw_json=""
        )

    # -- reference data ----------------------------------------------------------------

    def test_reference_upserts_count_changes_and_bump_feeds(self, store: Store) -> None:
        people = [Staff(staff_id=1, first_name="Ada", last_name="Byron", updated_at=SYNC_AT)]
        assert store.upsert_staff(people) == 1
        store.ensure_feeds(Privacy.FULL)
        before = versions(store)

        assert store.upsert_staff(people) == 0
        assert versions(store) == before

        touched = [dataclasses.replace(people[0], updated_at=LATER)]
        assert store.upsert_staff(touched) == 1
        assert versions(store) == before  # nothing a feed shows changed

        renamed = [dataclasses.replace(people[0], last_name="Lovelace")]
        assert store.upsert_staff(renamed) == 1
        assert all(versions(store)[key] > before[key] for key in before)
        assert store.list_staff() == renamed
        feed = store.get_feed(feed_of(store, FeedKind.STAFF, 1))
        assert feed is not None and feed.name == "Ada Lovelace"

    def test_cases_and_subjects(self, store: Store) -> None:
        cases = [Case(case_id=2, case_number="B"), Case(case_id=1, case_number="A", title="t")]
        assert store.upsert_cases(cases) == 2
        assert store.list_cases() == sorted(cases, key=lambda c: c.case_number)
        subjects = [
            Subject(subject_id=1, case_id=1, name="Zed"),
            Subject(subject_id=2, case_id=2, name="Amy"),
            Subject(subject_id=3, case_id=1, name="Bob"),
        ]
        assert store.upsert_subjects(subjects) == 3
        assert [s.name for s in store.list_subjects()] == ["Amy", "Bob", "Zed"]
        assert [s.name for s in store.list_subjects(case_id=1)] == ["Bob", "Zed"]
        assert store.list_staff() == []

    # -- feeds -------------------------------------------------------------------------

    def test_ensure_feeds_is_idempotent(self, store: Store) -> None:
        store.upsert_staff([Staff(staff_id=10, first_name="Ada", last_name="Lovelace")])
        store.apply_event_changes(
            [make_event(1, calendar_id=1), make_event(2, calendar_id=2)], [], SYNC_AT
        )
        store.rename_calendar(2, "Night shift")

        assert store.ensure_feeds(Privacy.LIMITED) == 4
        assert store.ensure_feeds(Privacy.LIMITED) == 0
        feeds = store.list_feeds()
        assert [(f.kind, f.target_id, f.name) for f in feeds] == [
            (FeedKind.ALL, None, "All events"),
            (FeedKind.CALENDAR, 1, "Calendar 1"),
            (FeedKind.CALENDAR, 2, "Night shift"),
            (FeedKind.STAFF, 10, "Ada Lovelace"),
        ]
        assert {f.privacy for f in feeds} == {Privacy.LIMITED}
        assert all(len(f.token) == 32 for f in feeds)
        assert len({f.token for f in feeds}) == 4

        store.apply_event_changes([make_event(3, calendar_id=3)], [], LATER)
        assert store.ensure_feeds(Privacy.FULL) == 1

    def test_token_lookup_and_rotation(self, store: Store) -> None:
        store.ensure_feeds(Privacy.FULL)
        (feed,) = store.list_feeds()
        assert store.find_feed_and_version(feed.token) == (feed, 1)
        assert store.find_feed_and_version(altered(feed.token)) is None
        assert store.find_feed_and_version("") is None
        assert store.find_feed_and_version("é" * 32) is None

        assert store.feed_version(feed.feed_id) == 1
        rotated = store.rotate_feed_token(feed.feed_id)
        assert rotated.token != feed.token
        assert store.find_feed_and_version(feed.token) is None
        assert store.find_feed_and_version(rotated.token) == (rotated, 2)
        assert store.feed_version(feed.feed_id) == 2
        with pytest.raises(NotFound):
            store.rotate_feed_token(feed.feed_id + 1000)

    def test_update_feed(self, store: Store) -> None:
        store.apply_event_changes([make_event(1)], [], SYNC_AT)
        store.ensure_feeds(Privacy.FULL)
        feed_id = feed_of(store, FeedKind.CALENDAR, 1)
        version = store.feed_version(feed_id)

        updated = store.update_feed(
            feed_id, name="Ours", privacy=Privacy.BUSY, timezone="Asia/Tokyo"
        )
        assert (updated.name, updated.privacy, updated.timezone) == (
            "Ours",
            Privacy.BUSY,
            "Asia/Tokyo",
        )
        assert store.feed_version(feed_id) > version
        store.rename_calendar(1, "Renamed")
        assert store.get_feed(feed_id).name == "Ours"  # type: ignore[union-attr]

        reset = store.update_feed(feed_id, name="", timezone="")
        assert (reset.name, reset.privacy, reset.timezone) == ("Renamed", Privacy.BUSY, None)
        assert store.get_feed(feed_id + 1000) is None
        with pytest.raises(NotFound):
            store.update_feed(feed_id + 1000, name="x")

    def test_calendar_changes_bump_feeds_that_show_it(self, store: Store) -> None:
        store.upsert_staff([Staff(staff_id=10), Staff(staff_id=11)])
        store.apply_event_changes(
            [
                make_event(1, calendar_id=1, staff_ids=(10,)),
                make_event(2, calendar_id=2, staff_ids=(11,)),
            ],
            [],
            SYNC_AT,
        )
        store.ensure_feeds(Privacy.FULL)
        before = versions(store)
        store.set_calendar_timezone(1, "Europe/Paris")
        after = versions(store)
        assert {key for key in before if after[key] > before[key]} == {
            (FeedKind.CALENDAR, 1),
            (FeedKind.STAFF, 10),
            (FeedKind.ALL, None),
        }

    def test_render_cache_round_trip(self, store: Store) -> None:
        store.ensure_feeds(Privacy.FULL)
        feed_id = feed_of(store, FeedKind.ALL)
        assert store.get_feed_render(feed_id) is None
        body = b"BEGIN:VCALENDAR\r\n\x00\xff"
        render = FeedRender(feed_id, 3, "2030-01-01", body, '"abc"', SYNC_AT)
        store.put_feed_render(render)
        assert store.get_feed_render(feed_id) == render

        store.put_feed_render(dataclasses.replace(render, version=2, body=b"stale"))
        assert store.get_feed_render(feed_id) == render  # a slower process can't undo it
        store.put_feed_render(dataclasses.replace(render, rendered_at=LATER))
        assert store.get_feed_render(feed_id) == render, "the first of a version and window stays"
        newer = dataclasses.replace(render, version=4, window_key="2030-01-02", body=b"new")
        store.put_feed_render(newer)
        assert store.get_feed_render(feed_id) == newer
        assert store.render_sizes() == {feed_id: 3}  # measured in the database, body unread

    def test_feed_fetches(self, store: Store) -> None:
        store.ensure_feeds(Privacy.FULL)
        feed_id = feed_of(store, FeedKind.ALL)
        google = "Google-Calendar-Importer"
        outlook = "Microsoft Outlook " + "x" * 400
        store.record_feed_fetch(feed_id, SYNC_AT, google)
        store.record_feed_fetch(feed_id, SYNC_AT + timedelta(minutes=1), outlook)
        store.record_feed_fetch(feed_id, LATER, google)

        fetches = store.feed_fetches(feed_id)
        assert [(f.user_agent, f.last_fetched_at, f.fetch_count) for f in fetches] == [
            (google, LATER, 2),
            (outlook[:300], SYNC_AT + timedelta(minutes=1), 1),
        ]

        # A web process writing its tally late adds the count, but moves no time back.
        store.record_feed_fetch(feed_id, SYNC_AT, google, count=5)
        assert store.feed_fetches(feed_id)[0] == FeedFetch(google, LATER, 7, SYNC_AT)
        # The feeds list gets every feed's newest fetch in one query; unfetched feeds are absent.
        assert store.last_fetches() == {feed_id: FeedFetch(google, LATER, 7, SYNC_AT)}

    # -- sync state, login throttle, time zones ----------------------------------------

    def test_sync_state_round_trip(self, store: Store) -> None:
        assert store.get_sync_state() == SyncState()
        plus_two = timezone(timedelta(hours=2))
        state = SyncState(
            events_cursor=datetime(2030, 1, 1, 12, 0, tzinfo=plus_two),
            last_error="HTTP 503",
            last_error_at=SYNC_AT,
            heartbeat_at=LATER,
            requests_total=41,
            rate_limited_total=2,
            events_fetched_total=1000,
        )
        store.put_sync_state(state)
        stored = store.get_sync_state()
        assert stored == state
        assert stored.events_cursor is not None
        assert stored.events_cursor.tzinfo is UTC
        assert stored.events_cursor.hour == 10

        store.put_sync_state(dataclasses.replace(stored, last_error=None, requests_total=42))
        again = store.get_sync_state()
        assert (again.last_error, again.requests_total) == (None, 42)

    def test_login_failures(self, store: Store) -> None:
        for minutes in (0, 5, 10):
            store.record_login_failure("203.0.113.9", SYNC_AT + timedelta(minutes=minutes))
        store.record_login_failure("198.51.100.1", SYNC_AT)
        assert store.count_login_failures("203.0.113.9", SYNC_AT + timedelta(minutes=5)) == 2
        assert store.count_login_failures("203.0.113.9", SYNC_AT) == 3
        store.clear_login_failures("203.0.113.9")
        assert store.count_login_failures("203.0.113.9", SYNC_AT) == 0
        assert store.count_login_failures("198.51.100.1", SYNC_AT) == 1

    def test_old_login_failures_are_pruned(self, store: Store) -> None:
        long_ago = SYNC_AT - timedelta(days=2)
        store.record_login_failure("192.0.2.7", SYNC_AT - timedelta(hours=23))
        store.record_login_failure("192.0.2.7", long_ago)  # a late writer prunes nothing newer
        assert store.count_login_failures("192.0.2.7", long_ago) == 2

        # Any client's failure prunes every client's failures older than a day, not newer ones.
        store.record_login_failure("198.51.100.1", SYNC_AT)
        assert store.count_login_failures("192.0.2.7", long_ago) == 1
        assert store.count_login_failures("198.51.100.1", long_ago) == 1

    def test_datetimes_come_back_aware_utc(self, store: Store) -> None:
        chicago = timezone(timedelta(hours=-6))
        start = datetime(2030, 3, 1, 8, 0, tzinfo=chicago)
        store.apply_event_changes(
            [make_event(1, start_at=start, end_at=start + timedelta(hours=1))], [], SYNC_AT
        )
        stored = store.get_event(1)
        assert stored is not None
        assert stored.start_at == start
        assert stored.start_at.tzinfo is UTC
        assert stored.start_at.hour == 14
        assert stored.updated_at is not None and stored.updated_at.tzinfo is UTC

    def test_naive_datetimes_are_refused(self, store: Store) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.live_event_ids(datetime(2030, 1, 1))

    @staticmethod
    def _sequence(store: Store, event_id: int) -> int:
        store.ensure_feeds(Privacy.FULL)
        feed = store.get_feed(feed_of(store, FeedKind.ALL))
        assert feed is not None
        (found,) = [
            fe.sequence for fe in store.feed_events(feed, SYNC_AT) if fe.event.event_id == event_id
        ]
        return found


def feed_event_ids_all(store: Store) -> list[int]:
    store.ensure_feeds(Privacy.FULL)
    return feed_event_ids(store, FeedKind.ALL)


# -- content hash (no database) ----------------------------------------------------------


def test_content_hash_ignores_bookkeeping() -> None:
    event = make_event(1, staff_ids=(1, 2))
    same = dataclasses.replace(
        event, raw_json="{}", updated_at=LATER, created_at=SYNC_AT, staff_ids=(2, 1, 2)
    )
    assert content_hash(event) == content_hash(same)
    assert content_hash(event) == content_hash(
        dataclasses.replace(event, start_at=event.start_at.astimezone(timezone(timedelta(hours=5))))
    )


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Other"},
        {"body": "x"},
        {"end_at": T0 + timedelta(days=1)},
        {"timezone": "Europe/Paris"},
        {"is_allday": True},
        {"address": Address(city="Austin")},
        {"staff_ids": (10, 11)},
        {"calendar_id": 2},
        {"case_id": 3},
        {"alert_at": T0},
    ],
)
def test_content_hash_sees_what_feeds_show(change: dict[str, object]) -> None:
    event = make_event(1)
    assert content_hash(event) != content_hash(dataclasses.replace(event, **change))  # type: ignore[arg-type]


# -- SQLite specifics --------------------------------------------------------------------


def test_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bridge.db"
    # busy_timeout 1 ms: were the reader blocked, it would fail at once instead of waiting.
    with open_store(url) as worker, open_store(url, busy_timeout_ms=1) as web:
        worker.migrate()
        worker.apply_event_changes([make_event(1)], [], SYNC_AT)
        with transaction(worker._engine, write=True) as conn:
            apply_event_changes(conn, [make_event(2)], [], SYNC_AT)
            # The worker's write transaction is open: the web still reads the last commit.
            assert web.live_event_ids(SYNC_AT) == {1}
            assert web.get_event(1) == make_event(1)
        assert web.live_event_ids(SYNC_AT) == {1, 2}

        # Even an EXCLUSIVE lock, which shuts readers out of a rollback-journal database,
        # leaves them reading under WAL.
        writer = sqlite3.connect(tmp_path / "bridge.db", isolation_level=None)
        try:
            writer.execute("BEGIN EXCLUSIVE")
            writer.execute("UPDATE events SET title = 'uncommitted'")
            assert web.get_event(1) == make_event(1)
            writer.execute("ROLLBACK")
        finally:
            writer.close()


def test_a_second_writer_gets_store_unavailable_when_locked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bridge.db"
    with open_store(url) as worker, open_store(url, busy_timeout_ms=1) as web:
        worker.migrate()
        with transaction(worker._engine, write=True) as conn:
            apply_event_changes(conn, [make_event(1)], [], SYNC_AT)
            with pytest.raises(StoreUnavailable, match="locked") as caught:
                web.record_login_failure("client", SYNC_AT)
        assert str(tmp_path) in caught.value.url
        web.record_login_failure("client", SYNC_AT)
        assert web.count_login_failures("client", SYNC_AT) == 1


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/new/dir/bridge.db") as store:
        assert (tmp_path / "new" / "dir" / "bridge.db").exists()
        with store._engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "foreign_keys": 1,
        "synchronous": 1,
    }


def test_unreachable_database_is_named_without_password() -> None:
    # Port 1 on loopback: nothing listens, so the refusal is immediate.
    with pytest.raises(StoreUnavailable) as caught:
        open_store("postgresql://bridge:hunter2@127.0.0.1:1/bridge")
    assert "hunter2" not in str(caught.value)
    assert "bridge:***@127.0.0.1:1/bridge" in str(caught.value)


def test_plain_postgres_urls_use_psycopg_3() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_worker_is_alive_within_three_poll_intervals_of_its_heartbeat() -> None:
    state = SyncState(heartbeat_at=SYNC_AT)
    assert state.is_worker_alive(60, SYNC_AT + timedelta(minutes=3))
    assert not state.is_worker_alive(60, SYNC_AT + timedelta(minutes=3, seconds=1))
    assert not SyncState().is_worker_alive(60, SYNC_AT)
