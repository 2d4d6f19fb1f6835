"""Answer-engine benchmark: latency, start-up and memory at scale; paraphrase retrieval; declines.

    .venv/bin/python bench/search.py [--corpora PATH] [--quick] [--build-budget SECONDS]

Prints Markdown tables:
  a. Latency — p50/p99 of `engine.answer` on our knowledge base and on synthetic bases of 1,000,
     10,000 and 100,000 entries, next to two baselines measured in the same run: a full-scan rapidfuzz
     `extractOne` (`token_set_ratio` over every phrasing, keys normalised once, no processor) and a
     BM25 index over character bigrams (pure Python, dict postings). Also index build time and
     resident-memory growth per base, and top-1 accuracy of each method on the timed queries.
  b. paraKQC — the first sentence of each of 1,000 intents indexed as a one-question FAQ, the other
     nine asked: top-1 of the engine (`engine.search(q, 1)`), BM25 bigrams and `token_sort_ratio`,
     on clean, NFD-decomposed, one-typo and unspaced queries.
  c. ChatbotData — share of 11,823 casual chat questions the engine declines on our knowledge base.

Synthetic bases are built at run time from paraKQC sentences and random combinations of Korean
domain words (nothing from the corpora is stored in the repository). Without the corpora, the
synthetic bases use domain-word templates only and parts b and c are skipped.

The engine's build time grows faster than linearly with the size of the base (see RESULTS.md); when
the build at 100,000 entries is projected to exceed `--build-budget` seconds (default 60) it is
skipped with a message. `--build-budget 0` always builds.
"""
from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from bot.knowledge.base import Entry, load_knowledge  # noqa: E402
from bot.knowledge.search import Engine  # noqa: E402
from bot.core.text import CHO, JONG, JUNG, HANGUL_BASE, is_hangul_syllable  # noqa: E402

DEFAULT_CORPORA = ROOT.parent / "shared" / "eval" / "external"
TARGET_P99_OURS_MS = 5.0
TARGET_P99_100K_MS = 10.0
TARGET_STARTUP_100K_S = 5.0
TARGET_DECLINE = 0.97


# ---- corpora ----------------------------------------------------------------------------------


def read_parakqc(corpora: Path) -> list[list[str]] | None:
    """1,000 intents × 10 paraphrases (consecutive lines; the sentence is the third column)."""
    path = Path(corpora) / "paraKQC_v1.txt"
    if not path.exists():
        return None
    sents = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) >= 3 and cols[2].strip():
            sents.append(cols[2].strip())
    return [sents[i:i + 10] for i in range(0, len(sents) - len(sents) % 10, 10)]


def read_chatbot_questions(corpora: Path) -> list[str] | None:
    path = Path(corpora) / "ChatbotData.csv"
    if not path.exists():
        return None
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row["Q"] for row in csv.DictReader(f) if (row.get("Q") or "").strip()]


# ---- baselines --------------------------------------------------------------------------------

_PLAIN = re.compile(r"[^\w]+")


def plain(text: str) -> str:
    """Baseline normalisation: lower case, punctuation to spaces. No Unicode composition."""
    return " ".join(_PLAIN.sub(" ", text.lower()).split())


def sort_tokens(text: str) -> str:
    return " ".join(sorted(plain(text).split()))


def bigrams(text: str) -> list[str]:
    """Character bigrams of the text with spaces removed (a lone character is its own token)."""
    s = plain(text).replace(" ", "")
    if len(s) < 2:
        return [s] if s else []
    return [s[i:i + 2] for i in range(len(s) - 1)]


