"""How entries read before and after sending: preview rows, outbox items, and the results CSV.

`preview_rows()` shapes a `BatchPreview` for the preview table (local time, zone, UTC and names
instead of ids); `item_rows()` does the same for a batch's outbox items; `render_results_csv()`
writes a batch's outcome as a spreadsheet Excel opens safely (UTF-8 with BOM, no formulas).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.models import Calendar, Case, Draft, Staff, Subject
from bridge.store import OutboxItem
from bridge.submissions import BatchPreview, RejectedRows, queued_draft
from bridge.web.event_form import name_fields
from bridge.web.feed_preview import describe_duration

# What each outbox state means to the person waiting for it.
STATE_WORDS = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "unknown": "sent; checking Trackops got it",
    "sent": "created in Trackops",
    "failed": "refused by Trackops",
}
# A cell starting with one of these is read by Excel (and LibreOffice, Sheets) as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Names:
    """Ids -> the names people know, from the mirror's lists."""

    calendars: dict[int, str]
    cases: dict[int, str]
    subjects: dict[int, str]
    staff: dict[int, str]

    @classmethod
    def of(
        cls,
        calendars: Iterable[Calendar],
        cases: Iterable[Case],
        subjects: Iterable[Subject],
        staff: Iterable[Staff],
    ) -> Names:
        return cls(
            calendars={c.calendar_id: c.name for c in calendars},
            cases={c.case_id: c.label for c in cases},
            subjects={s.subject_id: s.name for s in subjects},
            staff={s.staff_id: s.name for s in staff},
        )

    def calendar(self, calendar_id: int) -> str:
        return self.calendars.get(calendar_id, f"Calendar {calendar_id}")

    def case(self, case_id: int) -> str:
        return self.cases.get(case_id, f"Case {case_id}")

    def people(self, staff_ids: Iterable[int]) -> str:
        return ", ".join(self.staff.get(i, f"Staff {i}") for i in staff_ids)


@dataclass(frozen=True)
class When:
    local: str  # as the person typed it: "Tue 10 Mar 2026, 07:00–15:00"
    utc: str  # as Trackops stores it: "2026-03-10 14:00 – 22:00 UTC"
    duration: str  # elapsed, a DST change counted: "8 h", "1 h 30 min"; "2 days" all day


def describe_when(start_at: datetime, end_at: datetime, zone: str, *, is_allday: bool) -> When:
    """An event's times in its own zone and in UTC, and how long it lasts (aware UTC in, words
    out)."""
    tz = ZoneInfo(zone)
    start, end = start_at.astimezone(tz), end_at.astimezone(tz)
    duration = describe_duration(end_at - start_at)
    if is_allday:
        duration = describe_duration(timedelta(days=(end.date() - start.date()).days + 1))
        # All day runs to 23:59:59 of the last day, so end's date is that day.
        if start.date() == end.date():
            local = f"{start:%a %d %b %Y}, all day"
        else:
            local = f"{start:%a %d %b %Y} – {end:%a %d %b %Y}, all day"
    elif start.date() == end.date():
        local = f"{start:%a %d %b %Y}, {start:%H:%M}–{end:%H:%M}"
    else:
        local = f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"
    start_utc, end_utc = start_at.astimezone(UTC), end_at.astimezone(UTC)
    end_day = "" if start_utc.date() == end_utc.date() else f"{end_utc:%Y-%m-%d} "
    utc = f"{start_utc:%Y-%m-%d} {_clock(start_utc)} – {end_day}{_clock(end_utc)} UTC"
    return When(local, utc, duration)


def _clock(moment: datetime) -> str:
    """HH:MM, with the seconds when there are some (an all-day event ends at 23:59:59)."""
    return f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"


@dataclass(frozen=True)
class PreviewRowView:
    where: str
    title: str
    is_ready: bool
    when: When | None
    zone: str
    calendar: str
    case: str
    subject: str
    staff: str
    notes: tuple[str, ...]
    errors: tuple[str, ...]


def preview_rows(preview: BatchPreview, names: Names) -> list[PreviewRowView]:
    return [
        _ready_row(row.where, row.draft, row.notes, names)
        if row.draft is not None
        else PreviewRowView(
            where=row.where,
            title=row.entry.title,
            is_ready=False,
            when=None,
            zone=row.entry.timezone,
            calendar=row.entry.calendar,
            case=row.entry.case,
            subject=row.entry.subject,
            staff=row.entry.staff,
            notes=row.notes,
            # A file's messages name the other columns by the file's own headings.
            errors=tuple(
                str(replace(error, message=name_fields(error.message, row.entry.columns)))
                for error in row.errors
            ),
        )
        for row in preview.rows
    ]


