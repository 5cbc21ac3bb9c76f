"""The sandbox's switches, injected faults, control API, server wrapper and start-up text."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.support.sandbox import PINNED_ANCHOR
from trackops_sandbox import SandboxOptions, SandboxServer
from trackops_sandbox.server import startup_lines

Record = dict[str, Any]


def some_event(api: httpx.Client, **params: Any) -> Record:
    """The newest seed event (documented shape) that passes the given filters."""
    record: Record = api.get("/events", params={"per_page": 1, **params}).json()[0]
    return record


@pytest.fixture
def valid_event(api: httpx.Client) -> Record:
    subject = api.get("/subjects", params={"per_page": 1}).json()[0]
    return {
        "casefile_id": subject["casefile_id"],
        "subject_id": subject["id"],
        "calendar_id": 2,
        "start_at": "2026-04-02 18:00:00",
        "end_at": "2026-04-02 22:00:00",
        "title": "Harness test event",
        "users_list": [101],
    }


# -- variant: wrap -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrap", "event_key", "case_key"),
    [("bare", None, None), ("event", "event", "casefile"), ("Event", "Event", "Casefile")],
)
def test_wrap_of_single_records(
    pinned_sandbox: SandboxServer,
    api: httpx.Client,
    valid_event: Record,
    wrap: str,
    event_key: str | None,
    case_key: str | None,
) -> None:
    event = some_event(api)
    case = api.get("/cases", params={"per_page": 1}).json()[0]
    pinned_sandbox.control.set_variants(wrap=wrap)
    got_event = api.get(f"/events/{event['id']}").json()
    got_case = api.get(f"/cases/{case['id']}").json()
    posted = api.post("/events", json={"event": valid_event}).json()
    if event_key is None:
        assert (got_event, got_case) == (event, case)
        assert posted["title"] == valid_event["title"]
    else:
        assert got_event == {event_key: event}
        assert got_case == {case_key: case}
        assert list(posted) == [event_key]
        assert posted[event_key]["title"] == valid_event["title"]


@pytest.mark.parametrize("wrap", ["event", "Event"])
def test_collections_stay_bare_arrays(
    pinned_sandbox: SandboxServer, api: httpx.Client, wrap: str
) -> None:
    pinned_sandbox.control.set_variants(wrap=wrap)
    events = api.get("/events", params={"per_page": 3}).json()
    assert isinstance(events, list) and "id" in events[0]


# -- variant: timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "pattern"),
    [
        ("space", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
        ("iso", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"),
        ("iso_z", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("offset", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"),
    ],
)
def test_timestamp_styles(
    pinned_sandbox: SandboxServer, api: httpx.Client, style: str, pattern: str
) -> None:
    documented = some_event(api, alert_sent_from="2000-01-01 00:00:00")
    pinned_sandbox.control.set_variants(timestamps=style)
    event = api.get(f"/events/{documented['id']}").json()
    for key in ("start_at", "end_at", "alert_at", "alert_sent_at", "created_at", "updated_at"):
        assert re.fullmatch(pattern, event[key]), (key, event[key])
        # Same instant, other spelling.
        assert event[key][:19].replace("T", " ") == documented[key]
    staff = api.get("/staff", params={"per_page": 1}).json()[0]
    assert re.fullmatch(pattern, staff["updated_at"])


# -- variant: fields -----------------------------------------------------------------------------


def test_alternate_field_names(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    documented = some_event(api, calendar=2, case=some_event(api, calendar=2)["casefile_id"])
    pinned_sandbox.control.set_variants(fields="alternate")
    event = api.get(f"/events/{documented['id']}").json()
    assert event["calendar"] == {"id": 2, "name": "Surveillance"}
    assert event["case_id"] == documented["casefile_id"]
    assert event["created"] == documented["created_at"]
    assert event["modified"] == documented["updated_at"]
    staff = {s["id"]: s["first_name"] for s in api.get("/staff").json()}
    assert event["users"] == [
        {"id": staff_id, "first_name": staff[staff_id]} for staff_id in documented["users_list"]
    ]
    for gone in ("calendar_id", "casefile_id", "users_list", "created_at", "updated_at"):
        assert gone not in event
    subject = api.get("/subjects", params={"per_page": 1}).json()[0]
    assert "case_id" in subject and "modified" in subject and "casefile_id" not in subject
    case = api.get("/cases", params={"per_page": 1}).json()[0]
    assert {"created", "modified"} <= set(case) and "updated_at" not in case


def test_nested_field_names(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    with_case = some_event(api, calendar=2)
    without_case = some_event(api, calendar=14)  # office events have no case
    assert without_case["casefile_id"] is None
    pinned_sandbox.control.set_variants(fields="nested")
    event = api.get(f"/events/{with_case['id']}").json()
    assert event["calendar"] == 2
    assert event["Casefile"] == {"id": with_case["casefile_id"]}
    assert event["users"] == with_case["users_list"]
    assert (event["created"], event["updated"]) == (
        with_case["created_at"],
        with_case["updated_at"],
    )
    assert api.get(f"/events/{without_case['id']}").json()["Casefile"] is None
    subject = api.get("/subjects", params={"per_page": 1}).json()[0]
    assert subject["Casefile"] == {"id": subject["Casefile"]["id"]} and "updated" in subject


def test_unknown_switch_or_value_is_refused(pinned_sandbox: SandboxServer) -> None:
    for switches in ({"wrap": "Casefile"}, {"colour": "blue"}):
        with pytest.raises(httpx.HTTPStatusError) as caught:
            pinned_sandbox.control.set_variants(**switches)
        assert caught.value.response.status_code == 400
    assert pinned_sandbox.control.set_variants()["wrap"] == "bare"


# -- variant: errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["message", "error", "errors", "text", "html"])
def test_error_styles(
    pinned_sandbox: SandboxServer, api: httpx.Client, valid_event: Record, style: str
) -> None:
    pinned_sandbox.control.set_variants(errors=style)
    missing = api.get("/events/987654")
    invalid = api.post("/events", json={"event": {**valid_event, "timezone": "Nowhere/Land"}})
    assert (missing.status_code, invalid.status_code) == (404, 422)
    if style in ("message", "error"):
        assert missing.json() == {style: "Event 987654 not found"}
        assert invalid.json()[style].startswith("The event could not be saved")
        assert list(invalid.json()["errors"]) == ["timezone"]
    elif style == "errors":
        assert missing.json() == {"errors": {"base": ["Event 987654 not found"]}}
        assert list(invalid.json()) == ["errors"]
        assert list(invalid.json()["errors"]) == ["timezone"]
    elif style == "text":
        assert missing.headers["Content-Type"].startswith("text/plain")
        assert missing.text == "Event 987654 not found"
        assert "timezone: must be an IANA time zone" in invalid.text
    else:
        assert missing.headers["Content-Type"].startswith("text/html")
        assert (
            missing.text.startswith("<!DOCTYPE html>") and "Event 987654 not found" in missing.text
        )
        assert "timezone: must be an IANA time zone" in invalid.text


def test_error_style_applies_to_auth_and_rate_limit(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.set_variants(errors="error")
    assert "error" in httpx.get(f"{pinned_sandbox.base_url}/events").json()
    pinned_sandbox.control.set_rate_limit(0.5)
    api.get("/staff")
    assert api.get("/staff").json()["error"].startswith("Too Many Requests")


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_server_error_faults(pinned_sandbox: SandboxServer, api: httpx.Client, kind: str) -> None:
    pinned_sandbox.control.inject_fault(kind)
    failed = api.get("/events")
    assert failed.status_code == int(kind)
    assert failed.json()["message"]
    assert api.get("/events").status_code == 200  # one request only


def test_server_error_fault_follows_error_style(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.set_variants(errors="text")
    pinned_sandbox.control.inject_fault("503")
    failed = api.get("/events")
    assert failed.status_code == 503
    assert failed.headers["Content-Type"].startswith("text/plain")
    assert failed.text.startswith("Service Unavailable")


@pytest.mark.parametrize("status", [None, 403, 200])
def test_html_firewall_page(
    pinned_sandbox: SandboxServer, api: httpx.Client, status: int | None
) -> None:
    pinned_sandbox.control.inject_fault("html", status=status)
    blocked = api.get("/events")
    assert blocked.status_code == (status or 403)
    assert blocked.headers["Content-Type"].startswith("text/html")
    assert blocked.text.startswith("<!DOCTYPE html>")
    with pytest.raises(json.JSONDecodeError):
        blocked.json()


def test_truncated_body(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    whole = api.get("/events", params={"per_page": 5}).content
    pinned_sandbox.control.inject_fault("truncated")
    cut = api.get("/events", params={"per_page": 5})
    assert cut.status_code == 200
    assert cut.headers["Content-Type"] == "application/json"
    assert 0 < len(cut.content) < len(whole) and whole.startswith(cut.content)
    with pytest.raises(json.JSONDecodeError):
        cut.json()


def test_empty_body(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("empty")
    empty = api.get("/events")
    assert (empty.status_code, empty.content) == (200, b"")


def test_delay_outlasts_a_client_timeout(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("delay", seconds=3)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/staff", timeout=0.3)
    assert api.get("/staff").status_code == 200  # the next request is served at once


def test_delayed_post_still_creates_the_event(
    pinned_sandbox: SandboxServer, api: httpx.Client, valid_event: Record
) -> None:
    """The dangerous case for an outbox: the client gave up, but the server did the work."""
    pinned_sandbox.control.inject_fault("delay", seconds=3)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/events", json={"event": valid_event}, timeout=0.3)
    assert api.get("/events", params={"title": valid_event["title"]}).json()


def test_short_delay_answers_normally(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("delay", seconds=0.01)
    assert api.get("/staff").status_code == 200
    assert pinned_sandbox.control.requests()["requests"][-1]["fault"] == "delay"


def test_disconnect(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("disconnect")
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/events")
    assert api.get("/events").status_code == 200
    assert pinned_sandbox.control.requests()["counts"]["by_status"]["disconnected"] == 1


def test_fault_count_and_path_prefix(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("502", count=2, path_prefix="/cases")
    assert api.get("/events").status_code == 200
    assert api.get("/cases").status_code == 502
    assert api.get("/staff").status_code == 200
    assert api.get("/cases/1201").status_code == 502
    assert api.get("/cases").status_code == 200
    assert pinned_sandbox.control.faults() == []


def test_fault_prefix_may_name_the_full_path(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.inject_fault("500", path_prefix="/api/v1/staff")
    assert api.get("/events").status_code == 200
    assert api.get("/staff").status_code == 500


def test_faults_queue_in_order(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.inject_fault("503")
    pinned_sandbox.control.inject_fault("empty")
    assert [api.get("/staff").status_code for _ in range(3)] == [503, 200, 200]
    assert pinned_sandbox.control.requests()["requests"][1]["fault"] == "empty"


def test_front_faults_do_not_count_against_the_rate_limit(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.set_rate_limit(0.5)
    pinned_sandbox.control.inject_fault("502")
    assert api.get("/staff").status_code == 502
    assert api.get("/staff").status_code == 200


def test_faults_can_be_cleared_and_spare_the_harness(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.inject_fault("500", count=5)
    assert pinned_sandbox.control.now()  # harness calls are never faulted
    assert len(pinned_sandbox.control.faults()) == 1
    pinned_sandbox.control.clear_faults()
    assert api.get("/events").status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "418"},
        {"kind": "500", "count": 0},
        {"kind": "delay"},
        {"kind": "html", "status": 99},
        {"kind": "500", "when": "now"},
    ],
)
def test_bad_fault_requests_are_refused(pinned_sandbox: SandboxServer, fault: Record) -> None:
    response = httpx.post(f"{pinned_sandbox.root_url}/_sandbox/faults", json=fault)
    assert response.status_code == 400
    assert response.json()["message"]


# -- control API ---------------------------------------------------------------------------------


def test_created_event_is_served_by_the_api(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    created = pinned_sandbox.control.create_event(
        title="Harness event",
        calendar_id=3,
        start_at="2026-05-01T09:00:00Z",
        timezone="Asia/Kolkata",
    )
    assert created["end_at"] == "2026-05-01 10:00:00"  # an hour by default
    assert api.get(f"/events/{created['id']}").json() == created
    assert created["id"] == some_event(api)["id"]


def test_created_records_skip_validation(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    odd = pinned_sandbox.control.create_event(casefile_id=424242, timezone="Not/AZone", title="")
    assert api.get(f"/events/{odd['id']}").json()["timezone"] == "Not/AZone"


def test_patch_moves_updated_at_to_server_now(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    event = some_event(api, is_allday="false")
    pinned_sandbox.control.set_clock(now="2031-06-01 08:00:00")
    patched = pinned_sandbox.control.patch_event(event["id"], title="Renamed", users_list=[103])
    served = api.get(f"/events/{event['id']}").json()
    assert served == patched
    assert (served["title"], served["users_list"]) == ("Renamed", [103])
    assert served["updated_at"].startswith("2031-06-01 08:0")
    assert served["created_at"] == event["created_at"]
    changed = api.get("/events", params={"updated_from": "2031-06-01 00:00:00"}).json()
    assert [e["id"] for e in changed] == [event["id"]]


def test_patch_may_set_updated_at(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    event = some_event(api)
    pinned_sandbox.control.patch_event(event["id"], updated_at="2020-01-01T00:00:00Z")
    assert api.get(f"/events/{event['id']}").json()["updated_at"] == "2020-01-01 00:00:00"


def test_delete_removes_the_event(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    event = some_event(api)
    before = api.get("/events", params={"mode": "count"}).json()["record_count"]
    pinned_sandbox.control.delete_event(event["id"])
    assert api.get(f"/events/{event['id']}").status_code == 404
    assert api.get("/events", params={"mode": "count"}).json()["record_count"] == before - 1
    assert api.get("/events", params={"id": event["id"]}).json() == []


def test_next_id_follows_the_highest(
    pinned_sandbox: SandboxServer, api: httpx.Client, valid_event: Record
) -> None:
    pinned_sandbox.control.create_event(id=90000, title="High id")
    assert api.post("/events", json={"event": valid_event}).json()["id"] == 90001


@pytest.mark.parametrize(
    ("kind", "fields", "patch"),
    [
        (
            "cases",
            {"case_number": "2026-9999", "reference": "CLM-1", "title": "New case"},
            {"title": "Renamed case"},
        ),
        (
            "subjects",
            {"casefile_id": 1201, "first_name": "Ana", "last_name": "Nuñez"},
            {"last_name": "Núñez"},
        ),
        (
            "staff",
            {"first_name": "Kai", "last_name": "Lee", "email": "kai@x.example", "is_vendor": True},
            {"email": "kai@y.example"},
        ),
    ],
)
def test_other_records_via_control(
    pinned_sandbox: SandboxServer, api: httpx.Client, kind: str, fields: Record, patch: Record
) -> None:
    created = pinned_sandbox.control.create(kind, **fields)
    assert api.get(f"/{kind}/{created['id']}").json() == created
    pinned_sandbox.control.set_clock(now="2032-02-02 02:02:02")
    patched = pinned_sandbox.control.patch(kind, created["id"], **patch)
    assert api.get(f"/{kind}/{created['id']}").json() == patched
    assert patched["updated_at"].startswith("2032-02-02 02:0")
    assert [key for key in patch if patched[key] != patch[key]] == []
    pinned_sandbox.control.delete(kind, created["id"])
    assert api.get(f"/{kind}/{created['id']}").status_code == 404


def test_new_subject_is_found_by_name(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    created = pinned_sandbox.control.create(
        "subjects", casefile_id=1201, first_name="Zyx", last_name="Q"
    )
    assert api.get("/subjects", params={"name": "zyx q"}).json() == [created]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/events", {"colour": "red"}, 400),
        ("POST", "/events", {"start_at": "soon"}, 400),
        ("POST", "/events", "not an object", 400),
        ("PATCH", "/events/987654", {"title": "x"}, 404),
        ("PATCH", "/cases/1201", {"id": 5}, 400),
        ("DELETE", "/staff/987654", None, 404),
        ("POST", "/rate_limit", {"rate_limit": -1}, 400),
        ("POST", "/clock", {"offset_seconds": "soon"}, 400),
    ],
)
def test_control_refusals(
    pinned_sandbox: SandboxServer, method: str, path: str, body: Any, status: int
) -> None:
    response = httpx.request(method, f"{pinned_sandbox.root_url}/_sandbox{path}", json=body)
    assert response.status_code == status
    assert response.json()["message"]


def test_duplicate_id_is_a_conflict(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    with pytest.raises(httpx.HTTPStatusError) as caught:
        pinned_sandbox.control.create_event(id=some_event(api)["id"])
    assert caught.value.response.status_code == 409


def test_request_log(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.clear_requests()
    api.get("/events", params={"per_page": 2, "title": "Café, 日本"})
    api.get("/events/987654")
    log = pinned_sandbox.control.requests()
    first, second = log["requests"]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/api/v1/events", 200)
    assert httpx.QueryParams(first["query"])["title"] == "Café, 日本"
    assert (second["path"], second["status"]) == ("/api/v1/events/987654", 404)
    assert second["monotonic"] >= first["monotonic"]
    assert log["counts"] == {"total": 2, "rate_limited": 0, "by_status": {"200": 1, "404": 1}}
    pinned_sandbox.control.clear_requests()
    assert pinned_sandbox.control.requests()["counts"]["total"] == 0


def test_clock_offset_moves_new_stamps(
    pinned_sandbox: SandboxServer, api: httpx.Client, valid_event: Record
) -> None:
    before = api.post("/events", json={"event": valid_event}).json()["created_at"]
    pinned_sandbox.control.set_clock(offset_seconds=10 * 365 * 86400)
    after = api.post("/events", json={"event": valid_event}).json()["created_at"]
    assert int(after[:4]) - int(before[:4]) in (9, 10)
    assert pinned_sandbox.control.set_clock(0)[:4] == before[:4]


def test_reset_restores_seed_and_switches(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    seed = api.get("/events", params={"per_page": 100}).json()
    pinned_sandbox.control.delete_event(seed[0]["id"])
    pinned_sandbox.control.set_variants(wrap="Event", errors="html")
    pinned_sandbox.control.set_rate_limit(0.001)
    pinned_sandbox.control.inject_fault("500", count=10)
    pinned_sandbox.control.reset()
    assert api.get("/events", params={"per_page": 100}).json() == seed
    assert api.get("/staff").status_code == 200  # no fault, no limit
    assert pinned_sandbox.control.set_variants() == {
        "wrap": "bare",
        "timestamps": "space",
        "fields": "documented",
        "errors": "message",
        "retry_after": "seconds",
    }


def test_calendar_names(pinned_sandbox: SandboxServer) -> None:
    names = pinned_sandbox.control.calendars()
    assert names[2] == "Surveillance" and len(names) == 6


# -- server wrapper and start-up text ------------------------------------------------------------


def test_server_attributes_and_stop() -> None:
    running = SandboxServer(
        SandboxOptions(events=0, username="sam", token="t0k", anchor=PINNED_ANCHOR)
    )
    assert running.base_url == f"http://127.0.0.1:{running.port}/api/v1"
    assert running.root_url == f"http://127.0.0.1:{running.port}"
    assert running.basic_auth == ("sam/token", "t0k")
    assert httpx.get(f"{running.base_url}/events", auth=("sam/token", "t0k")).json() == []
    running.stop()
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.base_url}/events")


def test_startup_text_shows_the_demo_token_only() -> None:
    demo = "\n".join(startup_lines("http://127.0.0.1:8765", SandboxOptions()))
    assert "http://127.0.0.1:8765/api/v1" in demo
    assert "demo/token" in demo and "demo-token-not-secret" in demo
    real = "\n".join(startup_lines("http://h:1", SandboxOptions(username="sam", token="s3cr3t")))
    assert "sam/token" in real and "s3cr3t" not in real
