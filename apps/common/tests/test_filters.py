"""The list endpoints' filter building blocks: times read in UTC, one sort key with its tie-break."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError

from apps.common.filters import OrderingFilter, UtcDateTimeField


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01t12:00:00z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T13:30:00+01:30", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T12:00:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T12:00:00.123456Z", datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_a_time_is_read_in_utc(raw, expected):
    parsed = UtcDateTimeField().clean(raw)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01", "2026-03-01T12:00:60Z", "noon", "2026-13-01"]
)
def test_a_time_utc_cannot_hold_or_no_time_is_invalid(raw):
    with pytest.raises(ValidationError):
        UtcDateTimeField().clean(raw)


def test_a_time_already_parsed_is_kept():
    paris = datetime(2026, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))

    assert UtcDateTimeField().clean(paris) == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_ordering_offers_each_field_both_ways():
    ordering = OrderingFilter(fields=("created_at", "id"))

    assert [key for key, _ in ordering.extra["choices"]] == ["created_at", "-created_at", "id", "-id"]
