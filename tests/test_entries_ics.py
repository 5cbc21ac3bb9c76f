""".ics uploads: Outlook exports (Windows zone names with their own VTIMEZONE), Google exports
(UTC times, all-day, X-WR-TIMEZONE), repeating events expanded or refused, and broken files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bridge.entries import (
    Directory,
    Draft,
    EntryFields,
    EntryOptions,
    IcsParse,
    Source,
    parse_ics,
    validate_entry,
)
from bridge.models import Calendar, Case
from tests.support.entries import ics

DATA = Path(__file__).resolve().parent / "data" / "entries"
DIRECTORY = Directory(
    calendars=[Calendar(1, "Surveillance", "America/New_York"), Calendar(2, "Court Dates")],
    cases=[Case(10, "2026-0142", "ACME-7", "Doe surveillance")],
)
OPTIONS = EntryOptions(default_timezone="America/Denver")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


def drafts_of(parsed: IcsParse, calendar: str = "Surveillance") -> list[Draft]:
    """What the web does: fill in the form's calendar and case, then validate each entry."""
    drafts = []
    for fields in parsed.entries:
        result = validate_entry(
            fields.filled(calendar=calendar, case="2026-0142"), DIRECTORY, OPTIONS
        )
        assert isinstance(result, Draft), [str(e) for e in result]
        drafts.append(result)
    return drafts


# --- Outlook -------------------------------------------------------------------------------


def test_outlook_export_with_windows_zone_names_and_their_vtimezones() -> None:
    parsed = parse_ics((DATA / "outlook_export.ics").read_bytes(), expand_until=None)
    assert parsed.is_ok and parsed.notices == ()
    stakeout, handover, trial, mumbai = parsed.entries
    assert (stakeout.title, stakeout.timezone, stakeout.start_date, stakeout.start_time) == (
        "Surveillance - J. Doe",
        "America/New_York",
        "2026-03-10",
        "07:00",
    )
    assert stakeout.description == (
        "Subject usually leaves home around 7.\nPark on the north side, facing the driveway."
    )
    assert stakeout.address_1 == "2000 Blake Street, Denver, CO 80202"
    assert (stakeout.calendar, stakeout.case, stakeout.source, stakeout.row) == (
        "",
        "",
        Source.ICS,
        1,
    )
    assert (trial.start_date, trial.end_date, trial.all_day) == ("2026-03-17", "2026-03-18", "yes")
    assert mumbai.timezone == "" and "Customized Time Zone" in mumbai.notes[0]
    assert handover.timezone == "Australia/Sydney"


def test_outlook_export_to_drafts_with_exact_instants() -> None:
    parsed = parse_ics((DATA / "outlook_export.ics").read_bytes(), expand_until=None)
    stakeout, handover, trial, mumbai = drafts_of(parsed)
    assert (stakeout.start_at, stakeout.end_at) == (utc(2026, 3, 10, 11), utc(2026, 3, 10, 19))
    # 01:30 AEDT to 03:30 AEST: the night the clocks go back, three real hours.
    assert (handover.start_at, handover.end_at) == (
        utc(2026, 4, 4, 14, 30),
        utc(2026, 4, 4, 17, 30),
    )
    # All day, DTEND exclusive: the 17th and the 18th, in the calendar's zone (EDT).
    assert (trial.is_allday, trial.start_at, trial.end_at, trial.timezone) == (
        True,
        utc(2026, 3, 17, 4),
        utc(2026, 3, 19, 3, 59, 59),
        "America/New_York",
    )
    # Outlook's own zone with no IANA name: the exact time is kept, the calendar's zone is used.
    assert (mumbai.start_at, mumbai.timezone) == (utc(2026, 3, 20, 4, 0), "America/New_York")


