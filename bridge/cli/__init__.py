"""`trackops-bridge`: load settings, build the parts, call one function, print a summary.

`app` holds the command group and shared builders; each other module adds one area's commands.
"""

from bridge.cli import create, mirror, publish, push  # noqa: F401 - importing registers the commands
from bridge.cli.app import build_worker, main, open_current_store

__all__ = ["build_worker", "main", "open_current_store"]
