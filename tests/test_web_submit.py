"""Creating events on the web: the form, uploads with their preview, batches, over real SQLite."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from bridge.config import Settings
from bridge.entries import COLUMNS
from bridge.models import Event, Privacy
from bridge.sending import drain_outbox
from bridge.store import OutboxItem, Store, SyncState, open_store
from bridge.store.tables import uploads as uploads_table
from bridge.sync import Syncer, SyncOptions
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path
from bridge.web.submit import MAX_REQUEST_BYTES
from tests.support.submit import (
    ANN,
    BO,
    COURT,
    JANE_SMITH,
    JOHN_DOE,
    SURVEILLANCE,
    batch_id_of,
    confirm,
    event_form,
    field_error,
    preview_of,
    submit_settings,
    submit_store,
    upload,
)
from tests.support.web import csrf_token, hidden, hidden_value, log_in


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return submit_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return submit_settings()


def items_of(db: Store, batch_id: int) -> list[OutboxItem]:
    return db.batch_progress(batch_id).items


# -- the form ------------------------------------------------------------------------------


def test_form_page_offers_the_mirror_s_names(admin: FlaskClient) -> None:
    page = admin.get("/admin/events/new").get_data(as_text=True)
    assert f'<option value="{SURVEILLANCE}"' in page and ">Surveillance</option>" in page
    assert ">Court dates</option>" in page
    assert '<option value="2026-0142">2026-0142 / DOE-SURV — Doe, John: surveillance' in page
    assert f'<option value="{ANN}"' in page and "Ann Lee (ann@example.com)" in page
    assert '<option value="CO"' in page or '"CO"' in page, "the US states for the script"
    assert 'placeholder="America/Chicago"' in page, "no calendar chosen: the bridge default"
    assert "</script> insurance" not in page, "a case title can't end the page's data block"
    assert re.search(r'name="submission_id" value="[\w-]{16,}"', page)
    other = admin.get("/admin/events/new").get_data(as_text=True)
    assert hidden_value(page, "submission_id") != hidden_value(other, "submission_id")


def test_form_queues_one_event_in_utc_with_the_calendar_s_zone(
    admin: FlaskClient, db: Store
) -> None:
    response = admin.post("/admin/events/new", data=event_form(admin))
    batch_id = batch_id_of(response)
    (item,) = items_of(db, batch_id)
    event = item.body["event"]
    # Denver in July is UTC-6: the calendar's zone, as the time zone was left blank.
    assert (event["start_at"], event["end_at"]) == ("2026-07-10 13:00:00", "2026-07-10 21:00:00")
    assert event["timezone"] == "America/Denver"
    assert (event["calendar_id"], event["casefile_id"], event["subject_id"]) == (3, 11, 21)
    assert event["users_list"] == [ANN, BO]
    assert event["address"]["state"] == "CO" and event["address"]["zip"] == "80202"
    assert event["body"] == "Subject leaves home around 7.\nBlue sedan."
    assert item.state == "pending"

    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Queued &#39;Surveillance: John Doe&#39;" in page
    assert "2026-07-10 13:00 – 21:00 UTC" in page
    assert "Sent 0 of 1" in page


def test_a_double_click_or_reload_submits_once(admin: FlaskClient, db: Store) -> None:
    form = event_form(admin)
    first = batch_id_of(admin.post("/admin/events/new", data=form))
    again = admin.post("/admin/events/new", data=form)
    assert batch_id_of(again) == first
    assert len(items_of(db, first)) == 1
    assert len(db.list_batches()) == 1
    page = admin.get(again.headers["Location"]).get_data(as_text=True)
    assert "This event was already submitted on" in page
    assert f"(batch {first}); nothing new was queued" in page

    # The form opened again and filled in identically: that event exists, so nothing is queued,
    # and no empty batch is made: the page is the batch that has it.
    copy = admin.post("/admin/events/new", data=event_form(admin))
    assert batch_id_of(copy) == first and len(db.list_batches()) == 1
    assert "an event identical to" in admin.get(copy.headers["Location"]).get_data(as_text=True)
    other = admin.post("/admin/events/new", data=event_form(admin, title="Day 2"))
    assert len(items_of(db, batch_id_of(other))) == 1


def test_form_errors_are_shown_by_their_fields_with_the_input_kept(
    admin: FlaskClient, db: Store
) -> None:
    form = event_form(
        admin,
        title="",
        case="2026-0150",  # Jane Smith's case: John Doe is not one of its subjects
        start_time="15:00",
        end_time="07:00",
        state="XX",
        staff=[str(BO), "999"],
        service="abc",
    )
    response = admin.post("/admin/events/new", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The event was not queued." in page
    assert field_error(page, "title") == "is required"
    assert "belongs to case 2026-0142 / DOE-SURV" in field_error(page, "subject")
    assert "before Start time 15:00" in field_error(page, "end_time")  # the form's label
    assert "is not a state of US" in field_error(page, "state")
    assert "no staff member with id 999" in field_error(page, "staff")
    assert "is not a case service id" in field_error(page, "service")
    assert "<li>Title: is required</li>" in page, "the summary names the field"
    # Everything typed is still there.
    assert 'value="2026-0150"' in page
    assert 'value="15:00"' in page and 'value="07:00"' in page and 'value="abc"' in page
    assert '<option value="XX" selected>XX</option>' in page, "a state not in the list, kept"
    assert re.search(rf'<option value="{BO}" selected>', page)
    assert ">Subject leaves home around 7.\nBlue sedan.</textarea>" in page
    assert re.search(r'<option value="2000 Blake Street"|value="2000 Blake Street"', page)
    assert hidden_value(page, "submission_id") == form["submission_id"], "the same submission"
    assert re.search(rf'<option value="{JANE_SMITH}"', page), "the typed case's subjects"
    assert not re.search(rf'<option value="{JOHN_DOE}"', page)
    assert db.list_batches() == [], "nothing was queued"


def test_a_superscript_or_foreign_digit_is_a_field_error_not_a_500(
    admin: FlaskClient, db: Store
) -> None:
    # "²".isdigit() is true but int("²") fails: this was a 500.
    response = admin.post(
        "/admin/events/new",
        data=event_form(admin, calendar="\u00b2", service="\u0661", staff=["\u00b2"]),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(page, "calendar") == "no calendar named &#39;\u00b2&#39;"
    assert "&#39;\u0661&#39; is not a case service id (a whole number)" in page
    assert "no staff member named &#39;\u00b2&#39;" in page
    assert db.list_batches() == []


def test_a_time_in_the_spring_forward_gap_is_refused_on_the_form(
    admin: FlaskClient, db: Store
) -> None:
    form = event_form(
        admin,
        start_date="2026-03-08",
        start_time="02:30",
        end_time="04:00",
        timezone="America/New_York",
    )
    response = admin.post("/admin/events/new", data=form)
    assert response.status_code == 400
    message = field_error(response.get_data(as_text=True), "start_time")
    assert "02:30 does not exist on 2026-03-08 in America/New_York" in message
    assert "clocks skip from 02:00 to 03:00" in message
    assert db.list_batches() == []


def test_a_repeated_time_is_queued_with_the_rule_that_was_applied(
    admin: FlaskClient, db: Store
) -> None:
    form = event_form(
        admin,
        start_date="2026-11-01",
        start_time="01:30",
        end_time="03:00",
        timezone="Eastern Standard Time",  # as pasted from Outlook
    )
    response = admin.post("/admin/events/new", data=form)
    (item,) = items_of(db, batch_id_of(response))
    # The first 01:30 is still daylight time (UTC-4).
    assert item.body["event"]["start_at"] == "2026-11-01 05:30:00"
    assert item.body["event"]["timezone"] == "America/New_York"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Note: 01:30 on 2026-11-01 happens twice in America/New_York" in page
    assert "used the first, EDT (UTC-04:00)" in page


def test_an_all_day_event_over_several_days(admin: FlaskClient, db: Store) -> None:
    form = event_form(
        admin,
        all_day="yes",
        start_date="2026-07-10",
        end_date="2026-07-12",
        calendar=str(COURT),
        start_time="09:00",  # hidden once all day is ticked: ignored
    )
    (item,) = items_of(db, batch_id_of(admin.post("/admin/events/new", data=form)))
    event = item.body["event"]
    assert event["is_allday"] is True
    assert event["timezone"] == "America/Chicago", "Court has no zone: the bridge's default"
    assert (event["start_at"], event["end_at"]) == ("2026-07-10 05:00:00", "2026-07-13 04:59:59")


# -- uploads -------------------------------------------------------------------------------

CSV_ROWS = (
    b"Title,Calendar,Case,Start Date,Start Time,End Time,Staff,Timezone\r\n"
    b"Surveillance day 1,Surveillance,2026-0142,2026-07-10,07:00,15:00,Ann Lee,\r\n"
    b"Surveillance day 2,Surveillance,DOE-SURV,2026-07-11,07:00,15:00,Ann Lee; Bo Chen,\r\n"
    b"Hearing,Court dates,2026-0150,2026-07-32,09:00,10:00,Nobody Here,Mars/Olympus\r\n"
    b"Deposition,Court dates,2026-0150,2026-07-14,,,,America/New_York\r\n"
)


def test_csv_preview_lists_every_row_and_confirm_queues_only_the_ready_ones(
    admin: FlaskClient, db: Store
) -> None:
    preview = preview_of(admin, upload(admin, CSV_ROWS, "week.csv"))
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert db.list_batches() == [], "nothing is queued before the confirm"
    assert "4 rows:" in page and "3 ready" in page and "1 with mistakes" in page
    # A ready row: local time, zone, UTC, calendar, case and staff by name.
    assert "Fri 10 Jul 2026, 07:00–15:00" in page
    assert "America/Denver" in page and "2026-07-10 13:00 – 21:00 UTC" in page
    assert "Surveillance · case 2026-0142 / DOE-SURV" in page
    assert "Ann Lee, Bo Chen" in page
    assert "Tue 14 Jul 2026, all day" in page
    # The bad row: every mistake, each naming the row and the column as headed in the file.
    assert "Row 4, column Start Date: &#39;2026-07-32&#39; is not a date" in page
    assert "Row 4, column Timezone: unknown time zone &#39;Mars/Olympus&#39;" in page
    assert "Row 4, column Staff: no staff member named &#39;Nobody Here&#39;" in page
    assert "Queue the 3 ready events" in page

    response = confirm(admin, preview)
    batch_id = batch_id_of(response)
    items = items_of(db, batch_id)
    assert sorted(item.row for item in items) == [2, 3, 5]
    assert {item.title for item in items} == {
        "Surveillance day 1",
        "Surveillance day 2",
        "Deposition",
    }
    batch = db.get_batch(batch_id)
    assert (batch.total, batch.ready, batch.invalid) == (4, 3, 1)
    assert (batch.source, batch.label) == ("csv", "week.csv")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "week.csv: 3 events queued." in page
    assert "1 row with mistakes was not queued" in page


def test_a_preview_reload_and_the_confirm_do_not_read_the_file_again(
    admin: FlaskClient, db: Store, store_url: str
) -> None:
    preview = preview_of(admin, upload(admin, CSV_ROWS, "week.csv"))
    # Spoil the kept bytes: a page that read the file again would show a file error now.
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(update(uploads_table).values(data=b"\xff\xfe not even text"))
    engine.dispose()
    reloaded = admin.get(f"/admin/uploads/{hidden(preview, 'upload_id')}")
    page = reloaded.get_data(as_text=True)
    assert reloaded.status_code == 200
    assert "4 rows:" in page and "3 ready" in page and "UTF-16" not in page
    assert hidden(reloaded, "preview_digest") == hidden(preview, "preview_digest")
    batch_id = batch_id_of(confirm(admin, reloaded))
    assert sorted(item.row for item in items_of(db, batch_id)) == [2, 3, 5]


def test_the_preview_says_which_encoding_was_assumed(admin: FlaskClient) -> None:
    utf8 = preview_of(admin, upload(admin, CSV_ROWS, "week.csv")).get_data(as_text=True)
    assert "Read as UTF-8." in utf8 and "The file is not" not in utf8
    japanese = (
        CSV_ROWS.decode().replace("Surveillance day 1", "張り込み 一日目").encode("shift_jis")
    )
    page = preview_of(admin, upload(admin, japanese, "week.csv")).get_data(as_text=True)
    assert "Read as Shift-JIS (Windows). The file is not" in " ".join(page.split())
    assert "張り込み 一日目" in page
    damaged = CSV_ROWS.replace(b"Ann Lee; Bo Chen", "Zoë".encode() + b" \xe9")
    page = preview_of(admin, upload(admin, damaged, "week.csv")).get_data(as_text=True)
    assert "the file is UTF-8 except for 1 byte that is not (the first on line 3)" in page
    assert "Queue the" not in page


def test_the_same_file_again_says_when_it_was_submitted_and_queues_nothing(
    admin: FlaskClient, db: Store
) -> None:
    first_preview = preview_of(admin, upload(admin, CSV_ROWS, "week.csv"))
    first = batch_id_of(confirm(admin, first_preview))
    again = preview_of(admin, upload(admin, CSV_ROWS, "week (1).csv"))
    page = again.get_data(as_text=True)
    assert "This file was already submitted on" in page
    assert f"batch {first}</a>" in page
    assert "Queue the" not in page, "no button to queue it again"

    # The first preview's button pressed again (an old tab) queues nothing either.
    response = confirm(admin, first_preview)
    assert batch_id_of(response) == first
    assert len(items_of(db, first)) == 3
    assert len(db.list_batches()) == 1
    assert "nothing new was queued" in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )


ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r
BEGIN:VEVENT\r
UID:hearing-1@google.com\r
DTSTART;TZID=America/New_York:20260715T093000\r
DTEND;TZID=America/New_York:20260715T110000\r
SUMMARY:Hearing: Smith\r
LOCATION:Court House\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:weekly-1@google.com\r
DTSTART:20260720T140000Z\r
DTEND:20260720T150000Z\r
RRULE:FREQ=WEEKLY;COUNT=10\r
SUMMARY:Weekly check-in\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_ics_upload_takes_calendar_and_case_from_the_form(admin: FlaskClient, db: Store) -> None:
    response = upload(
        admin, ICS, "export.ics", calendar=str(COURT), case="2026-0150", expand_until="2026-08-02"
    )
    preview = preview_of(admin, response)
    page = preview.get_data(as_text=True)
    assert "Wed 15 Jul 2026, 09:30–11:00" in page and "2026-07-15 13:30 – 15:00 UTC" in page
    assert "Court dates · case 2026-0150" in page
    assert page.count("<strong>Weekly check-in</strong>") == 2, "up to 2 August: 20 and 27 July"
    items = items_of(db, batch_id_of(confirm(admin, preview)))
    assert len(items) == 3
    for item in items:
        assert (item.body["event"]["calendar_id"], item.body["event"]["casefile_id"]) == (4, 12)


def test_ics_upload_without_a_case_lists_the_rows_as_not_ready(
    admin: FlaskClient, db: Store
) -> None:
    page = preview_of(admin, upload(admin, ICS, "export.ics")).get_data(as_text=True)
    assert "0 ready" in page and "case: is required" in page
    assert "Queue the" not in page


def test_an_upload_form_mistake_keeps_the_choices(admin: FlaskClient, db: Store) -> None:
    response = admin.post(
        "/admin/uploads",
        data={
            "csrf_token": csrf_token(admin, "/admin/uploads"),
            "case": "2026-0150",
            "expand_until": "next week",
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose a CSV or .ics file to upload." in page
    assert "&#39;next week&#39; is not a date" in page
    assert 'value="2026-0150"' in page


def test_an_oversized_upload_gets_a_page_that_says_the_limit(
    app: Flask, admin: FlaskClient, db: Store
) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_REQUEST_BYTES
    # Encoded in memory: the test client would spool a body this size to a temporary file
    # that it leaves open when the app refuses to read it.
    boundary, body = encode_multipart(
        {
            "csrf_token": csrf_token(admin, "/admin/uploads"),
            "file": FileStorage(io.BytesIO(b"x" * MAX_REQUEST_BYTES), "huge.csv"),
        }
    )
    response = admin.post(
        "/admin/uploads",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "The file is too large" in page and "at most 5 MB" in page
    assert "Split the file" in page
    assert db.list_batches() == []


def test_a_csv_over_the_parser_s_limits_is_explained_on_the_preview(admin: FlaskClient) -> None:
    rows = "".join(f"Row {n},Surveillance,2026-0142,2026-07-10\r\n" for n in range(1, 1100))
    data = ("title,calendar,case,start_date\r\n" + rows).encode()
    page = preview_of(admin, upload(admin, data, "too-many.csv")).get_data(as_text=True)
    assert "the limit is 1,000: split it" in page
    assert "Queue the" not in page


def test_an_unknown_or_expired_upload_says_so(admin: FlaskClient) -> None:
    response = admin.get("/admin/uploads/not-an-upload-id")
    assert response.status_code == 404
    assert "This upload is no longer kept" in response.get_data(as_text=True)
    gone = admin.post(
        "/admin/uploads/confirm",
        data={"csrf_token": csrf_token(admin, "/admin/uploads"), "upload_id": "nope"},
    )
    assert gone.status_code == 404


def test_confirm_refuses_when_the_preview_changed_since_it_was_shown(
    admin: FlaskClient, db: Store
) -> None:
    preview = preview_of(admin, upload(admin, CSV_ROWS, "week.csv"))
    db.rename_calendar(SURVEILLANCE, "Field work")  # rows 2 and 3 name it "Surveillance"
    response = confirm(admin, preview)
    assert response.status_code == 409
    assert "The preview changed since it was shown" in response.get_data(as_text=True)
    assert db.list_batches() == []


def test_the_csv_template_downloads_with_every_column(admin: FlaskClient) -> None:
    response = admin.get("/admin/uploads/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    header, example = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(header) == COLUMNS
    assert example[0]


def test_the_upload_page_explains_columns_and_dates(admin: FlaskClient) -> None:
    page = admin.get("/admin/uploads").get_data(as_text=True)
    assert 'href="/admin/uploads/template.csv"' in page
    assert "YYYY-MM-DD" in page and "03/04/2026" in page
    for column in COLUMNS:
        assert column in page


# -- batches -------------------------------------------------------------------------------

SENT_AT = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def created(item: OutboxItem, event_id: int) -> Event:
    """The event as Trackops would return it for ``item``'s body."""
    body = item.body["event"]
    return Event(
        event_id=event_id,
        title=body["title"],
        start_at=datetime.fromisoformat(body["start_at"]).replace(tzinfo=UTC),
        end_at=datetime.fromisoformat(body["end_at"]).replace(tzinfo=UTC),
        calendar_id=body["calendar_id"],
        case_id=body["casefile_id"],
        timezone=body["timezone"],
        is_allday=body["is_allday"],
        updated_at=SENT_AT,
    )


