"""SQL building blocks both backends share: INSERT ... ON CONFLICT, and IN lists in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import Connection, Row, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

# A result row of any width (Row[Any] would mean a row of exactly one column).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]

# Far below SQLite's and PostgreSQL's bound-parameter limits, large enough to keep round trips few.
CHUNK_SIZE = 500


def insert_or_merge(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can take ON CONFLICT clauses: the same API on both backends."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def chunked(items: Iterable[T]) -> Iterator[tuple[T, ...]]:
    """Split ids for ``IN (...)`` lists that stay within every backend's parameter limit."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, CHUNK_SIZE)):
        yield chunk
