"""The feed's admin page shows where it is pushed and each destination's health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from bridge.config import Settings
from bridge.models import FeedKind, Privacy
from bridge.store import Store, open_store
from tests.support.web import make_settings

AT = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    with open_store(url) as filling:
        filling.migrate()
    return url


@pytest.fixture
def web_settings() -> Settings:
    return make_settings()


def test_the_feed_page_shows_its_destinations_and_their_health(
    db: Store, admin: FlaskClient
) -> None:
    db.ensure_feeds(Privacy.FULL)
    feed = next(f for f in db.list_feeds() if f.kind is FeedKind.ALL)
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    assert "Not pushed to any CalDAV calendar" in page

    ok = db.add_destination(feed.feed_id, "https://caldav.fastmail.com/dav/cal/a/", AT)
    db.record_push_success(ok.destination_id, AT, pushed_version=1, reconciled=True)
    failing = db.add_destination(
        feed.feed_id, "https://caldav.icloud.com/1/calendars/b/", AT, password_env="ICLOUD_PW"
    )
    db.record_push_failure(
        failing.destination_id,
        AT,
        error="the server answered 401 unauthorized",
        backlog=4,
        next_attempt_at=AT + timedelta(minutes=1),
    )
    page = admin.get(f"/admin/feeds/{feed.feed_id}").get_data(as_text=True)
    assert "https://caldav.fastmail.com/dav/cal/a/" in page
    assert "https://caldav.icloud.com/1/calendars/b/" in page
    assert "failing (1 in a row, 4 waiting)" in page and "401 unauthorized" in page
    assert "ICLOUD_PW" not in page  # not a secret, but nothing a page needs either
