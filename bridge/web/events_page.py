"""The events page: the mirrored events, searched by title, case, calendar, staff and dates.

Entry point: the ``events`` blueprint (``GET /admin/events``, a GET form so a search is a link).
The filters run in SQL (``Store.search_events``) a page at a time; each event is shown at its
local times in its own zone (its calendar's, or the default, when it has none) and in the
admin's, with links to its calendar's feed and to the batch that created it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from bridge.feeds import known_zone
from bridge.models import FeedKind
from bridge.store.overview import EventQuery, ListedEvent
from bridge.web.context import current_settings, current_store

bp = Blueprint("events", __name__)

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventLine:
    """One event with its times read in its own zone and in the admin's."""

    event: ListedEvent
    zone: str
    own: tuple[datetime, datetime]  # aware, in ``zone``
    viewer: tuple[datetime, datetime]  # aware, in the admin's zone
    feed_id: int | None  # its calendar's feed


@dataclass
class SearchForm:
    values: dict[str, str]
    errors: dict[str, str]
    query: EventQuery


def read_search(args: Mapping[str, str], zone: str) -> SearchForm:
    """The GET form's filters; dates are whole days in the admin's ``zone``, "to" inclusive."""
    keys = ("event", "title", "case", "calendar", "staff", "from", "to")
    values = {key: args.get(key, "").strip() for key in keys}
    errors: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    for key in ("event", "calendar", "staff"):
        numbers[key] = int(values[key]) if values[key].isdigit() else None
        if values[key] and numbers[key] is None:
            errors[key] = (
                "An event id is a number." if key == "event" else f"Choose a {key} from the list."
            )
    days: dict[str, datetime | None] = {}
    tz = ZoneInfo(zone)
    for key, shift in (("from", 0), ("to", 1)):
        days[key] = None
        if values[key]:
            try:
                day = date.fromisoformat(values[key]) + timedelta(days=shift)
                days[key] = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
            except ValueError:
                errors[key] = f"{values[key]!r} is not a date: write it as 2026-12-07."
    query = EventQuery(
        event_id=numbers["event"],
        title=values["title"],
        case=values["case"],
        calendar_id=numbers["calendar"],
        staff_id=numbers["staff"],
        starts_from=days["from"],
        starts_before=days["to"],
    )
    return SearchForm(values, errors, query)


def _page_number(args: Mapping[str, str]) -> int:
    typed = args.get("page", "1")
    return max(int(typed), 1) if typed.isdigit() else 1


@bp.get("/admin/events")
def events() -> tuple[str, int]:
    store, settings = current_store(), current_settings()
    admin_zone = settings.admin_zone
    form = read_search(request.args, admin_zone)
    page = _page_number(request.args)
    found, total = store.search_events(form.query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    feeds = {f.target_id: f.feed_id for f in store.list_feeds() if f.kind is FeedKind.CALENDAR}
    viewer = ZoneInfo(admin_zone)
    lines = []
    for event in found:
        # The zone a feed shows it in when its feed has none of its own: its own, else its
        # calendar's, else the default.
        zone = (
            known_zone(event.timezone)
            or known_zone(event.calendar_timezone)
            or settings.default_timezone
        )
        tz = ZoneInfo(zone)
        lines.append(
            EventLine(
                event=event,
                zone=zone,
                own=(event.start_at.astimezone(tz), event.end_at.astimezone(tz)),
                viewer=(event.start_at.astimezone(viewer), event.end_at.astimezone(viewer)),
                feed_id=feeds.get(event.calendar_id),
            )
        )
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    args = {key: value for key, value in form.values.items() if value}
    html = render_template(
        "admin/events.html",
        form=form,
        lines=lines,
        total=total,
        page=page,
        pages=pages,
        args=args,
        admin_zone=admin_zone,
        calendars=store.list_calendars(),
        staff=store.list_staff(),
    )
    return html, 400 if form.errors else 200