def test_windows_zone_name_without_a_vtimezone_still_resolves() -> None:
    parsed = parse_ics(
        ics(
            "UID:a\r\nSUMMARY:Hearing\r\n"
            "DTSTART;TZID=India Standard Time:20260115T093000\r\n"
            "DTEND;TZID=India Standard Time:20260115T103000"
        ),
        expand_until=None,
    )
    [fields] = parsed.entries
    assert (fields.timezone, fields.start_instant) == ("Asia/Kolkata", utc(2026, 1, 15, 4, 0))


# --- Google --------------------------------------------------------------------------------


def test_google_export_utc_times_all_day_and_a_series() -> None:
    parsed = parse_ics((DATA / "google_export.ics").read_bytes(), expand_until=date(2026, 4, 30))
    assert parsed.is_ok
    assert parsed.notices == ("Event 5 ('Dropped meeting'): skipped, it is cancelled",)
    titles = [e.title for e in parsed.entries]
    assert titles == [
        "Interview - witness",
        "Trial - People v. Roe",
        "Monday briefing",
        "Monday briefing",
        "Monday briefing (Tuesday)",
        "Monday briefing",
    ]
    interview, trial = parsed.entries[:2]
    # Z times are exact; X-WR-TIMEZONE gives the event its zone and the wall-clock preview.
    assert (interview.start_instant, interview.end_instant) == (
        utc(2026, 3, 11, 16),
        utc(2026, 3, 11, 17, 30),
    )
    assert (interview.timezone, interview.start_time, interview.end_time) == (
        "America/Los_Angeles",
        "09:00",
        "10:30",
    )
    assert (trial.start_date, trial.end_date, trial.all_day) == ("2026-03-23", "2026-03-25", "yes")
    assert trial.address_1.startswith("Sacramento County Courthouse, 720 9th St")
    assert interview.address_1 == ""


def test_google_export_to_drafts() -> None:
    parsed = parse_ics((DATA / "google_export.ics").read_bytes(), expand_until=date(2026, 4, 30))
    drafts = drafts_of(parsed, calendar="Court Dates")
    interview, trial, *briefings = drafts
    assert (interview.start_at, interview.timezone) == (utc(2026, 3, 11, 16), "America/Los_Angeles")
    # Trial, all day 23-25 March in Los Angeles (PDT, UTC-7).
    assert (trial.start_at, trial.end_at, trial.is_allday) == (
        utc(2026, 3, 23, 7),
        utc(2026, 3, 26, 6, 59, 59),
        True,
    )
    # 08:30 Pacific each Monday: PST on the 2nd, PDT after the 8th; the 16th excluded, the
    # 23rd moved to Tuesday 10:00.
    assert [(d.start_at, d.end_at - d.start_at) for d in briefings] == [
        (utc(2026, 3, 2, 16, 30), timedelta(minutes=30)),
        (utc(2026, 3, 9, 15, 30), timedelta(minutes=30)),
        (utc(2026, 3, 24, 17, 0), timedelta(minutes=30)),
        (utc(2026, 3, 30, 15, 30), timedelta(minutes=30)),
    ]


# --- repeating events --------------------------------------------------------------------------

WEEKLY = (
    "UID:weekly-1\r\nSUMMARY:Weekly check-in\r\n"
    "DTSTART;TZID=America/New_York:20260302T090000\r\nDURATION:PT1H\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO\r\n"
    "EXDATE;TZID=America/New_York:20260309T090000,20260323T090000"
)


@pytest.mark.parametrize(
    ("until", "days"),
    [
        (date(2026, 3, 1), []),
        (date(2026, 3, 2), [2]),
        (date(2026, 3, 22), [2, 16]),
        (date(2026, 4, 6), [2, 16, 30, 37]),
    ],
)
def test_rrule_expanded_up_to_the_date_with_exdates_left_out(until: date, days: list[int]) -> None:
    parsed = parse_ics(ics(WEEKLY), expand_until=until)
    assert parsed.is_ok
    first = utc(2026, 3, 2, 14)  # 09:00 EST
    expected = [first + timedelta(days=d - 2) for d in days]
    # After 8 March the wall-clock time stays 09:00, so the UTC hour moves (EDT).
    expected = [t - timedelta(hours=1) if t > utc(2026, 3, 8, 7) else t for t in expected]
    assert [e.start_instant for e in parsed.entries] == expected
    assert all(
        e.end_instant - e.start_instant == timedelta(hours=1)  # type: ignore[operator]
        for e in parsed.entries
    )


