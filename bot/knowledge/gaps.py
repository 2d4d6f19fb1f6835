"""Knowledge gaps: the questions the bot declined and the answers users marked 👎, grouped by similarity
(the engine's own word normalisation), and a gap turned into a FAQ entry written to the knowledge directory
(`entries/gaps.yaml`), so the bot and `ieum ask` answer it at once.

Everything here was masked by the personal-data guard before it was stored; a new entry is refused when its
text still holds personal data.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.privacy import find_personal_data, labels
from bot.core.text import normalize
from bot.knowledge.base import Entry, load_entries_yaml

GAPS_FILE = "gaps.yaml"
POOL = 5000  # the newest questions grouped (a launch week declines a few thousand)
SIMILAR = 0.5  # share of common words that puts two questions in one group


@dataclass
class Group:
    title: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    declined: int = 0
    disliked: int = 0
    words: set[str] = field(default_factory=set)


def collect(store, since: str) -> list[tuple[str, str]]:
    """(question, kind) since the ISO time `since`, newest first: kind 'declined' or 'disliked' (👎)."""
    rows = store.conn.execute(
        "SELECT query, 'declined', at FROM declined_questions WHERE at >= ? "
        "UNION ALL SELECT query, 'disliked', at FROM answer_feedback WHERE helpful = 0 AND at >= ? "
        "ORDER BY 3 DESC LIMIT ?", [since, since, POOL]).fetchall()
    return [(q, k) for q, k, _ in rows]


def group(items: list[tuple[str, str]], *, examples: int = 5) -> list[Group]:
    """Greedy grouping: a question joins the group whose first question shares the most of its character
    pairs (at least SIMILAR of the smaller set: spacing and particles matter little in Korean); an inverted
    index keeps it near-linear."""
    groups: list[Group] = []
    index: dict[str, list[int]] = {}
    for text, kind in items:
        ws = grams(text)
        if not ws:
            continue
        best: int | None = None
        best_score = 0.0
        for n in {n for w in ws for n in index.get(w, ())}:
            score = len(ws & groups[n].words) / min(len(ws), len(groups[n].words))
            if score > best_score:
                best, best_score = n, score
        if best is None or best_score < SIMILAR:
            groups.append(Group(title=text, words=set(ws)))
            best = len(groups) - 1
            for w in ws:
                index.setdefault(w, []).append(best)
        g = groups[best]
        g.count += 1
        setattr(g, kind, getattr(g, kind) + 1)
        if text not in g.examples and len(g.examples) < examples:
            g.examples.append(text)
    return sorted(groups, key=lambda g: -g.count)


def grams(text: str) -> set[str]:
    """Character pairs of the normalised text without spaces (the masking mark left out)."""
    t = normalize(text.replace("[개인정보]", " ")).replace(" ", "")
    return {t[i:i + 2] for i in range(len(t) - 1)} or ({t} if t else set())


def slug(title: str) -> str:
    return "gap-" + (re.sub(r"[^0-9A-Za-z가-힣]+", "-", title).strip("-")[:40] or "entry")


def make_entry(knowledge: Path, *, title: str, answer: str, questions: list[str], tags: tuple[str, ...] = ()) -> Entry:
    """Append a FAQ entry to `knowledge/entries/gaps.yaml` (written atomically); raises ValueError with the
    Korean reason when something is missing or holds personal data."""
    title, answer = title.strip()[:100], answer.strip()
    questions = [q.strip() for q in questions if q.strip() and "[개인정보]" not in q][:20]
    if not title or not answer:
        raise ValueError("FAQ 제목과 답변을 입력해 주세요.")
    for label, text in (("제목", title), ("답변", answer), ("질문 표현", "\n".join(questions))):
        if found := find_personal_data(text):
            raise ValueError(f"FAQ {label}에 개인정보({labels(found)})가 있습니다. 지워 주세요.")
    path = Path(knowledge) / "entries" / GAPS_FILE
    existing = load_entries_yaml(path) if path.exists() else []
    taken = {e.id for e in existing}
    base = slug(title)
    entry_id, n = base, 2
    while entry_id in taken:
        entry_id, n = f"{base}-{n}", n + 1
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    items = raw if isinstance(raw, list) else []
    # the answer is an agent's text, not a template: braces are kept literal
    items.append({"id": entry_id, "title": title, "questions": questions,
                  "answer": answer.replace("{", "{{ '{' }}"), "tags": list(tags),
                  "source": "헬프데스크 콘솔 (지식 공백에서 작성)"})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gaps-", suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# FAQ entries written from the helpdesk console's knowledge gaps (edit freely)\n")
        yaml.safe_dump(items, f, allow_unicode=True, sort_keys=False)
    os.replace(tmp, path)
    return next(e for e in load_entries_yaml(path) if e.id == entry_id)
