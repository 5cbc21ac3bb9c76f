"""`trackops-bridge` subcommands: load settings, build the parts, call one function, summarise.

This module and the Flask app factory are the only places that wire parts together. Every
command turns a `BridgeError` into a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import click

from bridge import __version__
from bridge.config import Settings, load_settings, settings_schema
from bridge.entries import FieldError, idempotency_key
from bridge.errors import BridgeError
from bridge.outbox import OutboxSender, drain_outbox
from bridge.store import BatchProgress, OutboxItem, Store, open_store
from bridge.submissions import (
    BatchPreview,
    EarlierCopies,
    PreviewRow,
    SubmissionError,
    directory_from_store,
    entry_options,
    find_earlier_copies,
    preview_file,
    submit_preview,
)
from bridge.sync import PollResult, Syncer, SyncOptions
from bridge.trackops.client import TrackopsClient
from bridge.trackops.records import describe_event_keys, missing_event_fields
from bridge.worker import Worker, interruptible_sleep

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("bridge")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a BridgeError into `error: ...` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BridgeError as error:
            click.echo(f"error: {error.describe()}", err=True)
            sys.exit(1)

    return wrapper


def _settings() -> Settings:
    return load_settings()


def build_client(settings: Settings, **overrides: Any) -> TrackopsClient:
    settings.require_trackops()
    return TrackopsClient(
        settings.api_base_url,
        settings.trackops_username,
        settings.trackops_api_token,
        rate_limit=settings.trackops_rate_limit,
        timeout=settings.http_timeout,
        max_retries=settings.max_retries,
        **overrides,
    )


def open_current_store(settings: Settings) -> Store:
    """The store, refusing to run on a schema older than this code (say: run migrate)."""
    store = open_store(settings.database_url)
    store.require_current_schema()
    return store


def sync_options(settings: Settings) -> SyncOptions:
    return SyncOptions(
        overlap=timedelta(seconds=settings.sync_overlap),
        feed_past_days=settings.feed_past_days,
        reconcile_interval=timedelta(seconds=settings.reconcile_interval),
        reference_interval=timedelta(seconds=settings.reference_interval),
        default_privacy=settings.default_privacy,
    )


@contextmanager
def progress_reporter() -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on a terminal, a log line every 10 pages otherwise."""
    started = datetime.now(UTC)
    bar: Any = None

    def report(done: int, total: int | None) -> None:
        nonlocal bar
        if total is None:
            return
        if sys.stderr.isatty():
            if bar is None:
                bar = click.progressbar(length=total, label="Fetching events", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)
            return
        if done % 1000 < 100 or done >= total:
            elapsed = max((datetime.now(UTC) - started).total_seconds(), 1e-6)
            rate = done / elapsed
            eta = (total - done) / rate if rate else 0
            log.info("fetched %d of %d events (%.1f/s, about %.0f s left)", done, total, rate, eta)

    try:
        yield report
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trackops-bridge")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (never the token).")
def main(verbose: bool) -> None:
    """Mirror Trackops events, publish them as calendar feeds, create events from files.

    Settings come from the environment or a .env file: see `trackops-bridge settings`.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("bridge").setLevel(logging.INFO)
        logging.getLogger("bridge.trackops.client").setLevel(logging.WARNING)


@main.command()
def settings() -> None:
    """List every setting, its environment variable and default."""
    for row in settings_schema():
        default = "(secret)" if row["secret"] and row["default"] else row["default"]
        click.echo(f"{row['env']:<28} {default or '-':<24} {row['help']}")


@main.command()
@reports_errors
def check() -> None:
    """Check the Trackops credentials and show how the bridge reads your events.

    Run this first against a real account: it says whether authentication works, fetches one
    event, and prints each raw field beside the bridge field it maps to.
    """
    settings = _settings()
    with build_client(settings) as client:
        click.echo(f"Trackops: {settings.api_base_url} as {settings.trackops_username}/token")
        total = client.count("/events").record_count
        click.echo(f"Authentication: OK. Events visible to this account: {total}")
        first = next(iter(client.iter_event_pages(dir="desc")), None)
        if first is None or not (first.records or first.problems):
            click.echo("No events to inspect yet.")
            return
        event_id = first.records[0].event_id if first.records else first.problems[0].record_id
        raw = client.get_raw_event(int(str(event_id)))
        click.echo(f"\nEvent {event_id}, as Trackops sends it -> as the bridge reads it:")
        for key, field in describe_event_keys(raw):
            click.echo(f"  {key:<20} -> {field}")
        missing = [f for f in missing_event_fields(raw) if f not in OPTIONAL_CHECK_FIELDS]
        if missing:
            click.echo(f"\nNot found in this record: {', '.join(missing)}")
        event = client.get_event(int(str(event_id)))
        click.echo(
            f"\nRead as: {event.title!r}, {event.start_at:%Y-%m-%d %H:%M} UTC to "
            f"{event.end_at:%Y-%m-%d %H:%M} UTC, zone {event.timezone or '(none)'}, "
            f"calendar {event.calendar_id}, case {event.case_id}"
        )
        if event.timezone:
            from bridge.entries.zones import ZoneError, resolve_zone

            try:
                local = event.start_at.astimezone(ZoneInfo(resolve_zone(event.timezone)))
                click.echo(f"Local start in its zone: {local:%Y-%m-%d %H:%M %Z (UTC%z)}")
            except ZoneError as error:
                click.echo(f"Warning: the event's zone is not one the bridge knows: {error}")
        if first.problems:
            click.echo(
                f"\nWarning: {len(first.problems)} record(s) on the first page could not "
                f"be read, e.g. {first.problems[0]}"
            )


# Fields an event may legitimately lack; `check` doesn't flag them.
OPTIONAL_CHECK_FIELDS = {"subject_id", "case_service_id", "address", "alert_at", "body"}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.option("--events", default=300, show_default=True, help="Seed events to generate.")
@click.option(
    "--rate-limit",
    default=1.0,
    show_default=True,
    help="Requests per second allowed; 0 turns the limit off.",
)
@click.option("--seed", default=7, show_default=True, help="Seed for the generated data.")
@reports_errors
def sandbox(host: str, port: int, events: int, rate_limit: float, seed: int) -> None:
    """Run the simulated Trackops API (for the demo, tests and trying things safely).

    It accepts TRACKOPS_USERNAME / TRACKOPS_API_TOKEN when they are set, so one .env drives
    sandbox and bridge alike; otherwise it prints the demo credentials it accepts.
    """
    from bridge.sandbox.app import SandboxOptions
    from bridge.sandbox.server import serve_forever

    settings = load_settings()
    options = SandboxOptions(events=events, rate_limit=rate_limit or None, seed=seed)
    if settings.trackops_username and settings.trackops_api_token:
        options = SandboxOptions(
            username=settings.trackops_username,
            token=settings.trackops_api_token,
            events=events,
            rate_limit=rate_limit or None,
            seed=seed,
        )
    serve_forever(host, port, options)


@main.command()
@reports_errors
def migrate() -> None:
    """Create or upgrade the database schema (safe to run at every release)."""
    settings = _settings()
    with open_store(settings.database_url) as store:
        applied = store.migrate()
        version = store.schema_version()
    if applied:
        click.echo(
            f"Applied migrations {', '.join(map(str, applied))}; schema at version {version}."
        )
    else:
        click.echo(f"Schema already current (version {version}).")


@main.command()
@click.option("--once", is_flag=True, required=True, help="Run one pass and exit.")
@click.option("--reconcile", is_flag=True, help="Also check for deleted events now.")
@reports_errors
def poll(once: bool, reconcile: bool) -> None:
    """Run one sync pass against Trackops and print what changed."""
    settings = _settings()
    with (
        build_client(settings) as client,
        open_current_store(settings) as store,
        progress_reporter() as progress,
    ):
        syncer = Syncer(client, store, sync_options(settings), progress=progress)
        result: PollResult = syncer.poll(reconcile=True if reconcile else None)
    for problem in result.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(result.summary())


@main.command()
@reports_errors
def worker() -> None:
    """Poll Trackops every BRIDGE_POLL_INTERVAL seconds until stopped (SIGTERM/SIGINT)."""
    settings = _settings()
    with open_current_store(settings) as store:
        runner = build_worker(settings, store, threading.Event())
        runner.install_signal_handlers()
        runner.run()


def build_worker(settings: Settings, store: Store, stop_event: threading.Event) -> Worker:
    """A worker whose client's waits (pacing, backoff) end at once when it is asked to stop."""
    client = build_client(settings, sleep=interruptible_sleep(stop_event))
    syncer = Syncer(client, store, sync_options(settings))
    return Worker(
        syncer,
        store,
        poll_interval=settings.poll_interval,
        stop_event=stop_event,
        outbox=OutboxSender(client, store),
    )


