"""Submissions: file or form -> preview -> batch in the outbox; the same upload never queues twice.

Real parsing and validation, a real SQLite store; no HTTP (the sender is tested in test_outbox).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.config import Settings
from bridge.entries import Directory, EntryFields
from bridge.errors import SubmissionError
from bridge.models import Calendar, Case, Staff, Subject
from bridge.store import Store
from bridge.submissions import (
    directory_from_store,
    entry_options,
    find_earlier_copies,
    idempotency_key,
    preview_file,
    preview_form,
    submit_preview,
)
from bridge.trackops.bodies import event_request_body

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CALENDARS = [
    Calendar(2, "Surveillance", "America/Denver"),
    Calendar(3, "Court & Depositions", "America/New_York"),
]
CASES = [Case(1201, "2026-0023", "Policy #A683705", "Sato"), Case(1202, "2026-0032", "", "Novak")]
SUBJECTS = [Subject(5001, 1201, "John Doe"), Subject(5002, 1202, "Jane Roe")]
STAFF = [Staff(106, "Marcus", "Bell", "marcus@example.com"), Staff(107, "Tamika", "Brooks", "")]
OPTIONS = entry_options(Settings(default_timezone="America/Chicago"))

CSV = (
    b"title,calendar,case,start_date,start_time,end_time,subject,staff\r\n"
    b"Surveillance - J. Doe,Surveillance,2026-0023,2026-03-10,07:00,15:00,John Doe,Marcus Bell\r\n"
    b"Spring-forward shift,Surveillance,2026-0023,2026-03-08,02:30,04:00,,\r\n"
    b"Hearing,Court & Depositions,2026-0032,2026-03-11,,,,\r\n"
    b"Interview,Nowhere,2026-0023,2026-03-12,09:00,10:00,Jane Roe,\r\n"
)

ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//EN\r
BEGIN:VEVENT\r
UID:1@example.com\r
DTSTAMP:20260301T000000Z\r
DTSTART:20260310T150000Z\r
DTEND:20260310T160000Z\r
SUMMARY:Deposition\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@example.com\r
DTSTAMP:20260301T000000Z\r
DTSTART;TZID=America/Denver:20260308T023000\r
DTEND;TZID=America/Denver:20260308T033000\r
SUMMARY:In the gap\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def directory() -> Directory:
    return Directory(calendars=CALENDARS, cases=CASES, subjects=SUBJECTS, staff=STAFF)


def test_a_csv_preview_shows_each_row_ready_or_with_all_its_errors(directory):
    preview = preview_file(CSV, "shifts.csv", directory=directory, options=OPTIONS)
    assert (preview.source, preview.label, preview.file_errors) == ("csv", "shifts.csv", ())
    assert [(r.where, r.is_ready) for r in preview.rows] == [
        ("Row 2", True),
        ("Row 3", False),
        ("Row 4", True),
        ("Row 5", False),
    ]
    first = preview.rows[0].draft
    assert first is not None
    assert (first.calendar_id, first.casefile_id, first.subject_id) == (2, 1201, 5001)
    assert first.users_list == (106,)
    assert first.start_at == datetime(
        2026, 3, 10, 13, 0, tzinfo=UTC
    )  # 07:00 MDT, the calendar's zone
    gap = preview.rows[1]
    assert [e.field for e in gap.errors] == ["start_time"]
    assert "does not exist on 2026-03-08 in America/Denver" in gap.errors[0].message
    wrong = preview.rows[3]
    assert [e.field for e in wrong.errors] == ["calendar", "subject"]  # every error, not the first
    assert len(preview.ready) == 2 and len(preview.invalid) == 2


def test_the_batch_key_is_the_upload_and_its_choices_not_the_name(directory):
    def key(data: bytes = CSV, name: str = "a.csv", **choices: str) -> str:
        return preview_file(data, name, directory=directory, options=OPTIONS, **choices).batch_key

    assert key() == key(name="renamed.csv") == key(name="C:\\Users\\me\\a.csv")
    assert key() != key(CSV + b"\r\n\r\nx,Surveillance,2026-0023,2026-03-13,,,,\r\n")
    assert key() != key(calendar="Surveillance")
    assert key() != key(case="2026-0023")
    assert preview_file(
        CSV, "C:\\Users\\me\\a.csv", directory=directory, options=OPTIONS
    ).label == ("a.csv")


def test_an_ics_file_takes_calendar_and_case_from_the_choices(directory):
    preview = preview_file(
        ICS,
        "export.ics",
        directory=directory,
        options=OPTIONS,
        calendar="Court & Depositions",
        case="2026-0032",
    )
    assert preview.source == "ics"
    deposition, gap = preview.rows
    assert deposition.draft is not None
    assert (deposition.draft.calendar_id, deposition.draft.casefile_id) == (3, 1202)
    assert deposition.draft.start_at == datetime(2026, 3, 10, 15, tzinfo=UTC)
    assert not gap.is_ready and gap.where.startswith("Event 2")
    # Picked by content as well as by name.
    by_content = preview_file(ICS, "upload.txt", directory=directory, options=OPTIONS)
    assert by_content.source == "ics"
    assert all("calendar" in {e.field for e in r.errors} for r in by_content.rows)


def test_row_and_file_errors_are_kept_apart(directory):
    misaligned = CSV + b"Extra,Surveillance,2026-0023,2026-03-13,09:00,10:00,,,,surplus\r\n"
    preview = preview_file(misaligned, "a.csv", directory=directory, options=OPTIONS)
    assert preview.file_errors == ()
    last = preview.rows[-1]
    assert (last.where, last.is_ready) == ("Row 6", False)
    assert "cells" in last.errors[0].message

    unknown = preview_file(
        b"title,colour\r\nx,red\r\n", "a.csv", directory=directory, options=OPTIONS
    )
    assert unknown.rows == () and "colour" in str(unknown.file_errors[0])

    repeating = ICS.replace(
        b"SUMMARY:Deposition\r\n", b"SUMMARY:Deposition\r\nRRULE:FREQ=DAILY;COUNT=3\r\n"
    )
    refused = preview_file(
        repeating, "a.ics", directory=directory, options=OPTIONS, calendar="2", case="1201"
    )
    assert [r.is_ready for r in refused.rows] == [False, False]
    assert "repeats" in refused.rows[0].errors[0].message
    expanded = preview_file(
        repeating,
        "a.ics",
        directory=directory,
        options=OPTIONS,
        calendar="2",
        case="1201",
        expand_until=date(2026, 3, 31),
    )
    assert len(expanded.ready) == 3
    assert expanded.batch_key == refused.batch_key  # a later expand date adds occurrences only


def test_submitting_queues_only_the_ready_rows_with_their_exact_bodies(store: Store, directory):
    preview = preview_file(CSV, "shifts.csv", directory=directory, options=OPTIONS)
    result = submit_preview(store, preview, at=AT)
    assert (result.queued, result.already_queued, result.is_resubmission) == (2, 0, False)
    assert result.first_submitted_at == AT
    progress = store.batch_progress(result.batch_id)
    ready = preview.ready
    assert [item.body for item in progress.items] == [event_request_body(r.draft) for r in ready]  # type: ignore[union-attr]
    assert [item.idempotency_key for item in progress.items] == [
        idempotency_key(r.draft, preview.batch_key)  # type: ignore[arg-type]
        for r in ready
    ]
    assert [item.row for item in progress.items] == [2, 4]
    # The spring-forward row never reaches the outbox.
    assert all(item.title != "Spring-forward shift" for item in progress.items)
    batch = progress.batch
    assert (batch.total, batch.ready, batch.invalid, batch.source) == (4, 2, 2, "csv")


def test_the_same_file_again_queues_nothing_and_says_when(store: Store, directory):
    preview = preview_file(CSV, "shifts.csv", directory=directory, options=OPTIONS)
    first = submit_preview(store, preview, at=AT)
    again_preview = preview_file(CSV, "shifts (1).csv", directory=directory, options=OPTIONS)
    earlier = find_earlier_copies(store, again_preview)
    assert earlier.batch is not None and earlier.batch.batch_id == first.batch_id
    assert earlier.new_rows(again_preview) == 0
    again = submit_preview(store, again_preview, at=AT + timedelta(days=1))
    assert (again.batch_id, again.queued, again.already_queued) == (first.batch_id, 0, 2)
    assert again.is_resubmission and again.first_submitted_at == AT
    assert again.summary() == (
        f"Already submitted on 2026-03-01 09:00 UTC as batch {first.batch_id}; nothing new queued."
    )
    assert store.count_outbox_items() == 2


def test_a_corrected_file_sends_only_what_is_new(store: Store, directory):
    submit_preview(store, preview_file(CSV, "a.csv", directory=directory, options=OPTIONS), at=AT)
    fixed = (
        CSV.replace(b"2026-03-08,02:30,04:00", b"2026-03-08,03:30,04:00")
        .replace(b"Nowhere", b"Surveillance")
        .replace(b",Jane Roe,", b",,")
    )
    preview = preview_file(fixed, "a.csv", directory=directory, options=OPTIONS)
    assert len(preview.ready) == 4
    earlier = find_earlier_copies(store, preview)
    assert earlier.batch is None and len(earlier.copies) == 2
    assert earlier.new_rows(preview) == 2
    result = submit_preview(store, preview, at=AT)
    assert (result.queued, result.copies_skipped, result.is_resubmission) == (2, 2, False)
    assert "2 left out: identical to events already sent or queued" in result.summary()
    assert store.count_outbox_items() == 4


def test_nothing_ready_is_refused(store: Store, directory):
    bad = b"title,calendar,case,start_date\r\nx,Nowhere,2026-0023,2026-03-12\r\n"
    preview = preview_file(bad, "bad.csv", directory=directory, options=OPTIONS)
    with pytest.raises(SubmissionError, match="no row is ready"):
        submit_preview(store, preview, at=AT)
    assert store.list_batches() == []


def test_a_double_clicked_form_is_one_event_and_an_edited_one_is_new(store: Store, directory):
    fields = EntryFields(
        title="Hearing",
        calendar="Court & Depositions",
        case="2026-0032",
        start_date="2026-03-11",
        start_time="09:00",
        end_time="10:30",
    )
    first = preview_form(fields, directory=directory, options=OPTIONS, submission_id="s-1")
    (row,) = first.rows
    assert (row.where, row.is_ready, first.label, first.source) == (
        "Form entry",
        True,
        "Hearing",  # a form's batch is named after its event
        "form",
    )
    again = preview_form(fields, directory=directory, options=OPTIONS, submission_id="s-1")
    assert again.batch_key == first.batch_key
    assert submit_preview(store, first, at=AT).queued == 1
    assert submit_preview(store, again, at=AT).is_resubmission
    other_page = preview_form(fields, directory=directory, options=OPTIONS, submission_id="s-2")
    assert other_page.batch_key != first.batch_key
    edited = preview_form(
        EntryFields(**{**vars(fields), "end_time": "11:00"}),  # type: ignore[arg-type]
        directory=directory,
        options=OPTIONS,
        submission_id="s-1",
    )
    assert edited.batch_key != first.batch_key
    assert submit_preview(store, edited, at=AT).queued == 1


def test_directory_and_options_come_from_the_mirror_and_settings(store: Store):
    store.upsert_cases(CASES)
    store.upsert_subjects(SUBJECTS)
    store.upsert_staff(STAFF)
    directory = directory_from_store(store)
    assert directory.case("Policy #A683705").case_id == 1201
    assert directory.subject("Jane Roe", CASES[1]).subject_id == 5002
    assert directory.staff_member("tamika brooks").staff_id == 107
    assert OPTIONS.default_timezone == "America/Chicago"
