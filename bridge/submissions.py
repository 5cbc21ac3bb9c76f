"""Submissions: an upload or form entry -> a preview of every row -> a batch queued in the outbox.

Shared by the CLI and the web app (no Flask, no HTTP). Entry points: `parse_file` (read an
upload once, within a budget) and `preview_parsed` (validate it against the mirror, as often as
the page is shown), or `preview_file` for both; `preview_form`; then `submit_preview` once the
person has confirmed. The same upload always gets the same `batch_key`, so submitting it again
queues nothing new and says when it was first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from bridge.config import Settings
from bridge.entries import (
    Budget,
    Directory,
    EntryFields,
    EntryOptions,
    FieldError,
    Source,
    parse_csv,
    parse_ics,
    validate_entry,
)
from bridge.errors import SubmissionError
from bridge.models import Draft
from bridge.store import Batch, NewItem, OutboxItem, Store, body_digest
from bridge.trackops.bodies import event_request_body, read_request_body

FORM_LABEL = "Form entry"
FILENAME_MAX = 200  # an uploaded file's name as kept and shown
_ICS_SUFFIXES = (".ics", ".ical", ".icalendar", ".ifb")
_PARSED_VERSION = 1  # of ParsedFile.to_json's shape: a stored parse of another shape is read again


@dataclass(frozen=True)
class PreviewRow:
    """One entry as the person will see it before confirming: its draft, or all its errors."""

    row: int | None
    where: str  # "Row 4", "Event 3 ('Hearing')", "Form entry"
    entry: EntryFields
    draft: Draft | None
    errors: tuple[FieldError, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_ready(self) -> bool:
        return self.draft is not None


@dataclass(frozen=True)
class BatchPreview:
    batch_key: str
    source: str  # "csv" | "ics" | "form"
    label: str
    rows: tuple[PreviewRow, ...]
    file_errors: tuple[FieldError, ...] = ()  # about the whole file: it gave no rows
    notices: tuple[str, ...] = ()  # what was skipped on purpose (a cancelled .ics event)
    encoding: str = ""  # how the file's bytes were read: "UTF-8", "Windows-1252"; "" for a form

    @property
    def is_utf8(self) -> bool:
        return self.encoding in ("", "UTF-8")

    @property
    def ready(self) -> tuple[PreviewRow, ...]:
        return tuple(row for row in self.rows if row.is_ready)

    @property
    def invalid(self) -> tuple[PreviewRow, ...]:
        return tuple(row for row in self.rows if not row.is_ready)


@dataclass(frozen=True)
class ParsedFile:
    """An upload read once (decoded, parsed, repeating events expanded), not yet validated.

    The web keeps it with the stored upload (`to_json`), so a preview reload or the confirm
    validates these entries against the mirror as it is then, without reading the file again.
    Entries already carry the upload's calendar and case choices where they left them blank.
    """

    batch_key: str
    source: Source
    label: str
    entries: tuple[EntryFields, ...]
    errors: tuple[FieldError, ...] = ()
    notices: tuple[str, ...] = ()
    encoding: str = ""
    budget: Budget | None = field(default=None, compare=False, repr=False)  # .ics: its cost

    def to_json(self) -> dict[str, Any]:
        return {
            "version": _PARSED_VERSION,
            "batch_key": self.batch_key,
            "source": self.source.value,
            "label": self.label,
            "entries": [entry.to_json() for entry in self.entries],
            "errors": [error.to_json() for error in self.errors],
            "notices": list(self.notices),
            "encoding": self.encoding,
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ParsedFile | None:
        """The parse `to_json` kept, or None when it was kept in another shape."""
        if values.get("version") != _PARSED_VERSION:
            return None
        try:
            return cls(
                batch_key=values["batch_key"],
                source=Source(values["source"]),
                label=values["label"],
                entries=tuple(EntryFields.from_json(e) for e in values["entries"]),
                errors=tuple(FieldError.from_json(e) for e in values["errors"]),
                notices=tuple(values["notices"]),
                encoding=values["encoding"],
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class SubmitResult:
    batch_id: int
    queued: int
    already_queued: int  # this batch's own rows, queued by an earlier submission of it
    is_resubmission: bool
    first_submitted_at: datetime
    copies_skipped: int = 0  # identical to an event queued or sent from another batch

    def summary(self) -> str:
        """One line for the person who submitted: what was queued, and what was not, and why."""
        parts = []
        if self.is_resubmission:
            parts.append(
                f"already submitted on {self.first_submitted_at:%Y-%m-%d %H:%M} UTC as "
                f"batch {self.batch_id}"
            )
        parts.append(
            f"{self.queued} event{'s' if self.queued != 1 else ''} queued"
            if self.queued
            else "nothing new queued"
        )
        if self.copies_skipped:
            parts.append(
                f"{self.copies_skipped} left out: identical to events already sent or queued "
                "from an earlier upload"
            )
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."


@dataclass(frozen=True)
class EarlierCopies:
    """What the outbox already holds of a preview's ready rows, before it is submitted."""

    batch: Batch | None  # this very upload, submitted before
    already_queued: int  # rows of that batch already in the outbox
    copies: dict[str, OutboxItem]  # idempotency key of a row -> the same event from elsewhere

    def new_rows(self, preview: BatchPreview) -> int:
        """How many of the ready rows a submit would queue now."""
        return len(preview.ready) - self.already_queued - len(self.copies)

    def copies_by_row(self, preview: BatchPreview) -> dict[str, OutboxItem]:
        """Ready rows (by where) identical to an event already queued or sent elsewhere."""
        found = {}
        for row in preview.ready:
            if row.draft is not None:
                copy = self.copies.get(idempotency_key(row.draft, preview.batch_key))
                if copy is not None:
                    found[row.where] = copy
        return found


