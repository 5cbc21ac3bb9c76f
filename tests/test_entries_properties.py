"""Properties of reading entries: any form entry, CSV row or .ics file becomes drafts or named
errors, never an exception, and its work stays within the budget (counted, not timed).

The strategies (tests/support/entries.py) lean on what broke before: digits of other scripts ("²"
passes str.isdigit() but int() refuses it), and repeat rules that match rarely or never.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.entries import (
    COLUMNS,
    Budget,
    Directory,
    Draft,
    EntryFields,
    EntryOptions,
    FieldError,
    parse_csv,
    parse_ics,
    validate_entry,
)
from bridge.models import Calendar, Case, Staff, Subject
from tests.support.entries import event_text, value

DIRECTORY = Directory(
    calendars=[Calendar(1, "Surveillance", "America/New_York"), Calendar(2, "Court Dates")],
    cases=[Case(10, "2026-0142", "ACME-7", "Doe surveillance"), Case(11, "11", "", "Numbered")],
    subjects=[Subject(100, 10, "John Doe")],
    staff=[Staff(5, "Ann", "Lee", "ann@example.com")],
)
OPTIONS = EntryOptions(default_timezone="America/Denver")
TEXT_FIELDS = list(COLUMNS)
PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def fields_strategy() -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(TEXT_FIELDS), value, max_size=len(TEXT_FIELDS))


def assert_draft_or_named_errors(outcome: Draft | list[FieldError]) -> None:
    if isinstance(outcome, Draft):
        return
    assert outcome, "an entry that is not a draft says why"
    for error in outcome:
        assert isinstance(error, FieldError) and error.message
        assert error.field in (*COLUMNS, "file", "recurrence"), error


@PROPERTY
@given(fields_strategy())
def test_any_entry_becomes_a_draft_or_errors_naming_their_fields(values: dict[str, str]) -> None:
    base = {"title": "T", "calendar": "1", "case": "10", "start_date": "2026-03-10"}
    outcome = validate_entry(EntryFields(**{**base, **values}), DIRECTORY, OPTIONS)
    assert_draft_or_named_errors(outcome)


@PROPERTY
@given(st.lists(fields_strategy(), min_size=1, max_size=8), st.sampled_from(["utf-8", "cp1252"]))
def test_any_csv_rows_become_drafts_or_row_errors(rows: list[dict[str, str]], codec: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEXT_FIELDS)
    for row in rows:
        writer.writerow([row.get(name, "") for name in TEXT_FIELDS])
    data = out.getvalue().encode(codec, errors="replace")
    parsed = parse_csv(data)
    for error in parsed.errors:
        assert error.message and (error.row is None or error.row >= 1)
    for entry in parsed.entries:
        assert entry.row is not None and entry.row >= 2
        assert_draft_or_named_errors(validate_entry(entry, DIRECTORY, OPTIONS))


# --- .ics files with random repeat rules -----------------------------------------------------


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(event_text, min_size=1, max_size=4), st.sampled_from([date(2027, 6, 30), None]))
def test_any_ics_file_gives_entries_or_errors_within_its_budget(
    events: list[str], until: date | None
) -> None:
    data = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n"
    # A small budget keeps each example quick; the property is that it is never overspent.
    budget = Budget(event_steps=2_000, file_steps=6_000, file_occurrences=3_000)
    parsed = parse_ics(data.encode(), expand_until=until, max_occurrences=200, budget=budget)
    assert budget.steps <= budget.file_steps + 1
    assert budget.occurrences <= budget.file_occurrences + 1
    assert len(parsed.entries) <= 1000
    for error in parsed.errors:
        assert error.message and "Traceback" not in error.message
    for entry in parsed.entries:
        assert_draft_or_named_errors(
            validate_entry(entry.filled(calendar="1", case="10"), DIRECTORY, OPTIONS)
        )
