"""Dates said the Korean way: "8월 31일(수) 18:00", "9.6.", "D-3" (Seoul calendar days)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TypeVar

from bot.core.clock import SEOUL

WEEKDAYS = "월화수목금토일"


_D = TypeVar("_D", date, datetime)


def _local(value: _D) -> _D:
    if isinstance(value, datetime):
        return value.astimezone(SEOUL) if value.tzinfo else value
    return value


def kdate(value: date | datetime | None) -> str:
    """8월 31일(수)"""
    if value is None:
        return ""
    value = _local(value)
    return f"{value.month}월 {value.day}일({WEEKDAYS[value.weekday()]})"


def kdatetime(value: datetime | None) -> str:
    """8월 31일(수) 18:00"""
    if value is None:
        return ""
    value = _local(value)
    return f"{kdate(value)} {value:%H:%M}"


def kmd(value: date | datetime | None) -> str:
    """9.6."""
    if value is None:
        return ""
    value = _local(value)
    return f"{value.month}.{value.day}."


def dday(target: date | datetime | None, now: datetime) -> str:
    """D-3, D-day, D+2 counted in Seoul calendar days."""
    if target is None:
        return ""
    t = _local(target)
    t = t.date() if isinstance(t, datetime) else t
    n = now.astimezone(SEOUL).date()
    diff = (t - n).days
    return "D-day" if diff == 0 else (f"D-{diff}" if diff > 0 else f"D+{-diff}")
