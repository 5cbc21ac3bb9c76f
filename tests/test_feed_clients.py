"""Feeds as real calendar clients read them: served by the running web app over HTTP, from a
sandbox account synced into the store, then read by vdirsyncer, khal, icalendar, vobject, ical
(Home Assistant's parser) and ICAL.js (Thunderbird's).

Every client must see every event once, at the instant zoneinfo gives, and every all-day event
on its local dates. Where a client and RFC 5545 disagree, the feed avoids the construct (see the
README's Feeds section): the test never bends to a client.

The clients are installed by `make clients` (part of `make test`): Python ones in .venv-clients,
ICAL.js under tests/clients/node_modules. Only a machine without node skips the ICAL.js checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from werkzeug.serving import make_server

from bridge.models import Feed, FeedKind, Privacy
from bridge.store import open_store
from bridge.sync import Syncer, SyncOptions
from bridge.web import app_context_of, create_app
from bridge.web.feed_urls import feed_path
from tests.support.sandbox import ANCHOR, make_client
from tests.support.web import make_settings
from tests.support.zones import next_changes
from trackops_sandbox.options import SandboxOptions
from trackops_sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parent.parent
CLIENTS_BIN = REPO / ".venv-clients" / "bin"
CLIENT_SCRIPTS = REPO / "tests" / "clients"
NOT_INSTALLED = "the real calendar clients are not installed: run `make clients` (make test does)"

DEFAULT_ZONE = "America/Chicago"
# A calendar given a zone: its zone-less events are shown in it. Half-hour and southern DST.
ZONED_CALENDAR, CALENDAR_ZONE = 3, "Australia/Adelaide"
PLAIN_CALENDAR = 14  # no zone: its zone-less events are shown in DEFAULT_ZONE
# The investigator every seeded event is assigned to: vdirsyncer and khal read their feed.
# (khal parses every VTIMEZONE of the feed once per event, because vdirsyncer copies them all
# into every item: the whole account's feed would take khal half a minute per zone.)
INVESTIGATOR = 120
# Zones khal shows the events in: each instant must come out the same in all three.
KHAL_ZONES = ("America/New_York", "Asia/Kolkata", "Australia/Adelaide")
# Zones whose next clock changes get events in and around the repeated or skipped hour.
DST_ZONES = (
    "America/New_York",
    "America/St_Johns",  # -03:30 / -02:30
    "Europe/London",
    "Europe/Dublin",  # "negative DST" in zoneinfo: winter is the odd one out
    "Australia/Sydney",
    "Australia/Adelaide",  # +09:30 / +10:30, southern hemisphere
    "Pacific/Auckland",
    DEFAULT_ZONE,  # for zone-less events of PLAIN_CALENDAR
)


# ----------------------------------------------------------------------------- the account


def local(zone: str, wall: datetime, fold: int = 0) -> datetime:
    """The instant zoneinfo gives for a wall time of ``zone`` (fold 1: the second of two)."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def allday_span(first: date, last: date, zone: str | None) -> tuple[datetime, datetime]:
    """Trackops' all-day convention: local 00:00:00 of the first day to 23:59:59 of the last,
    in the event's zone, UTC when it has none."""
    name = zone or "UTC"
    return (
        local(name, datetime.combine(first, time(0))),
        local(name, datetime.combine(last, time(23, 59, 59))),
    )


