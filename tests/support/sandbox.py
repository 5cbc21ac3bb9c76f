"""The sandbox's seed days and a Trackops client for a sandbox: what the sandbox fixtures in
tests/conftest.py start, and what tests that build their own client use."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bridge.trackops.client import TrackopsClient
from trackops_sandbox.server import SandboxServer

# Most tests run sandbox and client far above Trackops' 1 request/s; only tests marked
# `pacing` run at the real limit.
FAST_RATE = 500.0
# Seed data is spread around today, so "the feed window" and "events still to come" always
# hold seed events however long after this was written the suite runs.
ANCHOR = datetime.now(UTC).date()
# The sandbox API tests pin their seed to a fixed day, so what they expect of dates holds.
PINNED_ANCHOR = date(2026, 3, 15)


def make_client(server: SandboxServer, **overrides: object) -> TrackopsClient:
    """A client for `server` at FAST_RATE with 3 retries and a 10 s timeout; overrides win."""
    options = {"rate_limit": FAST_RATE, "max_retries": 3, "timeout": 10.0, **overrides}
    return TrackopsClient(
        server.base_url,
        server.options.username,
        server.options.token,
        **options,  # type: ignore[arg-type]
    )
