"""The admin forms' fields: read from a request, checked, and handed back as typed values.

Each form keeps what was typed (``values``) beside what is wrong with it (``errors``, by field),
so a page with a mistake shows the input again with the message next to it. CSRF is checked
for every POST by flask-wtf's CSRFProtect before any of this runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ZoneError
from bridge.models import Privacy
from bridge.zone_names import resolve_zone

NAME_MAX = 200


@dataclass
class FormInput:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def read_zone(self, key: str = "timezone") -> None:
        """Check a typed zone with the validator the event form and uploads use (IANA names in
        any case, old aliases, Windows names): the IANA name replaces what was typed, or the
        field gets the same advice and suggestions. Blank is the caller's call."""
        if not (typed := self.values[key]):
            return
        try:
            self.values[key] = resolve_zone(typed)
        except ZoneError as error:
            message = str(error)
            self.errors[key] = message[:1].upper() + message[1:]


def read_feed_settings(form: Mapping[str, str]) -> FormInput:
    """Name (blank: the default name), privacy, and zone (blank: the bridge's default zone)."""
    checked = FormInput(
        values={key: form.get(key, "").strip() for key in ("name", "privacy", "timezone")}
    )
    if len(checked.values["name"]) > NAME_MAX:
        checked.errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if checked.values["privacy"] not in {level.value for level in Privacy}:
        checked.errors["privacy"] = "Choose full, limited or busy."
    checked.read_zone()
    return checked


def read_calendar_settings(form: Mapping[str, str]) -> FormInput:
    """Name (required) and default zone (blank: none, events fall back to the bridge default)."""
    checked = FormInput(values={key: form.get(key, "").strip() for key in ("name", "timezone")})
    if not checked.values["name"]:
        checked.errors["name"] = "A calendar needs a name."
    elif len(checked.values["name"]) > NAME_MAX:
        checked.errors["name"] = f"Keep the name under {NAME_MAX} characters."
    checked.read_zone()
    return checked
