"""Commands of the mirror: settings, check, sandbox, migrate, poll, worker, status."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from bridge.assembly import (
    build_client,
    build_worker,
    open_current_store,
    store_slots,
    sync_options,
)
from bridge.cli.app import current_settings, main, progress_reporter, reports_errors
from bridge.config import load_settings, settings_schema
from bridge.errors import BridgeError
from bridge.feed_engine import FeedEngine, render_after_pass, render_options
from bridge.store import Lease, open_store
from bridge.sync import PollResult, Syncer
from bridge.trackops.records import describe_event_keys, missing_event_fields, read_event
from bridge.worker import LeaseKeeper, lease_holder


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
    settings = current_settings()
    with build_client(settings) as client:
        click.echo(f"Trackops: {settings.api_base_url} as {settings.trackops_username}/token")
        total = client.count("/events").record_count
        click.echo(f"Authentication: OK. Events visible to this account: {total}")
        first = next(iter(client.iter_pages("/events", read_event, dir="desc")), None)
        if first is None or not (first.records or first.problems):
            click.echo("No events to inspect yet.")
            return
        event_id = first.records[0].event_id if first.records else first.problems[0].record_id
        if not isinstance(event_id, int):
            problem = first.problems[0]
            raise BridgeError(
                f"the first event listed has no id the bridge can read: {problem} "
                f"(keys: {', '.join(problem.keys)})",
                advice="send this message to the bridge's maintainers; it names no secret",
            )
        raw = client.get_raw_event(event_id)
        click.echo(f"\nEvent {event_id}, as Trackops sends it -> as the bridge reads it:")
        for key, field in describe_event_keys(raw):
            click.echo(f"  {key:<20} -> {field}")
        missing = [f for f in missing_event_fields(raw) if f not in OPTIONAL_CHECK_FIELDS]
        if missing:
            click.echo(f"\nNot found in this record: {', '.join(missing)}")
        event = read_event(raw)  # the record just fetched: no second request at 1 request/s
        click.echo(
            f"\nRead as: {event.title!r}, {event.start_at:%Y-%m-%d %H:%M} UTC to "
            f"{event.end_at:%Y-%m-%d %H:%M} UTC, zone {event.timezone or '(none)'}, "
            f"calendar {event.calendar_id}, case {event.case_id}"
        )
        if event.timezone:
            from bridge.errors import ZoneError
            from bridge.zone_names import resolve_zone

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
    from bridge.demo import require_sandbox

    sandbox_package = require_sandbox()
    settings = load_settings()
    options = sandbox_package.SandboxOptions(
        events=events, rate_limit=rate_limit or None, seed=seed
    )
    if settings.trackops_username and settings.trackops_api_token:
        options = replace(
            options, username=settings.trackops_username, token=settings.trackops_api_token
        )
    sandbox_package.serve_forever(host, port, options)


@main.command()
@reports_errors
def migrate() -> None:
    """Create or upgrade the database schema (safe to run at every release)."""
    settings = current_settings()
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
@click.option(
    "--wait",
    "wait_for_worker",
    is_flag=True,
    help="When a worker holds the lease, wait until it stops instead of exiting.",
)
@reports_errors
def poll(once: bool, reconcile: bool, wait_for_worker: bool) -> None:
    """Run one sync pass against Trackops and print what changed.

    It takes the worker lease for the pass, as a worker would: while a worker holds it, this
    says so and exits (status 1), or with --wait runs once that worker has stopped.
    """
    settings = current_settings()
    with open_current_store(settings) as store:
        keeper = LeaseKeeper(
            store, holder=lease_holder("poll --once"), duration=settings.worker_lease
        )
        lease = keeper.try_take()
        if not lease.is_held_by(keeper.holder):
            held = _describe_lease(lease)
            if not wait_for_worker:
                raise BridgeError(
                    f"a worker is polling Trackops already ({held}); two at once would race",
                    advice="follow it with `trackops-bridge status`, or run `trackops-bridge "
                    "poll --once --wait` to poll once it has stopped",
                )
            click.echo(f"Waiting for the worker to stop ({held})...", err=True)
            keeper.wait_until_held(time.sleep)
        try:
            slots = store_slots(store, keeper.holder, before=keeper.note_progress)
            with (
                build_client(settings, store=store, shared_slots=slots) as client,
                progress_reporter() as progress,
            ):
                syncer = Syncer(client, store, sync_options(settings), progress=progress)
                result: PollResult = syncer.poll(reconcile=True if reconcile else None)
            # As the worker does after a pass: subscribers get what this poll brought in.
            render_after_pass(FeedEngine(store, render_options(settings)))
        finally:
            keeper.release()
    for problem in result.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(result.summary())


def _describe_lease(lease: Lease) -> str:
    renewed = (lease.now - lease.renewed_at).total_seconds() if lease.renewed_at else 0.0
    left = (lease.expires_at - lease.now).total_seconds() if lease.expires_at else 0.0
    return (
        f"{lease.holder} holds the lease, renewed {renewed:.0f} s ago; were it gone, "
        f"the lease lapses in {left:.0f} s"
    )


@main.command()
@reports_errors
def worker() -> None:
    """Poll Trackops every BRIDGE_POLL_INTERVAL seconds until stopped (SIGTERM/SIGINT).

    Only the worker holding the store's lease polls and sends; a second one waits and takes
    over when the first stops, or within BRIDGE_WORKER_LEASE seconds of it dying.
    """
    settings = current_settings(logs_to_stdout=True)
    with open_current_store(settings) as store:
        runner = build_worker(settings, store, threading.Event())
        runner.install_signal_handlers()
        runner.run()


@main.command()
@reports_errors
def status() -> None:
    """Sync health: last success, lag, counts, last error."""
    from bridge.web.display import describe_age

    settings = current_settings()
    with open_current_store(settings) as store:
        state = store.get_sync_state()
        live, deleted = store.count_events(), store.count_deleted_events()
        problems, problem_counts = store.list_record_problems(), store.count_record_problems()
        waiting = store.count_deletion_candidates()
    now = datetime.now(UTC)

    def ago(when: datetime | None) -> str:
        if when is None:
            return "never"
        return f"{when:%Y-%m-%d %H:%M:%S} UTC ({describe_age(now - when)} ago)"

    click.echo(f"Last successful poll: {ago(state.last_success_at)}")
    click.echo(f"Last attempt:         {ago(state.last_attempt_at)}")
    click.echo(f"Worker heartbeat:     {ago(state.heartbeat_at)}")
    click.echo(f"Deletions checked:    {ago(state.last_reconcile_at)}")
    if state.last_reconcile_note:
        click.echo(f"  listing not trusted, nothing deleted: {state.last_reconcile_note}")
    if waiting:
        click.echo(f"  {waiting} no longer listed, each looked up before it is deleted")
    click.echo(f"Events mirrored:      {live} ({deleted} deleted)")
    click.echo(f"Requests:             {state.requests_total} ({state.rate_limited_total} 429s)")
    if state.last_error:
        click.echo(f"Last error:           {state.last_error} at {ago(state.last_error_at)}")
    for is_skipped, count, heading in (
        (True, problem_counts.skipped, "not in the mirror or any feed until fixed in Trackops"),
        (False, problem_counts.kept, "in the feeds with a value changed or left out"),
    ):
        if not count:
            continue
        title = "Skipped records:" if is_skipped else "Kept with changes:"
        click.echo(f"{title:<22}{count} ({heading})")
        shown = [p for p in problems if p.is_skipped is is_skipped][:STATUS_PROBLEMS]
        for problem in shown:
            click.echo(f"  {problem.describe()} (last seen {ago(problem.last_seen_at)})")
        if count > len({p.record for p in shown}):
            click.echo("  ... the dashboard lists more")


# Record problems `status` prints of each kind (skipped, kept); the dashboard lists more.
STATUS_PROBLEMS = 10