def send_one(db: Store, event_id: int) -> OutboxItem:
    item = db.claim_next_item(SENT_AT)
    assert item is not None
    return db.mark_item_sent(item.item_id, created(item, event_id), SENT_AT)


def refuse_one(db: Store, error: str, **field_errors: tuple[str, ...]) -> OutboxItem:
    item = db.claim_next_item(SENT_AT)
    assert item is not None
    return db.mark_item_failed(item.item_id, error, field_errors, SENT_AT)


def queued_upload(admin: FlaskClient, data: bytes = CSV_ROWS, name: str = "week.csv") -> int:
    return batch_id_of(confirm(admin, preview_of(admin, upload(admin, data, name))))


def test_batch_page_shows_progress_and_trackops_errors_until_done(
    admin: FlaskClient, db: Store
) -> None:
    batch_id = queued_upload(admin)
    send_one(db, 9001)
    refuse_one(db, "Trackops refused the event (422)", start_at=("is outside business hours",))
    page = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    assert "Sent 1 of 3" in page
    assert 'id="count-pending">1<' in page and 'id="count-failed">1<' in page
    assert "event 9001" in page
    assert "Trackops refused the event (422)" in page
    assert "start_at: is outside business hours" in page
    assert "1 row with mistakes" in page, "the invalid row was never queued"
    assert '<meta http-equiv="refresh" content="5">' in page, "unfinished: it refreshes itself"
    assert "The worker has not been seen" in page, "no heartbeat yet: nothing is being sent"
    db.put_sync_state(SyncState(heartbeat_at=datetime.now(UTC)))
    beating = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    assert "The worker has not been seen" not in beating, "a fresh heartbeat: it is sending"

    listing = admin.get("/admin/batches").get_data(as_text=True)
    assert "1 of 3" in listing and "1 to go" in listing and "1 refused by Trackops" in listing

    send_one(db, 9002)
    done = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    assert "Sent 2 of 3</strong>: finished." in done
    assert 'http-equiv="refresh"' not in done
    assert "The worker has not been seen" not in done

    listing = admin.get("/admin/batches").get_data(as_text=True)
    assert f'href="/admin/batches/{batch_id}"' in listing
    assert "2 of 3" in listing and "1 refused by Trackops" in listing
    assert "to go" not in listing


