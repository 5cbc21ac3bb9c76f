"""The sandbox's seed data, read back over HTTP: deterministic, realistic, full of edge cases."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pycountry
import pytest

from trackops_sandbox import SandboxOptions, SandboxServer

ANCHOR = date(2026, 3, 15)
KINDS = ("events", "cases", "subjects", "staff")
Record = dict[str, Any]


def fetch_everything(server: SandboxServer) -> dict[str, list[Record]]:
    auth = server.basic_auth
    result: dict[str, list[Record]] = {}
    with httpx.Client(base_url=server.base_url, auth=auth) as client:
        for kind in KINDS:
            records: list[Record] = []
            page = 1
            while batch := client.get(f"/{kind}", params={"page": page, "dir": "asc"}).json():
                records.extend(batch)
                page += 1
            result[kind] = records
    return result


def serve_seed(**options: Any) -> dict[str, list[Record]]:
    settings = {"events": 300, "rate_limit": None, "anchor": ANCHOR, **options}
    with SandboxServer(SandboxOptions(**settings)) as server:
        return fetch_everything(server)


@pytest.fixture(scope="module")
def seed() -> dict[str, list[Record]]:
    return serve_seed()


@pytest.fixture(scope="module")
def events(seed: dict[str, list[Record]]) -> list[Record]:
    return seed["events"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str | None) -> datetime:
    return utc(text).astimezone(ZoneInfo(zone) if zone else UTC)


def offset_change_days(zone: str, year: int) -> list[date]:
    """Local dates whose midnight-to-midnight span contains a UTC offset change."""
    tz = ZoneInfo(zone)
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        today = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
        tomorrow = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).utcoffset()
        if today != tomorrow:
            days.append(day)
        day += timedelta(days=1)
    return days


# -- determinism ---------------------------------------------------------------------------------


def test_same_seed_and_anchor_give_the_same_json(seed: dict[str, list[Record]]) -> None:
    assert serve_seed() == seed


def test_other_seed_or_anchor_give_other_data(seed: dict[str, list[Record]]) -> None:
    assert serve_seed(seed=8)["events"] != seed["events"]
    assert serve_seed(anchor=date(2026, 9, 1))["events"] != seed["events"]


def test_event_count_follows_the_option(seed: dict[str, list[Record]]) -> None:
    assert len(seed["events"]) == 300
    assert serve_seed(events=0)["events"] == []
    few = serve_seed(events=5)["events"]
    assert len(few) == 5


# -- shape of the firm ---------------------------------------------------------------------------


def test_staff_cases_and_subjects(seed: dict[str, list[Record]]) -> None:
    staff, cases, subjects = seed["staff"], seed["cases"], seed["subjects"]
    assert 10 <= len(staff) <= 14
    assert 2 <= sum(member["is_vendor"] for member in staff) <= 3
    assert all("@" in member["email"] for member in staff)
    assert 35 <= len(cases) <= 45
    assert all(re.fullmatch(r"20\d\d-\d{4}", case["case_number"]) for case in cases)
    assert len({case["case_number"] for case in cases}) == len(cases)
    staff_ids = {member["id"] for member in staff if not member["is_vendor"]}
    assert all(case["primary_investigator"] in staff_ids for case in cases)
    per_case = {case["id"]: 0 for case in cases}
    for subject in subjects:
        per_case[subject["casefile_id"]] += 1
        assert subject["name"] == f"{subject['first_name']} {subject['last_name']}"
    assert set(per_case.values()) <= {1, 2, 3}


def test_events_refer_to_existing_records(seed: dict[str, list[Record]]) -> None:
    cases = {case["id"] for case in seed["cases"]}
    subjects = {subject["id"]: subject["casefile_id"] for subject in seed["subjects"]}
    staff = {member["id"] for member in seed["staff"]}
    for event in seed["events"]:
        assert event["casefile_id"] is None or event["casefile_id"] in cases
        if event["subject_id"] is not None:
            assert subjects[event["subject_id"]] == event["casefile_id"]
        assert set(event["users_list"]) <= staff
    assert any(event["casefile_id"] is None for event in seed["events"])


def test_calendars(events: list[Record], seed: dict[str, list[Record]]) -> None:
    used = {event["calendar_id"] for event in events}
    assert 5 <= len(used) <= 6


def test_stamps_are_past_and_rise_with_id(seed: dict[str, list[Record]]) -> None:
    cutoff = datetime.combine(ANCHOR, time(0), tzinfo=UTC)
    for kind in KINDS:
        for record in seed[kind]:
            assert utc(record["updated_at"]) < cutoff
            if "created_at" in record:
                assert record["created_at"] <= record["updated_at"]
    created = [event["created_at"] for event in seed["events"]]
    assert created == sorted(created)
    ids = [event["id"] for event in seed["events"]]
    assert ids == sorted(set(ids))


def test_events_surround_the_anchor(events: list[Record]) -> None:
    days = [(utc(event["start_at"]).date() - ANCHOR).days for event in events]
    assert all(event["end_at"] >= event["start_at"] for event in events)
    in_window = [d for d in days if -125 <= d <= 95]
    assert len(in_window) >= 0.9 * len(days)
    assert min(in_window) < -90 and max(in_window) > 60


# -- zones, all-day events, DST ------------------------------------------------------------------


def test_required_zones_and_no_zone(events: list[Record]) -> None:
    zones = {event["timezone"] for event in events}
    for zone in (
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
        "America/St_Johns",
        "Asia/Kolkata",
        "Australia/Sydney",
        "Australia/Adelaide",
        "Europe/London",
        "Europe/Berlin",
        None,
    ):
        assert zone in zones


def test_allday_events_follow_the_convention(events: list[Record]) -> None:
    allday = [event for event in events if event["is_allday"]]
    assert len(allday) >= 10
    for event in allday:
        start = local(event["start_at"], event["timezone"])
        end = local(event["end_at"], event["timezone"])
        assert start.time() == time(0, 0, 0), event
        assert end.time() == time(23, 59, 59), event
        assert end.date() >= start.date()
    assert any(
        local(e["end_at"], e["timezone"]).date() > local(e["start_at"], e["timezone"]).date()
        for e in allday
    )
    assert any(event["timezone"] is None for event in allday)
    assert any(event["timezone"] == "Australia/Adelaide" for event in allday)


@pytest.mark.parametrize(
    "zone",
    [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "Europe/London",
        "Europe/Berlin",
        "Australia/Sydney",
        "Australia/Adelaide",
    ],
)
def test_events_on_every_dst_change_day(events: list[Record], zone: str) -> None:
    change_days = offset_change_days(zone, ANCHOR.year)
    assert len(change_days) == 2
    for day in change_days:
        touching = [
            event
            for event in events
            if event["timezone"] == zone
            and local(event["start_at"], zone).date() <= day <= local(event["end_at"], zone).date()
        ]
        assert touching, f"no {zone} event on {day}"


def test_dst_days_have_overnight_shifts_and_odd_length_days(events: list[Record]) -> None:
    spring_forward = offset_change_days("America/New_York", ANCHOR.year)[0]
    new_york = [e for e in events if e["timezone"] == "America/New_York"]
    across = [
        e
        for e in new_york
        if local(e["start_at"], "America/New_York").date()
        < spring_forward
        <= local(e["end_at"], "America/New_York").date()
    ]
    assert across  # an overnight shift spanning the change
    chicago_day = [
        e
        for e in events
        if e["timezone"] == "America/Chicago"
        and e["is_allday"]
        and local(e["start_at"], "America/Chicago").date() == spring_forward
    ]
    # A 23-hour day: midnight to 23:59:59 is 22:59:59 of real time.
    assert chicago_day
    for event in chicago_day:
        assert utc(event["end_at"]) - utc(event["start_at"]) == timedelta(hours=22, seconds=3599)


def test_timed_events_cross_midnight(events: list[Record]) -> None:
    crossing = {
        event["timezone"]
        for event in events
        if not event["is_allday"]
        and local(event["start_at"], event["timezone"]).date()
        < local(event["end_at"], event["timezone"]).date()
    }
    assert {"Asia/Kolkata", "America/St_Johns"} <= crossing


# -- text and addresses --------------------------------------------------------------------------


def test_titles_and_bodies_carry_awkward_text(events: list[Record]) -> None:
    titles = [event["title"] for event in events]
    bodies = [event["body"] for event in events]
    assert any(re.search("[éü]", title) for title in titles)
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", title) for title in titles)
    assert any(any(ord(ch) > 0xFFFF for ch in title) for title in titles)  # emoji
    for mark in (",", ";", '"', "'"):
        assert any(mark in title for title in titles), mark
    assert any("\n" in body for body in bodies)
    assert "" in bodies


def test_addresses_pass_the_api_rules(events: list[Record]) -> None:
    addresses = [event["address"] for event in events if event["address"]]
    assert {"US", "CA", "AU", "GB"} <= {address["country"] for address in addresses}
    for address in addresses:
        assert pycountry.countries.get(alpha_2=address["country"]) is not None
        if address["country"] in ("US", "CA", "AU"):
            code = f"{address['country']}-{address['state']}"
            assert pycountry.subdivisions.get(code=code) is not None, code
    assert any(event["address"] is None for event in events)
