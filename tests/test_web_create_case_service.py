"""The event form's "Case service": a list of the services the chosen case's events name (as the
real sync mirrored them from the sandbox), a box for another id, and the box alone when the
mirror knows none of the case's; what is chosen or typed is the case_service_id sent; the store
read behind the list, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import Privacy
from bridge.store import Store, open_store
from bridge.store.case_services import KnownService
from bridge.sync import Syncer, SyncOptions
from tests.support.events import SYNC_AT, T0, make_event
from tests.support.pages import at, event_record
from tests.support.sandbox import ANCHOR, make_client
from tests.support.store import BACKENDS
from tests.support.submit import batch_id_of, field_error
from tests.support.web import hidden, make_settings
from trackops_sandbox.server import SandboxServer

ZONE = "America/Chicago"
SERVED_CASE, QUIET_CASE = 9901, 9902  # a case whose events name services, and one whose don't
SERVICE, SKIP_TRACE = 41, 42


def _on(days: int, hour: int) -> tuple[datetime, datetime]:
    start = at(ZONE, datetime.combine(ANCHOR + timedelta(days=days), time(hour)))
    return start, start + timedelta(hours=1)


def records() -> list[dict[str, Any]]:
    """Events of the two cases: service 41 twice (the later one served), 42 once, one without."""
    served = {"casefile_id": SERVED_CASE}
    return [
        event_record("Process service — Doe, first try", ZONE, *_on(1, 9),
                     case_service_id=SERVICE, **served),
        event_record("Process service — Doe, served", ZONE, *_on(3, 9),
                     case_service_id=SERVICE, **served),
        event_record("Skip trace", ZONE, *_on(2, 14), case_service_id=SKIP_TRACE, **served),
        event_record("Case meeting", ZONE, *_on(4, 10), **served),
        event_record("Background check", ZONE, *_on(1, 11), casefile_id=QUIET_CASE),
    ]  # fmt: skip


def trackops_services(sandbox: SandboxServer) -> dict[int, set[int]]:
    """Each case's case_service_id values over every event the sandbox holds, read by its API."""
    found: dict[int, set[int]] = {}
    with httpx.Client(base_url=sandbox.base_url, auth=sandbox.basic_auth, timeout=10) as api:
        page = 1
        while True:
            batch = api.get("/events", params={"per_page": 100, "page": page}).json()
            for event in batch:
                if event["casefile_id"] is not None and event["case_service_id"] is not None:
                    found.setdefault(event["casefile_id"], set()).add(event["case_service_id"])
            if len(batch) < 100:
                return found
            page += 1


