"""What reading one uploaded file may cost: occurrences generated, search steps and seconds.

Entry point: `Budget`. The parsers spend it as they work, never by counting afterwards, so a file
that asks for too much is refused after a bounded amount of work (`OverBudget`), and a web worker
is back to serving feeds within `seconds`, well under gunicorn's 30-second worker timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Days dateutil may look at while expanding one repeating event: a daily event over 100 years
# is 36,500, a yearly one from 1900 about 46,000. More means a rule that (almost) never matches.
EVENT_STEPS = 200_000
# ... and for the whole file. dateutil looks at a day in about 0.2 microseconds.
FILE_STEPS = 2_000_000
# Occurrences generated for the whole file, kept or not (EXDATE, over an event's own limit).
FILE_OCCURRENCES = 20_000
# Wall-clock seconds for reading one file: decoding, parsing and expanding (a 1,000-event
# Outlook export parses in about 0.9 s).
FILE_SECONDS = 3.0
_CLOCK_EVERY = 1024  # steps between looks at the clock: a look costs more than a step


class OverBudget(Exception):
    """The file (or one event of it) asked for more work than its budget allows."""

    def __init__(self, message: str, *, is_event_only: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.is_event_only = is_event_only


@dataclass
class Budget:
    """Counts of the work done on one file, each checked against its limit as it is done."""

    event_steps: int = EVENT_STEPS
    file_steps: int = FILE_STEPS
    file_occurrences: int = FILE_OCCURRENCES
    seconds: float = FILE_SECONDS
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    steps: int = 0  # search steps spent on the whole file
    occurrences: int = 0  # occurrences generated for the whole file
    steps_of_event: int = 0  # search steps spent on the event being expanded
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    def start_event(self) -> None:
        self.steps_of_event = 0

    def step(self) -> None:
        """One day looked at by a recurrence search, matching or not."""
        self.steps += 1
        self.steps_of_event += 1
        if self.steps_of_event > self.event_steps:
            raise OverBudget(
                f"its repeat rule searched {self.event_steps:,} days without reaching the "
                "expand date: it (almost) never happens. Check the rule, or leave the event out",
                is_event_only=True,
            )
        if self.steps > self.file_steps:
            raise OverBudget(
                f"expanding the file's repeating events needs more than {self.file_steps:,} "
                "search steps: expand them to an earlier date, or split the file"
            )
        if not self.steps % _CLOCK_EVERY:
            self.check_time()

    def occurrence(self) -> None:
        """One occurrence generated, whether it is kept or not."""
        self.occurrences += 1
        if self.occurrences > self.file_occurrences:
            raise OverBudget(
                f"the file's repeating events give more than {self.file_occurrences:,} "
                "occurrences: expand them to an earlier date, or split the file"
            )
        if not self.occurrences % _CLOCK_EVERY:
            self.check_time()

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            raise OverBudget(
                f"reading the file takes more than {self.seconds:g} seconds: expand repeating "
                "events to an earlier date, or split the file"
            )
