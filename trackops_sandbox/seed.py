"""Deterministic seed data for the sandbox: a small private-investigation firm's Trackops account.

Entry point: `build_seed(events, seed, anchor)`. Everything comes from `random.Random(seed)` and the
anchor date, so the same inputs give the same records byte for byte. Besides random work (shifts,
court dates, interviews, records searches) it always includes a set of showcase events that tests
rely on: every zone the bridge must handle, all-day and multi-day events, events on the DST change
days of the US, the EU and Australia, events crossing midnight, and awkward text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from trackops_sandbox.records import (
    CaseRecord,
    EventRecord,
    StaffRecord,
    SubjectRecord,
    midnight_utc,
    whole_seconds,
)

# Calendar ids appear only on events (Trackops has no calendar endpoint); the names exist for the
# `alternate` field variant, which nests {"id", "name"}. Ids are deliberately not 1..n.
CALENDARS: dict[int, str] = {
    2: "Surveillance",
    3: "Court & Depositions",
    5: "Interviews",
    8: "Records Searches",
    11: "Field Ops — West",
    14: "Office & Training",
}
SURVEILLANCE, COURT, INTERVIEWS, RECORDS, FIELD_WEST, OFFICE = CALENDARS

# Zones whose DST change days get events, grouped by the rule that moves them together.
DST_GROUPS: dict[str, tuple[str, ...]] = {
    "US": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "EU": ("Europe/London", "Europe/Berlin"),
    "AU": ("Australia/Sydney", "Australia/Adelaide"),
}
# Zones every seed of a reasonable size contains (the showcase guarantees them).
REQUIRED_ZONES = (
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
)
PAST_DAYS = 122  # seed events start from about four months before the anchor
FUTURE_DAYS = 92  # ... to about three months after it


@dataclass(frozen=True)
class Place:
    zone: str
    city: str
    state: str
    country: str
    zip_code: str
    weight: int


PLACES = (
    Place("America/New_York", "New York", "NY", "US", "10018", 8),
    Place("America/New_York", "Boston", "MA", "US", "02110", 3),
    Place("America/New_York", "Washington", "DC", "US", "20001", 2),
    Place("America/New_York", "Atlanta", "GA", "US", "30303", 3),
    Place("America/Puerto_Rico", "San Juan", "PR", "US", "00901", 1),
    Place("America/Chicago", "Chicago", "IL", "US", "60606", 6),
    Place("America/Chicago", "Houston", "TX", "US", "77002", 4),
    Place("America/Winnipeg", "Winnipeg", "MB", "CA", "R3C 4T3", 1),
    Place("America/Denver", "Denver", "CO", "US", "80202", 6),
    Place("America/Denver", "Salt Lake City", "UT", "US", "84101", 2),
    Place("America/Phoenix", "Phoenix", "AZ", "US", "85004", 4),
    Place("America/Phoenix", "Tucson", "AZ", "US", "85701", 1),
    Place("America/Los_Angeles", "Los Angeles", "CA", "US", "90012", 6),
    Place("America/Los_Angeles", "Seattle", "WA", "US", "98104", 3),
    Place("America/Vancouver", "Vancouver", "BC", "CA", "V6B 1A1", 1),
    Place("America/Toronto", "Toronto", "ON", "CA", "M5V 2T6", 2),
    Place("America/St_Johns", "St. John's", "NL", "CA", "A1C 5M2", 2),
    Place("Asia/Kolkata", "Mumbai", "Maharashtra", "IN", "400001", 2),
    Place("Asia/Kolkata", "Bengaluru", "Karnataka", "IN", "560001", 1),
    Place("Australia/Sydney", "Sydney", "NSW", "AU", "2000", 4),
    Place("Australia/Sydney", "Canberra", "ACT", "AU", "2600", 1),
    Place("Australia/Melbourne", "Melbourne", "VIC", "AU", "3000", 2),
    Place("Australia/Brisbane", "Brisbane", "QLD", "AU", "4000", 1),
    Place("Australia/Adelaide", "Adelaide", "SA", "AU", "5000", 2),
    Place("Australia/Darwin", "Darwin", "NT", "AU", "0800", 1),
    Place("Australia/Perth", "Perth", "WA", "AU", "6000", 1),
    Place("Australia/Hobart", "Hobart", "TAS", "AU", "7000", 1),
    Place("Europe/London", "London", "", "GB", "EC1A 1BB", 3),
    Place("Europe/London", "Manchester", "Greater Manchester", "GB", "M1 1AE", 1),
    Place("Europe/Berlin", "Berlin", "", "DE", "10115", 2),
    Place("Europe/Berlin", "München", "Bayern", "DE", "80331", 1),
)
_PLACE_WEIGHTS = [place.weight for place in PLACES]

STREETS = {
    "US": ["Blake Street", "Elm Avenue", "W Madison St", "Market Street", "Calle Luna", "Oak Ln"],
    "CA": ["Water Street", "Rue Saint-Denis", "Granville St", "King St W"],
    "AU": ["George St", "Rundle Mall", "Collins St", "Smith St"],
    "GB": ["Old Street", "Deansgate", "Baker Street"],
    "DE": ["Königstraße", "Friedrichstraße", "Müllerstraße"],
    "IN": ["MG Road", "Linking Road", "Brigade Road"],
}

# (id, first, last, email local part or full address, is_vendor); ids are not contiguous on purpose.
STAFF = (
    (101, "Dana", "Kowalski", "dana.kowalski", False),
    (102, "José", "Álvarez", "jose.alvarez", False),
    (103, "Zoë", "Whitfield", "zoe.whitfield", False),
    (104, "Priya", "Raman", "priya.raman", False),
    (105, "Aoife", "O'Connell", "aoife.oconnell", False),
    (106, "Marcus", "Bell", "marcus.bell", False),
    (107, "Tamika", "Brooks", "tamika.brooks", False),
    (108, "Hiroshi", "Tanaka", "hiroshi.tanaka", False),
    (109, "Søren", "Kjær", "soren.kjaer", False),
    (110, "Liam", "Nguyen", "liam.nguyen", False),
    (113, "Ray", "Kellerman", "ray@kellerman-surveillance.example", True),
    (118, "Bronwyn", "Fitzgerald", "bronwyn@southern-cross-inquiries.example", True),
)
FIRM_DOMAIN = "ridgeline-investigations.example"

FIRST_NAMES = [
    "Renée",
    "Günter",
    "Carlos",
    "Megan",
    "Wei",
    "Siobhán",
    "Tyrone",
    "Ana-María",
    "Oleksandr",
    "Yuki",
    "Brett",
    "Fatima",
    "Jürgen",
    "Chloé",
    "Darnell",
    "Mateo",
    "Ingrid",
    "Rajesh",
    "Kylie",
    "Patrick",
    "Noémie",
    "Bud",
    "Lakshmi",
    "Travis",
]
LAST_NAMES = [
    "Dubois",
    "Schäfer",
    "Hallorann",
    "Petersen",
    "O'Brien",
    "Nakamura",
    "García",
    "MacLeod",
    "Dalton",
    "Kowalczyk",
    "Singh",
    "Van der Berg",
    "Smith-Jones",
    "Müller",
    "Okafor",
    "Lindqvist",
    "Reyes",
    "Thompson",
    "Sato",
    "Whitaker",
    "Novak",
    "Ferreira",
    "Bianchi",
    "Walsh",
]
CASE_TYPES = [
    "Workers' comp surveillance",
    "Disability claim review",
    "Custody investigation",
    "Pre-employment background",
    "Insurance fraud, auto",
    "Skip trace",
    "Due diligence",
    "Witness location",
    "Asset search",
    "Premises liability",
]
CLIENTS = [
    "Harborline Mutual",
    "Keystone Casualty",
    "Baxter & Lowe LLP",
    "Northgate Insurance",
    "Pinecrest Legal Group",
    "Südwest Versicherung AG",
    "Wattle Insurance Pty Ltd",
    "Maple Leaf Assurance",
    "Crane, Ortiz & Patel",
]
CAR_MAKES = ["Toyota Camry", "Ford F-150", "Honda Civic", "Subaru Outback", "VW Golf", "Holden Ute"]
COLOURS = ["silver", "black", "white", "dark blue", "red"]
BODY_LINES = [
    "Client: {client}.",
    "Subject vehicle: {colour} {make}, plate {plate}.",
    'Client says "no contact"; keep > 100 ft.',
    "Bring long lens; spare batteries ×3.",
    "Parking: side street, avoid the cul-de-sac.",
    "Über-urgent — call Dana first.",
    "Photos to the case file by EOD; name them case_date_seq.jpg",
    "日本語メモ: 確認済み",
    "✅ Confirmed with client, ref {ref}.",
    "Notes, part 2: gate code 4471; dog on premises!",
]

# Title templates per calendar. {subject} etc. are filled from the event's case.
TITLES = {
    SURVEILLANCE: [
        "Surveillance — {subject}",
        "Surveillance: {last}, {first} ({case_number})",
        "Stakeout 🚗 {subject}",
        "Mobile surveillance; {city}",
        "Activity check — {subject}",
    ],
    COURT: [
        "Court: {case_title}, hearing",
        "Deposition of {subject}, Dept. {n}",
        "Trial testimony; {case_number}",
        'Hearing re: "{reference}"',
    ],
    INTERVIEWS: [
        'Interview: witness "{nick}" {last}',
        "Neighbour canvass, {city}",
        "Recorded statement — {subject}",
        "Interview: {subject}, re: claim {reference}",
    ],
    RECORDS: [
        "Records search: county clerk, {city}",
        "Database sweep: DMV, courts, liens",
        "Asset search; {subject}",
        "Registro público — {city}",
    ],
    FIELD_WEST: [
        "Process service — {subject}",
        "Site photos, {city}",
        "Trash pull (check legality first!)",
    ],
    OFFICE: [
        "Team meeting",
        "Training: covert video, day {n}",
        "CLE: ethics & privacy law",
        "Office closed — public holiday",
        "チーム会議 (日本支社) 📞",
        "Équipe: revue des dossiers",
        "Quarterly review, Q{n}",
    ],
}
_CALENDAR_IDS = list(CALENDARS)
_CALENDAR_WEIGHTS = [30, 12, 18, 14, 10, 8]


@dataclass(frozen=True)
class SeedData:
    calendars: dict[int, str]
    staff: list[StaffRecord]
    cases: list[CaseRecord]
    subjects: list[SubjectRecord]
    events: list[EventRecord]  # sorted by id


@dataclass
class _CaseContext:
    case: CaseRecord
    place: Place
    subjects: list[SubjectRecord]
    client: str


def build_seed(events: int, seed: int, anchor: date) -> SeedData:
    """The whole seed account: staff, ~40 cases with their subjects, and `events` events."""
    rng = random.Random(seed)
    cutoff = midnight_utc(anchor) - timedelta(hours=1)  # every seed stamp lies before this
    staff = _build_staff(rng, cutoff)
    cases = _build_cases(rng, anchor, cutoff, staff)
    builder = _EventBuilder(rng, anchor, cutoff, cases, staff)
    drafts = [*builder.showcase(), *builder.dst_days()][:events]
    while len(drafts) < events:
        drafts.append(builder.random_event())
    return SeedData(
        calendars=dict(CALENDARS),
        staff=staff,
        cases=[context.case for context in cases],
        subjects=[subject for context in cases for subject in context.subjects],
        events=_number_events(rng, drafts, cutoff),
    )


def _past_stamp(rng: random.Random, cutoff: datetime, max_days: int) -> datetime:
    return cutoff - timedelta(seconds=rng.randrange(3600, max_days * 86400))


def _later(rng: random.Random, since: datetime, cutoff: datetime, days: int) -> datetime:
    """A random stamp up to `days` after `since`, never past the cutoff."""
    room = int(min(days * 86400, (cutoff - since).total_seconds()))
    return since + timedelta(seconds=rng.randrange(room)) if room > 0 else since


def _build_staff(rng: random.Random, cutoff: datetime) -> list[StaffRecord]:
    return [
        StaffRecord(
            id=staff_id,
            first_name=first,
            last_name=last,
            email=email if "@" in email else f"{email}@{FIRM_DOMAIN}",
            is_vendor=is_vendor,
            updated_at=_past_stamp(rng, cutoff, 400),
        )
        for staff_id, first, last, email, is_vendor in STAFF
    ]


def _build_cases(
    rng: random.Random, anchor: date, cutoff: datetime, staff: list[StaffRecord]
) -> list[_CaseContext]:
    investigators = [member.id for member in staff if not member.is_vendor]
    contexts = []
    case_id = 1200
    subject_id = 5000
    numbers = {anchor.year - 1: rng.randrange(80, 300), anchor.year: rng.randrange(1, 20)}
    opened = cutoff - timedelta(days=300)
    for _ in range(40):
        case_id += rng.randint(1, 4)
        opened += timedelta(days=rng.randint(2, 7), seconds=rng.randrange(86400))
        year = opened.year if opened.year in numbers else anchor.year
        numbers[year] += rng.randint(1, 9)
        place = rng.choices(PLACES, _PLACE_WEIGHTS)[0]
        client = rng.choice(CLIENTS)
        subjects = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            subject_id += rng.randint(1, 3)
            subjects.append(
                SubjectRecord(
                    id=subject_id,
                    casefile_id=case_id,
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=rng.choice(LAST_NAMES),
                    updated_at=_later(rng, opened, cutoff, days=60),
                )
            )
        lead = subjects[0].last_name
        title = rng.choice(
            (f"{rng.choice(CASE_TYPES)} — {lead}", f"{client} v. {lead}", f"{lead}, {client}")
        )
        case = CaseRecord(
            id=case_id,
            case_number=f"{year}-{numbers[year]:04d}",
            reference=_reference(rng),
            title=title,
            primary_investigator=rng.choice(investigators),
            created_at=opened,
            updated_at=_later(rng, opened, cutoff, days=90),
        )
        contexts.append(_CaseContext(case, place, subjects, client))
    return contexts


def _reference(rng: random.Random) -> str:
    return rng.choice(
        (
            f"CLM-{rng.randrange(10000, 99999)}",
            f"WC {rng.randrange(2019, 2026)}-{rng.randrange(10000, 99999)}",
            f"Policy #{rng.choice('ABHKMZ')}{rng.randrange(100000, 999999)}",
            f"Matter {rng.randrange(100, 999)}/{rng.randrange(10, 99)}",
            "",
        )
    )


@dataclass
class _Draft:
    """An event before it has an id; ids follow creation order, which is decided last."""

    title: str
    body: str
    calendar_id: int
    start_at: datetime
    end_at: datetime
    is_allday: bool
    timezone: str | None
    address: dict[str, str] | None
    casefile_id: int | None
    subject_id: int | None
    users_list: list[int]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(day: date, at: time, zone: str | None) -> datetime:
    """A wall-clock time in `zone` (UTC when None) as an aware UTC datetime."""
    tz = _zone(zone) if zone else UTC
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def allday_span(first: date, last: date, zone: str | None) -> tuple[datetime, datetime]:
    """Trackops' all-day convention: local 00:00:00 of the first day to 23:59:59 of the last."""
    return _local(first, time(0, 0), zone), _local(last, time(23, 59, 59), zone)


