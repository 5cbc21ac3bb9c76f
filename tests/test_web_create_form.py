"""Creating one event on the form: mistakes in the form's own words, the batch named after the
event, an identical event from a new page sent nowhere twice and no empty batch, and warnings
never drawn as success."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.store import Store
from tests.support.submit import (
    batch_id_of,
    event_form,
    field_error,
    submit_settings,
    submit_store,
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return submit_store(tmp_path)


@pytest.fixture
def web_settings() -> Settings:
    return submit_settings()


def alert_text(page: str) -> str:
    """The list of mistakes at the top of the form, as text."""
    found = re.search(r'<div class="card" role="alert">(.*?)</div>', page, re.S)
    assert found, "the page lists the mistakes"
    return re.sub(r"<[^>]+>", " ", found.group(1))


def flashes(page: str) -> list[tuple[str, str]]:
    """(class, text) of each flashed message on the page."""
    return re.findall(r'<p class="(flash[^"]*)" role="status">([^<]*)</p>', page)


def test_a_mistake_names_other_fields_by_their_labels_not_their_columns(
    admin: FlaskClient, db: Store
) -> None:
    form = event_form(admin, start_time="15:00", end_time="07:00")
    response = admin.post("/admin/events/new", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    summary = alert_text(page)
    assert "End time: 07:00 is before Start time 15:00 on 2026-07-10" in summary
    assert "needs End date 2026-07-11" in summary
    for column in ("start_time", "end_time", "end_date"):
        assert column not in summary
        assert column not in field_error(page, "end_time")
    assert db.list_batches() == []


def test_the_all_day_box_is_named_as_the_box_it_is(admin: FlaskClient) -> None:
    # No times and the box not ticked: the form says which box, and that it is not ticked.
    response = admin.post("/admin/events/new", data=event_form(admin, start_time="", end_time=""))
    summary = alert_text(response.get_data(as_text=True))
    assert "Start time: is required when All day is not ticked" in summary
    assert "all_day" not in summary


def test_a_form_batch_is_labelled_with_its_event_s_title(admin: FlaskClient, db: Store) -> None:
    response = admin.post("/admin/events/new", data=event_form(admin, title="Stakeout — Doe"))
    batch_id = batch_id_of(response)
    batch = db.get_batch(batch_id)
    assert batch is not None and (batch.source, batch.label) == ("form", "Stakeout — Doe")
    page = admin.get(f"/admin/batches/{batch_id}").get_data(as_text=True)
    assert f"<h1>Batch {batch_id}: Stakeout — Doe</h1>" in page
    assert "Stakeout — Doe" in admin.get("/admin/batches").get_data(as_text=True)


def test_an_identical_event_from_a_new_form_page_makes_no_empty_batch(
    admin: FlaskClient, db: Store
) -> None:
    first = batch_id_of(admin.post("/admin/events/new", data=event_form(admin)))
    # The same event typed again on a fresh page (a new submission id).
    again = admin.post("/admin/events/new", data=event_form(admin))
    assert batch_id_of(again) == first, "sent to the batch that has the event"
    assert [b.batch_id for b in db.list_batches()] == [first]
    assert len(db.batch_progress(first).items) == 1
    page = admin.get(again.headers["Location"]).get_data(as_text=True)
    ((kind, text),) = flashes(page)
    assert kind == "flash warning"
    assert "Nothing new was queued" in text and f"in batch {first}" in text


def test_queued_is_success_and_a_note_is_a_warning(admin: FlaskClient) -> None:
    response = admin.post("/admin/events/new", data=event_form(admin, end_time=""))
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    shown = flashes(page)
    assert [kind for kind, _ in shown] == ["flash", "flash warning"]
    assert shown[0][1].startswith("Queued ")
    assert "(1 h)" in shown[0][1], "the event's length beside its local time"
    assert shown[1][1].startswith("Note: ")
