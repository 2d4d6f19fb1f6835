"""Train the re-ranker and the decline model on labelled question sets; draw the precision/coverage curve.

    .venv/bin/python bench/decline.py            # train, evaluate, write bench/decline.* and bot/knowledge/decline_model.json
    .venv/bin/python bench/decline.py --no-write # evaluate only

Every labelled question is asked; each of its first RERANK candidates is *right* when its answer holds the
expected facts (the rule of ../shared/eval/score.py). Two logistic regressions over `Engine.features` of a
(question, candidate) pair: the re-ranker (pointwise: is this candidate right?) picks the first among those
candidates, the decline model learns P(right) of that choice. Besides the
round-2 features, both may weigh words by name (`LEXICAL`, `ENTRY`): the words and syllable pairs a question
says that its candidate entry does not hold, and the entry; only those found in at least LEXICON_MIN_SETS
sets (of the training folds) get a weight. Questions asked at a moment are judged by the answers rendered at
that moment. Out-of-domain chat (ChatbotData) joins as negatives, weighed as much as all in-domain negatives
together.

Figures are honest: every set's confidences come from models trained without that set (leave one set
out); the feature subset, the curve and the operating point are chosen from those. The models shipped are
then trained on all sets. Development-only dependencies: the `bench` extra (scikit-learn, matplotlib).
"""
from __future__ import annotations

import argparse
import csv
import json
import pickle
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.clock import FixedClock, parse_time  # noqa: E402
from bot.core.text import normalize  # noqa: E402
from bot.knowledge.base import load_knowledge  # noqa: E402
from bot.knowledge.search import (_GREETING_PREFIX, ENTRY, LEXICAL, MAX_QUERY_CHARS, RERANK,  # noqa: E402
                                  DeclineModel, Engine)
from bot.knowledge.memory import FEATURES as RECALL, Memory, closeness, grams, key  # noqa: E402
from bot.knowledge.templates import Templates  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
SETS = {
    "dev": SHARED / "dev.jsonl",
    "dev2": SHARED / "dev2.jsonl",
    "timely-dev": SHARED / "timely-dev.jsonl",
    "heldout": ROOT / "tests" / "data" / "heldout.jsonl",
    "heldout2": ROOT / "tests" / "data" / "heldout2.jsonl",
    "tune": ROOT / "tests" / "data" / "heldout3-tune.jsonl",
    "train-a": ROOT / "tests" / "data" / "train-a.jsonl",
    "train-b": ROOT / "tests" / "data" / "train-b.jsonl",
    "train-c": ROOT / "tests" / "data" / "train-c.jsonl",
    # reported untouched in round 2, then opened for error analysis and training (issue 10, round 3)
    "report": ROOT / "tests" / "data" / "untouched-report.jsonl",
    "heldout-d": ROOT / "tests" / "data" / "heldout-d.jsonl",
    # round 4's untouched report set, opened for training in round 5
    "heldout-e": ROOT / "tests" / "data" / "heldout-e.jsonl",
    # written for round 5 to train on
    "heldout-g": ROOT / "tests" / "data" / "heldout-g.jsonl",
    "heldout-h": ROOT / "tests" / "data" / "heldout-h.jsonl",
    "heldout-i": ROOT / "tests" / "data" / "heldout-i.jsonl",
    # round 5's untouched report set, opened for training in round 6
    "heldout-f": ROOT / "tests" / "data" / "heldout-f-report.jsonl",
    # written for round 6 to tune on
    "heldout-k": ROOT / "tests" / "data" / "heldout-k.jsonl",
    # round 6's untouched report sets, opened for training in round 7
    "heldout-j": ROOT / "tests" / "data" / "heldout-j-report.jsonl",
    "heldout-l": ROOT / "tests" / "data" / "heldout-l-report.jsonl",
    # written for round 7 to train on
    "heldout-o": ROOT / "tests" / "data" / "heldout-o.jsonl",
    "heldout-p": ROOT / "tests" / "data" / "heldout-p.jsonl",
    # round 7's first report sets: scored untouched once, then opened for error analysis and training
    "heldout-m": ROOT / "tests" / "data" / "heldout-m-report.jsonl",
    "heldout-n": ROOT / "tests" / "data" / "heldout-n-report.jsonl",
    # round 7's untouched report sets, opened for training in round 8 (round 8 reports heldout-s-, -t-, -u- and
    # -v-report, kept out of every set here)
    "heldout-q": ROOT / "tests" / "data" / "heldout-q-report.jsonl",
    "heldout-r": ROOT / "tests" / "data" / "heldout-r-report.jsonl",
}
# Feature subsets tried besides all of them (leave-one-set-out decides).
SUBSETS = {
    "general": ["coverage", "noun_coverage", "reverse", "similarity", "topic_covered", "topic_unknown", "unknown",
                "unknown_noun_share", "unknown_tail", "uncovered", "uncovered_tail", "unknown_verb_tail", "margin",
                "gap", "title", "score"],
}
CHAT = SHARED / "external" / "ChatbotData.csv"
WRONG_ANSWER_COST = 2.0  # a confident wrong answer costs more than an honest decline: the user acts on it
MIN_CHAT_DECLINED = 0.98
MIN_DECLINE, MAX_FALSE_DECLINE = 0.92, 0.05  # issue 10's bars, for choosing among thresholds of about one cost
COST_TIE = 0.002  # costs this close are one: a few questions of ~2,500 (the curve is flat near its lowest)
LEXICON_MIN_SETS = (2,)  # words weighed by name: seen in at least this many sets …
LEXICON_C = (1.0, 3.0)  # … with this inverse regularisation (leave-one-set-out chooses)


