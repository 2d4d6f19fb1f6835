"""jinja2 rendering: answer templates from entries and reply templates from `knowledge/templates/`.

User text is only ever passed in as data, never compiled, so nobody can inject template syntax.
Dates are said the Korean way: "8월 31일(수) 18:00".
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .clock import SEOUL

if TYPE_CHECKING:
    from .knowledge import Entry, KnowledgeBase

WEEKDAYS = "월화수목금토일"


class TemplateProblem(ValueError):
    """A template cannot be rendered (syntax error or unknown name)."""


def _local(value: date | datetime) -> date | datetime:
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
    """How long until a milestone (a window's end while it runs): "D-5, 5일 남음", "D-1, 내일 09:00",
    "D-day, 오늘 18:00까지, 3시간 남음", "D-day, 오늘까지"; "" once it has passed or while it has no date."""
    where = state(ms, now)
    if where not in ("before", "during"):
        return ""
    target = ms.end if where == "during" else (ms.at or ms.start or ms.date)
    d = dday(target, now)
    if d == "D-1":
        return f"D-1, 내일 {_local(target):%H:%M}" if isinstance(target, datetime) else "D-1, 내일까지"
    if d != "D-day":
        return f"{d}, {d[2:]}일 남음"
    if not isinstance(target, datetime):
        return "D-day, 오늘까지"
    minutes = max(round((target - now).total_seconds() / 60), 0)  # the clock runs: 9:59.9 is 10 minutes
    hours, minutes = divmod(minutes, 60)
    remaining = " ".join(p for p in (f"{hours}시간" if hours else "", f"{minutes}분" if minutes else "") if p)
    remaining = f"{remaining or '1분 미만'} 남음"
    return f"D-day, 오늘 {_local(target):%H:%M}까지, {remaining}"


class Templates:
    """The template environment bound to a knowledge base (milestones) and, optionally, a clock."""

    def __init__(self, kb: "KnowledgeBase", clock=None):
        self.kb = kb
        self.clock = clock
        from .config import DEFAULT_KNOWLEDGE

        # A knowledge directory's own templates first; the bot's own UI templates (answer, decline, the
        # inquiry form …) are always found, whatever knowledge is loaded.
        dirs = [kb.root / "templates"] if kb.root is not None and (kb.root / "templates").is_dir() else []
        loader = jinja2.FileSystemLoader([str(d) for d in (*dirs, DEFAULT_KNOWLEDGE / "templates")])
        self.env = self._env(loader, undefined=jinja2.ChainableUndefined)
        self.strict_env = self._env(loader, undefined=jinja2.StrictUndefined)
        self._cache: dict[tuple[str, bool], jinja2.Template] = {}
        # Time-aware phrases ("중단까지 D-2") belong to the reminders module, which knows the rules.
        from .reminders import install_template_globals

        install_template_globals(self)

    @staticmethod
    def _env(loader, undefined) -> SandboxedEnvironment:
        env = SandboxedEnvironment(loader=loader, undefined=undefined, autoescape=False,
                                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        env.filters.update(kdate=kdate, kdatetime=kdatetime, kmd=kmd)
        return env

    def context(self) -> dict[str, Any]:
        now = self.clock.now() if self.clock else datetime.now(SEOUL)
        milestones = self.kb.milestones
        # Answers branch on the moment they are asked: `state('outage') == 'during'`, `left('launch')`.
        return {"ms": milestones, "now": now, "dday": lambda t: dday(t, now),
                "state": lambda mid: state(milestones.get(mid), now),
                "left": lambda mid: left(milestones.get(mid), now)}

    def render_answer(self, entry: "Entry", *, strict: bool = False, **extra) -> str:
        if "{" not in entry.answer:
            return entry.answer.strip()  # plain text (most imported FAQs): nothing to compile
        key = (entry.answer, strict)
        tpl = self._cache.get(key)
        try:
            if tpl is None:
                tpl = (self.strict_env if strict else self.env).from_string(entry.answer)
                if len(self._cache) < 100_000:
                    self._cache[key] = tpl
            return tpl.render(**self.context(), **extra).strip()
        except jinja2.TemplateSyntaxError as e:
            raise TemplateProblem(f"템플릿 문법 오류 (답변 {e.lineno}행): {e.message}") from None
        except jinja2.UndefinedError as e:
            raise TemplateProblem(f"알 수 없는 이름: {e.message}") from None
        except (TypeError, ValueError, AttributeError) as e:
            if strict:
                raise TemplateProblem(f"렌더링 오류: {e}") from None
            return entry.answer

    def render(self, name: str, **data) -> str:
        """A reply template from `knowledge/templates/NAME.j2`."""
        tpl = self.env.get_template(f"{name}.j2")
        return tpl.render(**self.context(), **data).strip()
