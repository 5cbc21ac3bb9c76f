"""The validation rules that turn one entry's raw text into a `Draft`, or into all its mistakes.

Entry point: `validate_entry(fields, directory, options)`. It runs every rule (bridge.entries
.values for one value, bridge.entries.when for the dates, times and zone) and collects every
error, so a person sees all of a row's mistakes at once.

Stated rules (the messages say them too):
- Blank start and end times mean an all-day event: start_at is local 00:00:00 of the first day
  and end_at local 23:59:59 of the last day (end_date, default start_date), in UTC.
- An end_time earlier than the start_time on the same day is an error, not "next day": a shift
  past midnight gives its end_date. A blank end_time means `options.default_duration`.
- A wall-clock time skipped by a DST change is an error naming the gap; one that happens twice
  follows `options.repeated_time` ("first" by default: the daylight-time one), noted on the draft.
- The zone is the entry's, else its calendar's, else `options.default_timezone`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bridge.entries.directory import Directory
from bridge.entries.drafts import EntryFields, FieldError
from bridge.entries.values import (
    MAX_LENGTH,
    EntryOptions,
    SeveralProblems,
    build_address,
    check_text,
    choose_zone,
    parse_id,
)
from bridge.entries.when import resolve_when
from bridge.errors import DirectoryError, Invalid
from bridge.models import Case, Draft

T = TypeVar("T")

_WHEN_FIELDS = {"start_date", "start_time", "end_date", "end_time", "all_day"}
_ADDRESS_FIELDS = {"address_1", "address_2", "address_3", "city", "state", "zip", "country"}


def validate_entry(
    fields: EntryFields, directory: Directory, options: EntryOptions
) -> Draft | list[FieldError]:
    """A Draft when every rule passes; otherwise every error of the entry, each naming its field."""
    errors: list[FieldError] = []

    def report(bad: Invalid) -> None:
        errors.append(
            FieldError(
                bad.field_name,
                bad.message,
                fields.row,
                fields.column_of(bad.field_name),
                fields.where,
            )
        )

    def attempt(rule: Callable[[], T]) -> T | None:
        try:
            return rule()
        except Invalid as bad:
            report(bad)
        except SeveralProblems as many:
            for problem in many.problems:
                report(problem)
        return None

    text: dict[str, str] = {}
    for name in MAX_LENGTH:
        try:
            value = getattr(fields, name).strip().replace("\r\n", "\n").replace("\r", "\n")
            text[name] = check_text(name, value)
        except Invalid as bad:
            report(bad)
    too_long = set(MAX_LENGTH) - set(text)

    def lookup(name: str, find: Callable[[str], T], required: bool = True) -> T | None:
        if name in too_long:
            return None
        if not text[name]:
            if required:
                report(Invalid(name, "is required"))
            return None
        try:
            return find(text[name])
        except DirectoryError as missing:
            report(Invalid(name, str(missing)))
            return None

    if "title" not in too_long and not text["title"]:
        report(Invalid("title", "is required"))
    calendar = lookup("calendar", directory.calendar)
    case = lookup("case", directory.case)
    subject = None
    if case is not None:
        the_case: Case = case
        subject = lookup("subject", lambda t: directory.subject(t, the_case), required=False)
    service_id = None
    if text.get("service"):
        service_id = attempt(lambda: parse_id("service", text["service"], "a case service id"))
    staff_ids = _staff_ids(text.get("staff", ""), directory, report)
    # Without the calendar the zone may be wrong, and DST errors in a wrong zone would mislead.
    zone_and_origin = None
    if "timezone" in text and (text["timezone"] or calendar is not None):
        zone_and_origin = attempt(
            lambda: choose_zone(text["timezone"], calendar, options.default_timezone)
        )
    zone = zone_and_origin[0] if zone_and_origin else None
    when = None
    if not too_long & _WHEN_FIELDS:
        when = attempt(lambda: resolve_when(fields, zone, options))
    address = None
    if not too_long & _ADDRESS_FIELDS:
        address = attempt(lambda: build_address(fields, options.default_country))

    if errors:
        return errors
    if calendar is None or case is None or when is None or zone is None:
        # Each of these is None only after a rule reported why; reaching here is a bug.
        raise RuntimeError(f"entry passed validation without calendar, case or time: {fields}")
    notes = [*fields.notes, *when.notes]
    if fields.is_floating and zone_and_origin is not None:
        notes.append(
            f"the file gives these times without a zone: read in {zone} ({zone_and_origin[1]})"
        )
    return Draft(
        casefile_id=case.case_id,
        calendar_id=calendar.calendar_id,
        title=text["title"],
        start_at=when.start_at,
        end_at=when.end_at,
        timezone=zone,
        is_allday=when.is_allday,
        subject_id=subject.subject_id if subject else None,
        case_service_id=service_id,
        body=text["description"],
        address=address,
        users_list=staff_ids,
        row=fields.row,
        notes=tuple(notes),
    )


def _staff_ids(
    text: str, directory: Directory, report: Callable[[Invalid], None]
) -> tuple[int, ...]:
    """Each ';'-separated name, email or id resolved; every unknown or ambiguous one reported."""
    ids: list[int] = []
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            ids.append(directory.staff_member(part).staff_id)
        except DirectoryError as missing:
            hint = (
                " (separate several staff with ';')"
                if "," in part and not missing.candidates
                else ""
            )
            report(Invalid("staff", f"{missing}{hint}"))
    return tuple(dict.fromkeys(ids))
