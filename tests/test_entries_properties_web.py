"""Properties of the web's create-events pages: whatever is typed or uploaded, the answer is a
queued event, a page of named mistakes, or a preview; never a 500 and never a traceback.

Through the real app and database (tests/conftest.py's web fixtures over the mirror that
tests/support/submit.py fills, as tests/test_web_submit.py uses it).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import Settings
from bridge.entries import COLUMNS
from bridge.web.event_form import TEXT_FIELDS
from tests.support.entries import DIGITS, digits, event_text, value
from tests.support.submit import event_form, submit_settings, submit_store
from tests.support.web import csrf_token, hidden


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return submit_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return submit_settings()


WEB = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_page(status: int, page: str, allowed: tuple[int, ...]) -> None:
    assert status in allowed, (status, page[:2000])
    assert "Traceback" not in page and "Internal Server Error" not in page


@WEB
@given(
    st.dictionaries(st.sampled_from(TEXT_FIELDS), value, max_size=6),
    st.lists(st.text(alphabet=DIGITS, max_size=3), max_size=2),
)
def test_any_form_post_is_queued_or_shown_again_with_its_mistakes(
    admin: FlaskClient, values: dict[str, str], staff: list[str]
) -> None:
    form = event_form(admin, **values, staff=staff)
    response = admin.post("/admin/events/new", data=form)
    assert_page(response.status_code, response.get_data(as_text=True), (302, 400))


# The upload form's calendar and case: a select and a text box, but a post may carry anything.
choice = st.one_of(st.sampled_from(["3", "Surveillance", "2026-0142", ""]), digits)


def uploaded(admin: FlaskClient, data: bytes, filename: str, chosen: dict[str, str]) -> None:
    """Upload, preview, and press confirm when the preview offers it: never a 500."""
    form = {
        "csrf_token": csrf_token(admin, "/admin/uploads"),
        "file": (io.BytesIO(data), filename),
        **chosen,
    }
    response = admin.post("/admin/uploads", data=form, content_type="multipart/form-data")
    assert_page(response.status_code, response.get_data(as_text=True), (302, 400))
    if response.status_code != 302:
        return
    preview = admin.get(response.headers["Location"])
    page = preview.get_data(as_text=True)
    assert_page(preview.status_code, page, (200,))
    if 'name="preview_digest"' in page:
        confirmed = admin.post(
            "/admin/uploads/confirm",
            data={
                "csrf_token": hidden(preview, "csrf_token"),
                "upload_id": hidden(preview, "upload_id"),
                "preview_digest": hidden(preview, "preview_digest"),
            },
        )
        assert_page(confirmed.status_code, confirmed.get_data(as_text=True), (302,))


@WEB
@given(
    st.lists(st.dictionaries(st.sampled_from(COLUMNS), value, max_size=8), min_size=1, max_size=5),
    st.sampled_from(["utf-8", "cp1252", "shift_jis"]),
    st.fixed_dictionaries({"calendar": choice, "case": choice}),
)
def test_any_csv_upload_previews_and_confirms_without_a_500(
    admin: FlaskClient, rows: list[dict[str, str]], codec: str, chosen: dict[str, str]
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(name, "") for name in COLUMNS])
    uploaded(admin, out.getvalue().encode(codec, errors="replace"), "rows.csv", chosen)


@WEB
@given(
    st.lists(event_text, min_size=1, max_size=3),
    st.fixed_dictionaries(
        {
            "calendar": choice,
            "case": choice,
            "expand_until": st.sampled_from([date(2026, 9, 30).isoformat(), "", "2026-\u00b2-01"]),
        }
    ),
)
def test_any_ics_upload_previews_and_confirms_without_a_500(
    admin: FlaskClient, events: list[str], chosen: dict[str, str]
) -> None:
    data = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n"
    uploaded(admin, data.encode(), "export.ics", chosen)
