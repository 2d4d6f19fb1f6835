"""Time-aware phrases ("중단까지 D-2", "현재 중단 기간입니다"): `relative('outage')` in every template.

The phrases live in `knowledge/reminders.yaml` (`phrases:`) beside the reminder rules; the running
reminders' rules win when there are any (`services.reminders`), else the file is read once.
"""
from __future__ import annotations

import re
import weakref
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.core.clock import SEOUL
from bot.core.config import DEFAULT_KNOWLEDGE
from bot.core.dates import dday, left, since, state
from bot.knowledge.base import KnowledgeError, _LineLoader, _strip_lines


def rules_path(kb) -> Path | None:
    """The knowledge directory's own `reminders.yaml`. Reminders are part of a domain pack: a plain FAQ
    file, or a directory without the file, has none (the W4C campaign never follows another FAQ)."""
    if kb is None:
        return DEFAULT_KNOWLEDGE / "reminders.yaml"
    if kb.root is not None and (Path(kb.root) / "reminders.yaml").exists():
        return Path(kb.root) / "reminders.yaml"
    return None


def parse_phrases(raw: dict) -> dict[str, dict[str, str]]:
    """The `phrases:` section of a loaded reminders.yaml: milestone id -> state -> template."""
    return {str(k): {kk: str(vv) for kk, vv in (v or {}).items()}
            for k, v in _strip_lines(raw.get("phrases") or {}).items()}


def _phrases_now(services, now: datetime | None) -> tuple[dict[str, dict[str, str]], datetime]:
    reminders = getattr(services, "reminders", None)  # the running reminders' rules, else the file's
    phrases = reminders.rules.phrases if reminders else _default_phrases(services.kb)
    return phrases, now or (services.clock.now() if services.clock else datetime.now(SEOUL))


def relative_phrase(milestone_id: str, services, now: datetime | None = None) -> str:
    """'중단까지 D-2', '현재 중단 기간입니다 (…)', '이미 개통되었습니다' — relative to the clock."""
    phrases, now = _phrases_now(services, now)
    return _phrase(services.kb, services.templates, phrases, milestone_id, now)


def _context(kb, ms, own: dict[str, str], now: datetime) -> dict[str, Any]:
    """What every phrase template of milestone `ms` may say, `banner:` ones included: the milestones (`ms`), this
    one (`m`), `now`, its short name, and its count (`d`), time left (`left`) and days since (`since`) at `now`."""
    return {"ms": kb.milestones, "m": ms, "now": now, "short": own.get("short") or ms.name,
            "d": dday(ms.moment, now), "left": left(ms, now), "since": since(ms.moment, now)}


def _phrase(kb, templates, phrases: dict, milestone_id: str, now: datetime) -> str:
    ms = kb.milestones.get(milestone_id)
    if ms is None:
        return ""
    own = phrases.get(milestone_id, {})
    context = _context(kb, ms, own, now)
    short, moment, d = context["short"], ms.moment, context["d"]
    if moment is None:
        return f"{short}: {ms.label} 예정" if ms.label else ""
    if ms.start and ms.end:
        state = "before" if now < ms.start else ("during" if now < ms.end else "after")
    else:
        state = "before" if now < moment else "after"
    default = {
        "before": f"{short}까지 {d}" if d != "D-day" else f"{short}까지 D-day (오늘 {moment.astimezone(SEOUL):%H:%M})",
        "during": f"현재 {short} 기간입니다",
        "after": f"{short} 일정이 지났습니다 ({ms.when})",
    }[state]
    tpl = own.get(state)
    if not tpl:
        return default
    return _compiled(templates.env, tpl).render(**context).strip()


MOMENT_AWARE = re.compile(r"\b(?:state|left|relative)\(")


def _banner(own: dict[str, str], ms, now: datetime) -> str | None:
    """The status line due now: a window's `banner` while it runs; an instant's `banner` earlier the same day
    (a cut-off at 18:00, asked at 17:55) and its `banner_after` later that day (launched at 09:00, asked at 10:00)."""
    if ms.start and ms.end:
        return own.get("banner") if state(ms, now) == "during" else None
    if not ms.at or ms.at.astimezone(SEOUL).date() != now.astimezone(SEOUL).date():
        return None
    return own.get("banner") if now < ms.at else own.get("banner_after")


def banners(source, answer_source: str, now: datetime | None = None) -> list[str]:
    """The status lines said above an answer while a milestone is current (its `banner:` phrase: '지금은 시스템
    중단 기간이라 …', '자료입력 마감: 오늘 18:00', on launch day '개통되었습니다'), unless the answer already
    speaks of the moment (`state`, `left` or `relative` in its template): during the outage, "W4C 접속이 안
    돼요" hears of the outage first, whichever entry it matched."""
    if MOMENT_AWARE.search(answer_source):
        return []
    phrases, now = _phrases_now(source, now)
    out = []
    for mid, own in phrases.items():
        ms = source.kb.milestones.get(mid)
        line = _banner(own, ms, now) if ms is not None else None
        if not line:
            continue
        out.append(_compiled(source.templates.env, line).render(**_context(source.kb, ms, own, now)).strip())
    return out


# Compiled phrase templates, per jinja2 environment (phrases are few; compiling is the costly part).
_COMPILED: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()


def _compiled(env, source: str):
    cache = _COMPILED.get(env)
    if cache is None:
        cache = _COMPILED.setdefault(env, {})
    template = cache.get(source)
    if template is None:
        template = cache[source] = env.from_string(source)
    return template


@lru_cache(maxsize=4)
def _default_phrases_cached(path: str) -> dict[str, dict[str, str]]:
    try:
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LineLoader) or {}
    except (OSError, yaml.YAMLError) as e:
        raise KnowledgeError(f"{path}: 읽을 수 없습니다 ({e})") from None
    return parse_phrases(raw)


def _default_phrases(kb) -> dict[str, dict[str, str]]:
    path = rules_path(kb)
    return _default_phrases_cached(str(path)) if path is not None else {}


class _TemplatesOnly:
    """What `relative_phrase` needs, taken from a `Templates` alone (e.g. for `ieum kb check`)."""

    def __init__(self, templates):
        self.kb, self.clock, self.templates = templates.kb, templates.clock, templates


def install_template_globals(templates, services=None) -> None:
    """Make `relative('outage')` available in every answer and reply template.

    With `services` the phrases follow its clock and reminder rules; without, the templates' own
    knowledge base and clock (enough for `Templates(kb)` in `ieum kb check`).
    """
    source = services if services is not None else _TemplatesOnly(templates)

    def relative(milestone_id: str) -> str:
        return relative_phrase(milestone_id, source)

    for env in (templates.env, templates.strict_env):
        env.globals["relative"] = relative
    templates.banners = lambda answer_source: banners(source, answer_source)
