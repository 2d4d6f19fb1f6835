"""`ieum kb check`: every problem of a knowledge base, each starting with file:line."""
from __future__ import annotations

from bot.knowledge.base import MAX_ANSWER, MAX_TITLE, KnowledgeBase
from bot.knowledge.templates import TemplateProblem, Templates


def check(kb: KnowledgeBase) -> list[str]:
    """Every problem found, each starting with file:line. Empty means the knowledge base is sound."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    templates = Templates(kb)
    for e in kb.entries:
        if e.id in seen:
            problems.append(f"{e.origin}: id '{e.id}'가 중복됩니다 (처음: {seen[e.id]})")
        seen.setdefault(e.id, e.origin)
        if len(e.title) > MAX_TITLE:
            problems.append(f"{e.origin}: {e.id}: 제목이 {MAX_TITLE}자를 넘습니다")
        try:
            rendered = templates.render_answer(e, strict=True)
        except TemplateProblem as p:
            problems.append(f"{e.origin}: {e.id}: {p}")
            continue
        if len(rendered) > MAX_ANSWER:
            problems.append(f"{e.origin}: {e.id}: 답변이 {len(rendered)}자로 {MAX_ANSWER}자를 넘습니다")
        if not rendered.strip():
            problems.append(f"{e.origin}: {e.id}: 답변이 비어 있습니다")
    for group in kb.synonyms:
        if len({w.lower().replace(' ', '') for w in group}) < len(group):
            problems.append(f"synonyms.yaml: 그룹 {group[0]}에 같은 단어가 두 번 있습니다")
    if kb.types and len(set(kb.types)) != len(kb.types):
        problems.append("taxonomy.yaml: 질의구분이 중복됩니다")
    for ms in kb.milestones.values():
        for value in (ms.at, ms.start, ms.end):
            if value is not None and not (2000 <= value.year <= 2100):
                problems.append(f"schedule.yaml: {ms.id}: 연도가 이상합니다 ({value.year})")
    return problems
