"""Read one .ics file with icalendar, vobject and ical, as each one's users would; print JSON.

Run by tests/test_feed_clients.py with the clients' own interpreter (.venv-clients), so each
library resolves zones its own way: icalendar and ical by the TZID's IANA name, vobject through
the feed's VTIMEZONE. Output: {"icalendar": {uid: [start, end]}, ...}, with instants as UTC
"YYYY-MM-DDTHH:MM:SSZ", dates as "YYYY-MM-DD", and a floating time as "floating ..." so that it
can never compare equal to an instant. A parser that fails gives {"error": "..."} instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

Reading = dict[str, list[str]]


def shown(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None or value.utcoffset() is None:
        return f"floating {value.isoformat()}"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_icalendar(text: str) -> Reading:
    import icalendar

    found: Reading = {}
    for vevent in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        start = vevent["DTSTART"].dt
        if "DTEND" in vevent:
            end = vevent["DTEND"].dt
        else:  # DURATION, else RFC 5545's reading of neither: ends when it starts
            end = start + (vevent["DURATION"].dt if "DURATION" in vevent else timedelta(0))
        found[str(vevent["UID"])] = [shown(start), shown(end)]
    return found


def read_vobject(text: str) -> Reading:
    import vobject

    found: Reading = {}
    for vevent in getattr(vobject.readOne(text), "vevent_list", []):
        start = vevent.dtstart.value
        if hasattr(vevent, "dtend"):
            end = vevent.dtend.value
        else:
            end = start + (vevent.duration.value if hasattr(vevent, "duration") else timedelta(0))
        found[vevent.uid.value] = [shown(start), shown(end)]
    return found


def read_ical(text: str) -> Reading:
    from ical.calendar_stream import IcsCalendarStream

    calendar = IcsCalendarStream.calendar_from_ics(text)
    found: Reading = {}
    for event in calendar.events:
        # ical's own end: DTEND, else DTSTART plus DURATION, as Home Assistant shows it.
        found[str(event.uid)] = [shown(event.dtstart), shown(event.end)]
    return found


PARSERS: dict[str, Callable[[str], Reading]] = {
    "icalendar": read_icalendar,
    "vobject": read_vobject,
    "ical": read_ical,
}


def main() -> None:
    text = Path(sys.argv[1]).read_text(encoding="utf-8")
    result: dict[str, Any] = {}
    for name, read in PARSERS.items():
        try:
            result[name] = read(text)
        except Exception as error:  # reported to the test, which names the parser
            result[name] = {"error": f"{type(error).__name__}: {error}"}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