def test_results_csv_is_excel_safe(admin: FlaskClient, db: Store) -> None:
    data = (
        "title,calendar,case,start_date,start_time\r\n"
        '"=HYPERLINK(""http://evil.example"",""Open"")",Surveillance,2026-0142,2026-07-10,07:00\r\n'
        "+1 call Zoë,Surveillance,2026-0142,2026-07-11,07:00\r\n"
        "Plain,Surveillance,2026-0142,2026-07-12,07:00\r\n"
    ).encode()
    batch_id = queued_upload(admin, data, "risky.csv")
    send_one(db, 9100)
    refuse_one(db, "@SUM(1+1)", title=("-2 characters too long",))
    response = admin.get(f"/admin/batches/{batch_id}/results.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="batch-{batch_id}-results.csv"' in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel reads UTF-8"
    header, *lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    rows = [dict(zip(header, line, strict=True)) for line in lines]
    assert [r["title"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example","Open")',
        "'+1 call Zoë",
        "Plain",
    ]
    assert (rows[0]["state"], rows[0]["trackops_event_id"]) == ("sent", "9100")
    assert rows[1]["error"] == "'@SUM(1+1); title: -2 characters too long"
    assert rows[2]["state"] == "pending"
    assert rows[0]["local_time"] == "Fri 10 Jul 2026, 07:00–08:00"
    assert rows[0]["utc_time"] == "2026-07-10 13:00 – 14:00 UTC"
    formula_starts = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:
        assert not any(cell.startswith(formula_starts) for cell in row.values()), row


def test_an_unknown_batch_is_a_404(admin: FlaskClient) -> None:
    # "١" (Arabic-Indic one) and "²" are digits to str.isdigit() and \d, not batch ids.
    paths = ("/admin/batches/999", "/admin/batches/999/results.csv", "/admin/batches/x")
    for path in (*paths, "/admin/batches/\u0661", "/admin/batches/\u00b2/results.csv"):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.get_data(as_text=True)


# -- login and CSRF ------------------------------------------------------------------------

SUBMIT_ROUTES = {
    ("GET", "/admin/events/new"),
    ("POST", "/admin/events/new"),
    ("GET", "/admin/uploads"),
    ("POST", "/admin/uploads"),
    ("GET", "/admin/uploads/<upload_id>"),
    ("POST", "/admin/uploads/confirm"),
    ("GET", "/admin/uploads/template.csv"),
    ("GET", "/admin/batches"),
    ("GET", "/admin/batches/<batch_id>"),
    ("GET", "/admin/batches/<batch_id>/results.csv"),
    ("GET", "/admin/batches/<batch_id>/to-fix.csv"),
}


def submit_routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("submit.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def concrete(rule: str) -> str:
    return rule.replace("<upload_id>", "some-upload").replace("<batch_id>", "1")


def test_every_submit_route_needs_a_login(app: Flask, db: Store) -> None:
    assert submit_routes(app) == SUBMIT_ROUTES, "a new route: list it here"
    web = app.test_client()
    for method, rule in SUBMIT_ROUTES:
        response = web.open(concrete(rule), method=method, data={"title": "x"})
        if method == "GET":
            assert response.status_code == 302, rule
            assert urlsplit(response.headers["Location"]).path == "/login", rule
        else:
            assert response.status_code == 401, rule
    assert db.list_batches() == []


def test_every_submit_post_needs_the_csrf_token(admin: FlaskClient, db: Store) -> None:
    form = event_form(admin)
    del form["csrf_token"]
    for method, rule in SUBMIT_ROUTES:
        if method == "POST":
            response = admin.post(concrete(rule), data=form)
            assert response.status_code == 400, rule
            assert "security token" in response.get_data(as_text=True), rule
    assert db.list_batches() == []


# -- the whole path ------------------------------------------------------------------------


def test_upload_to_outbox_to_trackops_to_mirror_to_feed(
    sandbox, client, tmp_path, web_settings: Settings
) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as store:
        store.migrate()
        Syncer(client, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
        case = next(c for c in store.list_cases() if c.case_number)
        person = store.list_staff()[0]
        calendar = store.list_calendars()[0]
        app = create_app(web_settings, store_url=url)
        try:
            web = app.test_client()
            log_in(web)
            day = (datetime.now(UTC) + timedelta(days=10)).date()
            title = "Bridge end-to-end: surveillance"
            data = (
                "title,calendar,case,start_date,start_time,end_time,timezone,staff\r\n"
                f"{title},{calendar.calendar_id},{case.case_number},{day},07:00,15:00,"
                f"America/Denver,{person.staff_id}\r\n"
            ).encode()
            batch_id = batch_id_of(confirm(web, preview_of(web, upload(web, data, "e2e.csv"))))
            assert store.batch_progress(batch_id).counts["pending"] == 1

            result = drain_outbox(client, store)
            assert (result.sent, result.failed) == (1, 0)

            (item,) = store.batch_progress(batch_id).items
            assert item.state == "sent" and item.event_id is not None
            in_trackops = sandbox.control.get_event(item.event_id)
            assert in_trackops["title"] == title
            mirrored = store.get_event(item.event_id)
            assert mirrored is not None and mirrored.title == title
            assert mirrored.staff_ids == (person.staff_id,)

            feed = next(
                f
                for f in store.list_feeds()
                if f.kind.value == "calendar" and f.target_id == calendar.calendar_id
            )
            served = web.get(feed_path(feed)).get_data(as_text=True)
            assert f"SUMMARY:{title}" in served
            assert f"DTSTART;TZID=America/Denver:{day:%Y%m%d}T070000" in served

            page = web.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
            assert "Sent 1 of 1</strong>: finished." in page
            assert f"event {item.event_id}" in page
        finally:
            app_context_of(app).store.close()


def test_the_form_s_scripts_run_under_the_page_s_content_security_policy(
    admin: FlaskClient,
) -> None:
    response = admin.get("/admin/events/new")
    policy = response.headers["Content-Security-Policy"]
    found = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert found, policy
    page = response.get_data(as_text=True)
    assert page.count(f'<script nonce="{found.group(1)}">') == 1
    assert f'<script type="application/json" id="form-data" nonce="{found.group(1)}">' in page
    assert "<script>" not in page, "no script without the nonce"


def test_a_later_expand_date_queues_only_the_new_occurrences(admin: FlaskClient, db: Store) -> None:
    choices = {"calendar": str(COURT), "case": "2026-0150"}
    first = upload(admin, ICS, "export.ics", expand_until="2026-07-26", **choices)
    first_batch = batch_id_of(confirm(admin, preview_of(admin, first)))
    assert len(items_of(db, first_batch)) == 2, "the hearing and the check-in of 20 July"

    later = preview_of(
        admin, upload(admin, ICS, "export.ics", expand_until="2026-08-09", **choices)
    )
    page = later.get_data(as_text=True)
    assert "This file was already submitted on" in page
    assert "2 of its events are new since then and can be queued" in page
    assert "Queue the 2 new events" in page
    assert batch_id_of(confirm(admin, later)) == first_batch
    assert len(items_of(db, first_batch)) == 4, "27 July and 3 August added, nothing twice"


def test_a_corrected_file_leaves_out_rows_already_queued_from_the_first(
    admin: FlaskClient, db: Store
) -> None:
    first_batch = queued_upload(admin)  # row 4 had mistakes
    fixed = CSV_ROWS.replace(
        b"2026-07-32,09:00,10:00,Nobody Here,Mars/Olympus", b"2026-07-13,09:00,10:00,,"
    )
    preview = preview_of(admin, upload(admin, fixed, "week-fixed.csv"))
    page = preview.get_data(as_text=True)
    assert "This file was already submitted" not in page, "a different file"
    assert page.count("<strong>Already queued</strong>") == 3
    assert f'href="/admin/batches/{first_batch}">batch {first_batch}</a>' in page
    assert "Queue the 1 new event" in page
    second_batch = batch_id_of(confirm(admin, preview))
    assert [item.title for item in items_of(db, second_batch)] == ["Hearing"]
    assert len(items_of(db, first_batch)) == 3