class BM25:
    """Okapi BM25 over character bigrams with dict postings; one document per entry (its phrasings joined)."""

    def __init__(self, docs: Sequence[tuple[str, Sequence[str]]], k1: float = 1.2, b: float = 0.75):
        self.ids = [doc_id for doc_id, _ in docs]
        tfs: list[dict[str, int]] = []
        for _, texts in docs:
            tf: dict[str, int] = defaultdict(int)
            for t in texts:
                for g in bigrams(t):
                    tf[g] += 1
            tfs.append(tf)
        n = len(tfs) or 1
        lengths = [sum(tf.values()) for tf in tfs]
        avgdl = (sum(lengths) / n) or 1.0
        df: dict[str, int] = defaultdict(int)
        for tf in tfs:
            for g in tf:
                df[g] += 1
        # Postings hold the full BM25 weight of the term in the document: a query only adds.
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, tf in enumerate(tfs):
            norm = k1 * (1 - b + b * lengths[i] / avgdl)
            for g, f in tf.items():
                idf = math.log(1 + (n - df[g] + 0.5) / (df[g] + 0.5))
                self.postings[g].append((i, idf * f * (k1 + 1) / (f + norm)))

    def search(self, query: str, limit: int = 1) -> list[tuple[str, float]]:
        scores: dict[int, float] = defaultdict(float)
        for g in set(bigrams(query)):
            for i, w in self.postings.get(g, ()):
                scores[i] += w
        if not scores:
            return []
        if limit == 1:
            i = max(scores, key=scores.__getitem__)
            return [(self.ids[i], scores[i])]
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:limit]
        return [(self.ids[i], scores[i]) for i in best]

    def top1(self, query: str) -> str | None:
        r = self.search(query, 1)
        return r[0][0] if r else None


class FullScan:
    """rapidfuzz over every phrasing, keys normalised once, no processor."""

    def __init__(self, entries: Sequence[Entry], scorer=fuzz.token_set_ratio):
        self.keys: list[str] = []
        self.owner: list[str] = []
        for e in entries:
            for p in e.phrasings:
                self.keys.append(plain(p))
                self.owner.append(e.id)
        self.scorer = scorer

    def top1(self, query: str) -> str | None:
        hit = process.extractOne(plain(query), self.keys, scorer=self.scorer)
        return self.owner[hit[2]] if hit else None


# ---- noise ------------------------------------------------------------------------------------

# Neighbouring keys on the 2-beolsik keyboard: the typo a hurried hand makes.
_NEAR = {
    "ㅂ": "ㅈㅁ", "ㅈ": "ㅂㄷㄴ", "ㄷ": "ㅈㄱㅇ", "ㄱ": "ㄷㅅㄹ", "ㅅ": "ㄱㅎ", "ㅁ": "ㅂㄴㅋ", "ㄴ": "ㅁㅇㅈ",
    "ㅇ": "ㄴㄹㄷ", "ㄹ": "ㅇㅎㄱ", "ㅎ": "ㄹㅅ", "ㅋ": "ㅌㅁ", "ㅌ": "ㅋㅊ", "ㅊ": "ㅌㅍ", "ㅍ": "ㅊ",
    "ㄲ": "ㄱ", "ㄸ": "ㄷ", "ㅃ": "ㅂ", "ㅆ": "ㅅ", "ㅉ": "ㅈ",
    "ㅛ": "ㅕㅗ", "ㅕ": "ㅛㅑㅓ", "ㅑ": "ㅕㅐㅏ", "ㅐ": "ㅑㅔ", "ㅔ": "ㅐ", "ㅗ": "ㅓㅛ", "ㅓ": "ㅗㅏ",
    "ㅏ": "ㅓㅣ", "ㅣ": "ㅏ", "ㅠ": "ㅜ", "ㅜ": "ㅠㅡ", "ㅡ": "ㅜ",
}


def typo(text: str, rnd: random.Random) -> str:
    """One syllable gets a neighbouring key for its initial consonant or its vowel."""
    spots = [i for i, c in enumerate(text) if is_hangul_syllable(c)]
    if not spots:
        return text
    i = rnd.choice(spots)
    code = ord(text[i]) - HANGUL_BASE
    cho, jung, jong = code // 588, (code % 588) // 28, code % 28
    if rnd.random() < 0.5 and JUNG[jung] in _NEAR:
        jung = JUNG.index(rnd.choice(_NEAR[JUNG[jung]]))
    elif CHO[cho] in _NEAR:
        cho = CHO.index(rnd.choice(_NEAR[CHO[cho]]))
    return text[:i] + chr(HANGUL_BASE + cho * 588 + jung * 28 + jong) + text[i + 1:]


def nospace(text: str) -> str:
    return text.replace(" ", "")


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# ---- synthetic bases --------------------------------------------------------------------------

