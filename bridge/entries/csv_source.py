"""Spreadsheet uploads: CSV bytes -> one `EntryFields` per row, plus what is wrong with the file.

Entry points: `parse_csv` and `csv_template` (the downloadable example). Rows are numbered as
Excel shows them (the header is row 1), so an error message points at a row a person can find.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from typing import Any

from bridge.entries.drafts import FILE, EntryFields, FieldError, Source
from bridge.entries.encoding import decode_upload
from bridge.errors import EncodingRefused

COLUMNS = (
    "title",
    "calendar",
    "case",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "all_day",
    "timezone",
    "subject",
    "service",
    "staff",
    "description",
    "address_1",
    "address_2",
    "address_3",
    "city",
    "state",
    "zip",
    "country",
)
REQUIRED_COLUMNS = ("title", "calendar", "case", "start_date")
_EXAMPLE_ROW = {
    "title": "Surveillance - J. Doe",
    "calendar": "Surveillance",
    "case": "2026-0142",
    "start_date": "2026-03-10",
    "start_time": "07:00",
    "end_time": "15:00",
    "all_day": "no",
    "timezone": "America/Denver",
    "subject": "John Doe",
    "staff": "Ann Lee; bob@example.com",
    "description": "Subject usually leaves home around 7.",
    "address_1": "2000 Blake Street",
    "city": "Denver",
    "state": "CO",
    "zip": "80202",
    "country": "US",
}
# A heading matches a column whatever its case, spacing, '-' or '_' ("Start Date", "start-date").
_BY_SQUASHED = {name.replace("_", ""): name for name in COLUMNS}


@dataclass(frozen=True)
class CsvParse:
    """The rows read from a CSV file, and the errors about the file itself (not its values)."""

    entries: tuple[EntryFields, ...]
    errors: tuple[FieldError, ...] = ()
    encoding: str = ""  # as it was read: "UTF-8", "Windows-1252"; blank if it could not be

    @property
    def is_ok(self) -> bool:
        return not self.errors


def _file_error(message: str, row: int | None = None) -> FieldError:
    return FieldError(FILE, message, row=row)


def _refused(message: str, encoding: str = "") -> CsvParse:
    """The whole file refused: no entries, one error saying why."""
    return CsvParse((), (_file_error(message),), encoding)


def _column_for(heading: str) -> str | None:
    squashed = "".join(heading.split()).replace("_", "").replace("-", "").lower()
    return _BY_SQUASHED.get(squashed)


def _delimiter(text: str) -> str:
    """',' unless the heading line uses ';' or tabs (Excel in many European locales uses ';')."""
    heading = next((line for line in text.splitlines() if line.strip()), "")
    return max((",", ";", "\t"), key=heading.count)


def parse_csv(data: bytes, *, max_rows: int = 1000, max_bytes: int = 2_000_000) -> CsvParse:
    """Read an uploaded CSV: columns by heading (any order), one EntryFields per non-blank row.

    Problems with the file as a whole (size, encoding, headings, row count) come back as
    errors with no entries; a row that cannot be split into the columns is an error for that
    row while the other rows are still read.
    """
    if len(data) > max_bytes:
        return _refused(f"the file is {len(data):,} bytes; the limit is {max_bytes:,}: split it")
    if data.startswith(b"PK\x03\x04"):
        return _refused(
            "this is an Excel workbook (.xlsx), not CSV: use File > Save As > "
            "'CSV UTF-8 (Comma delimited)'"
        )
    try:
        decoded = decode_upload(data)
    except EncodingRefused as bad:
        return _refused(str(bad))
    text, encoding = decoded.text, decoded.encoding
    if "\x00" in text:
        return _refused("the file contains NUL bytes: it is not a CSV text file", encoding)
    numbered: list[tuple[int, list[str]]] = []
    seen = 0  # non-blank records, the heading included; those past the limit are only counted
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        for number, record in enumerate(reader, start=1):
            if any(cell.strip() for cell in record):
                seen += 1
                if seen <= max_rows + 1:
                    numbered.append((number, [cell.strip() for cell in record]))
    except csv.Error as bad:
        return _refused(f"the file cannot be read as CSV: {bad}", encoding)
    if not numbered:
        return _refused(
            "the file is empty: it needs a heading row and at least one row of entries", encoding
        )
    (heading_row, headings), rows = numbered[0], numbered[1:]
    columns, errors = _read_headings(headings, heading_row)
    if errors:
        return CsvParse((), tuple(errors), encoding)
    if seen - 1 > max_rows:
        return _refused(
            f"the file has {seen - 1:,} rows; the limit is {max_rows:,}: split it", encoding
        )
    if not rows:
        return _refused("the file has a heading row but no entries", encoding)

    named = {name: headings[index] for index, name in columns.items()}
    entries: list[EntryFields] = []
    row_errors: list[FieldError] = []
    for number, cells in rows:
        problem = _misplaced_cells(cells, headings, columns)
        if problem:
            row_errors.append(_file_error(problem, row=number))
            continue
        values: dict[str, Any] = {
            name: cells[index] if index < len(cells) else "" for index, name in columns.items()
        }
        entries.append(EntryFields(**values, row=number, source=Source.CSV, columns=named))
    return CsvParse(tuple(entries), tuple(row_errors), encoding)


def _misplaced_cells(cells: list[str], headings: list[str], columns: dict[int, str]) -> str:
    """Why a row's cells don't line up with the headings, or "" when they do."""
    if len(cells) > len(headings) and any(cells[len(headings) :]):
        return (
            f"has {len(cells)} cells but the heading row has {len(headings)}: a value "
            "containing a comma or a line break needs double quotes around it"
        )
    stray = [
        index for index, cell in enumerate(cells[: len(headings)]) if cell and index not in columns
    ]
    if stray:
        return f"has a value in column {_column_letter(stray[0])}, which has no heading"
    return ""


def _column_letter(index: int) -> str:
    """0 -> A, 26 -> AA: how Excel names a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _read_headings(headings: list[str], row: int) -> tuple[dict[int, str], list[FieldError]]:
    """Column index -> field name; errors for unknown, repeated and missing headings."""
    columns: dict[int, str] = {}
    unknown: list[str] = []
    seen: dict[str, str] = {}
    errors: list[FieldError] = []
    for index, heading in enumerate(headings):
        if not heading:
            continue  # a blank heading: its cells must stay blank (checked per row)
        name = _column_for(heading)
        if name is None:
            unknown.append(heading)
        elif name in seen:
            errors.append(
                FieldError(
                    "header", f"columns {seen[name]!r} and {heading!r} both mean {name}", row=row
                )
            )
        else:
            seen[name] = heading
            columns[index] = name
    if unknown:
        hints = []
        for heading in unknown:
            close = difflib.get_close_matches(
                heading.lower().replace(" ", "_"), COLUMNS, n=1, cutoff=0.75
            )
            hints.append(f"{heading!r}" + (f" (did you mean {close[0]}?)" if close else ""))
        errors.append(
            FieldError(
                "header",
                f"unknown column{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(hints)}; the columns are "
                f"{', '.join(COLUMNS)}",
                row=row,
            )
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        errors.append(
            FieldError(
                "header",
                f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                row=row,
            )
        )
    return columns, errors


def csv_template() -> str:
    """The downloadable template: every heading, and one example row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow([_EXAMPLE_ROW.get(name, "") for name in COLUMNS])
    return out.getvalue()
