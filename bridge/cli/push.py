"""`push` commands: CalDAV destinations per feed (add, list, remove, sync), thin over delivery."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import click

from bridge.assembly import open_current_store
from bridge.cli.app import current_settings, main, print_json, reports_errors
from bridge.delivery import push_settings
from bridge.delivery.caldav import delete_pushed, display_url, push_destination
from bridge.errors import BridgeError
from bridge.store.delivery import Destination

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@main.group()
def push() -> None:
    """Push feeds into CalDAV calendars (iCloud, Fastmail, Nextcloud, Google, any RFC 4791).

    The worker pushes after every poll that changed a feed; `push sync` does one pass now.
    """


@push.command("add")
@click.argument("feed_id", type=int)
@click.argument("url")
@click.option("--username", help="The calendar account's user name.")
@click.option("--password-env", metavar="VAR", help="Environment variable holding the password.")
@click.option("--token-file", metavar="F", help="File holding an OAuth bearer token (Google).")
@reports_errors
def push_add(
    feed_id: int, url: str, username: str | None, password_env: str | None, token_file: str | None
) -> None:
    """Push feed FEED_ID into the CalDAV calendar collection at URL."""
    _check_destination(url, password_env, token_file)
    with open_current_store(current_settings()) as store:
        added = store.add_destination(
            feed_id,
            url,
            datetime.now(UTC),
            username=username,
            password_env=password_env,
            token_file=str(Path(token_file).resolve()) if token_file else None,
        )
    click.echo(
        f"destination {added.destination_id}: feed {feed_id} -> {display_url(url)}; "
        f"the worker pushes it after the next poll (or now: trackops-bridge push sync "
        f"{added.destination_id})"
    )


def _check_destination(url: str, password_env: str | None, token_file: str | None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BridgeError(
            f"not a calendar URL: {url!r}",
            advice="give the collection's full address, e.g. https://caldav.fastmail.com/dav/"
            "calendars/user/you@example.com/Default/",
        )
    if parts.username or parts.password:
        raise BridgeError(
            "the URL carries a user name or password",
            advice="pass --username and --password-env VAR instead, so no secret is stored",
        )
    if password_env and token_file:
        raise BridgeError("give --password-env or --token-file, not both")
    if password_env and not _ENV_NAME.fullmatch(password_env):
        raise BridgeError(
            f"--password-env takes the NAME of an environment variable, not {password_env!r}",
            advice="e.g. --password-env ICLOUD_APP_PASSWORD, with the password in that variable",
        )
    if token_file and not Path(token_file).is_file():
        raise BridgeError(f"no such token file: {token_file}")


def _row(destination: Destination) -> dict[str, object]:
    if destination.failures:
        state = f"failing ({destination.failures} in a row)"
    elif destination.last_success_at is None:
        state = "not pushed yet"
    else:
        state = "ok"
    return {
        "id": destination.destination_id,
        "feed": destination.feed_id,
        "url": display_url(destination.url),
        "state": state,
        "last_success": _iso(destination.last_success_at),
        "pushed": destination.pushed_count,
        "backlog": destination.backlog,
        "last_error": destination.last_error,
        "next_attempt": _iso(destination.next_attempt_at),
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@push.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def push_list(as_json: bool) -> None:
    """List destinations: id, feed, url, state, last success, pushed count, last error."""
    with open_current_store(current_settings()) as store:
        rows = [_row(destination) for destination in store.list_destinations()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No destinations: add one with `trackops-bridge push add FEED_ID URL`.")
    for row in rows:
        click.echo(
            f"{row['id']:>4}  feed {row['feed']:<4} {row['state']:<22} "
            f"pushed {row['pushed']:<5} last ok {row['last_success'] or '-'}  {row['url']}"
            + (f"\n      last error: {row['last_error']}" if row["last_error"] else "")
        )


@push.command("remove")
@click.argument("destination_id", type=int)
@click.option("--delete-pushed", "choice", flag_value="delete", help="Delete the pushed events.")
@click.option("--keep-pushed", "choice", flag_value="keep", help="Leave them in the calendar.")
@reports_errors
def push_remove(destination_id: int, choice: str | None) -> None:
    """Stop pushing to destination ID; its pushed events are deleted or left, as you choose."""
    settings = current_settings()
    with open_current_store(settings) as store:
        destination = store.get_destination(destination_id)
        if choice is None:
            if not sys.stdin.isatty():
                raise BridgeError(
                    "say what happens to the events already pushed",
                    advice="add --delete-pushed or --keep-pushed",
                )
            delete = click.confirm(
                f"Delete the {destination.pushed_count} events pushed to "
                f"{display_url(destination.url)}?"
            )
            choice = "delete" if delete else "keep"
        if choice == "delete":
            outcome = delete_pushed(store, destination, push_settings(settings), datetime.now(UTC))
            if outcome.error:
                raise BridgeError(
                    f"could not delete the pushed events ({outcome.deleted} deleted): "
                    f"{outcome.error}",
                    advice="the destination is kept; retry, or remove it with --keep-pushed",
                )
            click.echo(f"deleted {outcome.deleted} pushed events")
        store.remove_destination(destination_id)
    click.echo(f"destination {destination_id} removed")


@push.command("sync")
@click.argument("destination_id", type=int, required=False)
@reports_errors
def push_sync(destination_id: int | None) -> None:
    """Push now, with a reconcile of the calendar's listing (all destinations, or ID); works
    without a worker, and ignores any backoff."""
    settings = current_settings()
    failed = False
    with open_current_store(settings) as store:
        chosen = (
            [store.get_destination(destination_id)]
            if destination_id is not None
            else store.list_destinations()
        )
        for destination in chosen:
            outcome = push_destination(
                store, destination, push_settings(settings), datetime.now(UTC), reconcile=True
            )
            click.echo(outcome.summary())
            for note in outcome.notes:
                click.echo(f"  {note}")
            failed = failed or outcome.error is not None
    if failed:
        sys.exit(1)
