"""Feed URLs: the route's rule, and the subscription URL built from it for pages and the CLI."""

from __future__ import annotations

from urllib.parse import quote

from bridge.models import Feed

FEED_RULE = "/feeds/<token>/<name>.ics"


def feed_path(feed: Feed) -> str:
    """The feed's path, built from the same rule the route is registered with."""
    return FEED_RULE.replace("<token>", quote(feed.token, safe="")).replace(
        "<name>", quote(feed.slug, safe="")
    )


def feed_url(public_url: str, feed: Feed) -> str:
    """The complete subscription URL of ``feed`` on the bridge at ``public_url``."""
    return public_url.rstrip("/") + feed_path(feed)
