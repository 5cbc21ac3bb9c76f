"""The bridge's error tree: every failure a person may see, with fields, not just text.

Every layer's errors hang from `BridgeError`, so the CLI (`bridge.cli.app.reports_errors`) and
the web app (`bridge.web.error_pages`) each turn any of them into a message in one place: the
error's own `message` and `advice`. As httpx splits RequestError from HTTPStatusError,
transport trouble (retryable) is kept apart from Trackops' refusal (not retryable) and from a
reply that made no sense.

    BridgeError
    ├── ConfigError               a setting is missing or invalid (bridge.config)
    ├── TrackopsError             talking to Trackops (bridge.trackops)
    │   ├── TransportError        no usable answer: refused, DNS, timeout (retryable)
    │   ├── AuthenticationError   401/403: the credentials
    │   ├── NotFoundError         404
    │   ├── BadRequestError       400/422, with Trackops' per-field messages
    │   ├── RateLimitedError      429 through every retry
    │   ├── ServerError           5xx through every retry
    │   └── UnexpectedResponseError  not the JSON expected (a firewall's HTML page)
    ├── RecordError               one record Trackops sent that cannot be read
    ├── StoreError                the database (bridge.store)
    │   ├── StoreUnavailable      unreachable or locked; retrying later may work
    │   ├── SchemaOutOfDate       run `trackops-bridge migrate` (or upgrade)
    │   ├── NotFound              a write named a row that does not exist
    │   ├── LeaseLost             the worker lease lapsed (bridge.store.lease)
    │   └── OutboxStateError      an outbox item not in the state a move needs
    ├── EntryError                one value of one entry refused (bridge.entries): each is
    │   │                         collected into a FieldError beside the others, not raised
    │   ├── Invalid               a rule's refusal of one field
    │   ├── ZoneError             a zone name, or a wall time DST skips
    │   ├── AddressError          a country or state Trackops would refuse
    │   ├── DirectoryError        a name matching no record, or several
    │   └── EncodingRefused       a file whose encoding cannot be told
    ├── SubmissionError           a submission with nothing in it ready to queue
    ├── DeliveryError             pushing to a destination (bridge.delivery)
    │   ├── DestinationError      a CalDAV calendar refused or is unreachable
    │   └── WebhookTargetError    a receiver URL or address the bridge will not send to
    └── DemoError                 the demo cannot start here as asked

LeaseLost and OutboxStateError carry the store's own records, so they are defined beside them;
every other class is defined here.
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


class ConfigError(BridgeError):
    """A setting is missing or invalid; the message names the variable and what it expects."""


class StoreError(BridgeError):
    """Anything the store could not do."""


class StoreUnavailable(StoreError):
    """The database could not be reached or stayed locked; retrying later may work."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url  # rendered without the password
        self.reason = reason
        super().__init__(f"cannot use the database at {url}: {reason}")


class SchemaOutOfDate(StoreError):
    """The database schema is not the version this program was built for."""

    def __init__(self, current: int, required: int) -> None:
        self.current = current
        self.required = required
        if current < required:
            message = (
                f"the database schema is at version {current} but this trackops-bridge needs "
                f"version {required}: run `trackops-bridge migrate`"
            )
        else:
            message = (
                f"the database schema is at version {current}, newer than the version {required} "
                "this trackops-bridge knows: upgrade trackops-bridge"
            )
        super().__init__(message)


class NotFound(StoreError):
    """A write named a row that does not exist (a feed or calendar id from a stale page)."""

    def __init__(self, kind: str, key: int) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} with id {key}")


class EntryError(BridgeError, ValueError):
    """One value of one entry that cannot be used; str() says what to write instead.

    Also a ValueError, as the value parsers it comes from are. Validation collects these into
    FieldErrors, one per field, so a person sees every mistake of a row at once.
    """


class Invalid(EntryError):
    """One rule's refusal of one field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


class ZoneError(EntryError):
    """A zone name or a wall-clock time that cannot be turned into an instant; str() is advice."""


class AddressError(EntryError):
    """A country or state Trackops would refuse; str() says what to write instead."""


class DirectoryError(EntryError):
    """A name that matches no record, or several; `candidates` holds the ids of several."""

    def __init__(self, message: str, candidates: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


class EncodingRefused(EntryError):
    """A file whose encoding cannot be told with confidence; the message says what to do."""


class SubmissionError(BridgeError):
    """A submission that cannot be queued (nothing in it is ready)."""


class DeliveryError(BridgeError):
    """Pushing changes to a destination failed; it is retried later from stored state."""


class DestinationError(DeliveryError):
    """A destination refused or could not be reached; its push is retried later."""


class WebhookTargetError(DeliveryError):
    """A receiver URL or address the bridge will not send to."""


class DemoError(BridgeError):
    """The demo cannot start here as asked; the message says what to run instead."""
