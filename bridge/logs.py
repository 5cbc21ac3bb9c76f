"""Log lines: one event per line, with its time, level and component, as text or JSON, and
never a configured secret.

Entry points: `configure_logging(settings, ...)` for the CLI's processes and
`logging_config(settings)` (a dictConfig) for gunicorn's. A host's log collector reads a line
as an event: a traceback, or a message carrying a newline (a Trackops error body), stays on
its event's line, escaped in text and a field of its own in JSON.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bridge.config import LogFormat, Settings

REDACTED = "[secret]"
# Values this short could be ordinary words in a message; no real secret is this short (the
# password needs 8 characters, the secret key 32).
_SHORTEST_SECRET = 6


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The setting values no log line may show: the API token, the admin password, the
    secret key and the database password."""
    values = [settings.trackops_api_token, settings.admin_password, settings.secret_key]
    try:
        values.append(make_url(settings.database_url).password or "")
    except ArgumentError:
        values.append(settings.database_url)  # unparseable: it may hold anything
    return tuple(v for v in values if len(v) >= _SHORTEST_SECRET)


class LineFormatter(logging.Formatter):
    """One event per line: `time LEVEL component: message`, or a JSON object."""

    def __init__(self, log_format: LogFormat = "text", secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.log_format = log_format
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        message = self._blank(record.getMessage())
        error = self._blank(self.formatException(record.exc_info)) if record.exc_info else ""
        at = datetime.fromtimestamp(record.created, UTC)
        component = component_of(record.name)
        if self.log_format == "json":
            event: dict[str, Any] = {
                "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "component": component,
                "message": message,
            }
            if error:
                event["error"] = error
            return json.dumps(event, ensure_ascii=False)
        line = f"{at:%Y-%m-%dT%H:%M:%S}Z {record.levelname} {component}: {message}"
        if error:
            line += f" | {error}"
        return line.replace("\r", "\\r").replace("\n", "\\n")

    def _blank(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def component_of(logger_name: str) -> str:
    """`bridge.worker` -> `worker`; `gunicorn.error` -> `gunicorn`; others as they are."""
    if logger_name.startswith("bridge."):
        return logger_name.removeprefix("bridge.")
    if logger_name.startswith("gunicorn."):
        return "gunicorn.access" if logger_name.endswith(".access") else "gunicorn"
    return logger_name


class _CurrentStream(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout (or stderr) is at the time: click's test runner and the
    demo swap them, and a handler holding the stream it started with would write elsewhere."""

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property
    def stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._stream_name)
        return stream

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current one


def configure_logging(
    settings: Settings | None, *, to_stdout: bool = False, verbose: bool = False
) -> None:
    """Send the bridge's log events (and libraries' warnings) to one line-per-event handler.

    Long-running processes (worker, web, demo) log to stdout, as hosts collect it; one-shot
    commands to stderr, so their own output (`feeds --json`) stays clean to pipe.
    """
    log_format: LogFormat = settings.log_format if settings else "text"
    secrets = secrets_of(settings) if settings else ()
    handler = _CurrentStream("stdout" if to_stdout else "stderr")
    handler.setFormatter(LineFormatter(log_format, secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CurrentStream)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("bridge").setLevel(logging.INFO)
    client = logging.getLogger("bridge.trackops.client")
    client.setLevel(logging.INFO if verbose else logging.WARNING)


def logging_config(settings: Settings | None) -> dict[str, Any]:
    """A dictConfig for gunicorn (`logconfig_dict`): its own lines and the app's, on stdout,
    in the same shape as the worker's."""
    log_format: LogFormat = settings.log_format if settings else "text"
    formatter = {
        "()": LineFormatter,
        "log_format": log_format,
        "secrets": secrets_of(settings) if settings else (),
    }
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stdout": handler},
        "root": {"level": "WARNING", "handlers": ["stdout"]},
        "loggers": {
            "bridge": {"level": "INFO"},
            "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }
