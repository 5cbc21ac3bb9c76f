"""Drafts as the API sees them (`event_request_body`), their idempotency keys, error wording, the
Directory's lookups, and the entries layer's independence from Flask, the store and HTTP."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bridge.entries import Directory, EntryFields, FieldError, Source
from bridge.errors import DirectoryError
from bridge.models import Address, Calendar, Case, Draft, Staff, Subject
from bridge.submissions import idempotency_key
from bridge.trackops.bodies import event_request_body

ROOT = Path(__file__).resolve().parent.parent

# The vendor's "Example New Event Request", verbatim except zip: a string, so 02134 keeps
# its leading zero.
VENDOR_EXAMPLE = {
    "event": {
        "casefile_id": 123,
        "subject_id": 456,
        "case_service_id": 1,
        "calendar_id": 1,
        "start_at": "2023-01-30 18:00:00",
        "end_at": "2023-01-30 22:00:00",
        "timezone": "America/Denver",
        "is_allday": False,
        "title": "Test API Event",
        "body": "this is a test from the API",
        "address": {
            "address_1": "2000 Blake Street",
            "address_2": "",
            "address_3": "",
            "city": "Denver",
            "state": "CO",
            "zip": "80202",
            "country": "US",
        },
        "users_list": [1, 2, 3],
    }
}


def vendor_draft(**changes: object) -> Draft:
    draft = Draft(
        casefile_id=123,
        calendar_id=1,
        title="Test API Event",
        start_at=datetime(2023, 1, 30, 18, 0, tzinfo=UTC),
        end_at=datetime(2023, 1, 30, 22, 0, tzinfo=UTC),
        timezone="America/Denver",
        is_allday=False,
        subject_id=456,
        case_service_id=1,
        body="this is a test from the API",
        address=Address("2000 Blake Street", "", "", "Denver", "CO", "80202", "US"),
        users_list=(1, 2, 3),
        row=2,
    )
    return dataclasses.replace(draft, **changes)  # type: ignore[arg-type]


def test_api_body_matches_the_vendor_example_key_for_key_and_in_order() -> None:
    body = event_request_body(vendor_draft())
    assert body == VENDOR_EXAMPLE
    assert list(body["event"]) == list(VENDOR_EXAMPLE["event"])
    assert json.dumps(body) == json.dumps(VENDOR_EXAMPLE)


def test_api_body_leaves_out_empty_optional_fields() -> None:
    draft = vendor_draft(
        subject_id=None, case_service_id=None, body="", address=None, users_list=()
    )
    assert event_request_body(draft) == {
        "event": {
            "casefile_id": 123,
            "calendar_id": 1,
            "start_at": "2023-01-30 18:00:00",
            "end_at": "2023-01-30 22:00:00",
            "timezone": "America/Denver",
            "is_allday": False,
            "title": "Test API Event",
        }
    }
    assert "address" not in event_request_body(vendor_draft(address=Address()))["event"]


def test_draft_refuses_times_that_are_not_utc() -> None:
    with pytest.raises(ValueError, match="aware UTC"):
        vendor_draft(start_at=datetime(2023, 1, 30, 18, 0))
    with pytest.raises(ValueError, match="aware UTC"):
        vendor_draft(end_at=datetime(2023, 1, 30, 22, 0, tzinfo=timezone(timedelta(hours=-7))))


# --- idempotency keys ---------------------------------------------------------------------


def test_idempotency_key_is_stable_across_processes() -> None:
    here = idempotency_key(vendor_draft(), "batch-1")
    script = (
        "import datetime as d\n"
        "from bridge.models import Address, Draft\n"
        "from bridge.submissions import idempotency_key\n"
        "u = d.timezone.utc\n"
        "draft = Draft(casefile_id=123, calendar_id=1, title='Test API Event',"
        " start_at=d.datetime(2023, 1, 30, 18, tzinfo=u), end_at=d.datetime(2023, 1, 30, 22,"
        " tzinfo=u), timezone='America/Denver', subject_id=456, case_service_id=1,"
        " body='this is a test from the API', address=Address('2000 Blake Street', '', '',"
        " 'Denver', 'CO', '80202', 'US'), users_list=(1, 2, 3), row=2,"
        " notes=('notes do not count',))\n"
        "print(idempotency_key(draft, 'batch-1'))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout.strip()
    assert there == here
    assert len(here) == 64 and int(here, 16) >= 0


CHANGES = [
    {"title": "Test API Event 2"},
    {"start_at": datetime(2023, 1, 30, 18, 1, tzinfo=UTC)},
    {"end_at": datetime(2023, 1, 30, 22, 0, 1, tzinfo=UTC)},
    {"users_list": (1, 2)},
    {"users_list": (3, 2, 1)},
    {"address": Address("2000 Blake Street", "", "", "Denver", "CO", "80203", "US")},
    {"subject_id": None},
    {"timezone": "America/Chicago"},
    {"is_allday": True},
    {"row": 3},
]


@pytest.mark.parametrize("change", CHANGES)
def test_idempotency_key_changes_with_the_content(change: dict[str, object]) -> None:
    assert idempotency_key(vendor_draft(**change), "b") != idempotency_key(vendor_draft(), "b")


def test_idempotency_key_depends_on_the_batch_but_not_on_notes() -> None:
    assert idempotency_key(vendor_draft(), "a") != idempotency_key(vendor_draft(), "b")
    noted = vendor_draft(notes=("used the first, EDT",))
    assert idempotency_key(noted, "a") == idempotency_key(vendor_draft(), "a")


# --- error wording -----------------------------------------------------------------------------

ERROR_TEXTS = [
    (FieldError("title", "is required"), "title: is required"),
    (FieldError("title", "is required", row=4), "Row 4, title: is required"),
    (FieldError("title", "is required", row=4, column="Title"), "Row 4, column Title: is required"),
    (
        FieldError("start_date", "has no start", row=3, where="Event 3 ('Hearing')"),
        "Event 3 ('Hearing'), start_date: has no start",
    ),
    (FieldError("file", "the file is empty"), "the file is empty"),
    (FieldError("file", "has 7 cells", row=4), "Row 4: has 7 cells"),
]


@pytest.mark.parametrize(("error", "text"), ERROR_TEXTS)
def test_field_error_text(error: FieldError, text: str) -> None:
    assert str(error) == text


def test_entry_fields_fill_only_blank_fields_and_place_themselves() -> None:
    fields = EntryFields(title="Hearing", calendar="", case="2026-1", row=3, source=Source.ICS)
    filled = fields.filled(calendar="Court Dates", case="ignored")
    assert (filled.calendar, filled.case, filled.title) == ("Court Dates", "2026-1", "Hearing")
    assert (fields.where, fields.column_of("title")) == ("Event 3 ('Hearing')", None)
    csv_row = EntryFields(row=4, source=Source.CSV, columns={"title": "Title "})
    assert (csv_row.where, csv_row.column_of("title"), csv_row.column_of("city")) == (
        "Row 4",
        "Title ",
        "city",
    )


# --- directory ---------------------------------------------------------------------------------

DIRECTORY = Directory(
    calendars=[Calendar(1, "Surveillance"), Calendar(2, "Court Dates")],
    cases=[
        Case(10, "2026-0142", "ACME-7", "Doe surveillance"),
        Case(11, "2026-0150", "", "Roe background"),
        Case(12, "11", "", "A case numbered like an id"),
        Case(13, "2025-0999", "DOE-OLD", "Doe insurance claim"),
    ],
    subjects=[Subject(100, 10, "John Doe")],
    staff=[Staff(5, "Ann", "Lee", "ann@example.com"), Staff(6, "", "", "nameless@example.com")],
)


def test_directory_finds_records_by_name_number_reference_email_or_id() -> None:
    assert DIRECTORY.calendar("COURT DATES").calendar_id == 2
    assert DIRECTORY.calendar("2").calendar_id == 2
    assert DIRECTORY.case("acme-7").case_id == 10
    assert DIRECTORY.case("2026-0150").case_id == 11
    assert DIRECTORY.staff_member("ANN@example.com").staff_id == 5
    assert DIRECTORY.staff_member("nameless@example.com").staff_id == 6
    assert DIRECTORY.subject("John   Doe", DIRECTORY.case("10")).subject_id == 100


def test_a_number_that_is_one_id_and_another_case_number_is_ambiguous() -> None:
    with pytest.raises(DirectoryError) as caught:
        DIRECTORY.case("11")
    assert caught.value.candidates == (11, 12)
    assert "ids 11 (2026-0150), 12 (11)" in str(caught.value)


def test_directory_suggests_close_names() -> None:
    with pytest.raises(DirectoryError, match="did you mean 'Court Dates'"):
        DIRECTORY.calendar("Court Date")
    with pytest.raises(DirectoryError, match="no staff member given"):
        DIRECTORY.staff_member("  ")


SEARCHES = [
    ("2026-0142", [10]),  # exact number first
    ("2026", [10, 11]),  # prefix
    ("doe", [13, 10]),  # reference "DOE-OLD" (a prefix) before a title
    ("0999", [13]),
    ("background", [11]),
    ("", []),
    ("zzz", []),
]


@pytest.mark.parametrize(("query", "ids"), SEARCHES)
def test_search_cases_ranks_numbers_then_references_then_titles(query: str, ids: list[int]) -> None:
    assert [c.case_id for c in DIRECTORY.search_cases(query)] == ids


def test_search_cases_honours_the_limit() -> None:
    assert [c.case_id for c in DIRECTORY.search_cases("20", limit=2)] == [13, 10]


# --- layering ------------------------------------------------------------------------------

FORBIDDEN = (
    "flask",
    "sqlalchemy",
    "httpx",
    "psycopg",
    "bridge.store",
    "bridge.web",
    "bridge.trackops",
    "bridge.sync",
    "bridge.worker",
    "bridge.feeds",
)


def test_entries_import_no_web_store_or_http_code() -> None:
    for path in sorted((ROOT / "bridge" / "entries").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