def _ready_row(where: str, draft: Draft, notes: Sequence[str], names: Names) -> PreviewRowView:
    subject = ""
    if draft.subject_id is not None:
        subject = names.subjects.get(draft.subject_id, f"Subject {draft.subject_id}")
    return PreviewRowView(
        where=where,
        title=draft.title,
        is_ready=True,
        when=describe_when(draft.start_at, draft.end_at, draft.timezone, is_allday=draft.is_allday),
        zone=draft.timezone,
        calendar=names.calendar(draft.calendar_id),
        case=names.case(draft.casefile_id),
        subject=subject,
        staff=names.people(draft.users_list),
        # The draft's notes are the row's plus the validator's; show each once.
        notes=tuple(dict.fromkeys([*notes, *draft.notes])),
        errors=(),
    )


@dataclass(frozen=True)
class ItemView:
    item: OutboxItem
    when: When | None
    zone: str
    calendar: str
    case: str
    state_words: str
    # Trackops' own words when it refused the event: its message, then each field's errors.
    problems: tuple[str, ...]


def item_rows(items: Iterable[OutboxItem], names: Names) -> list[ItemView]:
    views = []
    for item in items:
        draft = queued_draft(item)
        views.append(
            ItemView(
                item=item,
                when=_when_of(draft) if draft is not None else None,
                zone=draft.timezone if draft is not None else "",
                calendar=names.calendar(draft.calendar_id) if draft is not None else "",
                case=names.case(draft.casefile_id) if draft is not None else "",
                state_words=STATE_WORDS.get(item.state, item.state),
                problems=_problems_of(item),
            )
        )
    return views


def _problems_of(item: OutboxItem) -> tuple[str, ...]:
    fields = [
        f"{name}: {message}" for name, messages in item.field_errors.items() for message in messages
    ]
    return tuple(([item.error] if item.error else []) + fields)


def _when_of(draft: Draft) -> When | None:
    """The queued event's times, when its zone is one this machine knows."""
    try:
        ZoneInfo(draft.timezone)
    except (KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return None
    return describe_when(draft.start_at, draft.end_at, draft.timezone, is_allday=draft.is_allday)


def formula_safe(text: str) -> str:
    """`text` as a cell no spreadsheet runs: a leading = + - @ tab or CR gets a quote first."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


RESULT_COLUMNS = (
    "row",
    "where",
    "title",
    "state",
    "trackops_event_id",
    "error",
    "local_time",
    "timezone",
    "utc_time",
    "calendar",
    "case",
    "attempts",
    "updated_at_utc",
)


def render_results_csv(views: Iterable[ItemView]) -> bytes:
    """The batch's outcome, one line per queued row; UTF-8 with a BOM so Excel reads accents."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    for view in views:
        item = view.item
        cells = (
            "" if item.row is None else str(item.row),
            item.where,
            item.title,
            item.state,
            "" if item.event_id is None else str(item.event_id),
            "; ".join(view.problems),
            view.when.local if view.when else "",
            view.zone,
            view.when.utc if view.when else "",
            view.calendar,
            view.case,
            str(item.attempts),
            f"{item.updated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        )
        writer.writerow([formula_safe(cell) for cell in cells])
    return out.getvalue().encode("utf-8-sig")


@dataclass(frozen=True)
class RejectedView:
    row: int | None
    where: str
    title: str
    problems: tuple[str, ...]


def rejected_rows(rejected: RejectedRows) -> list[RejectedView]:
    """A batch's rows that were not queued, each with its mistakes in the file's own words."""
    headings = dict(zip(rejected.fields, rejected.headings, strict=True))
    return [
        RejectedView(
            row.row,
            row.where,
            row.title,
            tuple(
                str(replace(error, message=name_fields(error.message, headings)))
                for error in row.errors
            ),
        )
        for row in rejected.rows
    ]


def render_fix_csv(rejected: RejectedRows) -> bytes:
    """The rows not queued under the file's own headings, to fix and upload as they are.

    The cells are the person's own, written back unchanged (no formula guard, which would
    change them on the way back in); UTF-8 with a BOM, as the upload reads it and Excel too.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rejected.headings)
    writer.writerows(row.cells for row in rejected.rows if row.cells is not None)
    return out.getvalue().encode("utf-8-sig")
