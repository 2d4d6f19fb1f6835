"""The answer engine (placeholder: real implementation in progress)."""
from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .knowledge import Entry, KnowledgeBase


@dataclass
class Match:
    entry: Entry
    score: float  # 0..100

    @property
    def entry_id(self) -> str:
        return self.entry.id

    @property
    def title(self) -> str:
        return self.entry.title


@dataclass
class Result:
    query: str
    answered: bool
    best: Match | None = None
    alternatives: list[Match] = field(default_factory=list)
    reason: str = ""  # why it declined: empty | greeting | thanks | chitchat | gibberish | unknown


class Engine:
    """Finds the entry that answers a question; declines when none does."""

    def __init__(self, entries: list[Entry] = (), synonyms: list[list[str]] = ()):
        self.entries: dict[str, Entry] = {}
        for e in entries:
            self.add(e)

    @classmethod
    def from_knowledge(cls, kb: KnowledgeBase) -> "Engine":
        return cls(kb.entries, kb.synonyms)

    def add(self, entry: Entry) -> None:
        """Add or replace an entry; it is searchable at once."""
        self.entries[entry.id] = entry

    def remove(self, entry_id: str) -> None:
        self.entries.pop(entry_id, None)

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query: str, limit: int = 5) -> list[Match]:
        choices = {(e.id, i): p for e in self.entries.values() for i, p in enumerate(e.phrasings)}
        best: dict[str, float] = {}
        for _, score, (eid, _) in process.extract(query, choices, scorer=fuzz.token_sort_ratio, limit=50):
            best[eid] = max(best.get(eid, 0), score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:limit]
        return [Match(self.entries[eid], s) for eid, s in ranked]

    def answer(self, query: str) -> Result:
        matches = self.search(query, limit=3)
        if not matches or matches[0].score < 60:
            return Result(query, False, None, matches, reason="unknown")
        return Result(query, True, matches[0], matches[1:])
