"""The sandbox's start-up options: who may log in, how fast, and what seed data to serve."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

DEMO_USERNAME = "demo"
DEMO_TOKEN = "demo-token-not-secret"  # noqa: S105 - public on purpose, like the demo user


@dataclass(frozen=True)
class SandboxOptions:
    """How one sandbox instance starts; `POST /_sandbox/reset` returns to exactly this."""

    username: str = DEMO_USERNAME  # the employee login; Basic auth user is f"{username}/token"
    token: str = field(default=DEMO_TOKEN, repr=False)
    rate_limit: float | None = 1.0  # accepted requests per second per account; None/0: no limit
    events: int = 300  # number of seed events
    seed: int = 7
    anchor: date | None = None  # "today" of the seed data; None: today in UTC at app creation

    def __post_init__(self) -> None:
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError(f"rate_limit: expected requests/s >= 0, got {self.rate_limit}")
        if self.events < 0:
            raise ValueError(f"events: expected a count >= 0, got {self.events}")
