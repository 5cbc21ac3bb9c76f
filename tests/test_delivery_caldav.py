"""CalDAV push against real Radicale and Xandikos servers started here on free ports: create,
change, move, delete, DST and all-day events, a restart mid-push, a concurrent edit (412), a
refused password (401), a reconcile after hand deletions, and a person's own event untouched."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest

from bridge.delivery.caldav import (
    PushSettings,
    is_push_due,
    push_destination,
    push_due,
)
from bridge.delivery.plan import Delete, Put, object_name
from bridge.feeds import feed_uid
from bridge.models import Event, Feed, FeedKind, Privacy
from bridge.store import Store
from bridge.store.delivery import Destination
from tests.support.caldav_servers import PASSWORD, CaldavServer, Radicale, Xandikos
from tests.support.processes import free_port

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = PushSettings(account="acme", default_timezone="America/Chicago", feed_past_days=30)
PASSWORD_ENV = "TEST_CALDAV_PASSWORD"
_names = itertools.count(1)

PERSONAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Someone//Phone//EN\r\nBEGIN:VEVENT\r\n"
    "UID:dentist-1@phone.example\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300305T150000Z\r\n"
    "DTEND:20300305T160000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xandikos]:
    server = Xandikos(tmp_path_factory.mktemp("xandikos"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["radicale", "xandikos"])
def server(request: pytest.FixtureRequest) -> CaldavServer:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def make_event(event_id: int, **changes: object) -> Event:
    start = datetime(2030, 3, 4, 15, 0, tzinfo=UTC) + timedelta(days=event_id)
    event = Event(
        event_id=event_id,
        title=f"Surveillance {event_id}",
        start_at=start,
        end_at=start + timedelta(hours=2),
        calendar_id=1,
        timezone="America/Chicago",
        updated_at=NOW,
    )
    return dataclasses.replace(event, **changes)  # type: ignore[arg-type]


def all_feed(store: Store) -> Feed:
    store.ensure_feeds(Privacy.FULL)
    return next(feed for feed in store.list_feeds() if feed.kind is FeedKind.ALL)


def add_destination(store: Store, server: CaldavServer, feed: Feed) -> tuple[Destination, str]:
    url = server.collection(f"cal{next(_names)}")
    auth = {"username": server.auth[0], "password_env": PASSWORD_ENV} if server.auth else {}
    return store.add_destination(feed.feed_id, url, NOW, **auth), url  # type: ignore[arg-type]


def push(store: Store, destination: Destination, **kwargs: object):  # type: ignore[no-untyped-def]
    fresh = store.get_destination(destination.destination_id)
    return push_destination(store, fresh, SETTINGS, NOW, **kwargs)  # type: ignore[arg-type]


def vevent(text: str) -> icalendar.Event:
    return icalendar.Calendar.from_ical(text).walk("VEVENT")[0]


def uid(event_id: int) -> str:
    return feed_uid("acme", event_id)


def test_create_change_and_delete_leave_a_persons_own_event_alone(
    store: Store, server: CaldavServer
) -> None:
    store.apply_event_changes([make_event(1), make_event(2)], [], NOW)
    destination, url = add_destination(store, server, all_feed(store))
    assert server.request("PUT", url + "dentist.ics", content=PERSONAL).status_code == 201
    personal_before = server.objects(url)["dentist.ics"]

    outcome = push(store, destination)
    assert (outcome.put, outcome.deleted, outcome.error) == (2, 0, None)
    held = server.objects(url)
    created = vevent(held[object_name(uid(1))])
    assert str(created["UID"]) == uid(1)
    assert created["DTSTART"].params["TZID"] == "America/Chicago"
    assert created["DTSTART"].dt.hour == 9  # 15:00 UTC is 09:00 in Chicago in early March
    assert "BEGIN:VTIMEZONE" in held[object_name(uid(1))]
    assert "METHOD:" not in held[object_name(uid(1))]  # not allowed in a CalDAV object

    moved = make_event(
        1,
        title="Moved hearing",
        timezone="Europe/Berlin",
        start_at=datetime(2030, 3, 6, 8, tzinfo=UTC),
    )
    store.apply_event_changes(
        [dataclasses.replace(moved, end_at=moved.start_at + timedelta(hours=1))], [], NOW
    )
    outcome = push(store, destination)
    assert (outcome.put, outcome.deleted) == (1, 0)  # only the changed event
    changed = vevent(server.objects(url)[object_name(uid(1))])
    assert str(changed["SUMMARY"]) == "Moved hearing"
    assert changed["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert changed["DTSTART"].dt.astimezone(UTC) == datetime(2030, 3, 6, 8, tzinfo=UTC)

    store.apply_event_changes([], [2], NOW)
    outcome = push(store, destination)
    assert (outcome.put, outcome.deleted) == (0, 1)
    assert set(server.objects(url)) == {object_name(uid(1)), "dentist.ics"}
    assert server.objects(url)["dentist.ics"] == personal_before
    assert store.get_destination(destination.destination_id).pushed_count == 1

    assert push(store, destination).put == 0  # nothing changed: nothing sent


def test_a_dst_day_event_and_an_all_day_event_keep_their_instants(
    store: Store, server: CaldavServer
) -> None:
    # 01:00 CST to 04:00 CDT on the day Chicago springs forward: two hours, not three.
    across = make_event(
        1,
        start_at=datetime(2030, 3, 10, 7, 0, tzinfo=UTC),
        end_at=datetime(2030, 3, 10, 9, 0, tzinfo=UTC),
    )
    allday = make_event(
        2,
        is_allday=True,
        start_at=datetime(2030, 3, 12, 6, 0, tzinfo=UTC),
        end_at=datetime(2030, 3, 13, 6, 0, tzinfo=UTC),
    )
    store.apply_event_changes([across, allday], [], NOW)
    destination, url = add_destination(store, server, all_feed(store))
    assert push(store, destination).put == 2

    held = server.objects(url)
    dst = vevent(held[object_name(uid(1))])
    assert dst["DTSTART"].dt.astimezone(UTC) == across.start_at
    assert dst["DTEND"].dt.astimezone(UTC) == across.end_at
    day = vevent(held[object_name(uid(2))])
    assert day["DTSTART"].dt == date(2030, 3, 12)
    assert "VALUE=DATE" in held[object_name(uid(2))]


def test_an_event_moved_to_another_calendar_moves_between_destinations(
    store: Store, radicale: Radicale
) -> None:
    store.apply_event_changes([make_event(1, calendar_id=1), make_event(2, calendar_id=2)], [], NOW)
    store.ensure_feeds(Privacy.FULL)
    feeds = {f.target_id: f for f in store.list_feeds() if f.kind is FeedKind.CALENDAR}
    _, first_url = add_destination(store, radicale, feeds[1])
    _, second_url = add_destination(store, radicale, feeds[2])
    assert [o.error for o in push_due(store, SETTINGS, NOW)] == [None, None]
    assert set(radicale.objects(first_url)) == {object_name(uid(1))}

    store.apply_event_changes([make_event(1, calendar_id=2)], [], NOW)
    outcomes = push_due(store, SETTINGS, NOW)
    assert [(o.put, o.deleted) for o in outcomes] == [(0, 1), (1, 0)]
    assert radicale.objects(first_url) == {}
    assert set(radicale.objects(second_url)) == {object_name(uid(1)), object_name(uid(2))}


def test_a_server_restart_mid_push_is_caught_up_from_stored_state(
    store: Store, radicale: Radicale
) -> None:
    store.apply_event_changes([make_event(i) for i in (1, 2, 3)], [], NOW)
    destination, url = add_destination(store, radicale, all_feed(store))

    def stop_after_the_first(request: Put | Delete) -> None:
        if request.uid == uid(1):
            radicale.stop()

    try:
        outcome = push(store, destination, on_request=stop_after_the_first)
    finally:
        radicale.start()
    assert outcome.put == 1 and outcome.error is not None
    assert "cannot reach the server" in outcome.error
    failed = store.get_destination(destination.destination_id)
    assert (failed.failures, failed.backlog, failed.pushed_count) == (1, 2, 1)
    assert failed.next_attempt_at is not None and failed.next_attempt_at > NOW
    assert not is_push_due(failed, store.feed_version(failed.feed_id), NOW)  # backing off

    outcome = push(store, destination)
    assert (outcome.put, outcome.error) == (2, None)  # the first is not sent again
    assert len(radicale.objects(url)) == 3
    healthy = store.get_destination(destination.destination_id)
    assert (healthy.failures, healthy.backlog, healthy.last_success_at) == (0, 0, NOW)


def test_a_concurrent_edit_gets_412_and_is_replaced_knowingly(
    store: Store, server: CaldavServer
) -> None:
    store.apply_event_changes([make_event(1)], [], NOW)
    destination, url = add_destination(store, server, all_feed(store))
    push(store, destination)
    name = object_name(uid(1))
    edited = server.objects(url)[name].replace("SUMMARY:Surveillance 1", "SUMMARY:Edited by hand")
    assert server.request("PUT", url + name, content=edited).status_code in (201, 204)

    store.apply_event_changes([make_event(1, title="Trackops title")], [], NOW)
    outcome = push(store, destination, reconcile=False)
    assert outcome.error is None and outcome.put == 1
    assert any("edited in the calendar" in note for note in outcome.notes)
    assert str(vevent(server.objects(url)[name])["SUMMARY"]) == "Trackops title"


def test_a_refused_password_backs_off_and_never_holds_back_another_destination(
    store: Store, radicale: Radicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.apply_event_changes([make_event(1)], [], NOW)
    feed = all_feed(store)
    url = radicale.collection(f"cal{next(_names)}")
    monkeypatch.setenv("WRONG_PASSWORD", "not it")
    refused = store.add_destination(
        feed.feed_id, url, NOW, username="alice", password_env="WRONG_PASSWORD"
    )
    good, good_url = add_destination(store, radicale, feed)

    outcomes = {o.destination_id: o for o in push_due(store, SETTINGS, NOW)}
    assert outcomes[good.destination_id].put == 1 and outcomes[good.destination_id].error is None
    assert "401" in (outcomes[refused.destination_id].error or "")
    after = store.get_destination(refused.destination_id)
    assert after.failures == 1 and after.backlog == 1 and after.next_attempt_at is not None
    assert "not it" not in (after.last_error or "")
    assert len(radicale.objects(good_url)) == 1
    # Backing off: the next pass does not try it again yet.
    assert [o.destination_id for o in push_due(store, SETTINGS, NOW)] == []


def test_a_missing_password_variable_is_named(store: Store, radicale: Radicale) -> None:
    store.apply_event_changes([make_event(1)], [], NOW)
    feed = all_feed(store)
    url = radicale.collection(f"cal{next(_names)}")
    destination = store.add_destination(feed.feed_id, url, NOW, password_env="NOT_SET_ANYWHERE")
    outcome = push(store, destination)
    assert "NOT_SET_ANYWHERE is not set" in (outcome.error or "")


def test_the_reconcile_puts_back_objects_deleted_by_hand(
    store: Store, server: CaldavServer
) -> None:
    store.apply_event_changes([make_event(1), make_event(2)], [], NOW)
    destination, url = add_destination(store, server, all_feed(store))
    assert server.request("PUT", url + "dentist.ics", content=PERSONAL).status_code == 201
    push(store, destination)
    assert server.request("DELETE", url + object_name(uid(2))).status_code in (200, 204)

    assert push(store, destination, reconcile=False).put == 0  # the store alone cannot know
    outcome = push(store, destination, reconcile=True)
    assert outcome.reconciled and outcome.put == 1 and outcome.error is None
    assert set(server.objects(url)) == {object_name(uid(1)), object_name(uid(2)), "dentist.ics"}

    # Ours deleted by hand after it left the feed: the reconcile only forgets it.
    assert server.request("DELETE", url + object_name(uid(1))).status_code in (200, 204)
    store.apply_event_changes([], [1], NOW)
    outcome = push(store, destination, reconcile=True)
    assert (outcome.put, outcome.deleted, outcome.error) == (0, 0, None)
    assert set(store.pushed_objects(destination.destination_id)) == {uid(2)}
    assert "dentist.ics" in server.objects(url)


def test_an_unreachable_destination_records_why(store: Store) -> None:
    store.apply_event_changes([make_event(1)], [], NOW)
    url = f"http://127.0.0.1:{free_port()}/cal/"
    destination = store.add_destination(all_feed(store).feed_id, url, NOW)
    outcome = push(store, destination)
    assert "cannot reach the server" in (outcome.error or "")
    assert store.get_destination(destination.destination_id).failures == 1
