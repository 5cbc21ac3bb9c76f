"""A draft's POST /events body reads back as the same draft, and no other shape passes for one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bridge.models import Address, Draft
from bridge.trackops.bodies import event_request_body, read_request_body

START = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
FULL = Draft(
    casefile_id=1201,
    calendar_id=3,
    title="Hearing",
    start_at=START,
    end_at=START + timedelta(hours=2),
    timezone="America/New_York",
    is_allday=False,
    subject_id=44,
    case_service_id=9,
    body="Bring the file",
    address=Address("1 Court St", "", "", "Boston", "MA", "02134", "US"),
    users_list=(7, 8),
    row=4,
    notes=("a note the preview showed",),
)
BARE = Draft(1201, 3, "Hearing", START, START + timedelta(hours=2), "UTC")


@pytest.mark.parametrize("draft", [FULL, BARE], ids=["every field", "required fields only"])
def test_a_body_reads_back_as_its_draft_without_row_or_notes(draft: Draft) -> None:
    read = read_request_body(event_request_body(draft))
    assert read == dataclasses.replace(draft, row=None)
    assert (read.row, read.notes) == (None, ())


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({}, "no 'event'"),
        ({"event": {**event_request_body(BARE)["event"], "casefile_id": "1201"}}, "expected an id"),
        (
            {"event": {**event_request_body(BARE)["event"], "start_at": "2026-03-02T14:30"}},
            "does not match",
        ),
        ({"event": "Hearing"}, "not a POST /events body"),
    ],
    ids=["no root key", "text id", "other time format", "not an object"],
)
def test_any_other_shape_is_a_value_error_that_says_what_is_wrong(
    body: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        read_request_body(body)
