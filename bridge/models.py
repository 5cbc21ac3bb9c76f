"""The bridge's own vocabulary: typed records that flow from the Trackops client downstream.

Glossary (one word per concept, used everywhere):
- ``event_id``: the Trackops id of an event. ``uid``: the iCalendar UID we emit for it.
- ``calendar_id``: a Trackops calendar (known only from events; the API has no calendar list).
- ``feed``: one published .ics URL; ``feed_token``: the unguessable part of that URL.
- ``draft``: an entry a person made that is not yet sent; ``outbox``: drafts waiting to be sent.

Every datetime here is timezone-aware UTC; a zone name (IANA) travels beside it, never inside it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

# How a local date such as 03/04/2026 is read: day first or month first (BRIDGE_DATE_ORDER).
DateOrder = Literal["DMY", "MDY"]


@dataclass(frozen=True)
class Address:
    address_1: str = ""
    address_2: str = ""
    address_3: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""

    def one_line(self) -> str:
        """The address as calendar clients show it in a LOCATION line."""
        street = [part for part in (self.address_1, self.address_2, self.address_3) if part]
        region = " ".join(part for part in (self.state, self.zip) if part)
        parts = [*street, self.city, region, self.country]
        return ", ".join(part for part in parts if part)

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.address_1,
                self.address_2,
                self.address_3,
                self.city,
                self.state,
                self.zip,
                self.country,
            )
        )


@dataclass(frozen=True)
class Event:
    """A Trackops event as the bridge understands it, whatever JSON shape it arrived in."""

    event_id: int
    title: str
    start_at: datetime
    end_at: datetime
    calendar_id: int | None = None
    case_id: int | None = None
    subject_id: int | None = None
    case_service_id: int | None = None
    body: str = ""
    timezone: str | None = None  # IANA name; None when Trackops has none for the event
    is_allday: bool = False
    address: Address | None = None
    staff_ids: tuple[int, ...] = ()
    alert_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # The record exactly as Trackops sent it, kept for diagnosis; not part of the event's content.
    raw_json: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class Case:
    case_id: int
    case_number: str = ""
    reference: str = ""
    title: str = ""
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        """How people name a case: its number, and the reference when there is one."""
        parts = [p for p in (self.case_number, self.reference) if p]
        return " / ".join(parts) if parts else f"Case {self.case_id}"


@dataclass(frozen=True)
class Subject:
    subject_id: int
    case_id: int | None
    name: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Staff:
    staff_id: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or f"Staff {self.staff_id}"


@dataclass(frozen=True)
class Calendar:
    calendar_id: int
    name: str
    timezone: str | None = None  # the calendar's default zone for events that carry none


@dataclass(frozen=True)
class Draft:
    """A validated entry, ready to be sent as a new Trackops event. Times are aware UTC.

    Field names follow POST /events (`casefile_id`, `users_list`); `bridge.trackops.bodies`
    turns a draft into that request's body and back.
    """

    casefile_id: int
    calendar_id: int
    title: str
    start_at: datetime
    end_at: datetime
    timezone: str  # IANA name the event is scheduled in
    is_allday: bool = False
    subject_id: int | None = None
    case_service_id: int | None = None
    body: str = ""
    address: Address | None = None
    users_list: tuple[int, ...] = ()
    row: int | None = None
    # Decisions the person should see before sending (which offset a repeated time got, ...).
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name in ("start_at", "end_at"):
            value = getattr(self, name)
            if value.utcoffset() != timedelta(0):
                raise ValueError(f"Draft.{name} must be aware UTC, got {value!r}")


class Privacy(enum.StrEnum):
    """How much of each event a feed shows."""

    FULL = "full"  # title, description, location, case and subject reference
    LIMITED = "limited"  # title and location
    BUSY = "busy"  # "Busy" and the times, nothing else


class FeedKind(enum.StrEnum):
    CALENDAR = "calendar"
    STAFF = "staff"
    ALL = "all"


@dataclass(frozen=True)
class Feed:
    """One published .ics URL and the choices its owner made for it."""

    feed_id: int
    kind: FeedKind
    target_id: int | None  # calendar_id or staff_id; None for the feed of everything
    name: str
    privacy: Privacy
    token: str = field(repr=False)  # a secret: never shown in reprs or logs
    timezone: str | None = None  # default for events without their own zone
    # A calendar feed's calendar's zone (the next default after the feed's); None otherwise.
    calendar_timezone: str | None = None

    @property
    def slug(self) -> str:
        """The file name in the feed URL: readable, but carrying no secret."""
        return feed_slug(self.kind, self.target_id)


def feed_slug(kind: FeedKind, target_id: int | None) -> str:
    """The file name in a feed's URL (``calendar-12``, ``staff-7``, ``all``)."""
    return f"{kind.value}-{target_id}" if target_id is not None else "all"


@dataclass(frozen=True)
class FeedEvent:
    """What the feed renderer needs of one event, resolved by the store."""

    event: Event
    sequence: int  # rises every time the event's content changes (iCalendar SEQUENCE)
    case_label: str | None = None
    subject_name: str | None = None
    calendar_name: str | None = None
    calendar_timezone: str | None = None  # the zone of the event's calendar, if it has one
    # When the bridge stored this content: the DTSTAMP of an event Trackops gives no update time.
    changed_at: datetime | None = None
