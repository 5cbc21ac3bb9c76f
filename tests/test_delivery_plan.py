"""The push plan, pure: from what a destination holds, the feed's objects and a listing."""

from __future__ import annotations

from bridge.delivery.plan import WantedObject, object_name, plan_push
from bridge.store.delivery import PushedObject


def wanted(uid: str, body: str) -> WantedObject:
    return WantedObject(uid, body.encode())


def held(uid: str, body: str, etag: str | None = '"1"') -> PushedObject:
    return PushedObject(uid, f"/cal/{object_name(uid)}", etag, wanted(uid, body).content_hash)


def test_only_new_changed_and_gone_events_are_sent() -> None:
    plan = plan_push(
        {"a": held("a", "A"), "b": held("b", "B"), "gone": held("gone", "G", '"9"')},
        {"a": wanted("a", "A"), "b": wanted("b", "B2"), "new": wanted("new", "N")},
    )
    assert [(p.uid, p.if_match) for p in plan.puts] == [("b", '"1"'), ("new", None)]
    assert [(d.uid, d.if_match) for d in plan.deletes] == [("gone", '"9"')]
    assert plan.size == 3 and plan.forgotten == []


def test_nothing_to_do_when_the_destination_holds_the_feed() -> None:
    assert plan_push({"a": held("a", "A")}, {"a": wanted("a", "A")}).size == 0


def test_a_listing_puts_back_the_missing_forgets_the_gone_and_repairs_edits() -> None:
    listing = {object_name("edited"): '"changed"', object_name("same"): '"1"', "mine.ics": '"x"'}
    plan = plan_push(
        {
            "missing": held("missing", "M"),
            "left": held("left", "L"),
            "edited": held("edited", "E"),
            "same": held("same", "S"),
        },
        {
            "missing": wanted("missing", "M"),
            "edited": wanted("edited", "E"),
            "same": wanted("same", "S"),
        },
        listing,
    )
    assert [(p.uid, p.if_match) for p in plan.puts] == [("edited", '"changed"'), ("missing", None)]
    assert plan.forgotten == ["left"] and plan.deletes == []
    # A person's object in the listing is never in a plan.
    assert all(p.name != "mine.ics" for p in plan.puts)


def test_object_names_are_path_safe_and_stable() -> None:
    assert object_name("trackops-acme-event-5@trackops-bridge") == (
        "trackops-acme-event-5-trackops-bridge.ics"
    )
    assert object_name("a/b?c") == "a-b-c.ics"