def directory_from_store(store: Store) -> Directory:
    """Calendars, cases, subjects and staff from the mirror, for resolving names people type."""
    return Directory(
        calendars=store.list_calendars(),
        cases=store.list_cases(),
        subjects=store.list_subjects(),
        staff=store.list_staff(),
    )


def entry_options(settings: Settings) -> EntryOptions:
    return EntryOptions(
        default_timezone=settings.default_timezone,
        date_order=settings.date_order,
    )


def is_ics(data: bytes, filename: str) -> bool:
    """An .ics file by name, or by content whatever it is called."""
    if filename.lower().endswith(_ICS_SUFFIXES):
        return True
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


def parse_file(
    data: bytes,
    filename: str,
    *,
    calendar: str = "",
    case: str = "",
    expand_until: date | None = None,
    budget: Budget | None = None,
) -> ParsedFile:
    """Read a CSV or .ics upload once, within `budget` (a fresh one by default); no validation.

    `calendar` and `case` fill entries that leave them blank (always, for .ics files). The batch
    key covers the bytes, the kind and these choices, not the file name or `expand_until`:
    uploading the file again with a later expand date adds only the new occurrences.
    """
    source = Source.ICS if is_ics(data, filename) else Source.CSV
    used = budget or Budget()
    if source is Source.ICS:
        parsed_ics = parse_ics(data, expand_until=expand_until, budget=used)
        entries, errors = parsed_ics.entries, parsed_ics.errors
        notices, encoding = parsed_ics.notices, parsed_ics.encoding
    else:
        parsed_csv = parse_csv(data)
        entries, errors, notices, encoding = (
            parsed_csv.entries,
            parsed_csv.errors,
            (),
            parsed_csv.encoding,
        )
    choices = {"calendar": calendar.strip(), "case": case.strip()}
    return ParsedFile(
        batch_key=_batch_key(source, choices, data),
        source=source,
        label=plain_filename(filename),
        entries=tuple(entry.filled(**choices) for entry in entries),
        errors=errors,
        notices=notices,
        encoding=encoding,
        budget=used,
    )


