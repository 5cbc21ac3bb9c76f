"""The store's record problems and its errors, on SQLite and PostgreSQL (TEST_DATABASE_URL).

Problems are kept by record and field until the record reads fine; no error or log line of the
store ever shows bound parameters (people's titles, notes and addresses).
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bridge.models import Event
from bridge.store import RecordProblem, Store, content_hash, problem_key, tables
from bridge.store.engine import transaction
from bridge.store.migrations import MIGRATIONS, apply_migrations
from tests.support.store import BACKENDS

# The store contract's backends (a fresh database per test, on PostgreSQL a schema of its own
# in a session zone west of UTC) and its migrated store.


@pytest.fixture
def store(empty_store: Store) -> Store:
    """The contract's database (conftest's `database_url` over BACKENDS), migrated."""
    empty_store.migrate()
    return empty_store


AT = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=1)
SECRET = "Confidential: meet the informant at 5 Elm St"


def skipped(record_key: str, field: str = "start_at", kind: str = "event") -> RecordProblem:
    return RecordProblem(kind, record_key, field, "too far in the future", True, "Hearing")


def kept(record_key: str, field: str = "timezone") -> RecordProblem:
    return RecordProblem("event", record_key, field, "'US' is not a time zone", False)


def shown(store: Store) -> set[tuple[str, str, str, bool]]:
    return {(p.kind, p.record_key, p.field, p.is_skipped) for p in store.list_record_problems()}


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
class TestRecordProblems:
    def test_problems_are_kept_until_the_record_reads_fine(self, store: Store) -> None:
        store.update_record_problems([("event", "3")], [skipped("1"), kept("2")], AT)
        assert shown(store) == {("event", "1", "start_at", True), ("event", "2", "timezone", False)}
        assert (store.count_record_problems().skipped, store.count_record_problems().kept) == (1, 1)

        # Seen again: the first sighting stays; read fine: gone; others untouched.
        store.update_record_problems([("event", "2")], [skipped("1")], LATER)
        (problem,) = store.list_record_problems()
        assert (problem.record_key, problem.first_seen_at, problem.last_seen_at) == (
            "1",
            AT,
            LATER,
        )
        assert problem.label == "Hearing" and problem.detail == "too far in the future"

    def test_a_record_with_another_problem_now_has_only_that_one(self, store: Store) -> None:
        store.update_record_problems([], [kept("5", "timezone"), kept("5", "title")], AT)
        assert store.count_record_problems().kept == 1  # one record, two fields
        store.update_record_problems([], [skipped("5", "end_at")], LATER)
        assert shown(store) == {("event", "5", "end_at", True)}
        assert store.list_record_problems()[0].first_seen_at == LATER

    def test_kinds_are_apart_and_skipped_records_come_first(self, store: Store) -> None:
        store.update_record_problems([], [kept("7")], AT)
        store.update_record_problems([], [skipped("7", "id", kind="staff")], AT)
        store.update_record_problems([("case", "7")], [], LATER)  # another kind's 7
        assert [p.kind for p in store.list_record_problems()] == ["staff", "event"]
        assert [p.kind for p in store.list_record_problems(limit=1)] == ["staff"]

    def test_nothing_to_clear_writes_nothing(self, store: Store) -> None:
        store.update_record_problems([("event", "1")], [], AT)
        with transaction(store._engine, write=False) as conn:
            assert conn.execute(text("SELECT count(*) FROM record_problems")).scalar_one() == 0

    def test_upgrade_from_version_3_keeps_data(self, empty_store: Store) -> None:
        begin = lambda: transaction(empty_store._engine, write=True)  # noqa: E731
        before = [m for m in MIGRATIONS if m.version < 4]
        assert apply_migrations(begin, before) == [1, 2, 3]
        event = Event(1, "Hearing", AT, LATER, calendar_id=2, raw_json="{}")
        empty_store.apply_event_changes([event], [], AT)
        assert 4 in empty_store.migrate()
        assert empty_store.get_event(1) == event
        assert empty_store.list_record_problems() == []
        empty_store.update_record_problems([], [skipped("9")], AT)
        assert empty_store.count_record_problems().skipped == 1

    def test_database_errors_never_show_parameters(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        row = {"calendar_id": 1, "name": SECRET, "timezone": None}
        with pytest.raises(Exception) as caught:
            with transaction(store._engine, write=True) as conn:
                conn.execute(tables.calendars.insert(), [row, row])  # a duplicate key
        printed = "".join(traceback.format_exception(caught.value))
        assert "calendars" in printed  # the statement is named...
        assert SECRET not in printed  # ...its parameters are not
        assert SECRET not in caplog.text


def test_problem_keys_name_unreadable_ids_as_sent() -> None:
    assert problem_key(17) == "17"
    assert problem_key("n/a") == "'n/a'"
    assert problem_key(None) == "(no id)"
    assert len(problem_key("x" * 500)) == 60


def test_content_hash_takes_any_string() -> None:
    # The reader cleans text first; the hash must still never be what stops a sync.
    event = Event(1, "a\ud800b", AT, LATER)
    assert content_hash(event) != content_hash(dataclasses.replace(event, title="a\ufffdb"))
