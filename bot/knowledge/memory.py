"""Questions asked before, labelled: the decline model's nearest-neighbour features.

Staff ask the same few dozen things in a thousand spellings. Besides what a question says against an
entry's own phrasings (`Engine.features`), the decline model and the re-ranker weigh how close it is to
questions people asked before that this entry answered, and to questions that looked like this entry's
but had to be declined (its near misses: the expired 공동인증서 that is not the login entry).

The questions are the labelled sets `bench/decline.py` trains on, kept as data beside the model
(`decline_memory.json`), never the knowledge base: an entry with none (a brought-in FAQ, an entry added
since) gets none of these features and is judged on its other features, which the models learnt to do too.
Closeness is rapidfuzz's ratio over the question without spaces (spacing is what staff vary most), in C.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

FEATURES = ("knn_pos", "knn_neg", "knn_diff", "knn_declined", "knn_known")


def closeness(pos: float, neg: float, declined: float) -> dict[str, float]:
    """The features of an entry the memory knows, from the closeness of a question (0..1) to the questions it
    answered, to those it had to decline, and to any declined question (`bench/decline.py` builds the same)."""
    return {"knn_pos": pos, "knn_neg": neg, "knn_diff": pos - neg, "knn_declined": declined, "knn_known": 1.0}


def key(text: str) -> str:
    """How a normalised question is compared: without spaces."""
    return "".join(text.split())


@dataclass
class Memory:
    """Earlier questions (as `key`s): per entry, those it answered and those it had to decline."""

    answered: dict[str, list[str]] = field(default_factory=dict)
    declined: dict[str, list[str]] = field(default_factory=dict)
    declined_any: list[str] = field(default_factory=list)  # every question that had to be declined
    # `features` runs for each of a question's first candidates: its closeness to every declined question,
    # which does not depend on the candidate, is worked out once (one tuple, read and replaced whole)
    _last: tuple[str, float] = field(default=("", 0.0), init=False, repr=False, compare=False)

    @classmethod
    @lru_cache(maxsize=1)
    def bundled(cls) -> "Memory":
        path = Path(__file__).with_name("decline_memory.json")
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["answered"], data["declined"], data["declined_any"])

    def to_json(self) -> str:
        return json.dumps({"answered": self.answered, "declined": self.declined,
                           "declined_any": self.declined_any}, ensure_ascii=False, indent=0, sort_keys=True) + "\n"

    def features(self, text: str, entry_id: str) -> dict[str, float]:
        """How close `text` (normalised) is to the questions `entry_id` answered and declined, each 0..1."""
        if entry_id not in self.answered:
            # An entry the memory never saw (a brought-in FAQ's, one added since): none of it applies, not even
            # the closeness to questions declined elsewhere (another FAQ may answer 비밀번호 찾기); the models
            # learnt to judge such an entry on its other features (`bench/decline.py`, `forgetting`).
            return {}
        k = key(text)
        pos = _closest(k, self.answered[entry_id])
        neg = _closest(k, self.declined.get(entry_id))
        last = self._last
        if last[0] != k:
            last = self._last = (k, _closest(k, self.declined_any))
        return closeness(pos, neg, last[1])


def _closest(k: str, choices: list[str] | None) -> float:
    if not k or not choices:
        return 0.0
    best = process.extractOne(k, choices, scorer=fuzz.ratio)
    return best[1] / 100 if best else 0.0