NOUNS = """후원관리 후원금 후원물품 후원자 보조금 정산보고 결산 예산 추경예산 세입 세출 회계 전표 계정과목 인사카드 급여
급여명세서 4대보험 퇴직금 연말정산 입퇴소 이용자 종사자 시설장 자원봉사자 바우처 전자결재 시군구보고 로그인 비밀번호
공동인증서 아이디 사용자권한 메뉴 엑셀 첨부파일 출력물 프로그램 사례관리 상담일지 기록지 서비스이용 통계 공지사항
게시판 데이터이관 회원가입 기관정보 법인 직인 계좌 통장 법인카드 영수증 세금계산서 증빙서류 재산대장 물품대장 식단
급식 차량운행 일정 휴가 출장 근태 직원교육 자격증 시설평가 운영보고서 신청서 사업계획서 결과보고 조회화면 팝업창
브라우저 크롬 엣지 프린터 결재선 검색조건 목록 마감일 담당자 연락처 주소 전화번호 이메일 문자발송 알림 환경설정 백업
장애 정기점검 시스템중단 개통 희망이음 시설정보시스템 입소신청 퇴소처리 후원영수증 기부금 지정후원 비지정후원 보호자
생활기록 건강기록 투약기록 프로그램일지 출석부 자부담 이월금 반납금 이자수입 운영비 인건비 사업비 관리운영비""".split()
ACTIONS = """등록 수정 삭제 조회 출력 저장 승인 신청 변경 확인 입력 발급 제출 취소 이관 복사 전송 마감 재발급 초기화
반영 내려받기 올리기 검토 배정""".split()


def _josa(word: str, batchim: str, plain_: str) -> str:
    last = word[-1]
    has = is_hangul_syllable(last) and (ord(last) - HANGUL_BASE) % 28 != 0
    return word + (batchim if has else plain_)


TEMPLATES: list[Callable[[str, str, str], str]] = [
    lambda a, b, v: f"{a} {b} {v} 방법",
    lambda a, b, v: f"{a} {b} 어떻게 {v}하나요?",
    lambda a, b, v: f"{_josa(a, '에서', '에서')} {b} {_josa(v, '은', '는')} 어디서 하나요",
    lambda a, b, v: f"{a} {b} {_josa(v, '이', '가')} 안 돼요",
    lambda a, b, v: f"{b} {v}하려면 {_josa(a, '에서', '에서')} 뭘 해야 하나요",
    lambda a, b, v: f"{a} 메뉴에서 {_josa(b, '을', '를')} {v}하고 싶어요",
    lambda a, b, v: f"{b} {v} 어디서 해요? {a} 쪽인가요",
    lambda a, b, v: f"{a} {b} {v} 가능한가요?",
    lambda a, b, v: f"{a}{b} {v}하는 법 알려주세요",
    lambda a, b, v: f"{_josa(a, '의', '의')} {b} {v} 절차가 궁금합니다",
]


def synthetic_base(n: int, intents: list[list[str]] | None, rnd: random.Random
                   ) -> tuple[list[Entry], list[tuple[str, str]]]:
    """`n` entries with 2–5 phrasings each, and for each entry one held-out paraphrase (id, text).

    Three entries in four are domain questions ({menu} {object} {action} through ten templates: the
    held-out paraphrase is a template not indexed); one in four is a paraKQC intent under a domain
    word (the held-out paraphrase is an unindexed sentence of the same intent).
    """
    entries: list[Entry] = []
    held: list[tuple[str, str]] = []
    seen: set[tuple] = set()
    while len(entries) < n:
        eid = f"s{len(entries)}"
        k = rnd.randint(2, 5)
        answer = f"{rnd.choice(NOUNS)} 메뉴의 {rnd.choice(NOUNS)} 화면에서 {rnd.choice(ACTIONS)}할 수 있습니다."
        if intents and rnd.random() < 0.25:
            a, i = rnd.choice(NOUNS), rnd.randrange(len(intents))
            if (a, i) in seen:
                continue
            seen.add((a, i))
            sents = rnd.sample(intents[i], k + 1)
            phr = [f"{a} {s}" for s in sents]
        else:
            a, b, v = rnd.choice(NOUNS), rnd.choice(NOUNS), rnd.choice(ACTIONS)
            if a == b or (a, b, v) in seen:
                continue
            seen.add((a, b, v))
            phr = [t(a, b, v) for t in rnd.sample(TEMPLATES, k + 1)]
        entries.append(Entry(id=eid, title=phr[0], answer=answer, questions=phr[1:k]))
        held.append((eid, phr[k]))
    return entries, held