@pytest.fixture(scope="module")
def synced(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[int, set[int]]]:
    """The session's sandbox (its seed and the records above) synced into a SQLite file by the
    real sync; the file's URL and the services per case as Trackops holds them."""
    control = sandbox_server.control
    control.reset()
    control.create("cases", id=SERVED_CASE, case_number="2026-0901", reference="SVC-A")
    control.create("cases", id=QUIET_CASE, case_number="2026-0902", reference="QUIET")
    control.create_events(records())
    url = f"sqlite:///{tmp_path_factory.mktemp('case-services') / 'bridge.db'}"
    with open_store(url) as store, make_client(sandbox_server) as client:
        store.migrate()
        Syncer(client, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
    return url, trackops_services(sandbox_server)


@pytest.fixture
def store_url(synced: tuple[str, dict[int, set[int]]], tmp_path: Path) -> str:
    copy = tmp_path / "bridge.db"
    copy.write_bytes(Path(synced[0].removeprefix("sqlite:///")).read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def web_settings() -> Settings:
    return make_settings(default_timezone=ZONE)


def form_for(admin: FlaskClient, **values: object) -> dict[str, object]:
    """The form as a browser posts it, for the served case; `values` win."""
    page = admin.get("/admin/events/new")
    start = ANCHOR + timedelta(days=5)
    return {
        "csrf_token": hidden(page, "csrf_token"),
        "submission_id": hidden(page, "submission_id"),
        "title": "Serve the papers again",
        "calendar": "2",
        "case": "2026-0901",
        "start_date": start.isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        **values,
    }


def script_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="form-data"[^>]*>(.*?)</script>', page)
    assert found, "the page carries its script's data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def tag(page: str, element_id: str) -> str:
    """The opening tag of the element with id `element_id`."""
    found = re.search(rf'<[a-z]+ [^>]*\bid="{element_id}"[^>]*>', page)
    assert found, f"the page has #{element_id}"
    return found.group(0)


def listed_services(page: str) -> list[tuple[str, str]]:
    """(value, text) of each option of the service list, in order."""
    found = re.search(r'<select id="service_choice".*?</select>', page, re.S)
    assert found, "the page has the service list"
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found.group(0))
    return [(value, unescape(text)) for value, text in options]


def sent_event(db: Store, response: Any) -> dict[str, Any]:
    (item,) = db.batch_progress(batch_id_of(response)).items
    event: dict[str, Any] = item.body["event"]
    return event


SERVED_LIST = [
    (str(SERVICE), "41 · latest: Process service — Doe, served · 2 events"),
    (str(SKIP_TRACE), "42 · latest: Skip trace · 1 event"),
]


def test_the_script_has_each_case_s_services_as_trackops_holds_them(
    admin: FlaskClient, synced: tuple[str, dict[int, set[int]]]
) -> None:
    data = script_data(admin.get("/admin/events/new").get_data(as_text=True))
    offered = data["services"]
    assert offered[str(SERVED_CASE)] == [list(choice) for choice in SERVED_LIST]
    assert str(QUIET_CASE) not in offered
    # The sandbox's own seed too: every case, exactly the services its events name.
    trackops = synced[1]
    assert len(trackops) > 5, "the seed's events name services"
    assert {int(case): {int(v) for v, _ in services} for case, services in offered.items()} == (
        trackops
    )
    assert data["caseKeys"]["2026-0901"] == SERVED_CASE


def test_a_fresh_form_shows_the_plain_box(admin: FlaskClient) -> None:
    # No case yet: the list is hidden (the script fills it when a case is typed), and a browser
    # without scripts has the text box, labelled as the field.
    page = admin.get("/admin/events/new").get_data(as_text=True)
    assert "hidden" in tag(page, "service-list") and "disabled" in tag(page, "service_choice")
    assert "disabled" not in tag(page, "service") and "hidden" not in tag(page, "service-other")
    assert '<span id="service-name">Case service</span>' in page


def test_the_form_lists_the_chosen_case_s_services(admin: FlaskClient, db: Store) -> None:
    # A refused form shows the typed case's services as a list, latest used first, and the box
    # for another.
    response = admin.post("/admin/events/new", data=form_for(admin, title=""))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert listed_services(page) == [("", "— none, or another below —"), *SERVED_LIST]
    assert "hidden" not in tag(page, "service-list")
    assert "disabled" not in tag(page, "service_choice")
    assert '<span id="service-name">Another case service</span>' in page
    assert db.list_batches() == []


def test_choosing_a_listed_service_sends_its_id(admin: FlaskClient, db: Store) -> None:
    # As a browser without scripts posts it: the list's choice and the (empty) box for another.
    response = admin.post("/admin/events/new", data=form_for(admin, service=[str(SKIP_TRACE), ""]))
    event = sent_event(db, response)
    assert (event["casefile_id"], event["case_service_id"]) == (SERVED_CASE, SKIP_TRACE)


def test_a_refused_form_keeps_the_chosen_service_chosen(admin: FlaskClient) -> None:
    form = form_for(admin, title="", service=[str(SERVICE), ""])
    page = admin.post("/admin/events/new", data=form).get_data(as_text=True)
    assert re.search(rf'<option value="{SERVICE}" selected>', page)
    assert 'value=""' in tag(page, "service"), "the box for another stays empty"


@pytest.mark.parametrize(
    ("case", "posted"),
    [("2026-0901", ["", "77"]), ("2026-0902", ["77"])],
    ids=["another than the listed", "a case with none listed"],
)
def test_a_typed_id_is_sent_as_typed(
    admin: FlaskClient, db: Store, case: str, posted: list[str]
) -> None:
    response = admin.post("/admin/events/new", data=form_for(admin, case=case, service=posted))
    assert sent_event(db, response)["case_service_id"] == 77


def test_no_service_sends_none(admin: FlaskClient, db: Store) -> None:
    response = admin.post("/admin/events/new", data=form_for(admin, service=["", ""]))
    assert "case_service_id" not in sent_event(db, response)


def test_a_case_the_mirror_knows_no_service_of_shows_the_text_box(admin: FlaskClient) -> None:
    response = admin.post("/admin/events/new", data=form_for(admin, case="2026-0902", title=""))
    page = response.get_data(as_text=True)
    assert listed_services(page) == [("", "— none, or another below —")]
    assert "hidden" in tag(page, "service-list") and "disabled" in tag(page, "service_choice")
    assert "disabled" not in tag(page, "service") and "hidden" not in tag(page, "service-other")
    assert '<span id="service-name">Case service</span>' in page


def test_a_service_that_is_not_an_id_is_refused_in_the_form_s_words(
    admin: FlaskClient, db: Store
) -> None:
    response = admin.post("/admin/events/new", data=form_for(admin, service=["", "process"]))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    message = "&#39;process&#39; is not a case service id (a whole number)"
    assert f"<li>Case service: {message}</li>" in page
    assert field_error(page, "service") == message
    assert 'value="process"' in tag(page, "service"), "kept as typed, to fix"
    assert 'aria-invalid="true"' in tag(page, "service")
    assert db.list_batches() == []


# -- the store read ------------------------------------------------------------------------


@pytest.fixture
def store(empty_store: Store) -> Store:
    empty_store.migrate()
    return empty_store


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
class TestCaseServicesContract:
    def test_services_per_case_from_live_events_latest_first(self, store: Store) -> None:
        store.apply_event_changes(
            [
                make_event(1, case_id=5, case_service_id=41, title="First try"),
                make_event(4, case_id=5, case_service_id=41, title="Served"),
                make_event(2, case_id=5, case_service_id=42, title="Skip trace"),
                make_event(3, case_id=5, title="No service"),
                make_event(5, case_id=6, case_service_id=41, title="Other case"),
                make_event(6, case_service_id=43, title="No case"),
                make_event(7, case_id=5, case_service_id=44, title="Gone later"),
            ],
            [],
            SYNC_AT,
        )
        store.apply_event_changes([], [7], SYNC_AT + timedelta(hours=1))
        assert store.case_services() == {
            5: [
                KnownService(41, 2, T0 + timedelta(hours=4), "Served"),
                KnownService(42, 1, T0 + timedelta(hours=2), "Skip trace"),
            ],
            6: [KnownService(41, 1, T0 + timedelta(hours=5), "Other case")],
        }
        assert store.case_services()[5][0].latest_start_at.tzinfo == UTC

    def test_a_tie_on_start_names_the_later_event(self, store: Store) -> None:
        same, ends = T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1)
        store.apply_event_changes(
            [
                make_event(
                    8, case_id=5, case_service_id=41, start_at=same, end_at=ends, title="Earlier id"
                ),
                make_event(
                    9, case_id=5, case_service_id=41, start_at=same, end_at=ends, title="Later id"
                ),
            ],
            [],
            SYNC_AT,
        )
        assert store.case_services() == {5: [KnownService(41, 2, same, "Later id")]}

    def test_none_known(self, store: Store) -> None:
        store.apply_event_changes([make_event(1, case_id=5)], [], SYNC_AT)
        assert store.case_services() == {}