def test_rrule_is_refused_without_an_expand_date_naming_the_event() -> None:
    parsed = parse_ics(
        ics("UID:x\r\nSUMMARY:Hearing\r\nDTSTART:20260101T090000Z", WEEKLY), expand_until=None
    )
    assert [e.title for e in parsed.entries] == ["Hearing"]
    [error] = parsed.errors
    assert str(error) == (
        "Event 2 ('Weekly check-in'), recurrence: repeats (FREQ=WEEKLY;BYDAY=MO); choose a date "
        "to expand repeating events until, or leave it out of the file"
    )


def test_rrule_with_too_many_occurrences_is_refused() -> None:
    daily = "UID:d\r\nSUMMARY:Daily log\r\nDTSTART:20260101T090000Z\r\nRRULE:FREQ=DAILY"
    assert len(parse_ics(ics(daily), expand_until=date(2026, 12, 31)).entries) == 365
    parsed = parse_ics(ics(daily), expand_until=date(2026, 12, 31), max_occurrences=100)
    assert parsed.entries == ()
    assert "repeats (FREQ=DAILY) more than 100 times before 2026-12-31" in str(parsed.errors[0])


def test_count_and_until_end_a_series_before_the_expand_date() -> None:
    counted = "UID:c\r\nSUMMARY:C\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=DAILY;COUNT=3"
    until = (
        "UID:u\r\nSUMMARY:U\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=DAILY;UNTIL=20260106T090000Z"
    )
    parsed = parse_ics(ics(counted, until), expand_until=date(2027, 1, 1))
    assert [(e.title, e.start_date) for e in parsed.entries] == [
        ("C", "2026-01-05"),
        ("C", "2026-01-06"),
        ("C", "2026-01-07"),
        ("U", "2026-01-05"),
        ("U", "2026-01-06"),
    ]


def test_a_rule_that_never_matches_is_refused_naming_the_event() -> None:
    # dateutil would search day by day up to the year 9999 for a 30 February: it is refused
    # before any search, and the event's row says how to correct it.
    never = (
        "UID:n\r\nSUMMARY:N\r\nDTSTART:20260105T090000Z\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"
    )
    parsed = parse_ics(ics(never), expand_until=date(2027, 1, 1))
    assert parsed.entries == ()
    assert [str(e) for e in parsed.errors] == [
        "Event 1 ('N'), recurrence: repeats by FREQ=DAILY;BYMONTHDAY=30;BYMONTH=2, which never "
        "happens (no such day in its months): correct the rule, or remove the RRULE line to "
        "create only the first occurrence"
    ]
    assert parsed.budget is not None and parsed.budget.steps == 0


def test_all_day_series_with_date_exdate_and_an_rdate() -> None:
    yearly = (
        "UID:y\r\nSUMMARY:Review\r\nDTSTART;VALUE=DATE:20260115\r\nDTEND;VALUE=DATE:20260116\r\n"
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=15\r\nEXDATE;VALUE=DATE:20260215\r\n"
        "RDATE;VALUE=DATE:20260220"
    )
    parsed = parse_ics(ics(yearly), expand_until=date(2026, 4, 1))
    assert [(e.start_date, e.end_date, e.all_day) for e in parsed.entries] == [
        ("2026-01-15", "", "yes"),
        ("2026-02-20", "", "yes"),
        ("2026-03-15", "", "yes"),
    ]


