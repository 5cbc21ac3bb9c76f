"""Names people type -> Trackops records: calendars, cases, subjects (within a case), staff.

`Directory` is built by the caller from the mirror's lists; lookups raise `DirectoryError`
whose text names what was not found or lists the candidates of an ambiguous name. Names are
indexed once, so a file of 1,000 rows against a mirror of 20,000 cases costs 1,000 dict
lookups; "did you mean" hints are remembered per name and bounded in total (`HINT_COMPARISONS`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from bridge.errors import DirectoryError
from bridge.models import Calendar, Case, Staff, Subject

R = TypeVar("R")
# An id is ASCII digits: str.isdigit() also accepts "²", which int() refuses.
_ID = re.compile(r"[0-9]{1,18}")
# Spellings difflib may compare, over all the hints of one Directory (about 5 microseconds
# each): enough for every miss against a small mirror, a few against 20,000 cases.
HINT_COMPARISONS = 100_000


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _staff_keys(person: Staff) -> list[str]:
    first, last = person.first_name.strip(), person.last_name.strip()
    keys = [f"{first} {last}", f"{last}, {first}", person.email]
    return [_key(k) for k in keys if _key(k).strip(", ")]


def _staff_label(person: Staff) -> str:
    return f"{person.name} <{person.email}>" if person.email else person.name


class _Hints:
    """The "did you mean" budget one Directory shares among its indexes."""

    def __init__(self) -> None:
        self.left = HINT_COMPARISONS


class _Index(Generic[R]):
    """One kind of record by id and by each of its keys, with the hints already given."""

    def __init__(
        self,
        kind: str,
        records: dict[int, R],
        keys_of: Callable[[R], Sequence[str]],
        label_of: Callable[[R], str],
        hints: _Hints,
        scope: str = "",
    ) -> None:
        self.kind, self.records, self.label_of, self.scope = kind, records, label_of, scope
        self.by_key: dict[str, dict[int, R]] = {}
        for rid, record in records.items():
            for key in keys_of(record):
                self.by_key.setdefault(key, {})[rid] = record
        self._hints = hints
        self._hinted: dict[str, str] = {}

    def resolve(self, text: str) -> R:
        """The one record whose id or one of whose keys is `text`; DirectoryError otherwise.

        A number that is both one record's id and another's name or case number is ambiguous
        rather than silently taken as the id.
        """
        kind, scope = self.kind, self.scope
        typed = " ".join(text.split())
        if not typed:
            raise DirectoryError(f"no {kind} given")
        found: dict[int, R] = {}
        if _ID.fullmatch(typed) and int(typed) in self.records:
            found[int(typed)] = self.records[int(typed)]
        wanted = _key(typed)
        found.update(self.by_key.get(wanted, {}))
        if len(found) == 1:
            return next(iter(found.values()))
        if found:
            listed = ", ".join(f"{rid} ({self.label_of(r)})" for rid, r in sorted(found.items()))
            raise DirectoryError(
                f"{len(found)} {kind}s match {typed!r}{scope}: ids {listed}; use the id instead",
                candidates=tuple(sorted(found)),
            )
        if _ID.fullmatch(typed):
            raise DirectoryError(f"no {kind} with id {typed}{scope}")
        raise DirectoryError(f"no {kind} named {typed!r}{scope}{self._hint(wanted)}")

    def _hint(self, wanted: str) -> str:
        if wanted not in self._hinted:
            hint = ""
            if len(self.by_key) <= self._hints.left:
                self._hints.left -= len(self.by_key)
                close = difflib.get_close_matches(wanted, self.by_key, n=3, cutoff=0.75)
                names = dict.fromkeys(
                    self.label_of(record) for key in close for record in self.by_key[key].values()
                )
                hint = f"; did you mean {' or '.join(repr(n) for n in names)}?" if names else ""
            self._hinted[wanted] = hint
        return self._hinted[wanted]


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
        self._cases = {c.case_id: c for c in cases}
        self._subjects = {s.subject_id: s for s in subjects}
        self._hints = _Hints()
        self._calendar_index = _Index(
            "calendar",
            {c.calendar_id: c for c in calendars},
            lambda c: [_key(c.name)],
            lambda c: c.name,
            self._hints,
        )
        self._case_index = _Index(
            "case",
            self._cases,
            lambda c: [_key(k) for k in (c.case_number, c.reference) if k.strip()],
            lambda c: c.label,
            self._hints,
        )
        self._staff_index = _Index(
            "staff member",
            {s.staff_id: s for s in staff},
            _staff_keys,
            _staff_label,
            self._hints,
        )
        self._subjects_by_case: dict[int | None, dict[int, Subject]] = {}
        for subject in self._subjects.values():
            self._subjects_by_case.setdefault(subject.case_id, {})[subject.subject_id] = subject
        self._subject_indexes: dict[int, _Index[Subject]] = {}
        self._subjects_by_name: dict[str, list[Subject]] = {}
        for subject in self._subjects.values():
            self._subjects_by_name.setdefault(_key(subject.name), []).append(subject)

    def calendar(self, text: str) -> Calendar:
        """A calendar by id or by name (case-insensitive)."""
        return self._calendar_index.resolve(text)

    def case(self, text: str) -> Case:
        """A case by id, case number or reference (case-insensitive)."""
        return self._case_index.resolve(text)

    def subject(self, text: str, case: Case) -> Subject:
        """A subject of `case`, by id or name; a subject of another case is an error saying so."""
        index = self._subject_indexes.get(case.case_id)
        if index is None:
            index = _Index(
                "subject",
                self._subjects_by_case.get(case.case_id, {}),
                lambda s: [_key(s.name)],
                lambda s: s.name,
                self._hints,
                scope=f" in case {case.label}",
            )
            self._subject_indexes[case.case_id] = index
        try:
            return index.resolve(text)
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
        if _ID.fullmatch(typed):
            return self._subjects.get(int(typed))
        matches = self._subjects_by_name.get(_key(typed), [])
        return matches[0] if len(matches) == 1 else None

    def staff_member(self, text: str) -> Staff:
        """A staff member by id, email, "First Last" or "Last, First" (case-insensitive)."""
        return self._staff_index.resolve(text)

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
