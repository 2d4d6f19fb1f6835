"""The answer engine: which entry answers a question, and when to decline.

Design (measured in `bench/search.py`):
1. Text is normalised (`bot.text`): NFKC, lower case, synonyms rewritten to one word, particles
   and endings stripped against the knowledge base's own vocabulary.
2. Each query word becomes a *term* with weighted expansions into the vocabulary: itself, its 초성
   (`ㅅㄱㄱㅂㄱ` → 시군구보고), the completion of a half-typed word (`후원관ㄹ` → 후원관리), the words
   an unspaced run splits into (`시스템중단기간`), or, for a typo, the closest word by jamo ratio.
3. An inverted index over those words picks a few dozen candidate entries (no full scan).
4. rapidfuzz re-ranks them: the IDF-weighted share of the query an entry covers, blended with the
   best fuzzy similarity of the query to one of the entry's phrasings (no-space ratio and
   token_sort_ratio, both immune to WRatio's saturation and token_set_ratio's subset trap).
5. A logistic regression over features of the best match (`DeclineModel`, trained offline by
   `bench/decline.py`, its coefficients data in `decline_model.json`) decides whether it answers: it
   declines when the thing asked about is not what the entry is about (an unknown or uncovered content
   noun, little of the question covered), and asks back when a second entry is about as likely.
"""
from __future__ import annotations

import bisect
import gc
import hashlib
import heapq
import json
import logging
import math
import os
import pickle
import re
import threading
from collections import Counter, defaultdict
from contextlib import contextmanager
from functools import lru_cache
from itertools import compress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from rapidfuzz import fuzz, process

from bot.knowledge.base import Entry, KnowledgeBase
from bot.knowledge.memory import Memory
from bot.core.text import (
    QUESTION_WORDS,
    English,
    Synonyms,
    chosung,
    ends_half_typed,
    is_chosung_query,
    is_function_word,
    is_asker_word,
    is_hangul_syllable,
    jamo,
    normalize,
    question_root,
    strip_all,
    strip_oov_particle,
    strip_wish,
)

log = logging.getLogger(__name__)

CANDIDATES = 40
RERANK = 4  # candidates the re-ranker weighs (the right entry is in the first three 99 % of the time), all of
# them however far behind: leave one set out, with the memory of earlier questions, only those within 6 points of
# the first cost 0.105 against 0.099 for all four (round 6), 0.097 against 0.092 (round 7). The price: a candidate
# far behind may win for sharing a carrier phrase. '급여 명세서 출력 메뉴가 어디에 있나요' gets the 후원관리 menu,
# 8 points behind, for '…메뉴가 어디에 있나요' (round 5 and again round 7; round 6 declined it), a known failure
# in tests/knowledge/test_search.py.
PREFILTER_ENUMERATE = 2_000  # postings enumerated until this many candidates are found
ANSWER_WORD_CREDIT = 0.5  # a word found only in an entry's answer counts for half
QUESTION_WORD_WEIGHT = 0.25
NUMBER_WEIGHT = 1.0
PREDICATE_WEIGHT = 0.5
UNKNOWN_MASS_CAP = 2.0  # × the weight of one unknown word
# Endings that mark a word as a predicate (verb or adjective), not a noun.
_PREDICATE = re.compile(r"(어요|아요|여요|었|았|였|겠|는데|은데|ㄴ데|던데|거죠|는거|어야|아야|해야|어서|아서|"
                        r"[가-힣]죠|[가-힣]네요|[가-힣]어|[가-힣]아|는지|을지|려고|[가-힣]고싶)[?!.]*$")
LEXICAL = "w:"  # a feature named by a word of the question its entry does not hold (see `Engine.features`)
ENTRY = "e:"  # a feature named by the entry
_NUMBER_WORD = re.compile(r"^[0-9]+(월|일|시|분|차|년|주|건|개)?$")
MAX_QUERY_CHARS = 500  # longer input is cut: nobody asks a 40,000-character question
LONG_MESSAGE = 50  # characters: a message this long may carry a greeting and a situation before its question
# Where a sentence ends: punctuation (not a decimal point), a line break, or '…요,' / '…다,' before a space.
_SENTENCE_END = re.compile(r"(?<=[^0-9])[.?!。？！~]+\s*|\n+|(?<=[요다])[,~]\s+")


@dataclass
class Match:
    entry: Entry
    score: float  # 0..100
    coverage: float = 0.0
    similarity: float = 0.0

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
    reason: str = ""  # why it declined: empty | greeting | thanks | bye | chitchat | gibberish | unknown
    confidence: float = 0.0  # the decline model's probability that `best` answers the question
    features: dict[str, float] = field(default_factory=dict)  # what it was computed from (bench/decline.py)
    close: list[Match] = field(default_factory=list)  # alternatives about as likely as `best`: ask which one

    @property
    def ambiguous(self) -> bool:
        return bool(self.close)


@dataclass
class Term:
    surface: str
    weight: float
    expansions: dict[str, float]  # vocabulary word -> credit (0..1)
    predicate: bool = False  # a verb or adjective, not a noun
    position: int = 0  # index of the word it came from
    minor: bool = False  # a question word, a moment or who is asking: never the topic


@dataclass
class Thresholds:
    """How words weigh. When to answer is the decline model's business (`DeclineModel`)."""

    unknown_weight: float = 0.7  # weight of a word the knowledge base has never seen, × the highest IDF
    max_weight: float = 1.0  # no single word weighs more than this × the highest IDF
    answer_credit: float = ANSWER_WORD_CREDIT
    coverage_share: float = 0.6  # score = share × coverage + (1 − share) × similarity