def test_cancelled_occurrence_is_dropped_and_a_lone_changed_occurrence_is_kept() -> None:
    cancelled = (
        "UID:weekly-1\r\nSUMMARY:Weekly check-in\r\nSTATUS:CANCELLED\r\n"
        "RECURRENCE-ID;TZID=America/New_York:20260316T090000\r\n"
        "DTSTART;TZID=America/New_York:20260316T090000\r\nDURATION:PT1H"
    )
    lone = (
        "UID:elsewhere\r\nSUMMARY:Moved meeting\r\n"
        "RECURRENCE-ID;TZID=America/New_York:20260316T090000\r\n"
        "DTSTART;TZID=America/New_York:20260317T110000\r\nDURATION:PT1H"
    )
    parsed = parse_ics(ics(WEEKLY, cancelled, lone), expand_until=date(2026, 3, 22))
    assert [(e.title, e.start_date) for e in parsed.entries] == [
        ("Weekly check-in", "2026-03-02"),
        ("Moved meeting", "2026-03-17"),
    ]


# --- floating times, locations, missing ends -----------------------------------------------


def test_floating_time_is_read_in_the_calendar_zone_and_says_so() -> None:
    parsed = parse_ics(
        ics("UID:f\r\nSUMMARY:Site visit\r\nDTSTART:20260310T090000\r\nDTEND:20260310T110000"),
        expand_until=None,
    )
    [fields] = parsed.entries
    assert (fields.is_floating, fields.start_instant, fields.timezone) == (True, None, "")
    [draft] = drafts_of(parsed)
    assert (draft.start_at, draft.end_at) == (utc(2026, 3, 10, 13), utc(2026, 3, 10, 15))
    assert any(
        "without a zone: read in America/New_York (the zone of calendar 'Surveillance')" in note
        for note in draft.notes
    )


def test_floating_time_uses_the_files_own_zone_when_it_declares_one() -> None:
    parsed = parse_ics(
        ics(
            "UID:f\r\nSUMMARY:Site visit\r\nDTSTART:20260310T090000",
            header="X-WR-TIMEZONE:Europe/London\r\n",
        ),
        expand_until=None,
    )
    [draft] = drafts_of(parsed)
    assert (draft.start_at, draft.timezone) == (utc(2026, 3, 10, 9), "Europe/London")
    assert "X-WR-TIMEZONE" in draft.notes[0]
    assert "no end time given: the event lasts 1 hour" in draft.notes


def test_long_location_goes_into_the_description() -> None:
    place = "Conference room B, " + "x" * 300
    parsed = parse_ics(
        ics(
            f"UID:l\r\nSUMMARY:Deposition\r\nDESCRIPTION:Bring exhibits\r\n"
            f"LOCATION:{place}\r\nDTSTART:20260310T150000Z"
        ),
        expand_until=None,
    )
    [fields] = parsed.entries
    assert fields.address_1 == ""
    assert fields.description == f"Bring exhibits\n\nLocation: {place}"
    assert "LOCATION is too long" in fields.notes[0]


def test_multiline_location_is_joined_into_one_address_line() -> None:
    parsed = parse_ics(
        ics(
            "UID:l\r\nSUMMARY:Visit\r\nLOCATION:1 Main St\\nSpringfield\r\n"
            "DTSTART;VALUE=DATE:20260310"
        ),
        expand_until=None,
    )
    assert parsed.entries[0].address_1 == "1 Main St, Springfield"


# --- broken files: a message, never a traceback ------------------------------------------------

BROKEN_FILES = [
    (b"", "not an iCalendar (.ics) file"),
    (b"title,calendar\r\nA,B\r\n", "not an iCalendar (.ics) file"),
    (b"BEGIN:VCALENDAR\r\nthis is not a content line\r\n", "not valid iCalendar"),
]


@pytest.mark.parametrize(("data", "fragment"), BROKEN_FILES)
def test_broken_files_get_a_clear_message(data: bytes, fragment: str) -> None:
    parsed = parse_ics(data, expand_until=None)
    assert parsed.entries == ()
    assert fragment in str(parsed.errors[0])


