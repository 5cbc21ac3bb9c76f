"""A confirmed upload's batch lists every row, those not sent with their mistakes, and hands
the bad rows back as a CSV under the file's own headings that uploads again as it is; the
preview gives each event's length beside its local and UTC times."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import Store
from tests.support.submit import (
    batch_id_of,
    confirm,
    preview_of,
    submit_settings,
    submit_store,
    upload,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return submit_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return submit_settings()


# The person's own headings, order and an extra spacing of their own: kept in the fix file.
HEADER = ["Start Date", "Title", "Calendar", "Case", "Start Time", "End Time", "Notes"]
GOOD = ["2026-07-10", "Stakeout", "Surveillance", "2026-0142", "07:00", "15:30", ""]
BAD = ["2026-07-11", "Report", "Surveillance", "2026-0142", "16:00", "15:00", "=not a formula"]
MANGLED = ["2026-07-12", "Hearing", "Court dates", "2026-0150", "09:00", "10:00", "x", "extra"]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def header_for_notes() -> list[str]:
    # "Notes" is not a column the bridge knows: use "Description", the file's own spelling.
    return [heading if heading != "Notes" else "Description" for heading in HEADER]


def test_the_preview_gives_each_event_s_length_with_local_and_utc_times(
    admin: FlaskClient,
) -> None:
    page = preview_of(admin, upload(admin, as_csv([header_for_notes(), GOOD]), "plan.csv"))
    text = page.get_data(as_text=True)
    assert 'Fri 10 Jul 2026, 07:00–15:30 <span class="duration">(8 h 30 min)</span>' in text
    assert "2026-07-10 13:00 – 21:30 UTC" in text  # Denver, the calendar's zone, in July


def test_the_batch_lists_rows_not_sent_and_hands_them_back_to_fix(
    admin: FlaskClient, db: Store
) -> None:
    header = header_for_notes()
    preview = preview_of(admin, upload(admin, as_csv([header, GOOD, BAD, MANGLED]), "plan.csv"))
    response = confirm(admin, preview)
    batch_id = batch_id_of(response)
    page = admin.get(response.headers["Location"]).get_data(as_text=True)

    # Every row is on the page: the queued one, and both rows not sent with their mistakes, the
    # other columns named as the file heads them.
    rows = re.findall(r"<tr( class=\"rejected\")?>\s*<td data-label=\"Row\">([^<]*)</td>", page)
    assert [(bool(cls), where) for cls, where in rows] == [
        (False, "Row 2"),
        (True, "Row 3"),
        (True, "Row 4"),
    ]
    assert "not sent: 1 mistake" in page
    assert "15:00 is before Start Time 16:00 on 2026-07-11" in page
    assert "start_time" not in page
    assert "2 rows were not sent" in page
    assert 'class="flash warning"' in page and "were not queued" in page

    fix = admin.get(f"/admin/batches/{batch_id}/to-fix.csv")
    assert fix.status_code == 200
    assert fix.headers["Content-Disposition"] == 'attachment; filename="plan-to-fix.csv"'
    # The bad row as read, under the file's headings in its order; the row that could not be
    # read into columns has no cells to give back (the page says what was wrong with it).
    assert read_csv(fix.data) == [header, BAD]

    # Fixed in the downloaded file itself, it uploads as it is and only it is queued.
    fixed = read_csv(fix.data)
    fixed[1][header.index("End Time")] = "17:00"
    again = preview_of(admin, upload(admin, as_csv(fixed), "plan-to-fix.csv"))
    assert "1 ready" in again.get_data(as_text=True)
    second = batch_id_of(confirm(admin, again))
    (item,) = db.batch_progress(second).items
    assert item.title == "Report"
    assert item.body["event"]["body"] == "=not a formula", "the cell came back unchanged"


def test_a_batch_with_every_row_sent_has_nothing_to_fix(admin: FlaskClient) -> None:
    preview = preview_of(admin, upload(admin, as_csv([header_for_notes(), GOOD]), "ok.csv"))
    batch_id = batch_id_of(confirm(admin, preview))
    page = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    assert "Download these rows to fix" not in page
    assert admin.get(f"/admin/batches/{batch_id}/to-fix.csv").status_code == 404
