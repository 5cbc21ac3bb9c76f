"""How times, ages and sizes read on the admin pages (registered as Jinja filters).

Pages speak in ages ("9 h ago") because the question they answer is "is this fresh?"; the exact
UTC time sits beside it for anyone matching it against a log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from bridge.web.context import current_settings


def describe_age(age: timedelta) -> str:
    """An age as a person says it, rounded down: "45 s", "12 min", "9 h", "3 days"."""
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    return f"{describe_age(datetime.now(UTC) - when)} ago"


def utc_time(when: datetime | None) -> str:
    if when is None:
        return "never"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def admin_time(when: datetime | None) -> str:
    """A time in the admin's zone (BRIDGE_ADMIN_TIMEZONE), with the zone's abbreviation."""
    if when is None:
        return "never"
    return f"{when.astimezone(ZoneInfo(current_settings().admin_zone)):%a %d %b %Y %H:%M %Z}"


def file_size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def register_filters(app: Flask) -> None:
    app.add_template_filter(ago)
    app.add_template_filter(utc_time)
    app.add_template_filter(admin_time)
    app.add_template_filter(file_size)
