"""The text writer judged by icalendar: random events, every field read back and compared.

The renderer writes RFC 5545 text itself (bridge/feeds/); icalendar stays the oracle. A
hypothesis property renders random feeds (zones with DST edges, half-hour and southern zones,
all-day events, Unicode and control characters, long lines, every privacy), parses each with
icalendar and checks every property against what the event says, plus the instants as vobject
reads them through the feed's own VTIMEZONEs. The VTIMEZONE text is compared with icalendar's
own serialization of the same rules, and the folding with icalendar's folding.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar.parser import Contentline

from bridge.feeds import BUSY_SUMMARY, EVENT_ID_PROPERTY, feed_uid, render_feed
from bridge.feeds.blocks import allday_dates
from bridge.feeds.text import content_line, escape_text, fold
from bridge.feeds.zones import ZoneTable, known_zone, shown_zone
from bridge.models import Address, Event, Feed, FeedEvent, FeedKind, Privacy
from bridge.vtimezone import derive_zone_rules
from tests.support.feeds import ACCOUNT, check_feed

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/St_Johns",  # half-hour, DST
    "Asia/Kolkata",  # half-hour, no DST
    "Asia/Kathmandu",  # quarter-hour
    "Australia/Adelaide",  # southern, half-hour, DST
    "Australia/Sydney",
    "Pacific/Auckland",
    "Europe/London",
    "Europe/Berlin",
    "America/Sao_Paulo",  # dropped DST in 2019
    "America/Mexico_City",  # dropped DST in 2022
    "UTC",
]
# Instants around each zone's transitions in 2023-2026, where wall times repeat or are skipped.
_EDGES = sorted(
    {
        datetime(year, month, day, hour, minute, tzinfo=UTC)
        for year in (2023, 2024, 2025, 2026)
        for month, day in ((3, 10), (3, 31), (4, 6), (9, 28), (10, 5), (10, 27), (11, 3))
        for hour in range(0, 24, 3)
        for minute in (0, 30, 45)
    }
)

# Pieces, not single characters: CRLF, escapes and surrogates must meet the fold boundaries.
text = st.lists(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs", "Cc", "Zl", "Zp"))
    | st.sampled_from(["\\", ";", ",", "\n", "\r\n", "^", "😀", "é", "日本", "\ud800", "ab " * 30]),
    max_size=60,
).map("".join)
instants = st.one_of(
    st.sampled_from(_EDGES),
    st.datetimes(
        min_value=datetime(2022, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
).map(lambda moment: moment.replace(microsecond=0))
addresses = st.none() | st.builds(
    Address, address_1=text, city=text, state=st.sampled_from(["", "IL", "NSW"]), country=text
)


@st.composite
def feed_events(draw: st.DrawFn, event_id: int) -> FeedEvent:
    start = draw(instants)
    length = draw(st.sampled_from([0, 15, 60, 90, 24 * 60, 3 * 24 * 60, -30]))
    is_allday = draw(st.booleans())
    event = Event(
        event_id=event_id,
        title=draw(text),
        start_at=start,
        end_at=start + timedelta(minutes=length),
        timezone=draw(st.sampled_from([*ZONES, None, "Mars/Base"])),
        is_allday=is_allday,
        body=draw(text),
        address=draw(addresses),
        created_at=draw(st.none() | instants),
        updated_at=draw(st.none() | instants),
        calendar_id=1,
    )
    return FeedEvent(
        event=event,
        sequence=draw(st.integers(0, 40)),
        case_label=draw(st.none() | text),
        subject_name=draw(st.none() | text),
        calendar_timezone=draw(st.sampled_from([None, "Asia/Tokyo", "Australia/Adelaide"])),
        changed_at=draw(st.none() | instants),
    )


def expected_text(value: str) -> str:
    """What a TEXT property reads back as: controls gone, line separators as newlines, CRLF as
    LF, and a lone surrogate as '?'."""
    value = value.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\x85", "\n")
    value = "".join(c for c in value if c in "\t\n\r" or not (ord(c) < 32 or ord(c) == 127))
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.encode("utf-8", "replace").decode("utf-8")


def read_as_text(raw: str) -> str:
    """A raw property value read by icalendar's TEXT parser (as a SUMMARY)."""
    wrapped = f"BEGIN:VEVENT\r\nSUMMARY:{raw}\r\nEND:VEVENT\r\n"
    return str(icalendar.Event.from_ical(wrapped)["SUMMARY"])


