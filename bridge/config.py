"""Settings from the environment: one schema, one loader, errors that name the variable.

Every setting is declared once in `Settings`, with its environment variable, default, help text
and converter in the field's metadata. `load_settings()` is the only code that reads os.environ;
the README's configuration table and `.env.example` are checked against the same schema.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from bridge.errors import ConfigError
from bridge.models import DateOrder, Privacy
from bridge.zone_names import resolve_zone

DEFAULT_DATABASE_URL = "sqlite:///var/bridge.db"


def _number_text(raw: str) -> str:
    # int() and float() also read other scripts' digits ("٣") and float() reads "inf": a
    # setting is written in ASCII digits, or it is a typo to report.
    text = raw.strip()
    if not text.isascii() or text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise ValueError
    return text


def _positive_float(raw: str) -> float:
    value = float(_number_text(raw))
    if not value > 0:
        raise ValueError
    return value


def _positive_int(raw: str) -> int:
    value = int(_number_text(raw))
    if value <= 0:
        raise ValueError
    return value


def _non_negative_int(raw: str) -> int:
    value = int(_number_text(raw))
    if value < 0:
        raise ValueError
    return value


def _zone(raw: str) -> str:
    # The app's one zone validator: a Windows name or an alias in .env reads as its IANA name.
    return resolve_zone(raw)


def _username(raw: str) -> str:
    if raw.endswith("/token"):
        raise ValueError  # the client adds "/token"; sending "sam/token/token" fails auth
    return raw


def _date_order(raw: str) -> DateOrder:
    order = raw.strip().upper()
    if order not in get_args(DateOrder):
        raise ValueError
    return cast(DateOrder, order)


LogFormat = Literal["text", "json"]


def _log_format(raw: str) -> LogFormat:
    value = raw.strip().lower()
    if value not in get_args(LogFormat):
        raise ValueError
    return cast(LogFormat, value)


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _privacy(raw: str) -> Privacy:
    return Privacy(raw.strip().lower())


def _text(raw: str) -> str:
    return raw.strip()


def _setting(
    env: str,
    help: str,
    *,
    default: Any = MISSING,
    convert: Callable[[str], Any] = _text,
    expects: str = "a value",
    secret: bool = False,
) -> Any:
    meta = {"env": env, "help": help, "convert": convert, "expects": expects, "secret": secret}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class Settings:
    trackops_subdomain: str = _setting(
        "TRACKOPS_SUBDOMAIN",
        "Your Trackops account's subdomain: `acme` for https://acme.viewcases.com.",
        default="",
        expects="the subdomain of your Trackops address",
    )
    trackops_base_url: str = _setting(
        "TRACKOPS_BASE_URL",
        "Full API base URL; overrides TRACKOPS_SUBDOMAIN (the sandbox, a proxy).",
        default="",
        expects="an https:// URL (http:// only for a loopback host)",
    )
    trackops_username: str = _setting(
        "TRACKOPS_USERNAME",
        "Login of the Full Access employee the bridge acts as, without `/token`.",
        default="",
        convert=_username,
        expects="the employee's Trackops login without '/token' (the bridge adds it)",
    )
    trackops_api_token: str = _setting(
        "TRACKOPS_API_TOKEN",
        "The company API token (Trackops: Settings > API).",
        default="",
        expects="the API token",
        secret=True,
    )
    trackops_rate_limit: float = _setting(
        "TRACKOPS_RATE_LIMIT",
        "Requests per second the bridge may send to Trackops (Trackops allows 1).",
        default=1.0,
        convert=_positive_float,
        expects="requests per second > 0",
    )
    database_url: str = _setting(
        "DATABASE_URL",
        "Where the mirror lives: sqlite:///path.db or postgresql://user@host/db.",
        default=DEFAULT_DATABASE_URL,
        expects="a sqlite:/// or postgresql:// URL",
        secret=True,  # may carry a database password
    )
    public_url: str = _setting(
        "BRIDGE_PUBLIC_URL",
        "The address people reach the web app at; feed URLs are built on it.",
        default="http://127.0.0.1:8000",
        expects="an http(s):// URL",
    )
    admin_password: str = _setting(
        "BRIDGE_ADMIN_PASSWORD",
        "Password for the admin pages (feeds, dashboard, event form).",
        default="",
        expects="a password of at least 8 characters",
        secret=True,
    )
    secret_key: str = _setting(
        "BRIDGE_SECRET_KEY",
        "Signs admin sessions and CSRF tokens; a long random string, kept stable.",
        default="",
        expects="a random string of at least 32 characters",
        secret=True,
    )
    trusted_proxies: int = _setting(
        "BRIDGE_TRUSTED_PROXIES",
        "Reverse proxies in front of the web app whose X-Forwarded-For to trust (0: none).",
        default=0,
        convert=_non_negative_int,
        expects="a whole number >= 0",
    )
    poll_interval: float = _setting(
        "BRIDGE_POLL_INTERVAL",
        "Seconds between polls of Trackops.",
        default=60.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    reconcile_interval: float = _setting(
        "BRIDGE_RECONCILE_INTERVAL",
        "Seconds between deletion checks (a full listing of the feed window).",
        default=3600.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    deletion_probes: int = _setting(
        "BRIDGE_DELETION_PROBES",
        "Events a pass may look up to prove them deleted (one request each); the rest wait.",
        default=20,
        convert=_positive_int,
        expects="a whole number >= 1",
    )
    reference_interval: float = _setting(
        "BRIDGE_REFERENCE_INTERVAL",
        "Seconds between refreshes of cases, subjects and staff.",
        default=900.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    default_timezone: str = _setting(
        "BRIDGE_DEFAULT_TIMEZONE",
        "IANA zone for events Trackops stores without one, e.g. America/Chicago.",
        default="UTC",
        convert=_zone,
        expects="an IANA time zone name such as America/Denver",
    )
    admin_timezone: str | None = _setting(
        "BRIDGE_ADMIN_TIMEZONE",
        "IANA zone the admin pages show times in (default: BRIDGE_DEFAULT_TIMEZONE).",
        default=None,
        convert=_zone,
        expects="an IANA time zone name such as Europe/London",
    )
    feed_past_days: int = _setting(
        "BRIDGE_FEED_PAST_DAYS",
        "Days of past events the feeds keep (all future events are always in).",
        default=90,
        convert=_non_negative_int,
        expects="a whole number of days >= 0",
    )
    default_privacy: Privacy = _setting(
        "BRIDGE_DEFAULT_PRIVACY",
        "Privacy of new feeds: full, limited (title and place) or busy.",
        default=Privacy.LIMITED,
        convert=_privacy,
        expects="one of full, limited, busy",
    )
    date_order: DateOrder | None = _setting(
        "BRIDGE_DATE_ORDER",
        "How uploaded files write dates that are not ISO: DMY (03/04 = 3 April) or MDY.",
        default=None,
        convert=_date_order,
        expects="DMY or MDY (or unset: only unambiguous dates)",
    )
    sync_overlap: float = _setting(
        "BRIDGE_SYNC_OVERLAP",
        "Seconds re-read before the cursor each poll, for clock skew and late commits.",
        default=120.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    http_timeout: float = _setting(
        "BRIDGE_HTTP_TIMEOUT",
        "Seconds to wait for Trackops before a request counts as failed.",
        default=30.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    max_retries: int = _setting(
        "BRIDGE_MAX_RETRIES",
        "Attempts after the first for a request that failed in a retryable way.",
        default=4,
        convert=_non_negative_int,
        expects="a whole number >= 0",
    )
    worker_lease: float = _setting(
        "BRIDGE_WORKER_LEASE",
        "Seconds a worker's lease lasts unrenewed; a second worker takes over once it lapses.",
        default=30.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    webhooks_allow_private: bool = _setting(
        "BRIDGE_WEBHOOKS_ALLOW_PRIVATE",
        "1: webhooks may go to loopback, private and link-local addresses (and plain http).",
        default=False,
        convert=_flag,
        expects="1 or 0",
    )
    webhooks_retry_for: float = _setting(
        "BRIDGE_WEBHOOKS_RETRY_FOR",
        "Seconds a webhook delivery is retried (with backoff) before it is marked failed.",
        default=86400.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    webhooks_timeout: float = _setting(
        "BRIDGE_WEBHOOKS_TIMEOUT",
        "Seconds a webhook receiver has to answer (connecting: at most 5 of them).",
        default=10.0,
        convert=_positive_float,
        expects="seconds > 0",
    )
    log_format: LogFormat = _setting(
        "BRIDGE_LOG_FORMAT",
        "Log lines on stdout: text (one line per event) or json (one object per line).",
        default="text",
        convert=_log_format,
        expects="text or json",
    )

    @property
    def api_base_url(self) -> str:
        """The Trackops API root; empty when neither the URL nor the subdomain is set."""
        if self.trackops_base_url:
            return self.trackops_base_url.rstrip("/")
        if self.trackops_subdomain:
            return f"https://{self.trackops_subdomain}.viewcases.com/api/v1"
        return ""

    @property
    def admin_zone(self) -> str:
        """The zone the admin pages show times in."""
        return self.admin_timezone or self.default_timezone

    @property
    def account(self) -> str:
        """A stable name for the Trackops account, used in feed UIDs."""
        if self.trackops_subdomain:
            return self.trackops_subdomain
        host = urlsplit(self.api_base_url).hostname or "trackops"
        return host.split(".")[0]

    def require_trackops(self) -> None:
        """Raise ConfigError unless everything needed to talk to Trackops is set."""
        if not self.api_base_url:
            raise ConfigError(
                "TRACKOPS_SUBDOMAIN: not set; set it to your account's subdomain "
                "(acme for https://acme.viewcases.com), or set TRACKOPS_BASE_URL"
            )
        for name in ("trackops_username", "trackops_api_token"):
            if not getattr(self, name):
                spec = _field(name)
                raise ConfigError(f"{spec.metadata['env']}: not set; expected {_expects(spec)}")

    def require_admin(self) -> None:
        """Raise ConfigError unless the admin pages can be served safely."""
        if len(self.admin_password) < 8:
            raise ConfigError(
                "BRIDGE_ADMIN_PASSWORD: not set or shorter than 8 characters; "
                "expected a password of at least 8 characters"
            )
        if len(self.secret_key) < 32:
            raise ConfigError(
                "BRIDGE_SECRET_KEY: not set or shorter than 32 characters; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )


def _field(name: str) -> Any:
    return next(f for f in fields(Settings) if f.name == name)


def _expects(spec: Any) -> str:
    return str(spec.metadata["expects"])


def settings_schema() -> list[dict[str, Any]]:
    """Each setting's variable, default and help: for the README table and `--help`."""
    rows = []
    for spec in fields(Settings):
        default = "" if spec.default in (MISSING, None) else spec.default
        rows.append(
            {
                "env": spec.metadata["env"],
                "default": str(default.value if isinstance(default, Privacy) else default),
                "help": spec.metadata["help"],
                "secret": spec.metadata["secret"],
            }
        )
    return rows


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad variable.

    Values already in the environment win over the .env file, as with most twelve-factor tools.
    """
    source: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        source.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    source.update(os.environ if environ is None else environ)

    values: dict[str, Any] = {}
    for spec in fields(Settings):
        env = spec.metadata["env"]
        raw = source.get(env, "").strip()
        if not raw:
            continue
        try:
            values[spec.name] = spec.metadata["convert"](raw)
        except ValueError:
            shown = "(hidden)" if spec.metadata["secret"] else repr(raw)
            raise ConfigError(f"{env}: expected {_expects(spec)}, got {shown}") from None
    settings = Settings(**values)
    _check_urls(settings)
    return settings


def _check_urls(settings: Settings) -> None:
    base = settings.api_base_url
    if base:
        parts = urlsplit(base)
        if parts.username or parts.password:
            # Never echo it: the URL itself carries a secret.
            raise ConfigError(
                "TRACKOPS_BASE_URL: expected a URL without a user or password in it; put the "
                "login in TRACKOPS_USERNAME and the token in TRACKOPS_API_TOKEN"
            )
        if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
            raise ConfigError(
                f"TRACKOPS_BASE_URL: expected an https:// URL (Trackops is SSL-only; plain "
                f"http is allowed only for a loopback sandbox), got {base!r}"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"TRACKOPS_BASE_URL: expected an https:// URL, got {base!r}")
    public = urlsplit(settings.public_url)
    if public.scheme not in ("http", "https") or not public.hostname:
        raise ConfigError(
            f"BRIDGE_PUBLIC_URL: expected an http(s):// URL, got {settings.public_url!r}"
        )
    if not settings.database_url.startswith(
        ("sqlite:", "postgresql:", "postgres:", "postgresql+psycopg:")
    ):
        raise ConfigError(
            "DATABASE_URL: expected a sqlite:/// or postgresql:// URL "
            f"(got one starting {settings.database_url.split(':', 1)[0]!r})"
        )


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1): reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
