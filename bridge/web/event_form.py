"""The one-event form: the choices it offers (from the mirror) and what a post of it means.

`form_choices()` gathers the lists the page shows; `read_event_form()` keeps what was typed and
turns it into the `EntryFields` every source produces, so the form is checked by the same rules
as an upload (`bridge.entries`). The validator stays the authority: the lists only help.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pycountry
from werkzeug.datastructures import MultiDict

from bridge.entries import EntryFields, FieldError, Source
from bridge.entries.addresses import COUNTRIES_WITH_STATE_CODES
from bridge.models import Calendar, Case, Staff, Subject
from bridge.store.case_services import KnownService

# The text fields of the form, named as `EntryFields` names them.
TEXT_FIELDS = (
    "title",
    "calendar",
    "case",
    "subject",
    "service",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "timezone",
    "description",
    "address_1",
    "address_2",
    "city",
    "state",
    "zip",
    "country",
)
# How each field is called on the page, for the list of mistakes at the top.
LABELS = {
    "title": "Title",
    "calendar": "Calendar",
    "case": "Case",
    "subject": "Subject",
    "service": "Case service",
    "staff": "Staff",
    "start_date": "Date",
    "start_time": "Start time",
    "end_date": "End date",
    "end_time": "End time",
    "all_day": "All day",
    "timezone": "Time zone",
    "description": "Description",
    "address_1": "Address",
    "address_2": "Address line 2",
    "address_3": "Address line 3",
    "city": "City",
    "state": "State",
    "zip": "ZIP / postal code",
    "country": "Country",
}
_SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# The validator's messages name other fields as the CSV columns are named ("is before
# start_time 09:00"); these are the names a person could not know from a page or their own file.
_FIELD_NAMES = re.compile(
    r"\b(start_date|start_time|end_date|end_time|all_day|address_[123]|timezone)\b"
)
# The checkbox read as what it is on the form, before the names are replaced.
_ALL_DAY_PHRASES = (
    ("set all_day to no", "untick All day"),
    ("all_day is no", "All day is not ticked"),
    ("all_day is yes", "All day is ticked"),
)


def name_fields(message: str, names: Mapping[str, str]) -> str:
    """`message` with each field it names called by `names` (the form's labels, or a file's own
    headings); a field `names` lacks keeps its column name."""
    return _FIELD_NAMES.sub(lambda found: names.get(found.group(1), found.group(1)), message)


def in_form_words(message: str) -> str:
    """A validator's message as the form says it: "is before Start time 09:00"."""
    for phrase, words in _ALL_DAY_PHRASES:
        message = message.replace(phrase, words)
    return name_fields(message, LABELS)


def new_submission_id() -> str:
    """A random id put in the form when it is shown: one id, one submission, however many posts."""
    return secrets.token_urlsafe(16)


@dataclass
class EventForm:
    """What was typed (kept to show again) and what is wrong with it, by field."""

    values: dict[str, str] = field(default_factory=dict)
    staff: list[str] = field(default_factory=list)  # staff ids, as the multi-select posts them
    is_all_day: bool = False
    submission_id: str = field(default_factory=new_submission_id)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add_errors(self, errors: Iterable[FieldError]) -> None:
        for error in errors:
            name = error.field if error.field in LABELS else ""
            self.errors.setdefault(name, []).append(in_form_words(error.message))

    @property
    def summary(self) -> list[str]:
        """Every mistake in one list, each led by the field's label, for the top of the page."""
        return [
            f"{LABELS[name]}: {message}" if name else message
            for name, messages in self.errors.items()
            for message in messages
        ]

    def entry(self) -> EntryFields:
        """The form as an entry; an all-day event ignores the (hidden) time fields."""
        text: dict[str, Any] = {name: self.values.get(name, "").strip() for name in TEXT_FIELDS}
        if self.is_all_day:
            text["start_time"] = text["end_time"] = ""
        return EntryFields(
            **text,
            staff="; ".join(self.staff),
            all_day="yes" if self.is_all_day else "no",
            source=Source.FORM,
        )


