"""The outbox's drain lock on PostgreSQL belongs to one schema: bridges (and parallel test
workers) sharing a database in schemas of their own never hold each other's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.store import open_store
from tests.support.store import PG_URL, fresh_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(PG_URL is None, reason="TEST_DATABASE_URL is not set"),
]


def test_a_sender_in_another_schema_does_not_hold_this_ones_lock(tmp_path: Path) -> None:
    with (
        fresh_database("postgres", tmp_path) as first_url,
        fresh_database("postgres", tmp_path) as second_url,
        open_store(first_url) as first,
        open_store(first_url) as first_again,
        open_store(second_url) as second,
    ):
        with first.outbox_drain_lock() as is_held:
            assert is_held
            with second.outbox_drain_lock() as is_second_held:
                assert is_second_held, "another schema's sender may send its own outbox"
            with first_again.outbox_drain_lock() as is_held_twice:
                assert not is_held_twice, "one sender at a time within a schema"
