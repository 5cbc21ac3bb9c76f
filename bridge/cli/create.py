"""Commands that create events: submit a CSV or .ics file, and follow its batches."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from bridge.assembly import build_client, open_current_store
from bridge.cli.app import current_settings, main, reports_errors
from bridge.config import Settings
from bridge.entries import FieldError
from bridge.errors import BridgeError, SubmissionError
from bridge.feed_engine import FeedEngine, render_after_pass, render_options
from bridge.sending import drain_outbox
from bridge.store import BatchProgress, OutboxItem, Store
from bridge.submissions import (
    BatchPreview,
    EarlierCopies,
    PreviewRow,
    directory_from_store,
    entry_options,
    find_earlier_copies,
    preview_file,
    submit_preview,
)
from bridge.trackops.client import TrackopsClient


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--calendar",
    default="",
    help="Calendar (name or id) for rows that name none, and for every .ics event.",
)
@click.option(
    "--case",
    default="",
    help="Case (number, reference or id) for rows that name none, and for every .ics event.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Expand repeating .ics events up to this day (YYYY-MM-DD); else they are refused.",
)
@click.option("--dry-run", is_flag=True, help="Show the preview only: nothing is queued or sent.")
@click.option("--yes", "-y", is_flag=True, help="Send without asking for confirmation.")
@click.option(
    "--skip-invalid", is_flag=True, help="Send the ready rows even if others have errors."
)
@reports_errors
def submit(
    file: Path,
    calendar: str,
    case: str,
    until: datetime | None,
    dry_run: bool,
    yes: bool,
    skip_invalid: bool,
) -> None:
    """Create Trackops events from a CSV or .ics file: preview, confirm, send.

    Prints every row (ready, or all its errors) and sends nothing while any row has errors,
    unless --skip-invalid. Confirmed rows go to the outbox; a running worker sends them,
    otherwise this command sends them itself at Trackops' pace. The same file submitted again
    sends nothing new.
    """
    settings = current_settings()
    with open_current_store(settings) as store:
        directory = directory_from_store(store)
        if not store.list_calendars():
            raise SubmissionError(
                "the mirror has no calendars yet: run `trackops-bridge poll --once` first"
            )
        preview = preview_file(
            file.read_bytes(),
            file.name,
            directory=directory,
            options=entry_options(settings),
            calendar=calendar,
            case=case,
            expand_until=until.date() if until else None,
        )
        earlier = find_earlier_copies(store, preview)
        _echo_preview(preview, earlier)
        if not preview.rows:
            click.echo("Nothing in this file can be sent.", err=True)
            sys.exit(1)
        if preview.invalid and not skip_invalid:
            n = len(preview.invalid)
            click.echo(
                f"{n} row{'s have' if n != 1 else ' has'} errors: nothing was sent. Fix "
                "them and submit the file again"
                + (
                    f", or pass --skip-invalid to send the {len(preview.ready)} ready "
                    f"row{'s' if len(preview.ready) != 1 else ''}."
                    if preview.ready
                    else "."
                ),
                err=True,
            )
            sys.exit(1)
        if not preview.ready:
            click.echo("No row is ready: nothing to send.", err=True)
            sys.exit(1)
        if dry_run:
            click.echo("Dry run: nothing was queued or sent.")
            return
        new = earlier.new_rows(preview)
        if new and not yes:
            _confirm_or_exit(f"Send {new} event{'s' if new != 1 else ''} to Trackops?")
        result = submit_preview(store, preview, at=datetime.now(UTC))
        click.echo(result.summary())
        if _is_worker_running(store, settings):
            click.echo(
                f"The worker is running and will send them (about one a second). Follow "
                f"with `trackops-bridge batch {result.batch_id}`."
            )
            return
        try:
            with build_client(settings) as client:
                _send_batch(client, store, result.batch_id)
        except BridgeError:
            # Show how far it got before the one-line error: nothing is lost, and a second
            # run (or the worker) checks any unanswered send in Trackops before sending it.
            progress = store.batch_progress(result.batch_id)
            _echo_items(progress.items)
            click.echo(_progress_line(progress))
            click.echo(
                f"Sending stopped. Run this command again later, or start the worker, to "
                f"finish batch {result.batch_id}: nothing will be sent twice.",
                err=True,
            )
            raise
        progress = store.batch_progress(result.batch_id)
    _echo_items(progress.items)
    click.echo(_progress_line(progress))
    if not progress.is_finished or progress.counts["failed"]:
        sys.exit(1)


@main.command()
@click.option("--limit", default=20, show_default=True, help="How many batches to list.")
@reports_errors
def batches(limit: int) -> None:
    """List recent batches of submitted events, newest first, with how far each got."""
    with open_current_store(current_settings()) as store:
        found = store.list_batches(limit)
        counts = store.batch_counts(b.batch_id for b in found)
    if not found:
        click.echo("No batches yet: `trackops-bridge submit FILE` creates one.")
        return
    click.echo(
        f"{'ID':>5}  {'Submitted (UTC)':<16}  {'Kind':<4}  {'Sent':>9}  {'Failed':>6}  Label"
    )
    for batch in found:
        count = counts[batch.batch_id]
        total = sum(count.values())
        sent = f"{count['sent']}/{total}"
        click.echo(
            f"{batch.batch_id:>5}  {batch.created_at:%Y-%m-%d %H:%M}  {batch.source:<4}  "
            f"{sent:>9}  {count['failed']:>6}  {batch.label}"
        )


@main.command()
@click.argument("batch_id", type=int)
@reports_errors
def batch(batch_id: int) -> None:
    """Show batch BATCH_ID: how many were sent, each row's event id or Trackops' error."""
    with open_current_store(current_settings()) as store:
        progress = store.batch_progress(batch_id)
    found = progress.batch
    click.echo(
        f"Batch {found.batch_id}: {found.label} ({found.source}), submitted "
        f"{found.created_at:%Y-%m-%d %H:%M} UTC"
    )
    click.echo(
        f"Rows: {found.total} ({found.ready} ready"
        + (f", {found.invalid} with errors, not queued" if found.invalid else "")
        + ")"
    )
    _echo_items(progress.items)
    click.echo(_progress_line(progress))


def _confirm_or_exit(question: str) -> None:
    try:
        is_yes = click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo("\nNo answer (no input): pass --yes to send without asking.", err=True)
        sys.exit(1)
    if not is_yes:
        click.echo("Nothing was sent.", err=True)
        sys.exit(1)


def _is_worker_running(store: Store, settings: Settings) -> bool:
    """A live worker drains the outbox within seconds of its next look (see bridge.worker)."""
    return store.get_sync_state().is_worker_alive(settings.poll_interval, datetime.now(UTC))


def _send_batch(client: TrackopsClient, store: Store, batch_id: int) -> None:
    """Send the batch now: a progress bar on a terminal; elsewhere the sender logs each item."""
    total = store.count_outbox_items(batch_id=batch_id)
    if not total:
        return
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="Sending events", file=sys.stderr) as bar:
            result = drain_outbox(
                client, store, batch_id=batch_id, progress=lambda item: bar.update(1)
            )
    else:
        result = drain_outbox(client, store, batch_id=batch_id)
    # No worker is running to render what was sent: the feeds show it now, as promised.
    render_after_pass(FeedEngine(store, render_options(current_settings())))
    if result.is_busy:
        click.echo(
            f"Another trackops-bridge process is sending the outbox; it will send these too. "
            f"Follow with `trackops-bridge batch {batch_id}`."
        )
    if result.waiting:
        click.echo(
            f"{result.waiting} event(s) were being sent moments ago and may exist already: "
            "run this command again in a minute to check them (nothing is sent twice)."
        )


def _echo_preview(preview: BatchPreview, earlier: EarlierCopies) -> None:
    for error in preview.file_errors:
        click.echo(f"error: {error}")
    for notice in preview.notices:
        click.echo(f"note: {notice}")
    width = max((len(row.where) for row in preview.rows), default=0)
    copies = earlier.copies_by_row(preview)
    for row in preview.rows:
        status = "ready" if row.is_ready else "invalid"
        click.echo(f"{row.where:<{width}}  {status:<7}  {_describe_row(row)}")
        indent = " " * (width + 11)
        for error in row.errors:
            click.echo(f"{indent}{_field_words(error)}")
        for note in row.notes:
            click.echo(f"{indent}note: {note}")
        if (copy := copies.get(row.where)) is not None:
            sent = f" as event {copy.event_id}" if copy.event_id is not None else ""
            click.echo(
                f"{indent}left out: identical to {copy.where} of batch {copy.batch_id} "
                f"({copy.state}{sent})"
            )
    ready, invalid = len(preview.ready), len(preview.invalid)
    click.echo(f"{len(preview.rows)} rows: {ready} ready, {invalid} with errors.")
    if preview.encoding:
        click.echo(
            f"The file was read as {preview.encoding}."
            + (
                ""
                if preview.is_utf8
                else " If letters look wrong above, save it as UTF-8 and submit it again."
            )
        )
    if earlier.batch is not None:
        click.echo(
            f"This file was already submitted on {earlier.batch.created_at:%Y-%m-%d %H:%M} UTC "
            f"as batch {earlier.batch.batch_id}: {earlier.already_queued} of its rows are "
            "queued or sent already and will not be sent again."
        )


def _describe_row(row: PreviewRow) -> str:
    if row.draft is None:
        when = " ".join(p for p in (row.entry.start_date, row.entry.start_time) if p)
        return " · ".join(p for p in (row.entry.title, when) if p)
    draft = row.draft
    zone = ZoneInfo(draft.timezone)
    start, end = draft.start_at.astimezone(zone), draft.end_at.astimezone(zone)
    if draft.is_allday:
        days = f"{start:%Y-%m-%d}" + (f" – {end:%Y-%m-%d}" if end.date() != start.date() else "")
        return f"{draft.title} · {days} (all day)"
    ends = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{draft.title} · {start:%Y-%m-%d %H:%M} – {ends} {draft.timezone}"


def _field_words(error: FieldError) -> str:
    if error.field == "file":
        return error.message
    return f"{error.column or error.field}: {error.message}"


def _echo_items(items: list[OutboxItem]) -> None:
    width = max((len(item.where) for item in items), default=0)
    for item in items:
        event = f"event {item.event_id}" if item.event_id is not None else ""
        line = f"{item.where:<{width}}  {item.state:<7}  {event:<12}  {item.title}"
        if item.error:
            line += f" — {item.error}"
        click.echo(line.rstrip())


def _progress_line(progress: BatchProgress) -> str:
    counts = progress.counts
    created = [item.event_id for item in progress.items if item.event_id is not None]
    line = f"Sent {counts['sent']} of {progress.total}"
    if counts["failed"]:
        line += f", {counts['failed']} refused by Trackops"
    unfinished = counts["pending"] + counts["sending"] + counts["unknown"]
    if unfinished:
        line += f", {unfinished} still to send or to check"
    if created:
        line += f". Created event ids: {', '.join(map(str, created))}"
    return line + "."
