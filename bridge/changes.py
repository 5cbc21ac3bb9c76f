"""What events change in the mirror, decided once: new, changed, undeleted, unchanged or gone.

Entry point: `plan_event_changes(listed, stored)`, pure. Sync plans each chunk of a pass with it,
the outbox plans the event a send created with it, and the store applies exactly the plan it is
given (`bridge.store.events.apply_event_plan`), as vdirsyncer plans its actions and then runs them.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.models import Address, Event

# Bookkeeping about the record, not what a subscriber sees: changing these is no new SEQUENCE.
_NOT_CONTENT = frozenset({"raw_json", "created_at", "updated_at"})
_CONTENT_FIELDS = tuple(f.name for f in dataclasses.fields(Event) if f.name not in _NOT_CONTENT)


def content_hash(event: Event) -> str:
    """A stable digest of everything a feed could show of the event.

    Staff order and duplicates don't count: Trackops may list the same people in another order.
    """
    content = {name: _canonical(getattr(event, name)) for name in _CONTENT_FIELDS}
    content["staff_ids"] = sorted(set(event.staff_ids))
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: the same bytes for every valid string, and no UnicodeEncodeError (which
    # would stop a whole sync) for a lone surrogate that got past the reader.
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Address):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True)
class EventDigest:
    """What the mirror holds of a stored event: enough to plan against without loading it."""

    content_hash: str
    is_deleted: bool
    calendar_id: int | None
    title: str


class ChangeKind(enum.StrEnum):
    NEW = "new"  # not in the mirror
    CHANGED = "changed"  # in the mirror with other content
    UNDELETED = "undeleted"  # in the mirror as a tombstone: listed again, so back


@dataclass(frozen=True)
class EventWrite:
    """One event to write, its content hash, and the mirror's digest of it (None when new)."""

    kind: ChangeKind
    event: Event
    content_hash: str
    before: EventDigest | None


@dataclass(frozen=True)
class EventPlan:
    """What applying a set of events and proven deletions does to the mirror, as plain data."""

    writes: tuple[EventWrite, ...] = ()  # in the order first listed
    unchanged: tuple[Event, ...] = ()  # the same content as the mirror holds
    deletions: tuple[tuple[int, EventDigest], ...] = ()  # live events to tombstone, by id
    # Whether the unchanged events' raw JSON and update stamps are rewritten too. Sync leaves
    # them (an idle overlap would otherwise write every pass); a lone created event refreshes.
    refresh_unchanged: bool = False

    def of_kind(self, kind: ChangeKind) -> list[EventWrite]:
        return [write for write in self.writes if write.kind is kind]

    @property
    def upserts(self) -> list[Event]:
        """The events written: new, changed or back from a tombstone."""
        return [write.event for write in self.writes]

    @property
    def has_writes(self) -> bool:
        return bool(self.writes or self.deletions or (self.refresh_unchanged and self.unchanged))


def plan_event_changes(
    listed: Sequence[Event],
    stored: Mapping[int, EventDigest],
    *,
    tombstones: Iterable[int] = (),
    refresh_unchanged: bool = False,
) -> EventPlan:
    """Classify each listed event against the mirror's digests, and each proven deletion. Pure.

    `stored` must hold the digest of every stored event among `listed` and `tombstones`. An
    event listed twice (an overlap) counts once, its newest version (the later of equals). An
    id both listed and tombstoned is a planning bug: ValueError. Tombstones of events the mirror
    lacks, or holds as tombstones already, are left out.
    """
    latest: dict[int, Event] = {}
    for event in listed:
        previous = latest.get(event.event_id)
        if previous is None or _stamp(event) >= _stamp(previous):
            latest[event.event_id] = event
    dead = set(tombstones)
    if contradictions := sorted(dead & latest.keys()):
        raise ValueError(f"events both upserted and tombstoned: {contradictions[:10]}")
    writes: list[EventWrite] = []
    unchanged: list[Event] = []
    for event in latest.values():
        digest = content_hash(event)
        before = stored.get(event.event_id)
        if before is None:
            writes.append(EventWrite(ChangeKind.NEW, event, digest, None))
        elif before.is_deleted:
            writes.append(EventWrite(ChangeKind.UNDELETED, event, digest, before))
        elif before.content_hash != digest:
            writes.append(EventWrite(ChangeKind.CHANGED, event, digest, before))
        else:
            unchanged.append(event)
    deletions = tuple(
        (event_id, stored[event_id])
        for event_id in sorted(dead)
        if event_id in stored and not stored[event_id].is_deleted
    )
    return EventPlan(tuple(writes), tuple(unchanged), deletions, refresh_unchanged)


def _stamp(event: Event) -> datetime:
    return event.updated_at or datetime.min.replace(tzinfo=UTC)