def seeded_events() -> list[dict[str, Any]]:
    """Events that put each client's reading to the test, as Trackops would hold them."""
    records: list[dict[str, Any]] = []

    def timed(title: str, zone: str | None, start: datetime, end: datetime, **more: Any) -> None:
        calendar = more.pop("calendar_id", 2)
        records.append(
            {"title": title, "timezone": zone, "start_at": stamp(start), "end_at": stamp(end),
             "calendar_id": calendar, "users_list": [INVESTIGATOR], **more}
        )  # fmt: skip

    def allday(title: str, zone: str | None, first: date, last: date, calendar: int = 8) -> None:
        start, end = allday_span(first, last, zone)
        timed(title, zone, start, end, is_allday=True, calendar_id=calendar)

    for zone in DST_ZONES:
        # Zone-less events of the plain calendar are shown in the default zone: test its
        # changes with them, and every other zone's with events that carry it.
        own = None if zone == DEFAULT_ZONE else zone
        extra = {"calendar_id": PLAIN_CALENDAR} if own is None else {}
        for change in next_changes(zone, ANCHOR)[:2]:
            minute = timedelta(minutes=1)
            label = f"{zone} {change.at:%Y-%m-%d}"
            if change.after < change.before:  # fall back: [wall_after, wall_before) twice
                repeat = change.wall_after
                timed(
                    f"First occurrence, {label}",
                    own,
                    local(zone, repeat + 30 * minute),
                    local(zone, repeat + 45 * minute),
                    **extra,
                )
                timed(
                    f"Second occurrence, {label}",
                    own,
                    local(zone, repeat + 30 * minute, fold=1),
                    local(zone, repeat + 50 * minute, fold=1),
                    **extra,
                )
                timed(
                    f"First to second, {label}",
                    own,
                    local(zone, repeat + 15 * minute),
                    local(zone, repeat + 15 * minute, fold=1),
                    **extra,
                )
                timed(
                    f"Overnight across the repeat, {label}",
                    own,
                    local(zone, repeat - 180 * minute),
                    local(zone, repeat + 180 * minute),
                    **extra,
                )
                timed(
                    f"Ends as the repeat starts, {label}",
                    own,
                    local(zone, repeat - 60 * minute),
                    local(zone, repeat),
                    **extra,
                )
            else:  # spring forward: [wall_before, wall_after) never happens
                gap_start, gap_end = change.wall_before, change.wall_after
                timed(
                    f"Across the gap, {label}",
                    own,
                    local(zone, gap_start - 30 * minute),
                    local(zone, gap_end + 30 * minute),
                    **extra,
                )
                timed(
                    f"Starts as the gap ends, {label}",
                    own,
                    local(zone, gap_end),
                    local(zone, gap_end + 60 * minute),
                    **extra,
                )
            allday(f"All day on the change, {label}", own, change.wall_after.date(),
                   change.wall_after.date())  # fmt: skip

    soon = ANCHOR + timedelta(days=10)
    at = datetime.combine(soon, time(9, 30))
    for zone in ("Asia/Kolkata", "America/St_Johns", "Australia/Adelaide", "Europe/Dublin"):
        timed(f"Half-hour and odd zones: {zone}", zone, local(zone, at),
              local(zone, at + timedelta(minutes=45)))  # fmt: skip
    timed("Overnight in Mumbai", "Asia/Kolkata", local("Asia/Kolkata", at.replace(hour=23)),
          local("Asia/Kolkata", at.replace(hour=23) + timedelta(hours=2)))  # fmt: skip

    # All-day events east and west of UTC, over several days, and without a zone.
    for zone in ("Pacific/Auckland", "Pacific/Kiritimati", "America/Los_Angeles",
                 "Pacific/Honolulu", "Asia/Kolkata"):  # fmt: skip
        allday(f"All day in {zone}", zone, soon, soon)
        allday(f"Three days in {zone}", zone, soon + timedelta(days=3), soon + timedelta(days=5))
    allday("All day, no zone, zoned calendar", None, soon, soon, calendar=ZONED_CALENDAR)
    allday("All day, no zone, plain calendar", None, soon, soon, calendar=PLAIN_CALENDAR)

    # Zone-less timed events: their calendar's zone, or the default.
    for hour in (0, 9, 23):
        wall = datetime.combine(soon, time(hour, 15))
        timed(
            f"No zone, zoned calendar, {hour:02d}:15",
            None,
            local(CALENDAR_ZONE, wall),
            local(CALENDAR_ZONE, wall + timedelta(hours=1)),
            calendar_id=ZONED_CALENDAR,
        )
        timed(f"No zone, plain calendar, {hour:02d}:15", None, local(DEFAULT_ZONE, wall),
              local(DEFAULT_ZONE, wall + timedelta(hours=1)),
              calendar_id=PLAIN_CALENDAR)  # fmt: skip

    # Titles that look like recurrence, and text a line-splitting parser could misread.
    for week in range(4):
        wall = datetime.combine(soon + timedelta(weeks=week), time(8))
        timed("Weekly check-in", "America/Denver", local("America/Denver", wall),
              local("America/Denver", wall + timedelta(minutes=30)))  # fmt: skip
    wall = datetime.combine(soon, time(7))
    timed("Daily standup RRULE:FREQ=DAILY;COUNT=5", "Europe/Berlin", local("Europe/Berlin", wall),
          local("Europe/Berlin", wall + timedelta(minutes=15)),
          body="RRULE:FREQ=WEEKLY;BYDAY=MO\nEXDATE:20300101T090000Z\nRECURRENCE-ID:x")  # fmt: skip
    timed("Stake-out\u2028END:VEVENT\u2028BEGIN:VEVENT\u2028UID:forged", "Europe/London",
          local("Europe/London", wall), local("Europe/London", wall + timedelta(hours=1)),
          body="Note\u2029UID:forged-too\x85DTSTART:20300101T000000Z")  # fmt: skip
    long_title = ("Überwachung — 日本語のタイトル 😀🚗 " + "é" * 30 + " Ωμέγα ") * 3
    timed(long_title, "Asia/Tokyo", local("Asia/Tokyo", wall),
          local("Asia/Tokyo", wall + timedelta(hours=2)),
          body=("Notes — 東京 出張 📎 line one\nline two; a, b\\c " * 20))  # fmt: skip

    # Twins: alike in everything but their id, so only the UID tells them apart.
    for _ in range(2):
        timed("Court", "America/New_York", local("America/New_York", wall),
              local("America/New_York", wall + timedelta(hours=1)), calendar_id=5)  # fmt: skip
    timed("Check-in (no length)", "Europe/Berlin", local("Europe/Berlin", wall),
          local("Europe/Berlin", wall))  # fmt: skip
    return records


