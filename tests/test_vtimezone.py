"""VTIMEZONE components: the Outlook-readable shape, and offsets that agree with zoneinfo.

Offsets "from the VTIMEZONE" are computed by vobject (dateutil's tzical) from the serialized text,
an evaluator independent of bridge.vtimezone's own ZoneRules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from bridge.vtimezone import (
    build_vtimezone,
    derive_zone_rules,
    is_utc_zone,
    iter_transitions,
)

FIRST_YEAR, LAST_YEAR = 2024, 2025
DST_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/Berlin",
    "Europe/London",
    "Europe/Dublin",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Pacific/Auckland",
]
FIXED_ZONES = ["Asia/Kolkata", "America/Phoenix", "Australia/Brisbane", "Asia/Tokyo"]
# Zones whose rules changed around the span: DST dropped, offsets moved, Ramadan suspensions.
CHANGED_ZONES = [
    ("America/Sao_Paulo", 2017, 2021),
    ("America/Mexico_City", 2021, 2023),
    ("Asia/Tehran", 2021, 2023),
    ("Europe/Moscow", 2010, 2015),
    ("Europe/Volgograd", 2017, 2021),
    ("Pacific/Apia", 2020, 2022),
    ("America/New_York", 2005, 2008),
    ("Africa/Casablanca", 2022, 2024),
    ("America/Santiago", 2022, 2024),
]


def vobject_tzinfo(component: icalendar.Timezone) -> tzinfo:
    """The VTIMEZONE as a client reads it: serialized, then parsed by vobject/dateutil."""
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", "-//test//EN")
    calendar.add_component(component)
    parsed = vobject.readOne(calendar.to_ical().decode("utf-8"))
    resolved: tzinfo = parsed.vtimezone.gettzinfo()
    return resolved


def reparsed(component: icalendar.Timezone) -> icalendar.Timezone:
    """The component as its serialized bytes read back, so assertions are about the output."""
    parsed: icalendar.Timezone = icalendar.Timezone.from_ical(component.to_ical())
    return parsed


def span_samples(zone: str, first_year: int, last_year: int) -> Iterator[datetime]:
    """UTC instants every 127 minutes across the span's local years (drifting through every
    minute of the day), plus every 10 minutes in the 3 hours around each transition."""
    zone_info = ZoneInfo(zone)
    start = datetime(first_year, 1, 1, tzinfo=zone_info).astimezone(UTC)
    stop = datetime(last_year + 1, 1, 1, tzinfo=zone_info).astimezone(UTC)
    instant = start
    while instant < stop:
        yield instant
        instant += timedelta(minutes=127)
    for transition in iter_transitions(zone_info, start, stop):
        for minutes in range(-90, 91, 10):
            yield transition.at + timedelta(minutes=minutes)


def zoneinfo_offset(instant: datetime, zone: str) -> timedelta | None:
    return instant.astimezone(ZoneInfo(zone)).utcoffset()


@pytest.mark.parametrize("zone", DST_ZONES + FIXED_ZONES)
def test_every_offset_read_from_the_vtimezone_matches_zoneinfo(zone: str) -> None:
    read_back = vobject_tzinfo(build_vtimezone(zone, FIRST_YEAR, LAST_YEAR))
    rules = derive_zone_rules(zone, FIRST_YEAR, LAST_YEAR)
    wrong = []
    for instant in span_samples(zone, FIRST_YEAR, LAST_YEAR):
        expected = zoneinfo_offset(instant, zone)
        if instant.astimezone(read_back).utcoffset() != expected:
            wrong.append(("vobject", instant))
        if rules.utcoffset(instant) != expected:
            wrong.append(("ZoneRules", instant))
    assert wrong == []


@pytest.mark.parametrize("zone", DST_ZONES)
def test_dst_zone_has_one_standard_and_one_daylight_each_with_an_rrule(zone: str) -> None:
    component = reparsed(build_vtimezone(zone, FIRST_YEAR, LAST_YEAR))
    assert [sub.name for sub in component.subcomponents] == ["STANDARD", "DAYLIGHT"]
    for sub in component.subcomponents:
        assert "RDATE" not in sub
        rrule = sub["RRULE"]
        assert rrule["FREQ"] == ["YEARLY"]
        assert len(rrule["BYMONTH"]) == 1 and len(rrule["BYDAY"]) == 1
        assert "TZID" not in sub["DTSTART"].params
        assert sub["DTSTART"].dt.tzinfo is None
        assert {"TZOFFSETFROM", "TZOFFSETTO", "TZNAME"} <= set(sub)
    assert str(component["TZID"]) == zone


@pytest.mark.parametrize("zone", FIXED_ZONES)
def test_zone_without_dst_is_one_standard_from_1970(zone: str) -> None:
    component = reparsed(build_vtimezone(zone, FIRST_YEAR, LAST_YEAR))
    (standard,) = component.subcomponents
    assert standard.name == "STANDARD"
    assert standard["DTSTART"].dt == datetime(1970, 1, 1)
    assert "RRULE" not in standard and "RDATE" not in standard
    assert (
        standard["TZOFFSETFROM"].td
        == standard["TZOFFSETTO"].td
        == zoneinfo_offset(datetime(2024, 7, 1, tzinfo=UTC), zone)
    )


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # (STANDARD DTSTART, BYMONTH, BYDAY, from, to, DAYLIGHT DTSTART, BYMONTH, BYDAY, from, to)
        ("America/New_York", ("20231105T020000", 11, "1SU", "-0400", "-0500",
                              "20230312T020000", 3, "2SU", "-0500", "-0400")),
        ("Europe/Berlin", ("20231029T030000", 10, "-1SU", "+0200", "+0100",
                           "20230326T020000", 3, "-1SU", "+0100", "+0200")),
        ("Australia/Sydney", ("20230402T030000", 4, "1SU", "+1100", "+1000",
                              "20231001T020000", 10, "1SU", "+1000", "+1100")),
        ("Australia/Adelaide", ("20230402T030000", 4, "1SU", "+1030", "+0930",
                                "20231001T020000", 10, "1SU", "+0930", "+1030")),
        ("America/St_Johns", ("20231105T020000", 11, "1SU", "-0230", "-0330",
                              "20230312T020000", 3, "2SU", "-0330", "-0230")),
        ("Pacific/Auckland", ("20230402T030000", 4, "1SU", "+1300", "+1200",
                              "20230924T020000", 9, "-1SU", "+1200", "+1300")),
    ],
)  # fmt: skip
def test_rules_are_the_known_ones(zone: str, expected: tuple[object, ...]) -> None:
    text = build_vtimezone(zone, FIRST_YEAR, LAST_YEAR).to_ical().decode()
    s_start, s_month, s_day, s_from, s_to, d_start, d_month, d_day, d_from, d_to = expected
    standard = text.split("BEGIN:STANDARD")[1].split("END:STANDARD")[0]
    daylight = text.split("BEGIN:DAYLIGHT")[1].split("END:DAYLIGHT")[0]
    for block, (start, month, day, offset_from, offset_to) in (
        (standard, (s_start, s_month, s_day, s_from, s_to)),
        (daylight, (d_start, d_month, d_day, d_from, d_to)),
    ):
        assert f"DTSTART:{start}\r\n" in block
        assert f"BYMONTH={month}" in block and f"BYDAY={day}" in block
        assert f"TZOFFSETFROM:{offset_from}\r\n" in block
        assert f"TZOFFSETTO:{offset_to}\r\n" in block


def test_southern_rules_start_before_the_span_so_january_is_covered() -> None:
    # Sydney is on daylight time in January: the DAYLIGHT onset must precede the span.
    rules = derive_zone_rules("Australia/Sydney", 2024, 2024)
    assert rules.daylight is not None and rules.daylight.start < datetime(2024, 1, 1)
    assert rules.utcoffset(datetime(2024, 1, 1, 5, tzinfo=UTC)) == timedelta(hours=11)


@pytest.mark.parametrize(("zone", "first_year", "last_year"), CHANGED_ZONES)
def test_rules_never_claim_a_wrong_offset_when_the_zone_changed(
    zone: str, first_year: int, last_year: int
) -> None:
    """Outside what one yearly rule can say, the rules say nothing (the renderer then writes UTC);
    where they say something, it is right, read by us and by vobject alike."""
    component = reparsed(build_vtimezone(zone, first_year, last_year))
    assert [sub.name for sub in component.subcomponents] in (["STANDARD"], ["STANDARD", "DAYLIGHT"])
    assert all("RDATE" not in sub for sub in component.subcomponents)
    rules = derive_zone_rules(zone, first_year, last_year)
    read_back = vobject_tzinfo(component)
    first_onset = min(
        (obs.start - obs.offset_from).replace(tzinfo=UTC) for obs in rules.observances
    )
    covered = 0
    for instant in span_samples(zone, first_year, last_year):
        offset = rules.utcoffset(instant)
        assert (offset is None) == (instant < first_onset), instant
        if offset is not None:
            covered += 1
            assert offset == zoneinfo_offset(instant, zone), instant
            assert instant.astimezone(read_back).utcoffset() == offset, instant
    assert covered > 0


def test_dropped_dst_becomes_one_standard_from_the_last_change() -> None:
    component = reparsed(build_vtimezone("America/Mexico_City", 2021, 2023))
    (standard,) = component.subcomponents
    assert standard["DTSTART"].dt == datetime(2022, 10, 30, 2, 0)
    assert standard["TZOFFSETFROM"].td == timedelta(hours=-5)
    assert standard["TZOFFSETTO"].td == timedelta(hours=-6)
    rules = derive_zone_rules("America/Mexico_City", 2021, 2023)
    assert rules.utcoffset(datetime(2022, 7, 1, tzinfo=UTC)) is None
    assert rules.utcoffset(datetime(2023, 7, 1, tzinfo=UTC)) == timedelta(hours=-6)


def test_us_rules_of_2007_do_not_claim_2006() -> None:
    rules = derive_zone_rules("America/New_York", 2006, 2008)
    assert rules.daylight is not None
    assert rules.daylight.start == datetime(2007, 3, 11, 2, 0)
    assert rules.standard.start == datetime(2007, 11, 4, 2, 0)
    # 30 Oct 2006 was EST under the old rules, EDT under the new: the rules must not answer.
    assert rules.utcoffset(datetime(2006, 10, 30, 12, tzinfo=UTC)) is None


def test_readings_of_a_repeated_wall_time_are_both_occurrences_earliest_first() -> None:
    rules = derive_zone_rules("America/New_York", 2024, 2024)
    assert rules.readings(datetime(2024, 11, 3, 1, 30)) == [
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    ]
    assert rules.readings(datetime(2024, 11, 3, 2, 30)) == [
        datetime(2024, 11, 3, 7, 30, tzinfo=UTC)
    ]


def test_a_skipped_wall_time_has_no_reading() -> None:
    rules = derive_zone_rules("Europe/Berlin", 2024, 2024)
    assert rules.readings(datetime(2024, 3, 31, 2, 30)) == []
    assert rules.readings(datetime(2024, 3, 31, 3, 30)) == [
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    ]


def test_southern_and_half_hour_zones_repeat_their_own_hour() -> None:
    # Adelaide goes back from 03:00 ACDT (+10:30) to 02:00 ACST (+09:30) on 7 April 2024.
    rules = derive_zone_rules("Australia/Adelaide", 2024, 2024)
    assert rules.readings(datetime(2024, 4, 7, 2, 30)) == [
        datetime(2024, 4, 6, 16, 0, tzinfo=UTC),
        datetime(2024, 4, 6, 17, 0, tzinfo=UTC),
    ]
    # St John's springs from 02:00 NST (-03:30) to 03:00 NDT (-02:30) on 10 March 2024.
    newfoundland = derive_zone_rules("America/St_Johns", 2024, 2024)
    assert newfoundland.readings(datetime(2024, 3, 10, 2, 30)) == []


def test_transitions_are_found_to_the_second() -> None:
    zone = ZoneInfo("Australia/Adelaide")
    found = list(
        iter_transitions(zone, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    )
    assert [(t.at, t.offset_from, t.offset_to, t.name) for t in found] == [
        (datetime(2024, 4, 6, 16, 30, tzinfo=UTC), timedelta(hours=10.5), timedelta(hours=9.5),
         "ACST"),
        (datetime(2024, 10, 5, 16, 30, tzinfo=UTC), timedelta(hours=9.5), timedelta(hours=10.5),
         "ACDT"),
    ]  # fmt: skip


def test_utc_names_are_recognised_and_london_is_not() -> None:
    assert all(is_utc_zone(name) for name in ("UTC", "Etc/UTC", "Etc/GMT", "Zulu"))
    assert not is_utc_zone("Europe/London")
    assert not is_utc_zone("Africa/Abidjan")


def test_first_year_after_last_year_is_refused() -> None:
    with pytest.raises(ValueError, match="first_year"):
        build_vtimezone("Europe/Berlin", 2025, 2024)
