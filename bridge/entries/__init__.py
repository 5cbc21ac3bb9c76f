"""Entries: what people type in the form or upload as CSV or .ics -> validated drafts of events.

Pure code (no Flask, database or HTTP). Sources (`parse_csv`, `parse_ics`, or the form) give
`EntryFields`; `validate_entry` turns each into a `Draft` or the list of its `FieldError`s.
"""

from bridge.entries.budget import Budget, OverBudget
from bridge.entries.csv_source import COLUMNS, REQUIRED_COLUMNS, CsvParse, csv_template, parse_csv
from bridge.entries.directory import Directory
from bridge.entries.drafts import EntryFields, FieldError, Source
from bridge.entries.encoding import DecodedText, decode_upload
from bridge.entries.ics_source import IcsParse, parse_ics
from bridge.entries.rules import validate_entry
from bridge.entries.values import EntryOptions
from bridge.errors import DirectoryError, EncodingRefused
from bridge.models import Draft  # what validate_entry makes, exported beside it
from bridge.zone_names import resolve_zone

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "Budget",
    "CsvParse",
    "DecodedText",
    "Directory",
    "DirectoryError",
    "Draft",
    "EncodingRefused",
    "EntryFields",
    "EntryOptions",
    "FieldError",
    "IcsParse",
    "OverBudget",
    "Source",
    "csv_template",
    "decode_upload",
    "parse_csv",
    "parse_ics",
    "resolve_zone",
    "validate_entry",
]