# Small talk at the start of a message ("안녕하세요, 희망이음 언제 열려요?" is still a question) …
_SMALLTALK = [
    ("thanks", re.compile(r"^(정말|너무|진짜|넘)?\s*(감사|고마|고맙|땡큐|thank|thx|ㄳ|ㄱㅅ)")),
    ("greeting", re.compile(r"^(안녕|하이|헬로|hello|hi|hey|좋은\s?(아침|하루|오후|저녁)|반가|처음\s?뵙)")),
    ("bye", re.compile(r"^(잘\s?(가|있어)|바이|bye|수고(하세요|하셨|많)|안녕히)")),
]
_GREETING_PREFIX = re.compile(r"^(안녕\S*|하이|헬로|hello|hi|좋은\s?(아침|오후|저녁)\S*|수고\S*|감사\S*|고맙\S*)\s+")
# … and messages that are nothing but small talk, which are never questions.
_ONLY_SMALLTALK = re.compile(
    r"^([ㅋㅎㅠㅜㄷㅇㄱ\s.!?~^]+|ㅇㅋ|오케이|ok|okay|넵|네+|예|응+|ㅇㅇ|헐|와+|대박|굿|good|nice|test|테스트)$")


@lru_cache(maxsize=1)
def english() -> English:
    """The engine's English glossary (data beside the engine, like the decline model)."""
    return English.from_yaml(Path(__file__).with_name("english.yaml"))


@dataclass
class DeclineModel:
    """A logistic regression over `Engine.features`, trained offline by `bench/decline.py`.

    Its coefficients are data (`bot/knowledge/decline_model.json`); answering is one dot product. `threshold` is
    the operating point chosen from the precision/coverage curve; `clarify_margin` is how close (in score
    points) a second entry must be to ask which one was meant.
    """

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5
    clarify_margin: float = 3.0
    # The re-ranker: a second logistic model over the same features of each of the first few candidates;
    # the candidate it rates highest goes first (the right entry is nearly always among them).
    rerank: dict[str, float] = field(default_factory=dict)
    # Labelled questions asked before, for the nearest-neighbour features (`bot.knowledge.memory`).
    memory: Memory = field(default_factory=Memory)

    @classmethod
    @lru_cache(maxsize=1)
    def bundled(cls) -> "DeclineModel":
        data = json.loads(Path(__file__).with_name("decline_model.json").read_text(encoding="utf-8"))
        return cls(data["weights"], data["bias"], data["threshold"], data.get("clarify_margin", 3.0),
                   data.get("rerank", {}), Memory.bundled())

    def confidence(self, features: dict[str, float]) -> float:
        # `features` may name words (`LEXICAL` + word) the model never weighed: they count nothing.
        z = self.bias + sum(self.weights.get(name, 0.0) * v for name, v in features.items())
        return 1 / (1 + math.exp(-max(min(z, 30.0), -30.0)))

    def preference(self, features: dict[str, float]) -> float:
        """The re-ranker's score of one candidate (a logit: only the order matters)."""
        return sum(self.rerank.get(name, 0.0) * v for name, v in features.items())


