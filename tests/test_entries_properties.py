"""Properties of reading entries: any form entry, CSV row or .ics file becomes drafts or named
errors, never an exception, and its work stays within the budget (counted, not timed).

Strategies lean on what broke before: digits of other scripts ("²" passes str.isdigit() but
int() refuses it), and repeat rules that match rarely or never.
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

DIRECTORY = Directory(
    calendars=[Calendar(1, "Surveillance", "America/New_York"), Calendar(2, "Court Dates")],
    cases=[Case(10, "2026-0142", "ACME-7", "Doe surveillance"), Case(11, "11", "", "Numbered")],
    subjects=[Subject(100, 10, "John Doe")],
    staff=[Staff(5, "Ann", "Lee", "ann@example.com")],
)
OPTIONS = EntryOptions(default_timezone="America/Denver")
TEXT_FIELDS = list(COLUMNS)
# ASCII digits beside digits that str.isdigit() or \d accept but no one means as a number here.
DIGITS = "0123456789\u00b2\u00b3\u00b9\u2070\u0661\u0662\u06f3\u0967\uff11\uff12\u2460"
PROPERTY = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

digits = st.text(alphabet=DIGITS, min_size=1, max_size=6)
# Values near the valid ones: dates and times made of any digits, ids, names, or any text.
value = st.one_of(
    digits,
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", digits, digits, digits),
    st.builds(lambda h, m: f"{h}:{m}", digits, digits),
    st.sampled_from(["Surveillance", "2026-0142", "John Doe", "Ann Lee", "yes", "no", "US", ""]),
    st.text(max_size=12),
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

rule_part = st.one_of(
    st.builds(lambda n: f"INTERVAL={n}", st.one_of(st.integers(0, 500), digits)),
    st.builds(lambda n: f"COUNT={n}", st.one_of(st.integers(0, 2000), digits)),
    st.builds(lambda m: f"BYMONTH={m}", st.integers(-1, 13)),
    st.builds(lambda d: f"BYMONTHDAY={d}", st.integers(-32, 32)),
    st.builds(lambda d: f"BYYEARDAY={d}", st.integers(-367, 367)),
    st.builds(lambda w: f"BYWEEKNO={w}", st.integers(-54, 54)),
    st.builds(lambda p: f"BYSETPOS={p}", st.integers(-367, 367)),
    st.builds(lambda h: f"BYHOUR={h}", st.integers(-1, 25)),
    st.builds(
        lambda n, d: f"BYDAY={n}{d}",
        st.sampled_from(["", "1", "-1", "5", "53", "60"]),
        st.sampled_from(["MO", "TU", "SU", "XX"]),
    ),
    st.builds(lambda u: f"UNTIL={u}", st.sampled_from(["20261231T000000Z", "20270101", "2\u00b2"])),
    st.builds(lambda w: f"WKST={w}", st.sampled_from(["MO", "SU"])),
    st.text(max_size=8),
)
rrule_text = st.builds(
    lambda freq, parts: ";".join([f"FREQ={freq}", *parts]),
    st.sampled_from(["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY"]),
    st.lists(rule_part, max_size=4),
)
event_text = st.builds(
    lambda n, start, rules, extra: "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{n}",
            f"SUMMARY:Event {n}",
            f"DTSTART{start}",
            *(f"RRULE:{rule}" for rule in rules),
            *extra,
            "END:VEVENT",
        ]
    ),
    st.integers(0, 99),
    st.sampled_from(
        [":20260105T090000Z", ";VALUE=DATE:20260105", ":20260105T090000", ":2026\u00b2105", ""]
    ),
    st.lists(rrule_text, max_size=2),
    st.lists(
        st.sampled_from(
            [
                "DTEND:20260105T100000Z",
                "DURATION:PT1H",
                "EXDATE:20260112T090000Z",
                "RDATE:20260301T090000Z",
                "STATUS:CANCELLED",
                "RECURRENCE-ID:20260112T090000Z",
                "DTEND:\u0662\u0660\u0662\u0666",
            ]
        ),
        max_size=2,
    ),
)


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
