"""CSV uploads: encodings Excel writes, headings in any form, blank rows, limits, quoting, and
the file -> entries -> drafts path with row and column numbers people can find."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.entries import (
    COLUMNS,
    Directory,
    Draft,
    EntryOptions,
    csv_template,
    parse_csv,
    validate_entry,
)
from bridge.models import Calendar, Case, Staff, Subject

DATA = Path(__file__).resolve().parent / "data" / "entries"
DIRECTORY = Directory(
    calendars=[
        Calendar(1, "Surveillance", "America/New_York"),
        Calendar(2, "Court Dates"),
        Calendar(3, "Sydney Ops", "Australia/Sydney"),
    ],
    cases=[Case(10, "2026-0142", "ACME-7", "Doe surveillance")],
    subjects=[Subject(100, 10, "John Doe")],
    staff=[
        Staff(5, "Ann", "Lee", "ann@example.com"),
        Staff(8, "Zoë", "Martín", "zoe@example.com"),
        Staff(9, "José", "Núñez", "jose@example.com"),
    ],
)
HEADER = "title,calendar,case,start_date,start_time,end_time\r\n"


def row(title: str = "Stakeout", start: str = "2026-03-10") -> str:
    return f"{title},Surveillance,2026-0142,{start},09:00,17:00\r\n"


def only_error(data: bytes, **limits: int) -> str:
    parsed = parse_csv(data, **limits)
    assert parsed.entries == ()
    [error] = parsed.errors
    return str(error)


# --- encodings and line endings ----------------------------------------------------------------


def test_excel_windows_1252_file_with_crlf_quotes_and_a_blank_row() -> None:
    parsed = parse_csv((DATA / "excel_windows1252.csv").read_bytes())
    assert parsed.is_ok and parsed.encoding == "Windows-1252"
    first, hearing, night = parsed.entries
    assert first.title == "Surveillance - Café Rouge"
    assert first.description == (
        "Subject meets contact at Café Rouge, table by the window.\nBring the long lens."
    )
    assert (first.address_1, first.start_time, first.end_time) == (
        "12 Rue Café",
        "6:30 PM",
        "11:00 PM",
    )
    # Excel numbers rows as records: the quoted line break doesn't shift them, the blank
    # row 3 still counts.
    assert [e.row for e in parsed.entries] == [2, 4, 5]
    assert hearing.staff == "Ann Lee; José Núñez"
    assert (night.start_date, night.end_date, night.all_day) == ("3/12/2026", "3/13/2026", "")
    assert first.columns["start_date"] == "Start Date"


def test_utf8_with_bom_and_lf() -> None:
    parsed = parse_csv((DATA / "utf8_bom.csv").read_bytes())
    assert parsed.is_ok and parsed.encoding == "UTF-8"
    assert parsed.entries[0].title == "Stakeout – Zoë's block"
    assert parsed.entries[0].columns["title"] == "title"  # the BOM is not part of the heading
    assert [e.row for e in parsed.entries] == [2, 4]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings(newline: str) -> None:
    text = HEADER.replace("\r\n", newline) + row().replace("\r\n", newline)
    parsed = parse_csv(text.encode("utf-8"))
    assert parsed.is_ok and [e.title for e in parsed.entries] == ["Stakeout"]


def test_same_text_reads_the_same_in_utf8_and_windows_1252() -> None:
    text = HEADER + row(title="Café Müller – night")
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        assert parse_csv(text.encode(encoding)).entries[0].title == "Café Müller – night"


def test_shift_jis_file_is_read_as_shift_jis_and_says_so() -> None:
    text = HEADER + row(title="定例会議 東京都港区の事務所") + row(title="調査報告書の確認")
    parsed = parse_csv(text.encode("shift_jis"))
    assert parsed.is_ok and parsed.encoding == "Shift-JIS (Windows)"
    assert [e.title for e in parsed.entries] == ["定例会議 東京都港区の事務所", "調査報告書の確認"]


def test_utf8_with_one_bad_byte_is_refused_naming_its_line() -> None:
    text = HEADER + row(title="Café Müller") + row(title="Zoë Martín") + row(title="José Núñez")
    damaged = text.encode("utf-8").replace("Martín".encode(), b"Mart\xedn")
    assert only_error(damaged) == (
        "the file is UTF-8 except for 1 byte that is not (the first on line 3): it may have been "
        "damaged or edited with another program. Check that line, and save it as UTF-8 (in "
        "Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"
    )


def test_windows_1252_with_excel_s_quotes_and_dashes() -> None:
    text = HEADER + row(title="“Night” shift – Größe; naïve café; œuvre; 5 €")
    parsed = parse_csv(text.encode("cp1252"))
    assert parsed.is_ok and parsed.encoding == "Windows-1252"
    assert parsed.entries[0].title == "“Night” shift – Größe; naïve café; œuvre; 5 €"


def test_text_no_encoding_reads_plainly_is_refused_with_advice() -> None:
    # Two kanji in Shift-JIS are four bytes, too few to tell; read as Windows-1252 they would be
    # "‰ï‹c", so the file is refused rather than garbled.
    message = only_error((HEADER + row(title="会議")).encode("shift_jis"))
    assert message.startswith("the file is not UTF-8, and its encoding cannot be told")
    assert message.endswith(
        "save it as UTF-8 (in Excel: File > Save As > 'CSV UTF-8 (Comma delimited)')"
    )


def test_semicolon_separated_file_from_a_european_excel() -> None:
    text = (
        "title;calendar;case;start_date;description\r\nStakeout;Surveillance;2026-0142;"
        '2026-03-10;"Cars: 2, maybe 3"\r\n'
    )
    [entry] = parse_csv(text.encode("cp1252")).entries
    assert (entry.title, entry.description) == ("Stakeout", "Cars: 2, maybe 3")


def test_quoted_commas_and_line_breaks_stay_in_their_cell() -> None:
    text = (
        HEADER.replace("\r\n", ",description\r\n")
        + 'Stakeout,Surveillance,2026-0142,2026-03-10,09:00,17:00,"one, two\r\nthree"\r\n'
        + row(title="Next")
    )
    parsed = parse_csv(text.encode())
    assert [e.description for e in parsed.entries] == ["one, two\r\nthree", ""]
    assert [e.row for e in parsed.entries] == [2, 3]


def test_cells_are_stripped() -> None:
    text = (
        "  Title , CALENDAR,case ,start-date\r\n  Stakeout  , Surveillance ,2026-0142, "
        "2026-03-10 \r\n"
    )
    [entry] = parse_csv(text.encode()).entries
    assert (entry.title, entry.calendar, entry.start_date) == (
        "Stakeout",
        "Surveillance",
        "2026-03-10",
    )


# --- headings --------------------------------------------------------------------------------


def test_columns_in_any_order_and_any_spelling() -> None:
    text = (
        "Start Date,CASE,zip,Address_1,calendar,TITLE,all-day\r\n"
        "2026-03-10,2026-0142,02134,1 Main St,Surveillance,Stakeout,yes\r\n"
    )
    [entry] = parse_csv(text.encode()).entries
    assert (entry.start_date, entry.case, entry.zip, entry.address_1, entry.all_day) == (
        "2026-03-10",
        "2026-0142",
        "02134",
        "1 Main St",
        "yes",
    )


def test_unknown_columns_are_named() -> None:
    message = only_error(b"title,calendar,case,start_date,Strat time,Colour\r\n" + row().encode())
    assert message.startswith(
        "Row 1, header: unknown columns 'Strat time' (did you mean "
        "start_time?), 'Colour'; the columns are title, calendar"
    )


def test_missing_required_columns_are_named() -> None:
    message = only_error(b"title,start_date\r\nStakeout,2026-03-10\r\n")
    assert message == "Row 1, header: missing required columns calendar, case"


def test_a_column_given_twice_is_an_error() -> None:
    message = only_error(b"title,calendar,case,start_date,Start Date\r\n")
    assert "columns 'start_date' and 'Start Date' both mean start_date" in message


def test_a_value_under_a_blank_heading_or_past_the_last_one_is_an_error_for_that_row() -> None:
    text = (
        "title,calendar,case,start_date,\r\n"
        "A,Surveillance,2026-0142,2026-03-10,\r\n"
        "B,Surveillance,2026-0142,2026-03-10,stray\r\n"
        "C,Surveillance,2026-0142,2026-03-10,,Boston, MA\r\n"
    )
    parsed = parse_csv(text.encode())
    assert [e.title for e in parsed.entries] == ["A"]
    assert [str(e) for e in parsed.errors] == [
        "Row 3: has a value in column E, which has no heading",
        "Row 4: has 7 cells but the heading row has 5: a value containing a comma or a "
        "line break needs double quotes around it",
    ]


# --- limits and broken files --------------------------------------------------------------


def test_row_limit_counts_entries_not_blank_rows() -> None:
    text = HEADER + "".join(row(title=f"Shift {n}") for n in range(5)) + ",,,,,\r\n" * 3
    assert len(parse_csv(text.encode(), max_rows=5).entries) == 5
    assert only_error(text.encode(), max_rows=4) == (
        "the file has 5 rows; the limit is 4: split it"
    )


def test_row_limit_message_uses_thousands_separators() -> None:
    text = HEADER + row() * 1204
    assert only_error(text.encode()) == "the file has 1,204 rows; the limit is 1,000: split it"


def test_size_limit() -> None:
    data = (HEADER + row() * 100).encode()
    assert only_error(data, max_bytes=1000) == (
        f"the file is {len(data):,} bytes; the limit is 1,000: split it"
    )


BROKEN = [
    (b"", "the file is empty"),
    (b"\r\n,,,\r\n\r\n", "the file is empty"),
    (HEADER.encode(), "a heading row but no entries"),
    (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook (.xlsx)"),
    ("title\r\nx\r\n".encode("utf-16"), "UTF-16"),
    (b"title,calendar\r\n\x81\x8d\x8f\r\n", "encoding cannot be told with confidence"),
    (b"title,calendar,case,start_date\r\nA\x00B,1,2,3\r\n", "NUL"),
]


@pytest.mark.parametrize(("data", "fragment"), BROKEN)
def test_broken_files_get_a_clear_message(data: bytes, fragment: str) -> None:
    assert fragment in only_error(data)


# --- the template --------------------------------------------------------------------------


def test_template_has_every_column_and_an_example_row_that_reads_back() -> None:
    text = csv_template()
    headings, example = list(csv.reader(io.StringIO(text)))
    assert tuple(headings) == COLUMNS
    assert len(example) == len(COLUMNS)
    parsed = parse_csv(text.encode("utf-8"))
    assert parsed.is_ok and parsed.entries[0].title == example[0]


# --- file -> drafts --------------------------------------------------------------------------


def test_excel_file_to_drafts_and_errors_with_row_and_column() -> None:
    options = EntryOptions(default_timezone="America/Denver", date_order="MDY")
    parsed = parse_csv((DATA / "excel_windows1252.csv").read_bytes())
    results = [validate_entry(e, DIRECTORY, options) for e in parsed.entries]
    first, hearing, night = results
    assert isinstance(first, list)
    assert [str(e) for e in first] == [
        "Row 2, column Zip: '2134' is not a US ZIP code; did you mean 02134? (spreadsheets drop "
        "leading zeros: format the zip column as text)"
    ]
    assert isinstance(hearing, Draft) and hearing.users_list == (5, 9)
    assert (hearing.start_at, hearing.end_at) == (
        datetime(2026, 3, 12, 4, 0, tzinfo=UTC),
        datetime(2026, 3, 13, 3, 59, 59, tzinfo=UTC),
    )
    assert isinstance(night, Draft)
    assert night.start_at == datetime(2026, 3, 13, 2, 0, tzinfo=UTC)  # 22:00 EDT
    assert night.end_at - night.start_at == timedelta(hours=8)


def test_ambiguous_excel_dates_ask_for_the_date_order() -> None:
    parsed = parse_csv((DATA / "excel_windows1252.csv").read_bytes())
    result = validate_entry(parsed.entries[2], DIRECTORY, EntryOptions())
    assert isinstance(result, list)
    # 3/13/2026 has one reading only (there is no month 13); 3/12/2026 has two.
    assert [e.column for e in result] == ["Start Date"]
    assert "'3/12/2026' is ambiguous: 3 December or March 12?" in str(result[0])


def test_utf8_file_to_drafts_across_the_sydney_spring_gap() -> None:
    parsed = parse_csv((DATA / "utf8_bom.csv").read_bytes())
    stakeout, follow_up = (validate_entry(e, DIRECTORY, EntryOptions()) for e in parsed.entries)
    assert isinstance(stakeout, Draft) and isinstance(follow_up, Draft)
    # 01:00 AEST to 04:00 AEDT: the clocks skip an hour in between.
    assert stakeout.end_at - stakeout.start_at == timedelta(hours=2)
    assert (stakeout.users_list, stakeout.address and stakeout.address.state) == ((8,), "NSW")
    assert follow_up.timezone == "Australia/Sydney"  # the calendar's zone
