"""Schema migrations: numbered steps, each applied once in its own transaction, in order.

Each step writes its DDL as of its own version (never importing ``tables.py``), so an old
database upgrades through the same path whatever the current code looks like. To change the
schema: append ``Migration(N + 1, ...)`` and bring ``tables.py`` to match.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
)

from bridge.store.columns import UTCDateTime


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial_schema(conn: Connection) -> None:
    m = MetaData()
    Table(
        "calendars",
        m,
        Column("calendar_id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", Text, nullable=False),
        Column("timezone", Text),
    )

    Table(
        "cases",
        m,
        Column("case_id", BigInteger, primary_key=True, autoincrement=False),
        Column("case_number", Text, nullable=False),
        Column("reference", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True)),
    )

    Table(
        "subjects",
        m,
        Column("subject_id", BigInteger, primary_key=True, autoincrement=False),
        Column("case_id", BigInteger, index=True),
        Column("name", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True)),
    )

    Table(
        "staff",
        m,
        Column("staff_id", BigInteger, primary_key=True, autoincrement=False),
        Column("first_name", Text, nullable=False),
        Column("last_name", Text, nullable=False),
        Column("email", Text, nullable=False),
        Column("updated_at", DateTime(timezone=True)),
    )

    Table(
        "events",
        m,
        Column("event_id", BigInteger, primary_key=True, autoincrement=False),
        Column("calendar_id", BigInteger, ForeignKey("calendars.calendar_id"), index=True),
        Column("case_id", BigInteger),
        Column("subject_id", BigInteger),
        Column("case_service_id", BigInteger),
        Column("title", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("start_at", DateTime(timezone=True), nullable=False),
        Column("end_at", DateTime(timezone=True), nullable=False, index=True),
        Column("timezone", Text),
        Column("is_allday", Boolean, nullable=False),
        Column("address", Text),
        Column("alert_at", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), index=True),
        Column("content_hash", String(64), nullable=False),
        Column("sequence", Integer, nullable=False),
        Column("raw_json", Text, nullable=False),
        Column("first_seen_at", DateTime(timezone=True), nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
        Column("deleted_at", DateTime(timezone=True)),
    )

    Table(
        "event_staff",
        m,
        Column(
            "event_id",
            BigInteger,
            ForeignKey("events.event_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        Column("staff_id", BigInteger, primary_key=True, autoincrement=False, index=True),
    )

    Table(
        "sync_state",
        m,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("events_cursor", DateTime(timezone=True)),
        Column("events_settled", Boolean, nullable=False),
        Column("cases_cursor", DateTime(timezone=True)),
        Column("subjects_cursor", DateTime(timezone=True)),
        Column("staff_cursor", DateTime(timezone=True)),
        Column("last_attempt_at", DateTime(timezone=True)),
        Column("last_success_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Column("last_error_at", DateTime(timezone=True)),
        Column("last_reconcile_at", DateTime(timezone=True)),
        Column("reference_refreshed_at", DateTime(timezone=True)),
        Column("heartbeat_at", DateTime(timezone=True)),
        Column("requests_total", BigInteger, nullable=False),
        Column("rate_limited_total", BigInteger, nullable=False),
        Column("events_fetched_total", BigInteger, nullable=False),
        CheckConstraint("id = 1", name="ck_sync_state_single_row"),
    )

    Table(
        "feeds",
        m,
        Column("feed_id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(16), nullable=False),
        Column("target_id", BigInteger),
        Column("name", Text),
        Column("privacy", String(16), nullable=False),
        Column("timezone", Text),
        Column("token", String(64), nullable=False),
        Column("token_sha256", String(64), nullable=False, unique=True),
        Column("version", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("rotated_at", DateTime(timezone=True)),
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

    Table(
        "feed_renders",
        m,
        Column(
            "feed_id",
            Integer,
            ForeignKey("feeds.feed_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        Column("version", Integer, nullable=False),
        Column("window_key", Text, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("etag", Text, nullable=False),
        Column("rendered_at", DateTime(timezone=True), nullable=False),
    )

    Table(
        "feed_fetches",
        m,
        Column(
            "feed_id",
            Integer,
            ForeignKey("feeds.feed_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        Column("user_agent", String(300), primary_key=True),
        Column("last_fetched_at", DateTime(timezone=True), nullable=False),
        Column("fetch_count", BigInteger, nullable=False),
    )

    Table(
        "login_failures",
        m,
        Column("failure_id", Integer, primary_key=True, autoincrement=True),
        Column("client_key", Text, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Index("ix_login_failures_client_at", "client_key", "at"),
    )
    m.create_all(conn)


def _v2_outbox(conn: Connection) -> None:
    m = MetaData()
    Table(
        "batches",
        m,
        Column("batch_id", Integer, primary_key=True, autoincrement=True),
        Column("batch_key", String(64), nullable=False, unique=True),
        Column("source", String(8), nullable=False),
        Column("label", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("total", Integer, nullable=False),
        Column("ready", Integer, nullable=False),
        Column("invalid", Integer, nullable=False),
    )

    Table(
        "outbox_items",
        m,
        Column("item_id", Integer, primary_key=True, autoincrement=True),
        Column("batch_id", Integer, ForeignKey("batches.batch_id"), nullable=False, index=True),
        Column("source_row", Integer),
        Column("row_label", Text, nullable=False),
        Column("idempotency_key", String(64), nullable=False, unique=True),
        Column("body_sha256", String(64), nullable=False, index=True),
        Column("title", Text, nullable=False),
        Column("body", Text, nullable=False),
        Column("state", String(16), nullable=False),
        Column("event_id", BigInteger, index=True),
        Column("error", Text),
        Column("field_errors", Text),
        Column("attempts", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        CheckConstraint(
            "state IN ('pending', 'sending', 'unknown', 'sent', 'failed')",
            name="ck_outbox_items_state",
        ),
        Index("ix_outbox_items_state_item", "state", "item_id"),
    )

    Table(
        "uploads",
        m,
        Column("upload_id", String(64), primary_key=True, autoincrement=False),
        Column("data", LargeBinary, nullable=False),
        Column("filename", Text, nullable=False),
        Column("choices", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )
    m.create_all(conn)


def _add_columns(conn: Connection, table: str, *columns: Column[object]) -> None:
    """ALTER TABLE ... ADD COLUMN for nullable columns, each type spelled as this database does."""
    for column in columns:
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}"))


def _v3_proven_deletions(conn: Connection) -> None:
    # A first full sync resumes where a kill stopped it: the creation stamp to walk on from,
    # when it began, and the newest update it had seen.
    _add_columns(
        conn,
        "sync_state",
        Column("full_sync_resume_from", DateTime(timezone=True)),
        Column("full_sync_started_at", DateTime(timezone=True)),
        Column("full_sync_newest", DateTime(timezone=True)),
        Column("last_reconcile_note", Text),
    )
    # Set when a walk by creation stamp proved incomplete: the next walks go by page number.
    conn.execute(
        text("ALTER TABLE sync_state ADD COLUMN walk_by_number BOOLEAN NOT NULL DEFAULT false")
    )
    m = MetaData()
    # Events a listing no longer showed: a hint, kept until GET /events/{id} proves it either way.
    Table(
        "deletion_candidates",
        m,
        Column("event_id", BigInteger, primary_key=True, autoincrement=False),
        Column("absent_since", DateTime(timezone=True), nullable=False),
        Column("probes", Integer, nullable=False),
        Column("last_probe_at", DateTime(timezone=True)),
    )
    m.create_all(conn)


def _v4_record_problems(conn: Connection) -> None:
    # Records the sync skipped or kept with a value changed: what was wrong, by field.
    m = MetaData()
    Table(
        "record_problems",
        m,
        Column("kind", String(16), primary_key=True),
        Column("record_key", Text, primary_key=True),
        Column("field", Text, primary_key=True),
        Column("is_skipped", Boolean, nullable=False),
        Column("detail", Text, nullable=False),
        Column("label", Text, nullable=False),
        Column("first_seen_at", DateTime(timezone=True), nullable=False),
        Column("last_seen_at", DateTime(timezone=True), nullable=False),
    )
    m.create_all(conn)


def _v5_admin_session(conn: Connection) -> None:
    # The admin session version: a logout bumps it, and cookies signed before are refused.
    m = MetaData()
    Table(
        "admin_session",
        m,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("version", BigInteger, nullable=False),
        Column("changed_at", DateTime(timezone=True)),
        CheckConstraint("id = 1", name="ck_admin_session_single_row"),
    )
    m.create_all(conn)


def _v6_parsed_uploads(conn: Connection) -> None:
    # What reading an upload gave (JSON), so its preview and confirm never read the file again.
    _add_columns(conn, "uploads", Column("parsed", Text))


def _v7_worker_lease(conn: Connection) -> None:
    # Which process may talk to Trackops, and when the next request may start (lease.py).
    m = MetaData()
    Table(
        "worker_lease",
        m,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("holder", Text),
        Column("acquired_at", DateTime(timezone=True)),
        Column("renewed_at", DateTime(timezone=True)),
        Column("expires_at", DateTime(timezone=True)),
        Column("released_at", DateTime(timezone=True)),
        CheckConstraint("id = 1", name="ck_worker_lease_single_row"),
    )
    Table(
        "request_slot",
        m,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("next_at", Double, nullable=False),
        CheckConstraint("id = 1", name="ck_request_slot_single_row"),
    )
    m.create_all(conn)


def _v8_feed_engine(conn: Connection) -> None:
    # Stored renders get their head (ETag, time, privacy, size) before the body, so a feed
    # fetch reads it without touching the body, and keep the body gzipped. A render of the
    # feed's current version shows the feed's privacy; an older one may show more than the
    # feed now allows: marked unknown.
    m = MetaData()
    renders = Table(
        "feed_renders_v8",
        m,
        Column("feed_id", Integer, primary_key=True, autoincrement=False),
        Column("version", Integer, nullable=False),
        Column("window_key", Text, nullable=False),
        Column("etag", Text, nullable=False),
        Column("rendered_at", DateTime(timezone=True), nullable=False),
        Column("privacy", String(16)),
        Column("size", Integer, nullable=False),
        Column("body_gzip", LargeBinary, nullable=False),
        ForeignKeyConstraint(["feed_id"], ["feeds.feed_id"], ondelete="CASCADE"),
    )
    Table("feeds", m, Column("feed_id", Integer, primary_key=True))
    m.create_all(conn, tables=[renders])
    old = conn.execute(
        text(
            "SELECT r.feed_id, r.version, r.window_key, r.etag, r.rendered_at,"
            " CASE WHEN r.version = f.version THEN f.privacy END AS privacy, r.body"
            " FROM feed_renders r JOIN feeds f ON f.feed_id = r.feed_id"
        )
    ).all()
    # Times as the database handed them out (text on SQLite), written back the same way.
    insert = text(
        "INSERT INTO feed_renders_v8"
        " (feed_id, version, window_key, etag, rendered_at, privacy, size, body_gzip)"
        " VALUES (:feed_id, :version, :window_key, :etag, :rendered_at, :privacy, :size, :body)"
    ).bindparams(bindparam("body", type_=LargeBinary))
    for row in old:
        body = bytes(row.body)
        conn.execute(
            insert,
            {
                **{key: getattr(row, key) for key in ("feed_id", "version", "window_key")},
                "etag": row.etag,
                "rendered_at": row.rendered_at,
                "privacy": row.privacy,
                "size": len(body),
                "body": gzip.compress(body, 6, mtime=0),
            },
        )
    conn.execute(text("DROP TABLE feed_renders"))
    conn.execute(text("ALTER TABLE feed_renders_v8 RENAME TO feed_renders"))
    # A feed render reads every event's id, sequence and stamps in feed order: from this
    # index alone, live events only.
    conn.execute(
        text(
            "CREATE INDEX ix_events_feed_rows ON events (start_at, event_id, end_at, sequence,"
            " updated_at, calendar_id, case_id, subject_id) WHERE deleted_at IS NULL"
        )
    )


def _v9_push_destinations(conn: Connection) -> None:
    # CalDAV destinations per feed and what each holds of ours (bridge.delivery).
    m = MetaData()
    Table("feeds", m, Column("feed_id", Integer, primary_key=True))
    Table(
        "push_destinations",
        m,
        Column("destination_id", Integer, primary_key=True, autoincrement=True),
        Column("feed_id", Integer, ForeignKey("feeds.feed_id"), nullable=False, index=True),
        Column("url", Text, nullable=False),
        Column("username", Text),
        Column("password_env", Text),
        Column("token_file", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("pushed_version", Integer),
        Column("backlog", Integer, nullable=False),
        Column("failures", Integer, nullable=False),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_success_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Column("last_error_at", DateTime(timezone=True)),
        Column("reconciled_at", DateTime(timezone=True)),
    )
    Table(
        "push_objects",
        m,
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
        Column("pushed_at", DateTime(timezone=True), nullable=False),
    )
    m.create_all(conn, tables=[m.tables["push_destinations"], m.tables["push_objects"]])


def _v12_admin_pages(conn: Connection) -> None:
    # When each client first fetched a feed (its usual interval is the span over its count, so
    # a client that stopped can be told from a slow one), and the events page's filters by
    # case and calendar in date order from an index rather than a scan of every event.
    _add_columns(conn, "feed_fetches", Column("first_fetched_at", DateTime(timezone=True)))
    conn.execute(text("CREATE INDEX ix_events_case_start ON events (case_id, start_at)"))
    conn.execute(text("CREATE INDEX ix_events_calendar_start ON events (calendar_id, start_at)"))


def _v13_request_hours(conn: Connection) -> None:
    # Requests to Trackops and the failed ones, per UTC hour: the dashboard's 24 h chart.
    m = MetaData()
    Table(
        "request_hours",
        m,
        Column("hour_start", DateTime(timezone=True), primary_key=True),
        Column("requests", BigInteger, nullable=False),
        Column("errors", BigInteger, nullable=False),
        Column("rate_limited", BigInteger, nullable=False),
    )
    m.create_all(conn)


def _v10_webhooks(conn: Connection) -> None:
    # Webhook subscriptions and their durable queue (bridge.store.webhooks).
    m = MetaData()
    Table(
        "webhook_subscriptions",
        m,
        Column("subscription_id", Integer, primary_key=True, autoincrement=True),
        Column("url", Text, nullable=False),
        Column("secret", Text, nullable=False),
        Column("event_types", Text, nullable=False),
        Column("calendar_id", BigInteger),
        Column("staff_id", BigInteger),
        Column("privacy", String(16), nullable=False),
        Column("state", String(16), nullable=False),
        Column("disabled_reason", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_success_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Column("last_error_at", DateTime(timezone=True)),
        CheckConstraint("state IN ('active', 'disabled')", name="ck_webhook_subscriptions_state"),
    )
    Table(
        "webhook_messages",
        m,
        Column("message_id", String(40), primary_key=True, autoincrement=False),
        Column("event_type", String(32), nullable=False),
        Column("subject_key", Text, nullable=False, index=True),
        Column("facts", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "webhook_deliveries",
        m,
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
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("window_started_at", DateTime(timezone=True), nullable=False),
        Column("claimed_by", Text),
        Column("claimed_at", DateTime(timezone=True)),
        Column("last_attempt_at", DateTime(timezone=True)),
        Column("last_status", Integer),
        Column("last_error", Text),
        Column("delivered_at", DateTime(timezone=True)),
        CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_state"
        ),
        Index("ix_webhook_deliveries_order", "subscription_id", "subject_key", "delivery_id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )
    m.create_all(conn)


def _v14_batch_rejected_rows(conn: Connection) -> None:
    # A batch keeps the rows that were not queued, so its page can list them and offer them
    # as a file to fix and upload again.
    _add_columns(conn, "batches", Column("rejected", Text))


def _v15_case_services(conn: Connection) -> None:
    # The case services the event form offers are the ones live events carry, per case: counted
    # from an index of those events alone, not a scan of every event (bridge.store.case_services).
    conn.execute(
        text(
            "CREATE INDEX ix_events_case_services"
            " ON events (case_id, case_service_id, start_at, event_id)"
            " WHERE deleted_at IS NULL AND case_service_id IS NOT NULL"
        )
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial_schema),
    Migration(2, "outbox: batches, items to send, uploads awaiting confirmation", _v2_outbox),
    Migration(3, "deletions proven one by one; a first sync that resumes", _v3_proven_deletions),
    Migration(4, "record problems: records skipped or kept changed, by field", _v4_record_problems),
    Migration(5, "admin session version: logout ends sessions", _v5_admin_session),
    Migration(6, "uploads keep their parse: a preview is read once", _v6_parsed_uploads),
    Migration(7, "worker lease and shared request slot: one worker, one rate", _v7_worker_lease),
    Migration(
        8, "feed engine: render heads before bodies; feed rows from an index", _v8_feed_engine
    ),
    Migration(
        9, "push destinations: CalDAV calendars per feed and what each holds", _v9_push_destinations
    ),
    Migration(10, "webhooks: subscriptions, messages and their delivery queue", _v10_webhooks),
    Migration(
        12, "admin pages: first fetch per client; events by case and calendar", _v12_admin_pages
    ),
    Migration(13, "requests to Trackops per hour, for the dashboard", _v13_request_hours),
    Migration(14, "batches keep the rows not queued, to fix", _v14_batch_rejected_rows),
    Migration(
        15, "the case services live events carry, by case, from an index", _v15_case_services
    ),
)
LATEST_VERSION = max(m.version for m in MIGRATIONS)

# The bookkeeping table never changes shape, so it sits outside the numbered steps.
_bookkeeping = MetaData()
_schema_version = Table(
    "schema_version",
    _bookkeeping,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

# Any constant works: it only has to be the same for every process migrating this database.
_PG_MIGRATION_LOCK = 7_406_111_501


def read_schema_version(conn: Connection) -> int:
    """The highest migration applied; 0 for an empty database."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    latest = conn.execute(select(func.max(_schema_version.c.version))).scalar_one()
    return int(latest or 0)


def apply_migrations(
    begin_write: Callable[[], AbstractContextManager[Connection]],
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply the missing migrations, each in its own write transaction; return their versions.

    The applied set is re-read under a lock inside each transaction, so two processes migrating
    at once (two release phases) apply each step exactly once.
    """
    done: list[int] = []
    for migration in migrations:
        with begin_write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            _bookkeeping.create_all(conn)
            applied = set(conn.execute(select(_schema_version.c.version)).scalars())
            if migration.version in applied:
                continue
            migration.apply(conn)
            conn.execute(
                insert(_schema_version).values(
                    version=migration.version, applied_at=datetime.now(UTC)
                )
            )
        done.append(migration.version)
    return done
