"""The admin pages: sync health, the feeds and their subscribe links, the calendars' settings.

Entry point: the ``admin`` blueprint. Every view here sits behind the login (see ``auth``); the
feed token appears only on that feed's own page, which is where people come to copy it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bridge.config import Settings
from bridge.delivery.caldav import display_url
from bridge.feed_engine import render_options, render_small_feeds
from bridge.feeds import FEED_SIZE_WARNING_BYTES, zoneless_zone
from bridge.models import Calendar, Feed, FeedKind, Privacy
from bridge.store import HEARTBEAT_STALE_POLLS, SyncState
from bridge.web.clients import subscribe_links
from bridge.web.context import current_settings, current_store
from bridge.web.feed_preview import feed_page_context
from bridge.web.feed_urls import feed_url
from bridge.web.forms import FormInput, read_calendar_settings, read_feed_settings
from bridge.web.page_context import calendars_context, dashboard_context
from bridge.zone_names import offered_zones

bp = Blueprint("admin", __name__)

# A worker whose heartbeat is older than this many poll intervals is reported as stalled.
Page = tuple[str, int]  # a page and its status


@dataclass(frozen=True)
class FeedSize:
    feed: Feed
    size: int


def heartbeat_stale_after(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.poll_interval * HEARTBEAT_STALE_POLLS)


def is_heartbeat_stale(state: SyncState, settings: Settings) -> bool:
    """True when the worker has never beaten, or not recently (see SyncState.is_worker_alive)."""
    return not state.is_worker_alive(settings.poll_interval, datetime.now(UTC))


@bp.get("/")
def dashboard() -> str:
    store, settings = current_store(), current_settings()
    state = store.get_sync_state()
    return render_template(
        "admin/dashboard.html",
        state=state,
        is_heartbeat_stale=is_heartbeat_stale(state, settings),
        stale_after=heartbeat_stale_after(settings),
        live_events=store.count_events(),
        deleted_events=store.count_deleted_events(),
        oversized=_oversized_feeds(),
        size_warning=FEED_SIZE_WARNING_BYTES,
        record_problems=store.list_record_problems(),
        problem_counts=store.count_record_problems(),
        # Times in the admin's zone, the 24 h chart, next poll, outbox, largest feeds.
        **dashboard_context(),
    )


def _oversized_feeds() -> list[FeedSize]:
    store = current_store()
    found = []
    sizes = store.render_sizes()
    for feed in store.list_feeds():
        size = sizes.get(feed.feed_id, 0)
        if size > FEED_SIZE_WARNING_BYTES:
            found.append(FeedSize(feed, size))
    return found


@bp.get("/admin/feeds")
def feeds() -> str:
    store = current_store()
    last = store.last_fetches()
    rows = [(feed, last.get(feed.feed_id)) for feed in store.list_feeds()]
    return render_template("admin/feeds.html", rows=rows)


@bp.get("/admin/feeds/<int:feed_id>")
def feed(feed_id: int) -> str:
    found = _require_feed(feed_id)
    return _render_feed_page(found, _feed_form(found))[0]


@bp.post("/admin/feeds/<int:feed_id>/settings")
def update_feed(feed_id: int) -> Response | Page:
    found = _require_feed(feed_id)
    form = read_feed_settings(request.form)
    if not form.is_valid:
        return _render_feed_page(found, form, status=400)
    name, privacy, zone = form.values["name"], form.values["privacy"], form.values["timezone"]
    # Only what changed is written: saving the shown default name would pin it, and the feed
    # would stop following its calendar's or staff member's name.
    current_store().update_feed(
        feed_id,
        name=None if name == found.name else name,
        privacy=None if privacy == found.privacy.value else Privacy(privacy),
        timezone=None if zone == (found.timezone or "") else zone,
    )
    # Rendered now when small (a larger feed after the worker's next pass; until then it is
    # not served at all if it would show more than the new privacy allows).
    render_small_feeds(current_store(), render_options(current_settings()), {feed_id})
    flash("Feed settings saved. Subscribers see them at their client's next refresh.")
    return redirect(url_for("admin.feed", feed_id=feed_id))


@bp.post("/admin/feeds/<int:feed_id>/rotate")
def rotate_feed(feed_id: int) -> Response | Page:
    found = _require_feed(feed_id)
    if request.form.get("confirm") != "yes":
        form = _feed_form(found)
        form.errors["confirm"] = "Tick the box to confirm: the current URL stops working."
        return _render_feed_page(found, form, status=400)
    current_store().rotate_feed_token(feed_id)
    flash("The feed has a new URL; the old one no longer works. Share the new one below.")
    return redirect(url_for("admin.feed", feed_id=feed_id))


def _require_feed(feed_id: int) -> Feed:
    found = current_store().get_feed(feed_id)
    if found is None:
        abort(404)
    return found


def _feed_form(found: Feed) -> FormInput:
    return FormInput(
        values={
            "name": found.name,
            "privacy": found.privacy.value,
            "timezone": found.timezone or "",
        }
    )


def _render_feed_page(found: Feed, form: FormInput, *, status: int = 200) -> Page:
    settings = current_settings()
    url = feed_url(settings.public_url, found)
    page = render_template(
        "admin/feed.html",
        feed=found,
        url=url,
        links=subscribe_links(url, found.name),
        # The preview (?view=week&week=...), its figures, subscribers, QR code.
        **feed_page_context(found, url, request.args),
        destinations=[
            (display_url(d.url), d) for d in current_store().list_destinations(found.feed_id)
        ],
        form=form,
        privacy_levels=list(Privacy),
        default_timezone=settings.default_timezone,
        # The zone the feed shows zone-less events in now, and would with its own zone emptied.
        shown_zone=zoneless_zone(found, settings.default_timezone),
        fallback_zone=zoneless_zone(replace(found, timezone=None), settings.default_timezone),
        calendar_zones=[]
        if found.kind is FeedKind.CALENDAR
        else [(c.name, c.timezone) for c in current_store().list_calendars() if c.timezone],
        zones=sorted(offered_zones()),
    )
    return page, status


@bp.get("/admin/calendars")
def calendars() -> str:
    return _render_calendars_page({})[0]


@bp.post("/admin/calendars/<int:calendar_id>")
def update_calendar(calendar_id: int) -> Response | Page:
    store = current_store()
    found = store.get_calendar(calendar_id)
    if found is None:
        abort(404)
    form = read_calendar_settings(request.form)
    if not form.is_valid:
        return _render_calendars_page({calendar_id: form}, status=400)
    if form.values["name"] != found.name:
        store.rename_calendar(calendar_id, form.values["name"])
    if form.values["timezone"] != (found.timezone or ""):
        store.set_calendar_timezone(calendar_id, form.values["timezone"] or None)
    # The feeds showing it, rendered now when small (larger ones on the worker's next pass).
    render_small_feeds(store, render_options(current_settings()), None)
    flash(f"Calendar {form.values['name']!r} saved.")
    return redirect(url_for("admin.calendars"))


def _render_calendars_page(failed: dict[int, FormInput], *, status: int = 200) -> tuple[str, int]:
    rows: list[tuple[Calendar, FormInput]] = [
        (
            calendar,
            failed.get(calendar.calendar_id)
            or FormInput(values={"name": calendar.name, "timezone": calendar.timezone or ""}),
        )
        for calendar in current_store().list_calendars()
    ]
    page = render_template(
        "admin/calendars.html",
        rows=rows,
        default_timezone=current_settings().default_timezone,
        zones=sorted(offered_zones()),
        **calendars_context(),  # each calendar's feed and event count
    )
    return page, status
