"""The answer engine on public corpora: out-of-domain declines, paraphrase retrieval, decomposed Hangul.

The corpora are read at run time from `$IEUM_CORPORA` or `../shared/eval/external` next to the repository
(see its README); each test skips with the reason when its file is absent. The BM25 baseline is the one
of `bench/search.py`, computed in the same test.
"""
from __future__ import annotations

import importlib.util
import os
import random
import unicodedata
from pathlib import Path

import pytest

from bot.knowledge.base import Entry
from bot.core.config import PROJECT_ROOT
from bot.knowledge.search import Engine

ROOT = PROJECT_ROOT
CORPORA = Path(os.environ.get("IEUM_CORPORA") or ROOT.parent / "shared" / "eval" / "external")
DECLINE_TARGET = 0.97
SUBSET_INTENTS = 300


def _bench():
    spec = importlib.util.spec_from_file_location("_ieum_bench_search", ROOT / "bench" / "search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


def _need(name: str) -> Path:
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"{name} not found in {CORPORA} (set IEUM_CORPORA to the folder of the external corpora)")
    return path


@pytest.fixture(scope="module")
def chatbot_questions(bench):
    _need("ChatbotData.csv")
    return bench.read_chatbot_questions(CORPORA)


@pytest.fixture(scope="module")
def intents(bench):
    _need("paraKQC_v1.txt")
    return bench.read_parakqc(CORPORA)


@pytest.fixture(scope="module")
def subset(intents):
    """A deterministic subset of intents: first sentence indexed, the other nine asked."""
    picked = sorted(random.Random(20240901).sample(range(len(intents)), SUBSET_INTENTS))
    entries = [Entry(id=str(i), title=intents[i][0], answer="답변") for i in picked]
    asked = [(str(i), q) for i in picked for q in intents[i][1:]]
    return entries, asked


@pytest.fixture(scope="module")
def our_engine(kb):
    return Engine.from_knowledge(kb)


def test_chatbotdata_is_declined(our_engine, chatbot_questions):
    assert len(chatbot_questions) > 10_000
    answered = [(q, r.best.entry_id, round(r.best.score, 1)) for q in chatbot_questions
                if (r := our_engine.answer(q)).answered]
    declined = 1 - len(answered) / len(chatbot_questions)
    assert declined >= DECLINE_TARGET, (
        f"declined {declined:.2%} of {len(chatbot_questions):,} chat questions (target {DECLINE_TARGET:.0%}); "
        f"answered e.g. {answered[:10]}")


def test_parakqc_top1_beats_bm25_bigrams(bench, subset):
    entries, asked = subset
    engine = Engine(entries)
    bm25 = bench.BM25([(e.id, [e.title]) for e in entries])
    ours = sum(1 for expected, q in asked if (m := engine.search(q, 1)) and m[0].entry_id == expected)
    base = sum(1 for expected, q in asked if bm25.top1(q) == expected)
    n = len(asked)
    assert ours > base, (f"paraKQC top-1 on {SUBSET_INTENTS} intents ({n:,} paraphrases): "
                         f"engine {ours / n:.1%} vs BM25 character bigrams {base / n:.1%}")


def test_nfd_queries_score_as_nfc(subset, our_engine, kb, chatbot_questions):
    entries, asked = subset
    engine = Engine(entries)
    cases = [(engine, q) for _, q in asked[::9]]  # one paraphrase an intent
    cases += [(our_engine, p) for e in kb.entries for p in e.phrasings]
    cases += [(our_engine, q) for q in chatbot_questions[::40]]
    differ = []
    for eng, q in cases:
        nfc, nfd = unicodedata.normalize("NFC", q), unicodedata.normalize("NFD", q)
        assert nfd != nfc or not any("가" <= c <= "힣" for c in nfc)
        a = [(m.entry_id, round(m.score, 6)) for m in eng.search(nfc, 3)]
        b = [(m.entry_id, round(m.score, 6)) for m in eng.search(nfd, 3)]
        ra, rb = eng.answer(nfc), eng.answer(nfd)
        if a != b or ra.answered != rb.answered or (ra.best and ra.best.entry_id) != (rb.best and rb.best.entry_id):
            differ.append(q)
    assert not differ, f"{len(differ)} of {len(cases)} queries rank differently in NFD, e.g. {differ[:5]}"
