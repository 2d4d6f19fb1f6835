"""Calibrate the decline model on labelled question sets and draw its precision/coverage curve.

    .venv/bin/python bench/decline.py            # train, evaluate, write bench/decline.* and bot/knowledge/decline_model.json
    .venv/bin/python bench/decline.py --no-write # evaluate only

Every labelled question is asked; the engine's best entry is *right* when its answer holds the expected
facts (the rule of ../shared/eval/score.py). A logistic regression over `Engine.features` learns P(right).
Out-of-domain chat (ChatbotData) joins as negatives, weighed as much as all in-domain negatives together.

Figures are honest: every set's confidences come from a model trained without that set (leave one set
out); the curve and the operating point are chosen from those. The model shipped is then trained on all
sets. Development-only dependencies: scikit-learn, matplotlib (`pip install scikit-learn matplotlib`).
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge.base import load_knowledge  # noqa: E402
from bot.knowledge.search import DeclineModel, Engine  # noqa: E402
from bot.knowledge.templates import Templates  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
SETS = {
    "dev": SHARED / "dev.jsonl",
    "dev2": SHARED / "dev2.jsonl",
    "heldout": ROOT / "tests" / "data" / "heldout.jsonl",
    "heldout2": ROOT / "tests" / "data" / "heldout2.jsonl",
    "tune": ROOT / "tests" / "data" / "heldout3-tune.jsonl",
}
CHAT = SHARED / "external" / "ChatbotData.csv"
WRONG_ANSWER_COST = 2.0  # a confident wrong answer costs more than an honest decline: the user acts on it
MIN_CHAT_DECLINED = 0.98


def _norm(text: str) -> str:
    return re.sub(r"[\s*_`]", "", unicodedata.normalize("NFKC", text or "").lower())


def holds(answer: str, expect) -> bool:
    a = _norm(answer)
    return all(any(_norm(alt) in a for alt in group) for group in expect)


def collect(engine: Engine, templates: Templates):
    """Per question: set, features (None when declined before the model), label, and whether answerable."""
    rows = []
    for name, path in SETS.items():
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if "now" in r:  # time-dependent questions are scored with IEUM_NOW, elsewhere
                continue
            rows.append(_row(engine, templates, name, r["query"], r["expect"]))
    with open(CHAT, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(_row(engine, templates, "chat", r["Q"], None))
    return rows


def _row(engine, templates, name, query, expect):
    res = engine.answer(query)
    ranked = ([res.best] if res.best else []) + list(res.alternatives)
    top = ranked[0] if ranked else None
    second = ranked[1] if len(ranked) > 1 else None
    right = bool(expect) and top is not None and holds(templates.render_answer(top.entry), expect)
    second_right = bool(expect) and second is not None and holds(templates.render_answer(second.entry), expect)
    margin = (top.score - second.score) if top is not None and second is not None else 100.0
    return {"set": name, "features": res.features or None, "right": right, "answerable": expect is not None,
            "second_right": second_right, "margin": margin, "query": query}


def matrix(rows, names):
    return np.array([[r["features"][n] for n in names] for r in rows], dtype=float)


def train(rows, names):
    from sklearn.linear_model import LogisticRegression

    rows = [r for r in rows if r["features"] is not None]
    x, y = matrix(rows, names), np.array([r["right"] for r in rows], dtype=int)
    neg_in = sum(1 for r in rows if r["set"] != "chat" and not r["right"])
    n_chat = sum(1 for r in rows if r["set"] == "chat") or 1
    w = np.array([neg_in / n_chat if r["set"] == "chat" else 1.0 for r in rows])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y, sample_weight=w)
    return dict(zip(names, map(float, model.coef_[0]))), float(model.intercept_[0])


def confidences(rows, weights, bias):
    m = DeclineModel(weights, bias)
    return [m.confidence(r["features"]) if r["features"] is not None else 0.0 for r in rows]


def figures(rows, conf, t):
    """top1, decline, false_decline of the in-domain rows, and the share of chat declined, at threshold t."""
    out = {}
    for name in [*SETS, "all"]:
        sub = [(r, c) for r, c in zip(rows, conf) if r["set"] != "chat" and (name == "all" or r["set"] == name)]
        ans = [(r, c) for r, c in sub if r["answerable"]]
        out_ = [(r, c) for r, c in sub if not r["answerable"]]
        if not ans:
            continue
        out[name] = {
            "n": len(ans), "n_out": len(out_),
            "top1": sum(r["right"] and c >= t for r, c in ans) / len(ans),
            "decline": sum(c < t for r, c in out_) / max(len(out_), 1),
            "false_decline": sum(c < t for r, c in ans) / len(ans),
        }
    chat = [c for r, c in zip(rows, conf) if r["set"] == "chat"]
    out["chat_declined"] = sum(c < t for c in chat) / max(len(chat), 1)
    return out


def curve(rows, conf):
    """Precision (answered and right / answered) against coverage (answered / all in-domain questions)."""
    ind = [(r, c) for r, c in zip(rows, conf) if r["set"] != "chat"]
    chat = [c for r, c in zip(rows, conf) if r["set"] == "chat"]
    points = []
    for t in np.round(np.arange(0.02, 0.99, 0.02), 2):
        answered = [(r, c) for r, c in ind if c >= t]
        right = sum(r["right"] for r, c in answered)
        wrong = len(answered) - right
        missed = sum(1 for r, c in ind if c < t and r["answerable"])
        n_ans = sum(1 for r, c in ind if r["answerable"]) or 1
        n_out = sum(1 for r, c in ind if not r["answerable"]) or 1
        points.append({
            "threshold": float(t), "coverage": len(answered) / len(ind),
            "precision": right / len(answered) if answered else 1.0,
            "top1": right / n_ans,
            "decline": sum(1 for r, c in ind if c < t and not r["answerable"]) / n_out,
            "false_decline": missed / n_ans,
            "cost": (WRONG_ANSWER_COST * wrong + missed) / len(ind),
            "chat_declined": sum(c < t for c in chat) / max(len(chat), 1),
        })
    return points


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    kb = load_knowledge(ROOT / "knowledge")
    engine, templates = Engine.from_knowledge(kb), Templates(kb)
    rows = collect(engine, templates)
    names = sorted(next(r["features"] for r in rows if r["features"]))

    # Leave one set out: each set's confidences come from a model that never saw it.
    conf = [0.0] * len(rows)
    groups = [*[n for n in SETS if any(r["set"] == n for r in rows)], "chat"]
    for g in groups:
        if g == "chat":  # chat in five folds, so the in-domain model still sees chat negatives
            idx = [i for i, r in enumerate(rows) if r["set"] == "chat"]
            folds = [idx[k::5] for k in range(5)]
        else:
            folds = [[i for i, r in enumerate(rows) if r["set"] == g]]
        for fold in folds:
            held = set(fold)
            w, b = train([r for i, r in enumerate(rows) if i not in held], names)
            for i, c in zip(fold, confidences([rows[i] for i in fold], w, b)):
                conf[i] = c

    points = curve(rows, conf)
    ok = [pt for pt in points if pt["chat_declined"] >= MIN_CHAT_DECLINED]
    chosen = min(ok or points, key=lambda pt: (pt["cost"], -pt["threshold"]))
    t = chosen["threshold"]

    # How close a second entry must be to ask which one: the margin that catches most wrong-first,
    # right-second answers while asking on few answers.
    answered = [r for r, c in zip(rows, conf) if r["set"] != "chat" and c >= t and r["answerable"]]
    margins = []
    for m in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0):
        asked = [r for r in answered if r["margin"] <= m]
        rescued = sum(1 for r in asked if not r["right"] and r["second_right"])
        margins.append({"margin": m, "asked": len(asked) / max(len(answered), 1), "rescued": rescued,
                        "wrong_first": sum(1 for r in answered if not r["right"])})
    clarify = max((mm for mm in margins if mm["asked"] <= 0.08), key=lambda mm: (mm["rescued"], -mm["margin"]))

    report = figures(rows, conf, t)
    weights, bias = train(rows, names)
    print(json.dumps({"threshold": t, "clarify_margin": clarify["margin"], "figures": report,
                      "weights": weights, "bias": bias}, ensure_ascii=False, indent=1))
    if args.no_write:
        return 0
    (ROOT / "bot" / "knowledge" / "decline_model.json").write_text(json.dumps(
        {"weights": {k: round(v, 4) for k, v in weights.items()}, "bias": round(bias, 4), "threshold": t,
         "clarify_margin": clarify["margin"],
         "trained_on": [g for g in groups]}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _write_outputs(points, chosen, report, margins, clarify)
    return 0


def _write_outputs(points, chosen, report, margins, clarify):
    out = ROOT / "bench"
    with open(out / "decline_curve.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(points[0]))
        w.writeheader()
        w.writerows(points)
    lines = ["# Decline calibration (bench/decline.py)", "",
             "Leave-one-set-out confidences (each set scored by a model trained without it).", "",
             f"Operating point: threshold **{chosen['threshold']:.2f}** (lowest cost, a wrong answer costing "
             f"{WRONG_ANSWER_COST:g}× a decline, ChatbotData declined ≥ {MIN_CHAT_DECLINED:.0%}); "
             f"clarification margin **{clarify['margin']:g}** score points.", "",
             "| set | answerable | to decline | top1 | decline | false decline |", "|---|---|---|---|---|---|"]
    for name, f in report.items():
        if name == "chat_declined":
            continue
        lines.append(f"| {name} | {f['n']} | {f['n_out']} | {f['top1']:.3f} | {f['decline']:.3f} | "
                     f"{f['false_decline']:.3f} |")
    lines += ["", f"ChatbotData declined: {report['chat_declined']:.3f}", "",
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
    ax.set_title("Decline model, leave-one-set-out")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "decline_curve.png", dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
