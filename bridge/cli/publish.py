"""Commands that publish: web, demo, feeds (and rotate), calendars (rename, timezone)."""

from __future__ import annotations

import click

from bridge.assembly import open_current_store
from bridge.cli.app import current_settings, main, print_json, reports_errors


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@reports_errors
def web(host: str, port: int) -> None:
    """Serve the feeds and admin pages for development (production: gunicorn, see Procfile)."""
    from bridge.web import create_app

    app = create_app(current_settings())
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
    from bridge.web.feed_urls import feed_url

    settings = current_settings()
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
        print_json(rows)
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
    from bridge.web.feed_urls import feed_url

    settings = current_settings()
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
    with open_current_store(current_settings()) as store:
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
    with open_current_store(current_settings()) as store:
        store.rename_calendar(calendar_id, name)
    click.echo(f"Calendar {calendar_id} is now {name!r}.")


@calendars.command("timezone")
@click.argument("calendar_id", type=int)
@click.argument("zone")
@reports_errors
def calendars_timezone(calendar_id: int, zone: str) -> None:
    """Set the zone used for CALENDAR_ID's events that have none.

    ZONE is an IANA name (America/Chicago) or Outlook's Windows name ("Central Standard Time"),
    or 'none'. Every feed showing the calendar changes at once.
    """
    from bridge.errors import ZoneError
    from bridge.zone_names import resolve_zone

    try:
        value = None if zone.lower() == "none" else resolve_zone(zone)
    except ZoneError as error:
        raise click.BadParameter(str(error)) from None
    with open_current_store(current_settings()) as store:
        store.set_calendar_timezone(calendar_id, value)
    click.echo(f"Calendar {calendar_id}: default zone {value or '(none)'}.")
