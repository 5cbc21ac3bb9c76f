"""Moved to tests/support/processes.py: this name stays only for the browser suite
(tests/support/browser.py, tests/test_browser.py), which another change owns, until it imports
from there."""

from tests.support.processes import (
    REPO,
    Process,
    base_env,
    free_port,
    sandbox_process,
    started,
    wait_for,
)

__all__ = ["REPO", "Process", "base_env", "free_port", "sandbox_process", "started", "wait_for"]
