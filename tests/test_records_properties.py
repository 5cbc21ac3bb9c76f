"""Record reading over random JSON: every input is a record every store and feed can hold, or a
RecordError naming the field; never any other exception, and never slow.

The storage property runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL in a session zone
west of UTC (so instants near year 1 or 9999 must survive the session's conversion too).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import RecordError
from bridge.feed_engine import FeedEngine, render_options
from bridge.models import Address, Case, Event, FeedKind, Privacy, Staff, Subject
from bridge.store import Store, content_hash
from bridge.trackops.records import (
    ADDRESS_KEYS,
    EARLIEST_INSTANT,
    EVENT_KEYS,
    LATEST_INSTANT,
    MAX_ID,
    RecordWarning,
    read_case,
    read_event,
    read_staff,
    read_subject,
)
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path
from bridge.zone_names import known_zones
from tests.support.store import BACKENDS
from tests.support.web import make_settings

# The store contract's backends (a fresh database per test, on PostgreSQL a schema of its own
# in a session zone west of UTC) and its migrated store.


@pytest.fixture
def store(empty_store: Store) -> Store:
    """The contract's database (conftest's `database_url` over BACKENDS), migrated."""
    empty_store.migrate()
    return empty_store


AT = datetime(2030, 1, 1, tzinfo=UTC)
# Characters stores, feeds or encoders have tripped over, mixed into every generated string.
NASTY = "\x00\x01\x08\x0b\x1b\x7f\x85\u2028\u2029\ud800\udbff\udc00\ud83d\ude00\r\n\t\ufeff"
BAD_ZONES = [
    "US",  # a directory in the zone database: IsADirectoryError
    "Europe",
    "z" * 300,  # longer than a file name: OSError
    "../../etc/passwd",
    "/etc/localtime",
    "America/New_York\x00",
    "America/",
    "posixrules",
    "Factory",
    "localtime",
    "right/UTC",
    "posix/Europe/Paris",
    "zone.tab",
    "tzdata.zi",
    "\ud800",
]
STORABLE_TEXT = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]*")
# The feeds keep every past event back to the earliest the reader lets through.
FEED_PAST_DAYS = (date.today() - (EARLIEST_INSTANT + timedelta(days=1)).date()).days

text = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(NASTY)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**70),
    st.floats(),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    ),
)
instants = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.none() | offsets,
)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(instants)
    edge = st.sampled_from(
        [
            "9999-12-31 23:59:59",
            "9999-12-31T23:00:00-05:00",
            "0001-01-01 00:00:00",
            "0001-01-01T00:00:00+14:00",
            "0000-00-00 00:00:00",
            "2026-01-01T24:00:00",
            "2026-02-30 10:00:00",
            "yesterday",
        ]
    )
    return draw(st.one_of(st.just(moment.isoformat(draw(st.sampled_from([" ", "T"])))), edge))


ids = st.one_of(
    st.integers(min_value=-3, max_value=2**64),
    st.integers(min_value=1, max_value=10_000).map(str),
    st.sampled_from(["0", "00017", " 17 ", "1_000", "١٧", "9" * 25, "abc", ""]),
    st.integers(min_value=1, max_value=10_000).map(lambda i: {"id": i, "name": "x"}),
    st.floats(),
)
zones = st.one_of(st.sampled_from(sorted(known_zones())), st.sampled_from(BAD_ZONES), text)
addresses = st.one_of(
    st.dictionaries(st.sampled_from(ADDRESS_KEYS), st.one_of(text, scalars), max_size=7),
    text,
    st.just([]),
)
flags = st.one_of(st.booleans(), st.sampled_from(["1", "0", "true", "no", "maybe"]), scalars)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "event_id": ids,
    "title": text,
    "body": text,
    "start_at": timestamps(),
    "end_at": timestamps(),
    "alert_at": timestamps(),
    "created_at": timestamps(),
    "updated_at": timestamps(),
    "calendar_id": ids,
    "case_id": ids,
    "subject_id": ids,
    "case_service_id": ids,
    "timezone": zones,
    "is_allday": flags,
    "address": addresses,
    "staff_ids": st.lists(ids, max_size=4),
}
# Every key an event field is read from, each given its field's plausible values or any JSON.
ANY_VALUE = {
    key: st.one_of(PLAUSIBLE[name], json_values)
    for name, keys in EVENT_KEYS.items()
    for key in keys
}
event_records = st.one_of(
    st.fixed_dictionaries({}, optional=ANY_VALUE),
    json_values,  # not an object at all
)
# Records with an id and times that mostly read, so storage and feeds see many events.
readable_events = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=MAX_ID),
        "start_at": timestamps(),
        "end_at": timestamps(),
    },
    optional={k: v for k, v in ANY_VALUE.items() if k not in ("id", "start_at", "end_at")},
)


def check_text(value: str) -> None:
    assert STORABLE_TEXT.fullmatch(value), ascii(value)
    value.encode("utf-8")  # no lone surrogate survives


def check_instant(value: datetime | None) -> None:
    if value is not None:
        assert value.utcoffset() == timedelta(0)
        assert EARLIEST_INSTANT <= value <= LATEST_INSTANT


def check_id(value: int | None) -> None:
    if value is not None:
        assert type(value) is int and 1 <= value <= MAX_ID


def check_event(event: Event) -> None:
    check_id(event.event_id)
    for value in (event.calendar_id, event.case_id, event.subject_id, event.case_service_id):
        check_id(value)
    for value in event.staff_ids:
        check_id(value)
    assert list(event.staff_ids) == sorted(set(event.staff_ids))
    check_text(event.title)
    check_text(event.body)
    for moment in (event.start_at, event.end_at, event.alert_at, event.created_at):
        check_instant(moment)
    check_instant(event.updated_at)
    assert event.start_at is not None and event.end_at is not None
    assert event.timezone is None or event.timezone in known_zones()
    assert type(event.is_allday) is bool
    if event.address is not None:
        assert isinstance(event.address, Address) and not event.address.is_empty
        for part in ADDRESS_KEYS:
            check_text(getattr(event.address, part))
    assert event.raw_json.isascii()
    content_hash(event)


def check_refusal(error: RecordError, record: object) -> None:
    if isinstance(record, dict):
        known = {key for keys in EVENT_KEYS.values() for key in keys}
        named = (error.field or "").split(".")[0]
        assert named in known, f"{error} names no field"
        assert error.field is not None and error.field in str(error)
    assert error.kind
    check_text(str(error))
    check_text(error.detail)


def check_warning(warning: RecordWarning) -> None:
    assert warning.field.split(".")[0] in {key for keys in EVENT_KEYS.values() for key in keys}
    check_text(str(warning))


def read_or_refuse(
    read: Callable[..., Any], record: object, warnings: list[RecordWarning]
) -> Any | None:
    try:
        return read(record, warnings)
    except RecordError as error:
        check_refusal(error, record) if read is read_event else check_text(str(error))
        return None


@settings(max_examples=400, deadline=timedelta(milliseconds=500))
@given(event_records)
def test_every_event_input_is_a_valid_event_or_names_its_field(record: object) -> None:
    warnings: list[RecordWarning] = []
    event = read_or_refuse(read_event, record, warnings)
    if event is not None:
        check_event(event)
    for warning in warnings:
        check_warning(warning)


reference_records = st.fixed_dictionaries(
    {"id": ids},
    optional={
        key: st.one_of(text, timestamps(), ids, json_values)
        for key in (
            "case_number", "reference", "title", "name", "full_name", "first_name",
            "last_name", "email", "casefile_id", "updated_at", "modified",
        )
    },
)  # fmt: skip


@settings(max_examples=200, deadline=timedelta(milliseconds=500))
@given(reference_records)
def test_every_reference_input_is_a_valid_record_or_an_error(record: dict[str, Any]) -> None:
    warnings: list[RecordWarning] = []
    case = read_or_refuse(read_case, record, warnings)
    subject = read_or_refuse(read_subject, record, warnings)
    staff = read_or_refuse(read_staff, record, warnings)
    if isinstance(case, Case):
        check_id(case.case_id)
        for value in (case.case_number, case.reference, case.title, case.label):
            check_text(value)
        check_instant(case.updated_at)
    if isinstance(subject, Subject):
        check_id(subject.subject_id)
        check_id(subject.case_id)
        check_text(subject.name)
    if isinstance(staff, Staff):
        check_id(staff.staff_id)
        for value in (staff.first_name, staff.last_name, staff.email, staff.name):
            check_text(value)
    for warning in warnings:
        check_text(str(warning))


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
@settings(
    max_examples=60,
    deadline=None,  # a feed render derives zone rules: timed in bench/, not here
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one store for every example
)
@given(record=readable_events)
def test_every_event_read_is_stored_as_read_and_served_in_its_feeds(
    store: Store, database_url: str, record: dict[str, Any]
) -> None:
    try:
        event = read_event(record)
    except RecordError as error:
        check_refusal(error, record)
        return
    store.apply_event_changes([event], [], AT)
    try:
        assert store.get_event(event.event_id) == event
        store.ensure_feeds(Privacy.FULL)
        feeds = [
            feed
            for feed in store.list_feeds()
            if feed.kind is FeedKind.ALL or feed.target_id == event.calendar_id
        ]
        settings = make_settings(feed_past_days=FEED_PAST_DAYS, default_timezone="America/Chicago")
        FeedEngine(store, render_options(settings)).render_stale()  # as the worker's pass does
        app = create_app(settings, store_url=database_url)
        try:
            web = app.test_client()
            for feed in feeds:
                response = web.get(feed_path(feed))
                assert response.status_code == 200, feed.slug
                calendar = icalendar.Calendar.from_ical(response.data)
                if event.end_at > datetime.now(UTC) - timedelta(days=FEED_PAST_DAYS - 1):
                    uids = [str(vevent["uid"]) for vevent in calendar.walk("VEVENT")]
                    assert any(f"-event-{event.event_id}@" in uid for uid in uids)
        finally:
            app_context_of(app).store.close()
    finally:
        store.apply_event_changes([], [event.event_id], AT)  # out of the next example's feeds
