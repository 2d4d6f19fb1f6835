"""Questions asked before, labelled: the decline model's nearest-neighbour features.

Staff ask the same few dozen things in a thousand spellings. Besides what a question says against an
entry's own phrasings (`Engine.features`), the decline model and the re-ranker weigh how close it is to
questions people asked before that this entry answered, and to questions that looked like this entry's
but had to be declined (its near misses: the expired 공동인증서 that is not the login entry).

The questions are the labelled sets `bench/decline.py` trains on, kept as data beside the model
(`decline_memory.json`), never the knowledge base: an entry with none (a brought-in FAQ, an entry added
since) gets none of these features and is judged on its other features, which the models learnt to do too.
Closeness is measured twice over the question without spaces (spacing is what staff vary most): rapidfuzz's
ratio, in C, which weighs every character alike, and the cosine of character 2–3-gram TF-IDF vectors, which
weighs a rare piece ('급여명세서') above one most questions share ('…메뉴가어디에있나요'). Leave one set out,
the two together cost 0.092 against 0.098 for the ratio alone (bench/decline.py, round 6). Grams in more than
5 % of the questions are left out (`MAX_DF`): the same cost (0.0915) in 40 % of the time a question.
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

FEATURES = ("knn_pos", "knn_neg", "knn_diff", "knn_declined", "knn_known",
            "tfidf_pos", "tfidf_neg", "tfidf_diff", "tfidf_declined")
MAX_DF = 0.05  # grams in more than this share of the remembered questions weigh nothing (`Vectors`) …
MIN_DF_CUT = 5  # … unless in no more than this many (a memory of a few questions keeps every gram)


def closeness(ratio: tuple[float, float, float], tfidf: tuple[float, float, float]) -> dict[str, float]:
    """The features of an entry the memory knows, from the closeness of a question (0..1, by ratio and by
    TF-IDF) to the questions it answered, to those it had to decline, and to any declined question
    (`bench/decline.py` builds the same)."""
    (pos, neg, declined), (tpos, tneg, tdeclined) = ratio, tfidf
    return {"knn_pos": pos, "knn_neg": neg, "knn_diff": pos - neg, "knn_declined": declined, "knn_known": 1.0,
            "tfidf_pos": tpos, "tfidf_neg": tneg, "tfidf_diff": tpos - tneg, "tfidf_declined": tdeclined}


def key(text: str) -> str:
    """How a normalised question is compared: without spaces."""
    return "".join(text.split())


def grams(k: str) -> Counter[str]:
    """The character 2- and 3-grams of a key, counted."""
    return Counter(k[i:i + n] for n in (2, 3) for i in range(len(k) - n + 1))


class Vectors:
    """TF-IDF vectors of character 2–3-grams (sublinear tf, smoothed idf, unit length, grams in more than
    `max_df` of the texts left out), as scikit-learn's TfidfVectorizer(analyzer="char", ngram_range=(2, 3),
    sublinear_tf=True, max_df=MAX_DF) makes them; kept here because scikit-learn at run time would cost a second
    of start-up and a millisecond a question for ~4,000 short texts. An inverted index gives a question's
    cosine with every text at once (numpy sums the postings of its grams: a Python loop over them was half the
    time of a question once the memory held ~6,000); the common grams left out ('희망', '이음', '나요') would make
    it walk most texts for every question."""

    def __init__(self, texts: list[str], max_df: float = MAX_DF):
        counted = [grams(t) for t in texts]
        df: Counter[str] = Counter()
        for c in counted:
            df.update(c.keys())
        most = max(max_df * len(texts), MIN_DF_CUT)
        self.size = len(texts)
        self.idf = {g: math.log((1 + len(texts)) / (1 + d)) + 1 for g, d in df.items() if d <= most}
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for i, c in enumerate(counted):
            for g, w in self.vector(c).items():
                postings[g][0].append(i)
                postings[g][1].append(w)
        self.postings = {g: (np.array(ids, dtype=np.int32), np.array(ws)) for g, (ids, ws) in postings.items()}

    def vector(self, counted: Counter[str]) -> dict[str, float]:
        """Unit-length TF-IDF weights of the counted grams (grams never seen weigh nothing)."""
        vec = {g: (1 + math.log(n)) * self.idf[g] for g, n in counted.items() if g in self.idf}
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        return {g: w / norm for g, w in vec.items()}

    def cosines(self, k: str) -> np.ndarray:
        """The cosine of `k` with each text, by the text's index (0 where they share no gram)."""
        hits = [(self.postings[g], w) for g, w in self.vector(grams(k)).items() if g in self.postings]
        if not hits:
            return np.zeros(self.size)
        ids = np.concatenate([ids for (ids, _), _ in hits])
        weights = np.concatenate([ws * w for (_, ws), w in hits])
        return np.bincount(ids, weights=weights, minlength=self.size)


@dataclass
class Memory:
    """Earlier questions (as `key`s): per entry, those it answered and those it had to decline."""

    answered: dict[str, list[str]] = field(default_factory=dict)
    declined: dict[str, list[str]] = field(default_factory=dict)
    declined_any: list[str] = field(default_factory=list)  # every question that had to be declined
    # `features` runs for each of a question's first candidates: what does not depend on the candidate (the
    # closeness to every declined question, the cosines) is worked out once (one tuple, read and replaced whole)
    _last: tuple[str, float, float, np.ndarray] = field(default=("", 0.0, 0.0, np.zeros(0)), init=False,
                                                          repr=False, compare=False)

    @cached_property
    def vectors(self) -> tuple[Vectors, dict[tuple[str, str], np.ndarray]]:
        """The TF-IDF vectors of every question held, and the indices of the questions of each list:
        ("answered" or "declined", entry id), and ("any", "") for every declined question (built on first use)."""
        texts = sorted({*self.declined_any, *(k for v in (*self.answered.values(), *self.declined.values())
                                              for k in v)})
        index = {t: i for i, t in enumerate(texts)}
        lists = {("any", ""): self.declined_any, **{("answered", e): v for e, v in self.answered.items()},
                 **{("declined", e): v for e, v in self.declined.items()}}
        return Vectors(texts), {name: np.array(sorted({index[t] for t in v}), dtype=np.int32)
                                for name, v in lists.items()}

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
        vectors, among = self.vectors
        last = self._last
        if last[0] != k:
            cos = vectors.cosines(k)
            last = self._last = (k, _closest(k, self.declined_any), _best(cos, among[("any", "")]), cos)
        _, declined, tdeclined, cos = last
        return closeness((_closest(k, self.answered[entry_id]), _closest(k, self.declined.get(entry_id)), declined),
                         (_best(cos, among[("answered", entry_id)]),
                          _best(cos, among.get(("declined", entry_id))), tdeclined))


def _closest(k: str, choices: list[str] | None) -> float:
    if not k or not choices:
        return 0.0
    best = process.extractOne(k, choices, scorer=fuzz.ratio)
    return best[1] / 100 if best else 0.0


def _best(cos: np.ndarray, among: np.ndarray | None) -> float:
    """The highest cosine among the texts of `among` (0 when none shares a gram)."""
    return float(cos[among].max()) if among is not None and among.size else 0.0
