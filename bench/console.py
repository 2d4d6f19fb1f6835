"""The helpdesk console over real HTTP with 100,000 inquiries and 1,000,000 logged questions.

    .venv/bin/python bench/console.py [--n 100000] [--questions 1000000]

Stores the inquiries (as bench/inquiries.py does, a year of them, most old ones completed) and the declined
questions (a year of them, as the bot stores them), signs in with a one-time link, then times GET requests
of the queue (filtered pages, sorted by time left), one inquiry, the insights and the gaps pages, end to end
through the server. The queue's filtered page must render in 100 ms or less.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import services as services_mod  # noqa: E402
from bot.core.clock import SEOUL, FixedClock  # noqa: E402
from bot.core.config import Settings  # noqa: E402
from bot.http import ServerThread  # noqa: E402
from bot.infra.store import Store  # noqa: E402
from bot.surfaces.web.app import mount as mount_console  # noqa: E402
from handlers.console import signin_link  # noqa: E402

LIMIT_MS = 100.0
WORDS = ["인사카드", "급여", "보조금", "정산보고", "입퇴소", "메뉴권한", "로그인", "전자결재", "후원", "바우처",
         "누락", "오류", "확인", "요청", "문의", "화면", "저장", "출력", "조회", "이관"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--questions", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    rnd = random.Random(7)
    with tempfile.TemporaryDirectory() as d:
        start = datetime(2021, 9, 1, 9, 0, tzinfo=SEOUL)
        clock = FixedClock(start)
        s = services_mod.build(Settings(data_dir=Path(d), secret_key="YmVuY2gtc2VjcmV0LWtleS4uLi4uLi4uLi4uLi4uLi4=",
                                        agents=("agent1",)), clock=clock, store=Store(Path(d) / "ieum.db"))
        inq = s.inquiries
        categories = [c for c in inq.categories if c.count(" > ") >= 2]
        step = timedelta(days=365) / args.n
        t = time.perf_counter()
        k = 0
        while k < args.n:
            with s.store.transaction():
                for _ in range(min(1000, args.n - k)):
                    clock.advance(seconds=step.total_seconds())
                    inq.file(title=f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(WORDS)} {k}",
                             category=rnd.choice(categories), type=rnd.choice(inq.types), requester=f"user{k % 500}",
                             urgent=k % 17 == 0, organization="복지시설",
                             content=" ".join(rnd.choice(WORDS) for _ in range(12)))
                    k += 1
        with s.store.transaction():
            s.store.conn.execute("UPDATE inquiries SET status = '조치완료', assignee = 'agent1', answer = '답변', "
                                 "completed_at = due_at WHERE id < ? AND id % 10 != 0", [int(args.n * 0.9)])
            s.store.conn.execute("UPDATE inquiries SET status = '조치중', assignee = 'agent1' "
                                 "WHERE status = '조치대기' AND id % 3 = 0")
        filled = time.perf_counter() - t
        t = time.perf_counter()
        qstep = 365 * 86400 / max(args.questions, 1)
        with s.store.transaction():
            s.store.conn.executemany(
                "INSERT INTO declined_questions (at, query, reason) VALUES (?, ?, 'unknown')",
                (((start + timedelta(seconds=n * qstep)).isoformat(timespec="seconds"),
                  f"{WORDS[n % 20]} {WORDS[(n * 7) % 20]} 어떻게 해요 {n % 300}") for n in range(args.questions)))
            days = {}
            for n in range(365):
                days[(start + timedelta(days=n)).date().isoformat()] = (rnd.randint(500, 3000), rnd.randint(50, 400))
            s.store.conn.executemany("INSERT OR REPLACE INTO answer_stats (day, answered, declined) VALUES (?,?,?)",
                                     [(day, a, n) for day, (a, n) in days.items()])
        s.store.conn.execute("ANALYZE")
        print(f"stored: {args.n:,} inquiries in {filled:.0f}s, {args.questions:,} declined questions in "
              f"{time.perf_counter() - t:.0f}s")
        with ServerThread(s, mounts=[mount_console]) as srv:
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            token = urllib.parse.parse_qs(urllib.parse.urlparse(signin_link(s, "agent1")).query)["token"][0]
            opener.open(srv.url + "/console/signin", data=urllib.parse.urlencode({"token": token}).encode()).read()

            def timed(path: str, repeat: int) -> tuple[float, float]:
                samples = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    with opener.open(srv.url + path) as r:
                        body = r.read()
                        assert r.status == 200 and r.geturl().startswith(srv.url + path.split("?")[0]), r.geturl()
                    samples.append((time.perf_counter() - t0) * 1000)
                samples.sort()
                return statistics.median(samples), samples[int(len(samples) * 0.95) - 1 if len(samples) > 1 else 0]

            q = urllib.parse.quote
            pages = {
                "queue (open, by time left)": "/console/inquiries",
                "queue: 긴급 + 기한 초과": "/console/inquiries?urgent=1&overdue=1",
                "queue: 미배정 + 업무분류 ERP": f"/console/inquiries?unassigned=1&category={q('전체업무 > ERP')}",
                "queue: 내 담당 + 3개월": f"/console/inquiries?mine=1&period={q('3개월')}",
                "queue: text '보조금' + 조치중": f"/console/inquiries?text={q('보조금')}&status={q('조치중')}",
                "queue: all, newest, page 200": "/console/inquiries?status=all&sort=newest&page=200",
                "queue: 조치완료, by time left, page 50": f"/console/inquiries?status={q('조치완료')}&page=50",
                "one inquiry": f"/console/inquiries/{args.n // 2}",
                "insights (30 days)": "/console/insights?days=30",
                "insights (90 days)": "/console/insights?days=90",
                "gaps (30 days)": "/console/gaps?days=30",
            }
            print(f"\n{'GET (end to end, median / p95)':42} {'median':>9} {'p95':>9}")
            worst = 0.0
            for label, path in pages.items():
                med, p95 = timed(path, args.repeat if "queue" in label else max(3, args.repeat // 4))
                if label.startswith("queue"):
                    worst = max(worst, med)
                print(f"{label:42} {med:7.1f}ms {p95:7.1f}ms")
        s.close()
        ok = worst <= LIMIT_MS
        print(f"\nslowest filtered queue page (median): {worst:.1f}ms — {'OK' if ok else 'FAIL'} (limit {LIMIT_MS:.0f}ms)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
