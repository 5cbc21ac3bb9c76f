"""The `trackops-bridge` command group and what every command shares: settings, progress,
JSON output, and the one handler that turns a BridgeError into a line and exit status 1.

The parts the commands run (store, client, worker) are built by bridge.assembly.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import click

from bridge import __version__
from bridge.config import Settings, load_settings
from bridge.errors import BridgeError
from bridge.logs import configure_logging

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("bridge")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a BridgeError into `error: ...` on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except BridgeError as error:
            click.echo(f"error: {error.describe()}", err=True)
            sys.exit(1)

    return wrapper


def current_settings(*, logs_to_stdout: bool = False) -> Settings:
    """The settings; log lines from here on take their format and blank their secrets."""
    settings = load_settings()
    configure_logging(settings, to_stdout=logs_to_stdout, verbose=_is_verbose())
    return settings


def _is_verbose() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("verbose"))


@contextmanager
def progress_reporter() -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on a terminal, a log line every 10 pages otherwise."""
    started = datetime.now(UTC)
    bar: Any = None

    def report(done: int, total: int | None) -> None:
        nonlocal bar
        if total is None:
            return
        if sys.stderr.isatty():
            if bar is None:
                bar = click.progressbar(length=total, label="Fetching events", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)
            return
        if done % 1000 < 100 or done >= total:
            elapsed = max((datetime.now(UTC) - started).total_seconds(), 1e-6)
            rate = done / elapsed
            eta = (total - done) / rate if rate else 0
            log.info("fetched %d of %d events (%.1f/s, about %.0f s left)", done, total, rate, eta)

    try:
        yield report
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trackops-bridge")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (never the token).")
def main(verbose: bool) -> None:
    """Mirror Trackops events, publish them as calendar feeds, create events from files.

    Settings come from the environment or a .env file: see `trackops-bridge settings`.
    """
    configure_logging(None, verbose=verbose)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))
