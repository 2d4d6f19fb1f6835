"""Counting days in Seoul calendar days (bot/core/dates.py)."""
import pytest

from bot.core.clock import parse_time
from bot.core.dates import dday, since

LAUNCH = parse_time("2022-09-06T09:00")


@pytest.mark.parametrize("now, d, counted", [
    ("2022-09-05T23:59", "D-1", ""),  # before the day: nothing to count since
    ("2022-09-06T00:30", "D-day", "D-day"),  # the day itself, before or after the hour
    ("2022-09-06T10:00", "D-day", "D-day"),
    ("2022-10-04T10:00", "D+28", "D+28"),
    ("2022-12-14T23:59", "D+99", "D+99"),
    ("2022-12-15T00:00", "D+100", ""),  # a count of months of days says nothing
])
def test_days_since_a_moment_are_counted_while_few(now, d, counted):
    assert dday(LAUNCH, parse_time(now)) == d
    assert since(LAUNCH, parse_time(now)) == counted
