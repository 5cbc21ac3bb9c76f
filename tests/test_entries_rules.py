"""Validation rules of one entry, table by table: time zones and DST, dates, times, all-day
encoding, addresses, directory lookups, required fields and length limits."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.entries import (
    Directory,
    Draft,
    EntryFields,
    EntryOptions,
    FieldError,
    Source,
    validate_entry,
)
from bridge.entries.values import MAX_LENGTH, parse_date, parse_time
from bridge.models import Calendar, Case, Staff, Subject
from bridge.trackops.bodies import event_request_body

DIRECTORY = Directory(
    calendars=[
        Calendar(1, "Surveillance", "America/New_York"),
        Calendar(2, "Court Dates"),
        Calendar(3, "Sydney Ops", "Australia/Sydney"),
        Calendar(4, "Broken", "Mars/Olympus"),
    ],
    cases=[
        Case(10, "2026-0142", "ACME-7", "Doe surveillance"),
        Case(11, "2026-0150", "", "Roe background"),
    ],
    subjects=[
        Subject(100, 10, "John Doe"),
        Subject(101, 11, "Jane Roe"),
        Subject(103, 10, "Sam Poe"),
        Subject(104, 10, "Sam  Poe"),
    ],
    staff=[
        Staff(5, "Ann", "Lee", "ann@example.com"),
        Staff(6, "John", "Smith", "js1@example.com"),
        Staff(7, "John", "Smith", "js2@example.com"),
        Staff(8, "Zoë", "Martín", "zoe@example.com"),
    ],
)
OPTIONS = EntryOptions(default_timezone="America/Denver")


def entry(**fields: object) -> EntryFields:
    """A valid entry on the zone-less calendar (so the default zone applies), with overrides."""
    base: dict[str, object] = {
        "title": "Surveillance - Doe",
        "calendar": "Court Dates",
        "case": "2026-0142",
        "start_date": "2026-03-10",
        "start_time": "09:00",
        "end_time": "17:00",
    }
    base.update(fields)
    return EntryFields(**base)  # type: ignore[arg-type]


def draft_of(fields: EntryFields, options: EntryOptions = OPTIONS) -> Draft:
    result = validate_entry(fields, DIRECTORY, options)
    assert isinstance(result, Draft), [str(e) for e in result]
    return result


def errors_of(fields: EntryFields, options: EntryOptions = OPTIONS) -> dict[str, str]:
    result = validate_entry(fields, DIRECTORY, options)
    assert isinstance(result, list), f"expected errors, got {result}"
    return {e.field: e.message for e in result}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


# --- DST: gaps are errors naming the gap ----------------------------------------------------

GAPS = [
    ("America/New_York", "2026-03-08", "02:30", "clocks skip from 02:00 to 03:00"),
    ("Europe/London", "2026-03-29", "01:30", "clocks skip from 01:00 to 02:00"),
    ("Australia/Sydney", "2026-10-04", "02:30", "clocks skip from 02:00 to 03:00"),
    ("America/St_Johns", "2026-03-08", "02:30", "clocks skip from 02:00 to 03:00"),
    ("Australia/Lord_Howe", "2026-10-04", "02:15", "clocks skip from 02:00 to 02:30"),
]


@pytest.mark.parametrize(("zone", "day", "clock", "gap"), GAPS)
def test_time_in_spring_forward_gap_is_an_error_naming_the_gap(
    zone: str, day: str, clock: str, gap: str
) -> None:
    fields = entry(timezone=zone, start_date=day, start_time=clock, end_time="10:00")
    errors = errors_of(fields)
    assert errors == {
        "start_time": f"{clock} does not exist on {day} in {zone} ({gap}); "
        "pick a time outside the gap"
    }


def test_gap_error_reads_as_the_brief_example_in_a_csv_row() -> None:
    fields = entry(
        timezone="America/New_York",
        start_date="2026-03-08",
        start_time="02:30",
        row=4,
        source=Source.CSV,
    )
    [error] = validate_entry(fields, DIRECTORY, OPTIONS)  # type: ignore[misc]
    assert str(error) == (
        "Row 4, column start_time: 02:30 does not exist on 2026-03-08 in America/New_York "
        "(clocks skip from 02:00 to 03:00); pick a time outside the gap"
    )


def test_end_time_in_a_gap_is_reported_on_end_time() -> None:
    fields = entry(
        timezone="America/New_York", start_date="2026-03-08", start_time="01:00", end_time="02:15"
    )
    assert list(errors_of(fields)) == ["end_time"]


def test_gap_and_end_before_start_are_both_reported() -> None:
    fields = entry(
        timezone="America/New_York", start_date="2026-03-08", start_time="02:30", end_time="01:00"
    )
    errors = errors_of(fields)
    assert "does not exist" in errors["start_time"]
    assert "end_date 2026-03-09" in errors["end_time"]


# --- DST: repeated times follow the stated rule, and the draft says which offset -------------

OVERLAPS = [
    (
        "America/New_York",
        "2026-11-01",
        "01:30",
        "first",
        utc(2026, 11, 1, 5, 30),
        "EDT (UTC-04:00)",
    ),
    (
        "America/New_York",
        "2026-11-01",
        "01:30",
        "second",
        utc(2026, 11, 1, 6, 30),
        "EST (UTC-05:00)",
    ),
    ("Europe/London", "2026-10-25", "01:30", "first", utc(2026, 10, 25, 0, 30), "BST (UTC+01:00)"),
    ("Europe/London", "2026-10-25", "01:30", "second", utc(2026, 10, 25, 1, 30), "GMT (UTC+00:00)"),
    (
        "Australia/Sydney",
        "2026-04-05",
        "02:30",
        "first",
        utc(2026, 4, 4, 15, 30),
        "AEDT (UTC+11:00)",
    ),
    (
        "Australia/Sydney",
        "2026-04-05",
        "02:30",
        "second",
        utc(2026, 4, 4, 16, 30),
        "AEST (UTC+10:00)",
    ),
    ("America/St_Johns", "2026-11-01", "01:30", "first", utc(2026, 11, 1, 4, 0), "NDT (UTC-02:30)"),
    (
        "America/St_Johns",
        "2026-11-01",
        "01:30",
        "second",
        utc(2026, 11, 1, 5, 0),
        "NST (UTC-03:30)",
    ),
]


@pytest.mark.parametrize(("zone", "day", "clock", "rule", "instant", "offset"), OVERLAPS)
def test_repeated_time_follows_the_rule_and_notes_the_offset(
    zone: str, day: str, clock: str, rule: str, instant: datetime, offset: str
) -> None:
    options = dataclasses.replace(OPTIONS, repeated_time=rule)  # type: ignore[arg-type]
    draft = draft_of(entry(timezone=zone, start_date=day, start_time=clock, end_time=""), options)
    assert draft.start_at == instant
    [note] = [n for n in draft.notes if "happens twice" in n]
    assert f"used the {rule}, {offset}" in note
    assert zone in note


def test_repeated_time_is_an_error_when_the_rule_says_so() -> None:
    options = dataclasses.replace(OPTIONS, repeated_time="error")
    fields = entry(
        timezone="America/New_York", start_date="2026-11-01", start_time="01:30", end_time="03:00"
    )
    assert "happens twice in America/New_York" in errors_of(fields, options)["start_time"]


def test_default_repeated_time_rule_is_the_first_occurrence() -> None:
    options = EntryOptions(default_timezone="America/New_York")
    assert options.repeated_time == "first"
    draft = draft_of(entry(start_date="2026-11-01", start_time="01:30", end_time=""), options)
    assert draft.start_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, before the clocks go back


# --- zones: half-hour offsets, Windows names, aliases, precedence -----------------------------

HALF_HOUR_ZONES = [
    ("Asia/Kolkata", "2026-01-15", utc(2026, 1, 15, 3, 30)),
    ("Asia/Kathmandu", "2026-01-15", utc(2026, 1, 15, 3, 15)),
    ("Australia/Adelaide", "2026-01-15", utc(2026, 1, 14, 22, 30)),
    ("America/St_Johns", "2026-01-15", utc(2026, 1, 15, 12, 30)),
    ("America/St_Johns", "2026-07-15", utc(2026, 7, 15, 11, 30)),
]


@pytest.mark.parametrize(("zone", "day", "instant"), HALF_HOUR_ZONES)
def test_half_hour_zones_convert_exactly(zone: str, day: str, instant: datetime) -> None:
    draft = draft_of(entry(timezone=zone, start_date=day, start_time="09:00", end_time="10:00"))
    assert (draft.start_at, draft.end_at) == (instant, instant + timedelta(hours=1))


ZONE_NAMES = [
    ("Eastern Standard Time", "America/New_York"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("GMT Standard Time", "Europe/London"),
    ("eastern standard time", "America/New_York"),
    ("america/new_york", "America/New_York"),
    ("America/New York", "America/New_York"),
    ("US/Eastern", "America/New_York"),
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Europe/Amsterdam", "Europe/Amsterdam"),
    ("UTC", "UTC"),
    ("Etc/UTC", "UTC"),
    ("Zulu", "UTC"),
    ("Etc/GMT+5", "Etc/GMT+5"),
]


@pytest.mark.parametrize(("typed", "iana"), ZONE_NAMES)
def test_zone_names_people_paste_map_to_iana(typed: str, iana: str) -> None:
    assert draft_of(entry(timezone=typed)).timezone == iana


def test_windows_zone_converts_with_its_rules() -> None:
    draft = draft_of(
        entry(
            timezone="AUS Eastern Standard Time",
            start_date="2026-01-15",
            start_time="09:00",
            end_time="10:00",
        )
    )
    assert draft.start_at == utc(2026, 1, 14, 22, 0)  # AEDT, UTC+11


BAD_ZONES = [
    ("Europe/Londn", "did you mean 'Europe/London'"),
    ("New York", "did you mean 'America/New_York'"),
    ("Sydny", "'Australia/Sydney'"),
    ("EST", "abbreviation"),
    ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
]


@pytest.mark.parametrize(("typed", "fragment"), BAD_ZONES)
def test_unknown_zone_is_an_error_with_close_matches(typed: str, fragment: str) -> None:
    assert fragment in errors_of(entry(timezone=typed))["timezone"]


ZONE_PRECEDENCE = [
    ({"calendar": "Surveillance"}, "America/New_York"),
    ({"calendar": "Surveillance", "timezone": "Europe/London"}, "Europe/London"),
    ({"calendar": "Court Dates"}, "America/Denver"),
    ({"calendar": "Sydney Ops"}, "Australia/Sydney"),
]


@pytest.mark.parametrize(("fields", "zone"), ZONE_PRECEDENCE)
def test_zone_is_the_entrys_then_the_calendars_then_the_default(
    fields: dict[str, str], zone: str
) -> None:
    assert draft_of(entry(**fields)).timezone == zone


def test_calendar_with_an_unusable_zone_asks_for_one() -> None:
    message = errors_of(entry(calendar="Broken"))["timezone"]
    assert "calendar 'Broken'" in message and "give a timezone" in message
    assert draft_of(entry(calendar="Broken", timezone="Europe/Paris")).timezone == "Europe/Paris"


def test_bad_default_zone_fails_when_options_are_made() -> None:
    with pytest.raises(ValueError, match="Mars"):
        EntryOptions(default_timezone="Mars/Olympus")


# --- all-day encoding: local 00:00:00 of the first day to 23:59:59 of the last, in UTC --------

ALL_DAY = [
    ("America/New_York", "2026-07-04", "", utc(2026, 7, 4, 4, 0, 0), utc(2026, 7, 5, 3, 59, 59)),
    (
        "America/Los_Angeles",
        "2026-01-10",
        "2026-01-12",
        utc(2026, 1, 10, 8, 0, 0),
        utc(2026, 1, 13, 7, 59, 59),
    ),
    # across the spring-forward day: starts in PST, ends in PDT
    (
        "America/Los_Angeles",
        "2026-03-07",
        "2026-03-09",
        utc(2026, 3, 7, 8, 0, 0),
        utc(2026, 3, 10, 6, 59, 59),
    ),
    ("Europe/London", "2026-01-10", "", utc(2026, 1, 10, 0, 0, 0), utc(2026, 1, 10, 23, 59, 59)),
    (
        "Australia/Sydney",
        "2026-07-01",
        "2026-07-03",
        utc(2026, 6, 30, 14, 0, 0),
        utc(2026, 7, 3, 13, 59, 59),
    ),
    ("Asia/Kolkata", "2026-05-01", "", utc(2026, 4, 30, 18, 30, 0), utc(2026, 5, 1, 18, 29, 59)),
    (
        "Pacific/Auckland",
        "2026-12-25",
        "",
        utc(2026, 12, 24, 11, 0, 0),
        utc(2026, 12, 25, 10, 59, 59),
    ),
    # Chile moves its clocks at midnight: the day starts at 01:00 local, 04:00 UTC
    ("America/Santiago", "2026-09-06", "", utc(2026, 9, 6, 4, 0, 0), utc(2026, 9, 7, 2, 59, 59)),
]


@pytest.mark.parametrize(("zone", "first", "last", "start", "end"), ALL_DAY)
def test_all_day_dates_encode_as_local_day_bounds_in_utc(
    zone: str, first: str, last: str, start: datetime, end: datetime
) -> None:
    fields = entry(timezone=zone, start_date=first, end_date=last, start_time="", end_time="")
    draft = draft_of(fields)
    assert (draft.start_at, draft.end_at, draft.is_allday, draft.timezone) == (
        start,
        end,
        True,
        zone,
    )


def test_all_day_body_carries_utc_strings_flag_and_zone() -> None:
    draft = draft_of(
        entry(
            timezone="Australia/Sydney",
            start_date="2026-07-01",
            start_time="",
            end_time="",
            all_day="yes",
        )
    )
    event = event_request_body(draft)["event"]
    assert (event["start_at"], event["end_at"], event["is_allday"], event["timezone"]) == (
        "2026-06-30 14:00:00",
        "2026-07-01 13:59:59",
        True,
        "Australia/Sydney",
    )


ALL_DAY_FLAG = [
    ({"all_day": "yes", "start_time": "", "end_time": ""}, None, True),
    ({"all_day": "TRUE", "start_time": "", "end_time": ""}, None, True),
    ({"all_day": "1", "start_time": "", "end_time": ""}, None, True),
    ({"all_day": "no"}, None, False),
    ({"all_day": "False"}, None, False),
    ({"all_day": "0"}, None, False),
    ({"all_day": "", "start_time": "", "end_time": ""}, None, True),
    ({"all_day": "yes"}, "all_day", None),
    ({"all_day": "no", "start_time": "", "end_time": ""}, "start_time", None),
    ({"all_day": "maybe"}, "all_day", None),
    ({"start_time": "", "end_time": "17:00"}, "start_time", None),
    ({"start_time": "", "end_time": "", "end_date": "2026-03-09"}, "end_date", None),
]


@pytest.mark.parametrize(("fields", "bad_field", "is_allday"), ALL_DAY_FLAG)
def test_all_day_flag(fields: dict[str, str], bad_field: str | None, is_allday: bool) -> None:
    if bad_field:
        assert bad_field in errors_of(entry(**fields))
    else:
        assert draft_of(entry(**fields)).is_allday is is_allday


# --- dates ---------------------------------------------------------------------------------

DATES = [
    ("2026-04-03", None, date(2026, 4, 3)),
    ("2026-4-3", None, date(2026, 4, 3)),
    ("03/04/2026", "DMY", date(2026, 4, 3)),
    ("03/04/2026", "MDY", date(2026, 3, 4)),
    ("3.4.2026", "DMY", date(2026, 4, 3)),
    ("03-04-2026", "MDY", date(2026, 3, 4)),
    ("25/12/2026", None, date(2026, 12, 25)),  # only one reading is a date
    ("12/25/2026", None, date(2026, 12, 25)),
    ("04/04/2026", None, date(2026, 4, 4)),  # both readings are the same day
]


@pytest.mark.parametrize(("text", "order", "expected"), DATES)
def test_dates_iso_or_in_the_configured_order(text: str, order: str | None, expected: date) -> None:
    assert parse_date("start_date", text, order) == expected  # type: ignore[arg-type]


BAD_DATES = [
    ("03/04/2026", None, "is ambiguous: 3 April or March 4? Write 2026-04-03 or 2026-03-04"),
    ("03/04/2026", None, "date order (DMY or MDY)"),
    ("31/02/2026", "DMY", "is not a date (read as day/month/year)"),
    ("02/31/2026", "MDY", "is not a date (read as month/day/year)"),
    ("2026-02-30", None, "is not a date"),
    ("13/13/2026", None, "is not a date"),
    ("03/04/26", "DMY", "write the year in full (2026)"),
    ("March 3", None, "write YYYY-MM-DD"),
    ("1899-01-01", None, "between 1970 and 2100"),
]


@pytest.mark.parametrize(("text", "order", "fragment"), BAD_DATES)
def test_bad_and_ambiguous_dates_are_errors(text: str, order: str | None, fragment: str) -> None:
    options = dataclasses.replace(OPTIONS, date_order=order)  # type: ignore[arg-type]
    assert fragment in errors_of(entry(start_date=text), options)["start_date"]


def test_date_order_applies_to_the_end_date_too() -> None:
    options = dataclasses.replace(OPTIONS, date_order="DMY")
    draft = draft_of(
        entry(start_date="10/03/2026", end_date="11/03/2026", start_time="22:00", end_time="06:00"),
        options,
    )
    assert draft.end_at - draft.start_at == timedelta(hours=8)


# --- times ---------------------------------------------------------------------------------

TIMES = [
    ("18:30", (18, 30)),
    ("7:05", (7, 5)),
    ("18:30:00", (18, 30)),
    ("6:30 PM", (18, 30)),
    ("6:30pm", (18, 30)),
    ("6:30 p.m.", (18, 30)),
    ("6 PM", (18, 0)),
    ("12:00 AM", (0, 0)),
    ("12:15 PM", (12, 15)),
    ("00:00", (0, 0)),
]


@pytest.mark.parametrize(("text", "clock"), TIMES)
def test_times_24_hour_or_am_pm(text: str, clock: tuple[int, int]) -> None:
    parsed = parse_time("start_time", text)
    assert (parsed.hour, parsed.minute) == clock


@pytest.mark.parametrize("text", ["25:00", "24:00", "13:00 PM", "0:30 AM", "6.30", "noon", "18:60"])
def test_bad_times_are_errors(text: str) -> None:
    assert "is not a time" in errors_of(entry(start_time=text))["start_time"]


# --- end after start ---------------------------------------------------------------------------

END_RULES = [
    (
        {"start_time": "22:00", "end_time": "06:00"},
        "end_time",
        "06:00 is before start_time 22:00 on 2026-03-10; an event that runs past midnight needs "
        "end_date 2026-03-11",
    ),
    ({"start_time": "09:00", "end_time": "09:00"}, "end_time", "ends when it starts"),
    ({"end_date": "2026-03-09"}, "end_date", "ends (2026-03-09 17:00) before it starts"),
    (
        {"end_date": "2026-03-11", "end_time": ""},
        "end_time",
        "is required when the event ends on another day",
    ),
]


@pytest.mark.parametrize(("fields", "field", "message"), END_RULES)
def test_end_must_follow_start(fields: dict[str, str], field: str, message: str) -> None:
    assert message in errors_of(entry(**fields))[field]


def test_overnight_shift_with_its_end_date() -> None:
    draft = draft_of(
        entry(
            timezone="America/New_York", start_time="22:00", end_date="2026-03-11", end_time="06:00"
        )
    )
    assert (draft.start_at, draft.end_at) == (utc(2026, 3, 11, 2, 0), utc(2026, 3, 11, 10, 0))


def test_blank_end_time_means_the_default_duration_and_says_so() -> None:
    draft = draft_of(entry(end_time=""))
    assert draft.end_at - draft.start_at == timedelta(hours=1)
    assert "no end time given: the event lasts 1 hour" in draft.notes
    options = dataclasses.replace(OPTIONS, default_duration=timedelta(minutes=90))
    assert draft_of(entry(end_time=""), options).end_at - draft.start_at == timedelta(minutes=90)


def test_shift_spanning_the_fall_back_hour_has_its_real_length() -> None:
    draft = draft_of(
        entry(
            timezone="America/New_York",
            start_date="2026-10-31",
            start_time="22:00",
            end_date="2026-11-01",
            end_time="06:00",
        )
    )
    assert draft.end_at - draft.start_at == timedelta(hours=9)


# --- addresses -----------------------------------------------------------------------------

ADDRESSES = [
    ("US", "CO", ("US", "CO")),
    ("us", "co", ("US", "CO")),
    ("United States", "Colorado", ("US", "CO")),
    ("USA", "DC", ("US", "DC")),
    *[("US", code, ("US", code)) for code in ("PR", "GU", "VI", "AS", "MP", "UM", "WY", "HI")],
    ("CA", "ON", ("CA", "ON")),
    ("Canada", "Quebec", ("CA", "QC")),
    ("CA", "NU", ("CA", "NU")),
    ("CA", "yt", ("CA", "YT")),
    *[("AU", code, ("AU", code)) for code in ("NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT")],
    ("Australia", "New South Wales", ("AU", "NSW")),
    ("GB", "Greater London", ("GB", "Greater London")),
    ("UK", "", ("GB", "")),
    ("United Kingdom", "Kent", ("GB", "Kent")),
    ("DE", "Bayern", ("DE", "Bayern")),
    ("", "Anywhere", ("", "Anywhere")),
]


@pytest.mark.parametrize(("country", "state", "expected"), ADDRESSES)
def test_valid_country_and_state(country: str, state: str, expected: tuple[str, str]) -> None:
    draft = draft_of(entry(address_1="1 Main St", city="Town", country=country, state=state))
    assert draft.address is not None
    assert (draft.address.country, draft.address.state) == expected


BAD_ADDRESSES = [
    ("US", "XX", "state", "'XX' is not a state of US"),
    ("US", "Ontario", "state", "is not a state of US"),
    ("CA", "NSW", "state", "'NSW' is not a state of CA"),
    ("CA", "PQ", "state", "use AB, BC, MB, NB, NL, NS, NT, NU, ON, PE, QC, SK, YT"),
    ("AU", "XYZ", "state", "use ACT, NSW, NT, QLD, SA, TAS, VIC, WA"),
    ("AU", "ON", "state", "is not a state of AU"),
    ("ZZ", "", "country", "'ZZ' is not a country"),
    ("Untied States", "", "country", "did you mean US?"),
]


@pytest.mark.parametrize(("country", "state", "field", "fragment"), BAD_ADDRESSES)
def test_invalid_country_or_state(country: str, state: str, field: str, fragment: str) -> None:
    errors = errors_of(entry(address_1="1 Main St", country=country, state=state))
    assert fragment in errors[field]


ZIPS = [
    ("US", "80202", None),
    ("US", "80202-1234", None),
    ("US", "2134", "did you mean 02134?"),
    ("US", "ABCDE", "is not a US ZIP code"),
    ("GB", "SW1A 1AA", None),
    ("CA", "K1A 0B1", None),
]


@pytest.mark.parametrize(("country", "zip_code", "fragment"), ZIPS)
def test_zip_codes(country: str, zip_code: str, fragment: str | None) -> None:
    fields = entry(city="Town", country=country, zip=zip_code)
    if fragment is None:
        draft = draft_of(fields)
        assert draft.address is not None and draft.address.zip == zip_code
    else:
        assert fragment in errors_of(fields)["zip"]


def test_default_country_fills_an_address_that_gives_none() -> None:
    options = dataclasses.replace(OPTIONS, default_country="US")
    draft = draft_of(entry(address_1="2000 Blake Street", city="Denver", state="co"), options)
    assert draft.address is not None
    assert (draft.address.country, draft.address.state) == ("US", "CO")


def test_no_address_fields_means_no_address() -> None:
    assert draft_of(entry()).address is None


# --- directory rules: calendar, case, subject within the case, staff, ids ------------------

LOOKUPS = [
    ({"calendar": "surveillance"}, "calendar_id", 1),
    ({"calendar": "1"}, "calendar_id", 1),
    ({"case": "ACME-7"}, "casefile_id", 10),
    ({"case": "11"}, "casefile_id", 11),
    ({"subject": "john doe"}, "subject_id", 100),
    ({"subject": "100"}, "subject_id", 100),
    ({"service": "12"}, "case_service_id", 12),
    ({"staff": "Ann Lee; 6; ann@example.com"}, "users_list", (5, 6)),
    ({"staff": "Lee, Ann"}, "users_list", (5,)),
    ({"staff": "JS2@example.com"}, "users_list", (7,)),
    ({"staff": "zoë martín"}, "users_list", (8,)),
]


@pytest.mark.parametrize(("fields", "attribute", "value"), LOOKUPS)
def test_names_and_ids_resolve(fields: dict[str, str], attribute: str, value: object) -> None:
    assert getattr(draft_of(entry(**fields)), attribute) == value


BAD_LOOKUPS = [
    ({"calendar": "Survey"}, "calendar", "no calendar named 'Survey'"),
    ({"calendar": "Survelliance"}, "calendar", "did you mean 'Surveillance'?"),
    ({"calendar": "99"}, "calendar", "no calendar with id 99"),
    ({"case": "2026-9999"}, "case", "no case named '2026-9999'"),
    (
        {"subject": "Jane Roe"},
        "subject",
        "subject 'Jane Roe' (id 101) belongs to case 2026-0150, not to case 2026-0142 / ACME-7",
    ),
    ({"subject": "101"}, "subject", "belongs to case 2026-0150"),
    ({"subject": "Sam Poe"}, "subject", "ids 103 (Sam Poe), 104 (Sam  Poe)"),
    ({"subject": "Nobody"}, "subject", "no subject named 'Nobody' in case 2026-0142"),
    ({"staff": "Bob"}, "staff", "no staff member named 'Bob'"),
    (
        {"staff": "John Smith"},
        "staff",
        "2 staff members match 'John Smith': ids 6 (John Smith <js1@example.com>), "
        "7 (John Smith <js2@example.com>); use the id instead",
    ),
    ({"service": "12.0"}, "service", "'12.0' is not a case service id (a whole number)"),
    ({"service": "abc"}, "service", "is not a case service id"),
]


@pytest.mark.parametrize(("fields", "field", "message"), BAD_LOOKUPS)
def test_unknown_or_ambiguous_names_are_errors(
    fields: dict[str, str], field: str, message: str
) -> None:
    assert message in errors_of(entry(**fields))[field]


def test_staff_separated_by_commas_get_a_hint() -> None:
    message = errors_of(entry(staff="Ann Lee, John Doe"))["staff"]
    assert message.endswith("(separate several staff with ';')")


def test_each_bad_staff_name_is_its_own_error() -> None:
    result = validate_entry(entry(staff="Bob; Ann Lee; Carol"), DIRECTORY, OPTIONS)
    assert isinstance(result, list)
    assert [e.message for e in result] == [
        "no staff member named 'Bob'",
        "no staff member named 'Carol'",
    ]


# --- required fields, lengths, text ----------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "calendar", "case", "start_date"])
def test_required_fields(field: str) -> None:
    assert errors_of(entry(**{field: "  "}))[field] == "is required"


def test_an_empty_entry_reports_every_required_field_at_once() -> None:
    assert errors_of(EntryFields()) == {
        "title": "is required",
        "calendar": "is required",
        "case": "is required",
        "start_date": "is required",
    }


LENGTHS = [
    ("title", 255),
    ("description", 10_000),
    ("address_1", 255),
    ("city", 100),
    ("address_3", 255),
]


@pytest.mark.parametrize(("field", "limit"), LENGTHS)
def test_length_limits(field: str, limit: int) -> None:
    assert MAX_LENGTH[field] == limit
    draft_of(entry(**{field: "x" * limit}))
    message = errors_of(entry(**{field: "x" * (limit + 1)}))[field]
    assert message == f"is {limit + 1:,} characters long; the limit is {limit:,}"


def test_title_is_one_line_but_description_may_have_many() -> None:
    assert "a line break" in errors_of(entry(title="Stake\nout"))["title"]
    assert "U+0007" in errors_of(entry(title="bell\x07"))["title"]
    draft = draft_of(entry(description="Line one\r\nLine two\n\tIndented\rOld Mac"))
    assert draft.body == "Line one\nLine two\n\tIndented\nOld Mac"


def test_text_is_trimmed() -> None:
    draft = draft_of(entry(title="  Court hearing  ", calendar=" court dates "))
    assert (draft.title, draft.calendar_id) == ("Court hearing", 2)


def test_every_error_of_an_entry_comes_back_each_naming_its_field() -> None:
    fields = entry(
        title="x" * 300,
        calendar="Nope",
        subject="Jane Roe",
        staff="Bob",
        start_date="03/04/2026",
        start_time="25:00",
        all_day="perhaps",
        country="ZZ",
        service="1.5",
        row=7,
        source=Source.CSV,
    )
    result = validate_entry(fields, DIRECTORY, OPTIONS)
    assert isinstance(result, list)
    assert sorted(e.field for e in result) == sorted(
        [
            "title",
            "calendar",
            "subject",
            "staff",
            "start_date",
            "start_time",
            "all_day",
            "country",
            "service",
        ]
    )
    assert all(isinstance(e, FieldError) and e.row == 7 and e.column == e.field for e in result)


# --- exact instants (from .ics) and floating times --------------------------------------------


def test_exact_instants_are_used_as_given() -> None:
    fields = entry(
        start_instant=utc(2026, 3, 8, 7, 30),
        end_instant=utc(2026, 3, 8, 8, 30),
        timezone="America/New_York",
        start_time="02:30",
    )  # a gap time: ignored
    draft = draft_of(fields)
    assert (draft.start_at, draft.end_at, draft.is_allday) == (
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 8, 8, 30),
        False,
    )


def test_exact_instants_must_be_in_order() -> None:
    fields = entry(start_instant=utc(2026, 3, 8, 9), end_instant=utc(2026, 3, 8, 8))
    assert "before it starts" in errors_of(fields)["end_time"]


def test_floating_times_are_read_in_the_calendar_zone_and_say_so() -> None:
    draft = draft_of(entry(calendar="Surveillance", is_floating=True))
    assert draft.start_at == utc(2026, 3, 10, 13, 0)
    assert any(
        "read in America/New_York (the zone of calendar 'Surveillance')" in n for n in draft.notes
    )


# --- digits: ASCII 0-9 only ------------------------------------------------------------------

# "²" passes str.isdigit() but int() refuses it (a 500 once); "١" (Arabic-Indic one) and "１"
# (fullwidth) pass \d and int(), yet no one means them as a Trackops id or a date.
NOT_ASCII_DIGITS = [
    ({"calendar": "\u00b2"}, "calendar", "no calendar named '\u00b2'"),
    ({"calendar": "\u0661"}, "calendar", "no calendar named '\u0661'"),
    ({"case": "\u00b9\u2070"}, "case", "no case named"),
    ({"subject": "\u00b3"}, "subject", "no subject named '\u00b3' in case 2026-0142"),
    ({"staff": "\uff15"}, "staff", "no staff member named '\uff15'"),
    ({"service": "\u00b2"}, "service", "'\u00b2' is not a case service id (a whole number)"),
    ({"service": "\u0661\u0662"}, "service", "is not a case service id"),
    ({"start_date": "\u0662\u0660\u0662\u0666-03-10"}, "start_date", "is not a date"),
    ({"start_date": "2026-0\u00b3-10"}, "start_date", "is not a date"),
    ({"start_time": "\uff10\uff19:00"}, "start_time", "is not a time"),
    ({"end_time": "5 \u0661PM"}, "end_time", "is not a time"),
    (
        {"address_1": "1 Main St", "country": "US", "zip": "\u0668\u0660\u0662\u0660\u0662"},
        "zip",
        "is not a US ZIP code",
    ),
]


@pytest.mark.parametrize(("fields", "field", "message"), NOT_ASCII_DIGITS)
def test_only_ascii_digits_are_numbers(fields: dict[str, str], field: str, message: str) -> None:
    assert message in errors_of(entry(**fields))[field]


def test_ascii_ids_still_resolve() -> None:
    fields = entry(calendar="1", case="10", subject="100", staff="5", service="42")
    drafted = draft_of(fields)
    assert (drafted.calendar_id, drafted.casefile_id, drafted.subject_id) == (1, 10, 100)
    assert (drafted.users_list, drafted.case_service_id) == ((5,), 42)
