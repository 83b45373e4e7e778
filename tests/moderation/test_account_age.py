"""The user card's account age: the largest whole unit, in words."""
from datetime import UTC, datetime, timedelta

import pytest

from app.moderation.services import how_long_ago

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("age, words", [
    (timedelta(hours=5), "today"), (timedelta(days=1), "1 day ago"), (timedelta(days=6), "6 days ago"),
    (timedelta(days=7), "1 week ago"), (timedelta(days=29), "4 weeks ago"), (timedelta(days=95), "3 months ago"),
    (timedelta(days=365), "1 year ago"), (timedelta(days=800), "2 years ago"), (timedelta(days=-3), "today"),
])
def test_how_long_ago(age, words):
    assert how_long_ago(NOW - age, NOW) == words