def read_event_form(form: MultiDict[str, str]) -> EventForm:
    """The posted form, every value kept as typed."""
    values = {name: form.get(name, "") for name in TEXT_FIELDS}
    # The page shows a state list for US, CA and AU and a text box elsewhere, and a list of the
    # case's known services beside a box for another; the script enables one of each, but a
    # browser without scripts may post both: the first filled one counts.
    for name in ("state", "service"):
        filled = [value for value in form.getlist(name) if value.strip()]
        values[name] = filled[0] if filled else ""
    submission_id = form.get("submission_id", "")
    return EventForm(
        values=values,
        staff=[s for s in dict.fromkeys(form.getlist("staff")) if s.strip()],
        is_all_day=form.get("all_day") == "yes",
        # A missing or mangled id gets a fresh one: the post is still taken, once.
        submission_id=(
            submission_id if _SUBMISSION_ID.fullmatch(submission_id) else new_submission_id()
        ),
    )


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FormChoices:
    """The lists the form offers, and the same data for the page's script (`script_data`)."""

    calendars: list[Calendar]
    cases: list[Case]
    staff: list[Staff]
    subjects_by_case: dict[int, list[Subject]]
    services_by_case: dict[int, list[KnownService]]
    countries: list[Choice]
    states: dict[str, list[Choice]]
    default_timezone: str

    def subjects_of(self, typed_case: str) -> list[Subject]:
        """The subjects of the case the person typed (number, reference or id), if one matches."""
        case = case_matching(self.cases, typed_case)
        return self.subjects_by_case.get(case.case_id, []) if case else []

    def services_of(self, typed_case: str) -> list[KnownService]:
        """The services the mirror has seen on the typed case's events, the latest used first."""
        case = case_matching(self.cases, typed_case)
        return self.services_by_case.get(case.case_id, []) if case else []

    def zone_for(self, calendar_value: str) -> str:
        """The zone a blank time zone stands for: the chosen calendar's, else the default."""
        zones = {str(c.calendar_id): c.timezone for c in self.calendars}
        return zones.get(calendar_value) or self.default_timezone

    def script_data(self) -> dict[str, Any]:
        """What the page's script needs to fill the subject, service and state lists without a
        request."""
        return {
            "defaultZone": self.default_timezone,
            "calendarZones": {str(c.calendar_id): c.timezone or "" for c in self.calendars},
            "caseKeys": {key: c.case_id for c in self.cases for key in _case_keys(c)},
            "subjects": {
                str(case_id): [[str(s.subject_id), s.name] for s in subjects]
                for case_id, subjects in self.subjects_by_case.items()
            },
            "services": {
                str(case_id): [[str(s.case_service_id), service_label(s)] for s in services]
                for case_id, services in self.services_by_case.items()
            },
            "states": {
                country: [[c.value, c.label] for c in choices]
                for country, choices in self.states.items()
            },
        }


def form_choices(
    *,
    calendars: list[Calendar],
    cases: list[Case],
    subjects: list[Subject],
    services: dict[int, list[KnownService]],
    staff: list[Staff],
    default_timezone: str,
) -> FormChoices:
    subjects_by_case: dict[int, list[Subject]] = {}
    for subject in sorted(subjects, key=lambda s: s.name.casefold()):
        if subject.case_id is not None:
            subjects_by_case.setdefault(subject.case_id, []).append(subject)
    return FormChoices(
        calendars=sorted(calendars, key=lambda c: (c.name.casefold(), c.calendar_id)),
        cases=sorted(cases, key=lambda c: (c.label.casefold(), c.case_id)),
        staff=sorted(staff, key=lambda s: (s.name.casefold(), s.staff_id)),
        subjects_by_case=subjects_by_case,
        services_by_case=services,
        countries=country_choices(),
        states={country: state_choices(country) for country in COUNTRIES_WITH_STATE_CODES},
        default_timezone=default_timezone,
    )


def service_label(service: KnownService) -> str:
    """How the list names a service: Trackops gives its id only, so its latest event's title
    and how many events name it say which one it is."""
    count = f"{service.event_count} event{'' if service.event_count == 1 else 's'}"
    if not service.latest_title.strip():
        return f"{service.case_service_id} · {count}"
    return f"{service.case_service_id} · latest: {service.latest_title} · {count}"


def case_value(case: Case) -> str:
    """What the case box holds once a case is picked: what people call the case."""
    return case.case_number or case.reference or str(case.case_id)


def _case_keys(case: Case) -> list[str]:
    keys = [case.case_number, case.reference, str(case.case_id)]
    return [" ".join(k.split()).casefold() for k in keys if k.strip()]


def case_matching(cases: Iterable[Case], typed: str) -> Case | None:
    """The one case whose number, reference or id is `typed` (any case), else None."""
    wanted = " ".join(typed.split()).casefold()
    found = [c for c in cases if wanted and wanted in _case_keys(c)]
    return found[0] if len(found) == 1 else None


@functools.cache
def country_choices() -> list[Choice]:
    """Every ISO 3166-1 country by its common name, valued by its alpha-2 code."""
    named = [
        Choice(c.alpha_2, getattr(c, "common_name", None) or c.name) for c in pycountry.countries
    ]
    return sorted(named, key=lambda c: c.label.casefold())


@functools.cache
def state_choices(country: str) -> list[Choice]:
    """The subdivisions of `country` Trackops checks (states, DC, territories), by name."""
    subdivisions = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
    named = [Choice(s.code.split("-", 1)[1], s.name) for s in subdivisions or ()]
    return sorted(named, key=lambda c: c.label.casefold())
