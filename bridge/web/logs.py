"""Keeping feed tokens out of logs: request lines are logged with the token blanked out.

A feed URL is a bearer secret. werkzeug's development server, gunicorn's access and error logs
and Flask's "Exception on <path>" line all print request paths, so each of those loggers gets
this filter. It rewrites the finished message, so it holds whatever access-log format gunicorn
is given (the request line, the path, the query, the Referer); gunicorn loads the app, and so
installs it, in each worker before that worker serves a request.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# Logs show request targets as clients sent them, and the app serves a feed for every spelling
# of its path that decodes to /feeds/<token>/<name>.ics: "/" as %2F, letters of "feeds" as %66
# and the like, doubled slashes; without the name or with a query string it is a 404 that still
# carries the token. So: a slash, "feeds" with any letter percent-encoded, slashes, then the
# token, up to the next slash (plain or encoded), query, quote or space, wherever in a message.
_SLASH = r"(?:/|%2f)"
_FEEDS = "".join(f"(?:{c}|%{ord(c):02x}|%{ord(c.upper()):02x})" for c in "feeds")
_FEED_TOKEN = re.compile(
    rf"({_SLASH}{_FEEDS}{_SLASH}+)"
    # An all-digit segment is an admin page's feed id (/admin/feeds/3/rotate), never a token.
    rf"(?!\d+(?:[/?#&\s\"']|%2f|$))"
    rf"(?:[^/\s\"'?#&%]|%(?!2f))+",
    re.IGNORECASE,
)
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
