"""`trackops-bridge`: load settings, build the parts, call one function, print a summary.

`app` holds the command group and what every command shares; each other module adds one area's
commands: mirror (sync and the worker), publish (feeds, calendars, web, demo), create (entries
and batches), push (CalDAV destinations), webhooks (signed webhook subscriptions).
"""

from bridge.cli import create, mirror, publish, push, webhooks  # noqa: F401 - registers commands
from bridge.cli.app import main

__all__ = ["main"]
