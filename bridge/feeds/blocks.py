"""One event -> its VEVENT block: the text of BEGIN:VEVENT to END:VEVENT, and the zone it used.

Entry point: ``BlockWriter.write(item, zone)``. A block's bytes depend only on the event (its
content, sequence and stamps), the zone it is shown in, the feed's privacy, the account and the
render year (``ZoneTable``), so the feed engine keeps blocks and assembles feeds from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bridge.feeds.text import (
    date_value,
    encode_lines,
    escape_text,
    folded_line,
    utc_value,
    wall_value,
)
from bridge.feeds.zones import ZoneTable, known_zone
from bridge.models import FeedEvent, Privacy

BUSY_SUMMARY = "Busy"
# The Trackops event id, in a property no client shows. vdirsyncer's http storage replaces every
# UID with a hash of the event's other properties, so two events alike in all else (two "Busy"
# hours at the same time) would become one item without it.
EVENT_ID_PROPERTY = "X-TRACKOPS-EVENT-ID"
_BEGIN = "BEGIN:VEVENT"
_END = "END:VEVENT"
_ZERO_DURATION = "DURATION:P0D"
_STATUS = "STATUS:CONFIRMED"
# All-day events are markers (deadlines, court days, leave notes): shown but not blocking a
# whole day of free/busy, as Google and Apple do for all-day events they create.
_TRANSP_ALLDAY = "TRANSP:TRANSPARENT"
_TRANSP_TIMED = "TRANSP:OPAQUE"
_BUSY_CLASS = "CLASS:PRIVATE"
_BUSY_LINE = f"SUMMARY:{BUSY_SUMMARY}"
_UTC_ZONE = ZoneInfo("UTC")


def feed_uid(account: str, event_id: int) -> str:
    """The UID of an event: from the Trackops account and event id only, so it survives a move to
    another calendar and every re-render. The account is lower-cased (subdomains ignore case)."""
    return f"trackops-{account.strip().lower()}-event-{event_id}@trackops-bridge"


@dataclass(frozen=True, slots=True)
class Block:
    """One event's VEVENT text and what the feed around it must know of it."""

    body: bytes
    tzid: str | None  # the zone whose VTIMEZONE its times refer to; None: UTC or dates
    # The zone it was shown in when it has no readable zone of its own (X-WR-TIMEZONE).
    zoneless_zone: str | None


class BlockWriter:
    """Writes VEVENT blocks for one privacy, account and render year."""

    def __init__(
        self, *, account: str, privacy: Privacy, zones: ZoneTable, generated_at: datetime
    ) -> None:
        self.account = account
        self.privacy = privacy
        self.zones = zones
        self._uid = f"trackops-{account.strip().lower()}-event-"
        self._generated_stamp = f"DTSTAMP:{utc_value(generated_at.astimezone(UTC))}"

    def write(self, item: FeedEvent, zone: str) -> Block:
        """The block of ``item`` shown in ``zone`` (see ``zones.shown_zone``).

        Properties go in icalendar's canonical order (SUMMARY, DTSTART, DTEND, DURATION,
        DTSTAMP, UID, SEQUENCE, then by name), so the feeds read as they always did.
        """
        event = item.event
        # An end before the start is a data error: show the event at its start, zero-length,
        # rather than drop it or stretch it backwards (swapping could span months).
        start_at = event.start_at
        end_at = event.end_at if event.end_at > start_at else start_at
        is_busy = self.privacy is Privacy.BUSY
        lines = [_BEGIN]
        if is_busy:
            lines.append(_BUSY_LINE)
        elif event.title:
            lines.append(folded_line("SUMMARY", escape_text(event.title)))

        tzid = None
        if event.is_allday:
            first, after_last = allday_dates(start_at, end_at, ZoneInfo(zone))
            lines.append(f"DTSTART;VALUE=DATE:{date_value(first)}")
            lines.append(f"DTEND;VALUE=DATE:{date_value(after_last)}")
        else:
            # Wall times go out with the TZID only when every client lands on the same
            # instants (see ZoneTable.local_times); otherwise the event is written in UTC,
            # start and end alike, which every client reads the same.
            walls = self.zones.local_times(zone, start_at, end_at)
            if walls is not None:
                tzid = zone
                lines.append(f"DTSTART;TZID={zone}:{wall_value(walls[0])}")
                end_line = f"DTEND;TZID={zone}:{wall_value(walls[1])}"
            else:
                lines.append(f"DTSTART:{utc_value(start_at.astimezone(UTC))}")
                end_line = f"DTEND:{utc_value(end_at.astimezone(UTC))}"
            # Compared as instants (aware times in one zone compare by wall time, PEP 495).
            # Zero-length events get a zero DURATION: RFC 5545 reads a missing DTEND as "ends
            # when it starts", but khal shows an event with neither as an hour long.
            lines.append(end_line if end_at > start_at else _ZERO_DURATION)

        stamp = event.updated_at or item.changed_at
        lines.append(
            self._generated_stamp
            if stamp is None
            else f"DTSTAMP:{utc_value(stamp.astimezone(UTC))}"
        )
        lines.append(folded_line("UID", f"{self._uid}{event.event_id}@trackops-bridge"))
        lines.append(f"SEQUENCE:{item.sequence}")
        if is_busy:
            lines.append(_BUSY_CLASS)
        if event.created_at is not None:
            lines.append(f"CREATED:{utc_value(event.created_at.astimezone(UTC))}")
        if self.privacy is Privacy.FULL and (description := _description(item)):
            lines.append(folded_line("DESCRIPTION", escape_text(description)))
        if event.updated_at is not None:
            lines.append(f"LAST-MODIFIED:{utc_value(event.updated_at.astimezone(UTC))}")
        if not is_busy and event.address is not None and not event.address.is_empty:
            lines.append(folded_line("LOCATION", escape_text(event.address.one_line())))
        lines.append(_STATUS)
        lines.append(_TRANSP_ALLDAY if event.is_allday else _TRANSP_TIMED)
        lines.append(f"{EVENT_ID_PROPERTY}:{event.event_id}")
        lines.append(_END)
        own_zone = known_zone(event.timezone)
        return Block(encode_lines(lines), tzid, zone if own_zone is None else None)


def _description(item: FeedEvent) -> str:
    references = [
        f"{label}: {value}"
        for label, value in (("Case", item.case_label), ("Subject", item.subject_name))
        if value
    ]
    parts = [item.event.body.strip(), "\n".join(references)]
    return "\n\n".join(part for part in parts if part)


def allday_dates(start_at: datetime, end_at: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """DTSTART and the exclusive DTEND of an all-day event, as dates in ``zone``, unless the
    event starts at midnight UTC and not at midnight in ``zone``: then as dates in UTC.

    An all-day event is midnight to midnight in the zone it was saved in, and an event Trackops
    holds without a zone was saved in UTC: read in the zone it is shown in (the calendar's, the
    default) the same day would start the evening before west of UTC and span two dates.
    Trackops may store the end as 23:59:59 on the last day or as midnight after it: a local
    midnight is already the exclusive end, any other time ends the day after. At least one day.
    """
    if start_at.astimezone(zone).time() != time(0) and start_at.astimezone(UTC).time() == time(0):
        zone = _UTC_ZONE
    first = start_at.astimezone(zone).date()
    end = end_at.astimezone(zone)
    after_last = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    return first, max(after_last, first + timedelta(days=1))
