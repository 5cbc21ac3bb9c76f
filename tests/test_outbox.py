"""The sender against the sandbox over real HTTP and a real SQLite store: each event made once.

File -> preview -> outbox -> drain -> Trackops -> mirror -> feed, and every way a send can go
wrong: Trackops' refusal, no answer after the event was created, a sender that died, an outage.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bridge.config import Settings
from bridge.errors import AuthenticationError, ServerError, TransportError
from bridge.models import Draft, Event, FeedKind, Privacy
from bridge.sending import OutboxSender, drain_outbox, match_created_event
from bridge.store import Store
from bridge.submissions import directory_from_store, entry_options, preview_file, submit_preview
from bridge.sync import Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient
from bridge.worker import OUTBOX_LOOK_INTERVAL, Worker
from tests.support.sandbox import make_client

HEADER = "title,calendar,case,start_date,start_time,end_time,timezone,staff"
NOW_ISH = timedelta(0)  # settle time for tests that recover at once


def no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def mirrored(sandbox, client, store: Store) -> Store:
    """The store after a first sync: the mirror knows the sandbox's cases, staff and calendars."""
    Syncer(client, store, SyncOptions()).poll()
    store.ensure_feeds(Privacy.FULL)
    return store


def csv_of(*rows: str) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode()


def queue_file(store: Store, data: bytes, name: str = "shifts.csv") -> int:
    preview = preview_file(
        data,
        name,
        directory=directory_from_store(store),
        options=entry_options(Settings(default_timezone="America/Denver")),
    )
    return submit_preview(store, preview, at=datetime.now(UTC)).batch_id


def in_sandbox(client, title: str) -> list[Event]:
    return [
        e for page in client.iter_event_pages(title=title) for e in page.records if e.title == title
    ]


def posts(sandbox) -> list[dict]:
    return [r for r in sandbox.control.requests()["requests"] if r["method"] == "POST"]


def hourly_worker(client, store: Store) -> Worker:
    """A worker that polls hourly and sends the outbox through the same client."""
    return Worker(
        Syncer(client, store, SyncOptions()),
        store,
        poll_interval=3600,
        outbox=OutboxSender(client, store),
    )


SHIFTS = csv_of(
    "Surveillance - Doe,2,1201,2026-12-01,07:00,15:00,,106;107",
    "Spring-forward shift,2,1201,2026-03-08,02:30,04:00,,",
    "Court date,3,1201,2026-12-02,,,America/New_York,",
)


def test_the_whole_path_from_file_to_feed(sandbox, client, mirrored: Store, caplog):
    caplog.set_level(logging.INFO, logger="bridge")
    batch_id = queue_file(mirrored, SHIFTS)
    progress = mirrored.batch_progress(batch_id)
    assert [i.title for i in progress.items] == ["Surveillance - Doe", "Court date"]  # no gap row
    sandbox.control.clear_requests()

    result = drain_outbox(client, mirrored)
    assert (result.sent, result.failed, result.unknown, result.recovered) == (2, 0, 0, 0)
    assert len(posts(sandbox)) == 2

    progress = mirrored.batch_progress(batch_id)
    assert progress.is_finished and progress.counts["sent"] == 2
    for item in progress.items:
        (remote,) = in_sandbox(client, item.title)
        assert item.event_id == remote.event_id
        mirrored_event = mirrored.get_event(remote.event_id)
        assert mirrored_event == remote  # as Trackops returned it, without waiting for a poll
    shift = mirrored.get_event(progress.items[0].event_id or 0)
    assert shift is not None and shift.staff_ids == (106, 107)
    assert shift.start_at == datetime(2026, 12, 1, 14, tzinfo=UTC)  # 07:00 MST

    feeds = {(f.kind, f.target_id): f for f in mirrored.list_feeds()}
    since = datetime(2026, 11, 1, tzinfo=UTC)
    listed = [
        fe.event.event_id for fe in mirrored.feed_events(feeds[(FeedKind.CALENDAR, 2)], since)
    ]
    assert progress.items[0].event_id in listed
    staff_feed = feeds[(FeedKind.STAFF, 107)]
    assert progress.items[0].event_id in [
        fe.event.event_id for fe in mirrored.feed_events(staff_feed, since)
    ]

    sent_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sent batch")]
    assert len(sent_lines) == 2 and "created event" in sent_lines[0]
    assert sandbox.options.token not in caplog.text

    assert drain_outbox(client, mirrored).sent == 0
    assert len(posts(sandbox)) == 2


