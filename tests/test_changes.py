"""The one classifier of event changes: each event's kind, tombstones, and what a plan skips."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.changes import ChangeKind, EventDigest, content_hash, plan_event_changes
from bridge.models import Event

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def event(event_id: int, title: str = "Shift", calendar_id: int = 1) -> Event:
    return Event(event_id, title, T0, T0 + timedelta(hours=4), calendar_id=calendar_id)


def digest(e: Event, *, deleted: bool = False) -> EventDigest:
    return EventDigest(content_hash(e), deleted, e.calendar_id, e.title)


def test_each_event_gets_one_kind_and_keeps_what_the_mirror_held_of_it() -> None:
    same, moved, back, new = event(1), event(2, "Moved"), event(3), event(4)
    stored = {
        1: digest(same),
        2: digest(replace(moved, title="Was", calendar_id=7)),
        3: digest(back, deleted=True),
    }
    plan = plan_event_changes([new, moved, same, back], stored)
    assert [(w.kind, w.event.event_id) for w in plan.writes] == [
        (ChangeKind.NEW, 4),
        (ChangeKind.CHANGED, 2),
        (ChangeKind.UNDELETED, 3),
    ]
    assert [w.content_hash for w in plan.writes] == [content_hash(e) for e in (new, moved, back)]
    assert plan.of_kind(ChangeKind.CHANGED)[0].before == stored[2]  # its old calendar, 7
    assert plan.of_kind(ChangeKind.NEW)[0].before is None
    assert plan.unchanged == (same,)
    assert plan.has_writes


def test_tombstones_of_live_events_only_and_never_of_a_listed_one() -> None:
    live, gone = event(1), event(2)
    stored = {1: digest(live), 2: digest(gone, deleted=True)}
    plan = plan_event_changes([], stored, tombstones=[404, 2, 1])
    assert plan.deletions == ((1, stored[1]),)  # 404 was never stored, 2 is a tombstone already
    with pytest.raises(ValueError, match=r"both upserted and tombstoned: \[1\]"):
        plan_event_changes([live], stored, tombstones=[1])


def test_unchanged_events_are_a_write_only_when_the_plan_says_to_refresh_them() -> None:
    stored = {1: digest(event(1))}
    assert not plan_event_changes([event(1)], stored).has_writes
    refreshing = plan_event_changes([event(1)], stored, refresh_unchanged=True)
    assert refreshing.has_writes and refreshing.writes == ()