def check_event_fields(vevent: icalendar.Event, item: FeedEvent, feed: Feed) -> None:
    """Every property of one VEVENT as icalendar reads it, against the event it came from."""
    event = item.event
    assert str(vevent["UID"]) == feed_uid(ACCOUNT, event.event_id)
    assert str(vevent[EVENT_ID_PROPERTY]) == str(event.event_id)
    assert int(vevent["SEQUENCE"]) == item.sequence
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["TRANSP"]) == ("TRANSPARENT" if event.is_allday else "OPAQUE")
    stamp = event.updated_at or item.changed_at or GENERATED_AT
    assert vevent["DTSTAMP"].dt == stamp
    assert (vevent["CREATED"].dt if "CREATED" in vevent else None) == event.created_at
    assert (vevent["LAST-MODIFIED"].dt if "LAST-MODIFIED" in vevent else None) == event.updated_at

    def read(name: str) -> str | None:
        return str(vevent[name]) if name in vevent else None

    if feed.privacy is Privacy.BUSY:
        assert read("SUMMARY") == BUSY_SUMMARY and read("CLASS") == "PRIVATE"
        assert read("DESCRIPTION") is None and read("LOCATION") is None
    else:
        # Present whenever the event has a title, even one of controls only (then empty).
        assert read("SUMMARY") == (expected_text(event.title) if event.title else None)
        assert read("CLASS") is None
        location = None
        if event.address is not None and not event.address.is_empty:
            location = expected_text(event.address.one_line())
        assert read("LOCATION") == location
        description = None
        if feed.privacy is Privacy.FULL:
            references = "\n".join(
                f"{label}: {value}"
                for label, value in (("Case", item.case_label), ("Subject", item.subject_name))
                if value
            )
            parts = [part for part in (event.body.strip(), references) if part]
            description = expected_text("\n\n".join(parts)) if parts else None
        assert read("DESCRIPTION") == description

    end_at = max(event.start_at, event.end_at)
    start = vevent["DTSTART"].dt
    if event.is_allday:
        zone = shown_zone(item, known_zone(feed.timezone), "America/Chicago")
        first, after_last = allday_dates(event.start_at, end_at, ZoneInfo(zone))
        assert (start, vevent["DTEND"].dt) == (first, after_last)
        assert type(start) is date
        return
    end = vevent["DTEND"].dt if "DTEND" in vevent else start + vevent["DURATION"].dt
    assert ("DTEND" in vevent) == (end_at > event.start_at)
    assert start.astimezone(UTC) == event.start_at and end.astimezone(UTC) == end_at


GENERATED_AT = datetime(2024, 6, 1, 12, tzinfo=UTC)


@settings(
    max_examples=150,
    deadline=None,  # the first render of a zone derives its rules: timed in bench/, not here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    count=st.integers(0, 8),
    privacy=st.sampled_from(list(Privacy)),
    feed_zone=st.sampled_from([None, "Europe/Berlin", "Australia/Adelaide", "Nowhere/Else"]),
    kind=st.sampled_from(list(FeedKind)),
    name=text,
)
def test_every_field_of_a_random_feed_reads_back_in_icalendar(
    data: st.DataObject,
    count: int,
    privacy: Privacy,
    feed_zone: str | None,
    kind: FeedKind,
    name: str,
) -> None:
    items = [data.draw(feed_events(event_id)) for event_id in range(1, count + 1)]
    feed = Feed(1, kind, None if kind is FeedKind.ALL else 3, name or "Feed", privacy, "t")
    feed = Feed(
        feed.feed_id, feed.kind, feed.target_id, feed.name, feed.privacy, "t", timezone=feed_zone
    )
    body = render_feed(
        items,
        feed,
        account=ACCOUNT,
        default_timezone="America/Chicago",
        refresh_interval=timedelta(minutes=30),
        generated_at=GENERATED_AT,
    )
    check_feed(body, items)  # framing, folding, one VTIMEZONE per TZID, instants in vobject too
    calendar = icalendar.Calendar.from_ical(body)
    # icalendar keeps calendar-level names it has no type for as written: read them as TEXT.
    lines = body.decode("utf-8").replace("\r\n ", "").split("\r\n")
    for prop in ("NAME", "X-WR-CALNAME"):
        (raw,) = [line.removeprefix(f"{prop}:") for line in lines if line.startswith(f"{prop}:")]
        assert read_as_text(raw) == expected_text(feed.name)
    assert "UID" not in calendar
    vevents = {int(v[EVENT_ID_PROPERTY]): v for v in calendar.walk("VEVENT")}
    assert sorted(vevents) == [item.event.event_id for item in items]
    for item in items:
        check_event_fields(vevents[item.event.event_id], item, feed)


@pytest.mark.parametrize("zone", [z for z in ZONES if z != "UTC"] + ["Europe/Dublin"])
@pytest.mark.parametrize("year", [2007, 2019, 2024, 2026])
def test_vtimezone_text_is_what_icalendar_writes_for_the_same_rules(zone: str, year: int) -> None:
    ours = ZoneTable(year).vtimezone(zone)
    theirs = derive_zone_rules(zone, year, year).to_component().to_ical()
    assert ours == theirs


@given(st.text(max_size=400).map(lambda s: "SUMMARY:" + escape_text(s)))
def test_folding_matches_icalendar(line: str) -> None:
    line = line.encode("utf-8", "replace").decode("utf-8")
    assert fold(line).encode("utf-8") == Contentline(line).to_ical()
    for physical in content_line("SUMMARY", line.removeprefix("SUMMARY:")).split(b"\r\n"):
        assert len(physical) <= 75
        physical.decode("utf-8")


def test_the_read_back_check_needs_no_rule_evaluation_in_a_settled_year(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Where the year's rules agree with zoneinfo, each wall time is judged by zoneinfo alone.
    from bridge.vtimezone import ZoneRules

    def refuse(self: ZoneRules, wall: datetime) -> list[datetime]:
        raise AssertionError("per-event rule evaluation")

    table = ZoneTable(2024)
    table.local_times("Europe/Berlin", GENERATED_AT, GENERATED_AT)  # warm the year's check
    monkeypatch.setattr(ZoneRules, "readings", refuse)
    start = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # the first 02:30 the night clocks go back
    assert table.local_times("Europe/Berlin", start, start) is None
    later = datetime(2024, 10, 27, 3, tzinfo=UTC)
    local = table.local_times("Europe/Berlin", later, later)
    assert local is not None and local[0].replace(tzinfo=None) == datetime(2024, 10, 27, 4)