def test_the_same_file_again_creates_nothing(sandbox, client, mirrored: Store):
    first = queue_file(mirrored, SHIFTS)
    drain_outbox(client, mirrored)
    sandbox.control.clear_requests()
    again = queue_file(mirrored, SHIFTS, name="shifts-copy.csv")
    assert again == first
    assert drain_outbox(client, mirrored).sent == 0
    assert posts(sandbox) == []
    assert len(in_sandbox(client, "Surveillance - Doe")) == 1


def test_a_post_that_timed_out_after_the_server_created_it_is_not_sent_again(
    sandbox, mirrored: Store
):
    batch_id = queue_file(mirrored, csv_of("Hearing - Roe,3,1201,2026-12-03,09:00,10:00,,"))
    # The server creates the event, then takes longer to answer than the client waits.
    sandbox.control.inject_fault("delay", seconds=3, path_prefix="/events")
    with make_client(sandbox, timeout=0.5, sleep=no_sleep) as impatient:
        with pytest.raises(TransportError):
            drain_outbox(impatient, mirrored)
    (item,) = mirrored.batch_progress(batch_id).items
    assert item.state == "unknown" and "ReadTimeout" in (item.error or "")
    assert "sending events" in (mirrored.get_sync_state().last_error or "")

    with make_client(sandbox, sleep=no_sleep) as client:
        assert len(in_sandbox(client, "Hearing - Roe")) == 1  # it was created
        result = drain_outbox(client, mirrored, settle=NOW_ISH)
        assert (result.recovered, result.sent, result.requeued) == (1, 0, 0)
        (created,) = in_sandbox(client, "Hearing - Roe")
    assert len(posts(sandbox)) == 1
    (item,) = mirrored.batch_progress(batch_id).items
    assert (item.state, item.event_id) == ("sent", created.event_id)
    assert mirrored.get_event(created.event_id) is not None


def test_a_sender_that_died_after_its_post_is_recovered_without_a_duplicate(
    sandbox, client, mirrored: Store
):
    batch_id = queue_file(
        mirrored,
        csv_of(
            "Posted then died,2,1201,2026-12-04,08:00,09:00,,",
            "Died before posting,2,1201,2026-12-04,10:00,11:00,,",
        ),
    )
    posted = mirrored.claim_next_item(datetime.now(UTC))
    assert posted is not None
    client.create_event(posted.body)  # the process dies here, before recording it
    assert mirrored.claim_next_item(datetime.now(UTC)) is not None  # dies before its POST
    sandbox.control.clear_requests()

    result = drain_outbox(client, mirrored, settle=NOW_ISH)
    assert (result.recovered, result.requeued, result.sent) == (1, 1, 1)
    assert len(posts(sandbox)) == 1  # only the one never posted
    assert len(in_sandbox(client, "Posted then died")) == 1
    assert len(in_sandbox(client, "Died before posting")) == 1
    assert mirrored.batch_progress(batch_id).counts["sent"] == 2


def test_two_identical_rows_stay_two_events_through_a_crash(sandbox, client, mirrored: Store):
    row = "Stakeout,2,1201,2026-12-05,18:00,23:00,,"
    batch_id = queue_file(mirrored, csv_of(row, row))
    assert drain_outbox(client, mirrored, limit=1).sent == 1
    # The second is claimed, and its sender dies before its POST: Trackops already has an
    # identical event (the first row's), which must not be taken for this one.
    assert mirrored.claim_next_item(datetime.now(UTC)) is not None
    result = drain_outbox(client, mirrored, settle=NOW_ISH)
    assert (result.recovered, result.requeued, result.sent) == (0, 1, 1)
    events = in_sandbox(client, "Stakeout")
    assert len(events) == 2
    ids = {item.event_id for item in mirrored.batch_progress(batch_id).items}
    assert ids == {e.event_id for e in events}


