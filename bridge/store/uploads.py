"""Uploads kept for their preview, so confirming one needs no second upload; a day at most.

Entry points: ``insert_upload`` and ``select_upload``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from bridge.store.tables import uploads

UPLOAD_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class Upload:
    """A file uploaded for preview, kept so confirming it needs no second upload.

    `parsed` is what reading the file gave (JSON values, opaque to the store), kept so that a
    preview reload or the confirm never reads the file again; None for uploads saved without.
    """

    upload_id: str
    data: bytes = field(repr=False)
    filename: str
    choices: dict[str, str]
    created_at: datetime
    parsed: dict[str, Any] | None = field(default=None, repr=False)


def insert_upload(
    conn: Connection,
    data: bytes,
    filename: str,
    choices: Mapping[str, str],
    at: datetime,
    parsed: Mapping[str, Any] | None = None,
) -> str:
    """Keep an upload for its preview; return its id (192 random bits). Prunes old ones."""
    conn.execute(delete(uploads).where(uploads.c.created_at < at - UPLOAD_LIFETIME))
    upload_id = secrets.token_urlsafe(24)
    conn.execute(
        insert(uploads).values(
            upload_id=upload_id,
            data=data,
            filename=filename,
            choices=json.dumps(dict(choices), sort_keys=True, ensure_ascii=False),
            created_at=at,
            parsed=None if parsed is None else json.dumps(parsed, ensure_ascii=False),
        )
    )
    return upload_id


def select_upload(conn: Connection, upload_id: str) -> Upload | None:
    row = conn.execute(select(uploads).where(uploads.c.upload_id == upload_id)).first()
    if row is None:
        return None
    return Upload(
        upload_id=row.upload_id,
        data=bytes(row.data),
        filename=row.filename,
        choices=json.loads(row.choices),
        created_at=row.created_at,
        parsed=json.loads(row.parsed) if row.parsed is not None else None,
    )
