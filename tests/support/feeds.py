"""Reading a rendered feed back: `check_feed` holds every feed to RFC 5545 framing (CRLF,
75-octet folding, no floating times, one VTIMEZONE per TZID used) and compares the instants
icalendar and vobject read with the ones put in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import icalendar
import vobject

from bridge.feeds import feed_uid
from bridge.models import FeedEvent

# The Trackops account (subdomain) the feed tests render for: part of every UID.
ACCOUNT = "acme"


@dataclass(frozen=True)
class ReadBack:
    start: date | datetime
    end: date | datetime  # DTEND, else DTSTART + DURATION
    tzid: str | None


def unfold(body: bytes) -> list[str]:
    return body.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


def read_with_icalendar(body: bytes) -> dict[str, ReadBack]:
    calendar = icalendar.Calendar.from_ical(body)
    result = {}
    for vevent in calendar.walk("VEVENT"):
        start = vevent["DTSTART"]
        end = vevent["DTEND"].dt if "DTEND" in vevent else start.dt + vevent["DURATION"].dt
        result[str(vevent["UID"])] = ReadBack(start.dt, end, start.params.get("TZID"))
    return result


def read_with_vobject(body: bytes) -> dict[str, ReadBack]:
    calendar = vobject.readOne(body.decode("utf-8"))
    # Each TZID is resolved through the VTIMEZONE text of this very feed (dateutil's tzical).
    # vobject's own lookup can't be trusted for that: it keeps the first VTIMEZONE seen for a
    # TZID process-wide, takes any zone at +0000 in 2000-2020 for UTC, and then falls back to
    # pytz by name (a system zone, not ours).
    zones = {vtz.tzid.value: vtz.gettzinfo() for vtz in getattr(calendar, "vtimezone_list", [])}
    result = {}
    for vevent in getattr(calendar, "vevent_list", []):
        tzid = vevent.dtstart.params.get("X-VOBJ-ORIGINAL-TZID", [None])[0]
        values = [vevent.dtstart.value]
        if hasattr(vevent, "dtend"):
            values.append(vevent.dtend.value)
        if tzid is not None:
            values = [value.replace(tzinfo=zones[tzid]) for value in values]
        if hasattr(vevent, "duration"):
            values.append(values[0] + vevent.duration.value)
        result[vevent.uid.value] = ReadBack(values[0], values[-1], tzid)
    return result


_TIME_LINE = re.compile(
    r"^(DTSTART|DTEND)(;TZID=[A-Za-z_/+\-0-9]+:\d{8}T\d{6}|;VALUE=DATE:\d{8}|:\d{8}T\d{6}Z)$"
)


def check_feed(body: bytes, items: list[FeedEvent]) -> dict[str, ReadBack]:
    """Framing, zones and instants that must hold for every feed; the icalendar reading."""
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    physical = body.split(b"\r\n")[:-1]
    for line in physical:
        assert b"\r" not in line and b"\n" not in line
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold never splits a character

    lines = unfold(body)
    in_vtimezone = False
    tzids_used, vtimezones = set(), []
    for line in lines:
        if line == "BEGIN:VTIMEZONE":
            in_vtimezone = True
        elif line == "END:VTIMEZONE":
            in_vtimezone = False
        elif line.startswith("TZID:"):
            vtimezones.append(line.removeprefix("TZID:"))
        elif line.startswith(("DTSTART", "DTEND")) and not in_vtimezone:
            assert _TIME_LINE.match(line), f"floating or odd time: {line}"
            if match := re.search(r";TZID=([^:;]+)", line):
                tzids_used.add(match.group(1))
    assert vtimezones == sorted(tzids_used), "one VTIMEZONE per TZID used, sorted by name"
    assert not {"UTC", "Etc/UTC"} & set(vtimezones)

    by_icalendar, by_vobject = read_with_icalendar(body), read_with_vobject(body)
    assert len(by_icalendar) == len({item.event.event_id for item in items})
    for item in items:
        uid = feed_uid(ACCOUNT, item.event.event_id)
        assert uid in by_icalendar and uid in by_vobject, f"event {item.event.event_id} dropped"
        mine, theirs = by_icalendar[uid], by_vobject[uid]
        if item.event.is_allday:
            assert (mine.start, mine.end) == (theirs.start, theirs.end)
            assert type(mine.start) is date and mine.end > mine.start
            continue
        expected_end = max(item.event.start_at, item.event.end_at)
        for reading in (mine, theirs):
            # Through UTC: Python calls datetimes in different zones unequal whenever one of
            # them falls in a repeated hour (PEP 495), whatever instant it means.
            assert isinstance(reading.start, datetime) and isinstance(reading.end, datetime)
            assert reading.start.astimezone(UTC) == item.event.start_at, (uid, reading)
            assert reading.end.astimezone(UTC) == expected_end, (uid, reading)
    return by_icalendar