def queries_for(entries: list[Entry], held: list[tuple[str, str]], count: int, rnd: random.Random
                ) -> list[tuple[str, str, str]]:
    """(kind, expected id, query): a third held-out paraphrases, a third one-typo and a third unspaced phrasings."""
    out = []
    idx = rnd.sample(range(len(entries)), min(count, len(entries)))
    for j, i in enumerate(idx):
        e = entries[i]
        kind = ("paraphrase", "typo", "nospace")[j % 3]
        if kind == "paraphrase":
            q = held[i][1]
        elif kind == "typo":
            q = typo(rnd.choice(e.phrasings), rnd)
        else:
            q = nospace(rnd.choice(e.phrasings))
        out.append((kind, e.id, q))
    return out


# ---- measuring --------------------------------------------------------------------------------


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: resource's peak is the best there is
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(factory: Callable[[], object]) -> tuple[object, float, float]:
    """The built object, seconds, resident-memory growth in MB."""
    gc.collect()
    before = rss_mb()
    t = time.perf_counter()
    obj = factory()
    seconds = time.perf_counter() - t
    gc.collect()
    return obj, seconds, rss_mb() - before


def saved_start(engine: Engine) -> float:
    """Seconds to load the engine's saved index, as `ieum` starts with a base of 5,000 entries or more
    (`Engine.cached`: the first start builds and saves it, every later one loads it)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.pickle"
        engine.save(path)
        gc.collect()
        t = time.perf_counter()
        loaded = Engine.load(path)
        seconds = time.perf_counter() - t
    del loaded
    return seconds


def timed(fn: Callable[[str], object], queries: Sequence[tuple[str, str, str]], budget_s: float,
          got: Callable[[object], str | None]) -> dict:
    """Latencies of `fn` over the queries (stopping after `budget_s`, at least 20 queries), top-1 by kind."""
    lat: list[float] = []
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[tuple[str, str, str | None]] = []
    start = time.perf_counter()
    for n, (kind, expected, q) in enumerate(queries):
        if n >= 20 and time.perf_counter() - start > budget_s:
            break
        t = time.perf_counter()
        r = fn(q)
        lat.append((time.perf_counter() - t) * 1000)
        g = got(r)
        kinds[kind][0] += g == expected
        kinds[kind][1] += 1
        if g != expected:
            misses.append((q, expected, g))
    lat.sort()
    ok = sum(k[0] for k in kinds.values())
    return {"n": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99), "top1": ok / len(lat) if lat else 0.0,
            "kinds": {k: v[0] / v[1] for k, v in kinds.items()}, "misses": misses}


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def engine_got(r) -> str | None:
    return r.best.entry_id if r.best is not None else None


def search_got(r) -> str | None:
    return r[0].entry_id if r else None


def same(r) -> str | None:
    return r


def fmt_ms(x: float) -> str:
    return "—" if x != x else (f"{x:.2f}" if x < 10 else f"{x:.0f}")


def ratio(a: float, b: float) -> str:
    if not (a == a and b == b) or a <= 0:
        return "—"
    r = b / a
    return f"{r:.2f}×" if r < 1 else (f"{r:.1f}×" if r < 100 else f"{r:.0f}×")


# ---- parts ------------------------------------------------------------------------------------


def part_latency(args, intents) -> None:
    rnd = random.Random(20240901)
    kb = load_knowledge()
    sizes = [300, 1_000, 3_000] if args.quick else [1_000, 10_000, 100_000]
    nq = 90 if args.quick else 450
    scan_budget = 3.0 if args.quick else 12.0
    budget = 5.0 if args.quick else 20.0
    bases: list[tuple[str, list[Entry], list[tuple[str, str, str]]]] = []
    # Our knowledge base: each phrasing asked with a typo and without spaces.
    ours_q: list[tuple[str, str, str]] = []
    for e in kb.entries:
        for p in e.phrasings:
            ours_q.append(("typo", e.id, typo(p, rnd)))
            ours_q.append(("nospace", e.id, nospace(p)))
            ours_q.append(("exact", e.id, p))
    rnd.shuffle(ours_q)
    bases.append((f"ours ({len(kb.entries)})", kb.entries, ours_q[: max(nq, 300)]))
    print("## a. Latency, start-up and memory\n")
    if not intents:
        print("_paraKQC absent: synthetic bases use domain-word templates only._\n")
    print("Synthetic bases: 2–5 phrasings an entry (¾ domain templates, ¼ paraKQC intents under a domain word); "
          "queries: ⅓ held-out paraphrases, ⅓ one-typo phrasings, ⅓ unspaced phrasings. "
          f"ours: every phrasing asked exact, with one typo and unspaced. Full-scan baseline: at most {scan_budget:.0f} s "
          f"of queries a base (n shown). Memory: resident-set growth over the build. 2 cores, Python "
          f"{sys.version.split()[0]}.\n")
    rows = []
    engine_s_per_entry: list[tuple[int, float]] = []
    for size in sizes:
        entries, held = synthetic_base(size, intents, rnd)
        bases.append((f"synthetic {size:,}", entries, queries_for(entries, held, nq, rnd)))
    for name, entries, queries in bases:
        n_entries = len(entries)
        phrasings = sum(len(e.phrasings) for e in entries)
        res = {"name": name, "entries": n_entries, "phrasings": phrasings, "entries_list": entries}
        is_ours = name.startswith("ours")
        projected = None
        if args.build_budget and engine_s_per_entry:
            n0, s0 = engine_s_per_entry[-1]
            growth = 1.0  # the exponent of build time in the number of entries, from the last two builds
            if len(engine_s_per_entry) >= 2:
                n1, s1 = engine_s_per_entry[-2]
                if n0 > n1 and s0 > 0 and s1 > 0:
                    growth = max(1.0, math.log(s0 / s1) / math.log(n0 / n1))
            projected = s0 * (n_entries / n0) ** growth
        if projected is not None and projected > args.build_budget:
            print(f"> engine at {name}: **skipped** — build projected at ≈{projected:.0f} s from {s0:.1f} s at "
                  f"{n0:,} entries (time ∝ entries^{growth:.1f}) (> --build-budget {args.build_budget:.0f} s; `--build-budget 0` builds it).\n")
            res["engine"] = None
            res["projected"] = projected
        else:
            # ours is built as the bot builds it (answers rendered from their templates)
            eng, secs, mem = build(lambda: Engine.from_knowledge(kb) if is_ours else Engine(entries))
            engine_s_per_entry.append((n_entries, secs))
            res["engine"] = {"build": secs, "mem": mem, "load": saved_start(eng),
                             **timed(eng.answer, queries, budget, engine_got)}
            # accuracy of the ranking alone (answered or declined): search(q, 1)
            res["search"] = timed(lambda q: eng.search(q, 1), queries[:res["engine"]["n"]], 1e9, search_got)
            res["engine"]["search_top1"] = res["search"]["top1"]
            del eng
        bm, secs, mem = build(lambda: BM25([(e.id, e.phrasings) for e in entries]))
        res["bm25"] = {"build": secs, "mem": mem, **timed(bm.top1, queries, budget, same)}
        del bm
        fs, secs, mem = build(lambda: FullScan(entries))
        res["scan"] = {"build": secs, "mem": mem, **timed(fs.top1, queries, scan_budget, same)}
        del fs
        rows.append(res)
        gc.collect()
        print(f"<!-- {name}: done -->", file=sys.stderr, flush=True)

    print("| base | entries / phrasings | method | build s | memory MB | n | p50 ms | p99 ms | p99 vs engine | top-1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        e = r["engine"]
        for label, key in (("**engine** `answer`", "engine"), ("BM25 char bigrams", "bm25"),
                           ("rapidfuzz token_set full scan", "scan")):
            m = r[key]
            if m is None:
                print(f"| {r['name']} | {r['entries']:,} / {r['phrasings']:,} | {label} | skipped "
                      f"(≈{r['projected']:.0f} projected) | — | — | — | — | — | — |")
                continue
            rel = "1×" if key == "engine" else (ratio(e["p99"], m["p99"]) if e else "—")
            top1 = f"{m['top1']:.1%}"
            if key == "engine":
                top1 = f"{m['search_top1']:.1%} (answered right: {m['top1']:.1%})"
            print(f"| {r['name']} | {r['entries']:,} / {r['phrasings']:,} | {label} | {m['build']:.2f} | "
                  f"{m['mem']:.1f} | {m['n']} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} | {rel} | {top1} |")
    print("\n`p99 vs engine`: the baseline's p99 divided by the engine's (above 1× the engine is faster). "
          "Engine top-1 is `search(q, 1)`; 'answered right' counts `answer(q)` that answered with the expected entry.\n")
    # Targets
    print("| target | measured | verdict |")
    print("|---|---|---|")
    ours = rows[0]["engine"]
    print(f"| p99 ≤ {TARGET_P99_OURS_MS:.0f} ms on ours | {fmt_ms(ours['p99'])} ms | "
          f"{'PASS' if ours['p99'] <= TARGET_P99_OURS_MS else 'FAIL'} |")
    big = rows[-1]
    if big["entries"] >= 100_000:
        if big["engine"]:
            print(f"| p99 ≤ {TARGET_P99_100K_MS:.0f} ms at 100,000 | {fmt_ms(big['engine']['p99'])} ms | "
                  f"{'PASS' if big['engine']['p99'] <= TARGET_P99_100K_MS else 'FAIL'} |")
            print(f"| start-up ≤ {TARGET_STARTUP_100K_S:.0f} s at 100,000, first start (builds and saves the index) "
                  f"| {big['engine']['build']:.1f} s | "
                  f"{'PASS' if big['engine']['build'] <= TARGET_STARTUP_100K_S else 'FAIL'} |")
            print(f"| start-up ≤ {TARGET_STARTUP_100K_S:.0f} s at 100,000, every later start (loads the saved index) "
                  f"| {big['engine']['load']:.1f} s | "
                  f"{'PASS' if big['engine']['load'] <= TARGET_STARTUP_100K_S else 'FAIL'} |")
        else:
            print(f"| p99 ≤ {TARGET_P99_100K_MS:.0f} ms at 100,000 | not measured (build skipped) | — |")
            print(f"| start-up ≤ {TARGET_STARTUP_100K_S:.0f} s at 100,000 | ≈{big['projected']:.0f} s projected | FAIL |")
    else:
        print("| 100,000-entry targets | not run (`--quick`) | — |")
    print()
    print("Top-1 by kind of query (engine: `search(q, 1)`):\n")
    kinds = ["exact", "paraphrase", "typo", "nospace"]
    print("| base | method | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for r in rows:
        for label, key in (("engine", "search"), ("BM25", "bm25"), ("token_set scan", "scan")):
            m = r.get(key)
            if not m:
                continue
            cells = [f"{m['kinds'][k]:.1%}" if k in m["kinds"] else "—" for k in kinds]
            print(f"| {r['name']} | {label} | " + " | ".join(cells) + " |")
    print()
    for r in (rows[0], rows[-1] if rows[-1].get("search") else rows[-2]):
        misses = r["search"]["misses"]
        if misses:
            print(f"Engine misses on {r['name']} (first 10 of {len(misses)}; expected phrasing → engine's pick):\n")
            ents = {e.id: e for e in r["entries_list"]}
            for q, exp, g in misses[:10]:
                print(f"- `{q}` → expected “{ents[exp].title}”, got “{ents[g].title if g in ents else '(none)'}”")
            print()


def part_parakqc(args, intents) -> None:
    print("## b. paraKQC paraphrase retrieval\n")
    if not intents:
        print("_Skipped: paraKQC_v1.txt not found in the corpora folder._\n")
        return
    n_int = 200 if args.quick else len(intents)
    intents = intents[:n_int]
    entries = [Entry(id=str(i), title=s[0], answer="답변") for i, s in enumerate(intents)]
    asked = [(str(i), q) for i, s in enumerate(intents) for q in s[1:]]
    rnd = random.Random(7)
    variants = {
        "clean": [q for _, q in asked],
        "NFD (decomposed)": [nfd(q) for _, q in asked],
        "one typo": [typo(q, rnd) for _, q in asked],
        "no spaces": [nospace(q) for _, q in asked],
        "typo + no spaces": [nospace(typo(q, rnd)) for _, q in asked],
    }
    expected = [i for i, _ in asked]
    t = time.perf_counter()
    eng = Engine(entries)
    eng_build = time.perf_counter() - t
    bm = BM25([(e.id, [e.title]) for e in entries])
    # token_sort_ratio is ratio over the sorted tokens: sort the keys once, not per pair.
    keys = [sort_tokens(e.title) for e in entries]
    print(f"{n_int:,} intents indexed (first sentence), {len(asked):,} paraphrases asked per row; "
          f"engine built in {eng_build:.2f} s. Baselines normalise with lower case and punctuation only "
          "(no Unicode composition), as a plain implementation would.\n")
    print("| queries | engine `search` | BM25 char bigrams | rapidfuzz token_sort | engine − BM25 |")
    print("|---|---|---|---|---|")
    for name, qs in variants.items():
        e_ok = sum(1 for q, exp in zip(qs, expected) if (m := eng.search(q, 1)) and m[0].entry_id == exp)
        b_ok = sum(1 for q, exp in zip(qs, expected) if bm.top1(q) == exp)
        r_ok = 0
        for q, exp in zip(qs, expected):
            hit = process.extractOne(sort_tokens(q), keys, scorer=fuzz.ratio)
            r_ok += bool(hit) and hit[1] > 0 and str(hit[2]) == exp
        n = len(qs)
        print(f"| {name} | {e_ok / n:.1%} | {b_ok / n:.1%} | {r_ok / n:.1%} | {100 * (e_ok - b_ok) / n:+.1f} pt |")
        print(f"<!-- paraKQC {name}: done -->", file=sys.stderr, flush=True)
    print()


def part_chatbot(args, questions) -> None:
    print("## c. ChatbotData: out-of-domain declines\n")
    if not questions:
        print("_Skipped: ChatbotData.csv not found in the corpora folder._\n")
        return
    kb = load_knowledge()
    eng = Engine.from_knowledge(kb)
    qs = questions[:2000] if args.quick else questions
    answered = []
    t = time.perf_counter()
    for q in qs:
        r = eng.answer(q)
        if r.answered:
            answered.append((q, r.best.entry_id, r.best.score, r.best.coverage))
    secs = time.perf_counter() - t
    share = 1 - len(answered) / len(qs)
    print(f"| questions | declined | target | verdict | time |")
    print("|---|---|---|---|---|")
    print(f"| {len(qs):,} | {share:.2%} ({len(qs) - len(answered):,}) | ≥ {TARGET_DECLINE:.0%} | "
          f"{'PASS' if share >= TARGET_DECLINE else 'FAIL'} | {secs:.1f} s |")
    if answered:
        print("\nWrongly answered (first 15):\n")
        print("| question | answered with | score | coverage |")
        print("|---|---|---|---|")
        for q, eid, score, cov in answered[:15]:
            print(f"| {q} | {eid} | {score:.1f} | {cov:.2f} |")
    print()


# the engine's source and data (a change to any of them changes what is measured)
ENGINE_FILES = ("bot/knowledge/search.py", "bot/core/text.py", "bot/knowledge/english.yaml",
                "bot/knowledge/decline_model.json")


def engine_version() -> str:
    """The commit measured, and a hash of the engine's source when the working tree differs from it."""
    import hashlib
    import subprocess

    src = b"".join((ROOT / f).read_bytes() for f in ENGINE_FILES)
    digest = hashlib.sha256(src).hexdigest()[:10]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", *ENGINE_FILES, "knowledge"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"source {digest}"
    return f"`{head}`" + (f" + uncommitted changes (engine source sha256 {digest})" if dirty else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--quick", action="store_true", help="small bases and few queries (about 30 s)")
    ap.add_argument("--build-budget", type=float, default=60.0,
                    help="skip an engine build projected to take longer (seconds; 0 = never skip)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    print(f"# Answer-engine benchmark{' (quick)' if args.quick else ''}\n")
    print(f"`bench/search.py {' '.join(argv if argv is not None else sys.argv[1:])}` — "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"engine {engine_version()}\n")
    if not args.corpora.is_dir():
        print(f"_Corpora not found at `{args.corpora}`: paraKQC and ChatbotData parts are skipped, "
              "synthetic bases use domain-word templates only._\n")
    intents = read_parakqc(args.corpora) if args.corpora.is_dir() else None
    questions = read_chatbot_questions(args.corpora) if args.corpora.is_dir() else None
    part_latency(args, intents)
    part_parakqc(args, intents)
    part_chatbot(args, questions)
    print(f"_Total bench time: {time.perf_counter() - started:.0f} s._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