def preview_parsed(
    parsed: ParsedFile, *, directory: Directory, options: EntryOptions
) -> BatchPreview:
    """Every row of a parsed upload, validated against `directory`; nothing is stored."""
    rows = [_preview_row(entry, directory, options) for entry in parsed.entries]
    # An error about one row (cells that don't line up, an unreadable .ics event) is shown as
    # that row; errors about the whole file (its headings, its size) stay file errors.
    file_errors: list[FieldError] = []
    for error in parsed.errors:
        if error.row is None or error.field == "header":
            file_errors.append(error)
            continue
        entry = EntryFields(row=error.row, source=parsed.source)
        where = error.where or f"Row {error.row}"
        rows.append(PreviewRow(error.row, where, entry, None, (error,)))
    rows.sort(key=lambda r: r.row if r.row is not None else 0)
    return BatchPreview(
        batch_key=parsed.batch_key,
        source=parsed.source.value,
        label=parsed.label,
        rows=tuple(rows),
        file_errors=tuple(file_errors),
        notices=parsed.notices,
        encoding=parsed.encoding,
    )


def preview_file(
    data: bytes,
    filename: str,
    *,
    directory: Directory,
    options: EntryOptions,
    calendar: str = "",
    case: str = "",
    expand_until: date | None = None,
) -> BatchPreview:
    """`parse_file` then `preview_parsed`: every row of an upload, validated; nothing stored."""
    parsed = parse_file(data, filename, calendar=calendar, case=case, expand_until=expand_until)
    return preview_parsed(parsed, directory=directory, options=options)


def preview_form(
    fields: EntryFields, *, directory: Directory, options: EntryOptions, submission_id: str
) -> BatchPreview:
    """The one entry of the event form, validated.

    `submission_id` is a random id the form page carries, so a double-clicked Submit is one
    submission; the key also covers the entry's content, so an entry changed and sent again
    from the same page is a new one.
    """
    entry = replace(fields, source=Source.FORM, row=None)
    content = {name: str(value) for name, value in vars(entry).items() if name != "columns"}
    return BatchPreview(
        batch_key=_batch_key(Source.FORM, {"submission": submission_id, **content}, b""),
        source=Source.FORM.value,
        # Batches list by label: a form's is its event's title, as a file's is its name.
        label=" ".join(entry.title.split())[:200] or FORM_LABEL,
        rows=(_preview_row(entry, directory, options),),
    )


