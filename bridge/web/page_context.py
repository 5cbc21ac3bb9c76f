"""What the dashboard and calendars pages show beyond the sync state: the 24 h chart of requests
to Trackops, the next poll, the outbox, the feeds nearest Google's limit, and per calendar its
feed and event count.

Entry points: ``dashboard_context()`` and ``calendars_context()``, merged into those pages'
templates by ``bridge.web.admin``; ``sparkline_svg(hours)`` draws the chart as inline SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import escape

from bridge.models import FeedKind
from bridge.store import ITEM_STATES
from bridge.store.overview import HourCount
from bridge.web.context import current_settings, current_store
from bridge.web.feed_preview import GOOGLE_LIMIT_BYTES

CHART_HOURS = 24
NEAREST_FEEDS = 5
_WIDTH, _HEIGHT, _BAR_GAP = 240, 48, 1


@dataclass(frozen=True)
class FeedSize:
    feed_id: int
    name: str
    size: int

    @property
    def share(self) -> float:
        """Of Google's 1 MB."""
        return self.size / GOOGLE_LIMIT_BYTES


def chart_hours(counts: list[HourCount], now: datetime) -> list[HourCount]:
    """The last CHART_HOURS UTC hours, oldest first, hours without requests as zeros."""
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    by_hour = {count.hour_start: count for count in counts}
    hours = [this_hour - timedelta(hours=n) for n in range(CHART_HOURS - 1, -1, -1)]
    return [by_hour.get(hour) or HourCount(hour, 0, 0, 0) for hour in hours]


def sparkline_svg(hours: list[HourCount], zone_name: str) -> str:
    """Requests per hour as grey bars, failed ones red on top of them, each bar titled with its
    hour (in the admin's zone) and counts: a chart with no script, readable without colour.
    Every text in it is escaped here, so the page may include it as it is."""
    zone = ZoneInfo(zone_name)
    peak = max((hour.requests for hour in hours), default=0) or 1
    step = _WIDTH / max(len(hours), 1)
    bars = []
    for n, hour in enumerate(hours):
        x = n * step
        height = _HEIGHT * hour.requests / peak
        failed = _HEIGHT * min(hour.errors, hour.requests) / peak if hour.requests else 0
        local = hour.hour_start.astimezone(zone)
        title = escape(
            f"{local:%a %H:00 %Z}: {hour.requests} requests, {hour.errors} failed"
            + (f", {hour.rate_limited} answered 429" if hour.rate_limited else "")
        )
        bars.append(
            f'<g data-hour="{hour.hour_start.isoformat()}" data-requests="{hour.requests}" '
            f'data-errors="{hour.errors}"><title>{title}</title>'
            f'<rect x="{x:.1f}" y="{_HEIGHT - height:.1f}" width="{step - _BAR_GAP:.1f}" '
            f'height="{height:.1f}" fill="#8a94a3"/>'
            f'<rect x="{x:.1f}" y="{_HEIGHT - failed:.1f}" width="{step - _BAR_GAP:.1f}" '
            f'height="{failed:.1f}" fill="#a4161a"/></g>'
        )
    total = sum(hour.requests for hour in hours)
    errors = sum(hour.errors for hour in hours)
    label = escape(f"Requests to Trackops per hour, last 24 h: {total} in all, {errors} failed")
    return (
        f'<svg class="sparkline" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" '
        f'aria-label="{label}" preserveAspectRatio="none">' + "".join(bars) + "</svg>"
    )


def dashboard_context() -> dict[str, object]:
    store, settings = current_store(), current_settings()
    now = datetime.now(UTC)
    state = store.get_sync_state()
    hours = chart_hours(store.request_hours(now - timedelta(hours=CHART_HOURS)), now)
    # The worker polls poll_interval after its last attempt (sooner when the outbox wakes it).
    next_poll = (
        state.last_attempt_at + timedelta(seconds=settings.poll_interval)
        if state.last_attempt_at is not None
        else None
    )
    sizes = store.render_sizes()
    nearest = sorted(
        (
            FeedSize(f.feed_id, f.name, sizes[f.feed_id])
            for f in store.list_feeds()
            if f.feed_id in sizes
        ),
        key=lambda s: -s.size,
    )[:NEAREST_FEEDS]
    return {
        "hours": hours,
        "sparkline": sparkline_svg(hours, settings.admin_zone),
        "requests_24h": sum(hour.requests for hour in hours),
        "errors_24h": sum(hour.errors for hour in hours),
        "next_poll": next_poll,
        "is_poll_overdue": next_poll is not None and next_poll < now,
        "outbox": {
            state_name: store.count_outbox_items({state_name}) for state_name in ITEM_STATES
        },
        "nearest_feeds": nearest,
        "google_limit": GOOGLE_LIMIT_BYTES,
        "admin_zone": settings.admin_zone,
    }


def calendars_context() -> dict[str, object]:
    store = current_store()
    return {
        "event_counts": store.count_calendar_events(),
        "calendar_feeds": {
            f.target_id: f for f in store.list_feeds() if f.kind is FeedKind.CALENDAR
        },
    }