@main.command()
@reports_errors
def status() -> None:
    """Sync health: last success, lag, counts, last error."""
    from bridge.web.display import describe_age

    settings = _settings()
    with open_current_store(settings) as store:
        state = store.get_sync_state()
        live, deleted = store.count_events(), store.count_deleted_events()
    now = datetime.now(UTC)

    def ago(when: datetime | None) -> str:
        if when is None:
            return "never"
        return f"{when:%Y-%m-%d %H:%M:%S} UTC ({describe_age(now - when)} ago)"

    click.echo(f"Last successful poll: {ago(state.last_success_at)}")
    click.echo(f"Last attempt:         {ago(state.last_attempt_at)}")
    click.echo(f"Worker heartbeat:     {ago(state.heartbeat_at)}")
    click.echo(f"Deletions checked:    {ago(state.last_reconcile_at)}")
    click.echo(f"Events mirrored:      {live} ({deleted} deleted)")
    click.echo(f"Requests:             {state.requests_total} ({state.rate_limited_total} 429s)")
    if state.last_error:
        click.echo(f"Last error:           {state.last_error} at {ago(state.last_error_at)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@reports_errors
def web(host: str, port: int) -> None:
    """Serve the feeds and admin pages for development (production: gunicorn, see Procfile)."""
    from bridge.web import create_app

    app = create_app(_settings())
    app.run(host=host, port=port, threaded=True)


@main.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web app.")
@click.option("--events", default=300, show_default=True, help="Events in the sandbox.")
@reports_errors
def demo(port: int, events: int) -> None:
    """Run sandbox, worker and web together on 127.0.0.1, with SQLite under ./var/demo/.

    Prints the admin URL, its login and feed URLs. Ctrl-C stops everything.
    """
    from bridge.demo import run_demo

    run_demo(port=port, events=events, echo=click.echo)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@reports_errors
def feeds(ctx: click.Context, as_json: bool) -> None:
    """List the published feeds with their subscription URLs (these URLs are secrets)."""
    if ctx.invoked_subcommand is not None:
        return
    from bridge.web.feeds import feed_url

    settings = _settings()
    with open_current_store(settings) as store:
        rows = [
            {
                "kind": feed.kind.value,
                "id": feed.feed_id,
                "target_id": feed.target_id,
                "name": feed.name,
                "privacy": feed.privacy.value,
                "timezone": feed.timezone,
                "url": feed_url(settings.public_url, feed),
            }
            for feed in store.list_feeds()
        ]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo(
            "No feeds yet: they appear after the first poll (`trackops-bridge poll --once`)."
        )
    for row in rows:
        click.echo(
            f"{row['id']:>4}  {row['kind']:<8} {row['privacy']:<7} {row['name']:<30} {row['url']}"
        )


@feeds.command("rotate")
@click.argument("feed_id", type=int)
@reports_errors
def feeds_rotate(feed_id: int) -> None:
    """Give feed FEED_ID a new URL; the old one stops working at once."""
    from bridge.web.feeds import feed_url

    settings = _settings()
    with open_current_store(settings) as store:
        feed = store.rotate_feed_token(feed_id)
    click.echo(f"New URL for {feed.name!r} (the old one no longer works):")
    click.echo(feed_url(settings.public_url, feed))


@main.group(invoke_without_command=True)
@click.pass_context
@reports_errors
def calendars(ctx: click.Context) -> None:
    """List Trackops calendars (found from their events) with names and default zones."""
    if ctx.invoked_subcommand is not None:
        return
    with open_current_store(_settings()) as store:
        found = store.list_calendars()
    if not found:
        click.echo("No calendars yet: they appear after the first poll.")
    for calendar in found:
        click.echo(f"{calendar.calendar_id:>6}  {calendar.name:<32} {calendar.timezone or '-'}")


@calendars.command("rename")
@click.argument("calendar_id", type=int)
@click.argument("name")
@reports_errors
def calendars_rename(calendar_id: int, name: str) -> None:
    """Name calendar CALENDAR_ID (Trackops' API doesn't give calendar names)."""
    name = name.strip()
    if not name:
        raise click.BadParameter("give a name with at least one visible character")
    with open_current_store(_settings()) as store:
        store.rename_calendar(calendar_id, name)
    click.echo(f"Calendar {calendar_id} is now {name!r}.")


@calendars.command("timezone")
@click.argument("calendar_id", type=int)
@click.argument("zone")
@reports_errors
def calendars_timezone(calendar_id: int, zone: str) -> None:
    """Set the zone used for CALENDAR_ID's events that have none (IANA name, or 'none')."""
    from bridge.entries.zones import ZoneError, resolve_zone

    try:
        value = None if zone.lower() == "none" else resolve_zone(zone)
    except ZoneError as error:
        raise click.BadParameter(str(error)) from None
    with open_current_store(_settings()) as store:
        store.set_calendar_timezone(calendar_id, value)
    click.echo(f"Calendar {calendar_id}: default zone {value or '(none)'}.")


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


# -- creating events ---------------------------------------------------------------------------


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
    settings = _settings()
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
    with open_current_store(_settings()) as store:
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
    with open_current_store(_settings()) as store:
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
    """A worker beat within three poll intervals: it will drain the outbox before its next poll."""
    beat = store.get_sync_state().heartbeat_at
    stale_after = timedelta(seconds=settings.poll_interval * 3)
    return beat is not None and datetime.now(UTC) - beat < stale_after


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
    for row in preview.rows:
        status = "ready" if row.is_ready else "invalid"
        click.echo(f"{row.where:<{width}}  {status:<7}  {_describe_row(row)}")
        indent = " " * (width + 11)
        for error in row.errors:
            click.echo(f"{indent}{_field_words(error)}")
        for note in row.notes:
            click.echo(f"{indent}note: {note}")
        if row.draft is not None:
            key = idempotency_key(row.draft, preview.batch_key)
            copy = earlier.copies.get(key)
            if copy is not None:
                sent = f" as event {copy.event_id}" if copy.event_id is not None else ""
                click.echo(
                    f"{indent}left out: identical to {copy.where} of batch {copy.batch_id} "
                    f"({copy.state}{sent})"
                )
    ready, invalid = len(preview.ready), len(preview.invalid)
    click.echo(f"{len(preview.rows)} rows: {ready} ready, {invalid} with errors.")
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


if __name__ == "__main__":  # pragma: no cover
    main()
