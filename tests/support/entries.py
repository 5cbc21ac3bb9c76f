"""Entries for the entry-reading tests: `ics()` wraps VEVENT bodies in a calendar, and hypothesis
strategies for field values (`digits`, `value`) and VEVENTs with random repeat rules (`event_text`).
"""

from __future__ import annotations

from hypothesis import strategies as st


def ics(*events: str, header: str = "") -> bytes:
    """A minimal calendar around VEVENT bodies (one property per line)."""
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    text = (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{header}{body}END:VCALENDAR\r\n"
    )
    return text.replace("\n", "\r\n").replace("\r\r\n", "\r\n").encode("utf-8")


# ASCII digits beside digits that str.isdigit() or \d accept but no one means as a number here.
DIGITS = "0123456789\u00b2\u00b3\u00b9\u2070\u0661\u0662\u06f3\u0967\uff11\uff12\u2460"
digits = st.text(alphabet=DIGITS, min_size=1, max_size=6)
# Values near the valid ones: dates and times made of any digits, ids, names, or any text.
value = st.one_of(
    digits,
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", digits, digits, digits),
    st.builds(lambda h, m: f"{h}:{m}", digits, digits),
    st.sampled_from(["Surveillance", "2026-0142", "John Doe", "Ann Lee", "yes", "no", "US", ""]),
    st.text(max_size=12),
)

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
