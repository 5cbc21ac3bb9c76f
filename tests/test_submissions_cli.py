"""`trackops-bridge submit`, `batches` and `batch` against the sandbox and a real SQLite file.

Through click's runner for the paths a person takes, and as a real process killed right after
its POST reached Trackops, to show that a crash never makes a duplicate.
"""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bridge.cli import main
from bridge.sending import drain_outbox
from bridge.store import SyncState, open_store
from tests.support.processes import bridge_process, wait_for
from tests.support.sandbox import make_client

HEADER = "title,calendar,case,start_date,start_time,end_time,timezone,staff"
GOOD = [
    "Surveillance - Doe,2,1201,2026-12-01,07:00,15:00,,106",
    "Court date,3,1201,2026-12-02,,,America/New_York,",
]
GAP = "Spring-forward shift,2,1201,2026-03-08,02:30,04:00,America/Denver,"


@pytest.fixture
def env(env, sandbox, monkeypatch):
    """The shared command-line settings with a default zone, migrated and mirrored once."""
    values = {**env, "BRIDGE_DEFAULT_TIMEZONE": "America/Denver"}
    monkeypatch.setenv("BRIDGE_DEFAULT_TIMEZONE", values["BRIDGE_DEFAULT_TIMEZONE"])
    assert run("migrate").exit_code == 0
    assert run("poll", "--once").exit_code == 0
    sandbox.control.clear_requests()
    return values


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def write_csv(tmp_path: Path, *rows: str, name: str = "shifts.csv") -> str:
    path = tmp_path / name
    path.write_text("\r\n".join([HEADER, *rows]) + "\r\n", encoding="utf-8")
    return str(path)


def posts(sandbox) -> int:
    return sum(1 for r in sandbox.control.requests()["requests"] if r["method"] == "POST")


def batch_count(env) -> int:
    with open_store(env["DATABASE_URL"]) as store:
        return len(store.list_batches())


