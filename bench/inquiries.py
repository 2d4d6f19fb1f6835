"""Inquiry filing and listing throughput with 100,000 stored inquiries.

    .venv/bin/python bench/inquiries.py [--n 100000] [--single 2000]

Files `--single` inquiries one transaction each (what the chat does), the rest in batches of 1,000 per
transaction (what `ieum inquiries file --json` of a migration would approach), then times filtered page
listings (the list screen: 20 a page, newest first) against a baseline measured in the same run: the same
query with the indexes switched off (`NOT INDEXED`). A filtered page must stay under 50 ms.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import services as services_mod  # noqa: E402
from bot.core.clock import SEOUL, FixedClock  # noqa: E402
from bot.core.config import Settings  # noqa: E402
from bot.infra.store import Store  # noqa: E402

LIMIT_MS = 50.0
WORDS = ["인사카드", "급여", "보조금", "정산보고", "입퇴소", "메뉴권한", "로그인", "전자결재", "후원", "바우처",
         "누락", "오류", "확인", "요청", "문의", "화면", "저장", "출력", "조회", "이관"]

# the list screen's filtered pages timed (bench/stores.py times them on PostgreSQL too)
QUERIES = {
    "status=조치대기": dict(status="조치대기"),
    "status+category (ERP)": dict(status="조치대기", category="전체업무 > ERP"),
    "type+period 3개월": dict(type="장애신고", period="3개월"),
    "category+urgent": dict(category="전체업무 > 사회서비스 > 시군구보고", urgent=True),
    "text '보조금' + status": dict(text="보조금", status="조치중"),
    "my inquiries (requester)": dict(requester="user42"),
    "page 50 of status=조치완료": dict(status="조치완료", page=50),
}


def _timed(fn, repeat: int) -> float:
    """Median milliseconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--single", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as d:
        start = datetime(2021, 9, 1, 9, 0, tzinfo=SEOUL)
        clock = FixedClock(start)
        s = services_mod.build(Settings(data_dir=Path(d), secret_key="YmVuY2gtc2VjcmV0LWtleS4uLi4uLi4uLi4uLi4uLi4=", agents=("agent1",)), clock=clock,
                               store=Store(Path(d) / "ieum.db"))
        inq = s.inquiries
        categories = [c for c in inq.categories if c.count(" > ") >= 2]
        types = inq.types
        step = timedelta(days=365) / args.n

        def one(k: int) -> None:
            clock.advance(seconds=step.total_seconds())
            inq.file(title=f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(WORDS)} {k}",
                     category=rnd.choice(categories), type=rnd.choice(types), requester=f"user{k % 500}",
                     urgent=k % 17 == 0, public=k % 9 != 0, organization="복지시설",
                     content=" ".join(rnd.choice(WORDS) for _ in range(12)),
                     subject_info=f"대상자 {k}" if k % 4 == 0 else "",
                     attachments=[{"name": "화면.png", "size": 1000, "id": f"F{k}"}] if k % 6 == 0 else [])

        t = time.perf_counter()
        for k in range(args.single):
            one(k)
        single_s = time.perf_counter() - t
        t = time.perf_counter()
        k = args.single
        while k < args.n:
            with s.store.transaction():
                for _ in range(min(1000, args.n - k)):
                    one(k)
                    k += 1
        batch_s = time.perf_counter() - t
        # Shape the statuses like a helpdesk a year in: most old inquiries done, recent ones open.
        with s.store.transaction():
            s.store.conn.execute("UPDATE inquiries SET status = '조치완료', assignee = 'agent1', answer = '답변' "
                                 "WHERE id < ? AND id % 10 != 0", [int(args.n * 0.9)])
            s.store.conn.execute("UPDATE inquiries SET status = '조치중', assignee = 'agent1' "
                                 "WHERE status = '조치대기' AND id % 3 = 0")
        s.store.conn.execute("ANALYZE")
        n_batch = args.n - args.single
        print(f"stored inquiries: {args.n:,}")
        print(f"filing, one transaction each: {args.single / single_s:,.0f}/s ({single_s * 1000 / args.single:.2f} ms each)")
        if n_batch:
            print(f"filing, 1,000 per transaction: {n_batch / batch_s:,.0f}/s ({batch_s * 1000 / n_batch:.2f} ms each)")

        print()
        print(f"{'filtered page (20 rows)':32} {'indexed':>10} {'unindexed':>10} {'ratio':>7}  total")
        worst = 0.0
        for label, f in QUERIES.items():
            page = inq.list(**f)
            fast = _timed(lambda: inq.list(**f), args.repeat)
            slow = _timed(lambda: inq.list(_unindexed=True, **f), max(3, args.repeat // 5))
            worst = max(worst, fast)
            print(f"{label:32} {fast:8.2f}ms {slow:8.2f}ms {slow / fast:6.1f}x  {page.total:,}")
        similar = _timed(lambda: inq.similar("보조금 정산보고 오류"), 5)
        print(f"\nsimilar-inquiry suggestion (index of {min(args.n, 5000):,} recent public): {similar:.2f}ms")
        t = time.perf_counter()
        out = Path(d) / "export.csv"
        rows = inq.export(out, "csv", period="3개월")
        print(f"export csv, 3개월 ({rows:,} rows): {(time.perf_counter() - t) * 1000:.0f}ms")
        s.close()
        ok = worst < LIMIT_MS
        print(f"\nslowest filtered page: {worst:.2f}ms — {'OK' if ok else 'FAIL'} (limit {LIMIT_MS:.0f}ms)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
