"""jinja2 rendering: answer templates from entries and reply templates from `knowledge/templates/`.

User text is only ever passed in as data, never compiled, so nobody can inject template syntax.
Dates are said the Korean way: "8월 31일(수) 18:00".
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.clock import SEOUL
from bot.core.dates import dday, kdate, kdatetime, kmd, left, since, state
from bot.knowledge.confirm import confirms

if TYPE_CHECKING:
    from bot.knowledge.base import Entry, KnowledgeBase


@jinja2.pass_context
def _kdate(ctx, value) -> str:
    """8월 30일(화), or "8월 30일(화, 오늘)" near the moment of asking ('오늘까지죠?' asked that day)."""
    return kdate(value, now=ctx.get("now"))


@jinja2.pass_context
def _kdatetime(ctx, value) -> str:
    return kdatetime(value, now=ctx.get("now"))


class TemplateProblem(ValueError):
    """A template cannot be rendered (syntax error or unknown name)."""


class Templates:
    """The template environment bound to a knowledge base (milestones) and, optionally, a clock."""

    banners: Callable[[str], list[str]]  # the moment's status lines (`bot.knowledge.phrases.banners`)

    def __init__(self, kb: "KnowledgeBase", clock=None):
        self.kb = kb
        self.clock = clock
        from bot.core.config import DEFAULT_KNOWLEDGE

        # A knowledge directory's own templates first; the bot's own UI templates (answer, decline, the
        # inquiry form …) are always found, whatever knowledge is loaded.
        dirs = [kb.root / "templates"] if kb.root is not None and (kb.root / "templates").is_dir() else []
        loader = jinja2.FileSystemLoader([str(d) for d in (*dirs, DEFAULT_KNOWLEDGE / "templates")])
        self.env = self._env(loader, undefined=jinja2.ChainableUndefined)
        self.strict_env = self._env(loader, undefined=jinja2.StrictUndefined)
        self._cache: dict[tuple[str, bool], jinja2.Template] = {}
        # Time-aware phrases ("중단까지 D-2"): `relative()` in every template (phrases from reminders.yaml).
        from bot.knowledge.phrases import install_template_globals

        install_template_globals(self)

    @staticmethod
    def _env(loader, undefined) -> SandboxedEnvironment:
        env = SandboxedEnvironment(loader=loader, undefined=undefined, autoescape=False,
                                   trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        env.filters.update(kdate=_kdate, kdatetime=_kdatetime, kmd=kmd)
        return env

    def now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(SEOUL)

    def context(self) -> dict[str, Any]:
        now = self.now()
        milestones = self.kb.milestones
        # Answers branch on the moment they are asked: `state('outage') == 'during'`, `left('launch')`.
        return {"ms": milestones, "now": now, "dday": lambda t: dday(t, now), "since": lambda t: since(t, now),
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

    def render_reply_answer(self, entry: "Entry", query: str = "") -> str:
        """An answer as the chat says it to `query`: the status of the moment first (during the outage, '지금은
        시스템 중단 기간입니다 …'), then the entry's answer, with "네," when the question asks to confirm a day
        the answer names ('모레 마감 맞죠?'). Exports and drafts use `render_answer` alone."""
        answer = self.render_answer(entry)
        if query and not answer.startswith(("네", "아니", "아직")) and confirms(query, answer, self.now()):
            answer = f"네, {answer}"
        return "\n".join([*self.banners(entry.answer), answer])

    def render(self, name: str, **data) -> str:
        """A reply template from `knowledge/templates/NAME.j2`."""
        tpl = self.env.get_template(f"{name}.j2")
        return tpl.render(**self.context(), **data).strip()
