"""The planners are pure: (what Trackops listed, what the store holds) -> what to write."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge.changes import EventDigest, content_hash, plan_event_changes
from bridge.models import Event
from bridge.sync import is_mass_deletion, plan_deletions

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def event(event_id: int, title: str = "Shift", updated: int = 0) -> Event:
    return Event(
        event_id=event_id,
        title=title,
        start_at=T0,
        end_at=T0 + timedelta(hours=4),
        calendar_id=1,
        updated_at=T0 + timedelta(minutes=updated),
    )


def digest(e: Event, *, deleted: bool = False) -> EventDigest:
    return EventDigest(content_hash(e), deleted, e.calendar_id, e.title)


def test_new_changed_and_undeleted_events_are_written_unchanged_ones_are_not():
    same, changed, gone, new = event(1), event(2), event(3), event(4)
    stored = {
        1: digest(same),
        2: digest(replace(changed, title="Old title")),
        3: digest(gone, deleted=True),
    }
    plan = plan_event_changes([same, changed, gone, new], stored)
    assert sorted(e.event_id for e in plan.upserts) == [2, 3, 4]
    assert plan.unchanged == (same,)


def test_planning_what_was_just_applied_gives_an_empty_plan():
    listed = [event(1), event(2, "Court, day 2")]
    stored = {e.event_id: digest(e) for e in listed}
    plan = plan_event_changes(listed, stored)
    assert plan.upserts == []
    assert len(plan.unchanged) == 2


def test_a_stamp_only_change_is_not_a_content_change():
    stored = {1: digest(event(1, updated=0))}
    assert plan_event_changes([event(1, updated=5)], stored).upserts == []


def test_an_event_listed_twice_in_an_overlap_keeps_the_newest_version():
    old, new = event(1, "Old", updated=0), event(1, "New", updated=1)
    plan = plan_event_changes([new, old], {})
    assert [e.title for e in plan.upserts] == ["New"]


def test_deletions_are_stored_events_missing_from_a_complete_listing():
    assert plan_deletions({1, 2, 5}, {1, 2, 3, 4}) == [3, 4]
    assert plan_deletions({1, 2}, {1, 2}) == []


def test_mass_deletion_needs_more_than_half_and_more_than_twenty():
    assert not is_mass_deletion(20, 30)  # more than half, but only 20
    assert not is_mass_deletion(21, 50)  # more than 20, but not half
    assert is_mass_deletion(21, 40)
