"""The current schema as SQLAlchemy Core tables, for queries (migrations keep their own copies).

It must describe exactly what the newest migration leaves behind; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from bridge.store.columns import UTCDateTime

metadata = MetaData()

calendars = Table(
    "calendars",
    metadata,
    Column("calendar_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("timezone", Text),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", BigInteger, primary_key=True, autoincrement=False),
    Column("case_number", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("updated_at", UTCDateTime),
)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", BigInteger, primary_key=True, autoincrement=False),
    Column("case_id", BigInteger, index=True),
    Column("name", Text, nullable=False),
    Column("updated_at", UTCDateTime),
)

staff = Table(
    "staff",
    metadata,
    Column("staff_id", BigInteger, primary_key=True, autoincrement=False),
    Column("first_name", Text, nullable=False),
    Column("last_name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("updated_at", UTCDateTime),
)

events = Table(
    "events",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    Column("calendar_id", BigInteger, ForeignKey("calendars.calendar_id"), index=True),
    Column("case_id", BigInteger),
    Column("subject_id", BigInteger),
    Column("case_service_id", BigInteger),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False, index=True),
    Column("timezone", Text),
    Column("is_allday", Boolean, nullable=False),
    Column("address", Text),  # JSON object of Address fields; NULL when the event has none
    Column("alert_at", UTCDateTime),
    Column("created_at", UTCDateTime),
    Column("updated_at", UTCDateTime, index=True),
    Column("content_hash", String(64), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("raw_json", Text, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),  # a tombstone: set when Trackops stopped listing it
    # Everything a feed render reads of every event but the few it writes afresh, in feed
    # order, from the index alone (migration 8).
    Index(
        "ix_events_feed_rows",
        "start_at",
        "event_id",
        "end_at",
        "sequence",
        "updated_at",
        "calendar_id",
        "case_id",
        "subject_id",
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
    # The events page's filters, in date order (migration 12).
    Index("ix_events_case_start", "case_id", "start_at"),
    Index("ix_events_calendar_start", "calendar_id", "start_at"),
    # The case services live events carry, by case, for the event form (migration 15).
    Index(
        "ix_events_case_services",
        "case_id",
        "case_service_id",
        "start_at",
        "event_id",
        sqlite_where=text("deleted_at IS NULL AND case_service_id IS NOT NULL"),
        postgresql_where=text("deleted_at IS NULL AND case_service_id IS NOT NULL"),
    ),
)

event_staff = Table(
    "event_staff",
    metadata,
    Column(
        "event_id",
        BigInteger,
        ForeignKey("events.event_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("staff_id", BigInteger, primary_key=True, autoincrement=False, index=True),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("events_cursor", UTCDateTime),
    Column("events_settled", Boolean, nullable=False),
    Column("cases_cursor", UTCDateTime),
    Column("subjects_cursor", UTCDateTime),
    Column("staff_cursor", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("last_reconcile_at", UTCDateTime),
    Column("reference_refreshed_at", UTCDateTime),
    Column("heartbeat_at", UTCDateTime),
    Column("requests_total", BigInteger, nullable=False),
    Column("rate_limited_total", BigInteger, nullable=False),
    Column("events_fetched_total", BigInteger, nullable=False),
    Column("full_sync_resume_from", UTCDateTime),
    Column("full_sync_started_at", UTCDateTime),
    Column("full_sync_newest", UTCDateTime),
    Column("last_reconcile_note", Text),
    Column("walk_by_number", Boolean, nullable=False, server_default=false()),
    CheckConstraint("id = 1", name="ck_sync_state_single_row"),
)

deletion_candidates = Table(
    "deletion_candidates",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    Column("absent_since", UTCDateTime, nullable=False),
    Column("probes", Integer, nullable=False),
    Column("last_probe_at", UTCDateTime),
)

feeds = Table(
    "feeds",
    metadata,
    Column("feed_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("target_id", BigInteger),
    Column("name", Text),  # NULL: named after its calendar or staff member, following renames
    Column("privacy", String(16), nullable=False),
    Column("timezone", Text),
    Column("token", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rotated_at", UTCDateTime),
    UniqueConstraint("kind", "target_id", name="uq_feeds_kind_target"),
    # NULL target ids never collide in a unique constraint, so "one feed of everything" needs
    # its own partial index.
    Index(
        "uq_feeds_single_all",
        "kind",
        unique=True,
        sqlite_where=text("kind = 'all'"),
        postgresql_where=text("kind = 'all'"),
    ),
)

feed_renders = Table(
    "feed_renders",
    metadata,
    Column(
        "feed_id",
        Integer,
        ForeignKey("feeds.feed_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("version", Integer, nullable=False),
    Column("window_key", Text, nullable=False),
    # The head before the body (migration 8): on SQLite a fetch reads these without walking
    # the body's overflow pages.
    Column("etag", Text, nullable=False),
    Column("rendered_at", UTCDateTime, nullable=False),
    Column("privacy", String(16)),  # what the render shows; NULL: unknown (older renders)
    Column("size", Integer, nullable=False),  # the body's bytes, uncompressed
    # Gzipped: a 50,000-event feed is 25 MB as text and 1.5 MB so, which is what each render
    # writes (and what most clients are sent as it is).
    Column("body_gzip", LargeBinary, nullable=False),
)

feed_fetches = Table(
    "feed_fetches",
    metadata,
    Column(
        "feed_id",
        Integer,
        ForeignKey("feeds.feed_id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("user_agent", String(300), primary_key=True),
    Column("last_fetched_at", UTCDateTime, nullable=False),
    Column("fetch_count", BigInteger, nullable=False),
    Column("first_fetched_at", UTCDateTime),  # NULL: first fetched before migration 12
)

# Requests to Trackops per UTC hour, and how many failed (the dashboard's chart; migration 13).
request_hours = Table(
    "request_hours",
    metadata,
    Column("hour_start", UTCDateTime, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("rate_limited", BigInteger, nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("failure_id", Integer, primary_key=True, autoincrement=True),
    Column("client_key", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_client_at", "client_key", "at"),
)

# Trackops records the sync skipped (is_skipped) or kept with a value changed, one row per field;
# a record read fine again loses its rows (see problems.py). Never the record's body.
record_problems = Table(
    "record_problems",
    metadata,
    Column("kind", String(16), primary_key=True),  # event, case, subject, staff
    Column("record_key", Text, primary_key=True),  # the id; an unreadable one as sent, quoted
    Column("field", Text, primary_key=True),  # "" when the record as a whole was at fault
    Column("is_skipped", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("label", Text, nullable=False),  # its title or name, shortened
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)

# One row: the admin session version every login's cookie carries (see sessions.py).
admin_session = Table(
    "admin_session",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", UTCDateTime),
    CheckConstraint("id = 1", name="ck_admin_session_single_row"),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    # The same upload (or form submission) always gets the same key: resubmitting finds it.
    Column("batch_key", String(64), nullable=False, unique=True),
    Column("source", String(8), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("total", Integer, nullable=False),
    Column("ready", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    # JSON: the rows not queued, as read from the file, with their mistakes (see
    # bridge.submissions.RejectedRows): the batch page lists them and offers them to fix.
    Column("rejected", Text),
)

outbox_items = Table(
    "outbox_items",
    metadata,
    Column("item_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("batches.batch_id"), nullable=False, index=True),
    Column("source_row", Integer),
    Column("row_label", Text, nullable=False),  # "Row 4", "Event 3 ('Hearing')", "Form entry"
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("body_sha256", String(64), nullable=False, index=True),  # finds copies across batches
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),  # the exact POST /events body, JSON
    Column("state", String(16), nullable=False),
    Column("event_id", BigInteger, index=True),
    Column("error", Text),
    Column("field_errors", Text),  # JSON {"field": ["problem", ...]} from Trackops' refusal
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "state IN ('pending', 'sending', 'unknown', 'sent', 'failed')",
        name="ck_outbox_items_state",
    ),
    Index("ix_outbox_items_state_item", "state", "item_id"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("filename", Text, nullable=False),
    Column("choices", Text, nullable=False),  # JSON object of the form's choices
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("parsed", Text),  # JSON: what reading the file gave (bridge.submissions.ParsedFile)
)

# One row: the one process that may talk to Trackops, until expires_at (see lease.py).
worker_lease = Table(
    "worker_lease",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", Text),  # "worker on host pid 12 #a1b2c3", None when released
    Column("acquired_at", UTCDateTime),
    Column("renewed_at", UTCDateTime),  # the holder's heartbeat
    Column("expires_at", UTCDateTime),
    Column("released_at", UTCDateTime),
    CheckConstraint("id = 1", name="ck_worker_lease_single_row"),
)

# One row: when the next request to Trackops may start, in seconds since the epoch (lease.py).
request_slot = Table(
    "request_slot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("next_at", Double, nullable=False),
    CheckConstraint("id = 1", name="ck_request_slot_single_row"),
)

# CalDAV calendars a feed is pushed to (bridge.delivery); credentials by name only.
push_destinations = Table(
    "push_destinations",
    metadata,
    Column("destination_id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.feed_id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("username", Text),
    Column("password_env", Text),  # the NAME of an environment variable holding the password
    Column("token_file", Text),  # the path of a file holding a bearer token
    Column("created_at", UTCDateTime, nullable=False),
    Column("pushed_version", Integer),  # the feed version last applied in full
    Column("backlog", Integer, nullable=False),
    Column("failures", Integer, nullable=False),  # passes in a row that failed
    Column("next_attempt_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("reconciled_at", UTCDateTime),
)

# What each destination holds of ours: only these objects are ever changed or deleted there.
push_objects = Table(
    "push_objects",
    metadata,
    Column(
        "destination_id",
        Integer,
        ForeignKey("push_destinations.destination_id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("uid", Text, primary_key=True),
    Column("href", Text, nullable=False),
    Column("etag", Text),
    Column("content_hash", String(64), nullable=False),
    Column("pushed_at", UTCDateTime, nullable=False),
)

# Receivers of signed webhooks (bridge.delivery.webhooks); the secret signs, never shown again.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # whsec_...: the worker signs with it
    Column("event_types", Text, nullable=False),  # comma-separated, e.g. event.created,...
    Column("calendar_id", BigInteger),  # only this calendar's events, when set
    Column("staff_id", BigInteger),  # only this staff member's events, when set
    Column("privacy", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("disabled_reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    CheckConstraint("state IN ('active', 'disabled')", name="ck_webhook_subscriptions_state"),
)

# One per change some subscription wanted: the webhook-id and the facts every body is made from.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("message_id", String(40), primary_key=True, autoincrement=False),
    Column("event_type", String(32), nullable=False),
    Column("subject_key", Text, nullable=False, index=True),  # event:123, batch:4
    Column("facts", Text, nullable=False),  # JSON
    Column("created_at", UTCDateTime, nullable=False),
)

# A message on its way to one subscription: the durable queue the worker sends from.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("webhook_subscriptions.subscription_id"),
        nullable=False,
    ),
    Column(
        "message_id",
        String(40),
        ForeignKey("webhook_messages.message_id"),
        nullable=False,
        index=True,
    ),
    Column("subject_key", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("window_started_at", UTCDateTime, nullable=False),  # retries end a window after
    Column("claimed_by", Text),  # the worker sending it now
    Column("claimed_at", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime),
    CheckConstraint(
        "state IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_state"
    ),
    # Order per event: what waits for an earlier delivery of the same subject is found here.
    Index("ix_webhook_deliveries_order", "subscription_id", "subject_key", "delivery_id"),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
)
