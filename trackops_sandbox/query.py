"""Collection request parameters: which each endpoint accepts, how they are read, what they match.

Entry point: `parse_collection_query(kind, args)`, which returns paging plus filter predicates or
raises `ApiError` (400) naming every unknown or invalid parameter, as Trackops does.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from werkzeug.datastructures import MultiDict

from trackops_sandbox.errors import ApiError
from trackops_sandbox.records import parse_utc
from trackops_sandbox.state import Kind, Predicate

MAX_PER_PAGE = 100
PAGING_PARAMETERS = ("per_page", "page", "dir", "mode")


@dataclass(frozen=True)
class Filter:
    """One request parameter: the record attribute it looks at and how it compares."""

    attribute: str
    how: str  # "int", "contains", "equals", "bool", "from", "to"


def _ranges(name: str, attribute: str) -> dict[str, Filter]:
    return {f"{name}_from": Filter(attribute, "from"), f"{name}_to": Filter(attribute, "to")}


FILTERS: dict[Kind, dict[str, Filter]] = {
    "events": {
        "id": Filter("id", "int"),
        "title": Filter("title", "contains"),
        "calendar": Filter("calendar_id", "int"),
        "case": Filter("casefile_id", "int"),
        "subject": Filter("subject_id", "int"),
        "is_allday": Filter("is_allday", "bool"),
        **_ranges("start", "start_at"),
        "from": Filter("start_at", "from"),
        "to": Filter("start_at", "to"),
        **_ranges("end", "end_at"),
        **_ranges("alert", "alert_at"),
        **_ranges("alert_sent", "alert_sent_at"),
        **_ranges("created", "created_at"),
        **_ranges("updated", "updated_at"),
    },
    "cases": {
        "id": Filter("id", "int"),
        "case_number": Filter("case_number", "equals"),
        "primary_investigator": Filter("primary_investigator", "int"),
        **_ranges("updated", "updated_at"),
    },
    "subjects": {
        "case": Filter("casefile_id", "int"),
        "name": Filter("name", "contains"),
        **_ranges("updated", "updated_at"),
    },
    "staff": {
        "first_name": Filter("first_name", "contains"),
        "last_name": Filter("last_name", "contains"),
        "email": Filter("email", "contains"),
        "is_vendor": Filter("is_vendor", "bool"),
        **_ranges("updated", "updated_at"),
    },
}

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


@dataclass(frozen=True)
class CollectionQuery:
    per_page: int
    page: int
    is_descending: bool
    is_count: bool
    filter_key: Hashable  # equal for equal filters, so the table can cache what matched
    predicates: list[Predicate]
    # `created_from` changes on every page of a walk by creation stamp: applied to the cached
    # result of the other filters, it keeps such a walk linear rather than a fresh scan a page.
    created_from: Predicate | None = None

    def page_of(self, ids: list[int]) -> list[int]:
        """The ids this page shows, in the requested order, from all matching ids (ascending)."""
        skip = (self.page - 1) * self.per_page
        if not self.is_descending:
            return ids[skip : skip + self.per_page]
        stop = max(len(ids) - skip, 0)
        return ids[max(stop - self.per_page, 0) : stop][::-1]

    def count(self, ids: list[int]) -> dict[str, int]:
        return {"record_count": len(ids), "page_count": math.ceil(len(ids) / self.per_page)}


def reject_parameters(args: MultiDict[str, str]) -> None:
    """For endpoints that take no query parameters at all."""
    if args:
        names = sorted(args)
        raise ApiError(
            400,
            f"Unknown parameter{'s' if len(names) > 1 else ''}: {', '.join(names)}",
            {name: ["unknown parameter"] for name in names},
        )


def parse_collection_query(kind: Kind, args: MultiDict[str, str]) -> CollectionQuery:
    """Read paging and filters; raise ApiError(400) naming each unknown or invalid parameter."""
    filters = FILTERS[kind]
    problems: dict[str, list[str]] = {}
    unknown = sorted(name for name in args if name not in filters and name not in PAGING_PARAMETERS)
    for name in unknown:
        problems[name] = ["unknown parameter"]
    for name, values in args.lists():
        if len(values) > 1 and name not in unknown:
            problems[name] = ["given more than once"]

    def read_int(name: str, default: int, low: int, high: int | None) -> int:
        text = args.get(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high else f"at least {low}"
            problems.setdefault(name, []).append(f"must be an integer {limit}")
        return value

    per_page = read_int("per_page", MAX_PER_PAGE, 1, MAX_PER_PAGE)
    page = read_int("page", 1, 1, None)
    direction = args.get("dir", "desc")
    if direction not in ("asc", "desc"):
        problems.setdefault("dir", []).append("must be asc or desc")
    mode = args.get("mode")
    if mode not in (None, "count"):
        problems.setdefault("mode", []).append("must be count")

    predicates: list[Predicate] = []
    created_from: Predicate | None = None
    key: list[tuple[str, str, Any]] = []
    for name in sorted(args):
        spec = filters.get(name)
        if spec is None or name in problems:
            continue
        try:
            value = _read_value(spec, args[name])
        except ValueError as error:
            problems.setdefault(name, []).append(str(error))
            continue
        if name == "created_from":
            created_from = _predicate(spec, value)
            continue
        predicates.append(_predicate(spec, value))
        key.append((spec.attribute, spec.how, value))

    if problems:
        first = next(iter(problems))
        detail = "unknown" if problems[first] == ["unknown parameter"] else "invalid"
        raise ApiError(
            400,
            f"Bad request: {detail} parameter '{first}'"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            problems,
        )
    return CollectionQuery(
        per_page=per_page,
        page=page,
        is_descending=direction == "desc",
        is_count=mode == "count",
        filter_key=tuple(sorted(key, key=repr)),
        predicates=predicates,
        created_from=created_from,
    )


def _read_value(spec: Filter, text: str) -> Any:
    if spec.how == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be an integer") from None
    if spec.how == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("must be true or false")
    if spec.how in ("from", "to"):
        try:
            return parse_utc(text)
        except ValueError:
            raise ValueError(
                "must be a timestamp like 2026-01-30 18:00:00 or 2026-01-30T18:00:00Z"
            ) from None
    return text


def _predicate(spec: Filter, value: Any) -> Predicate:
    get = attrgetter(spec.attribute)
    if spec.how == "contains":
        needle = str(value).casefold()
        return lambda record: needle in get(record).casefold()
    if spec.how == "from":
        since: datetime = value
        return lambda record: (stamp := get(record)) is not None and stamp >= since
    if spec.how == "to":
        until: datetime = value
        return lambda record: (stamp := get(record)) is not None and stamp <= until
    # "int", "equals", "bool": the value must match exactly (None never matches).
    return lambda record: get(record) == value
