"""The admin forms' fields: read from a request, checked, and handed back as typed values.

Each form keeps what was typed (``values``) beside what is wrong with it (``errors``, by field),
so a page with a mistake shows the input again with the message next to it. CSRF is checked
for every POST by flask-wtf's CSRFProtect before any of this runs.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.models import Privacy

NAME_MAX = 200
# Names the zone database lists that depend on the host or mean nothing to a person.
_UNUSABLE_ZONES = frozenset({"localtime", "Factory", "posixrules"})


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _UNUSABLE_ZONES)


def zone_error(name: str) -> str | None:
    """Why ``name`` is not a usable IANA zone, or None when it is (blank is the caller's call)."""
    if name in known_zones():
        return None
    return f"Unknown time zone {name!r}: use an IANA name such as America/Chicago or Europe/London."


@dataclass
class FormInput:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors


def read_feed_settings(form: Mapping[str, str]) -> FormInput:
    """Name (blank: the default name), privacy, and zone (blank: the bridge's default zone)."""
    checked = FormInput(
        values={key: form.get(key, "").strip() for key in ("name", "privacy", "timezone")}
    )
    if len(checked.values["name"]) > NAME_MAX:
        checked.errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if checked.values["privacy"] not in {level.value for level in Privacy}:
        checked.errors["privacy"] = "Choose full, limited or busy."
    if checked.values["timezone"] and (error := zone_error(checked.values["timezone"])):
        checked.errors["timezone"] = error
    return checked


def read_calendar_settings(form: Mapping[str, str]) -> FormInput:
    """Name (required) and default zone (blank: none, events fall back to the bridge default)."""
    checked = FormInput(values={key: form.get(key, "").strip() for key in ("name", "timezone")})
    if not checked.values["name"]:
        checked.errors["name"] = "A calendar needs a name."
    elif len(checked.values["name"]) > NAME_MAX:
        checked.errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if checked.values["timezone"] and (error := zone_error(checked.values["timezone"])):
        checked.errors["timezone"] = error
    return checked