def _norm(text: str) -> str:
    return re.sub(r"[\s*_`]", "", unicodedata.normalize("NFKC", text or "").lower())


def holds(answer: str, expect) -> bool:
    a = _norm(answer)
    return all(any(_norm(alt) in a for alt in group) for group in expect)


def collect(engine: Engine, kb):
    """Per question: its set, its first RERANK candidates (features, right or not), whether it is answerable.

    A question asked at a moment ("now") is judged by the answers rendered at that moment."""
    clock = FixedClock(parse_time("2022-08-16T10:00"))
    templates = Templates(kb, clock)
    rows = []
    for name, path in SETS.items():
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("now"):
                clock.set(parse_time(r["now"]))
            rows.append(_row(engine, templates, name, r["query"], r["expect"], timely=bool(r.get("now"))))
    with open(CHAT, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(_row(engine, templates, "chat", r["Q"], None))
    return rows


def collect_cached(cache: Path | None = None):
    """`collect` over the knowledge base, or what an earlier run kept in `cache`."""
    if cache and cache.exists():
        return pickle.loads(cache.read_bytes())
    kb = load_knowledge(ROOT / "knowledge")
    rows = collect(Engine.from_knowledge(kb), kb)
    if cache:
        cache.write_bytes(pickle.dumps(rows))
    return rows


def _row(engine, templates, name, query, expect, timely=False):
    # The engine's own gate: questions it declines before any model (small talk, nothing to look up)
    # carry no candidates.
    res = engine.answer(query)
    cands = []
    if res.features:
        text = _GREETING_PREFIX.sub("", normalize(query[:MAX_QUERY_CHARS]))
        terms = engine.terms(text)
        matches = engine._rank(terms, RERANK)
        for i, m in enumerate(matches[:RERANK]):
            right = bool(expect) and holds(templates.render_reply_answer(m.entry, query), expect)
            f = {k: v for k, v in engine.candidate_features(terms, matches, i, text).items() if k not in RECALL}
            cands.append({"features": f, "right": right, "score": m.score, "entry": m.entry_id})
    return {"set": name, "cands": cands, "answerable": expect is not None, "query": query, "expect": expect,
            "timely": timely, "key": key(_GREETING_PREFIX.sub("", normalize(query[:MAX_QUERY_CHARS])))}


def memory_of(rows) -> Memory:
    """The questions of `rows` as the engine's memory: per entry those it answered right, and those to decline
    that it ranked first; ChatbotData is not staff asking."""
    mem = Memory()
    for r in rows:
        if r["set"] == "chat" or not r["cands"] or not r["key"]:
            continue
        if r["answerable"]:
            for c in r["cands"]:
                if c["right"]:
                    mem.answered.setdefault(c["entry"], []).append(r["key"])
        else:
            mem.declined.setdefault(r["cands"][0]["entry"], []).append(r["key"])
            mem.declined_any.append(r["key"])
    for lists in (mem.answered, mem.declined):
        for e in lists:
            lists[e] = sorted(set(lists[e]))
    mem.declined_any = sorted(set(mem.declined_any))
    return mem


class Recall:
    """The memory features of every row's candidates against the questions of each set apart, so that a row is
    never compared with its own set, nor with the set held out (`features(rows, without)`): the features a
    model trains on are then like those of a question it has never seen. Per set, one rapidfuzz `cdist` and
    one product of TF-IDF matrices (`bot.knowledge.memory.Vectors`, its idf from every labelled question, as
    the shipped memory's: no labels, only how common each piece of text is)."""

    def __init__(self, rows):
        from rapidfuzz import fuzz, process

        self.rows = rows
        self.sets = sorted({r["set"] for r in rows if r["set"] != "chat"})
        keys = [r["key"] for r in rows]
        vectors, _ = memory_of(rows).vectors
        tfidf = lambda texts: matrix([vectors.vector(grams(k)) for k in texts], list(vectors.idf))  # noqa: E731
        asked = tfidf(keys)
        self.table = {}  # set -> (similarity matrices rows × its questions: ratio, TF-IDF; index lists)
        for s in self.sets:
            mem = memory_of([r for r in rows if r["set"] == s])
            col = {k: j for j, k in enumerate(sorted({*mem.declined_any, *(k for v in mem.answered.values() for k in v)}))}
            sims = None
            if col:
                cos = (asked @ tfidf(list(col)).T).toarray()
                sims = (process.cdist(keys, list(col), scorer=fuzz.ratio, workers=-1, dtype=np.uint8),
                        np.rint(np.clip(cos, 0, 1) * 100).astype(np.uint8))
            idx = lambda lists: {e: np.array([col[k] for k in v]) for e, v in lists.items()}  # noqa: E731
            self.table[s] = (sims, idx(mem.answered), idx(mem.declined), np.array([col[k] for k in mem.declined_any]))

    def features(self, without=()):
        """Copies of the rows whose candidates carry the memory features (`bot.knowledge.memory.FEATURES`)."""
        out = []
        for i, r in enumerate(self.rows):
            use = [s for s in self.sets if s != r["set"] and s not in without and self.table[s][0] is not None]
            def best(pick):
                return tuple(max((self.table[s][0][m][i, cols].max() for s in use if len(cols := pick(s))),
                                 default=0) / 100 for m in (0, 1))
            declined = best(lambda s: self.table[s][3])
            cands = []
            for c in r["cands"]:
                e = c["entry"]
                pos = best(lambda s: self.table[s][1].get(e, ()))
                neg = best(lambda s: self.table[s][2].get(e, ()))
                f = dict(c["features"])
                if any(e in self.table[s][1] for s in use):  # as `Memory.features`: nothing for an unknown entry
                    f.update(closeness((pos[0], neg[0], declined[0]), (pos[1], neg[1], declined[1])))
                cands.append({**c, "features": {k: v for k, v in f.items() if v}})
            out.append({**r, "cands": cands})
        return out


def forgetting(rows):
    """The rows again as if the memory held nothing (a brought-in FAQ, a new entry): the models learn to judge
    an entry without it too."""
    return [{**r, "cands": [{**c, "features": {k: v for k, v in c["features"].items() if k not in RECALL}}
                             for c in r["cands"]]}
            for r in rows]


def matrix(feats, names):
    """The rows of `feats` over `names` (sparse: most names are words, and a row holds few of them)."""
    from scipy.sparse import csr_matrix

    col = {n: j for j, n in enumerate(names)}
    data, ind, ptr = [], [], [0]
    for f in feats:
        for k, v in f.items():
            j = col.get(k)
            if j is not None and v:
                data.append(v)
                ind.append(j)
        ptr.append(len(data))
    return csr_matrix((np.array(data, dtype=float), np.array(ind, dtype=np.int64), np.array(ptr, dtype=np.int64)),
                      shape=(len(feats), len(names)))


def lexicon(rows, min_sets):
    """The words (`LEXICAL` features) worth a weight: those of questions in at least `min_sets` labelled sets,
    so a word one writer favoured is not learnt as a rule (ChatbotData does not count)."""
    sets_of: dict[str, set[str]] = {}
    for r in rows:
        if r["set"] == "chat":
            continue
        for c in r["cands"]:
            for k in c["features"]:
                if k.startswith((LEXICAL, ENTRY)):
                    sets_of.setdefault(k, set()).add(r["set"])
    return sorted(k for k, v in sets_of.items() if len(v) >= min_sets)


def train_rerank(rows, names, min_sets=0, c_reg=1.0):
    """Pointwise: which candidate is right, among the candidates of questions where some but not all are."""
    from sklearn.linear_model import LogisticRegression

    if min_sets:
        names = [*names, *lexicon(rows, min_sets)]

    feats, y = [], []
    for r in rows:
        cands = contenders(r)
        labels = [c["right"] for c in cands]
        if r["set"] == "chat" or not any(labels) or all(labels):
            continue
        feats += [c["features"] for c in cands]
        y += labels
    model = LogisticRegression(C=c_reg, max_iter=3000).fit(matrix(feats, names), np.array(y, dtype=int))
    return {n: float(v) for n, v in zip(names, model.coef_[0]) if not n.startswith((LEXICAL, ENTRY)) or abs(v) >= 0.01}


def contenders(row):
    """The candidates the engine re-ranks: its first RERANK."""
    return row["cands"][:RERANK]


def choose(row, rerank):
    """The candidate the re-ranker puts first (the engine's rule: highest preference, then rank)."""
    if not row["cands"]:
        return None
    m = DeclineModel({}, 0.0, rerank=rerank)
    return min(enumerate(contenders(row)), key=lambda ic: (-m.preference(ic[1]["features"]), ic[0]))[1]


def train_decline(rows, names, rerank, min_sets=0, c_reg=1.0):
    """The decline model over `names`, and over the words of `lexicon(rows, min_sets)` when min_sets > 0."""
    from sklearn.linear_model import LogisticRegression

    if min_sets:
        names = [*names, *lexicon(rows, min_sets)]
    chosen = [(r, choose(r, rerank)) for r in rows]
    chosen = [(r, c) for r, c in chosen if c is not None]
    x = matrix([c["features"] for _, c in chosen], names)
    y = np.array([c["right"] for _, c in chosen], dtype=int)
    neg_in = sum(1 for r, c in chosen if r["set"] != "chat" and not c["right"])
    n_chat = sum(1 for r, _ in chosen if r["set"] == "chat") or 1
    w = np.array([neg_in / n_chat if r["set"] == "chat" else 1.0 for r, _ in chosen])
    model = LogisticRegression(C=c_reg, max_iter=3000).fit(x, y, sample_weight=w)
    weights = {n: float(v) for n, v in zip(names, model.coef_[0]) if not n.startswith((LEXICAL, ENTRY)) or abs(v) >= 0.01}
    return weights, float(model.intercept_[0])


def score_rows(rows, weights, bias, rerank):
    """(confidence, right) of each row's chosen candidate; (0, False) when declined before the model."""
    m = DeclineModel(weights, bias)
    out = []
    for r in rows:
        c = choose(r, rerank)
        out.append((m.confidence(c["features"]), c["right"]) if c else (0.0, False))
    return out


def figures(rows, scored, t):
    """top1, decline, false_decline of the in-domain rows, and the share of chat declined, at threshold t."""
    out = {}
    for name in [*SETS, "all", "timely"]:  # timely: every question asked at a moment, whatever its set
        sub = [(r, s) for r, s in zip(rows, scored) if r["set"] != "chat"
               and (name == "all" or r["set"] == name or name == "timely" and r.get("timely"))]
        ans = [s for r, s in sub if r["answerable"]]
        out_ = [s for r, s in sub if not r["answerable"]]
        if not ans:
            continue
        out[name] = {
            "n": len(ans), "n_out": len(out_),
            "top1": sum(right and c >= t for c, right in ans) / len(ans),
            "decline": sum(c < t for c, _ in out_) / max(len(out_), 1),
            "false_decline": sum(c < t for c, _ in ans) / len(ans),
            "top1_any": sum(right for c, right in ans) / len(ans),  # re-ranked first, before the decline
        }
    chat = [c for r, (c, _) in zip(rows, scored) if r["set"] == "chat"]
    out["chat_declined"] = sum(c < t for c in chat) / max(len(chat), 1)
    return out


def curve(rows, scored):
    """Precision (answered and right / answered) against coverage (answered / all in-domain questions)."""
    ind = [(r, s) for r, s in zip(rows, scored) if r["set"] != "chat"]
    chat = [c for r, (c, _) in zip(rows, scored) if r["set"] == "chat"]
    n_ans = sum(1 for r, _ in ind if r["answerable"]) or 1
    n_out = sum(1 for r, _ in ind if not r["answerable"]) or 1
    points = []
    for t in np.round(np.arange(0.02, 0.99, 0.02), 2):
        answered = [(r, c, right) for r, (c, right) in ind if c >= t]
        right = sum(ok for _, _, ok in answered)
        wrong = len(answered) - right
        missed = sum(1 for r, (c, _) in ind if c < t and r["answerable"])
        points.append({
            "threshold": float(t), "coverage": len(answered) / len(ind),
            "precision": right / len(answered) if answered else 1.0,
            "top1": right / n_ans,
            "decline": sum(1 for r, (c, _) in ind if c < t and not r["answerable"]) / n_out,
            "false_decline": missed / n_ans,
            "cost": (WRONG_ANSWER_COST * wrong + missed) / len(ind),
            "chat_declined": sum(c < t for c in chat) / max(len(chat), 1),
        })
    return points


def folds_of(rows):
    """Leave one set out; ChatbotData in five folds, so every model still sees chat negatives."""
    groups = [n for n in SETS if any(r["set"] == n for r in rows)]
    out = [[i for i, r in enumerate(rows) if r["set"] == g] for g in groups]
    idx = [i for i, r in enumerate(rows) if r["set"] == "chat"]
    return groups, out + [idx[k::5] for k in range(5)]


def loso(rows, names, min_sets=0, c_reg=1.0, recall=None, forget=False):
    """Each fold scored by models trained without it; with `recall`, memory features that never come from the
    fold (nor from a row's own set), the models trained on the rows with and without them (`forgetting`).
    `forget`: score the folds as if the memory held nothing."""
    scored = [(0.0, False)] * len(rows)
    groups, folds = folds_of(rows)
    for g, fold in zip([*groups, *["chat"] * 5], folds):
        held = set(fold)
        seen = recall.features(without={g}) if recall else rows
        train = [r for i, r in enumerate(seen) if i not in held]
        if recall:
            train += forgetting(train)
        rr = train_rerank(train, names, min_sets, c_reg)
        w, b = train_decline(train, names, rr, min_sets, c_reg)
        test = [seen[i] for i in fold]
        for i, sc in zip(fold, score_rows(forgetting(test) if forget else test, w, b, rr)):
            scored[i] = sc
    return scored


def operating_point(points):
    """The lowest threshold whose cost is within COST_TIE of the lowest: where the curve is flat, answer.

    Only thresholds that meet the product's floors count (ChatbotData declined, and issue 10's decline and
    false-decline bars on all sets pooled), when any does; otherwise those that meet the chat floor."""
    ok = ([pt for pt in points if pt["chat_declined"] >= MIN_CHAT_DECLINED and pt["decline"] >= MIN_DECLINE
           and pt["false_decline"] <= MAX_FALSE_DECLINE]
          or [pt for pt in points if pt["chat_declined"] >= MIN_CHAT_DECLINED] or points)
    lowest = min(pt["cost"] for pt in ok)
    return min((pt for pt in ok if pt["cost"] <= lowest + COST_TIE), key=lambda pt: pt["threshold"])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--features", help="comma-separated feature names (default: all, or the best subset)")
    p.add_argument("--only", help="try only the candidate models whose label holds this (e.g. '+memory')")
    p.add_argument("--cache", type=Path, help="keep the asked questions' candidates in this file (experiments only: "
                   "stale as soon as the engine or a set changes)")
    args = p.parse_args()
    rows = collect_cached(args.cache)
    every = sorted(k for k in next(c["features"] for r in rows for c in r["cands"]) if not k.startswith((LEXICAL, ENTRY)))

    # Features are chosen by leave-one-set-out cost too: those that generalise, not those that memorise.
    # Each candidate: (feature names, the fewest sets a word must occur in to be weighed (0: no words), C,
    # whether the memory of earlier questions is used).
    candidates = {"all": (every, 0, 1.0, False),
                  **{k: ([n for n in every if n in v], 0, 1.0, False) for k, v in SUBSETS.items()},
                  **{f"all+words({m} sets, C={c:g})": (every, m, c, False) for m in LEXICON_MIN_SETS for c in LEXICON_C},
                  **{f"all+words({m} sets, C={c:g})+memory": ([*every, *RECALL], m, c, True)
                     for m in LEXICON_MIN_SETS for c in LEXICON_C}}
    if args.only:
        candidates = {k: v for k, v in candidates.items() if args.only in k}
    if args.features:
        names = args.features.split(",")
        candidates = {"given": (names, 0, 1.0, any(n in RECALL for n in names))}
    # the memory's closeness tables (one `cdist` a set) only when a candidate model uses them
    recall = Recall(rows) if any(memory for *_, memory in candidates.values()) else None
    best = None
    for label, (names, min_sets, c_reg, memory) in candidates.items():
        scored = loso(rows, names, min_sets, c_reg, recall if memory else None)
        points = curve(rows, scored)
        chosen = operating_point(points)
        print(f"{label}: cost {chosen['cost']:.4f} at {chosen['threshold']:.2f} "
              f"top1 {chosen['top1']:.3f} decline {chosen['decline']:.3f} fd {chosen['false_decline']:.3f} "
              f"chat {chosen['chat_declined']:.3f}", file=sys.stderr)
        if best is None or chosen["cost"] < best[0]["cost"]:
            best = (chosen, (names, min_sets, c_reg, memory), scored, points, label)
    chosen, (names, min_sets, c_reg, memory), scored, points, label = best
    t = chosen["threshold"]

    # How close a second entry must be to ask which one: the margin that catches most wrong-first,
    # right-second answers while asking on few answers (margins of the engine's scores).
    seen = recall.features() if memory else rows  # the shipped models' training rows
    answered = []
    for r, (c, right) in zip(seen, scored):
        if r["set"] != "chat" and c >= t and r["answerable"] and len(r["cands"]) > 1:
            answered.append((r, right))
    margins = []
    rr_all = train_rerank(seen, names, min_sets, c_reg)
    for m in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0):
        asked = rescued = wrong = 0
        for r, right in answered:
            first = choose(r, rr_all)
            others = sorted((c for c in r["cands"] if c is not first), key=lambda c: -c["score"])
            wrong += not right
            if abs(first["score"] - others[0]["score"]) <= m:
                asked += 1
                rescued += (not right) and others[0]["right"]
        margins.append({"margin": m, "asked": asked / max(len(answered), 1), "rescued": rescued,
                        "wrong_first": wrong})
    clarify = max((mm for mm in margins if mm["asked"] <= 0.08), key=lambda mm: (mm["rescued"], -mm["margin"]))

    report = figures(rows, scored, t)
    # Without the memory (a brought-in FAQ, entries added since): the same models, judged on the rest.
    forgot = figures(rows, loso(rows, names, min_sets, c_reg, recall, forget=True), t) if memory else None
    train = [*seen, *forgetting(seen)] if memory else seen
    rerank = train_rerank(train, names, min_sets, c_reg)
    weights, bias = train_decline(train, names, rerank, min_sets, c_reg)
    fit = figures(seen, score_rows(seen, weights, bias, rerank), t)
    print(json.dumps({"features": label, "threshold": t, "clarify_margin": clarify["margin"],
                      "leave_one_set_out": report, "without_memory": forgot, "fit": fit, "weights": weights,
                      "bias": bias, "rerank": rerank}, ensure_ascii=False, indent=1))
    if args.no_write:
        return 0
    groups, _ = folds_of(rows)
    (ROOT / "bot" / "knowledge" / "decline_model.json").write_text(json.dumps(
        {"weights": {k: round(v, 4) for k, v in weights.items()}, "bias": round(bias, 4), "threshold": t,
         "clarify_margin": clarify["margin"], "rerank": {k: round(v, 4) for k, v in rerank.items()},
         "trained_on": [*groups, "chat"]}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (ROOT / "bot" / "knowledge" / "decline_memory.json").write_text(
        (memory_of(rows) if memory else Memory()).to_json(), encoding="utf-8")
    _write_outputs(points, chosen, report, fit, margins, clarify, label, forgot)
    return 0


def _write_outputs(points, chosen, report, fit, margins, clarify, label, forgot=None):
    out = ROOT / "bench"
    with open(out / "decline_curve.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(points[0]))
        w.writeheader()
        w.writerows(points)
    lines = ["# Re-ranker and decline calibration (bench/decline.py)", "",
             "Two logistic models over the features of a (question, candidate) pair (`Engine.features`): the "
             "re-ranker picks which of the first candidates goes first, the decline model whether that one answers. "
             "Figures are leave-one-set-out (each set scored by models trained without it); *fit* is the shipped "
             "model on its own training data, for comparison only. Questions asked at a moment are in their set "
             "(answers rendered at that moment) and also counted together as *timely*. *words* are the words and "
             "syllable pairs of a question its candidate entry does not hold, and the entry, each a feature by name "
             "(`Engine.features`), weighed when they occur in at least that many sets. *memory* is how close a "
             "question is to labelled questions of other sets that its entry answered or had to decline "
             "(`bot/knowledge/memory.py`); *without memory* scores the same folds as if the memory held nothing "
             "(a brought-in FAQ, an entry added since).", "",
             f"Features: **{label}**. Operating point: threshold **{chosen['threshold']:.2f}** (lowest cost within "
             f"{COST_TIE:g}, a wrong "
             f"answer costing {WRONG_ANSWER_COST:g}× a decline, among the thresholds with ChatbotData declined ≥ "
             f"{MIN_CHAT_DECLINED:.0%}, decline ≥ {MIN_DECLINE:g} and false decline ≤ {MAX_FALSE_DECLINE:g} pooled); "
             f"clarification margin **{clarify['margin']:g}** score points.", "",
             "The first choice among close entries, by class of error: `FIRST_CHOICE.md`.", "",
             "![precision against coverage](decline_curve.png)", "",
             "| set | answerable | to decline | top1 | decline | false decline | re-ranked first right | fit top1 | "
             "fit decline | fit false decline | without memory: top1 / decline / false decline |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in report.items():
        if name == "chat_declined":
            continue
        g = fit[name]
        h = forgot[name] if forgot else None
        lines.append(f"| {name} | {f['n']} | {f['n_out']} | {f['top1']:.3f} | {f['decline']:.3f} | "
                     f"{f['false_decline']:.3f} | {f['top1_any']:.3f} | {g['top1']:.3f} | {g['decline']:.3f} | "
                     f"{g['false_decline']:.3f} | "
                     + (f"{h['top1']:.3f} / {h['decline']:.3f} / {h['false_decline']:.3f} |" if h else "– |"))
    lines += ["", f"ChatbotData declined: {report['chat_declined']:.3f} (fit {fit['chat_declined']:.3f}"
              + (f", without memory {forgot['chat_declined']:.3f})" if forgot else ")"), "",
              "| threshold | coverage | precision | top1 | decline | false decline | cost | ChatbotData declined |",
             "|---|---|---|---|---|---|---|---|"]
    for pt in points[::3]:
        lines.append(f"| {pt['threshold']:.2f} | {pt['coverage']:.3f} | {pt['precision']:.3f} | {pt['top1']:.3f} | "
                     f"{pt['decline']:.3f} | {pt['false_decline']:.3f} | {pt['cost']:.3f} | {pt['chat_declined']:.3f} |")
    lines += ["", "| clarify margin | answers asked | wrong first, right second caught |", "|---|---|---|"]
    for mm in margins:
        lines.append(f"| {mm['margin']:g} | {mm['asked']:.3f} | {mm['rescued']} of {mm['wrong_first']} |")
    (out / "DECLINE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot([p["coverage"] for p in points], [p["precision"] for p in points], marker=".", label="engine")
    ax.scatter([chosen["coverage"]], [chosen["precision"]], color="red", zorder=3,
               label=f"operating point (t = {chosen['threshold']:.2f})")
    ax.set_xlabel("coverage (questions answered / all in-domain questions)")
    ax.set_ylabel("precision (right answers / answered)")
    ax.set_title("Re-ranker + decline model, leave-one-set-out")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "decline_curve.png", dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
