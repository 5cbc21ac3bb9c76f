"""Upload figures: how long reading (and validating) the worst files of issue 8 takes now, and
what the budget counted, as the web's upload request does it. Prints figures; asserts nothing.

Run: .venv/bin/python bench/uploads.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from bridge.entries import Directory, EntryOptions
from bridge.models import Calendar, Case, Staff, Subject
from bridge.submissions import parse_file, preview_parsed

UNTIL = date(2035, 12, 31)
HEAD = "title,calendar,case,start_date,start_time,end_time,staff,description\r\n"


def ics(events: list[str]) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{event}\r\nEND:VEVENT\r\n" for event in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n".encode()
    )


def series(rule: str, count: int, start: str = "20260101T090000Z") -> bytes:
    return ics(
        [f"UID:{n}\r\nSUMMARY:E{n}\r\nDTSTART:{start}\r\nRRULE:{rule}" for n in range(count)]
    )


def csv_rows(count: int, title: str, codec: str, case: str = "2026-00042") -> bytes:
    rows = "".join(
        f"{title} {n},Cal 3,{case},2026-07-01,09:00,10:00,First5 Last5,{'x' * 1500}\r\n"
        for n in range(count)
    )
    return (HEAD + rows).encode(codec)


FILES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "50 x BYYEARDAY=366;BYMONTH=1 (7 KB)": lambda: (
        series("FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1", 50),
        "a.ics",
    ),
    "50 x MONTHLY;BYMONTHDAY=31;BYYEARDAY=60 (never, not named)": lambda: (
        series("FREQ=MONTHLY;BYMONTHDAY=31;BYYEARDAY=60", 50),
        "b.ics",
    ),
    "4,000 x DAILY;COUNT=500": lambda: (series("FREQ=DAILY;COUNT=500", 4000), "c.ics"),
    "2,000 x DAILY;COUNT=500 (at the VEVENT limit)": lambda: (
        series("FREQ=DAILY;COUNT=500", 2000),
        "d.ics",
    ),
    "2,000 x DAILY from 2026 (each over 500)": lambda: (series("FREQ=DAILY", 2000), "e.ics"),
    "2,000 x YEARLY;BYMONTH=2;BYMONTHDAY=29 from 1950": lambda: (
        series("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", 2000, start="19500101T090000Z"),
        "f.ics",
    ),
    "1,000 events x 45 lines (49,000 lines, 2.4 MB)": lambda: (
        ics(
            [
                f"UID:{n}\r\nSUMMARY:E{n}\r\nDTSTART:20260101T090000Z\r\n"
                + "\r\n".join(f"X-PAD-{k}:{'y' * 40}" for k in range(43))
                for n in range(1000)
            ]
        ),
        "g.ics",
    ),
    "CSV 1,000 rows, Windows-1252 (1.6 MB)": lambda: (
        csv_rows(1000, "Café Müller", "cp1252"),
        "h.csv",
    ),
    "CSV 1,000 rows, Shift-JIS (1.6 MB)": lambda: (
        csv_rows(1000, "定例会議", "shift_jis"),
        "i.csv",
    ),
    "CSV 1,000 rows, every case misspelt": lambda: (
        csv_rows(1000, "Stakeout", "utf-8", case="2026-0004x2"),
        "j.csv",
    ),
}


def main() -> None:
    # A large firm's mirror: the preview checks every row against it.
    directory = Directory(
        calendars=[Calendar(i, f"Cal {i}", "America/Denver") for i in range(1, 50)],
        cases=[Case(i, f"2026-{i:05d}", f"REF-{i}", f"Title {i}") for i in range(1, 20_000)],
        subjects=[Subject(100_000 + i, i, f"Subject {i}") for i in range(1, 20_000)],
        staff=[Staff(i, f"First{i}", f"Last{i}", f"p{i}@x.com") for i in range(1, 3_000)],
    )
    options = EntryOptions()
    print(f"{'file':<58} {'read s':>7} {'check s':>7} {'steps':>9} {'occurr.':>7}  outcome")
    for name, build in FILES.items():
        data, filename = build()
        started = time.monotonic()
        parsed = parse_file(data, filename, calendar="Cal 3", case="2026-00042", expand_until=UNTIL)
        read = time.monotonic() - started
        started = time.monotonic()
        preview = preview_parsed(parsed, directory=directory, options=options)
        check = time.monotonic() - started
        budget = parsed.budget
        steps = budget.steps if budget else 0
        occurrences = budget.occurrences if budget else 0
        outcome = (
            str(preview.file_errors[0])[:70]
            if preview.file_errors
            else f"{len(preview.ready)} ready, {len(preview.invalid)} not"
        )
        print(f"{name:<58} {read:7.3f} {check:7.3f} {steps:9,} {occurrences:7,}  {outcome}")


if __name__ == "__main__":
    main()
