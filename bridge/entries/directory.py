"""Names people type -> Trackops records: calendars, cases, subjects (within a case), staff.

`Directory` is built by the caller from the mirror's lists; lookups raise `DirectoryError`
whose text names what was not found or lists the candidates of an ambiguous name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from bridge.models import Calendar, Case, Staff, Subject

R = TypeVar("R")


class DirectoryError(LookupError):
    """A name that matches no record, or several; `candidates` holds the ids of several."""

    def __init__(self, message: str, candidates: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.candidates = candidates

    def __str__(self) -> str:
        return self.message


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _staff_keys(person: Staff) -> list[str]:
    first, last = person.first_name.strip(), person.last_name.strip()
    keys = [f"{first} {last}", f"{last}, {first}", person.email]
    return [_key(k) for k in keys if _key(k).strip(", ")]


def _staff_label(person: Staff) -> str:
    return f"{person.name} <{person.email}>" if person.email else person.name


class Directory:
    """Lookups over the mirror's calendars, cases, subjects and staff (passed in, not fetched)."""

    def __init__(
        self,
        *,
        calendars: Iterable[Calendar] = (),
        cases: Iterable[Case] = (),
        subjects: Iterable[Subject] = (),
        staff: Iterable[Staff] = (),
    ) -> None:
        self._calendars = {c.calendar_id: c for c in calendars}
        self._cases = {c.case_id: c for c in cases}
        self._subjects = {s.subject_id: s for s in subjects}
        self._staff = {s.staff_id: s for s in staff}

    def calendar(self, text: str) -> Calendar:
        """A calendar by id or by name (case-insensitive)."""
        return _resolve(
            "calendar", text, self._calendars, lambda c: [_key(c.name)], lambda c: c.name
        )

    def case(self, text: str) -> Case:
        """A case by id, case number or reference (case-insensitive)."""
        return _resolve(
            "case",
            text,
            self._cases,
            lambda c: [_key(k) for k in (c.case_number, c.reference) if k.strip()],
            lambda c: c.label,
        )

    def subject(self, text: str, case: Case) -> Subject:
        """A subject of `case`, by id or name; a subject of another case is an error saying so."""
        in_case = {k: s for k, s in self._subjects.items() if s.case_id == case.case_id}
        try:
            return _resolve(
                "subject",
                text,
                in_case,
                lambda s: [_key(s.name)],
                lambda s: s.name,
                scope=f" in case {case.label}",
            )
        except DirectoryError as missing:
            if missing.candidates:
                raise
            elsewhere = self._subject_elsewhere(text)
            if elsewhere is None:
                raise
            other = self._cases.get(elsewhere.case_id or -1)
            other_label = other.label if other else str(elsewhere.case_id)
            raise DirectoryError(
                f"subject {elsewhere.name!r} (id {elsewhere.subject_id}) belongs to "
                f"case {other_label}, not to case {case.label}"
            ) from None

    def _subject_elsewhere(self, text: str) -> Subject | None:
        typed = text.strip()
        if typed.isdigit():
            return self._subjects.get(int(typed))
        matches = [s for s in self._subjects.values() if _key(s.name) == _key(typed)]
        return matches[0] if len(matches) == 1 else None

    def staff_member(self, text: str) -> Staff:
        """A staff member by id, email, "First Last" or "Last, First" (case-insensitive)."""
        return _resolve("staff member", text, self._staff, _staff_keys, _staff_label)

    def search_cases(self, query: str, limit: int = 20) -> list[Case]:
        """Cases whose number, reference or title contain `query`, best matches first."""
        needle = _key(query)
        if not needle:
            return []
        ranked: list[tuple[int, str, Case]] = []
        for case in self._cases.values():
            ids = [_key(k) for k in (case.case_number, case.reference)]
            if needle in ids or needle == str(case.case_id):
                rank = 0
            elif any(k.startswith(needle) for k in ids):
                rank = 1
            elif any(needle in k for k in ids):
                rank = 2
            elif needle in _key(case.title):
                rank = 3
            else:
                continue
            ranked.append((rank, case.label.casefold(), case))
        ranked.sort(key=lambda item: (item[0], item[1], item[2].case_id))
        return [case for _, _, case in ranked[: max(limit, 0)]]


def _resolve(
    kind: str,
    text: str,
    records: dict[int, R],
    keys_of: Callable[[R], Sequence[str]],
    label_of: Callable[[R], str],
    scope: str = "",
) -> R:
    """The one record whose id or one of whose keys is `text`; DirectoryError otherwise.

    A number that is both one record's id and another's name or case number is ambiguous
    rather than silently taken as the id.
    """
    typed = " ".join(text.split())
    if not typed:
        raise DirectoryError(f"no {kind} given")
    found: dict[int, R] = {}
    if typed.isdigit() and int(typed) in records:
        found[int(typed)] = records[int(typed)]
    wanted = _key(typed)
    found.update({rid: r for rid, r in records.items() if wanted in keys_of(r)})
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        listed = ", ".join(f"{rid} ({label_of(r)})" for rid, r in sorted(found.items()))
        raise DirectoryError(
            f"{len(found)} {kind}s match {typed!r}{scope}: ids {listed}; use the id instead",
            candidates=tuple(sorted(found)),
        )
    if typed.isdigit():
        raise DirectoryError(f"no {kind} with id {typed}{scope}")
    spellings = {k: r for r in records.values() for k in keys_of(r)}
    close = difflib.get_close_matches(wanted, spellings, n=3, cutoff=0.75)
    names = list(dict.fromkeys(label_of(spellings[k]) for k in close))
    hint = f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
    raise DirectoryError(f"no {kind} named {typed!r}{scope}{hint}")
