"""The store contract's backends: a SQLite file always, PostgreSQL when TEST_DATABASE_URL is set,
each test on a database of its own (a schema per test on PostgreSQL).

The `database_url` and `empty_store` fixtures in tests/conftest.py use these; a test module runs
on both backends with `@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bridge.store.engine import normalise_url

PG_URL = os.environ.get("TEST_DATABASE_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(PG_URL is None, reason="TEST_DATABASE_URL is not set"),
        ],
    ),
]


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on `backend` ("sqlite" or "postgres"), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/db/bridge.db"
        return
    assert PG_URL is not None
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        # A session zone other than UTC: the store must hand back UTC whatever the server's.
        options = f"-csearch_path%3D{schema}%20-ctimezone%3DAmerica/Chicago"
        yield f"{PG_URL}{separator}options={options}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
