"""The feed renderer: instants that survive two independent parsers, privacy, determinism, goldens.

Every rendered feed goes through ``check_feed`` (tests/support/feeds.py): RFC 5545 framing
(CRLF, 75-octet folding, no floating times, one VTIMEZONE per TZID used) and a read-back with
icalendar (which resolves a TZID by its IANA name, as Google does) and with vobject (which
resolves it through the VTIMEZONE we emitted, as Outlook does), each compared with the UTC
instants we put in.

Golden files: ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_feeds.py -k golden`` rewrites
tests/data/feed_*.ics from the current renderer; review the diff before committing it.
"""

from __future__ import annotations

import ast
import functools
import os
import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from bridge.feeds import (
    EVENT_ID_PROPERTY,
    FEED_SIZE_WARNING_BYTES,
    etag_for,
    feed_uid,
    render_feed,
    zoneless_zone,
)
from bridge.models import Address, Event, Feed, FeedEvent, FeedKind, Privacy
from tests.support.feeds import ACCOUNT, check_feed, unfold

DATA = Path(__file__).parent / "data"
GENERATED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- building inputs


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


def wall(zone: str, *fields: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as the UTC instant Trackops would store."""
    return datetime(*fields, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def make_feed(
    privacy: Privacy = Privacy.FULL,
    timezone: str | None = None,
    *,
    kind: FeedKind = FeedKind.CALENDAR,
    calendar_timezone: str | None = None,
) -> Feed:
    return Feed(
        feed_id=7,
        kind=kind,
        target_id=None if kind is FeedKind.ALL else 12,
        name="Field team",
        privacy=privacy,
        token="secret-token",
        timezone=timezone,
        calendar_timezone=calendar_timezone,
    )


def make_item(
    event_id: int,
    start: datetime,
    end: datetime,
    zone: str | None,
    *,
    title: str = "",
    sequence: int = 0,
    **fields: object,
) -> FeedEvent:
    event = Event(
        event_id=event_id,
        title=title or f"Event {event_id}",
        start_at=start,
        end_at=end,
        timezone=zone,
        **fields,  # type: ignore[arg-type]
    )
    return FeedEvent(event=event, sequence=sequence)


def render(
    items: list[FeedEvent],
    feed: Feed | None = None,
    *,
    default_timezone: str = "America/Chicago",
    refresh_interval: timedelta = timedelta(hours=1),
    generated_at: datetime = GENERATED_AT,
    account: str = ACCOUNT,
) -> bytes:
    return render_feed(
        items,
        feed or make_feed(),
        account=account,
        default_timezone=default_timezone,
        refresh_interval=refresh_interval,
        generated_at=generated_at,
    )


# ----------------------------------------------------------------------------- reading outputs


def vevent_block(body: bytes, event_id: int) -> str:
    """The unfolded lines of one VEVENT, joined by newlines."""
    lines = unfold(body)
    uid_line = f"UID:{feed_uid(ACCOUNT, event_id)}"
    starts = [i for i, line in enumerate(lines) if line == "BEGIN:VEVENT"]
    for begin in starts:
        end = lines.index("END:VEVENT", begin)
        if uid_line in lines[begin:end]:
            return "\n".join(lines[begin : end + 1])
    raise AssertionError(f"no VEVENT for event {event_id}")


# ----------------------------------------------------------------------------- timed events

# (case, zone, start, end, written with the zone's TZID: False means in UTC)
TIMED_CASES = [
    ("new-york spring gap", "America/New_York", utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7, 30),
     True),
    # A wall time the clocks repeat is read as its first occurrence by RFC 5545 (and icalendar,
    # vobject, ICAL.js) but as its second by khal: start and end both go out in UTC, whichever
    # of the two the event means, even when only the end is in the repeated hour.
    ("new-york fall, ends at the first 01:45", "America/New_York", utc(2024, 11, 3, 4, 45),
     utc(2024, 11, 3, 5, 45), False),
    ("new-york fall, second 01:15", "America/New_York", utc(2024, 11, 3, 6, 15),
     utc(2024, 11, 3, 7, 15), False),
    ("new-york new year", "America/New_York", wall("America/New_York", 2024, 12, 31, 23),
     wall("America/New_York", 2025, 1, 1, 2), True),
    ("chicago across the change", "America/Chicago", wall("America/Chicago", 2024, 3, 9, 22),
     wall("America/Chicago", 2024, 3, 10, 10), True),
    ("chicago fall day", "America/Chicago", utc(2024, 11, 3, 8), utc(2024, 11, 3, 18), True),
    ("berlin spring gap", "Europe/Berlin", utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1, 30),
     True),
    ("berlin across midnight", "Europe/Berlin", wall("Europe/Berlin", 2024, 7, 5, 23),
     wall("Europe/Berlin", 2024, 7, 6, 1, 30), True),
    ("berlin fall, first 02:30", "Europe/Berlin", utc(2024, 10, 27, 0, 30),
     utc(2024, 10, 27, 2, 30), False),
    ("berlin fall, after the repeat", "Europe/Berlin", utc(2024, 10, 27, 2),
     utc(2024, 10, 27, 3), True),
    ("london fall, first 01:00", "Europe/London", utc(2024, 10, 27, 0), utc(2024, 10, 27, 2),
     False),
    ("london winter", "Europe/London", utc(2024, 1, 15, 9), utc(2024, 1, 15, 10), True),
    ("sydney april, first 02:30", "Australia/Sydney", utc(2024, 4, 6, 15, 30),
     utc(2024, 4, 6, 17), False),
    ("adelaide april, second 02:30", "Australia/Adelaide", utc(2024, 4, 6, 17),
     utc(2024, 4, 6, 18), False),
    ("sydney october gap", "Australia/Sydney", utc(2024, 10, 5, 15, 30), utc(2024, 10, 5, 16, 30),
     True),
    ("sydney january", "Australia/Sydney", wall("Australia/Sydney", 2024, 1, 2, 9),
     wall("Australia/Sydney", 2024, 1, 2, 10), True),
    ("adelaide summer +1030", "Australia/Adelaide", utc(2024, 1, 15, 0), utc(2024, 1, 15, 1),
     True),
    ("adelaide winter +0930", "Australia/Adelaide", utc(2024, 7, 15, 0), utc(2024, 7, 15, 1),
     True),
    ("adelaide october gap", "Australia/Adelaide", utc(2024, 10, 5, 16), utc(2024, 10, 5, 17),
     True),
    ("kolkata +0530", "Asia/Kolkata", utc(2024, 7, 15, 4), utc(2024, 7, 15, 5, 15), True),
    ("st-johns spring gap", "America/St_Johns", utc(2024, 3, 10, 5), utc(2024, 3, 10, 6), True),
    ("st-johns fall, second 01:30", "America/St_Johns", utc(2024, 11, 3, 4), utc(2024, 11, 3, 5),
     False),
    ("st-johns summer -0230", "America/St_Johns", utc(2024, 7, 15, 12), utc(2024, 7, 15, 13),
     True),
    ("st-johns winter -0330", "America/St_Johns", utc(2024, 1, 15, 12), utc(2024, 1, 15, 13),
     True),
    ("phoenix summer", "America/Phoenix", utc(2024, 7, 15, 16), utc(2024, 7, 15, 17), True),
    ("phoenix winter", "America/Phoenix", utc(2024, 1, 15, 16), utc(2024, 1, 15, 17), True),
    ("auckland spring gap", "Pacific/Auckland", utc(2024, 9, 28, 13, 30),
     utc(2024, 9, 28, 14, 30), True),
    ("utc", "UTC", utc(2024, 5, 1, 9), utc(2024, 5, 1, 10), False),
    ("etc/utc", "Etc/UTC", utc(2024, 5, 2, 9), utc(2024, 5, 2, 10), False),
]  # fmt: skip


@functools.cache
def timed_matrix() -> tuple[list[FeedEvent], bytes]:
    items = [
        make_item(100 + n, start, end, zone, title=name)
        for n, (name, zone, start, end, _) in enumerate(TIMED_CASES)
    ]
    return items, render(items)


@pytest.mark.parametrize(
    ("name", "zone", "start", "end", "is_local"), TIMED_CASES, ids=[c[0] for c in TIMED_CASES]
)
def test_timed_event_reads_back_as_its_instants_in_both_parsers(
    name: str, zone: str, start: datetime, end: datetime, is_local: bool
) -> None:
    items, body = timed_matrix()
    readings = check_feed(body, items)  # both parsers, every event's instants
    event_id = 100 + [case[0] for case in TIMED_CASES].index(name)
    reading = readings[feed_uid(ACCOUNT, event_id)]
    assert reading.tzid == (zone if is_local else None)
    if is_local:  # the wall time itself is the zone's, as the investigator expects to see it
        local_start = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        assert f"DTSTART;TZID={zone}:{local_start:%Y%m%dT%H%M%S}" in vevent_block(body, event_id)
    else:
        assert f"DTSTART:{start:%Y%m%dT%H%M%S}Z" in vevent_block(body, event_id)


def test_timed_matrix_has_a_vtimezone_per_zone_and_none_for_utc() -> None:
    _, body = timed_matrix()
    tzids = [line[5:] for line in unfold(body) if line.startswith("TZID:")]
    assert tzids == sorted({zone for _, zone, *_ in TIMED_CASES if zone not in ("UTC", "Etc/UTC")})


def test_vtimezone_spans_the_years_of_its_events() -> None:
    _, body = timed_matrix()
    calendar = icalendar.Calendar.from_ical(body)
    new_york = next(tz for tz in calendar.walk("VTIMEZONE") if tz["TZID"] == "America/New_York")
    # Events in 2024 and 2025: rules from the year before the span, never RDATE lists.
    assert [sub["DTSTART"].dt.year for sub in new_york.subcomponents] == [2023, 2023]
    assert all("RDATE" not in sub for sub in new_york.subcomponents)


@pytest.mark.parametrize(
    ("zone", "before_change", "after_change"),
    [
        # Mexico dropped DST after October 2022; the US moved its dates in 2007.
        ("America/Mexico_City", utc(2022, 7, 15, 15), utc(2023, 7, 15, 15)),
        ("America/New_York", utc(2006, 10, 30, 15), utc(2008, 10, 30, 15)),
        ("America/Sao_Paulo", utc(2018, 12, 15, 15), utc(2020, 12, 15, 15)),
    ],
)
def test_events_before_a_rule_change_are_written_in_utc_and_still_right(
    zone: str, before_change: datetime, after_change: datetime
) -> None:
    items = [
        make_item(1, before_change, before_change + timedelta(hours=1), zone),
        make_item(2, after_change, after_change + timedelta(hours=1), zone),
    ]
    # Rendered in the year after the change: its rules are the zone's current ones.
    readings = check_feed(render(items, generated_at=after_change), items)
    assert readings[feed_uid(ACCOUNT, 1)].tzid is None
    assert readings[feed_uid(ACCOUNT, 2)].tzid == zone


def test_zone_less_event_uses_the_feed_zone_over_the_default() -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start + timedelta(hours=1), None)]
    body = render(items, make_feed(timezone="Europe/Berlin"), default_timezone="America/Denver")
    readings = check_feed(body, items)
    assert readings[feed_uid(ACCOUNT, 1)].tzid == "Europe/Berlin"
    assert "X-WR-TIMEZONE:Europe/Berlin" in unfold(body)
    assert "DTSTART;TZID=Europe/Berlin:20240701T170000" in vevent_block(body, 1)


def test_zone_less_event_uses_the_default_when_the_feed_has_no_zone() -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start + timedelta(hours=1), None)]
    body = render(items, make_feed(timezone=None), default_timezone="America/Denver")
    check_feed(body, items)
    assert "X-WR-TIMEZONE:America/Denver" in unfold(body)
    assert "DTSTART;TZID=America/Denver:20240701T090000" in vevent_block(body, 1)


def test_zone_less_event_uses_its_calendar_zone_when_the_feed_has_none() -> None:
    start = utc(2024, 7, 1, 15)
    item = replace(
        make_item(1, start, start + timedelta(hours=1), None), calendar_timezone="Asia/Tokyo"
    )
    feed = make_feed(calendar_timezone="Asia/Tokyo")
    body = render([item], feed, default_timezone="UTC")
    check_feed(body, [item])
    assert "DTSTART;TZID=Asia/Tokyo:20240702T000000" in vevent_block(body, 1)
    assert "X-WR-TIMEZONE:Asia/Tokyo" in unfold(body)
    # The feed's own zone still comes first.
    body = render([item], replace(feed, timezone="Europe/Berlin"), default_timezone="UTC")
    assert "DTSTART;TZID=Europe/Berlin:20240701T170000" in vevent_block(body, 1)
    assert "X-WR-TIMEZONE:Europe/Berlin" in unfold(body)


def test_an_empty_calendar_feed_names_its_calendar_zone() -> None:
    body = render([], make_feed(calendar_timezone="Asia/Tokyo"), default_timezone="UTC")
    assert "X-WR-TIMEZONE:Asia/Tokyo" in unfold(body)


def test_all_events_feed_shows_each_zone_less_event_in_its_own_calendar_zone() -> None:
    start = utc(2024, 7, 1, 15)
    tokyo = replace(make_item(1, start, start, None), calendar_timezone="Asia/Tokyo")
    plain = make_item(2, start, start, None)  # a calendar with no zone: the default
    own = replace(make_item(3, start, start, "Europe/Berlin"), calendar_timezone="Asia/Tokyo")
    feed = make_feed(kind=FeedKind.ALL)
    body = render([tokyo, plain, own], feed, default_timezone="America/Denver")
    check_feed(body, [tokyo, plain, own])
    assert "DTSTART;TZID=Asia/Tokyo:20240702T000000" in vevent_block(body, 1)
    assert "DTSTART;TZID=America/Denver:20240701T090000" in vevent_block(body, 2)
    assert "DTSTART;TZID=Europe/Berlin:20240701T170000" in vevent_block(body, 3)
    # Zone-less events shown in two zones: no single X-WR-TIMEZONE would be true.
    assert not [line for line in unfold(body) if line.startswith("X-WR-TIMEZONE")]
    # One zone among them (the event with a zone of its own does not count): that one.
    body = render([tokyo, own], feed, default_timezone="America/Denver")
    assert "X-WR-TIMEZONE:Asia/Tokyo" in unfold(body)
    body = render([own], feed, default_timezone="America/Denver")
    assert "X-WR-TIMEZONE:America/Denver" in unfold(body)


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        (make_feed(timezone="Europe/Berlin", calendar_timezone="Asia/Tokyo"), "Europe/Berlin"),
        (make_feed(calendar_timezone="Asia/Tokyo"), "Asia/Tokyo"),
        (make_feed(calendar_timezone="Nowhere/Else"), "America/Denver"),
        (make_feed(), "America/Denver"),
        (make_feed(kind=FeedKind.ALL), None),
        (make_feed(timezone="Asia/Kolkata", kind=FeedKind.ALL), "Asia/Kolkata"),
    ],
)
def test_zoneless_zone_is_what_the_feed_page_names(feed: Feed, expected: str | None) -> None:
    assert zoneless_zone(feed, "America/Denver") == expected


def test_event_zone_wins_over_the_feed_zone() -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start + timedelta(hours=1), "Asia/Kolkata")]
    body = render(items, make_feed(timezone="Europe/Berlin"))
    check_feed(body, items)
    assert "DTSTART;TZID=Asia/Kolkata:20240701T203000" in vevent_block(body, 1)


def test_unknown_event_zone_is_shown_in_the_feed_zone_at_the_right_instant() -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start + timedelta(hours=1), "Mars/Olympus_Mons")]
    body = render(items, make_feed(timezone="Europe/Berlin"))
    assert check_feed(body, items)[feed_uid(ACCOUNT, 1)].tzid == "Europe/Berlin"


@pytest.mark.parametrize(
    "zone", ["US", "Europe", "a" * 300, "../etc/passwd", "Eastern Standard Time"]
)
def test_unreadable_event_zone_is_shown_in_the_next_zone_in_line(zone: str) -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start + timedelta(hours=1), zone)]
    body = render(items, make_feed(timezone="Europe/Berlin"))
    assert check_feed(body, items)[feed_uid(ACCOUNT, 1)].tzid == "Europe/Berlin"


def test_unknown_default_zone_and_naive_generated_at_are_refused() -> None:
    for feed_zone in (None, "Europe/Berlin"):
        with pytest.raises(ValueError, match="default_timezone"):
            render([], make_feed(timezone=feed_zone), default_timezone="Nowhere/Else")
    with pytest.raises(ValueError, match="generated_at"):
        render([], generated_at=datetime(2024, 6, 1, 12))


def test_event_in_an_implausible_year_is_written_in_utc_and_kept() -> None:
    items = [
        make_item(1, utc(202, 7, 1, 15), utc(202, 7, 1, 16), "Europe/Berlin"),
        make_item(2, utc(2224, 7, 1, 15), utc(2224, 7, 1, 16), "Europe/Berlin"),
        make_item(3, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "Europe/Berlin"),
    ]
    body = render(items)
    readings = check_feed(body, items)
    assert [readings[feed_uid(ACCOUNT, n)].tzid for n in (1, 2, 3)] == [None, None, "Europe/Berlin"]
    berlin = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")[0]
    assert {sub["DTSTART"].dt.year for sub in berlin.subcomponents} == {2023}


def test_allday_event_in_an_implausible_year_east_of_utc_is_written_as_utc_dates() -> None:
    start = datetime(9999, 12, 30, tzinfo=UTC)
    items = [make_item(1, start, start + timedelta(hours=23), "Pacific/Auckland", is_allday=True)]
    block = vevent_block(render(items), 1)
    assert "DTSTART;VALUE=DATE:99991230" in block and "DTEND;VALUE=DATE:99991231" in block


def test_an_hour_from_the_first_to_the_second_repeated_time_keeps_its_end() -> None:
    # 01:30 EDT to 01:30 EST: one wall time, an hour apart. Compared as wall times the end
    # would equal the start, and the event would lose its DTEND.
    start, end = utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30)
    items = [make_item(1, start, end, "America/New_York")]
    body = render(items)
    check_feed(body, items)
    block = vevent_block(body, 1)
    assert "DTSTART:20241103T053000Z" in block and "DTEND:20241103T063000Z" in block


def test_zero_length_event_says_so_with_a_zero_duration() -> None:
    # No DTEND (RFC 5545: "ends when it starts") would read in khal as an hour.
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start, "America/New_York")]
    body = render(items)
    check_feed(body, items)
    block = vevent_block(body, 1)
    assert "DTEND" not in block and "DURATION:P0D" in block.split("\n")


def test_inverted_event_is_kept_at_its_start_with_zero_length() -> None:
    start = utc(2024, 7, 1, 15)
    items = [make_item(1, start, start - timedelta(hours=3), "America/New_York")]
    body = render(items)
    readings = check_feed(body, items)
    assert readings[feed_uid(ACCOUNT, 1)].start == readings[feed_uid(ACCOUNT, 1)].end == start
    assert "DURATION:P0D" in vevent_block(body, 1).split("\n")


# ----------------------------------------------------------------------------- all-day events

# (case, zone, start, end, first day, day after the last)
ALLDAY_CASES = [
    ("auckland one day, 23:59:59 end", "Pacific/Auckland",
     wall("Pacific/Auckland", 2024, 7, 15), wall("Pacific/Auckland", 2024, 7, 15, 23, 59, 59),
     date(2024, 7, 15), date(2024, 7, 16)),
    ("auckland three days, midnight end", "Pacific/Auckland",
     wall("Pacific/Auckland", 2024, 7, 15), wall("Pacific/Auckland", 2024, 7, 18),
     date(2024, 7, 15), date(2024, 7, 18)),
    ("auckland on the DST day", "Pacific/Auckland",
     wall("Pacific/Auckland", 2024, 9, 29), wall("Pacific/Auckland", 2024, 9, 29, 23, 59, 59),
     date(2024, 9, 29), date(2024, 9, 30)),
    ("los angeles one day on the DST day, 23:59:59 end", "America/Los_Angeles",
     wall("America/Los_Angeles", 2024, 3, 10),
     wall("America/Los_Angeles", 2024, 3, 10, 23, 59, 59), date(2024, 3, 10), date(2024, 3, 11)),
    ("los angeles two days across fall back, midnight end", "America/Los_Angeles",
     wall("America/Los_Angeles", 2024, 11, 2), wall("America/Los_Angeles", 2024, 11, 4),
     date(2024, 11, 2), date(2024, 11, 4)),
    ("los angeles zero length at midnight", "America/Los_Angeles",
     wall("America/Los_Angeles", 2024, 5, 1), wall("America/Los_Angeles", 2024, 5, 1),
     date(2024, 5, 1), date(2024, 5, 2)),
    ("los angeles inverted", "America/Los_Angeles",
     wall("America/Los_Angeles", 2024, 5, 3), wall("America/Los_Angeles", 2024, 5, 1),
     date(2024, 5, 3), date(2024, 5, 4)),
    ("zone-less, in the feed's zone", None,
     wall("Pacific/Auckland", 2024, 1, 1), wall("Pacific/Auckland", 2024, 1, 1, 23, 59, 59),
     date(2024, 1, 1), date(2024, 1, 2)),
    # Saved without a zone, so as a UTC day: the same date in the feed's zone, not the next.
    ("zone-less, saved as a UTC day", None, utc(2024, 1, 1), utc(2024, 1, 1, 23, 59, 59),
     date(2024, 1, 1), date(2024, 1, 2)),
    ("auckland, saved as a UTC day", "Pacific/Auckland", utc(2024, 3, 4), utc(2024, 3, 6),
     date(2024, 3, 4), date(2024, 3, 6)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "zone", "start", "end", "first", "after_last"),
    ALLDAY_CASES,
    ids=[c[0] for c in ALLDAY_CASES],
)
def test_allday_event_covers_its_local_days(
    name: str, zone: str | None, start: datetime, end: datetime, first: date, after_last: date
) -> None:
    items = [make_item(1, start, end, zone, is_allday=True)]
    body = render(items, make_feed(timezone="Pacific/Auckland"))
    reading = check_feed(body, items)[feed_uid(ACCOUNT, 1)]
    assert (reading.start, reading.end) == (first, after_last)
    block = vevent_block(body, 1)
    assert f"DTSTART;VALUE=DATE:{first:%Y%m%d}" in block
    assert f"DTEND;VALUE=DATE:{after_last:%Y%m%d}" in block
    assert "TRANSP:TRANSPARENT" in block
    assert "BEGIN:VTIMEZONE" not in unfold(body), "all-day dates need no VTIMEZONE"


def test_timed_event_is_opaque() -> None:
    items = [make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "Europe/Berlin")]
    assert "TRANSP:OPAQUE" in vevent_block(render(items), 1)


# ----------------------------------------------------------------------------- text

AWKWARD_TEXT = "Stake-out, north; gate \\ side\nC:\\Notes\\new.txt\r\nthird line, end;"


def test_long_unicode_title_folds_on_character_boundaries_and_reads_back() -> None:
    title = "Überwachung café " + "日本語のタイトル😀" * 12 + " é"
    items = [make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "Asia/Tokyo", title=title)]
    body = render(items)
    check_feed(body, items)  # every physical line <= 75 octets and valid UTF-8
    assert sum(line.startswith(b" ") for line in body.split(b"\r\n")) >= 4
    assert str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"]) == title
    assert vobject.readOne(body.decode()).vevent.summary.value == title


def test_commas_semicolons_backslashes_and_newlines_survive_both_parsers() -> None:
    items = [
        make_item(
            1,
            utc(2024, 7, 1, 15),
            utc(2024, 7, 1, 16),
            "Europe/Berlin",
            title=AWKWARD_TEXT,
            body=AWKWARD_TEXT,
            address=Address(address_1="1 Main St; Unit 4", city="Springfield, East", country="US"),
        )
    ]
    body = render(items)
    check_feed(body, items)
    expected = AWKWARD_TEXT.replace("\r\n", "\n")
    block = vevent_block(body, 1)
    assert "SUMMARY:Stake-out\\, north\\; gate \\\\ side\\nC:\\\\Notes\\\\new.txt\\n" in block
    vevent = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    card = vobject.readOne(body.decode()).vevent
    assert str(vevent["SUMMARY"]) == card.summary.value == expected
    assert str(vevent["DESCRIPTION"]) == card.description.value == expected
    assert (
        str(vevent["LOCATION"]) == card.location.value == "1 Main St; Unit 4, Springfield, East, US"
    )


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_breaks_become_escaped_newlines(separator: str) -> None:
    # Split on these (str.splitlines does), the title would end the event and start another.
    title = f"Stake-out{separator}END:VEVENT{separator}BEGIN:VEVENT{separator}UID:forged"
    items = [make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC", title=title)]
    body = render(items, make_feed(kind=FeedKind.ALL))
    text = body.decode("utf-8")
    assert separator not in text
    assert text.splitlines().count("BEGIN:VEVENT") == 1
    assert not [line for line in text.splitlines() if line.startswith("UID:forged")]
    read = str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"])
    breaks = "\n\n" if separator == "\u2029" else "\n"
    assert read == title.replace(separator, breaks)


def test_a_lone_surrogate_costs_one_character_not_the_feed() -> None:
    items = [make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC", title="A\ud800B")]
    assert "SUMMARY:A?B" in vevent_block(render(items), 1)


def test_control_characters_are_dropped_from_text() -> None:
    items = [make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC", title="Bell\x07 tab\t")]
    body = render(items)
    assert b"\x07" not in body
    assert str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"]) == "Bell tab\t"


# ----------------------------------------------------------------------------- calendar and events


def calendar_level_lines(body: bytes) -> list[str]:
    lines = unfold(body)
    ends = (i for i, line in enumerate(lines) if line.startswith(("BEGIN:", "END:")) and i)
    return lines[1 : next(ends)]


def test_calendar_properties() -> None:
    lines = calendar_level_lines(render([], make_feed(timezone="Europe/London")))
    assert lines == [
        "VERSION:2.0",
        "PRODID:-//Trackops Bridge//Feeds 1.0//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "NAME:Field team",
        "X-WR-CALNAME:Field team",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
        "X-WR-TIMEZONE:Europe/London",
    ]


# Every property RFC 5545 and RFC 7986 allow in a VEVENT.
EVENT_PROPERTIES = frozenset(
    [
        "DTSTAMP",
        "UID",
        "DTSTART",
        "CLASS",
        "CREATED",
        "DESCRIPTION",
        "GEO",
        "LAST-MODIFIED",
        "LOCATION",
        "ORGANIZER",
        "PRIORITY",
        "SEQUENCE",
        "STATUS",
        "SUMMARY",
        "TRANSP",
        "URL",
        "RECURRENCE-ID",
        "RRULE",
        "DTEND",
        "DURATION",
        "ATTACH",
        "ATTENDEE",
        "CATEGORIES",
        "COMMENT",
        "CONTACT",
        "EXDATE",
        "REQUEST-STATUS",
        "RELATED-TO",
        "RESOURCES",
        "RDATE",
        "COLOR",
        "CONFERENCE",
        "IMAGE",
    ]
)


def test_no_calendar_property_can_pass_for_an_event_property() -> None:
    # vdirsyncer copies the calendar's properties into every event it splits out, then reads
    # the first UID line as the event's: a calendar UID made every event of a feed one item.
    for feed in (make_feed(), make_feed(kind=FeedKind.ALL, timezone="Asia/Tokyo")):
        names = {re.split("[;:]", line)[0] for line in calendar_level_lines(render([], feed))}
        assert not names & EVENT_PROPERTIES


def test_refresh_interval_has_a_floor_of_fifteen_minutes() -> None:
    lines = unfold(render([], refresh_interval=timedelta(minutes=1)))
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT15M" in lines
    assert "X-PUBLISHED-TTL:PT15M" in lines


def test_event_properties_come_from_the_data() -> None:
    item = make_item(
        42,
        utc(2024, 7, 1, 15),
        utc(2024, 7, 1, 16),
        "Europe/Berlin",
        sequence=5,
        created_at=utc(2024, 1, 2, 3, 4, 5),
        updated_at=utc(2024, 2, 3, 4, 5, 6),
    )
    block = vevent_block(render([item]), 42)
    for expected in (
        "UID:trackops-acme-event-42@trackops-bridge",
        "SEQUENCE:5",
        "DTSTAMP:20240203T040506Z",
        "CREATED:20240102T030405Z",
        "LAST-MODIFIED:20240203T040506Z",
        "STATUS:CONFIRMED",
    ):
        assert expected in block.split("\n")


def test_events_alike_in_all_but_uid_still_differ_in_their_event_id() -> None:
    # vdirsyncer's http storage swaps each UID for a hash of the rest of the event: two "Busy"
    # hours at the same time must not hash alike, or a subscriber sees one of them.
    start = utc(2024, 7, 1, 15)
    items = [make_item(n, start, start + timedelta(hours=1), "UTC") for n in (1, 2)]
    body = render(items, make_feed(Privacy.BUSY))
    blocks = [
        {line for line in vevent_block(body, n).split("\n") if not line.startswith("UID:")}
        for n in (1, 2)
    ]
    assert blocks[0] ^ blocks[1] == {f"{EVENT_ID_PROPERTY}:1", f"{EVENT_ID_PROPERTY}:2"}


def test_dtstamp_falls_back_to_generated_at() -> None:
    item = make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC")
    later = datetime(2024, 6, 2, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    block = vevent_block(render([item], generated_at=later), 1)
    assert "DTSTAMP:20240602T073000Z" in block.split("\n")
    assert "CREATED" not in block and "LAST-MODIFIED" not in block


def test_uid_is_stable_across_calendar_moves_feeds_and_renders() -> None:
    item = make_item(9, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC", calendar_id=1)
    moved = replace(item, event=replace(item.event, calendar_id=2, title="Renamed"), sequence=1)
    other_feed = replace(make_feed(), kind=FeedKind.STAFF, target_id=3)
    uid_line = "UID:trackops-acme-event-9@trackops-bridge"
    assert uid_line in vevent_block(render([item]), 9).split("\n")
    assert uid_line in vevent_block(render([moved], other_feed), 9).split("\n")
    assert feed_uid("ACME ", 9) == feed_uid("acme", 9) == uid_line.removeprefix("UID:")


def test_duplicate_event_ids_give_one_vevent_the_latest_version() -> None:
    old = make_item(1, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), "UTC", title="Old", sequence=1)
    new = make_item(1, utc(2024, 7, 2, 15), utc(2024, 7, 2, 16), "UTC", title="New", sequence=2)
    for items in ([old, new], [new, old]):
        body = render(items)
        assert body.count(b"BEGIN:VEVENT") == 1
        assert "SUMMARY:New" in vevent_block(body, 1)


def test_empty_feed_is_a_valid_calendar() -> None:
    body = render([])
    check_feed(body, [])
    assert b"BEGIN:VEVENT" not in body


# ----------------------------------------------------------------------------- privacy

SECRETS = ("Kowalczyk", "Larkspur", "Quinby", "Zanzibar", "CASE-8841", "Ermintrude")


def private_item() -> FeedEvent:
    event = Event(
        event_id=5,
        title="Surveil Kowalczyk",
        start_at=utc(2024, 7, 1, 15),
        end_at=utc(2024, 7, 1, 16),
        timezone="America/Chicago",
        body="Meet at Larkspur diner",
        address=Address(address_1="12 Quinby Rd", city="Zanzibar", state="IL", country="US"),
    )
    return FeedEvent(event, sequence=3, case_label="CASE-8841", subject_name="Ermintrude")


def test_full_privacy_shows_title_description_references_and_location() -> None:
    body = render([private_item()], make_feed(Privacy.FULL))
    check_feed(body, [private_item()])
    block = vevent_block(body, 5)
    assert "SUMMARY:Surveil Kowalczyk" in block
    assert "DESCRIPTION:Meet at Larkspur diner\\n\\nCase: CASE-8841\\nSubject: Ermintrude" in block
    assert "LOCATION:12 Quinby Rd\\, Zanzibar\\, IL\\, US" in block
    assert "CLASS" not in block


def test_limited_privacy_shows_title_and_location_only() -> None:
    body = render([private_item()], make_feed(Privacy.LIMITED))
    check_feed(body, [private_item()])
    block = vevent_block(body, 5)
    assert "SUMMARY:Surveil Kowalczyk" in block
    assert "LOCATION:12 Quinby Rd\\, Zanzibar\\, IL\\, US" in block
    assert "DESCRIPTION" not in block
    for secret in ("Larkspur", "CASE-8841", "Ermintrude"):
        assert secret.encode() not in body and secret not in "".join(unfold(body))


def test_busy_privacy_leaks_no_text_from_the_event() -> None:
    body = render([private_item()], make_feed(Privacy.BUSY))
    check_feed(body, [private_item()])
    block = vevent_block(body, 5)
    assert "SUMMARY:Busy" in block and "CLASS:PRIVATE" in block
    assert "DESCRIPTION" not in block and "LOCATION" not in block
    unfolded = "".join(unfold(body)).replace("\\", "")
    for secret in SECRETS:
        # In the bytes, and across folds and escapes too.
        assert secret.encode() not in body and secret not in unfolded


# ----------------------------------------------------------------------------- determinism


def representative_items() -> list[FeedEvent]:
    """A small feed touching each feature: the golden files pin its rendering."""
    return [
        private_item(),
        make_item(
            1,
            utc(2024, 3, 10, 6, 30),
            utc(2024, 3, 10, 8),
            "America/New_York",
            title="Court hearing, room 4; bring file",
            body="Line one\nC:\\Cases\\Notes.txt",
            sequence=2,
            created_at=utc(2024, 2, 1, 9),
            updated_at=utc(2024, 2, 5, 10, 30),
        ),
        make_item(
            2,
            wall("Pacific/Auckland", 2024, 7, 15),
            wall("Pacific/Auckland", 2024, 7, 16, 23, 59, 59),
            "Pacific/Auckland",
            title="Hearing week 日本語 " + "é" * 40,
            is_allday=True,
        ),
        make_item(3, utc(2024, 5, 1, 9), utc(2024, 5, 1, 9), "UTC", title="Check-in"),
        make_item(4, utc(2024, 10, 6, 1), utc(2024, 10, 6, 3), "Australia/Adelaide"),
        make_item(6, utc(2024, 7, 1, 15), utc(2024, 7, 1, 16), None, title="Same start as 5"),
        # From the first 01:30 to the second, the night New York's clocks go back: in UTC.
        make_item(7, utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30), "America/New_York"),
    ]


def test_rendering_is_byte_deterministic_whatever_the_input_order() -> None:
    items = representative_items()
    first = render(items)
    assert render(items) == first
    shuffled = items[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert render(shuffled) == first


def test_vevents_are_sorted_by_start_then_event_id() -> None:
    body = render(representative_items())
    uids = [line for line in unfold(body) if line.startswith("UID:trackops-acme-event-")]
    assert [int(re.findall(r"event-(\d+)@", uid)[0]) for uid in uids] == [1, 3, 5, 6, 2, 4, 7]


@pytest.mark.parametrize("privacy", list(Privacy))
def test_golden_feed(privacy: Privacy) -> None:
    items = representative_items()
    body = render(items, make_feed(privacy, timezone="America/Chicago"))
    check_feed(body, items)
    golden = DATA / f"feed_{privacy.value}.ics"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(body)
    assert body == golden.read_bytes(), f"{golden.name} differs; UPDATE_GOLDEN=1 to rewrite it"


# ----------------------------------------------------------------------------- helpers and layout


def test_etag_is_a_strong_quoted_digest_of_the_bytes() -> None:
    body = render(representative_items())
    tag = etag_for(body)
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert etag_for(body) == tag != etag_for(body + b" ")


def test_size_warning_threshold_is_below_googles_limit() -> None:
    assert FEED_SIZE_WARNING_BYTES == 800_000


_ROOT = Path(__file__).parent.parent
RENDERER_MODULES = [
    *sorted(str(path.relative_to(_ROOT)) for path in (_ROOT / "bridge" / "feeds").glob("*.py")),
    "bridge/vtimezone.py",
]


@pytest.mark.parametrize("module", RENDERER_MODULES)
def test_renderer_imports_nothing_downstream(module: str) -> None:
    tree = ast.parse((Path(__file__).parent.parent / module).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
    }  # fmt: skip
    bridge_imports = {name for name in imported if name.startswith("bridge")}
    assert {name for name in bridge_imports if not name.startswith("bridge.feeds")} <= {
        "bridge.models",
        "bridge.vtimezone",
        "bridge.zone_names",
    }
    assert not {name.split(".")[0] for name in imported} & {"flask", "sqlalchemy", "httpx"}
