"""The mirror the create-events tests post against: a migrated SQLite file with staff, cases,
subjects and two calendars (Surveillance in Denver, Court dates with no zone), the settings the
app runs with, `event_form()` (a filled-in form as the page posts it), and readers of the answer
(`field_error`, `batch_id_of`)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.config import Settings
from bridge.models import Case, Event, Privacy, Staff, Subject
from bridge.store import open_store
from tests.support.web import csrf_token, hidden, make_settings

UPDATED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SURVEILLANCE, COURT = 3, 4  # calendar ids; Surveillance is in Denver, Court has no zone
DOE_CASE, SMITH_CASE = 11, 12
JOHN_DOE, JANE_SMITH = 21, 22
ANN, BO = 7, 8


def seen_event(event_id: int, calendar_id: int) -> Event:
    """An event from the mirror: calendars are known only through their events."""
    start = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
    return Event(
        event_id=event_id,
        title=f"Seen on calendar {calendar_id}",
        start_at=start,
        end_at=start + timedelta(hours=1),
        calendar_id=calendar_id,
        updated_at=UPDATED,
    )


def submit_store(tmp_path: Path) -> str:
    """The URL of a new SQLite file under `tmp_path` holding the mirror."""
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
        filling.upsert_staff([Staff(ANN, "Ann", "Lee", "ann@example.com"), Staff(BO, "Bo", "Chen")])
        filling.upsert_cases(
            [
                Case(DOE_CASE, "2026-0142", "DOE-SURV", "Doe, John: surveillance"),
                Case(SMITH_CASE, "2026-0150", "", "Smith </script> insurance claim"),
            ]
        )
        filling.upsert_subjects(
            [Subject(JOHN_DOE, DOE_CASE, "John Doe"), Subject(JANE_SMITH, SMITH_CASE, "Jane Smith")]
        )
        filling.apply_event_changes(
            [seen_event(1, SURVEILLANCE), seen_event(2, COURT)], [], UPDATED
        )
        filling.rename_calendar(SURVEILLANCE, "Surveillance")
        filling.set_calendar_timezone(SURVEILLANCE, "America/Denver")
        filling.rename_calendar(COURT, "Court dates")
        filling.ensure_feeds(Privacy.FULL)
    return url


def submit_settings() -> Settings:
    return make_settings(default_timezone="America/Chicago")


def event_form(admin: FlaskClient, **values: object) -> dict[str, object]:
    """A filled-in form as the page would post it, with the page's own hidden fields."""
    page = admin.get("/admin/events/new")
    form: dict[str, object] = {
        "csrf_token": hidden(page, "csrf_token"),
        "submission_id": hidden(page, "submission_id"),
        "title": "Surveillance: John Doe",
        "calendar": str(SURVEILLANCE),
        "case": "2026-0142",
        "subject": str(JOHN_DOE),
        "staff": [str(ANN), str(BO)],
        "start_date": "2026-07-10",
        "start_time": "07:00",
        "end_time": "15:00",
        "description": "Subject leaves home around 7.\nBlue sedan.",
        "address_1": "2000 Blake Street",
        "city": "Denver",
        "country": "US",
        "state": "CO",
        "zip": "80202",
    }
    form.update(values)
    return form


def field_error(page: str, name: str) -> str:
    """The message shown next to field ``name`` (empty when there is none)."""
    found = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', page)
    return found.group(1) if found else ""


def batch_id_of(response: TestResponse) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.fullmatch(r"/admin/batches/(\d+)", urlsplit(response.headers["Location"]).path)
    assert found, response.headers["Location"]
    return int(found.group(1))


def upload(admin: FlaskClient, data: bytes, filename: str, **choices: str) -> TestResponse:
    form = {
        "csrf_token": csrf_token(admin, "/admin/uploads"),
        "file": (io.BytesIO(data), filename),
        **choices,
    }
    return admin.post("/admin/uploads", data=form, content_type="multipart/form-data")


def preview_of(admin: FlaskClient, response: TestResponse) -> TestResponse:
    assert response.status_code == 302, response.get_data(as_text=True)
    assert urlsplit(response.headers["Location"]).path.startswith("/admin/uploads/")
    return admin.get(response.headers["Location"])


def confirm(admin: FlaskClient, preview: TestResponse) -> TestResponse:
    """Press the preview's button."""
    return admin.post(
        "/admin/uploads/confirm",
        data={
            "csrf_token": hidden(preview, "csrf_token"),
            "upload_id": hidden(preview, "upload_id"),
            "preview_digest": hidden(preview, "preview_digest"),
        },
    )
