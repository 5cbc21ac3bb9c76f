"""What an entry is before validation: raw `EntryFields`, and the `FieldError`s it may have.

A valid entry becomes a `bridge.models.Draft` (see `bridge.entries.rules.validate_entry`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FILE = "file"  # FieldError.field of errors about a file or a whole row rather than one field


class Source(enum.StrEnum):
    FORM = "form"
    CSV = "csv"
    ICS = "ics"


@dataclass(frozen=True)
class EntryFields:
    """The raw text of one entry, exactly as typed or read from a file (stripped of edge spaces).

    `calendar` and `case` may be left blank by a source that cannot know them (.ics files): the
    caller fills them with `filled(calendar=..., case=...)` from the form's choice.

    `start_instant`/`end_instant` are exact UTC instants for sources that have them (.ics times
    with a zone or a Z). When `start_instant` is set the validator uses the instants and ignores
    the date and time strings, which then only show the wall-clock time for a preview.
    """

    title: str = ""
    calendar: str = ""
    case: str = ""
    subject: str = ""
    service: str = ""
    staff: str = ""  # names, emails or ids separated by ';'
    start_date: str = ""
    start_time: str = ""
    end_date: str = ""
    end_time: str = ""
    all_day: str = ""
    timezone: str = ""
    description: str = ""
    address_1: str = ""
    address_2: str = ""
    address_3: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    row: int | None = None  # CSV: the row number Excel shows (header is 1); .ics: event number
    source: Source = Source.FORM
    start_instant: datetime | None = None
    end_instant: datetime | None = None
    is_floating: bool = False  # .ics time with no zone: read in the event's default zone
    notes: tuple[str, ...] = ()  # what the source decided on the person's behalf
    # Field name -> the column heading as written in the file, for error messages.
    columns: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def filled(self, **defaults: str) -> EntryFields:
        """A copy with each named text field set to its default where this entry left it blank."""
        blanks: dict[str, Any] = {
            name: value for name, value in defaults.items() if not getattr(self, name)
        }
        return dataclasses.replace(self, **blanks)

    def column_of(self, field_name: str) -> str | None:
        if self.source is Source.CSV:
            return self.columns.get(field_name, field_name)
        return None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values, for keeping a parsed upload; `from_json` reads them back."""
        values: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            values[item.name] = value
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> EntryFields:
        """An entry from `to_json`'s values; ValueError/TypeError/KeyError if they are not."""
        known = {item.name for item in dataclasses.fields(cls)}
        fields: dict[str, Any] = {name: value for name, value in values.items() if name in known}
        fields["source"] = Source(fields.get("source", Source.FORM.value))
        for name in ("start_instant", "end_instant"):
            if fields.get(name) is not None:
                fields[name] = datetime.fromisoformat(fields[name])
        fields["notes"] = tuple(fields.get("notes", ()))
        return cls(**fields)

    @property
    def where(self) -> str | None:
        """How a person finds this entry again: "Row 4" in a CSV, "Event 3 ('Hearing')" in .ics."""
        if self.row is None:
            return None
        if self.source is not Source.ICS:
            return f"Row {self.row}"
        title = " ".join(self.title.split())
        return f"Event {self.row} ({title!r})" if title else f"Event {self.row}"


@dataclass(frozen=True)
class FieldError:
    """One mistake in one field of one entry, worded for the person who typed it."""

    field: str
    message: str
    row: int | None = None
    column: str | None = None
    where: str | None = None  # overrides "Row N" (e.g. "Event 3" for an .ics file)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> FieldError:
        return cls(**values)

    def __str__(self) -> str:
        place = self.where or (f"Row {self.row}" if self.row is not None else None)
        if self.field == FILE:  # about the file or a whole row, not one field
            return f"{place}: {self.message}" if place else self.message
        if place is None:
            return f"{self.field}: {self.message}"
        if self.column is not None:
            return f"{place}, column {self.column}: {self.message}"
        return f"{place}, {self.field}: {self.message}"
