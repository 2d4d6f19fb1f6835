"""Answer quality on question sets written from the seed independently of knowledge/ (a regression guard).

The scoring is the one of ../shared/eval/score.py: every expected group must appear in the answer.
"""
import json

import pytest

from bot.knowledge.search import Engine
from bot.core.config import PROJECT_ROOT
from bot.knowledge.templates import Templates
from fakes.scoring import holds

DATA = PROJECT_ROOT / "tests" / "data"
# Tuning sets are guarded where they were tuned (tests/knowledge/test_timely.py for the rows asked at a moment).
# untouched-report.jsonl was written from the seed alone and reported untouched in round 2; since round 3 it is a
# training set like the others (bench/decline.py), as are heldout-d, heldout-e (round 4's report), -g, -h, -i,
# heldout-f-report (round 5's report), -k, heldout-j-report and -l-report (round 6's reports), -o, -p, -m-report and
# -n-report (round 7), heldout-q-report and -r-report (round 7's reports, trained on since round 8).
# heldout-s-report.jsonl, -t-report, -u-report and -v-report are round 8's untouched sets: written from the seed alone, never
# trained or tuned on (their bars are the shipped engine's figures); the bars of the others are leave-one-set-out
# figures.
SETS = sorted(p for p in [*DATA.glob("heldout*.jsonl"), *DATA.glob("train-*.jsonl"), DATA / "untouched-report.jsonl"]
              if not p.stem.endswith("-tune"))


@pytest.fixture(scope="module")
def engine(kb):
    return Engine.from_knowledge(kb), Templates(kb)


# Leave-one-set-out figures of this run (bench/decline.py, bench/DECLINE.md), a little below so a tie broken
# differently never fails: (top1, decline, false decline). The shipped model is trained on every set, yet
# is held to what a model that never saw the set reaches, so these bars say how it does on new questions.
BARS = {"heldout.jsonl": (0.91, 0.97, 0.06), "heldout2.jsonl": (0.94, 0.94, 0.04),
        "heldout3-tune.jsonl": (0.88, 0.92, 0.09), "train-a.jsonl": (0.90, 0.80, 0.06),
        "train-b.jsonl": (0.91, 0.88, 0.05), "train-c.jsonl": (0.87, 0.92, 0.10),
        # round 3's reported sets (leave one set out then 0.886 / 0.973 / 0.086 and 0.838 / 0.919 / 0.116; round 5
        # 0.927 / 0.986 / 0.049 and 0.871 / 1.000 / 0.058)
        "untouched-report.jsonl": (0.91, 0.96, 0.06), "heldout-d.jsonl": (0.85, 0.93, 0.07),
        # round 5, with the memory of earlier questions (leave one set out)
        "heldout-e.jsonl": (0.90, 0.93, 0.06), "heldout-g.jsonl": (0.91, 0.89, 0.04),
        "heldout-h.jsonl": (0.89, 0.92, 0.08), "heldout-i.jsonl": (0.89, 0.93, 0.07),
        # round 5's report set (0.895 / 1.000 / 0.070 untouched), and round 6's tuning set, both trained on since
        "heldout-f-report.jsonl": (0.90, 0.97, 0.06), "heldout-k.jsonl": (0.91, 0.88, 0.04),
        # round 6's report sets (0.905 / 0.972 / 0.045 and 0.924 / 0.958 / 0.022 untouched), trained on since round 7
        "heldout-j-report.jsonl": (0.93, 0.97, 0.04), "heldout-l-report.jsonl": (0.93, 0.94, 0.03),
        # round 7's training sets, and its first report sets (untouched 0.907 / 0.961 / 0.063 and 0.940 / 0.849 / 0.018)
        "heldout-o.jsonl": (0.90, 0.83, 0.05), "heldout-p.jsonl": (0.92, 0.98, 0.07),
        "heldout-m-report.jsonl": (0.91, 0.96, 0.08), "heldout-n-report.jsonl": (0.92, 0.86, 0.03),
        # round 7's report sets (untouched 0.950 / 0.976 / 0.027 and 0.915 / 0.883 / 0.037), trained on since round 8
        "heldout-q-report.jsonl": (0.93, 0.95, 0.045), "heldout-r-report.jsonl": (0.90, 0.91, 0.06),
        # the untouched report sets: 0.944 / 0.986 / 0.041, 0.926 / 0.933 / 0.032, 0.940 / 0.973 / 0.040 and
        # 0.945 / 0.987 / 0.025 with the shipped engine
        "heldout-s-report.jsonl": (0.94, 0.98, 0.045), "heldout-t-report.jsonl": (0.92, 0.93, 0.04),
        "heldout-u-report.jsonl": (0.935, 0.97, 0.045), "heldout-v-report.jsonl": (0.94, 0.98, 0.03)}


@pytest.mark.parametrize("path", SETS, ids=[p.name for p in SETS])
def test_held_out_questions(engine, path):
    eng, templates = engine
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if "now" not in r]  # time-dependent questions are scored with IEUM_NOW
    min_top1, min_decline, max_false_decline = BARS.get(path.name, (0.85, 0.85, 0.15))
    good = declined = n_in = n_out = false_declined = 0
    for row in rows:
        result = eng.answer(row["query"])
        if row["expect"] is None:
            n_out += 1
            declined += not result.answered
        else:
            n_in += 1
            good += result.answered and holds(templates.render_reply_answer(result.best.entry, row["query"]),
                                               row["expect"])
            false_declined += not result.answered
    assert n_in and n_out
    assert good / n_in >= min_top1, f"top1 {good / n_in:.3f}"
    assert declined / n_out >= min_decline, f"decline {declined / n_out:.3f}"
    assert false_declined / n_in <= max_false_decline, f"false decline {false_declined / n_in:.3f}"


def test_unspaced_questions_still_answered(engine):
    eng, templates = engine
    rows = [json.loads(line) for line in (DATA / "heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["expect"]]
    good = sum(1 for r in rows
               if (res := eng.answer(r["query"].replace(" ", ""))).answered
               and holds(templates.render_answer(res.best.entry), r["expect"]))
    assert good / len(rows) >= 0.85
