"""SQLite against PostgreSQL with one, two and three bot processes (issue 15), same run, same machine.

    .venv/bin/python bench/stores.py [--forms 300] [--events 600] [--clients 12] [--n 1000000] [--skip-serve]

1. Processes: for one `ieum serve` on SQLite, then one, two and three on one PostgreSQL database (a server
   this script starts in a temporary directory, tests/fakes/postgres.py), behind the fake Slack: `--forms`
   inquiry submissions and `--events` questions from `--clients` concurrent clients spread round-robin over
   the processes. Reports filings per second, questions acknowledged per second and the ack p99, and checks
   that every form was filed once with receipts 1..N. Then the list screen's pages per second with one,
   two and three stores paging at once (threads of this script, one store each, as processes would).
2. Size: `--n` inquiries loaded into PostgreSQL with COPY (the shape of bench/inquiries.py: a year of
   inquiries, most old ones done), then the list screen's filtered pages (target ≤ 50 ms) and the
   similar-inquiry suggestion (target ≤ 20 ms), median of repeated calls.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bot.core.clock import SEOUL, FixedClock  # noqa: E402
from bot.core.config import Settings  # noqa: E402
from bot.infra.pgstore import PgStore  # noqa: E402
from bot.infra.store import Store  # noqa: E402
from bot.services import MIGRATIONS, build  # noqa: E402
from fakes.harness import BotProcess, Client, message_event, submission  # noqa: E402
from fakes.postgres import PostgresServer  # noqa: E402
from fakes.slack import FakeSlack  # noqa: E402
from inquiries import QUERIES, WORDS  # noqa: E402  (bench/inquiries.py)

KEY = "YmVuY2gtc2VjcmV0LWtleS4uLi4uLi4uLi4uLi4uLi4="
PAGE_LIMIT_MS, SIMILAR_LIMIT_MS = 50.0, 20.0


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else (values or [0.0])[0]


def serve_run(label: str, tmp: Path, fake: FakeSlack, n: int, url: str | None, args) -> dict:
    """n `ieum serve` processes (url None: one on SQLite) under forms and questions from concurrent clients."""
    fake.reset()
    extra = {"IEUM_DATABASE_URL": url} if url else {}
    shared = tmp / f"{label}-data"  # SQLite: the one process's data; PostgreSQL: each its own
    bots = [BotProcess(shared if not url else tmp / f"{label}-data{k}", fake, tmp / f"{label}-{k}.log",
                       IEUM_SECRET_KEY=KEY, **extra) for k in range(n)]
    for b in bots:
        b.start(timeout=60)
    try:
        clients = [Client(b.url) for b in bots]
        forms = [submission(f"U{k % 400}", title=f"{label} 질의 {k}", content=f"내용 {k}", view_id=f"V{label}{k}")
                 for k in range(args.forms)]
        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            statuses = list(pool.map(lambda k: clients[k % n].interact(forms[k])[0], range(args.forms)))
        filing_s = time.perf_counter() - t
        assert all(s == 200 for s in statuses), Counter(statuses)
        acks: list[float] = []
        lock = threading.Lock()

        def ask(k: int) -> None:
            ev = message_event(random.choice(WORDS) + " 문의", user=f"U{k % 400}", channel=f"D{k % 400}")
            t0 = time.perf_counter()
            status = clients[k % n].event(ev, event_id=f"Ev{label}{k}")[0]
            with lock:
                acks.append((time.perf_counter() - t0) * 1000)
            assert status == 200

        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(ask, range(args.events)))
        events_s = time.perf_counter() - t
    finally:
        for b in bots:
            b.stop()
    # every form once, receipts 1..N (read through the store the processes used)
    store = PgStore(url) if url else Store(shared / "ieum.db")
    try:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM inquiries ORDER BY id")]
    finally:
        store.close()
    assert ids == list(range(1, args.forms + 1)), "a form lost or filed twice"
    return {"label": label, "filings/s": args.forms / filing_s, "events/s": args.events / events_s,
            "ack p50 ms": statistics.median(acks), "ack p99 ms": p99(acks)}


def listing_run(open_store, processes: int, seconds: float, settings: Settings) -> float:
    """Pages of the list screen per second, `processes` stores (one per simulated process) paging at once."""
    services = [build(settings, clock=FixedClock(datetime(2022, 9, 1, tzinfo=SEOUL)), store=open_store())
                for _ in range(processes)]
    pages = [0] * processes
    stop = time.perf_counter() + seconds
    filters = [dict(status="조치대기"), dict(category="전체업무 > ERP"), dict(text="보조금"), dict(requester="user42")]

    def page(k: int) -> None:
        while time.perf_counter() < stop:
            services[k].inquiries.list(**filters[pages[k] % len(filters)])
            pages[k] += 1

    threads = [threading.Thread(target=page, args=(k,)) for k in range(processes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in services:
        s.close()
    return sum(pages) / seconds


def load_million(url: str, n: int) -> float:
    """`n` inquiries of the bench/inquiries.py shape, loaded with COPY; returns seconds."""
    rnd = random.Random(7)
    store = PgStore(url, migrations=MIGRATIONS)
    categories = ["전체업무 > ERP > 인사", "전체업무 > ERP > 급여", "전체업무 > 사회서비스 > 시군구보고",
                  "전체업무 > 회계 > 보조금", "전체업무 > 시설 > 입퇴소"]
    types = ["사용법문의", "자료확인", "장애신고", "개선요청"]
    start = datetime(2021, 9, 1, 9, 0, tzinfo=SEOUL)
    step = timedelta(days=365) / n
    t = time.perf_counter()
    cols = ("id, title, category, type, urgent, public, requester, organization, content, status, assignee, "
            "answer, created_at, updated_at, due_at, completed_at")
    with store.pool.connection() as conn, conn.transaction():
        with conn.cursor().copy(f"COPY inquiries ({cols}) FROM STDIN") as copy:
            for k in range(1, n + 1):
                at = start + step * k
                done = k < n * 0.9 and k % 10 != 0
                status = "조치완료" if done else ("조치중" if k % 3 == 0 else "조치대기")
                copy.write_row((k, f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {rnd.choice(WORDS)} {k}",
                                rnd.choice(categories), rnd.choice(types), int(k % 17 == 0), int(k % 9 != 0),
                                f"user{k % 500}", "복지시설", " ".join(rnd.choice(WORDS) for _ in range(12)), status,
                                "agent1" if status != "조치대기" else None, "답변" if done else None,
                                at.isoformat(), at.isoformat(), (at + timedelta(days=3)).isoformat(),
                                (at + timedelta(days=2)).isoformat() if done else None))
        conn.execute("UPDATE inquiry_counter SET value = %s WHERE name = 'receipt'", [n])
    with store.pool.connection() as conn:
        conn.execute("VACUUM ANALYZE inquiries")
    store.close()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forms", type=int, default=300)
    ap.add_argument("--events", type=int, default=600)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--skip-serve", action="store_true")
    args = ap.parse_args(argv)
    server = PostgresServer().start()
    if server is None:
        print("no PostgreSQL server could be started (tests/fakes/postgres.py)")
        return 2
    fake = FakeSlack().start()
    ok = True
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            settings = Settings(data_dir=tmp / "list", secret_key=KEY, agents=("agent1",))
            if not args.skip_serve:
                rows = [serve_run("sqlite-1", tmp, fake, 1, None, args)]
                urls = {}
                for n in (1, 2, 3):
                    urls[n] = server.fresh_database()
                    rows.append(serve_run(f"pg-{n}", tmp, fake, n, urls[n], args))
                print(f"{'store, processes':18} {'filings/s':>10} {'questions/s':>12} {'ack p50':>9} {'ack p99':>9}")
                for r in rows:
                    print(f"{r['label']:18} {r['filings/s']:10.1f} {r['events/s']:12.1f} {r['ack p50 ms']:7.1f}ms"
                          f" {r['ack p99 ms']:7.1f}ms")
                print()
                print(f"{'list screen pages/s':24} (each over {args.forms:,} inquiries, 3 s)")
                sqlite_db = tmp / "sqlite-1-data" / "ieum.db"
                print(f"  {'sqlite, 1':22} {listing_run(lambda: Store(sqlite_db), 1, 3, settings):8.0f}")
                for n in (1, 2, 3):
                    rate = listing_run(lambda: PgStore(urls[3]), n, 3, settings)
                    print(f"  {f'postgresql, {n}':22} {rate:8.0f}")
                print()
            url = server.fresh_database()
            seconds = load_million(url, args.n)
            print(f"PostgreSQL, {args.n:,} inquiries loaded with COPY in {seconds:.0f}s")
            s = build(settings, clock=FixedClock(datetime(2022, 9, 1, tzinfo=SEOUL)), store=PgStore(url))
            inq = s.inquiries
            queries = {**QUERIES, "open queue by due time": dict(order="due", open=True),
                       "text '보조금' (half the rows)": dict(text="보조금"), "status=조치완료": dict(status="조치완료")}
            worst = 0.0
            print(f"{'filtered page (20 rows)':32} {'median':>9} {'p99':>9}  total")
            for label, f in queries.items():
                first = inq.list(**f)
                samples = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    inq.list(**f)
                    samples.append((time.perf_counter() - t) * 1000)
                worst = max(worst, statistics.median(samples))
                print(f"{label:32} {statistics.median(samples):7.2f}ms {p99(samples):7.2f}ms  {first.total:,}"
                      f"{'+' if first.capped else ''}")
            inq.similar("보조금 정산보고 오류")  # builds the suggestion index once (the newest public inquiries)
            samples = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                inq.similar("보조금 정산보고 오류")
                samples.append((time.perf_counter() - t) * 1000)
            similar = statistics.median(samples)
            s.close()
            print(f"similar-inquiry suggestion: {similar:.2f}ms median, {p99(samples):.2f}ms p99")
            ok = worst <= PAGE_LIMIT_MS and similar <= SIMILAR_LIMIT_MS
            print(f"slowest filtered page {worst:.2f}ms (limit {PAGE_LIMIT_MS:.0f}), suggestion {similar:.2f}ms "
                  f"(limit {SIMILAR_LIMIT_MS:.0f}): {'OK' if ok else 'FAIL'}")
    finally:
        fake.stop()
        server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
