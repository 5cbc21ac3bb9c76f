"""The sandbox's Trackops API over real HTTP: auth, rate limit, collections, filters, POST rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.sandbox import PINNED_ANCHOR
from trackops_sandbox import SandboxOptions, SandboxServer

Record = dict[str, Any]


def fetch_all(api: httpx.Client, path: str, **params: Any) -> list[Record]:
    """Every record of a collection, ascending, by following pages until a short one."""
    records: list[Record] = []
    page = 1
    while True:
        response = api.get(path, params={**params, "dir": "asc", "page": page})
        assert response.status_code == 200, response.text
        batch = response.json()
        records.extend(batch)
        if len(batch) < 100:
            return records
        page += 1


@pytest.fixture(scope="module")
def seed_records(pinned_sandbox_server: SandboxServer) -> dict[str, list[Record]]:
    """All seed records per collection, fetched once from a freshly reset sandbox."""
    pinned_sandbox_server.control.reset()
    auth = pinned_sandbox_server.basic_auth
    with httpx.Client(base_url=pinned_sandbox_server.base_url, auth=auth) as client:
        return {
            kind: fetch_all(client, f"/{kind}") for kind in ("events", "cases", "subjects", "staff")
        }


# -- auth ----------------------------------------------------------------------------------------


def test_auth_accepts_username_slash_token(pinned_sandbox: SandboxServer) -> None:
    response = httpx.get(
        f"{pinned_sandbox.base_url}/staff", auth=("demo/token", "demo-token-not-secret")
    )
    assert response.status_code == 200
    assert isinstance(response.json(), list)


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(("someone/token", "demo-token-not-secret"), id="wrong-user"),
        pytest.param(("demo/token", "wrong-token"), id="wrong-token"),
        pytest.param(("demo", "demo-token-not-secret"), id="missing-slash-token"),
        pytest.param(None, id="no-credentials"),
    ],
)
def test_auth_refuses(pinned_sandbox: SandboxServer, auth: tuple[str, str] | None) -> None:
    response = httpx.get(f"{pinned_sandbox.base_url}/events", auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert "Unauthorized" in response.json()["message"]
    assert "demo-token-not-secret" not in response.text


def test_auth_is_checked_even_for_unknown_paths(pinned_sandbox: SandboxServer) -> None:
    assert httpx.get(f"{pinned_sandbox.base_url}/nowhere").status_code == 401
    auth = pinned_sandbox.basic_auth
    response = httpx.get(f"{pinned_sandbox.base_url}/nowhere", auth=auth)
    assert response.status_code == 404
    assert "message" in response.json()


# -- rate limit ----------------------------------------------------------------------------------


def test_immediate_second_request_is_refused_with_retry_after(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.set_rate_limit(0.5)
    assert api.get("/staff").status_code == 200
    refused = api.get("/staff")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] in ("1", "2")  # ceil of the rest of the 2 s gap
    assert "0.5 requests per second" in refused.json()["message"]
    assert pinned_sandbox.control.requests()["counts"]["rate_limited"] == 1


def test_refused_requests_do_not_count_as_accepted(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    """A 429 must not move the window: the refused request was never accepted."""
    pinned_sandbox.control.set_rate_limit(0.5)
    api.get("/staff")
    assert [api.get("/staff").status_code for _ in range(3)] == [429, 429, 429]
    log = pinned_sandbox.control.requests()
    assert log["counts"]["by_status"] == {"200": 1, "429": 3}


def test_retry_after_as_http_date(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    from email.utils import parsedate_to_datetime

    pinned_sandbox.control.set_rate_limit(0.5)
    pinned_sandbox.control.set_variants(retry_after="http_date")
    api.get("/staff")
    refused = api.get("/staff")
    assert refused.status_code == 429
    retry_at = parsedate_to_datetime(refused.headers["Retry-After"])
    assert retry_at > parsedate_to_datetime(refused.headers["Date"])


def test_retry_after_can_be_absent(pinned_sandbox: SandboxServer, api: httpx.Client) -> None:
    pinned_sandbox.control.set_rate_limit(0.5)
    pinned_sandbox.control.set_variants(retry_after="none")
    api.get("/staff")
    refused = api.get("/staff")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers


@pytest.mark.parametrize("rate", [None, 0])
def test_no_limit_when_switched_off(
    pinned_sandbox: SandboxServer, api: httpx.Client, rate: float | None
) -> None:
    pinned_sandbox.control.set_rate_limit(rate)
    assert [api.get("/staff").status_code for _ in range(5)] == [200] * 5


def test_refused_login_does_not_use_up_the_rate(
    pinned_sandbox: SandboxServer, api: httpx.Client
) -> None:
    pinned_sandbox.control.set_rate_limit(0.5)
    assert (
        httpx.get(f"{pinned_sandbox.base_url}/staff", auth=("demo/token", "bad")).status_code == 401
    )
    assert api.get("/staff").status_code == 200


def test_options_rate_limit_applies_from_the_start() -> None:
    with SandboxServer(SandboxOptions(events=0, rate_limit=0.5, anchor=PINNED_ANCHOR)) as limited:
        auth = limited.basic_auth
        with httpx.Client(base_url=limited.base_url, auth=auth) as client:
            assert client.get("/cases").status_code == 200
            assert client.get("/cases").status_code == 429


# -- collections: paging, order, count, parameters -----------------------------------------------


def test_collection_is_a_bare_array_newest_first(api: httpx.Client) -> None:
    events = api.get("/events").json()
    assert isinstance(events, list) and len(events) == 100
    ids = [event["id"] for event in events]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("kind", ["events", "cases", "subjects", "staff"])
def test_dir_orders_by_id(api: httpx.Client, kind: str) -> None:
    ascending = [r["id"] for r in api.get(f"/{kind}", params={"dir": "asc"}).json()]
    descending = [r["id"] for r in api.get(f"/{kind}", params={"dir": "desc"}).json()]
    assert ascending == sorted(ascending) and len(ascending) > 1
    assert descending == sorted(descending, reverse=True)


@pytest.mark.parametrize("count", [0, 99, 100, 101])
def test_paging_boundaries(pinned_sandbox: SandboxServer, api: httpx.Client, count: int) -> None:
    created = pinned_sandbox.control.create_events(
        [{"title": f"Paging {n}", "calendar_id": 77} for n in range(count)]
    )
    created_ids = [record["id"] for record in created]
    first = api.get("/events", params={"calendar": 77, "dir": "asc"}).json()
    second = api.get("/events", params={"calendar": 77, "dir": "asc", "page": 2}).json()
    assert len(first) == min(count, 100)
    assert len(second) == max(count - 100, 0)
    assert [r["id"] for r in first + second] == created_ids
    newest_first = api.get("/events", params={"calendar": 77}).json()
    assert [r["id"] for r in newest_first] == created_ids[::-1][:100]
    totals = api.get("/events", params={"calendar": 77, "mode": "count"}).json()
    assert totals == {"record_count": count, "page_count": math.ceil(count / 100)}


def test_small_pages_cover_everything_once(api: httpx.Client, seed_records: dict) -> None:
    seen: list[int] = []
    for page in range(1, 100):
        batch = api.get("/cases", params={"per_page": 7, "page": page}).json()
        seen.extend(record["id"] for record in batch)
        if len(batch) < 7:
            break
    assert sorted(seen) == [case["id"] for case in seed_records["cases"]]
    assert len(set(seen)) == len(seen)


def test_page_past_the_end_is_empty(api: httpx.Client) -> None:
    assert api.get("/staff", params={"page": 2}).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 101},
        {"per_page": 0},
        {"per_page": "ten"},
        {"page": 0},
        {"page": "x"},
        {"dir": "up"},
        {"mode": "sum"},
    ],
    ids=["per_page-101", "per_page-0", "per_page-text", "page-0", "page-text", "dir", "mode"],
)
def test_invalid_paging_is_400(api: httpx.Client, params: dict) -> None:
    response = api.get("/events", params=params)
    assert response.status_code == 400
    name = next(iter(params))
    assert name in response.json()["message"]
    assert name in response.json()["errors"]


def test_per_page_100_is_allowed(api: httpx.Client) -> None:
    assert len(api.get("/events", params={"per_page": 100}).json()) == 100


@pytest.mark.parametrize(
    ("kind", "param"),
    [
        ("events", "colour"),
        ("events", "case_id"),
        ("cases", "title"),
        ("subjects", "first_name"),
        ("staff", "name"),
    ],
)
def test_unknown_parameter_is_400_naming_it(api: httpx.Client, kind: str, param: str) -> None:
    response = api.get(f"/{kind}", params={param: "1"})
    assert response.status_code == 400
    assert f"'{param}'" in response.json()["message"]
    assert response.json()["errors"] == {param: ["unknown parameter"]}


def test_repeated_parameter_is_400(api: httpx.Client) -> None:
    response = api.get("/events", params=[("calendar", "2"), ("calendar", "3")])
    assert response.status_code == 400
    assert "calendar" in response.json()["errors"]


@pytest.mark.parametrize("kind", ["events", "cases", "subjects", "staff"])
def test_mode_count(api: httpx.Client, seed_records: dict, kind: str) -> None:
    total = len(seed_records[kind])
    assert api.get(f"/{kind}", params={"mode": "count"}).json() == {
        "record_count": total,
        "page_count": math.ceil(total / 100),
    }
    assert api.get(f"/{kind}", params={"mode": "count", "per_page": 7}).json() == {
        "record_count": total,
        "page_count": math.ceil(total / 7),
    }


def test_mode_count_applies_filters(api: httpx.Client, seed_records: dict) -> None:
    allday = [e for e in seed_records["events"] if e["is_allday"]]
    counted = api.get("/events", params={"mode": "count", "is_allday": "true"}).json()
    assert counted["record_count"] == len(allday) > 0


# -- filters -------------------------------------------------------------------------------------

Pick = Callable[[list[Record]], Any]
Keep = Callable[[Record, Any], bool]


def middle(field: str) -> Pick:
    """A value some record actually has, so inclusive ranges are tested at their edge."""

    def pick(records: list[Record]) -> Any:
        values = sorted(r[field] for r in records if r[field] is not None)
        return values[len(values) // 2]

    return pick


def first_of(field: str) -> Pick:
    return lambda records: next(r[field] for r in records if r[field] is not None)


def at_least(field: str) -> Keep:
    return lambda record, value: record[field] is not None and record[field] >= value


def at_most(field: str) -> Keep:
    return lambda record, value: record[field] is not None and record[field] <= value


def equal(field: str) -> Keep:
    return lambda record, value: record[field] == value


def contains(field: str) -> Keep:
    return lambda record, value: value.casefold() in record[field].casefold()


EVENT_FILTERS: list[tuple[str, Pick, Keep]] = [
    ("id", lambda records: records[7]["id"], equal("id")),
    ("title", lambda records: "SURVEILLANCE", contains("title")),
    ("calendar", lambda records: 5, equal("calendar_id")),
    ("case", first_of("casefile_id"), equal("casefile_id")),
    ("subject", first_of("subject_id"), equal("subject_id")),
    ("is_allday", lambda records: "true", lambda record, value: record["is_allday"]),
    ("is_allday", lambda records: "false", lambda record, value: not record["is_allday"]),
]
for _name, _field in [
    ("start", "start_at"),
    ("end", "end_at"),
    ("alert", "alert_at"),
    ("alert_sent", "alert_sent_at"),
    ("created", "created_at"),
    ("updated", "updated_at"),
]:
    EVENT_FILTERS.append((f"{_name}_from", middle(_field), at_least(_field)))
    EVENT_FILTERS.append((f"{_name}_to", middle(_field), at_most(_field)))
EVENT_FILTERS.append(("from", middle("start_at"), at_least("start_at")))
EVENT_FILTERS.append(("to", middle("start_at"), at_most("start_at")))


@pytest.mark.parametrize(
    ("param", "pick", "keep"),
    EVENT_FILTERS,
    ids=[f"{name}-{n}" for n, (name, _, _) in enumerate(EVENT_FILTERS)],
)
def test_event_filter(
    api: httpx.Client, seed_records: dict, param: str, pick: Pick, keep: Keep
) -> None:
    events = seed_records["events"]
    value = pick(events)
    expected = [e["id"] for e in events if keep(e, value)]
    assert 0 < len(expected) < len(events)  # the filter must actually select something
    assert [e["id"] for e in fetch_all(api, "/events", **{param: value})] == expected


OTHER_FILTERS: list[tuple[str, str, Pick, Keep]] = [
    ("cases", "id", lambda records: records[3]["id"], equal("id")),
    ("cases", "case_number", lambda records: records[5]["case_number"], equal("case_number")),
    (
        "cases",
        "primary_investigator",
        first_of("primary_investigator"),
        equal("primary_investigator"),
    ),
    ("cases", "updated_from", middle("updated_at"), at_least("updated_at")),
    ("cases", "updated_to", middle("updated_at"), at_most("updated_at")),
    ("subjects", "case", first_of("casefile_id"), equal("casefile_id")),
    ("subjects", "name", lambda records: records[2]["last_name"].upper(), contains("name")),
    ("subjects", "updated_from", middle("updated_at"), at_least("updated_at")),
    ("subjects", "updated_to", middle("updated_at"), at_most("updated_at")),
    ("staff", "first_name", lambda records: "dana", contains("first_name")),
    ("staff", "last_name", lambda records: "o'connell", contains("last_name")),
    ("staff", "email", lambda records: "ridgeline", contains("email")),
    ("staff", "is_vendor", lambda records: "true", lambda record, value: record["is_vendor"]),
    ("staff", "is_vendor", lambda records: "0", lambda record, value: not record["is_vendor"]),
    ("staff", "updated_from", middle("updated_at"), at_least("updated_at")),
    ("staff", "updated_to", middle("updated_at"), at_most("updated_at")),
]


@pytest.mark.parametrize(
    ("kind", "param", "pick", "keep"),
    OTHER_FILTERS,
    ids=[f"{kind}-{name}-{n}" for n, (kind, name, _, _) in enumerate(OTHER_FILTERS)],
)
def test_collection_filter(
    api: httpx.Client, seed_records: dict, kind: str, param: str, pick: Pick, keep: Keep
) -> None:
    records = seed_records[kind]
    value = pick(records)
    expected = [r["id"] for r in records if keep(r, value)]
    assert 0 < len(expected) < len(records)
    assert [r["id"] for r in fetch_all(api, f"/{kind}", **{param: value})] == expected


def test_filters_combine(api: httpx.Client, seed_records: dict) -> None:
    events = seed_records["events"]
    start, end = "2026-02-01 00:00:00", "2026-03-01 00:00:00"
    expected = [e["id"] for e in events if start <= e["start_at"] <= end and e["calendar_id"] == 2]
    got = fetch_all(api, "/events", start_from=start, start_to=end, calendar=2)
    assert [e["id"] for e in got] == expected and expected


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-02-01T12:00:00",
        "2026-02-01T12:00:00Z",
        "2026-02-01T12:00:00+00:00",
        "2026-02-01T07:00:00-05:00",
        "2026-02-01T17:30:00+05:30",
    ],
)
def test_timestamp_parameters_accept_iso_8601(api: httpx.Client, spelling: str) -> None:
    reference = fetch_all(api, "/events", updated_from="2026-02-01 12:00:00")
    assert reference
    assert fetch_all(api, "/events", updated_from=spelling) == reference


def test_date_alone_means_midnight_utc(api: httpx.Client) -> None:
    assert fetch_all(api, "/events", start_to="2026-01-10") == fetch_all(
        api, "/events", start_to="2026-01-10 00:00:00"
    )


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("start_from", "yesterday"),
        ("updated_to", "2026-13-01 00:00:00"),
        ("case", "abc"),
        ("is_allday", "maybe"),
        ("id", "1.5"),
    ],
)
def test_invalid_filter_value_is_400(api: httpx.Client, param: str, value: str) -> None:
    response = api.get("/events", params={param: value})
    assert response.status_code == 400
    assert param in response.json()["errors"]


# -- single records ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["events", "cases", "subjects", "staff"])
def test_get_by_id(api: httpx.Client, seed_records: dict, kind: str) -> None:
    record = seed_records[kind][-1]
    assert api.get(f"/{kind}/{record['id']}").json() == record


@pytest.mark.parametrize(
    ("kind", "name"),
    [("events", "Event"), ("cases", "Case"), ("subjects", "Subject"), ("staff", "Staff member")],
)
def test_get_missing_id_is_404(api: httpx.Client, kind: str, name: str) -> None:
    response = api.get(f"/{kind}/987654")
    assert response.status_code == 404
    assert response.json() == {"message": f"{name} 987654 not found"}


def test_get_by_id_refuses_parameters(api: httpx.Client, seed_records: dict) -> None:
    event_id = seed_records["events"][0]["id"]
    assert api.get(f"/events/{event_id}", params={"dir": "asc"}).status_code == 400


def test_event_record_has_the_documented_fields(seed_records: dict) -> None:
    keys = {
        "id",
        "title",
        "body",
        "calendar_id",
        "casefile_id",
        "subject_id",
        "case_service_id",
        "start_at",
        "end_at",
        "is_allday",
        "timezone",
        "address",
        "users_list",
        "alert_at",
        "alert_sent_at",
        "created_at",
        "updated_at",
    }
    assert all(set(event) == keys for event in seed_records["events"])
    assert set(seed_records["cases"][0]) == {
        "id",
        "case_number",
        "reference",
        "title",
        "primary_investigator",
        "created_at",
        "updated_at",
    }
    assert set(seed_records["subjects"][0]) == {
        "id",
        "casefile_id",
        "first_name",
        "last_name",
        "name",
        "updated_at",
    }
    assert set(seed_records["staff"][0]) == {
        "id",
        "first_name",
        "last_name",
        "email",
        "is_vendor",
        "updated_at",
    }


def test_no_write_endpoints_besides_post_events(api: httpx.Client, seed_records: dict) -> None:
    event_id = seed_records["events"][0]["id"]
    assert api.delete(f"/events/{event_id}").status_code == 405
    assert api.put(f"/events/{event_id}", json={}).status_code == 405
    assert api.post("/cases", json={"casefile": {}}).status_code == 405


# -- POST /events --------------------------------------------------------------------------------


@pytest.fixture
def valid_event(seed_records: dict) -> Record:
    subject = seed_records["subjects"][0]
    return {
        "casefile_id": subject["casefile_id"],
        "subject_id": subject["id"],
        "case_service_id": 1,
        "calendar_id": 2,
        "start_at": "2026-04-02 18:00:00",
        "end_at": "2026-04-02 22:00:00",
        "timezone": "America/Denver",
        "is_allday": False,
        "title": "Test API Event — Zoë's stakeout 🚗",
        "body": 'this is a test from the API\nsecond line; with "quotes"',
        "address": {
            "address_1": "2000 Blake Street",
            "address_2": "",
            "address_3": "",
            "city": "Denver",
            "state": "CO",
            "zip": 80202,
            "country": "US",
        },
        "users_list": [101, 102, 113],
    }


def test_post_creates_the_event(
    pinned_sandbox: SandboxServer, api: httpx.Client, seed_records: dict, valid_event: Record
) -> None:
    pinned_sandbox.control.set_clock(now="2030-01-01 12:00:00")
    response = api.post("/events", json={"event": valid_event})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == seed_records["events"][-1]["id"] + 1
    expected = {**valid_event, "address": {**valid_event["address"], "zip": "80202"}}
    assert {key: created[key] for key in valid_event} == expected
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].startswith("2030-01-01 12:0")
    assert created["alert_at"] is None
    assert api.get(f"/events/{created['id']}").json() == created
    assert api.get("/events", params={"per_page": 1}).json() == [created]


def test_post_converts_offsets_to_utc(api: httpx.Client, valid_event: Record) -> None:
    event = {**valid_event, "start_at": "2026-04-02T12:00:00-06:00", "end_at": "2026-04-02T20:00Z"}
    created = api.post("/events", json={"event": event}).json()
    assert (created["start_at"], created["end_at"]) == (
        "2026-04-02 18:00:00",
        "2026-04-02 20:00:00",
    )


def test_post_needs_only_the_required_fields(api: httpx.Client, valid_event: Record) -> None:
    required = ("casefile_id", "calendar_id", "start_at", "end_at", "title")
    response = api.post("/events", json={"event": {key: valid_event[key] for key in required}})
    assert response.status_code == 201
    created = response.json()
    assert (created["timezone"], created["address"], created["users_list"]) == (None, None, [])


@pytest.mark.parametrize(
    "address",
    [
        {"country": "US", "state": "DC"},
        {"country": "US", "state": "PR"},
        {"country": "CA", "state": "QC"},
        {"country": "AU", "state": "SA"},
        {"country": "AU", "state": "NSW"},
        {"country": "GB", "state": "Greater London"},
        {"country": "DE", "state": ""},
    ],
    ids=lambda a: f"{a['country']}-{a['state'] or 'blank'}",
)
def test_post_accepts_real_state_codes(
    api: httpx.Client, valid_event: Record, address: Record
) -> None:
    response = api.post("/events", json={"event": {**valid_event, "address": address}})
    assert response.status_code == 201, response.text


def _without(name: str) -> Callable[[Record], Record]:
    return lambda event: {key: value for key, value in event.items() if key != name}


def _with(**changes: Any) -> Callable[[Record], Record]:
    return lambda event: {**event, **changes}


def _with_address(**changes: Any) -> Callable[[Record], Record]:
    return lambda event: {**event, "address": {**event["address"], **changes}}


INVALID_EVENTS: list[tuple[str, Callable[[Record], Record], str]] = [
    ("missing-case", _without("casefile_id"), "casefile_id"),
    ("missing-calendar", _without("calendar_id"), "calendar_id"),
    ("missing-start", _without("start_at"), "start_at"),
    ("missing-end", _without("end_at"), "end_at"),
    ("missing-title", _without("title"), "title"),
    ("blank-title", _with(title="   "), "title"),
    ("title-not-text", _with(title=42), "title"),
    ("case-as-string", _with(casefile_id="1201"), "casefile_id"),
    ("calendar-as-float", _with(calendar_id=2.5), "calendar_id"),
    ("subject-as-bool", _with(subject_id=True), "subject_id"),
    ("service-as-string", _with(case_service_id="7"), "case_service_id"),
    ("start-not-a-timestamp", _with(start_at="30/01/2026 6pm"), "start_at"),
    ("end-not-a-timestamp", _with(end_at=1767225600), "end_at"),
    ("end-before-start", _with(end_at="2026-04-02 17:59:59"), "end_at"),
    ("zone-not-iana", _with(timezone="Mountain Time"), "timezone"),
    ("zone-unknown", _with(timezone="Mars/Olympus_Mons"), "timezone"),
    ("case-does-not-exist", _with(casefile_id=999999, subject_id=None), "casefile_id"),
    ("calendar-does-not-exist", _with(calendar_id=999), "calendar_id"),
    ("subject-does-not-exist", _with(subject_id=1), "subject_id"),
    ("allday-not-bool", _with(is_allday="yes"), "is_allday"),
    ("body-not-text", _with(body=["notes"]), "body"),
    ("address-not-object", _with(address="2000 Blake Street, Denver"), "address"),
    ("country-three-letters", _with_address(country="USA"), "address.country"),
    ("country-not-iso", _with_address(country="XX"), "address.country"),
    ("country-missing", _with_address(country=""), "address.country"),
    ("us-state-name", _with_address(state="Colorado"), "address.state"),
    ("us-state-blank", _with_address(state=""), "address.state"),
    ("ca-province-wrong", _with_address(country="CA", state="NY"), "address.state"),
    ("au-state-wrong", _with_address(country="AU", state="SYD"), "address.state"),
    ("address-unknown-key", _with_address(street="x"), "address.street"),
    ("users-not-a-list", _with(users_list="101"), "users_list"),
    ("users-unknown-id", _with(users_list=[101, 999]), "users_list"),
]


@pytest.mark.parametrize(
    ("change", "field"),
    [(change, field) for _, change, field in INVALID_EVENTS],
    ids=[name for name, _, _ in INVALID_EVENTS],
)
def test_post_refuses_each_broken_rule(
    api: httpx.Client, valid_event: Record, change: Callable[[Record], Record], field: str
) -> None:
    response = api.post("/events", json={"event": change(valid_event)})
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body["errors"]) == {field}
    assert body["message"].startswith("The event could not be saved")
    assert api.get("/events", params={"title": valid_event["title"]}).json() == []


def test_post_subject_of_another_case_is_refused(
    api: httpx.Client, valid_event: Record, seed_records: dict
) -> None:
    other = next(
        s for s in seed_records["subjects"] if s["casefile_id"] != valid_event["casefile_id"]
    )
    response = api.post("/events", json={"event": {**valid_event, "subject_id": other["id"]}})
    assert response.status_code == 422
    assert "does not belong" in response.json()["errors"]["subject_id"][0]


def test_post_reports_every_problem_at_once(api: httpx.Client, valid_event: Record) -> None:
    event = {**valid_event, "title": "", "timezone": "Nowhere/Land", "users_list": [5]}
    response = api.post("/events", json={"event": event})
    assert set(response.json()["errors"]) == {"title", "timezone", "users_list"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"casefile_id": 1}', '"event"'),
        (b'{"event": [1, 2]}', '"event"'),
        (b'{"event": {"title": "x", "color": "red"}}', "color"),
        (b'{"event": {"title": "x"}, "extra": 1}', "extra"),
    ],
    ids=["not-json", "no-root-key", "root-not-object", "unknown-field", "unknown-root-key"],
)
def test_post_malformed_body_is_400(api: httpx.Client, content: bytes, needle: str) -> None:
    response = api.post("/events", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert needle in response.json()["message"]


def test_post_refuses_query_parameters(api: httpx.Client, valid_event: Record) -> None:
    response = api.post("/events", params={"dry_run": "1"}, json={"event": valid_event})
    assert response.status_code == 400
    assert "dry_run" in response.json()["errors"]


def test_post_counts_against_the_rate_limit(
    pinned_sandbox: SandboxServer, api: httpx.Client, valid_event: Record
) -> None:
    pinned_sandbox.control.set_rate_limit(0.5)
    assert api.post("/events", json={"event": valid_event}).status_code == 201
    assert api.post("/events", json={"event": valid_event}).status_code == 429
    assert len(api_titles(pinned_sandbox, valid_event["title"])) == 1


def api_titles(pinned_sandbox: SandboxServer, title: str) -> list[Record]:
    pinned_sandbox.control.set_rate_limit(None)
    auth = pinned_sandbox.basic_auth
    with httpx.Client(base_url=pinned_sandbox.base_url, auth=auth) as client:
        return fetch_all(client, "/events", title=title)
