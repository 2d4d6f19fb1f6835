"""Due times and the remaining processing time (처리여유기간) in Korean business hours.

Business hours are a daily window (09:00–18:00 by default) on weekdays that are not Korean public
holidays (`holidays.country_holidays("KR")`, substitute holidays included). How many hours an inquiry
gets is data: `knowledge/policy.yaml` (by inquiry type, capped for urgent ones).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import holidays as _holidays
import yaml

from bot.core.clock import SEOUL


class PolicyError(ValueError):
    """policy.yaml has a value the bot cannot use."""


def _hm(value, where: str) -> time:
    try:
        h, m = str(value).split(":")
        return time(int(h), int(m))
    except (ValueError, TypeError):
        raise PolicyError(f"policy.yaml: {where}: 시각은 HH:MM 형식이어야 합니다 ({value!r})") from None


@dataclass
class Policy:
    start: time = time(9, 0)
    end: time = time(18, 0)
    hours: dict[str, float] = field(default_factory=lambda: {"default": 24})
    urgent_hours: float | None = 4

    @classmethod
    def load(cls, path: Path | None) -> "Policy":
        if path is None or not Path(path).is_file():
            return cls()
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise PolicyError(f"{path}: YAML 오류: {e}") from None
        bh = raw.get("business_hours") or {}
        policy = cls(
            start=_hm(bh.get("start", "09:00"), "business_hours.start"),
            end=_hm(bh.get("end", "18:00"), "business_hours.end"),
            hours={str(k): float(v) for k, v in (raw.get("hours") or {"default": 24}).items()},
            urgent_hours=float(raw["urgent_hours"]) if raw.get("urgent_hours") is not None else None,
        )
        if policy.end <= policy.start:
            raise PolicyError(f"{path}: business_hours.end가 start보다 늦어야 합니다")
        if any(v <= 0 for v in policy.hours.values()):
            raise PolicyError(f"{path}: hours는 0보다 커야 합니다")
        policy.hours.setdefault("default", 24.0)
        return policy

    def hours_for(self, type_: str, urgent: bool) -> float:
        hours = self.hours.get(type_, self.hours["default"])
        if urgent and self.urgent_hours is not None:
            hours = min(hours, self.urgent_hours)
        return hours


@lru_cache(maxsize=1)
def kr_holidays():
    """Korean public holidays (substitute holidays included); one table for the whole process."""
    return _holidays.country_holidays("KR")


@lru_cache(maxsize=8192)
def is_business_day(day: date) -> bool:
    """A weekday that is not a Korean public holiday (cached: a queue page counts the business hours of
    twenty inquiries, each over up to a year of days)."""
    return day.weekday() < 5 and day not in kr_holidays()


class BusinessCalendar:
    """Adds and counts business hours in Seoul time."""

    def __init__(self, policy: Policy | None = None):
        self.policy = policy or Policy()

    def is_business_day(self, day: date) -> bool:
        return is_business_day(day)

    def is_business_time(self, dt: datetime) -> bool:
        """A business day, within the policy's business hours (Seoul time)."""
        local = dt.astimezone(SEOUL)
        return self.is_business_day(local.date()) and self.policy.start <= local.time() < self.policy.end

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.policy.start, SEOUL), datetime.combine(day, self.policy.end, SEOUL))

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` business hours after `start`."""
        t = start.astimezone(SEOUL)
        left = timedelta(hours=hours)
        day = t.date()
        for _ in range(3660):
            if self.is_business_day(day):
                lo, hi = self._window(day)
                begin = max(t, lo)
                if begin < hi:
                    if begin + left <= hi:
                        return begin + left
                    left -= hi - begin
            day += timedelta(days=1)
            t = datetime.combine(day, time(0, 0), SEOUL)
        raise PolicyError("처리 기한을 계산할 수 없습니다 (10년 넘게 영업일이 없습니다)")

    def hours_between(self, a: datetime, b: datetime) -> float:
        """Business hours from `a` to `b` (negative when `b` is before `a`)."""
        if b < a:
            return -self.hours_between(b, a)
        a, b = a.astimezone(SEOUL), b.astimezone(SEOUL)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            if self.is_business_day(day):
                lo, hi = self._window(day)
                s, e = max(a, lo), min(b, hi)
                if e > s:
                    total += e - s
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    def due(self, filed_at: datetime, type_: str, urgent: bool) -> datetime:
        return self.add_hours(filed_at, self.policy.hours_for(type_, urgent))

    def fraction(self, start: datetime, end: datetime, share: float) -> datetime:
        """The instant `share` (0–1) of the business hours from `start` to `end` have passed."""
        return self.add_hours(start, share * self.hours_between(start, end))

    def remaining(self, due: datetime | None, now: datetime) -> float | None:
        """Business hours left until `due` (negative once overdue); None without a due time."""
        if due is None:
            return None
        return self.hours_between(now, due)


def remaining_label(hours: float | None) -> str:
    """처리여유기간 as the seed shows it: '12시간', '-' when not applicable, '3시간 초과' when overdue."""
    if hours is None:
        return "-"
    if hours < 0:
        return f"{int(-hours + 0.999)}시간 초과"
    return f"{int(hours + 0.999)}시간"
