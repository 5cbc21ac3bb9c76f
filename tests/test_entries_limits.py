"""Uploads that ask for too much work are refused after a bounded amount of it (issue 8, item 5).

Each test asserts on the message and on what the budget counted as the file was read (days
searched, occurrences generated), never on the clock: the counts are what bound the time.
"""

from __future__ import annotations

from datetime import date

from bridge.entries import Budget, parse_ics
from bridge.entries.budget import EVENT_STEPS, FILE_OCCURRENCES, FILE_STEPS
from tests.support.entries import ics

UNTIL = date(2035, 12, 31)


def series(rule: str, count: int, start: str = "20260101T090000Z") -> bytes:
    """`count` repeating events with the same rule, as one file."""
    return ics(
        *(f"UID:{n}\r\nSUMMARY:E{n}\r\nDTSTART:{start}\r\nRRULE:{rule}" for n in range(count))
    )


def test_fifty_year_day_366_in_january_rules_are_refused_without_a_search() -> None:
    # The 7 KB file: each rule alone made dateutil search to the year 9999 (3.1 s).
    parsed = parse_ics(series("FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1", 50), expand_until=UNTIL)
    assert parsed.entries == ()
    assert len(parsed.errors) == 50
    assert str(parsed.errors[49]) == (
        "Event 50 ('E49'), recurrence: repeats by FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1, which "
        "never happens (no such day in its months): correct the rule, or remove the RRULE line "
        "to create only the first occurrence"
    )
    assert parsed.budget is not None
    assert (parsed.budget.steps, parsed.budget.occurrences) == (0, 0)


def test_a_rule_that_never_matches_again_is_cut_off_by_the_days_it_searched() -> None:
    # The 60th day of the year is never the 31st of a month; nothing names that up front, so
    # dateutil's day-by-day search is metered: each event stops at its share, the file at its.
    budget = Budget(event_steps=3_000, file_steps=10_000)
    data = series("FREQ=MONTHLY;BYMONTHDAY=31;BYYEARDAY=60", 50)
    parsed = parse_ics(data, expand_until=UNTIL, budget=budget)
    assert parsed.entries == ()
    assert [str(e) for e in parsed.errors] == [
        "Event 4 ('E3'): expanding the file's repeating events needs more than 10,000 search "
        "steps: expand them to an earlier date, or split the file"
    ]
    assert budget.steps == 10_001, "counted as searched, and stopped at the first step over"
    assert budget.occurrences == 0


def test_one_rule_over_its_share_is_a_row_error_and_the_rest_are_read() -> None:
    never_again = "UID:a\r\nSUMMARY:Odd\r\nDTSTART:20260101T090000Z\r\nRRULE:" + (
        "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6"
    )
    weekly = "UID:b\r\nSUMMARY:Weekly\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3"
    budget = Budget()
    parsed = parse_ics(ics(never_again, weekly), expand_until=UNTIL, budget=budget)
    assert [e.title for e in parsed.entries] == ["Weekly"] * 3
    assert [str(e) for e in parsed.errors] == [
        f"Event 1 ('Odd'), recurrence: its repeat rule searched {EVENT_STEPS:,} days without "
        "reaching the expand date: it (almost) never happens. Check the rule, or leave the "
        "event out"
    ]
    assert EVENT_STEPS < budget.steps < FILE_STEPS


def test_four_thousand_series_are_refused_before_anything_is_parsed() -> None:
    # The file took 62 s and 1.5 GB before its refusal.
    parsed = parse_ics(series("FREQ=DAILY;COUNT=500", 4000), expand_until=UNTIL)
    assert [str(e) for e in parsed.errors] == [
        "the file has 4,000 events (VEVENTs); the limit is 2,000: export a shorter date range, "
        "or split it"
    ]
    assert parsed.budget is not None and parsed.budget.occurrences == 0


def test_entries_are_capped_as_they_are_generated() -> None:
    budget = Budget()
    parsed = parse_ics(series("FREQ=DAILY;COUNT=500", 1500), expand_until=UNTIL, budget=budget)
    assert [str(e) for e in parsed.errors] == [
        "the file gives more than 1,000 events by Event 3 ('E2'); the limit is 1,000: split it, "
        "or expand repeating events to an earlier date"
    ]
    assert budget.occurrences == 1500, "two series fill the file; the third stops the reading"


def test_occurrences_are_capped_for_the_whole_file() -> None:
    # Each daily series is refused for passing its own 500, yet generates 501 before it is.
    budget = Budget()
    parsed = parse_ics(series("FREQ=DAILY", 100), expand_until=UNTIL, budget=budget)
    assert [str(e) for e in parsed.errors] == [
        f"Event 40 ('E39'): the file's repeating events give more than {FILE_OCCURRENCES:,} "
        "occurrences: expand them to an earlier date, or split the file"
    ]
    assert budget.occurrences == FILE_OCCURRENCES + 1


def test_events_every_minute_or_second_are_refused_before_a_search() -> None:
    budget = Budget()
    data = series("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=1", 2)
    parsed = parse_ics(data, expand_until=UNTIL, budget=budget)
    assert str(parsed.errors[0]).startswith(
        "Event 1 ('E0'), recurrence: repeats every second (FREQ=SECONDLY;BYHOUR=1;BYMONTHDAY=29;"
        "BYMONTH=2): events that repeat more often than hourly are not expanded"
    )
    assert (budget.steps, budget.occurrences) == (0, 0)


def test_the_clock_stops_a_file_whatever_the_counts() -> None:
    ticks = iter(range(1_000_000))
    budget = Budget(seconds=5.0, clock=lambda: float(next(ticks)))  # a second per look
    parsed = parse_ics(series("FREQ=DAILY;COUNT=3", 20), expand_until=UNTIL, budget=budget)
    assert [str(e) for e in parsed.errors] == [
        "reading the file takes more than 5 seconds: expand repeating events to an earlier "
        "date, or split the file"
    ]


def test_lines_are_bounded_before_parsing() -> None:
    data = ics("UID:a\r\nSUMMARY:A\r\nDTSTART:20260101T090000Z" + "\r\nX-PAD:1" * 60_000)
    parsed = parse_ics(data, expand_until=None)
    assert str(parsed.errors[0]).startswith("the file has 60,0")
    assert "lines; the limit is 40,000" in str(parsed.errors[0])
