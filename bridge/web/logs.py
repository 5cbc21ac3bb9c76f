"""Keeping feed tokens out of logs: request lines are logged with the token blanked out.

A feed URL is a bearer secret. werkzeug's development server, gunicorn's access log and Flask's
"Exception on <path>" line all print request paths, so each of those loggers gets this filter.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# The token segment of /feeds/<token>/<name>.ics, wherever a path or URL appears in a message.
_FEED_TOKEN = re.compile(r"(/feeds/)[^/\s\"'?#]+(?=/)")
REDACTED = "[token]"
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def redact_feed_tokens(text: str) -> str:
    return _FEED_TOKEN.sub(rf"\g<1>{REDACTED}", text)


class FeedTokenFilter(logging.Filter):
    """Rewrites a record's message with feed tokens blanked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_feed_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = FeedTokenFilter()


def install_token_filter(app: Flask) -> None:
    """Attach the filter to the request loggers and the app's own (idempotent: one instance)."""
    for logger in (*map(logging.getLogger, REQUEST_LOGGERS), app.logger):
        logger.addFilter(_FILTER)
