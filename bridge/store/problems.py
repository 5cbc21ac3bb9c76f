"""Record problems: Trackops records the sync skipped, or kept with a value changed, by field.

Entry points: ``replace_record_problems(conn, read, problems, at)`` after each page the sync
reads, ``select_record_problems(conn, limit)`` for the dashboard and ``status``. A record read
fine later clears its problems; only what was wrong is kept, never the record's body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, select

from bridge.store.sql import AnyRow, chunked
from bridge.store.tables import record_problems


@dataclass(frozen=True)
class RecordProblem:
    """One thing wrong with one Trackops record, as the dashboard and ``status`` show it."""

    kind: str  # "event", "case", "subject" or "staff"
    record_key: str  # its id ("17"); an id that could not be read, as sent and quoted
    field: str  # the key at fault; "" when the record as a whole was
    detail: str  # what was wrong, and for a kept record what was done about it
    is_skipped: bool  # True: left out of the mirror; False: kept with the value changed
    label: str = ""  # its title or name as sent, shortened
    first_seen_at: datetime | None = None  # set by the store
    last_seen_at: datetime | None = None

    @property
    def record(self) -> str:
        """The record as people find it: kind, id and title, e.g. ``event 17 ('Hearing')``."""
        named = f"{self.kind} {self.record_key}"
        return f"{named} ({self.label!r})" if self.label else named

    def describe(self) -> str:
        """One line: the record, the field and what was wrong."""
        where = f"{self.field}: " if self.field else ""
        return f"{self.record}: {where}{self.detail}"


@dataclass(frozen=True)
class ProblemCounts:
    skipped: int = 0
    kept: int = 0


def problem_key(record_id: object) -> str:
    """How a problem names its record: the id, or what was sent where the id should be."""
    if isinstance(record_id, int) and not isinstance(record_id, bool):
        return str(record_id)
    if record_id is None:
        return "(no id)"
    text = repr(record_id)
    return text if len(text) <= 60 else text[:57] + "..."


def has_record_problems(conn: Connection, keys: Iterable[tuple[str, str]]) -> bool:
    """Whether any of these (kind, record_key) has a stored problem."""
    return any(_select(conn, set(keys)))


def replace_record_problems(
    conn: Connection,
    read: Iterable[tuple[str, str]],
    problems: Sequence[RecordProblem],
    at: datetime,
) -> None:
    """The records in ``read`` (kind, key) and those of ``problems`` now have exactly
    ``problems``: records read fine lose theirs; a problem seen before keeps its first sighting.
    """
    latest = {(p.kind, p.record_key, p.field): p for p in problems}  # a record listed twice
    keys = set(read) | {(kind, key) for kind, key, _ in latest}
    before = {(p.kind, p.record_key, p.field, p.is_skipped): p for p in _select(conn, keys)}
    for kind, chunk_keys in _by_kind(keys):
        for chunk in chunked(chunk_keys):
            conn.execute(
                delete(record_problems).where(
                    record_problems.c.kind == kind, record_problems.c.record_key.in_(chunk)
                )
            )
    rows = []
    for problem in latest.values():
        seen = before.get((problem.kind, problem.record_key, problem.field, problem.is_skipped))
        first = seen.first_seen_at if seen is not None else at
        rows.append(_values(replace(problem, first_seen_at=first, last_seen_at=at)))
    if rows:
        conn.execute(record_problems.insert(), rows)


def select_record_problems(conn: Connection, limit: int) -> list[RecordProblem]:
    """Skipped records first, then kept ones; newest sightings first within each."""
    query = (
        select(record_problems)
        .order_by(
            record_problems.c.is_skipped.desc(),
            record_problems.c.last_seen_at.desc(),
            record_problems.c.kind,
            record_problems.c.record_key,
            record_problems.c.field,
        )
        .limit(limit)
    )
    return [_problem(row) for row in conn.execute(query)]


def count_record_problems(conn: Connection) -> ProblemCounts:
    """Records (not problems: one record may have several) skipped and kept with changes."""
    records = (
        select(record_problems.c.is_skipped, record_problems.c.kind, record_problems.c.record_key)
        .distinct()
        .subquery()
    )
    query = select(records.c.is_skipped, func.count()).group_by(records.c.is_skipped)
    counts = {bool(is_skipped): int(n) for is_skipped, n in conn.execute(query)}
    return ProblemCounts(skipped=counts.get(True, 0), kept=counts.get(False, 0))


def _select(conn: Connection, keys: set[tuple[str, str]]) -> list[RecordProblem]:
    found: list[RecordProblem] = []
    for kind, kind_keys in _by_kind(keys):
        for chunk in chunked(kind_keys):
            query = select(record_problems).where(
                and_(record_problems.c.kind == kind, record_problems.c.record_key.in_(chunk))
            )
            found.extend(_problem(row) for row in conn.execute(query))
    return found


def _by_kind(keys: set[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for kind, key in sorted(keys):
        grouped.setdefault(kind, []).append(key)
    return sorted(grouped.items())


def _values(problem: RecordProblem) -> dict[str, object]:
    return {
        "kind": problem.kind,
        "record_key": problem.record_key,
        "field": problem.field,
        "is_skipped": problem.is_skipped,
        "detail": problem.detail,
        "label": problem.label,
        "first_seen_at": problem.first_seen_at,
        "last_seen_at": problem.last_seen_at,
    }


def _problem(row: AnyRow) -> RecordProblem:
    return RecordProblem(
        kind=row.kind,
        record_key=row.record_key,
        field=row.field,
        detail=row.detail,
        is_skipped=bool(row.is_skipped),
        label=row.label,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
    )