def dst_change_days(zone: str, year: int) -> list[date]:
    """The local dates in `year` on which `zone` changes its UTC offset."""
    tz = _zone(zone)
    day = date(year, 1, 1)
    offset = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
    days = []
    while day.year == year:
        following = day + timedelta(days=1)
        next_offset = datetime.combine(following, time(0), tzinfo=tz).utcoffset()
        if next_offset != offset:
            days.append(day)
        day, offset = following, next_offset
    return days


class _EventBuilder:
    def __init__(
        self,
        rng: random.Random,
        anchor: date,
        cutoff: datetime,
        cases: list[_CaseContext],
        staff: list[StaffRecord],
    ) -> None:
        self.rng = rng
        self.anchor = anchor
        self.cutoff = cutoff
        self.cases = cases
        self.investigators = [member.id for member in staff if not member.is_vendor]
        self.vendors = [member.id for member in staff if member.is_vendor]

    # -- pieces -----------------------------------------------------------------------------------

    def _address(self, place: Place) -> dict[str, str]:
        rng = self.rng
        street = f"{rng.randrange(1, 9999)} {rng.choice(STREETS[place.country])}"
        return {
            "address_1": street,
            "address_2": rng.choice(("", "", "", f"Suite {rng.randrange(100, 999)}", "Unit 4B")),
            "address_3": "",
            "city": place.city,
            "state": place.state,
            "zip": place.zip_code,
            "country": place.country,
        }

    def _body(self, context: _CaseContext | None) -> str:
        rng = self.rng
        if rng.random() < 0.25:
            return ""
        lines = rng.sample(BODY_LINES, rng.randint(1, 3))
        return "\n".join(lines).format(
            client=context.client if context else "internal",
            colour=rng.choice(COLOURS),
            make=rng.choice(CAR_MAKES),
            plate=f"{rng.randrange(1, 9)}{rng.choice('KLMX')}Q-{rng.randrange(100, 999)}",
            ref=context.case.reference or context.case.case_number if context else "n/a",
        )

    def _title(
        self,
        calendar_id: int,
        context: _CaseContext | None,
        subject: SubjectRecord | None,
        place: Place | None,
    ) -> str:
        rng = self.rng
        template = rng.choice(TITLES[calendar_id])
        who = subject or (context.subjects[0] if context else None)
        return template.format(
            subject=who.name if who else "TBD",
            first=who.first_name if who else "",
            last=who.last_name if who else "Unknown",
            nick=rng.choice(("Bud", "Sully", "Doc", "Red")),
            case_number=context.case.case_number if context else "no case",
            case_title=context.case.title if context else "internal",
            reference=(context.case.reference or context.case.case_number) if context else "",
            city=place.city if place else "head office",
            n=rng.randint(1, 4),
        )

    def _staff(self, calendar_id: int) -> list[int]:
        rng = self.rng
        if calendar_id == OFFICE:
            return sorted(rng.sample(self.investigators, rng.randint(0, 5)))
        assigned = rng.sample(self.investigators, rng.choice((1, 1, 1, 2, 2, 3)))
        if calendar_id == SURVEILLANCE and rng.random() < 0.2:
            assigned.append(rng.choice(self.vendors))
        return assigned

    def _timing(
        self, calendar_id: int, day: date, zone: str | None
    ) -> tuple[datetime, datetime, bool]:
        rng = self.rng
        if calendar_id in (RECORDS, OFFICE) and rng.random() < 0.45:
            days = 1 if rng.random() < 0.8 else rng.randint(2, 5)
            start, end = allday_span(day, day + timedelta(days=days - 1), zone)
            return start, end, True
        if calendar_id == SURVEILLANCE:
            if rng.random() < 0.25:  # overnight: crosses local midnight
                hour, minutes = rng.randint(19, 23), rng.randrange(360, 660, 30)
            else:
                hour, minutes = rng.choice((5, 6, 7, 8, 14, 15, 16)), rng.randrange(240, 600, 30)
        elif calendar_id == COURT:
            hour, minutes = rng.randint(8, 13), rng.choice((60, 90, 120, 180))
        else:
            hour, minutes = rng.randint(8, 17), rng.choice((30, 45, 60, 90, 120))
        start = _local(day, time(hour, rng.choice((0, 0, 15, 30, 45))), zone)
        return start, start + timedelta(minutes=minutes), False

    # -- events -----------------------------------------------------------------------------------

    def random_event(self) -> _Draft:
        rng = self.rng
        calendar_id = rng.choices(_CALENDAR_IDS, _CALENDAR_WEIGHTS)[0]
        context = None if calendar_id == OFFICE else rng.choice(self.cases)
        place = context.place if context else rng.choices(PLACES, _PLACE_WEIGHTS)[0]
        # A few events carry no zone; Trackops then means UTC.
        zone = None if rng.random() < 0.07 else place.zone
        subject = rng.choice(context.subjects) if context and rng.random() < 0.6 else None
        day = self.anchor + timedelta(days=rng.randint(-PAST_DAYS, FUTURE_DAYS))
        start, end, is_allday = self._timing(calendar_id, day, zone)
        has_address = calendar_id != OFFICE and rng.random() < 0.75
        return _Draft(
            title=self._title(calendar_id, context, subject, place),
            body=self._body(context),
            calendar_id=calendar_id,
            start_at=start,
            end_at=end,
            is_allday=is_allday,
            timezone=zone,
            address=self._address(place) if has_address else None,
            casefile_id=context.case.id if context else None,
            subject_id=subject.id if subject else None,
            users_list=self._staff(calendar_id),
        )

    def _fixed(
        self,
        title: str,
        calendar_id: int,
        zone: str | None,
        start: datetime,
        end: datetime,
        *,
        is_allday: bool = False,
        body: str | None = None,
        has_case: bool = True,
    ) -> _Draft:
        place = next((p for p in PLACES if p.zone == zone), None)
        context: _CaseContext | None = None
        if has_case:  # prefer a case worked in the event's own zone
            context = next((c for c in self.cases if c.place.zone == zone), self.cases[0])
        return _Draft(
            title=title,
            body=self._body(context) if body is None else body,
            calendar_id=calendar_id,
            start_at=start,
            end_at=end,
            is_allday=is_allday,
            timezone=zone,
            address=self._address(place) if place and has_case else None,
            casefile_id=context.case.id if context else None,
            subject_id=context.subjects[0].id if context else None,
            users_list=self._staff(calendar_id),
        )

    def showcase(self) -> Iterator[_Draft]:
        """Events that make every awkward case present, whatever the random draw."""
        day = self.anchor
        for offset, zone in enumerate(REQUIRED_ZONES):
            when = day + timedelta(days=offset - 5)
            start = _local(when, time(9, 30), zone)
            yield self._fixed(
                f"Surveillance — {zone.split('/')[1].replace('_', ' ')} office",
                SURVEILLANCE,
                zone,
                start,
                start + timedelta(hours=6),
            )
        start = _local(day + timedelta(days=2), time(15, 0), None)
        yield self._fixed(
            "Records search (no zone given)", RECORDS, None, start, start + timedelta(hours=2)
        )
        yield self._fixed(
            "Office closed — staff day",
            OFFICE,
            None,
            *allday_span(day + timedelta(days=9), day + timedelta(days=9), None),
            is_allday=True,
            has_case=False,
        )
        yield self._fixed(
            "Records sweep, SA Land Titles (3 days)",
            RECORDS,
            "Australia/Adelaide",
            *allday_span(day + timedelta(days=3), day + timedelta(days=5), "Australia/Adelaide"),
            is_allday=True,
        )
        yield self._fixed(
            "Court: Dalton matter, all day",
            COURT,
            "America/New_York",
            *allday_span(day - timedelta(days=12), day - timedelta(days=12), "America/New_York"),
            is_allday=True,
        )
        start = _local(day - timedelta(days=3), time(21, 30), "Asia/Kolkata")
        yield self._fixed(
            "Overnight surveillance, Mumbai docks",
            SURVEILLANCE,
            "Asia/Kolkata",
            start,
            start + timedelta(hours=9),
        )
        start = _local(day + timedelta(days=6), time(22, 0), "America/St_Johns")
        yield self._fixed(
            "Night shift; St. John's harbour",
            SURVEILLANCE,
            "America/St_Johns",
            start,
            start + timedelta(hours=8),
        )
        start = _local(day - timedelta(days=20), time(10, 0), "Europe/Berlin")
        yield self._fixed(
            "Réunion: Müller & Söhne — Zeugenbefragung",
            INTERVIEWS,
            "Europe/Berlin",
            start,
            start + timedelta(hours=2),
            body="Zeuge: Herr Jürgen Weiß\nOrt: Königstraße 12, 3. OG\n"
            'Zitat: "nichts gesehen"; bitte prüfen, ob das stimmt.',
        )
        start = _local(day + timedelta(days=15), time(9, 0), "Australia/Sydney")
        yield self._fixed(
            "東京 出張: 記録調査 🗂️",
            RECORDS,
            "Australia/Sydney",
            start,
            start + timedelta(hours=3),
            body="日本 office liaison\n👍 approved",
        )
        start = _local(day - timedelta(days=1), time(13, 0), "America/Chicago")
        yield self._fixed(
            'Interview; "Bud" O\'Brien, re: claim, part 2',
            INTERVIEWS,
            "America/Chicago",
            start,
            start + timedelta(minutes=90),
            body="Line one, with a comma\nLine two; with a semicolon\n\n"
            'Quote: "I never said that," he said.\\n is not a newline',
        )
        start = _local(day + timedelta(days=1), time(8, 0), None)
        yield self._fixed(
            "Fleet maintenance",
            OFFICE,
            None,
            start,
            start + timedelta(hours=1),
            body="",
            has_case=False,
        )

    def dst_days(self) -> Iterator[_Draft]:
        """For each DST change day of the anchor's year (and any other inside the seed's window):
        per zone an overnight shift across the change or an all-day event on that 23- or 25-hour
        day, so feeds and converters meet both."""
        first = self.anchor - timedelta(days=PAST_DAYS)
        last = self.anchor + timedelta(days=FUTURE_DAYS)
        for year in range(first.year, last.year + 1):
            for group, zones in DST_GROUPS.items():
                for change_day in dst_change_days(zones[0], year):
                    if year != self.anchor.year and not first <= change_day <= last:
                        continue
                    for index, zone in enumerate(zones):
                        yield self._dst_event(group, zone, change_day, index)

    def _dst_event(self, group: str, zone: str, day: date, index: int) -> _Draft:
        label = zone.split("/")[1].replace("_", " ")
        if index % 2:
            return self._fixed(
                f"Records day ({group} clock change), {label}",
                RECORDS,
                zone,
                *allday_span(day, day, zone),
                is_allday=True,
            )
        start = _local(day - timedelta(days=1), time(22, 0), zone)
        end = _local(day, time(6, 0), zone)
        return self._fixed(
            f"Overnight surveillance over the clock change — {label}",
            SURVEILLANCE,
            zone,
            start,
            end,
        )