def test_a_recent_unresolved_send_is_left_to_settle(sandbox, client, mirrored: Store):
    queue_file(
        mirrored,
        csv_of("In flight,2,1201,2026-12-06,08:00,09:00,,", "Next,2,1201,2026-12-06,10:00,11:00,,"),
    )
    assert mirrored.claim_next_item(datetime.now(UTC)) is not None
    sandbox.control.clear_requests()
    result = drain_outbox(client, mirrored)  # the default settle: its POST may still be running
    assert (result.waiting, result.recovered, result.requeued, result.sent) == (1, 0, 0, 1)
    assert [r["method"] for r in sandbox.control.requests()["requests"]] == ["POST"]
    later = drain_outbox(client, mirrored, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert (later.requeued, later.sent) == (1, 1)


def test_trackops_field_errors_reach_the_item(sandbox, client, mirrored: Store, caplog):
    sandbox.control.delete("staff", 107)  # gone from Trackops since the mirror last looked
    batch_id = queue_file(
        mirrored,
        csv_of(
            "With Brooks,2,1201,2026-12-07,08:00,09:00,,107",
            "Alone,2,1201,2026-12-07,10:00,11:00,,",
        ),
    )
    result = drain_outbox(client, mirrored)
    assert (result.failed, result.sent) == (1, 1)  # a refusal does not stop the others
    refused, sent = mirrored.batch_progress(batch_id).items
    assert refused.state == "failed" and refused.event_id is None
    assert refused.error is not None and refused.error.startswith("HTTP 422: ")
    assert "staff 107 does not exist" in refused.error
    assert refused.field_errors == {"users_list": ("staff 107 does not exist",)}
    assert sent.state == "sent"
    assert in_sandbox(client, "With Brooks") == []
    assert any("Trackops refused batch" in r.getMessage() for r in caplog.records)


def test_trackops_down_loses_and_duplicates_nothing(sandbox, client, mirrored: Store):
    batch_id = queue_file(
        mirrored,
        csv_of(*(f"Shift {n},2,1201,2026-12-08,0{n}:00,0{n}:30,," for n in range(1, 4))),
    )
    sandbox.control.inject_fault("503", count=100)
    with pytest.raises(ServerError):
        drain_outbox(client, mirrored)
    states = [i.state for i in mirrored.batch_progress(batch_id).items]
    assert states == ["unknown", "pending", "pending"]  # nothing failed, nothing lost
    with pytest.raises(ServerError):
        drain_outbox(client, mirrored, settle=NOW_ISH)  # the check cannot be made either
    assert [i.state for i in mirrored.batch_progress(batch_id).items] == states
    assert "503" in (mirrored.get_sync_state().last_error or "")

    sandbox.control.clear_faults()
    result = drain_outbox(client, mirrored, settle=NOW_ISH)
    assert (result.requeued, result.sent) == (1, 3)
    assert all(len(in_sandbox(client, f"Shift {n}")) == 1 for n in range(1, 4))


def test_refused_credentials_stop_the_drain_and_keep_the_item(sandbox, mirrored: Store, caplog):
    batch_id = queue_file(mirrored, csv_of("Kept,2,1201,2026-12-09,08:00,09:00,,"))
    wrong = TrackopsClient(sandbox.base_url, sandbox.username, "wrong-token-123", sleep=no_sleep)
    with wrong:
        with pytest.raises(AuthenticationError):
            drain_outbox(wrong, mirrored)
    (item,) = mirrored.batch_progress(batch_id).items
    assert (item.state, item.attempts) == ("pending", 1)  # refused before anything was written
    assert "TRACKOPS_USERNAME" in (mirrored.get_sync_state().last_error or "")
    assert "wrong-token-123" not in caplog.text
    assert "wrong-token-123" not in (mirrored.get_sync_state().last_error or "")


def test_only_one_process_sends_at_a_time(sandbox, client, mirrored: Store):
    queue_file(mirrored, csv_of("Later,2,1201,2026-12-10,08:00,09:00,,"))
    sandbox.control.clear_requests()
    with mirrored.outbox_drain_lock():
        result = drain_outbox(client, mirrored)
    assert result.is_busy and result.sent == 0
    assert posts(sandbox) == []
    assert drain_outbox(client, mirrored).sent == 1


def test_the_worker_sends_before_it_polls(sandbox, client, mirrored: Store):
    batch_id = queue_file(mirrored, csv_of("By the worker,2,1201,2026-12-11,08:00,09:00,,"))
    worker = hourly_worker(client, mirrored)
    sandbox.control.clear_requests()
    worker.run_once()
    methods = [(r["method"], r["path"]) for r in sandbox.control.requests()["requests"]]
    assert methods[0] == ("POST", "/api/v1/events")
    assert ("GET", "/api/v1/events") in methods[1:]
    assert mirrored.batch_progress(batch_id).is_finished


def test_a_send_failure_does_not_stop_the_poll(sandbox, client, mirrored: Store, caplog):
    batch_id = queue_file(mirrored, csv_of("Unlucky,2,1201,2026-12-12,08:00,09:00,,"))
    sandbox.control.inject_fault("503", path_prefix="/events")  # the POST gets it
    before = mirrored.get_sync_state().last_success_at
    worker = hourly_worker(client, mirrored)
    worker.run_once()
    assert mirrored.batch_progress(batch_id).items[0].state == "unknown"
    after = mirrored.get_sync_state().last_success_at
    assert after is not None and before is not None and after > before
    assert any("sending events failed" in r.getMessage() for r in caplog.records)

    class Broken:
        def drain(self, **kwargs: object) -> None:
            raise RuntimeError("a bug in sending")

    worker.outbox = Broken()  # type: ignore[assignment]
    worker.run_once()
    assert worker.passes == 2
    assert mirrored.get_sync_state().last_success_at > after  # type: ignore[operator]


def test_the_worker_keeps_going_without_a_wait_while_a_batch_is_left(
    sandbox, client, mirrored: Store, monkeypatch
):
    monkeypatch.setattr("bridge.worker.SENDS_PER_PASS", 1)
    batch_id = queue_file(
        mirrored,
        csv_of("One,2,1201,2026-12-13,08:00,09:00,,", "Two,2,1201,2026-12-13,10:00,11:00,,"),
    )
    worker = hourly_worker(client, mirrored)
    waits: list[float] = []
    worker.sleep = waits.append
    worker.run(max_passes=3)
    assert mirrored.batch_progress(batch_id).is_finished
    # After pass 1 there was more to send: no wait; after pass 2, one whole poll interval.
    assert sum(waits) == 3600


def test_a_waiting_worker_starts_early_when_events_are_queued(sandbox, client, mirrored: Store):
    worker = hourly_worker(client, mirrored)
    worker.run_once()
    waits: list[float] = []

    def someone_submits_a_form(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            queue_file(mirrored, csv_of("From the form,2,1201,2026-12-14,08:00,09:00,,"))

    worker.sleep = someone_submits_a_form
    worker.run(max_passes=3)  # pass 2, the wait, pass 3
    # Two short looks at the outbox (each at most the look interval), not an hour's wait.
    assert len(waits) == 2 and max(waits) <= OUTBOX_LOOK_INTERVAL
    assert in_sandbox(client, "From the form")


def test_after_a_failed_send_the_worker_waits_the_whole_interval(sandbox, client, mirrored: Store):
    queue_file(mirrored, csv_of("Refused,2,1201,2026-12-15,08:00,09:00,,"))
    sandbox.control.set_variants()  # documented shapes
    worker = Worker(
        Syncer(client, mirrored, SyncOptions()),
        mirrored,
        poll_interval=60,
        outbox=OutboxSender(
            TrackopsClient(sandbox.base_url, "nobody", "wrong", rate_limit=500), mirrored
        ),
    )
    waits: list[float] = []
    worker.sleep = waits.append
    worker.run(max_passes=2)
    assert worker.drain_failed
    assert sum(waits) == 60  # pending items alone don't wake it: no retry every 5 s


def test_a_match_must_be_the_same_event():
    start = datetime(2026, 12, 3, 14, tzinfo=UTC)
    wanted = Draft(1201, 3, "Hearing", start, start + timedelta(hours=1), "Europe/London")
    same = Event(7, "Hearing", start, start + timedelta(hours=1), calendar_id=3, case_id=1201)
    assert match_created_event(wanted, [same]) == same
    for different in (
        {"title": "Hearing (moved)"},
        {"calendar_id": 2},
        {"case_id": 1202},
        {"start_at": start + timedelta(minutes=1)},
        {"end_at": start + timedelta(hours=2)},
    ):
        assert match_created_event(wanted, [Event(**{**vars(same), **different})]) is None
    no_case = Event(**{**vars(same), "case_id": None})
    assert match_created_event(wanted, [no_case]) == no_case  # a record that names no case
    twin = Event(**{**vars(same), "event_id": 5})
    assert match_created_event(wanted, [same, twin]) == twin  # the lowest id of equals