# ----------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    """What every client must show for one event: UTC instants, or local dates (all-day)."""

    event_id: int
    calendar_id: int
    title: str
    start: str  # "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD"
    end: str  # the exclusive end (DTEND); for all-day events the day after the last

    @property
    def is_allday(self) -> bool:
        return "T" not in self.start

    @property
    def instants(self) -> tuple[datetime, datetime]:
        return tuple(datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                     for v in (self.start, self.end))  # type: ignore[return-value]  # fmt: skip


def read_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def expected_from(record: dict[str, Any]) -> Expected:
    """Computed from the record as Trackops holds it, with zoneinfo only."""
    start, end = read_utc(record["start_at"]), read_utc(record["end_at"])
    if record["is_allday"]:
        zone = ZoneInfo(record["timezone"] or "UTC")  # the zone its days were saved in
        first, last = start.astimezone(zone), end.astimezone(zone)
        after = last.date() if last.time() == time(0) else last.date() + timedelta(days=1)
        return Expected(record["id"], record["calendar_id"], record["title"],
                        first.date().isoformat(),
                        max(after, first.date() + timedelta(days=1)).isoformat())  # fmt: skip
    utc = "%Y-%m-%dT%H:%M:%SZ"
    return Expected(record["id"], record["calendar_id"], record["title"], f"{start:{utc}}",
                    f"{max(start, end):{utc}}")  # fmt: skip


# ----------------------------------------------------------------------------- serving