def find_earlier_copies(store: Store, preview: BatchPreview) -> EarlierCopies:
    """What submitting `preview` now would leave out, and why (for the confirmation step)."""
    rows = {_key_of(row, preview): row for row in preview.ready}
    keys_by_body: dict[str, list[str]] = {}
    for key, row in rows.items():
        keys_by_body.setdefault(body_digest(event_request_body(_draft_of(row))), []).append(key)
    batch = store.find_batch_by_key(preview.batch_key)
    found = store.find_outbox_items(rows, keys_by_body)
    queued = {item.idempotency_key for item in found if item.idempotency_key in rows}
    copies: dict[str, OutboxItem] = {}
    for item in found:
        if batch is not None and item.batch_id == batch.batch_id:
            continue
        for key in keys_by_body.get(body_digest(item.body), []):
            if key not in queued:
                copies.setdefault(key, item)
    return EarlierCopies(batch, len(queued), copies)


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not queued: where it was, its cells as read, and all its mistakes."""

    row: int | None
    where: str
    title: str
    cells: tuple[str, ...] | None  # under RejectedRows.headings; None: the row was unreadable
    errors: tuple[FieldError, ...]


@dataclass(frozen=True)
class RejectedRows:
    """The rows of a batch that were not queued, kept with it (`Batch.rejected`), so its page
    lists every row and a CSV's bad rows download as a file to fix and upload again as is."""

    fields: tuple[str, ...]  # the file's columns as entry fields, in the file's order
    headings: tuple[str, ...]  # the same columns as headed in the file
    rows: tuple[RejectedRow, ...]

    @classmethod
    def of(cls, preview: BatchPreview) -> RejectedRows:
        columns: dict[str, str] = {}
        for row in preview.invalid:
            columns = columns or dict(row.entry.columns)  # one CSV's rows share its headings
        rows = tuple(
            RejectedRow(
                row.row,
                row.where,
                row.entry.title,
                # A row whose cells did not line up was never read into an entry.
                tuple(getattr(row.entry, name) for name in columns) if row.entry.columns else None,
                row.errors,
            )
            for row in preview.invalid
        )
        return cls(tuple(columns), tuple(columns.values()), rows)

    @property
    def can_download(self) -> bool:
        return bool(self.headings) and any(row.cells is not None for row in self.rows)

    def to_json(self) -> str:
        return json.dumps(
            {
                "fields": self.fields,
                "headings": self.headings,
                "rows": [
                    {
                        "row": r.row,
                        "where": r.where,
                        "title": r.title,
                        "cells": r.cells,
                        "errors": [e.to_json() for e in r.errors],
                    }
                    for r in self.rows
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | None) -> RejectedRows:
        """What `to_json` kept; none for a batch kept without (before migration 14)."""
        if not text:
            return cls((), (), ())
        values = json.loads(text)
        return cls(
            tuple(values["fields"]),
            tuple(values["headings"]),
            tuple(
                RejectedRow(
                    r["row"],
                    r["where"],
                    r["title"],
                    tuple(r["cells"]) if r["cells"] is not None else None,
                    tuple(FieldError.from_json(e) for e in r["errors"]),
                )
                for r in values["rows"]
            ),
        )


def submit_preview(store: Store, preview: BatchPreview, *, at: datetime) -> SubmitResult:
    """Store the batch and queue an outbox item for each ready row not already queued.

    Raises SubmissionError when no row is ready. Submitting the same preview again adds nothing.
    """
    ready = preview.ready
    if not ready:
        raise SubmissionError(f"{preview.label}: no row is ready, so nothing was queued")
    items = [
        NewItem(
            row=row.row,
            where=row.where,
            idempotency_key=_key_of(row, preview),
            title=_draft_of(row).title,
            body=event_request_body(_draft_of(row)),
        )
        for row in ready
    ]
    queued = store.queue_batch(
        batch_key=preview.batch_key,
        source=preview.source,
        label=preview.label,
        total=len(preview.rows),
        ready=len(ready),
        invalid=len(preview.invalid),
        items=items,
        at=at,
        rejected=RejectedRows.of(preview).to_json() if preview.invalid else None,
    )
    return SubmitResult(
        batch_id=queued.batch.batch_id,
        queued=queued.queued,
        already_queued=queued.already_queued,
        is_resubmission=not queued.is_new_batch,
        first_submitted_at=queued.batch.created_at,
        copies_skipped=queued.copies_skipped,
    )


def _preview_row(entry: EntryFields, directory: Directory, options: EntryOptions) -> PreviewRow:
    where = entry.where or FORM_LABEL
    outcome = validate_entry(entry, directory, options)
    if isinstance(outcome, Draft):
        return PreviewRow(entry.row, where, entry, outcome, (), outcome.notes)
    return PreviewRow(entry.row, where, entry, None, tuple(outcome), entry.notes)


def _draft_of(row: PreviewRow) -> Draft:
    if row.draft is None:
        raise ValueError(f"{row.where} is not ready")
    return row.draft


def _key_of(row: PreviewRow, preview: BatchPreview) -> str:
    return idempotency_key(_draft_of(row), preview.batch_key)


def idempotency_key(draft: Draft, batch_key: str) -> str:
    """A stable name for `draft` within one submission batch (sha256, hex).

    It covers the request body, the row and the batch key, so a retried send of the same draft
    gets the same key, while two identical rows of one file stay two events.
    """
    canonical = json.dumps(
        {"batch": batch_key, "row": draft.row, "body": event_request_body(draft)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def queued_draft(item: OutboxItem) -> Draft | None:
    """The draft an outbox item's kept request body was built from; None if it cannot be read."""
    try:
        return read_request_body(item.body)
    except ValueError:
        return None


def _batch_key(source: Source, choices: dict[str, str], data: bytes) -> str:
    digest = hashlib.sha256()
    header = {"source": source.value, "choices": choices}
    digest.update(json.dumps(header, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    digest.update(b"\0")
    digest.update(data)
    return digest.hexdigest()


def plain_filename(filename: str) -> str:
    """The file's own name, without the folders a browser (on Windows: the whole path) sent,
    and short enough for a page and a column."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
    return name[:FILENAME_MAX]