_ALERT_LEADS = (timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), timedelta(days=1))


def _number_events(rng: random.Random, drafts: list[_Draft], cutoff: datetime) -> list[EventRecord]:
    """Give drafts created/updated stamps before the anchor, then ids in creation order (with the
    occasional gap a deleted event leaves)."""
    stamped = []
    for draft in drafts:
        lead = timedelta(days=rng.expovariate(1 / 12), seconds=rng.randrange(86400))
        created = whole_seconds(draft.start_at - lead)
        if created >= cutoff:  # events far ahead were still booked in the past
            created = cutoff - timedelta(seconds=rng.randrange(3600, 60 * 86400))
        stamped.append((created, draft))
    stamped.sort(key=lambda pair: pair[0])
    records = []
    event_id = 0
    for created, draft in stamped:
        event_id += 1 if rng.random() < 0.97 else rng.randint(2, 4)
        updated = created
        if rng.random() < 0.35:
            updated = _later(rng, created, cutoff, days=40)
        alert_at = alert_sent_at = None
        if rng.random() < 0.4:
            alert_at = draft.start_at - rng.choice(_ALERT_LEADS)
            if alert_at < cutoff:
                alert_sent_at = alert_at + timedelta(seconds=rng.randrange(0, 90))
        records.append(
            EventRecord(
                id=event_id,
                title=draft.title,
                body=draft.body,
                calendar_id=draft.calendar_id,
                casefile_id=draft.casefile_id,
                subject_id=draft.subject_id,
                case_service_id=rng.randrange(301, 390)
                if draft.casefile_id and rng.random() < 0.7
                else None,
                start_at=draft.start_at,
                end_at=draft.end_at,
                is_allday=draft.is_allday,
                timezone=draft.timezone,
                address=draft.address,
                users_list=draft.users_list,
                alert_at=alert_at,
                alert_sent_at=alert_sent_at,
                created_at=created,
                updated_at=updated,
            )
        )
    return records