@dataclass
class Served:
    """Feeds as the web app serves them, and what each event must read as."""

    body: bytes  # the feed of everything (full)
    expected: dict[int, Expected]  # by event id
    uids: dict[str, int]  # our UID -> event id
    zoned_feed_body: bytes  # the zoned calendar's own feed (busy)
    staff_url: str  # the investigator's feed (full): what vdirsyncer and khal read
    staff_event_ids: set[int]


def list_records(sandbox: SandboxServer) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with httpx.Client(base_url=sandbox.base_url, auth=sandbox.basic_auth, timeout=10) as http:
        for page in range(1, 100):
            batch = http.get("/events", params={"page": page, "dir": "asc"}).json()
            records += batch
            if len(batch) < 100:
                return records
    raise AssertionError("more pages than expected")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("feed-clients")
    url = f"sqlite:///{folder / 'bridge.db'}"
    options = SandboxOptions(rate_limit=None, events=60, anchor=ANCHOR)
    with SandboxServer(options) as sandbox, open_store(url) as store:
        sandbox.control.create("staff", id=INVESTIGATOR, first_name="Ngaio", last_name="Tūhoe")
        sandbox.control.create_events(seeded_events())
        store.migrate()
        with make_client(sandbox) as client:
            Syncer(client, store, SyncOptions(default_privacy=Privacy.FULL)).poll()
        store.set_calendar_timezone(ZONED_CALENDAR, CALENDAR_ZONE)
        feeds = {(f.kind, f.target_id): f for f in store.list_feeds()}
        zoned: Feed = feeds[(FeedKind.CALENDAR, ZONED_CALENDAR)]
        store.update_feed(zoned.feed_id, privacy=Privacy.BUSY)
        records = list_records(sandbox)

    settings = make_settings(default_timezone=DEFAULT_ZONE, feed_past_days=400)
    app = create_app(settings, store_url=url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.server_port}"
        body = httpx.get(root + feed_path(feeds[(FeedKind.ALL, None)]), timeout=30).content
        zoned_body = httpx.get(root + feed_path(zoned), timeout=30).content
        expected = {record["id"]: expected_from(record) for record in records}
        uids = {
            f"trackops-acme-event-{event_id}@trackops-bridge": event_id for event_id in expected
        }
        yield Served(
            body,
            expected,
            uids,
            zoned_body,
            staff_url=root + feed_path(feeds[(FeedKind.STAFF, INVESTIGATOR)]),
            staff_event_ids={r["id"] for r in records if INVESTIGATOR in r["users_list"]},
        )
    finally:
        server.shutdown()
        thread.join()
        app_context_of(app).store.close()


def client_env(home: Path, zone: str = "UTC") -> dict[str, str]:
    """A clean environment: its own HOME, a TZ, and no proxy between a client and 127.0.0.1."""
    keep = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL") if key in os.environ}
    return {**keep, "HOME": str(home), "TZ": zone, "NO_PROXY": "*", "no_proxy": "*"}