BROKEN_EVENTS = [
    ("UID:a\r\nSUMMARY:No start", "start_date", "has no start (DTSTART)"),
    ("UID:a\r\nSUMMARY:Bad\r\nDTSTART:2026xx", "start_date", "cannot be read"),
    (
        "UID:a\r\nSUMMARY:Mars\r\nDTSTART;TZID=Mars/Olympus:20260310T090000",
        "timezone",
        "uses time zone 'Mars/Olympus', which is unknown and not described in the file",
    ),
    (
        "UID:a\r\nSUMMARY:Mixed\r\nDTSTART;VALUE=DATE:20260310\r\nDTEND:20260310T100000Z",
        "end_date",
        "starts on a date (all day) but ends at a time",
    ),
    (
        "UID:a\r\nSUMMARY:Twice\r\nDTSTART:20260310T100000Z\r\nDTEND:20260310T110000Z\r\n"
        "DTEND:20260310T120000Z",
        "end_date",
        "has DTEND more than once",
    ),
    (
        "UID:a\r\nSUMMARY:Rule\r\nDTSTART:20260310T100000Z\r\nRRULE:FREQ=SOMETIMES",
        "recurrence",
        "has RRULE:FREQ=SOMETIMES, which cannot be read",
    ),
    (
        "UID:a\r\nSUMMARY:Skip\r\nDTSTART:20260310T100000Z\r\nRRULE:FREQ=WEEKLY\r\nEXDATE:2026xx",
        "recurrence",
        "has EXDATE:2026xx, which cannot be read",
    ),
]


@pytest.mark.parametrize(("event", "field", "fragment"), BROKEN_EVENTS)
def test_broken_events_are_reported_and_the_others_still_read(
    event: str, field: str, fragment: str
) -> None:
    good = "UID:g\r\nSUMMARY:Good\r\nDTSTART:20260310T100000Z"
    parsed = parse_ics(ics(good, event), expand_until=date(2026, 12, 31))
    assert [e.title for e in parsed.entries] == ["Good"]
    [error] = parsed.errors
    assert (error.row, error.field, fragment in error.message) == (2, field, True)


def test_an_export_cut_anywhere_gives_errors_not_exceptions() -> None:
    data = (DATA / "outlook_export.ics").read_bytes()
    for cut in range(0, len(data), 11):
        parsed = parse_ics(data[:cut], expand_until=date(2026, 12, 31))
        assert all(str(error) for error in parsed.errors)


def test_size_and_entry_limits() -> None:
    data = (DATA / "google_export.ics").read_bytes()
    assert "the limit is 1,000" in str(parse_ics(data, expand_until=None, max_bytes=1000).errors[0])
    many = parse_ics(ics(WEEKLY), expand_until=date(2027, 1, 1), max_entries=10)
    assert many.entries == () and "the limit is 10" in str(many.errors[0])


def test_end_before_start_in_a_file_is_a_validation_error() -> None:
    parsed = parse_ics(
        ics("UID:a\r\nSUMMARY:Backwards\r\nDTSTART:20260310T100000Z\r\nDTEND:20260310T090000Z"),
        expand_until=None,
    )
    result = validate_entry(parsed.entries[0].filled(calendar="1", case="10"), DIRECTORY, OPTIONS)
    assert isinstance(result, list)
    assert str(result[0]).startswith(
        "Event 1 ('Backwards'), end_time: the event ends (2026-03-10 09:00 UTC)"
    )


def test_entry_fields_from_ics_leave_calendar_and_case_to_the_caller() -> None:
    [fields] = parse_ics(
        ics("UID:a\r\nSUMMARY:A\r\nDTSTART:20260310T100000Z"), expand_until=None
    ).entries
    assert isinstance(fields, EntryFields) and (fields.calendar, fields.case) == ("", "")
    assert fields.filled(calendar="Court Dates").calendar == "Court Dates"
