"""Score a time-dependent question set one moment at a time, the way the eval contract asks.

    .venv/bin/python bench/timely.py ../shared/eval/timely-dev.jsonl [more.jsonl …] [--kind timely]

Rows are grouped by their "now" field; each group goes through ../shared/eval/score.py with
`IEUM_NOW=<now> .venv/bin/ieum ask --json` (a fresh, empty data directory, so only the knowledge
files speak). Prints every miss and one combined line per set; exits 1 below --min-top1.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCORE = ROOT.parent / "shared" / "eval" / "score.py"
SUMMARY = re.compile(r"questions (\d+) answerable, (\d+) to decline: top1 ([\d.]+) top3 ([\d.]+) "
                     r"decline ([\d.]+) false_decline ([\d.]+)")


def score_set(path: Path, *, kind: str | None = None, quiet: bool = False) -> dict:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("now") and (kind is None or r.get("kind", kind) == kind)]
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["now"]].append(r)
    top1 = n_in = declined_out = n_out = 0
    ieum = str(ROOT / ".venv" / "bin" / "ieum")
    with tempfile.TemporaryDirectory() as tmp:
        for now, group in sorted(groups.items()):
            part = Path(tmp) / "part.jsonl"
            part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in group), encoding="utf-8")
            env = {**os.environ, "IEUM_NOW": now, "IEUM_DATA_DIR": str(Path(tmp) / "data")}
            proc = subprocess.run([sys.executable, str(SCORE), str(part), "--", ieum, "ask", "--json"],
                                  capture_output=True, text=True, env=env)
            m = SUMMARY.search(proc.stdout)
            if not m:
                raise SystemExit(f"{path} @ {now}: {proc.stdout[-500:]} {proc.stderr[-1500:]}")
            if not quiet:
                for line in proc.stdout.splitlines():
                    if not SUMMARY.search(line):
                        print(f"[{now}] {line}")
            a_in, a_out = int(m[1]), int(m[2])
            n_in += a_in
            n_out += a_out
            top1 += round(float(m[3]) * a_in)
            declined_out += round(float(m[5]) * a_out)
    return {"questions": n_in + n_out, "top1": top1 / max(n_in, 1),
            "decline": declined_out / n_out if n_out else None}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("sets", nargs="+", type=Path)
    p.add_argument("--kind", help="only rows of this kind (e.g. timely); rows without a kind count")
    p.add_argument("--min-top1", type=float, default=0.0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    ok = True
    for path in args.sets:
        r = score_set(path, kind=args.kind, quiet=args.quiet)
        print(f"{path.name}: {r['questions']} questions, top1 {r['top1']:.3f}"
              + (f", decline {r['decline']:.3f}" if r["decline"] is not None else ""))
        ok &= r["top1"] >= args.min_top1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
