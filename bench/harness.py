"""What the freshness benches share: waiting on a condition, and a worker's environment against
a sandbox (bench/push.py, bench/webhooks.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from trackops_sandbox.server import SandboxServer

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, step: float = 0.01) -> T:
    """The first truthy answer of `check`; a short step, since the wait is what is measured."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(step)
    raise TimeoutError("gave up waiting")


def use_sandbox_worker_env(
    sandbox: SandboxServer, folder: Path, interval: float, **extra: str
) -> None:
    """Point the settings at `sandbox`, a SQLite file in `folder`, a poll every `interval` s."""
    os.environ.update(
        TRACKOPS_BASE_URL=sandbox.base_url,
        TRACKOPS_USERNAME=sandbox.options.username,
        TRACKOPS_API_TOKEN=sandbox.options.token,
        TRACKOPS_RATE_LIMIT="50",
        DATABASE_URL=f"sqlite:///{folder / 'bridge.db'}",
        BRIDGE_POLL_INTERVAL=str(interval),
        **extra,
    )
