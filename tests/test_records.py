"""Every record shape trackops-api.md lists as plausible is read to the same Event."""

from datetime import UTC, datetime

import pytest

from bridge.errors import RecordError
from bridge.models import Address
from bridge.trackops.records import (
    describe_event_keys,
    parse_timestamp,
    read_case,
    read_event,
    read_staff,
    read_subject,
    unwrap_record,
)

DOCUMENTED = {
    "id": 17,
    "title": "Surveillance, day 2",
    "calendar_id": 3,
    "casefile_id": 123,
    "subject_id": 456,
    "case_service_id": 1,
    "start_at": "2023-01-30 18:00:00",
    "end_at": "2023-01-30 22:00:00",
    "timezone": "America/Denver",
    "is_allday": False,
    "body": "notes",
    "address": {
        "address_1": "2000 Blake Street",
        "city": "Denver",
        "state": "CO",
        "zip": 80202,
        "country": "US",
    },
    "users_list": [3, 1, 2],
    "created_at": "2023-01-01 10:00:00",
    "updated_at": "2023-01-02 11:00:00",
}

ALTERNATE = {
    "id": "17",
    "title": "Surveillance, day 2",
    "calendar": {"id": 3, "name": "Field"},
    "Casefile": {"id": 123},
    "subject_id": 456,
    "case_service_id": "1",
    "start_at": "2023-01-30T18:00:00Z",
    "end_at": "2023-01-30T15:00:00-07:00",
    "timezone": "America/Denver",
    "is_allday": "0",
    "body": "notes",
    "address": {
        "address_1": "2000 Blake Street",
        "city": "Denver",
        "state": "CO",
        "zip": "80202",
        "country": "US",
    },
    "users": [{"id": 2, "first_name": "B"}, {"id": 1}, {"id": 3}],
    "created": "2023-01-01T10:00:00+00:00",
    "modified": "2023-01-02T11:00:00",
}


@pytest.mark.parametrize("record", [DOCUMENTED, ALTERNATE], ids=["documented", "alternate"])
def test_both_field_name_variants_read_to_the_same_event(record):
    event = read_event(record)
    assert event.event_id == 17
    assert event.calendar_id == 3
    assert event.case_id == 123
    assert event.subject_id == 456
    assert event.case_service_id == 1
    assert event.start_at == datetime(2023, 1, 30, 18, tzinfo=UTC)
    assert event.end_at == datetime(2023, 1, 30, 22, tzinfo=UTC)
    assert event.timezone == "America/Denver"
    assert event.is_allday is False
    assert event.staff_ids == (1, 2, 3)
    assert event.address == Address(
        address_1="2000 Blake Street", city="Denver", state="CO", zip="80202", country="US"
    )
    assert event.created_at == datetime(2023, 1, 1, 10, tzinfo=UTC)
    assert event.updated_at == datetime(2023, 1, 2, 11, tzinfo=UTC)
    assert '"id"' in event.raw_json


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-08 07:30:00",
        "2026-03-08T07:30:00",
        "2026-03-08T07:30:00Z",
        "2026-03-08T07:30:00+00:00",
        "2026-03-08T02:30:00-05:00",
        "2026-03-08T13:00:00+05:30",
    ],
)
def test_timestamps_in_every_format_are_the_same_utc_instant(text):
    assert parse_timestamp(text) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_timestamp_without_offset_is_utc_not_local():
    assert parse_timestamp("2026-07-01 00:00:00").utcoffset().total_seconds() == 0


@pytest.mark.parametrize("wrapped", [{"event": DOCUMENTED}, {"Event": DOCUMENTED}, DOCUMENTED])
def test_single_records_are_unwrapped_whatever_the_root_key(wrapped):
    assert read_event(unwrap_record(wrapped, "event")).event_id == 17


def test_unreadable_record_names_its_id_and_keys():
    with pytest.raises(RecordError) as caught:
        read_event({"id": 9, "title": "no times"})
    assert caught.value.record_id == 9
    assert caught.value.keys == ["id", "title"]
    assert "event 9" in str(caught.value)


def test_an_unreadable_record_with_a_string_id_is_reported_by_its_number():
    # Reconcile keeps an unreadable record only by an int id; "9" must not read as absent.
    with pytest.raises(RecordError) as caught:
        read_event({"id": "9", "title": "no times"})
    assert caught.value.record_id == 9
    with pytest.raises(RecordError) as caught:
        read_event({"id": "n/a", "title": "no times"})
    assert caught.value.record_id == "n/a"


def test_a_record_that_is_not_an_object_is_an_error_not_a_crash():
    with pytest.raises(RecordError):
        read_event(["not", "an", "object"])


def test_null_and_zero_ids_mean_no_link():
    event = read_event({**DOCUMENTED, "subject_id": None, "case_service_id": 0, "address": None})
    assert event.subject_id is None
    assert event.case_service_id is None
    assert event.address is None


def test_reference_records():
    case = read_case(
        {
            "id": 5,
            "case_number": "2026-0042",
            "reference": "ACME-7",
            "updated_at": "2026-01-01 00:00:00",
        }
    )
    assert case.label == "2026-0042 / ACME-7"
    subject = read_subject({"id": 6, "casefile_id": 5, "first_name": "Jo", "last_name": "Ng"})
    assert (subject.case_id, subject.name) == (5, "Jo Ng")
    staff = read_staff({"id": 7, "first_name": "Sam", "last_name": "Spade", "email": "s@x"})
    assert staff.name == "Sam Spade"


def test_check_describes_which_raw_key_feeds_which_field():
    mapping = dict(describe_event_keys({**ALTERNATE, "colour": "red"}))
    assert mapping["modified"] == "updated_at"
    assert mapping["Casefile"] == "case_id"
    assert mapping["colour"] == "not used"
