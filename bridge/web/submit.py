"""Creating events from the web: the one-event form, CSV and .ics uploads, and batch progress.

Entry point: the ``submit`` blueprint. Views read input, call ``bridge.submissions`` (the rules the
CLI shares) and the store, and render. The web process never talks to Trackops: what a person
confirms goes to the store's outbox, and the worker sends it at Trackops' pace.

An upload is read once, when it is posted, within the entries' budget (three seconds at
most, well under gunicorn's 30-second worker timeout), and its parse is kept with it: the
preview page and the confirm only check the kept entries against the mirror as it is then.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePosixPath

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request
from flask import url_for as url_to
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from bridge.entries import COLUMNS, REQUIRED_COLUMNS, EntryOptions, csv_template
from bridge.store import OutboxItem
from bridge.submissions import (
    BatchPreview,
    ParsedFile,
    RejectedRows,
    SubmitResult,
    directory_from_store,
    entry_options,
    find_earlier_copies,
    idempotency_key,
    parse_file,
    plain_filename,
    preview_form,
    preview_parsed,
    submit_preview,
)
from bridge.web.admin import is_heartbeat_stale
from bridge.web.batch_display import (
    STATE_WORDS,
    Names,
    When,
    describe_when,
    item_rows,
    preview_rows,
    rejected_rows,
    render_fix_csv,
    render_results_csv,
)
from bridge.web.context import current_settings, current_store
from bridge.web.event_form import (
    LABELS,
    EventForm,
    FormChoices,
    case_value,
    form_choices,
    read_event_form,
    service_label,
)
from bridge.zone_names import offered_zones

bp = Blueprint("submit", __name__)

# The largest file an upload may carry; the parsers have their own (smaller, per kind) limits
# and say so row by row. MAX_CONTENT_LENGTH adds room for the rest of the form.
MAX_UPLOAD_BYTES = 5_000_000
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 100_000
# An unfinished batch's page reloads itself this often; the worker sends about one a second.
REFRESH_SECONDS = 5
Page = tuple[str, int]


# -- the form ------------------------------------------------------------------------------


@bp.get("/admin/events/new")
def new_event() -> str:
    return _render_event_form(EventForm())[0]


@bp.post("/admin/events/new")
def create_event() -> Response | Page:
    form = read_event_form(request.form)
    store, settings = current_store(), current_settings()
    preview = preview_form(
        form.entry(),
        directory=directory_from_store(store),
        options=entry_options(settings),
        submission_id=form.submission_id,
    )
    (row,) = preview.rows
    if row.draft is None:
        form.add_errors(row.errors)
        return _render_event_form(form, status=400)
    draft = row.draft
    when = describe_when(draft.start_at, draft.end_at, draft.timezone, is_allday=draft.is_allday)
    earlier = find_earlier_copies(store, preview)
    copy = next(iter(earlier.copies.values()), None)
    if earlier.batch is None and copy is not None:
        # The same event from another form page: no new, empty batch; the one that has it.
        flash(_identical_event(draft.title, when, draft.timezone, copy), "warning")
        return redirect(url_to("submit.batch", batch_id=copy.batch_id))
    result = submit_preview(store, preview, at=datetime.now(UTC))
    if result.is_resubmission:
        flash(_already_submitted(result, "This event"), "warning")
    elif result.copies_skipped:  # queued from another page since the look above
        flash(
            f"Nothing was queued: an event identical to {draft.title!r} ({when.local} "
            f"{draft.timezone}) was already queued or sent. Change something to make another.",
            "warning",
        )
    else:
        flash(
            f"Queued {draft.title!r}: {when.local} {draft.timezone} ({when.duration}), "
            f"which is {when.utc}."
        )
        for note in dict.fromkeys([*row.notes, *draft.notes]):
            flash(f"Note: {note}.", "warning")
    return redirect(url_to("submit.batch", batch_id=result.batch_id))


def _identical_event(title: str, when: When, zone: str, copy: OutboxItem) -> str:
    done = "sent to Trackops" if copy.state == "sent" else "queued"
    event = f" as event {copy.event_id}" if copy.event_id is not None else ""
    return (
        f"Nothing new was queued: an event identical to {title!r} ({when.local} {zone}) was "
        f"already {done}{event}, in batch {copy.batch_id} (below). Change something to make "
        "another."
    )


def _render_event_form(form: EventForm, *, status: int = 200) -> Page:
    choices = _choices()
    options = entry_options(current_settings())
    country = form.values.get("country") or options.default_country
    page = render_template(
        "submit/event_form.html",
        form=form,
        labels=LABELS,
        choices=choices,
        subjects=choices.subjects_of(form.values.get("case", "")),
        services=choices.services_of(form.values.get("case", "")),
        case_value=case_value,
        service_label=service_label,
        state_country=country if country in choices.states else "",
        zone_placeholder=choices.zone_for(form.values.get("calendar", "")),
        default_country=options.default_country,
        zones=sorted(offered_zones()),
    )
    return page, status


def _choices() -> FormChoices:
    store = current_store()
    return form_choices(
        calendars=store.list_calendars(),
        cases=store.list_cases(),
        subjects=store.list_subjects(),
        services=store.case_services(),
        staff=store.list_staff(),
        default_timezone=current_settings().default_timezone,
    )


# -- uploads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadChoices:
    """What the upload form adds to the file: calendar and case for .ics files, and how far
    to expand repeating events (YYYY-MM-DD, as the date input posts it)."""

    calendar: str = ""
    case: str = ""
    expand_until: str = ""

    @classmethod
    def of(cls, values: Mapping[str, str]) -> UploadChoices:
        return cls(**{name: values.get(name, "").strip() for name in _UPLOAD_CHOICES})

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in _UPLOAD_CHOICES}

    def expand_until_date(self) -> date | None:
        """The date, or None when blank; ValueError when it is not a date."""
        return date.fromisoformat(self.expand_until) if self.expand_until else None


_UPLOAD_CHOICES = ("calendar", "case", "expand_until")


@bp.get("/admin/uploads")
def uploads() -> str:
    return _render_upload_form(UploadChoices(), {})[0]


@bp.post("/admin/uploads")
def upload() -> Response | Page:
    chosen = UploadChoices.of(request.form)
    errors: dict[str, str] = {}
    file = request.files.get("file")
    data = file.read() if file is not None else b""
    if file is None or not file.filename:
        errors["file"] = "Choose a CSV or .ics file to upload."
    elif not data:
        errors["file"] = f"{file.filename} is empty."
    try:
        chosen.expand_until_date()
    except ValueError:
        errors["expand_until"] = f"{chosen.expand_until!r} is not a date: use YYYY-MM-DD."
    if errors or file is None:
        return _render_upload_form(chosen, errors, status=400)
    filename = plain_filename(file.filename or "")
    parsed = _parse_upload(data, filename, chosen)
    upload_id = current_store().save_upload(
        data, filename, chosen.as_dict(), datetime.now(UTC), parsed=parsed.to_json()
    )
    # Redirect, so reloading the preview never posts the file again.
    return redirect(url_to("submit.preview_upload", upload_id=upload_id))


def _parse_upload(data: bytes, filename: str, chosen: UploadChoices) -> ParsedFile:
    """The one reading of an uploaded file (bounded by the entries' budget)."""
    return parse_file(
        data,
        filename,
        calendar=chosen.calendar,
        case=chosen.case,
        expand_until=chosen.expand_until_date(),
    )


@bp.get("/admin/uploads/<upload_id>")
def preview_upload(upload_id: str) -> Page:
    preview = _load_preview(upload_id)
    if preview is None:
        return _upload_gone()
    return _render_preview(upload_id, preview)


@bp.post("/admin/uploads/confirm")
def confirm_upload() -> Response | Page:
    upload_id = request.form.get("upload_id", "")
    preview = _load_preview(upload_id)
    if preview is None:
        return _upload_gone()
    if not preview.ready:
        return _render_preview(
            upload_id, preview, status=400, error="No row is ready: nothing was queued."
        )
    if request.form.get("preview_digest") != preview_digest(preview):
        # The mirror changed between looking and confirming (a new staff member, a renamed
        # calendar): what would be sent is not what was shown.
        return _render_preview(
            upload_id,
            preview,
            status=409,
            error="The preview changed since it was shown (the mirror was updated): check the "
            "rows below and confirm again.",
        )
    earlier = find_earlier_copies(current_store(), preview)
    if earlier.batch is None and not earlier.new_rows(preview):
        # Every ready row is already queued or sent from another upload: no empty batch.
        return _render_preview(
            upload_id,
            preview,
            status=409,
            error="Nothing to queue: every ready row is identical to an event already queued or "
            "sent (each is marked below with its batch).",
        )
    result = submit_preview(current_store(), preview, at=datetime.now(UTC))
    if result.is_resubmission and not result.queued:
        flash(_already_submitted(result, "This file"), "warning")
        return redirect(url_to("submit.batch", batch_id=result.batch_id))
    flash(
        f"{preview.label}: {result.summary()}",
        "warning" if result.copies_skipped or not result.queued else "message",
    )
    if left_out := len(preview.invalid):
        flash(
            f"{left_out} row{'s' if left_out != 1 else ''} with mistakes "
            f"{'were' if left_out != 1 else 'was'} not queued: fix "
            f"{'them' if left_out != 1 else 'it'} from the list below and upload "
            f"{'them' if left_out != 1 else 'it'} again.",
            "warning",
        )
    return redirect(url_to("submit.batch", batch_id=result.batch_id))


def preview_digest(preview: BatchPreview) -> str:
    """Names exactly the drafts a preview would queue, so a confirm sends what was shown."""
    keys = sorted(
        idempotency_key(row.draft, preview.batch_key)
        for row in preview.rows
        if row.draft is not None
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _load_preview(upload_id: str) -> BatchPreview | None:
    """The stored upload's kept parse, checked against the mirror as it is now; None if gone."""
    store = current_store()
    upload = store.get_upload(upload_id) if upload_id else None
    if upload is None:
        return None
    parsed = ParsedFile.from_json(upload.parsed) if upload.parsed is not None else None
    if parsed is None:
        # Saved before uploads kept their parse (or in an older shape): read it, once more.
        chosen = UploadChoices.of(upload.choices)  # checked before the upload was saved
        parsed = _parse_upload(upload.data, upload.filename, chosen)
    return preview_parsed(
        parsed, directory=directory_from_store(store), options=entry_options(current_settings())
    )


def _upload_gone() -> Page:
    page = render_template(
        "error.html",
        title="Upload not found",
        message="This upload is no longer kept: uploads wait a day for confirmation.",
        advice="Upload the file again; rows already submitted from it are not sent twice.",
    )
    return page, 404


def _render_preview(
    upload_id: str, preview: BatchPreview, *, status: int = 200, error: str = ""
) -> Page:
    earlier = find_earlier_copies(current_store(), preview)
    page = render_template(
        "submit/preview.html",
        preview=preview,
        rows=preview_rows(preview, _names()),
        upload_id=upload_id,
        digest=preview_digest(preview),
        earlier=earlier,
        copies=earlier.copies_by_row(preview),
        new_rows=earlier.new_rows(preview),
        error=error,
    )
    return page, status


def _render_upload_form(
    chosen: UploadChoices, errors: dict[str, str], *, status: int = 200
) -> Page:
    options = entry_options(current_settings())
    page = render_template(
        "submit/upload.html",
        chosen=chosen,
        errors=errors,
        choices=_choices(),
        case_value=case_value,
        columns=COLUMNS,
        required_columns=REQUIRED_COLUMNS,
        options=options,
        date_order_words=_date_order_words(options),
        max_upload=MAX_UPLOAD_BYTES,
    )
    return page, status


def _date_order_words(options: EntryOptions) -> str:
    if options.date_order == "DMY":
        return "03/04/2026 is read as day/month/year (3 April 2026)."
    if options.date_order == "MDY":
        return "03/04/2026 is read as month/day/year (March 4, 2026)."
    return (
        "A date like 03/04/2026 that could be either day/month or month/day is refused; "
        "13/04/2026 is fine."
    )


@bp.get("/admin/uploads/template.csv")
def upload_template() -> Response:
    response = make_response(csv_template().encode("utf-8-sig"))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="events-template.csv"'
    return response


@bp.app_errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge) -> Page:
    """A page that says what the limit is, instead of a bare 413."""
    page = render_template(
        "error.html",
        title="The file is too large",
        message=f"An upload may be at most {MAX_UPLOAD_BYTES / 1_000_000:.0f} MB.",
        advice="Split the file into smaller ones (a CSV of 1,000 rows is well under the "
        "limit), or for an .ics export choose a shorter date range.",
    )
    return page, 413


# -- batches -------------------------------------------------------------------------------


@bp.get("/admin/batches")
def batches() -> str:
    store = current_store()
    found = store.list_batches()
    counts = store.batch_counts(b.batch_id for b in found)
    return render_template("submit/batches.html", rows=[(b, counts[b.batch_id]) for b in found])


def _batch_number(text: str) -> int:
    """A batch id from the address; ASCII digits only (werkzeug's int converter takes "١")."""
    if not _BATCH_ID.fullmatch(text):
        abort(404)
    return int(text)


_BATCH_ID = re.compile(r"[0-9]{1,18}")


@bp.get("/admin/batches/<batch_id>")
def batch(batch_id: str) -> str:
    store = current_store()
    progress = store.batch_progress(_batch_number(batch_id))  # NotFound: the 404 page
    is_worker_idle = is_heartbeat_stale(store.get_sync_state(), current_settings())
    rejected = RejectedRows.from_json(progress.batch.rejected)
    items = item_rows(progress.items, _names())
    return render_template(
        "submit/batch.html",
        batch=progress.batch,
        progress=progress,
        # Every row of the batch in the file's order: the queued ones and those not sent.
        rows=sorted(
            [*(("item", view.item.row, view) for view in items)]
            + [("rejected", view.row, view) for view in rejected_rows(rejected)],
            key=lambda entry: entry[1] if entry[1] is not None else 0,
        ),
        items=items,
        can_fix=rejected.can_download,
        state_words=STATE_WORDS,
        is_worker_idle=is_worker_idle and not progress.is_finished,
        refresh_seconds=REFRESH_SECONDS,
    )


@bp.get("/admin/batches/<batch_id>/results.csv")
def batch_results(batch_id: str) -> Response:
    progress = current_store().batch_progress(_batch_number(batch_id))
    response = make_response(render_results_csv(item_rows(progress.items, _names())))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="batch-{batch_id}-results.csv"'
    return response


@bp.get("/admin/batches/<batch_id>/to-fix.csv")
def batch_rows_to_fix(batch_id: str) -> Response:
    batch = current_store().get_batch(_batch_number(batch_id))
    rejected = RejectedRows.from_json(batch.rejected if batch else None)
    if batch is None or not rejected.can_download:
        abort(404)
    response = make_response(render_fix_csv(rejected))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    stem = PurePosixPath(batch.label).stem or f"batch-{batch_id}"
    # ASCII only in the header: the file's own name may not be.
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or f"batch-{batch_id}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-to-fix.csv"'
    return response


def _names() -> Names:
    store = current_store()
    return Names.of(
        store.list_calendars(), store.list_cases(), store.list_subjects(), store.list_staff()
    )


def _already_submitted(result: SubmitResult, what: str) -> str:
    return (
        f"{what} was already submitted on {result.first_submitted_at:%Y-%m-%d %H:%M} UTC "
        f"(batch {result.batch_id}); nothing new was queued."
    )