def test_a_dry_run_shows_the_preview_and_sends_nothing(sandbox, env, tmp_path):
    result = run("submit", write_csv(tmp_path, *GOOD), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Row 2  ready    Surveillance - Doe · 2026-12-01 07:00 – 15:00")
    assert "America/Denver" in lines[0]
    assert any(
        line.startswith("Row 3  ready    Court date · 2026-12-02 (all day)") for line in lines
    )
    assert "2 rows: 2 ready, 0 with errors." in result.output
    assert "Dry run: nothing was queued or sent." in result.output
    assert posts(sandbox) == 0 and batch_count(env) == 0


def test_invalid_rows_stop_everything_and_say_how_to_go_on(sandbox, env, tmp_path):
    path = write_csv(tmp_path, GOOD[0], GAP, "Nowhere,99,1201,2026-12-03,09:00,10:00,,")
    for extra in ((), ("--yes",), ("--dry-run",)):
        result = run("submit", path, *extra)
        assert result.exit_code == 1, result.output
        assert "Row 3  invalid  Spring-forward shift · 2026-03-08 02:30" in result.output
        assert "start_time: 02:30 does not exist on 2026-03-08 in America/Denver" in result.output
        assert "calendar: no calendar with id 99" in result.output
        assert "2 rows have errors: nothing was sent" in result.output
        assert "--skip-invalid to send the 1 ready row." in result.output
    assert posts(sandbox) == 0 and batch_count(env) == 0


def test_skip_invalid_sends_the_ready_rows_and_prints_their_ids(sandbox, env, tmp_path):
    path = write_csv(tmp_path, GOOD[0], GAP, GOOD[1])
    result = run("submit", path, "--skip-invalid", "--yes")
    assert result.exit_code == 0, result.output
    assert "2 events queued." in result.output
    assert posts(sandbox) == 2
    with make_client(sandbox) as client:
        created = [
            e.event_id
            for title in ("Surveillance - Doe", "Court date")
            for page in client.iter_event_pages(title=title)
            for e in page.records
        ]
    assert len(created) == 2
    assert f"Sent 2 of 2. Created event ids: {created[0]}, {created[1]}." in result.output
    assert "Spring-forward" not in result.output.split("2 events queued.")[1]  # never queued


def test_without_yes_and_without_a_terminal_nothing_is_sent(sandbox, env, tmp_path):
    path = write_csv(tmp_path, *GOOD)
    result = run("submit", path)
    assert result.exit_code == 1
    assert "Send 2 events to Trackops?" in result.output
    assert "pass --yes" in result.output
    assert run("submit", path, input="n\n").exit_code == 1
    assert posts(sandbox) == 0 and batch_count(env) == 0
    confirmed = run("submit", path, input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert posts(sandbox) == 2


def test_the_same_file_twice_sends_nothing_the_second_time_and_says_so(sandbox, env, tmp_path):
    path = write_csv(tmp_path, *GOOD)
    assert run("submit", path, "--yes").exit_code == 0
    renamed = Path(path).with_name("shifts-again.csv")
    renamed.write_bytes(Path(path).read_bytes())
    again = run("submit", str(renamed))  # no --yes: there is nothing new to confirm
    assert again.exit_code == 0, again.output
    assert "This file was already submitted on" in again.output
    assert "as batch 1: 2 of its rows are queued or sent already" in again.output
    assert "Already submitted on" in again.output and "nothing new queued." in again.output
    assert "Sent 2 of 2." in again.output
    assert posts(sandbox) == 2 and batch_count(env) == 1


def test_a_corrected_file_sends_only_the_rows_not_sent_before(sandbox, env, tmp_path):
    assert run("submit", write_csv(tmp_path, GOOD[0], GAP), "--skip-invalid", "-y").exit_code == 0
    fixed = GAP.replace("02:30", "03:30")
    result = run("submit", write_csv(tmp_path, GOOD[0], fixed, name="fixed.csv"), "--yes")
    assert result.exit_code == 0, result.output
    assert "left out: identical to Row 2 of batch 1 (sent as event" in result.output
    assert "1 event queued; 1 left out" in result.output
    assert posts(sandbox) == 2


def test_with_a_worker_running_it_only_queues(sandbox, env, tmp_path):
    with open_store(env["DATABASE_URL"]) as store:
        store.put_sync_state(SyncState(heartbeat_at=datetime.now(UTC)))
    result = run("submit", write_csv(tmp_path, *GOOD), "--yes")
    assert result.exit_code == 0, result.output
    assert "The worker is running" in result.output
    assert "`trackops-bridge batch 1`" in result.output
    assert posts(sandbox) == 0
    with open_store(env["DATABASE_URL"]) as store:
        assert store.count_outbox_items(("pending",)) == 2
        # A heartbeat older than three poll intervals is a worker that is gone.
        store.put_sync_state(SyncState(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10)))
    resumed = run("submit", write_csv(tmp_path, *GOOD))
    assert resumed.exit_code == 0, resumed.output
    assert posts(sandbox) == 2


def test_an_ics_file_with_calendar_and_case(sandbox, env, tmp_path):
    ics = tmp_path / "outlook.ics"
    ics.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\n"
        b"UID:a@example.com\r\nDTSTAMP:20261101T000000Z\r\n"
        b"DTSTART;TZID=Eastern Standard Time:20261204T090000\r\n"
        b"DTEND;TZID=Eastern Standard Time:20261204T100000\r\n"
        b"SUMMARY:Deposition - Roe\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    missing = run("submit", str(ics), "--dry-run")
    assert missing.exit_code == 1 and "calendar: is required" in missing.output
    result = run("submit", str(ics), "--calendar", "3", "--case", "1201", "--yes")
    assert result.exit_code == 0, result.output
    assert "Deposition - Roe · 2026-12-04 09:00 – 10:00 America/New_York" in result.output
    assert "Sent 1 of 1." in result.output


def test_trackops_refusal_is_shown_per_row_and_exits_non_zero(sandbox, env, tmp_path):
    sandbox.control.delete("staff", 106)
    result = run("submit", write_csv(tmp_path, *GOOD), "--yes")
    assert result.exit_code == 1
    assert "failed" in result.output and "staff 106 does not exist" in result.output
    assert "Sent 1 of 2, 1 refused by Trackops." in result.output


def test_trackops_down_stops_the_send_and_a_second_run_finishes_it(sandbox, env, tmp_path):
    path = write_csv(tmp_path, *GOOD)
    sandbox.control.inject_fault("503", count=100)
    result = CliRunner().invoke(main, ["submit", path, "--yes"])
    assert result.exit_code == 1
    assert "Row 2  unknown" in result.output and "Row 3  pending" in result.output
    assert "Sent 0 of 2, 2 still to send or to check." in result.output
    assert "nothing will be sent twice" in result.output
    assert "error: POST /events: HTTP 503" in result.output
    assert "Traceback" not in result.output
    sandbox.control.clear_faults()
    with open_store(env["DATABASE_URL"]) as store, make_client(sandbox) as client:
        # What a second run does once the unanswered send has had time to settle.
        later = drain_outbox(client, store, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert (later.requeued, later.sent) == (1, 2)
    again = run("submit", path)
    assert again.exit_code == 0 and "Sent 2 of 2." in again.output
    assert posts(sandbox) == 3  # the 503'd POST, then each event once


def test_batches_and_batch(sandbox, env, tmp_path):
    assert "No batches yet" in run("batches").output
    run("submit", write_csv(tmp_path, GOOD[0], GAP), "--skip-invalid", "--yes")
    listing = run("batches")
    assert listing.exit_code == 0
    assert "shifts.csv" in listing.output and "1/1" in listing.output
    shown = run("batch", "1")
    assert shown.exit_code == 0, shown.output
    assert "Batch 1: shifts.csv (csv), submitted" in shown.output
    assert "Rows: 2 (1 ready, 1 with errors, not queued)" in shown.output
    assert "Row 2  sent" in shown.output and "Surveillance - Doe" in shown.output
    missing = run("batch", "7")
    assert missing.exit_code == 1 and "no batch with id 7" in missing.output


def test_an_empty_mirror_says_to_poll_first(sandbox, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for key, value in (
        ("TRACKOPS_BASE_URL", sandbox.base_url),
        ("TRACKOPS_USERNAME", sandbox.options.username),
        ("TRACKOPS_API_TOKEN", sandbox.options.token),
    ):
        monkeypatch.setenv(key, value)
    run("migrate")
    result = CliRunner().invoke(main, ["submit", write_csv(tmp_path, *GOOD), "--yes"])
    assert result.exit_code == 1
    assert "trackops-bridge poll --once" in result.output


def test_a_submit_killed_right_after_its_post_leaves_no_duplicate(sandbox, env, tmp_path):
    path = write_csv(tmp_path, "Killed mid-send,2,1201,2026-12-14,08:00,09:00,,")
    # Trackops creates the event, then is slow to answer: the process is killed while waiting.
    sandbox.control.inject_fault("delay", seconds=5, path_prefix="/events")
    process = bridge_process(env, "submit", path, "--yes")

    def post_served() -> bool:
        log = sandbox.control.requests()["requests"]
        return any(r["method"] == "POST" and r["status"] == 201 for r in log)

    wait_for(lambda: post_served() or process.poll() is not None, "the POST to reach Trackops")
    assert process.poll() is None, process.communicate()[0].decode()
    process.send_signal(signal.SIGKILL)
    process.communicate()

    with open_store(env["DATABASE_URL"]) as store:
        (item,) = store.batch_progress(1).items
        assert item.state == "sending" and item.event_id is None
        with make_client(sandbox) as client:
            # The next sender, a little later: it looks before it sends.
            result = drain_outbox(
                client, store, clock=lambda: datetime.now(UTC) + timedelta(minutes=2)
            )
            found = [
                e for page in client.iter_event_pages(title="Killed mid-send") for e in page.records
            ]
        assert (result.recovered, result.sent) == (1, 0)
        assert len(found) == 1
        (item,) = store.batch_progress(1).items
        assert (item.state, item.event_id) == ("sent", found[0].event_id)
    assert posts(sandbox) == 1
