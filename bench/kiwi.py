"""Does Kiwi (kiwipiepy) morphological analysis earn its cost in the decline model?

    .venv/bin/pip install kiwipiepy           # not a dependency: this bench decides whether it becomes one
    .venv/bin/python bench/kiwi.py            # cost (start-up, memory, time per question) and accuracy

Cost: the time to build Kiwi and analyse its first question, the resident memory it adds, and the time per
question over the labelled questions. Accuracy: the decline model of bench/decline.py, leave one set out,
with the words and syllable pairs the engine finds (`LEXICAL` features) against the same plus Kiwi's
content morphemes (nouns, roots, verb and adjective stems, foreign words) that the candidate entry's
questions do not hold. An optional argument: bench/decline.py's --cache file.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import decline as D  # noqa: E402

CONTENT = ("NNG", "NNP", "XR", "SL", "VV", "VA")  # nouns, roots, foreign words, verb and adjective stems


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        print("kiwipiepy is not installed: .venv/bin/pip install kiwipiepy", file=sys.stderr)
        return 2
    from bot.knowledge.base import load_knowledge

    before = rss_mb()
    t0 = time.perf_counter()
    kiwi = Kiwi()
    built = time.perf_counter() - t0
    kiwi.tokenize("희망이음 언제 열려요")
    first = time.perf_counter() - t0
    added = rss_mb() - before
    rows = D.collect_cached(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    queries = [r["query"] for r in rows if r["set"] != "chat"]
    times = []
    for q in queries:
        t = time.perf_counter()
        kiwi.tokenize(q)
        times.append(time.perf_counter() - t)
    times.sort()
    cost = {"build_s": round(built, 2), "first_question_s": round(first, 2), "memory_added_mb": round(added),
            "p50_ms": round(times[len(times) // 2] * 1000, 2), "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 2)}
    print(json.dumps(cost), file=sys.stderr)

    kb = load_knowledge(ROOT / "knowledge")
    asked = {e.id: "".join(" ".join(e.phrasings).split()) for e in kb.entries}
    morphs: dict[str, set[str]] = {}
    for r in rows:
        if r["query"] not in morphs:
            morphs[r["query"]] = {t.form.lower() for t in kiwi.tokenize(r["query"][:D.MAX_QUERY_CHARS])
                                  if t.tag.split("-")[0] in CONTENT and len(t.form) >= 1}
        for c in r["cands"]:
            eid = next((k[len(D.ENTRY):] for k in c["features"] if k.startswith(D.ENTRY)), "")
            for m in morphs[r["query"]]:
                if m not in asked.get(eid, ""):
                    c["features"][D.LEXICAL + "k:" + m] = 1.0
    every = sorted(k for k in next(c["features"] for r in rows for c in r["cands"])
                   if not k.startswith((D.LEXICAL, D.ENTRY)))
    out = {"cost": cost}
    for label, keep in (("engine words and pairs", lambda k: not k.startswith(D.LEXICAL + "k:")),
                        ("engine words and pairs + Kiwi morphemes", lambda k: True)):
        trimmed = [{**r, "cands": [{**c, "features": {k: v for k, v in c["features"].items() if keep(k)}}
                                   for c in r["cands"]]} for r in rows]
        scored = D.loso(trimmed, every, D.LEXICON_MIN_SETS[0], max(D.LEXICON_C))
        chosen = D.operating_point(D.curve(trimmed, scored))
        out[label] = {k: round(float(v), 3) for k, v in chosen.items()}
        print(label, out[label], file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
