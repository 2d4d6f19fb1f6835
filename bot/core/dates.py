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


NEAR = {-1: "어제", 0: "오늘", 1: "내일", 2: "모레"}


def kdate(value: date | datetime | None, now: datetime | None = None) -> str:
    """8월 31일(수); with `now`, a day next to it says so: 8월 31일(수, 오늘)."""
    if value is None:
        return ""
    value = _local(value)
    day = value.date() if isinstance(value, datetime) else value
    near = NEAR.get((day - now.astimezone(SEOUL).date()).days) if isinstance(now, datetime) else None
    return f"{value.month}월 {value.day}일({WEEKDAYS[value.weekday()]}{', ' + near if near else ''})"


def kdatetime(value: datetime | None, now: datetime | None = None) -> str:
    """8월 31일(수) 18:00; with `now`: 8월 31일(수, 오늘) 18:00."""
    if value is None:
        return ""
    value = _local(value)
    return f"{kdate(value, now)} {value:%H:%M}"


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


RECENT_DAYS = 100  # a count of days since something is said while it is this young ('개통한 지 며칠째예요?')


def since(target: date | datetime | None, now: datetime) -> str:
    """D-day, D+1 … D+99 on and after the day of `target`; "" before it, and once a count of days says nothing."""
    d = dday(target, now)
    return d if d == "D-day" or (d.startswith("D+") and int(d[2:]) < RECENT_DAYS) else ""


def state(ms, now: datetime) -> str:
    """Where `now` stands against a milestone: before, during (a window), after; "" when no date is set yet.

    A whole-day milestone (a deadline date) lasts until the end of that day."""
    if ms is None:
        return ""
    if ms.start and ms.end:
        return "before" if now < ms.start else ("during" if now < ms.end else "after")
    if ms.at:
        return "before" if now < ms.at else "after"
    if ms.date:
        return "before" if now.astimezone(SEOUL).date() <= ms.date else "after"
    return ""


def left(ms, now: datetime) -> str:
    """How long until a milestone (a window's end while it runs): "D-5, 5일 남음", "D-1, 내일 09:00, 16시간 남음",
    "D-day, 오늘 18:00까지, 3시간 남음", "D-day, 오늘까지"; "" once it has passed or while it has no date."""
    where = state(ms, now)
    if where not in ("before", "during"):
        return ""
    target = ms.end if where == "during" else (ms.at or ms.start or ms.date)
    d = dday(target, now)
    if d not in ("D-1", "D-day"):
        return f"{d}, {d[2:]}일 남음"
    if not isinstance(target, datetime):
        return "D-1, 내일까지" if d == "D-1" else "D-day, 오늘까지"
    # from the day before, staff count hours ('개통까지 몇 시간 남았어요?' the evening before)
    minutes = max(round((target - now).total_seconds() / 60), 0)  # the clock runs: 9:59.9 is 10 minutes
    hours, minutes = divmod(minutes, 60)
    remaining = " ".join(p for p in (f"{hours}시간" if hours else "", f"{minutes}분" if minutes else "") if p)
    remaining = f"{remaining or '1분 미만'} 남음"
    if d == "D-1":
        return f"D-1, 내일 {_local(target):%H:%M}, {remaining}"
    return f"D-day, 오늘 {_local(target):%H:%M}까지, {remaining}"
