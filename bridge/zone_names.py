"""The IANA zone names the bridge knows, and the one validator of a zone a person gives.

`resolve_zone` turns what people type (the event form, CSV and .ics uploads, the admin pages,
the CLI, settings such as BRIDGE_DEFAULT_TIMEZONE) into an IANA name: IANA names in any case,
old IANA aliases and the Windows names Outlook writes. `known_zones` is what a record from
Trackops or a stored event may carry; `offered_zones` is what the pages' pickers list.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import available_timezones

# icalendar ships CLDR's windowsZones table (generated, dated): better than typing our own.
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from bridge.errors import ZoneError

# Names zoneinfo may list that depend on the host, not on tzdata: never an event's zone.
_UNUSABLE_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def known_zones() -> frozenset[str]:
    """IANA zone names an event may carry: what zoneinfo lists, less host-dependent names.

    Membership, not ZoneInfo(name), decides: a name such as "US" (a directory) or one longer
    than a file name can be raises OSError there, not ZoneInfoNotFoundError."""
    return frozenset(available_timezones() - _UNUSABLE_ZONES)


@dataclass(frozen=True)
class _Catalogue:
    by_lower: dict[str, str]  # every zoneinfo key, lower-cased -> key
    listed: frozenset[str]  # zone.tab: the names zone pickers offer
    links: dict[str, str]  # alias -> target, from tzdata.zi
    windows_by_lower: dict[str, str]  # Windows name, lower-cased -> IANA


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    zone_dir = resources.files("tzdata.zoneinfo")
    listed = frozenset(
        line.split("\t")[2]
        for line in zone_dir.joinpath("zone.tab").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    links = {}
    for line in zone_dir.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()
            links[alias] = target
    return _Catalogue(
        by_lower={key.lower(): key for key in available_timezones()},
        listed=listed,
        links=links,
        windows_by_lower={name.lower(): iana for name, iana in WINDOWS_TO_OLSON.items()},
    )


def _canonical(key: str, typed: str) -> str:
    """The name Trackops and zone pickers use for `key` (Asia/Calcutta -> Asia/Kolkata).

    Only aliases whose target is a listed zone are followed: tzdata also links distinct
    places (Europe/Amsterdam -> Europe/Brussels), which are listed themselves and kept.
    """
    cat = _catalogue()
    if key in ("UTC", "Etc/UTC") or cat.links.get(key) == "Etc/UTC":
        return "UTC"  # the one spelling every zone list has (PHP's included)
    if key in cat.listed or key.startswith("Etc/"):
        return key
    target = cat.links.get(key, "")
    if "/" not in key:
        # Bare names such as EST or GB: tzdata now links EST to America/Panama, which is not
        # what someone typing EST means. Only the UTC family is safe to accept.
        if target.startswith("Etc/"):
            return target
        raise ZoneError(
            f"{typed!r} is an abbreviation or legacy name, not a time zone: write a "
            "Region/City name such as America/New_York or Europe/London"
        )
    return target if target in cat.listed else key


def offered_zones() -> frozenset[str]:
    """The names a zone picker offers: each one `resolve_zone` gives back unchanged."""
    return _catalogue().listed | {"UTC"}


def resolve_zone(text: str) -> str:
    """The IANA name for a zone typed as IANA (any case, spaces for '_') or as a Windows name."""
    typed = " ".join(text.split())
    if not typed:
        raise ZoneError("no time zone given")
    cat = _catalogue()
    windows = cat.windows_by_lower.get(typed.lower())
    if windows is not None:
        return _canonical(windows, typed)
    key = cat.by_lower.get(typed.replace(" ", "_").lower())
    if key is not None:
        return _canonical(key, typed)
    hint = _suggest(typed)
    raise ZoneError(
        f"unknown time zone {typed!r}"
        + (
            f"; did you mean {hint}?"
            if hint
            else "; write a Region/City name such as America/New_York"
        )
    )


def _suggest(typed: str) -> str:
    cat = _catalogue()
    names = sorted(cat.listed) + sorted(WINDOWS_TO_OLSON)
    by_lower = {name.lower(): name for name in names}
    # People often type just the city ("new york"): match it against the last part too.
    by_city = {name.rsplit("/", 1)[-1].replace("_", " ").lower(): name for name in cat.listed}
    needle = typed.replace("_", " ").lower()
    found = [by_lower[m] for m in difflib.get_close_matches(typed.lower(), by_lower, n=3)]
    found += [by_city[m] for m in difflib.get_close_matches(needle, by_city, n=3)]
    unique = list(dict.fromkeys(found))[:3]
    return " or ".join(repr(name) for name in unique)
