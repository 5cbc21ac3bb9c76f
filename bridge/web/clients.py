"""Calendar clients: how each subscribes to a feed URL, how often it refreshes, how it names itself.

Entry points: ``subscribe_links(url, name)`` for the feed page's buttons, ``subscribe_qr_svg()``
for a phone's camera, and ``client_family()`` to turn a fetch's User-Agent into the name a
person recognises ("Google Calendar").
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import segno

UA_SHOWN_MAX = 80


@dataclass(frozen=True)
class SubscribeLink:
    client: str
    href: str
    refresh: str  # how long the client takes to show a change, in words
    # Fetched by the service's own servers, not this machine: a loopback URL never works there.
    is_fetched_remotely: bool = True


def webcal_url(url: str) -> str:
    """The same feed with the webcal:// scheme Apple Calendar and Outlook desktop open directly."""
    return urlunsplit(urlsplit(url)._replace(scheme="webcal"))


def subscribe_links(url: str, name: str) -> list[SubscribeLink]:
    """One-click subscribe links for ``url`` (the https:// feed URL) in the clients people use."""
    webcal = webcal_url(url)
    add_from_web = urlencode({"url": url, "name": name})
    return [
        SubscribeLink(
            "Google Calendar",
            f"https://calendar.google.com/calendar/r?cid={quote(webcal, safe='')}",
            "up to a day: Google decides when to refresh and ignores the feed's refresh hint",
        ),
        SubscribeLink(
            "Outlook.com",
            f"https://outlook.live.com/calendar/0/addfromweb?{add_from_web}",
            "several hours",
        ),
        SubscribeLink(
            "Microsoft 365 (work or school Outlook on the web)",
            f"https://outlook.office.com/calendar/0/addfromweb?{add_from_web}",
            "several hours",
        ),
        SubscribeLink(
            "Apple Calendar or Outlook desktop",
            webcal,
            "as set in the subscription (Apple: every 5 minutes to weekly; Outlook: hours)",
            is_fetched_remotely=False,
        ),
    ]


# Markers in User-Agent strings, checked in order, lower-cased.
_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Google Calendar", ("google-calendar-importer", "googlebot", "google")),
    ("Outlook", ("microsoft outlook", "exchange", "microsoft office", "outlook")),
    ("Apple Calendar", ("calendaragent", "dataaccessd", "ios/", "macos/", "mac os x/")),
    ("Thunderbird", ("thunderbird",)),
    ("khal/vdirsyncer", ("vdirsyncer", "khal")),
)
KNOWN_FAMILIES = frozenset(family for family, _ in _FAMILIES)


def subscribe_qr_svg(url: str) -> str:
    """An inline SVG QR code of the feed's webcal:// URL: a phone's camera opens it in its
    calendar app. segno writes QR codes to the standard, in pure Python, as SVG text."""
    return str(segno.make(webcal_url(url), error="m").svg_inline(scale=4, title="Subscribe"))


def client_family(user_agent: str) -> str:
    """The calendar client a fetch came from, or its raw User-Agent (shortened) if unknown."""
    lowered = user_agent.lower()
    for family, markers in _FAMILIES:
        if any(marker in lowered for marker in markers):
            return family
    if not user_agent.strip():
        return "A client without a User-Agent"
    shown = user_agent.strip()
    return shown if len(shown) <= UA_SHOWN_MAX else shown[: UA_SHOWN_MAX - 1] + "…"