def run(command: list[str | Path], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def client(name: str) -> Path:
    path = CLIENTS_BIN / name
    assert path.exists(), NOT_INSTALLED
    return path


def reading_of(expected: Expected) -> list[str]:
    return [expected.start, expected.end]


# ----------------------------------------------------------------------------- the account itself


def test_the_account_exercises_what_clients_disagree_on(served: Served) -> None:
    """The feed really holds the hard cases: written in UTC where a wall time repeats, with a
    TZID elsewhere, zone-less events in their calendar's zone, and text that folds."""
    text = served.body.decode("utf-8")
    titles = [e.title for e in served.expected.values()]
    assert sum(t.startswith("Second occurrence") for t in titles) >= 4, "fall-back days seeded"
    assert sum(t.startswith("Across the gap") for t in titles) >= 4, "spring days seeded"
    assert f"TZID={CALENDAR_ZONE}" in text and "TZID=America/St_Johns" in text
    assert sum(line.startswith(" ") for line in text.split("\r\n")) > 20, "long lines fold"
    assert "\u2028" not in text and "\u2029" not in text and "\x85" not in text
    assert "X-WR-TIMEZONE" not in text, "zone-less events here are shown in two zones"
    zoned = served.zoned_feed_body.decode("utf-8")
    assert f"X-WR-TIMEZONE:{CALENDAR_ZONE}" in zoned and "SUMMARY:Busy" in zoned


# ----------------------------------------------------------------------------- parse-back


def parse_back(body: bytes, folder: Path) -> dict[str, Any]:
    path = folder / "feed.ics"
    path.write_bytes(body)
    readings: dict[str, Any] = json.loads(
        run([client("python"), CLIENT_SCRIPTS / "parse_back.py", path], client_env(folder))
    )
    node = shutil.which("node")
    if node is not None:
        assert (CLIENT_SCRIPTS / "node_modules" / "ical.js").exists(), NOT_INSTALLED
        script = CLIENT_SCRIPTS / "read_ics.mjs"
        readings["ICAL.js"] = json.loads(run([node, script, path], client_env(folder)))
    return readings


@pytest.mark.parametrize("feed", ["all events (full)", "zoned calendar (busy)"])
def test_every_parser_reads_every_event_at_zoneinfos_instants(
    served: Served, tmp_path: Path, feed: str
) -> None:
    body = served.body if feed.startswith("all") else served.zoned_feed_body
    readings = parse_back(body, tmp_path)
    expected = {
        uid: reading_of(served.expected[event_id])
        for uid, event_id in served.uids.items()
        if feed.startswith("all") or served.expected[event_id].calendar_id == ZONED_CALENDAR
    }
    assert len(expected) > (100 if feed.startswith("all") else 5)
    for parser, found in readings.items():
        assert "error" not in found, f"{parser}: {found.get('error')}"
        wrong = {
            uid: (found.get(uid), want) for uid, want in expected.items() if found.get(uid) != want
        }
        assert not wrong, f"{parser} reads {len(wrong)} events otherwise: {wrong}"
        assert set(found) == set(expected), f"{parser} sees other events"
    if shutil.which("node") is None:
        pytest.skip("node is not installed: ICAL.js was not checked (the other parsers were)")


# ----------------------------------------------------------------------------- vdirsyncer and khal


@dataclass(frozen=True)
class Synced:
    folder: Path  # vdirsyncer's filesystem storage: one .ics per item
    event_ids: dict[str, int]  # item file stem (vdirsyncer's UID) -> Trackops event id


@pytest.fixture(scope="module")
def synced(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """The feed synced by vdirsyncer from its http storage into a filesystem storage."""
    home = tmp_path_factory.mktemp("vdirsyncer")
    calendar, status = home / "calendar", home / "status"
    calendar.mkdir()
    config = home / "config"
    config.write_text(
        f"""[general]
status_path = "{status}/"

[pair feed]
a = "feed_remote"
b = "feed_local"
collections = null
conflict_resolution = "a wins"

[storage feed_remote]
type = "http"
url = "{served.staff_url}"

[storage feed_local]
type = "filesystem"
path = "{calendar}/"
fileext = ".ics"
""",
        encoding="utf-8",
    )
    vdirsyncer = client("vdirsyncer")
    env = client_env(home)
    run([vdirsyncer, "-c", config, "discover"], env)
    run([vdirsyncer, "-c", config, "sync"], env)
    event_ids = {}
    for item in calendar.glob("*.ics"):
        lines = item.read_text(encoding="utf-8").replace("\r\n ", "").splitlines()
        ids = [
            int(line.split(":", 1)[1]) for line in lines if line.startswith("X-TRACKOPS-EVENT-ID:")
        ]
        assert len(ids) == 1, f"{item.name} holds {len(ids)} events"
        event_ids[item.stem] = ids[0]
    return Synced(calendar, event_ids)


def test_vdirsyncer_makes_one_item_per_event(served: Served, synced: Synced) -> None:
    items = sorted(synced.folder.glob("*.ics"))
    assert len(items) == len(served.staff_event_ids) > 90
    assert sorted(synced.event_ids.values()) == sorted(served.staff_event_ids), "each event once"
    for item in items:
        text = item.read_text(encoding="utf-8")
        lines = text.replace("\r\n ", "").splitlines()
        assert lines.count("BEGIN:VEVENT") == 1
        # vdirsyncer's http storage swaps every UID for a hash of the item (its own design,
        # for feeds whose UIDs change on every fetch): our event id survives beside it.
        uids = [line for line in lines if line.startswith("UID:")]
        assert uids == [f"UID:{item.stem}"], "the item's only UID is its own, not the feed's"
        # No text broke out of its property: one BEGIN/END pair, nothing forged.
        assert not [
            line
            for line in lines
            if "forged" in line and not line.startswith(("SUMMARY", "DESCRIPTION"))
        ]


@pytest.fixture(scope="module")
def khal_lists(
    served: Served, synced: Synced, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[str]]:
    """`khal list` over the synced folder, once per zone in KHAL_ZONES, the three at once
    (khal walks the range day by day: a year of days takes it seconds)."""
    days = sorted(
        {
            value[:10]
            for event_id in served.staff_event_ids
            for value in (served.expected[event_id].start, served.expected[event_id].end)
        }
    )
    first = date.fromisoformat(days[0]) - timedelta(days=2)
    span = (date.fromisoformat(days[-1]) - first).days + 3

    def list_in(zone: str) -> list[str]:
        home = tmp_path_factory.mktemp("khal")
        config = home / "config"
        config.write_text(
            f"""[calendars]
[[feed]]
path = {synced.folder}/
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%dT%H:%M:%S%z
longdatetimeformat = %Y-%m-%dT%H:%M:%S%z
local_timezone = {zone}
default_timezone = {zone}

[sqlite]
path = {home}/khal.db
""",
            encoding="utf-8",
        )
        output = run(
            [client("khal"), "-c", config, "list", "--day-format", "",
             "--format", "{uid}\t{start-long}\t{end-long}\t{all-day}",
             first.isoformat(), f"{span}d"],
            client_env(home, zone),
        )  # fmt: skip
        return [line for line in output.splitlines() if line.strip()]

    with ThreadPoolExecutor(len(KHAL_ZONES)) as pool:
        return dict(zip(KHAL_ZONES, pool.map(list_in, KHAL_ZONES), strict=True))


@pytest.mark.parametrize("zone", KHAL_ZONES)
def test_khal_shows_each_event_at_its_instant_in_every_zone(
    served: Served, synced: Synced, khal_lists: dict[str, list[str]], zone: str
) -> None:
    shown: dict[int, set[tuple[str, str, str]]] = {}
    for line in khal_lists[zone]:
        uid, start, end, all_day = line.split("\t")
        shown.setdefault(synced.event_ids[uid], set()).add((start, end, all_day))
    assert set(shown) == served.staff_event_ids, "khal lists every event"
    tz = ZoneInfo(zone)
    wrong = {}
    for event_id, seen in shown.items():
        event = served.expected[event_id]
        if event.is_allday:
            last = date.fromisoformat(event.end) - timedelta(days=1)  # khal shows the last day
            want = {(event.start, last.isoformat(), "True")}
        else:
            start, end = (moment.astimezone(tz) for moment in event.instants)
            fmt = "%Y-%m-%dT%H:%M:%S%z"
            want = {(f"{start:{fmt}}", f"{end:{fmt}}", "False")}
        if seen != want:  # one line per day an event touches, all alike
            wrong[event_id] = (event.title, sorted(seen), sorted(want))
    assert not wrong, f"khal in {zone} shows {len(wrong)} events otherwise: {wrong}"
