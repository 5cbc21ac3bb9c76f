"""RFC 5545 content lines written as text: TEXT escaping, value formats, 75-octet folding, CRLF.

Entry points: ``content_line(name, value)`` (one property, folded, as bytes) and the value
formatters. Pure and small on purpose: the feed writer calls these for every event, and
icalendar's object model cost ten times the plain text (tests keep icalendar as the judge).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

CRLF = b"\r\n"
# RFC 5545 3.1: lines longer than 75 octets are folded; a line of at most this many stays whole.
_UNFOLDED_MAX = 74
_FOLD = "\r\n "
# C0 controls other than tab and line breaks are not allowed in TEXT (RFC 5545 3.3.11), and
# Unicode's own line breaks: parsers that split the feed with str.splitlines() (vdirsyncer's,
# and khal's through it) break a line at each, so a title holding "\u2028END:VEVENT" would end
# the event there. One search finds any of them; most text has none.
_UNUSUAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNICODE_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n\n", "\x85": "\n"})


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks escaped;
    disallowed controls dropped; Unicode line separators written as the newlines they mean.

    A literal backslash-N stays two characters (icalendar's vText would read it as a newline,
    which mangled "C:\\Notes").
    """
    if _UNUSUAL.search(value):
        value = _CONTROL_CHARS.sub("", value.translate(_UNICODE_LINE_BREAKS))
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def content_line(name: str, value: str) -> bytes:
    """``NAME:value`` (name may carry parameters) as UTF-8 bytes ending in CRLF, folded."""
    return encode_lines([folded_line(name, value)])


def folded_line(name: str, value: str) -> str:
    """``NAME:value`` folded at 75 octets (without the final CRLF)."""
    line = f"{name}:{value}"
    if len(line) <= _UNFOLDED_MAX and (line.isascii() or _octets(line) <= _UNFOLDED_MAX):
        return line
    return fold(line)


def encode_lines(lines: list[str]) -> bytes:
    """Lines as UTF-8, each ending in CRLF. A lone surrogate (from a JSON "\\ud800") cannot be
    UTF-8: it becomes "?" (one octet, as ``fold`` counted it) rather than the feed failing."""
    lines.append("")
    return "\r\n".join(lines).encode("utf-8", "replace")


def _octets(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def fold(line: str) -> str:
    """Fold a long line (RFC 5545 3.1) between characters, never inside one: each physical line
    at most 75 octets, continuation lines starting with a space.

    As icalendar folds: a backslash or caret that would end a physical line moves to the next,
    so no client meets an escape cut in two.
    """
    if line.isascii():
        return _fold_ascii(line)
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for char in line:
        size = 1 if char < "\x80" else _octets(char)
        if current and count + size > _UNFOLDED_MAX:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                pieces.append("".join(current))
                current, count = [carried], 1
            else:
                pieces.append("".join(current))
                current, count = [], 0
        current.append(char)
        count += size
    if current:
        pieces.append("".join(current))
    return _FOLD.join(pieces)


def _fold_ascii(line: str) -> str:
    pieces = []
    start, length = 0, len(line)
    while length - start > _UNFOLDED_MAX:
        end = start + _UNFOLDED_MAX
        if line[end - 1] in "\\^":
            end -= 1
        pieces.append(line[start:end])
        start = end
    pieces.append(line[start:])
    return _FOLD.join(pieces)


def utc_value(moment: datetime) -> str:
    """An aware instant as a UTC DATE-TIME (``20240701T150000Z``); seconds, no fraction."""
    return f"{_wall(moment)}Z"


def wall_value(moment: datetime) -> str:
    """A wall-clock time as a local DATE-TIME (``20240701T150000``), for use with a TZID."""
    return _wall(moment)


def _wall(moment: datetime) -> str:
    # %-formatting: half the cost of an f-string with format specs, and unlike strftime it
    # pads a year before 1000 to four digits.
    return "%04d%02d%02dT%02d%02d%02d" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def date_value(day: date) -> str:
    """A DATE (``20240715``)."""
    return f"{day.year:04}{day.month:02}{day.day:02}"


def duration_value(span: timedelta) -> str:
    """A DURATION (RFC 5545 3.3.6): ``PT1H``, ``PT15M``, ``P1DT2H``, ``P0D``; whole seconds."""
    sign = ""
    if span.days < 0:
        sign, span = "-", -span
    seconds = span.seconds
    time_part = ""
    if seconds:
        hours, minutes, rest = seconds // 3600, seconds % 3600 // 60, seconds % 60
        time_part = "T"
        if hours:
            time_part += f"{hours}H"
        if minutes or (hours and rest):
            time_part += f"{minutes}M"
        if rest:
            time_part += f"{rest}S"
    if span.days == 0 and time_part:
        return f"{sign}P{time_part}"
    return f"{sign}P{span.days}D{time_part}"


def utc_offset_value(offset: timedelta) -> str:
    """A UTC-OFFSET (``-0500``, ``+0530``; seconds only when there are some)."""
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hours, minutes, seconds = total // 3600, total % 3600 // 60, total % 60
    text = f"{sign}{hours:02}{minutes:02}"
    return f"{text}{seconds:02}" if seconds else text
