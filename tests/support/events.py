"""Event records for store and sync tests: `make_event(event_id, **changes)` around fixed times."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bridge.models import Event

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
SYNC_AT = datetime(2029, 12, 1, 12, 0, tzinfo=UTC)


def make_event(event_id: int, **changes: object) -> Event:
    """Event `event_id`, starting `event_id` hours after T0, as synced at SYNC_AT; `changes` win."""
    event = Event(
        event_id=event_id,
        title=f"Surveillance {event_id}",
        start_at=T0 + timedelta(hours=event_id),
        end_at=T0 + timedelta(hours=event_id, minutes=90),
        calendar_id=1,
        timezone="America/Chicago",
        staff_ids=(10,),
        updated_at=SYNC_AT,
        raw_json=f'{{"id": {event_id}}}',
    )
    return dataclasses.replace(event, **changes)  # type: ignore[arg-type]
