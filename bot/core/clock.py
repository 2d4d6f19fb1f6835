"""The clock every component asks for "now", so tests and rehearsals can move time.

`IEUM_NOW=2022-08-29T08:59:00+09:00` starts the clock at that instant and lets it run from there.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


class BadTime(ValueError):
    """A date-time that cannot be parsed."""


def parse_time(value: str, *, tz=SEOUL) -> datetime:
    """ISO 8601 date or date-time; naive values are taken as Seoul time."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise BadTime(f"날짜/시각 형식이 올바르지 않습니다: {value!r} (예: 2022-08-31T18:00+09:00)") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt


class Clock:
    """Real time, optionally shifted so that it started at `start` (the rehearsal clock)."""

    def __init__(self, start: datetime | None = None, *, tz=SEOUL):
        self.tz = tz
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start - datetime.now(tz)

    def now(self) -> datetime:
        return datetime.now(self.tz) + self._offset

    def jump(self, to: datetime) -> None:
        """Make it `to` now, time flowing on from there."""
        self._offset = to - datetime.now(self.tz)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock(Clock):
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, at: datetime, *, tz=SEOUL):
        super().__init__(tz=tz)
        self._at = at if at.tzinfo else at.replace(tzinfo=tz)

    def now(self) -> datetime:
        return self._at.astimezone(self.tz)

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def advance(self, **delta) -> datetime:
        self._at += timedelta(**delta)
        return self.now()
