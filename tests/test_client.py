"""The Trackops client against the sandbox over real HTTP: errors, retries, paging, variants."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bridge.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from bridge.trackops.client import TrackopsClient, _retry_delay, pages_needed
from tests.support.sandbox import make_client

NO_WAIT = {"sleep": lambda seconds: None}


def new_event(sandbox, **fields):
    return sandbox.control.create_event(**fields)


def isolate_calendar(sandbox, calendar_id: int, count: int, *, crowded: bool = False) -> None:
    """Put exactly `count` events in a calendar no seed event uses, each created a second after
    the last (a fixed clock, so where a second ends does not depend on the test's speed); or,
    `crowded`, the first alone in a second and all the others in the next."""
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    for i in range(count):
        second = min(i, 1) if crowded else i
        created = f"{start + timedelta(seconds=second):%Y-%m-%d %H:%M:%S}"
        new_event(
            sandbox,
            calendar_id=calendar_id,
            title=f"Paging {i}",
            created_at=created,
            updated_at=created,
        )


# -- authentication and errors -----------------------------------------------------------------


def test_wrong_token_is_an_authentication_error_that_names_the_variables(sandbox):
    with (
        TrackopsClient(sandbox.base_url, sandbox.options.username, "wrong", rate_limit=500) as c,
        pytest.raises(AuthenticationError) as caught,
    ):
        c.count("/events")
    assert caught.value.status == 401
    assert "TRACKOPS_USERNAME" in caught.value.describe()
    assert "TRACKOPS_API_TOKEN" in caught.value.describe()


def test_username_with_token_suffix_is_rejected_clearly(sandbox):
    user = sandbox.options.username + "/token"  # the bridge adds /token itself
    with (
        TrackopsClient(sandbox.base_url, user, sandbox.options.token, rate_limit=500) as c,
        pytest.raises(AuthenticationError) as caught,
    ):
        c.count("/events")
    assert "without '/token'" in caught.value.describe()


def test_missing_event_is_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.get_event(99_999_999)
    assert caught.value.status == 404


def test_unknown_parameter_is_a_bad_request_naming_it(client):
    with pytest.raises(BadRequestError, match="colour"):
        next(client.iter_event_pages(colour="red"))


def test_post_validation_errors_carry_field_messages(client):
    body = {
        "event": {
            "title": "No case",
            "calendar_id": 1,
            "start_at": "2026-12-01 10:00:00",
            "end_at": "2026-12-01 09:00:00",
        }
    }
    with pytest.raises(BadRequestError) as caught:
        client.create_event(body)
    assert "casefile_id" in caught.value.field_errors
    assert "casefile_id" in str(caught.value)


@pytest.mark.parametrize("style", ["message", "error", "errors", "text", "html"])
def test_the_servers_own_message_reaches_the_error_in_every_body_style(sandbox, client, style):
    sandbox.control.set_variants(errors=style)
    with pytest.raises(NotFoundError) as caught:
        client.get_event(99_999_999)
    # The sandbox's own sentence: neither the URL (which holds the id) nor the reason phrase
    # "Not Found" contains it, so only the body can have brought it.
    assert "Event 99999999 not found" in str(caught.value)


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["502", "503", "504"])
def test_gateway_errors_are_retried_then_succeed(sandbox, client, kind):
    sandbox.control.inject_fault(kind, count=2)
    assert client.count("/events").record_count > 0
    assert client.stats.retries == 2


def test_server_errors_after_every_retry_raise_server_error(sandbox, client):
    sandbox.control.inject_fault("503", count=10)
    with pytest.raises(ServerError) as caught:
        client.count("/events")
    assert caught.value.status == 503
    assert client.stats.requests == client.max_retries + 1


def test_500_is_not_retried(sandbox, client):
    sandbox.control.inject_fault("500", count=1)
    with pytest.raises(ServerError):
        client.count("/events")
    assert client.stats.requests == 1


@pytest.mark.parametrize("form", ["seconds", "http_date"])
def test_429_honours_retry_after_in_both_forms(sandbox, form):
    sandbox.control.set_variants(retry_after=form)
    sandbox.control.set_rate_limit(0.2)  # one request per 5 s: an immediate second is refused
    waits: list[float] = []
    with make_client(sandbox, sleep=waits.append, max_retries=1) as c:
        c.count("/events")
        with pytest.raises(RateLimitedError) as caught:
            c.count("/events")
        assert c.stats.rate_limited == 2
    assert "0.2 requests per second" in str(caught.value)
    assert any(3 <= w <= 6 for w in waits), waits  # Retry-After ~5 s, not the 1 s backoff


@pytest.mark.parametrize("header", ["²", "٣", "soon", "-1"])
def test_a_retry_after_that_is_not_ascii_seconds_or_a_date_backs_off(header):
    response = httpx.Response(429, headers=[(b"Retry-After", header.encode())])
    assert 0.5 <= _retry_delay(response, attempt=0) <= 1.0  # the first backoff step


def test_429_without_retry_after_backs_off_exponentially(sandbox):
    sandbox.control.set_variants(retry_after="none")
    sandbox.control.set_rate_limit(0.2)
    waits: list[float] = []
    with make_client(sandbox, sleep=waits.append, max_retries=2) as c:
        c.count("/events")
        with pytest.raises(RateLimitedError):
            c.count("/events")
    backoffs = [w for w in waits if w >= 0.4]
    assert len(backoffs) == 2
    assert 0.5 <= backoffs[0] <= 1.0 and 1.0 <= backoffs[1] <= 2.0


def test_a_429_then_success_is_retried_transparently(sandbox):
    sandbox.control.set_rate_limit(0.2)

    def wait(seconds: float) -> None:
        if seconds > 1:  # the Retry-After wait, not pacing: lift the limit as time would
            sandbox.control.set_rate_limit(None)

    with make_client(sandbox, sleep=wait) as c:
        c.count("/events")
        assert c.count("/events").record_count > 0
        assert (c.stats.rate_limited, c.stats.retries) == (1, 1)


def test_transport_errors_are_retried_then_reported(sandbox):
    with TrackopsClient(
        "http://127.0.0.1:9/api/v1", "u", "t", rate_limit=500, max_retries=2, sleep=lambda s: None
    ) as c:
        with pytest.raises(TransportError):
            c.count("/events")
        assert c.stats.requests == 3


def test_a_slow_server_times_out_as_a_transport_error(sandbox):
    sandbox.control.inject_fault("delay", count=1, seconds=2)
    with (
        make_client(sandbox, timeout=0.3, max_retries=0, **NO_WAIT) as c,
        pytest.raises(TransportError, match="Timeout"),
    ):
        c.count("/events")


def test_a_post_that_may_have_arrived_is_never_sent_again(sandbox, client):
    sandbox.control.inject_fault("503", count=1, path_prefix="/api/v1/events")
    with pytest.raises(ServerError):
        client.create_event({"event": {"title": "x"}})
    posts = [r for r in sandbox.control.requests()["requests"] if r["method"] == "POST"]
    assert len(posts) == 1


def test_a_post_that_timed_out_is_not_retried(sandbox):
    sandbox.control.inject_fault("delay", count=1, seconds=2, path_prefix="/api/v1/events")
    with make_client(sandbox, timeout=0.3, **NO_WAIT) as c, pytest.raises(TransportError):
        c.create_event({"event": {"title": "x"}})
    posts = [r for r in sandbox.control.requests()["requests"] if r["method"] == "POST"]
    assert len(posts) == 1


def test_a_post_that_never_connected_is_retried():
    attempts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(
            201,
            json={
                "event": {
                    "id": 5,
                    "title": "t",
                    "start_at": "2026-01-01 00:00:00",
                    "end_at": "2026-01-01 01:00:00",
                }
            },
        )

    with TrackopsClient(
        "https://acme.example/api/v1",
        "u",
        "t",
        rate_limit=500,
        transport=httpx.MockTransport(refuse),
        sleep=lambda s: None,
    ) as c:
        assert c.create_event({"event": {}}).event_id == 5
    assert len(attempts) == 3


# -- replies that are not what they should be --------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("html", 200, "not JSON"),
        ("html", 403, "not JSON"),
        ("truncated", None, "not JSON"),
        ("empty", None, "empty body"),
    ],
)
def test_a_reply_that_is_not_json_is_an_error_never_an_empty_list(
    sandbox, client, kind, status, expected
):
    sandbox.control.inject_fault(kind, count=1, status=status)
    with pytest.raises(UnexpectedResponseError) as caught:
        list(client.iter_event_pages())
    assert expected in str(caught.value)
    if kind == "html":
        assert "<" in str(caught.value)  # the first bytes are shown


# -- paging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 99, 100, 101])
def test_paging_boundaries(sandbox, client, count):
    isolate_calendar(sandbox, 777, count)
    sandbox.control.clear_requests()
    pages = list(client.iter_event_pages(calendar=777))
    assert sum(len(p.records) for p in pages) == count
    assert len({e.event_id for p in pages for e in p.records}) == count
    assert len(pages) == pages_needed(count)
    assert sandbox.control.requests()["counts"]["total"] == pages_needed(count)


def test_a_page_ending_inside_a_crowded_second_costs_one_page_more(sandbox, client):
    # One event in one second, then a hundred in the next: page 1 ends inside that second, so
    # the walk on from it lists 99 of the hundred again before it can page past them.
    isolate_calendar(sandbox, 776, 101, crowded=True)
    sandbox.control.clear_requests()
    pages = list(client.iter_event_pages(calendar=776))
    assert sorted(e.event_id for p in pages for e in p.records) == sorted(
        e.event_id for p in client.iter_event_pages(calendar=776, by_key=False) for e in p.records
    )
    assert [len(p.records) for p in pages] == [100, 1, 0]
    assert all(p.is_keyed for p in pages)


def test_count_uses_mode_count(sandbox, client):
    isolate_calendar(sandbox, 778, 130)
    count = client.count("/events", calendar=778)
    assert (count.record_count, count.page_count) == (130, 2)


def test_unreadable_records_are_reported_beside_the_good_ones(sandbox, client):
    isolate_calendar(sandbox, 779, 3)
    bad = new_event(sandbox, calendar_id=779, title="Unreadable")
    # Staff "ids" that are not numbers: a shape the bridge cannot read.
    sandbox.state.tables.of("events").rows[bad["id"]].users_list = ["Sam Spade"]
    sandbox.control.set_variants(timestamps="iso_z")
    (page,) = list(client.iter_event_pages(calendar=779))
    assert len(page.records) == 3 and bad["id"] not in {e.event_id for e in page.records}
    assert [p.record_id for p in page.problems] == [bad["id"]]
    assert "users_list" in page.problems[0].keys
    assert page.size == 4


# -- every variant of the unknowns -------------------------------------------------------------


@pytest.mark.parametrize("wrap", ["bare", "event", "Event"])
@pytest.mark.parametrize("timestamps", ["space", "iso", "iso_z", "offset"])
@pytest.mark.parametrize("fields", ["documented", "alternate"])
def test_every_variant_reads_to_the_same_event(sandbox, client, wrap, timestamps, fields):
    sandbox.control.set_variants(wrap="bare", timestamps="space", fields="documented")
    page = next(client.iter_event_pages(calendar=2))
    reference = {e.event_id: e for e in page.records}
    some_id = next(iter(reference))
    sandbox.control.set_variants(wrap=wrap, timestamps=timestamps, fields=fields)
    assert client.get_event(some_id) == reference[some_id]
    listed = {e.event_id: e for e in next(client.iter_event_pages(calendar=2)).records}
    assert listed == reference


def test_created_event_comes_back_as_a_record(sandbox, client):
    case = next(client.iter_case_pages()).records[0]
    body = {
        "event": {
            "casefile_id": case.case_id,
            "calendar_id": 2,
            "title": "Court: hearing",
            "start_at": "2026-12-01 15:00:00",
            "end_at": "2026-12-01 16:00:00",
            "timezone": "America/Denver",
        }
    }
    sandbox.control.set_variants(wrap="Event")
    event = client.create_event(body)
    assert event.title == "Court: hearing"
    assert event.case_id == case.case_id
    assert client.get_event(event.event_id) == event


# -- secrets -----------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_errors_or_reprs(sandbox, caplog):
    secret = sandbox.options.token
    caplog.set_level(logging.DEBUG)
    with make_client(sandbox, **NO_WAIT) as c:
        c.count("/events")
        sandbox.control.inject_fault("503", count=10)
        with pytest.raises(ServerError) as caught:
            c.count("/events")
        assert secret not in repr(c)
    sandbox.control.clear_faults()
    with (
        TrackopsClient(sandbox.base_url, "nobody", secret + "x", rate_limit=500) as bad,
        pytest.raises(AuthenticationError) as denied,
    ):
        bad.count("/events")
    for text in (caplog.text, str(caught.value), str(denied.value), repr(denied.value)):
        assert secret not in text
