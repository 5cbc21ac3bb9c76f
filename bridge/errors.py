"""The bridge's error tree: every failure a person may see, with fields, not just text.

Transport trouble (retryable) is kept apart from Trackops' refusal (not retryable) and from a
reply that made no sense, as httpx splits RequestError from HTTPStatusError. The CLI and the web
app each have one handler that turns a `BridgeError` into advice; nothing else formats them.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge reports to a person.

    `advice` says what to do about it; it is shown after the message.
    """

    advice: str = ""

    def __init__(self, message: str, *, advice: str = "") -> None:
        super().__init__(message)
        if advice:
            self.advice = advice

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def describe(self) -> str:
        """Message and advice in one line, for logs and the CLI."""
        return f"{self.message} — {self.advice}" if self.advice else self.message


class TrackopsError(BridgeError):
    """Something went wrong talking to Trackops."""

    def __init__(
        self, message: str, *, url: str = "", status: int | None = None, advice: str = ""
    ) -> None:
        super().__init__(message, advice=advice)
        self.url = url
        self.status = status


class TransportError(TrackopsError):
    """No usable answer came back: connection refused, DNS, timeout. Retryable."""

    advice = "check the network and TRACKOPS_SUBDOMAIN / TRACKOPS_BASE_URL; the bridge retries"


class AuthenticationError(TrackopsError):
    """401/403 with a JSON body: Trackops rejected the credentials."""

    advice = (
        "check TRACKOPS_USERNAME is the Full Access employee's login, without '/token', "
        "and TRACKOPS_API_TOKEN is the company API token"
    )


class NotFoundError(TrackopsError):
    """404: the record or endpoint does not exist."""


class BadRequestError(TrackopsError):
    """400/422: Trackops refused what we sent; `field_errors` holds its per-field messages."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.field_errors = field_errors or {}


class RateLimitedError(TrackopsError):
    """429 persisted through every retry."""

    advice = "another client may share this account's 1 request/s; lower TRACKOPS_RATE_LIMIT"


class ServerError(TrackopsError):
    """5xx after retries: Trackops is having trouble; the next poll tries again."""

    advice = "Trackops is having trouble; the bridge keeps the last good data and retries"


class UnexpectedResponseError(TrackopsError):
    """The reply was not the JSON we expected: an HTML firewall page, an empty or cut body."""

    advice = (
        "a firewall or proxy may be answering instead of Trackops; if it persists, "
        "send this message to Trackops support"
    )


class RecordError(BridgeError):
    """One record could not be read; carries its id and the keys it had, so it can be reported.

    `kind` ("event", "case", ...), `field` (the key at fault; None when the record as a whole
    is) and `detail` (what was wrong with it) let the problem be stored and shown on its own;
    `label` is the record's title or name, to find it by in Trackops.
    """

    def __init__(
        self,
        message: str,
        *,
        record_id: object = None,
        keys: list[str] | None = None,
        kind: str = "",
        field: str | None = None,
        detail: str = "",
        label: str = "",
    ):
        super().__init__(message)
        self.record_id = record_id
        self.keys = keys or []
        self.kind = kind
        self.field = field
        self.detail = detail or message
        self.label = label