class Engine:
    """Finds the entry that answers a question; declines when none does."""

    def __init__(self, entries: Iterable[Entry] = (), synonyms: Iterable[Iterable[str]] = (), *,
                 thresholds: Thresholds | None = None, model: DeclineModel | None = None,
                 render: Callable[[Entry], str] | None = None):
        self.synonyms = Synonyms(synonyms)
        # Answers are templates; their words (dates included) are learnt from the rendered text.
        self._render = render
        self._lock = threading.RLock()
        self.thresholds = thresholds or Thresholds()
        self.model = model or DeclineModel.bundled()
        self.entries: dict[str, Entry] = {}
        self._keys: dict[str, _EntryKeys] = {}
        self._df: Counter[str] = Counter()
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._chosung: dict[str, set[str]] = defaultdict(set)
        self._jamo_sorted: list[tuple[str, str]] = []
        self._buckets: dict[str, tuple[list[str], list[str]]] = {}  # first jamo -> (jamo keys, words)
        self._known_raw: set[str] = set()
        self._stem_cache: dict[str, str] = {}  # raw word -> stem ("" for a function word)
        self._phrased_cache: dict[str, str] = {}  # entry id -> its phrasings as one string (`_phrased`)
        self._spellings: dict[str, list[str]] = {}  # a synonym group's first word -> its spellings
        for spelling, head in self.synonyms.canonical.items():
            self._spellings.setdefault(head, []).append(spelling)
        self.vocab: set[str] = set()
        self._bulk = False
        entries = list(entries)
        # Bulk build: texts are analysed once, the jamo list sorted once, compounds split once the
        # whole vocabulary is known.
        self._bulk = True
        self._text_cache: dict[Any, Any] = {}  # text -> words, ("answer", id) -> rendered answer
        with _no_gc():  # millions of small acyclic objects: the cycle collector only slows the build
            self._learn_words(entries)
            for e in entries:
                self._index(e)
            self._split_compounds()
        self._bulk = False
        self._text_cache = {}
        self._jamo_sorted.sort()

    @classmethod
    def from_knowledge(cls, kb: KnowledgeBase, *, templates=None, **kw) -> "Engine":
        """An engine over a knowledge base; answers are rendered with `templates` (the bot's own, if given)."""
        return cls(kb.entries, kb.synonyms, render=_renderer(kb, templates), **kw)

    # ---- a saved index, so a large base starts in seconds ---------------------------------------

    # 3: the entry keeps its phrasings as one string (`_phrased`); 4: a Latin synonym is a whole word (`Synonyms`)
    INDEX_VERSION = 4

    @staticmethod
    def fingerprint(entries: Iterable[Entry], synonyms: Iterable[Iterable[str]]) -> str:
        """Changes whenever anything the index is built from changes."""
        h = hashlib.sha256(f"ieum-index-{Engine.INDEX_VERSION}".encode())
        for e in entries:
            h.update(json.dumps([e.id, e.title, e.questions, e.answer, e.tags], ensure_ascii=False).encode())
        h.update(json.dumps([list(g) for g in synonyms], ensure_ascii=False).encode())
        return h.hexdigest()[:16]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_render"] = None  # a closure over templates: re-attached by the loader
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f, _no_gc():
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # never a half-written index

    @classmethod
    def load(cls, path: Path) -> "Engine":
        """A saved index, without its renderer (`cached` attaches the knowledge base's)."""
        with open(path, "rb") as f, _no_gc():
            engine = pickle.load(f)
        if not isinstance(engine, cls):
            raise TypeError(f"{path.name}: not a search index")
        return engine

    @classmethod
    def cached(cls, kb: KnowledgeBase, cache_dir: Path, *, min_entries: int = 5_000, templates=None,
               **kw) -> "Engine":
        """Load the index built for exactly this knowledge base, or build and save it.

        Only worth it for large bases; the file lives in the bot's own data directory.
        """
        if len(kb.entries) < min_entries:
            return cls.from_knowledge(kb, templates=templates, **kw)
        path = Path(cache_dir) / f"index-{cls.fingerprint(kb.entries, kb.synonyms)}.pickle"
        if path.exists():
            try:
                engine = cls.load(path)
                engine._render = _renderer(kb, templates)
                if "thresholds" in kw:
                    engine.thresholds = kw["thresholds"]
                engine.model = kw.get("model") or DeclineModel.bundled()
                return engine
            except Exception:  # a stale or damaged file is rebuilt, never fatal
                log.warning("search index %s unreadable; rebuilding", path.name)
        engine = cls.from_knowledge(kb, templates=templates, **kw)
        try:
            for old in Path(cache_dir).glob("index-*.pickle"):
                old.unlink()
            engine.save(path)
        except OSError as e:
            log.warning("could not save the search index: %s", e)
        return engine

    def _answer_text(self, entry: Entry) -> str:
        if self._bulk:
            cached = self._text_cache.get(("answer", entry.id))
            if cached is None:
                cached = self._text_cache[("answer", entry.id)] = self._render_answer(entry)
            return cached
        return self._render_answer(entry)

    def _render_answer(self, entry: Entry) -> str:
        return self._render(entry) if self._render else _template_text(entry.answer)

    # ---- building ---------------------------------------------------------------------------

    def words(self, text: str) -> list[str]:
        """Normalised words with synonyms applied and stand-alone particles dropped."""
        if self._bulk:
            cached = self._text_cache.get(text)
            if cached is None:
                cached = self._text_cache[text] = self._words(text)
            return cached
        return self._words(text)

    def _words(self, text: str) -> list[str]:
        text = self.synonyms.apply(english().apply(normalize(text[:MAX_QUERY_CHARS])))
        return [c for c in map(_clean_word, text.split()) if c]

    def _learn_words(self, entries: list[Entry]) -> None:
        # Stems are trusted only when the bare word occurs somewhere: collect every raw word first.
        for e in entries:
            for text in (*e.phrasings, *e.tags, self._answer_text(e)):
                self._known_raw.update(self.words(text))

    def _stems(self, text: str) -> list[str]:
        # Knowledge-base text: a word is reduced to a shorter word that also occurs bare, if any
        # ('시스템에서' → '시스템'), so inflected forms never become separate vocabulary.
        out = []
        for w in self.words(text):
            cached = self._stem_cache.get(w)
            if cached is not None:
                if cached:
                    out.append(cached)
                continue
            s = w
            while True:  # strip until nothing more comes off: '30일까지인가요' → '30일까지' → '30일'
                shorter = strip_all(s, _Without(self._known_raw, s))
                if shorter == s:
                    break
                s = shorter
            if s == w or s not in self._known_raw:
                s = strip_oov_particle(s)  # as queries do, so both sides agree
            s = question_root(s) or s
            keep = s if s and not is_function_word(s) else ""
            self._stem_cache[w] = keep
            if keep:
                out.append(keep)
        return out

    def _add_word(self, word: str) -> None:
        if word in self.vocab:
            return
        self.vocab.add(word)
        if all(is_hangul_syllable(c) for c in word) and len(word) >= 2:
            self._chosung[chosung(word)].add(word)
        j = jamo(word)
        if self._bulk:
            self._jamo_sorted.append((j, word))
        else:
            bisect.insort(self._jamo_sorted, (j, word))
        keys, words = self._buckets.setdefault(j[:1], ([], []))
        keys.append(j)
        words.append(word)

    def _index(self, entry: Entry) -> None:
        if entry.id in self.entries:
            self.remove(entry.id)
        self._phrased_cache.pop(entry.id, None)
        if not self._bulk:
            # A live addition may teach new bare words, which can change how others strip.
            before = len(self._known_raw)
            self._known_raw.update(w for text in (*entry.phrasings, *entry.tags) for w in self.words(text))
            if len(self._known_raw) != before:
                self._stem_cache.clear()
        phrasings = []
        q_words: set[str] = set()
        for text in (*entry.phrasings, *entry.tags):
            stems = self._stems(text)
            q_words.update(stems)
            if text in entry.phrasings and stems:
                phrasings.append(_phrasing_key(stems))
        a_words = set(self._stems(self._answer_text(entry))) - q_words
        for w in q_words | a_words:
            self._add_word(w)
        if not self._bulk:
            q_words, a_words = self._with_parts(q_words, a_words, {})
        self._store_keys(entry, _EntryKeys(q_words=frozenset(q_words), a_words=frozenset(a_words),
                                           phrasings=phrasings))

    def _with_parts(self, q_words, a_words, cache: dict) -> tuple[set[str], set[str]]:
        # Compounds also count as their parts (시스템중단기간 → 시스템, 중단, 기간) so spacing never matters.
        def parts(w):
            if w not in cache:
                cache[w] = self._segment(w) or ()
            return cache[w]

        q = set(q_words)
        for w in q_words:
            q.update(parts(w))
        a = set(a_words)
        for w in a_words:
            a.update(p for p in parts(w) if p not in q)
        return q, a

    def _split_compounds(self) -> None:
        cache: dict[str, tuple] = {}
        for eid, keys in list(self._keys.items()):
            q, a = self._with_parts(keys.q_words, keys.a_words, cache)
            if len(q) != len(keys.q_words) or len(a) != len(keys.a_words):
                for w in (q | a) - (keys.q_words | keys.a_words):
                    self._df[w] += 1
                    self._postings[w].add(eid)
                self._keys[eid] = _EntryKeys(frozenset(q), frozenset(a), keys.phrasings)

    def _store_keys(self, entry: Entry, keys: "_EntryKeys") -> None:
        self.entries[entry.id] = entry
        self._keys[entry.id] = keys
        for w in keys.q_words | keys.a_words:
            self._df[w] += 1
            self._postings[w].add(entry.id)

    def _drop_keys(self, entry_id: str, keys: "_EntryKeys") -> None:
        for w in keys.q_words | keys.a_words:
            self._df[w] -= 1
            self._postings[w].discard(entry_id)

    def add(self, entry: Entry) -> None:
        """Add or replace an entry; it is searchable at once."""
        # Listener threads search while an agent promotes an answer to the FAQ: one lock keeps a
        # search from walking postings that an addition is changing.
        with self._lock:
            self._index(entry)

    def remove(self, entry_id: str) -> None:
        with self._lock:
            keys = self._keys.pop(entry_id, None)
            self.entries.pop(entry_id, None)
            self._phrased_cache.pop(entry_id, None)
            if keys is not None:
                self._drop_keys(entry_id, keys)

    def __len__(self) -> int:
        return len(self.entries)

    # ---- vocabulary lookups -----------------------------------------------------------------

    def idf(self, word: str) -> float:
        n = max(len(self.entries), 1)
        df = self._df.get(word, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _max_idf(self) -> float:
        return self.idf("\0")

    def _segment(self, word: str, *, min_cover: float = 0.7) -> list[str] | None:
        """Split an unspaced run into known words of two or more syllables covering `min_cover` of it."""
        found = self._split(word)
        if found and len(found[1]) >= 2 and found[0] >= min_cover * len(word):
            return found[1]
        return None

    def _split(self, word: str, *, query: bool = False) -> tuple[int, list[str]] | None:
        """The known words that cover most of `word` (fewest pieces on ties), and how many characters they cover.

        For a query, particles, endings and fillers between the words count as covered but are not
        returned ('희망이음에서사용할수있는메뉴' → 희망이음, 사용, 메뉴).
        """
        n = len(word)
        if n < (3 if query else 4):
            return None
        # best[i] = (covered chars, parts) for word[:i]
        best: list[tuple[int, list[str]] | None] = [None] * (n + 1)
        best[0] = (0, [])
        for i in range(n):
            here = best[i]
            if here is None:
                continue
            covered, parts = here
            # skip one character (an unknown syllable) …
            after = best[i + 1]
            if after is None or after[0] < covered:
                best[i + 1] = (covered, parts)
            # … or take a known word (or, in a query, a function word) starting here
            for j in range(min(n, i + 8), i, -1):
                piece = word[i:j]
                if piece == word:
                    continue
                if len(piece) >= 2 and piece in self.vocab:
                    cand = (covered + len(piece), parts + [piece])
                elif query and (is_function_word(piece) or piece in QUESTION_WORDS):
                    root = question_root(piece) or piece
                    cand = (covered + len(piece), parts + [root] if piece in QUESTION_WORDS else parts)
                else:
                    continue
                there = best[j]
                if there is None or there[0] < cand[0] or (there[0] == cand[0] and len(there[1]) > len(cand[1])):
                    best[j] = cand
        return best[n]

    def _completions(self, prefix_jamo: str, limit: int = 5) -> list[str]:
        i = bisect.bisect_left(self._jamo_sorted, (prefix_jamo, ""))
        out: list[str] = []
        while i < len(self._jamo_sorted) and self._jamo_sorted[i][0].startswith(prefix_jamo) and len(out) < 50:
            out.append(self._jamo_sorted[i][1])
            i += 1
        out.sort(key=lambda w: (-self._df.get(w, 0), len(w)))
        return out[:limit]

    def _fuzzy(self, word: str, limit: int = 3) -> dict[str, float]:
        j = jamo(word)
        bucket = self._buckets.get(j[:1])
        if not bucket:
            return {}
        keys, words = bucket
        # Two-syllable words are one jamo from many others (좋지 ~ 조회): ask more of them.
        cutoff = 83 if len(word) <= 2 else 78
        hits = process.extract(j, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit)
        return {words[i]: (score - 60) / 40 for _, score, i in hits}

    def _term(self, word: str) -> list[Term]:
        if is_chosung_query(word):
            # Sorted: the term weighs as its first best expansion (`_make_term`), and a set's order changes with
            # the hash seed, so an unsorted one gave another weight, and another answer, on each start.
            exp = {w: 1.0 for w in sorted(self._chosung.get(word, ()))}
            if not exp:
                exp = {w: 0.7 for w in sorted(w for key, ws in self._chosung.items() if key.startswith(word) for w in ws)}
            return [self._make_term(word, exp)]
        if ends_half_typed(word):
            exp = {w: 0.9 for w in self._completions(jamo(word))}
            if exp:
                return [self._make_term(word, exp)]
            word = word[:-1]
        stem = strip_all(word, self.vocab)
        stem = question_root(stem) or stem
        if stem in self.vocab:
            return [self._make_term(stem, {stem: 1.0, **self._related(stem)})]
        stem = strip_oov_particle(stem)
        if stem in self.vocab:
            return [self._make_term(stem, {stem: 1.0})]
        if len(stem) == 2 and stem[1] in "은는이가을를에의도로" and is_hangul_syllable(stem[0]):
            # An unknown one-syllable noun with its particle ('란에', '칸에'): too short to be the topic.
            term = self._make_term(stem[0], {})
            term.weight *= QUESTION_WORD_WEIGHT
            return [term]
        parts = self._segment(stem)
        if parts:
            return [self._make_term(p, {p: 1.0}) for p in parts]
        found = self._split(word, query=True) if len(word) >= 4 else None
        if found and found[1] and found[0] >= 0.4 * len(word):
            # A sentence typed without spaces: keep the words we know; what stays unexplained weighs
            # as unknown in proportion, so an unknown topic still declines.
            covered, parts = found
            terms = [self._make_term(p, {p: 1.0}) for p in parts]
            if covered < len(word):
                residue = self._make_term(word, {})
                residue.weight *= (len(word) - covered) / len(word)
                terms.append(residue)
            return terms
        exp = self._fuzzy(stem)
        if not exp and len(stem) >= 2:
            exp = {w: 0.8 for w in self._completions(jamo(stem), limit=3)} if len(jamo(stem)) >= 4 else {}
        return [self._make_term(stem, exp)]

    def _related(self, stem: str) -> dict[str, float]:
        # Longer vocabulary words that start with this one (개통 → 개통일) count a little.
        if len(stem) < 2:
            return {}
        return {w: 0.6 * len(stem) / len(w) for w in self._completions(jamo(stem), limit=4) if w != stem}

    def _make_term(self, surface: str, expansions: dict[str, float]) -> Term:
        if expansions:
            best = max(expansions, key=lambda w: expansions[w])
            weight = min(self.idf(best), self._max_idf() * self.thresholds.max_weight)
        else:
            weight = self._max_idf() * self.thresholds.unknown_weight
        minor = surface in QUESTION_WORDS
        if minor:
            weight *= QUESTION_WORD_WEIGHT
        elif _NUMBER_WORD.match(surface):
            # '2일', '8월': a date narrows an answer down but is rarely its topic.
            weight = min(weight, NUMBER_WEIGHT)
        return Term(surface, weight, expansions, minor=minor)

    def terms(self, query: str) -> list[Term]:
        words = self.words(query)
        merged: list[str] = []
        i = 0
        while i < len(words):
            # '후원 관리' is the compound '후원관리' when the knowledge base writes it so.
            if i + 1 < len(words):
                joined = words[i] + words[i + 1]
                stem = strip_all(joined, self.vocab)
                if stem in self.vocab and len(stem) >= 3:
                    merged.append(stem)
                    i += 2
                    continue
            merged.append(words[i])
            i += 1
        out: list[Term] = []
        seen: set[str] = set()
        for i, w in enumerate(merged):
            terms = [t for t in self._term(w) if t.surface not in seen]  # 'ERP 인사회계시스템' is one word
            seen.update(t.surface for t in terms)
            predicate = bool(_PREDICATE.search(w))
            asker = w not in self.vocab and is_asker_word(w)  # '신규시설' is a topic, '노숙인시설에서' who asks
            for t in terms:
                t.position = i
                if asker and not t.minor:
                    t.weight *= QUESTION_WORD_WEIGHT
                    t.minor = True
                if predicate:
                    # A verb or adjective ('찾아', '만들어야하는데') says less about the topic than a noun.
                    t.weight *= PREDICATE_WEIGHT
                    t.predicate = True
            out.extend(terms)
        # A long, chatty question brings many words the knowledge base never saw ('저희 요양원인데요 …');
        # together they may weigh no more than a few unknown nouns, so the topic words still count.
        unknown = [t for t in out if not t.expansions]
        mass = sum(t.weight for t in unknown)
        cap = self._max_idf() * self.thresholds.unknown_weight * UNKNOWN_MASS_CAP
        if mass > cap:
            for t in unknown:
                t.weight *= cap / mass
        return out

    # ---- searching --------------------------------------------------------------------------

    def search(self, query: str, limit: int = 5) -> list[Match]:
        with self._lock:
            return self._rank(self.terms(query), limit)

    def _rank(self, terms: list[Term], limit: int) -> list[Match]:
        if not terms or not self.entries:
            return []
        total = sum(t.weight for t in terms) or 1.0
        # Candidates come from the rarest words first; once there are enough, a common word only adds
        # to the candidates already found instead of enumerating its postings (what would make a query
        # slow at 100,000 entries), so common words still rank but never flood.
        pre: dict[str, float] = {}
        pairs = sorted(((t, w, c) for t in terms for w, c in t.expansions.items()),
                       key=lambda x: len(self._postings.get(x[1], ())))
        for t, w, credit in pairs:
            postings = self._postings.get(w, ())
            gain = t.weight * credit
            if len(pre) < PREFILTER_ENUMERATE or len(postings) <= PREFILTER_ENUMERATE:
                for eid in postings & pre.keys():
                    pre[eid] += gain
                pre.update(dict.fromkeys(postings - pre.keys(), gain))  # 0.0 + gain is gain
            else:
                for eid in postings & pre.keys():  # set operations in C: neither side is walked in Python
                    pre[eid] += gain
        if not pre:
            return []
        # Among equals, an entry whose questions (not just its answer) hold the words asked goes first, then
        # one with a phrasing made mostly of them ('희망이음 뭔가요' → 희망이음이란, not every entry naming it).
        asked = {w for t in terms for w in t.expansions}

        def closeness(eid: str) -> tuple[float, float]:  # smaller is closer
            keys = self._keys[eid]
            in_questions = sum(t.weight for t in terms if any(w in keys.q_words for w in t.expansions))
            focus = max((sum(w in asked for w in words) / len(words)
                         for words in (spaced.split() for _, spaced in keys.phrasings) if words), default=0.0)
            return -in_questions, -focus

        cands = _top(pre, CANDIDATES, closeness)
        qkey = _phrasing_key([max(t.expansions, key=t.expansions.__getitem__) if t.expansions else t.surface
                              for t in terms])
        out = []
        for eid in cands:
            keys = self._keys[eid]
            covered = 0.0
            for t in terms:
                best = 0.0
                for w, credit in t.expansions.items():
                    if w in keys.q_words:
                        best = max(best, credit)
                    elif w in keys.a_words:
                        best = max(best, credit * self.thresholds.answer_credit)
                covered += t.weight * best
            coverage = covered / total
            similarity = _similarity(qkey, keys.phrasings)
            share = self.thresholds.coverage_share
            score = 100 * (share * coverage + (1 - share) * similarity)
            out.append(Match(self.entries[eid], score, coverage, similarity))
        out.sort(key=lambda m: (-m.score, m.entry_id))
        return out[:limit]

    def answer(self, query: str, *, alternatives: int = 2) -> Result:
        result = self._answer(query, query, alternatives)
        # (its length counted after normalising: a decomposed-Hangul (NFD) message is not longer)
        if not result.answered and result.reason == "unknown" and len(normalize(query or "")) >= LONG_MESSAGE:
            # A long message puts its question last ("안녕하세요. 복지관 총무입니다. … 어떻게 하나요?"): when the
            # whole is not confident, the last sentence or two may be, on their own.
            parts = [p for p in _SENTENCE_END.split((query or "")[:MAX_QUERY_CHARS]) if p.strip()]
            for n in (1, 2):
                if len(parts) > n:
                    tail = self._answer(query, " ".join(parts[-n:]), alternatives)
                    # … and only for the entry the whole message points at first, so a fragment out of
                    # context ("예산 얼마 들었어요?") does not get an answer of its own
                    if (tail.answered and tail.best is not None and result.alternatives
                            and tail.best.entry_id == result.alternatives[0].entry_id):
                        return tail
        return result

    def _answer(self, query: str, asked: str, alternatives: int) -> Result:
        text = normalize((asked or "")[:MAX_QUERY_CHARS])
        if not text:
            return Result(query, False, reason="gibberish" if (query or "").strip() else "empty")
        # A greeting in front of a question is manners, not content: "안녕하세요, 주소 알려주세요".
        with self._lock:
            asked_text = _GREETING_PREFIX.sub("", text)
            terms = self.terms(asked_text)
            matches, features = self.candidates(terms, alternatives + 1, asked_text)
        small = _smalltalk(text)
        if _ONLY_SMALLTALK.match(text):
            return Result(query, False, None, [], reason=small or "chitchat")
        content = [t for t in terms if t.surface not in QUESTION_WORDS]
        if not content or all(len(t.surface) < 2 for t in content):
            # One-syllable words alone ('후', '왜') say too little to pick an answer.
            return Result(query, False, None, matches, reason=small or _unknown_reason(text))
        if not terms or not matches:
            return Result(query, False, None, matches, reason=small or _unknown_reason(text))
        best = matches[0]
        confidence = self.model.confidence(features)
        ok = confidence >= self.model.threshold
        if small and best.coverage < 0.9 and not (small == "greeting" and len(content) >= 3):
            # "고마워요 덕분에 …" is small talk; "안녕하세요, 복지관 총무입니다. 급여명세서 …" is a question.
            ok = False
        if not ok:
            return Result(query, False, None, matches, reason=small or _unknown_reason(text), confidence=confidence,
                          features=features)
        # Two entries about as likely: ask which one instead of guessing (the caller shows both).
        close = [m for m in matches[1:] if abs(best.score - m.score) <= self.model.clarify_margin
                 and self.model.confidence(self.features(terms, [m, best], asked_text)) >= self.model.threshold]
        return Result(query, True, best, matches[1:], confidence=confidence, close=close,
                      features=features)

    def candidates(self, terms: list[Term], limit: int, text: str = "") -> tuple[list[Match], dict[str, float]]:
        """The ranked matches, the re-ranker's choice first, and the features of that choice."""
        matches = self._rank(terms, max(limit, RERANK))
        if not matches:
            return [], {}
        if not self.model.rerank or len(matches) < 2:
            return matches[:limit], self.features(terms, matches, text)
        scored = []
        for i in range(min(len(matches), RERANK)):
            f = self.candidate_features(terms, matches, i, text)
            scored.append((-self.model.preference(f), i, f))
        _, i, f = min(scored)
        return ([matches[i], *matches[:i], *matches[i + 1:]])[:limit], f

    def candidate_features(self, terms: list[Term], matches: list[Match], i: int, text: str = "") -> dict[str, float]:
        """`features` of the i-th match, against the strongest other one."""
        others = matches[1:2] if i == 0 else matches[:1]
        return self.features(terms, [matches[i], *others], text)

    def _phrased(self, entry_id: str) -> str:
        """An entry's title and questions, normalised, without spaces, and every spelling of the synonyms they
        use; cached per entry."""
        text = self._phrased_cache.get(entry_id)
        if text is None:
            entry = self.entries[entry_id]
            said = normalize(" ".join(entry.phrasings))
            heads = sorted(self._keys[entry_id].q_words & self._spellings.keys())  # its words, one spelling each
            # every spelling of its words counts as said ('옛날 시스템' is the W4C an entry names)
            text = "|".join(["".join(said.split()), *(s for h in heads for s in self._spellings[h])])
            self._phrased_cache[entry_id] = text
        return text

    def features(self, terms: list[Term], matches: list[Match], text: str = "") -> dict[str, float]:
        """What the decline model looks at for the best match (`matches[0]`), each roughly 0..1.

        Besides how much of the question the entry covers, it asks whether the *thing asked about* is
        there: a content noun of the question that the knowledge base never saw (유효기간, 재설정), or a
        known one that this entry never mentions, is what a near-miss question looks like.
        """
        best = matches[0]
        keys = self._keys[best.entry_id]
        total = sum(t.weight for t in terms) or 1.0
        max_idf = self._max_idf() or 1.0
        content = [t for t in terms if not t.minor and not _NUMBER_WORD.match(t.surface) and len(t.surface) >= 2]
        last = max((t.position for t in terms), default=0)
        unknown_nouns = [t for t in content if not t.expansions and not t.predicate]
        uncovered = uncovered_tail = missed = answer_only = 0.0
        for t in content:
            if not t.expansions or t.predicate:
                continue
            credit = max((c if w in keys.q_words else c * self.thresholds.answer_credit if w in keys.a_words else 0.0)
                         for w, c in t.expansions.items())
            miss = (1 - credit) * t.weight / max_idf
            uncovered = max(uncovered, miss)
            missed += (credit == 0.0)
            answer_only += t.weight * (0.0 < credit <= self.thresholds.answer_credit)
            if t.position >= last - 2:
                uncovered_tail = max(uncovered_tail, miss)
        nouns = [t for t in content if not t.predicate]
        noun_weight = sum(t.weight for t in nouns)
        noun_covered = sum(t.weight * max((c if w in keys.q_words else 0.0) for w, c in t.expansions.items())
                           for t in nouns if t.expansions)
        # The other way round: how much of the entry's closest phrasing the question says.
        asked = {w for t in terms for w in t.expansions}
        reverse = 0.0
        for _, spaced in keys.phrasings:
            words = spaced.split()
            weights = [self.idf(w) for w in words]
            if sum(weights):
                reverse = max(reverse, sum(wt for w, wt in zip(words, weights) if w in asked) / sum(weights))
        second = matches[1].score if len(matches) > 1 else 0.0
        # The topic of a Korean question is its last content noun: does this entry's questions hold it?
        known_nouns = [t for t in nouns if t.expansions]
        topic = max(known_nouns, key=lambda t: t.position) if known_nouns else None
        topic_covered = max((c for w, c in topic.expansions.items() if w in keys.q_words), default=0.0) if topic else 0.0
        title = set(keys.phrasings[0][1].split()) if keys.phrasings else set()  # the title is the first phrasing
        # The words of the question that this entry's questions do not hold, each a feature by name: the
        # decline model learns from labelled sets what such a word usually is — chatter that any question
        # may carry (안녕하세요, 센터장, quick) or a thing asked about that the entry does not answer (갱신,
        # 모바일, 얼마, 양식). Only words seen in several sets written by different people get a weight.
        lexical = {LEXICAL + t.surface: 1.0 for t in terms
                   if not _NUMBER_WORD.match(t.surface)
                   and max((c for w, c in t.expansions.items() if w in keys.q_words), default=0.0) < 0.5}
        # … the same for the syllable pairs of the question's words (`text`, normalised) that the entry's
        # phrasings do not hold: a morphology for free, since 갱신은, 갱신하려면 and 갱신 share 갱신, and a
        # verb the engine does not know (미뤄진거예요, 옮기는) still shares its stem with the next writer's …
        if text:
            phrased = self._phrased(best.entry_id)
            lexical.update((LEXICAL + pair, 1.0) for pair in _syllable_pairs(text) if pair not in phrased)
        # … and the entry itself: some entries draw questions they do not answer more than others.
        lexical[ENTRY + best.entry_id] = 1.0
        return {**lexical, **(self.model.memory.features(text, best.entry_id) if text else {}),
            "topic_covered": topic_covered,
            "topic_unknown": float(bool(unknown_nouns) and max(t.position for t in unknown_nouns)
                                   > (topic.position if topic else -1)),
            "title": len(title & asked) / len(title) if title else 0.0,
            "score": best.score / 100,
            "gap": max(second - best.score, 0.0) / 100,  # how far behind the strongest other this one is
            "noun_coverage": noun_covered / noun_weight if noun_weight else 0.0,
            "reverse": reverse,
            "coverage": best.coverage,
            "similarity": best.similarity,
            "unknown": sum(t.weight for t in terms if not t.expansions and not t.minor) / total,
            "unknown_nouns": min(len(unknown_nouns), 3) / 3,
            # one unknown noun of three is the topic; one of ten is chatter
            "unknown_noun_share": len(unknown_nouns) / len(nouns) if nouns else 0.0,
            # the topic of a Korean question comes last; a chatty preamble comes first
            "unknown_tail": min(sum(1 for t in unknown_nouns if t.position >= last - 2), 2) / 2,
            "uncovered": uncovered,
            "uncovered_tail": uncovered_tail,
            # known nouns this entry never mentions, and the share only its answer mentions
            "missed_nouns": min(missed, 3) / 3,
            "answer_only": answer_only / total,  # a known noun near the end that this entry never mentions
            # an unknown verb at the end ('까먹었어요', '잠겼는데') is often what is really asked
            "unknown_verb_tail": float(any(not t.expansions and t.predicate and t.position >= last - 1
                                           for t in content)),
            "margin": max(best.score - second, 0.0) / 100,
            "length": min(len(content), 12) / 12,
        }


def _top(scores: dict[str, float], n: int, tiebreak: Callable[[str], tuple] | None = None,
         max_ties: int = 80) -> list[str]:
    """`_ranked_top` of the keys scoring at least the n-th best score: the others can neither be chosen nor
    decide a tie, and at 100,000 entries `scores` holds tens of thousands (found in C: `nlargest` on the values,
    `compress` on the keys, instead of sorting them all by a Python key)."""
    if len(scores) > 4 * n:
        cut = heapq.nlargest(n, scores.values())[-1]
        ties = list(compress(scores, map(cut.__eq__, scores.values())))
        if len(ties) > max_ties + 1:
            # A tie too large to weigh goes by key, as in `_ranked_top`, without building and sorting it there:
            # a common word ('방법', in 27,000 of 100,000 entries) beside a typo nobody knows made every entry
            # holding it one tie, and that sort 25 ms of a question.
            above = sorted(compress(scores, map(cut.__lt__, scores.values())), key=lambda k: (-scores[k], k))
            return above + heapq.nsmallest(n - len(above), ties)
        scores = {k: scores[k] for k in compress(scores, map(cut.__le__, scores.values()))}
    return _ranked_top(scores, n, tiebreak, max_ties)


def _ranked_top(scores: dict[str, float], n: int, tiebreak: Callable[[str], tuple] | None = None,
                max_ties: int = 80) -> list[str]:
    """The n best keys; ties at the cut go to the smaller `tiebreak`, then the smaller key, so an answer never
    depends on the order of a set (hash seeds vary per process). `scores` may hold thousands: one sort in C,
    then only the tie at the cut is looked at (by key alone when it holds more than `max_ties`)."""
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    if len(ranked) > n:
        cut = scores[ranked[n - 1]]
        i, j = n - 1, n
        while i > 0 and scores[ranked[i - 1]] == cut:
            i -= 1
        while j < len(ranked) and scores[ranked[j]] == cut and j - i <= max_ties:
            j += 1
        ties = ranked[i:j]
        if j < len(ranked) and scores[ranked[j]] == cut:  # a tie too large to weigh: by key
            ties = sorted(k for k, v in scores.items() if v == cut)
        elif tiebreak is not None:
            ties.sort(key=lambda k: (tiebreak(k), k))
        else:
            ties.sort()
        ranked = ranked[:i] + ties[: n - i]
    # equal scores above the cut: by key too
    return sorted(ranked, key=lambda k: (-scores[k], k))


_PAIRED = re.compile(r"[가-힣]{2,}|[a-z]{2,}")


@lru_cache(maxsize=4096)
def _syllable_pairs(text: str) -> tuple[str, ...]:
    """Every two adjacent syllables of each Hangul word of `text`, and each Latin word whole."""
    out: set[str] = set()
    for w in _PAIRED.findall(text):
        if w[0] >= "가":
            out.update(w[i:i + 2] for i in range(len(w) - 1))
        else:
            out.add(w)
    return tuple(sorted(out))


@lru_cache(maxsize=500_000)
def _clean_word(w: str) -> str:
    """One normalised word as the index sees it, or "" when it carries no topic (cached: words repeat)."""
    w = strip_wish(w)  # '신청하고싶어요' → '신청하'; '보고싶어' → '보', dropped below
    if len(w) < 2 and not w.isalnum() or is_function_word(w) or w in ("보", "하", "되"):
        return ""
    # '언제까지', '어디서요' → '언제', '어디': one spelling per question word, on both sides.
    return question_root(w) or w


@contextmanager
def _no_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _renderer(kb: KnowledgeBase, templates=None) -> Callable[[Entry], str]:
    if templates is None:
        from bot.knowledge.templates import Templates

        templates = Templates(kb)

    def render(entry: Entry) -> str:
        try:
            return templates.render_answer(entry)
        except Exception:  # a broken template is `kb check`'s business, not the index's
            return _template_text(entry.answer)

    return render


class _Without:
    """`known` minus one word, without copying the set (this runs for every word indexed)."""

    __slots__ = ("known", "word")

    def __init__(self, known: set[str], word: str):
        self.known, self.word = known, word

    def __contains__(self, item: object) -> bool:
        return item != self.word and item in self.known


@dataclass(frozen=True)
class _EntryKeys:
    q_words: frozenset[str]
    a_words: frozenset[str]
    phrasings: list[tuple[str, str]]  # (no-space key, space-joined sorted tokens)


def _phrasing_key(stems: list[str]) -> tuple[str, str]:
    return "".join(stems), " ".join(stems)


def _similarity(qkey: tuple[str, str], phrasings: list[tuple[str, str]]) -> float:
    best = 0.0
    for nospace, spaced in phrasings:
        s = 0.5 * fuzz.ratio(qkey[0], nospace) + 0.5 * fuzz.token_sort_ratio(qkey[1], spaced)
        if s > best:
            best = s
    return best / 100


_TEMPLATE_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def _template_text(answer: str) -> str:
    return _TEMPLATE_TAGS.sub(" ", answer)


def _smalltalk(text: str) -> str:
    for reason, pattern in _SMALLTALK:
        if pattern.search(text):
            return reason
    return ""


def _unknown_reason(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "gibberish"
    hangul = sum(1 for c in letters if is_hangul_syllable(c))
    if hangul == 0 and not re.search(r"[a-z]{2,}", text):
        return "gibberish"
    return "unknown"
