"""A zone's coming changes of UTC offset (`next_changes`), found with zoneinfo, for tests that
put events on the days the clocks skip or repeat an hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Change:
    """One change of UTC offset: the clocks skip (spring) or repeat (fall) an interval."""

    zone: str
    at: datetime  # aware UTC
    before: timedelta
    after: timedelta

    @property
    def wall_before(self) -> datetime:
        """The wall clock at the change, read on the clock that ends (naive)."""
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        return (self.at + self.after).replace(tzinfo=None)


def next_changes(zone: str, since: date, days: int = 400) -> list[Change]:
    """The zone's offset changes in the coming ``days``, found hour by hour with zoneinfo."""
    tz = ZoneInfo(zone)
    found, hour = [], timedelta(hours=1)
    here = datetime.combine(since, time(0), tzinfo=UTC)
    offset = here.astimezone(tz).utcoffset()
    for _ in range(days * 24):
        there = here + hour
        there_offset = there.astimezone(tz).utcoffset()
        if there_offset != offset:
            moment = here
            while moment.astimezone(tz).utcoffset() == offset:  # to the minute
                moment += timedelta(minutes=1)
            assert offset is not None and there_offset is not None
            found.append(Change(zone, moment, offset, there_offset))
        here, offset = there, there_offset
    return found
