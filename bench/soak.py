"""Soak: 50 concurrent simulated Slack users against `ieum serve` on 127.0.0.1, bounded and self-stopping.

Three processes, as in production: the bot (`ieum serve`), a fake Slack Web API that records every call
(its own process), and this client. Users ask questions (DM events, some re-delivered as Slack retries),
use the slash command, click answer buttons, subscribe to reminders and file inquiries with subject info;
three agents claim and answer the filed inquiries; the rehearsal clock starts just before a reminder burst,
so reminders fire to the channel and every subscriber during the run.

At the end it counts: every event, command and click answered exactly once; every acknowledged inquiry
stored once with subject info that its requester and assignee can decrypt and nobody else; every
reminder delivered once; nothing posted twice; the bot's RSS over time; ack latency p50/p99 and
throughput; then it measures where the SQLite writer saturates.

    .venv/bin/python bench/soak.py --quick        # ~30 s of traffic
    .venv/bin/python bench/soak.py                # 180 s of traffic (default)
    .venv/bin/python bench/soak.py --json out.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import aiohttp  # noqa: E402

from fakes.harness import (AGENT, CATEGORY, SECRET, TRIAGE, click, event_body, form_submission,  # noqa: E402
                     message_event, payload_body, signed_headers, submission)
from fakes.slack import FakeSlack, command_body  # noqa: E402

QUESTIONS = ["시스템 중단 기간이 언제예요", "희망이음 접속 방법", "자료 이관은 자동으로 되나요", "급여 명세서 출력",
             "보조금 정산보고 기한", "인사카드 직원정보 누락", "희망이음 로그인이 안 돼요", "김치찌개 끓이는 법"]
AGENTS = [AGENT, "UAGENT2", "UAGENT3"]
REMIND_CHANNEL = "CREMIND"
KEY = "c29hay1zZWNyZXQta2V5Li4uLi4uLi4uLi4uLi4uLi4="  # a Fernet key (ieum keygen)


# ---- the fake Slack in its own process ---------------------------------------------------------------


class DumpingSlack(FakeSlack):
    """`GET /_calls/*`: every recorded call, trimmed to what the checks need."""

    async def _calls(self, request):
        from aiohttp import web

        method = request.match_info["method"]
        with self._lock:
            calls = [c for c in self.calls if method == "*" or c.method == method]
            out = [{"m": c.method, "channel": c.get("channel"), "thread_ts": c.get("thread_ts"), "user": c.get("user"),
                    "rid": c.get("_rid"), "text": str(c.get("text") or "")[:400]} for c in calls]
        return web.json_response({"calls": out, "violations": self.violations})


def run_fake() -> None:
    fake = DumpingSlack().start()
    print(fake.port, flush=True)
    sys.stdin.read()
    fake.stop()


# ---- helpers ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 30) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def get_text(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def first_reminder_burst():
    from bot.knowledge.base import load_knowledge
    from bot.reminders.service import all_occurrences, load_rules, rules_path

    kb = load_knowledge()
    occs = all_occurrences(kb, load_rules(rules_path(kb)))
    at = occs[0].at
    return at, [o for o in occs if o.at == at]


# ---- the simulated users --------------------------------------------------------------------------------


class Load:
    def __init__(self, url: str, fake_url: str, duration: float, users: int, seed: int = 7, think: float = 1.0):
        self.url, self.fake_url, self.duration, self.users, self.think = url, fake_url, duration, users, think
        self.rng = random.Random(seed)
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.expect_threads: set[str] = set()  # thread_ts each question/click must be answered in, once
        self.expect_rids: set[str] = set()  # response_url ids each slash command must be answered on, once
        self.filed: dict[str, str] = {}  # acked title -> requester
        self.subscribed: set[str] = set()
        self.retries = 0
        self.seq = 0
        self.agent_done = 0

    def ts(self) -> str:
        self.seq += 1
        return f"{1700000000 + self.seq}.{self.seq:06d}"

    async def post(self, session, kind: str, body: str, ctype: str, **sign) -> tuple[int, str]:
        headers = signed_headers(body, content_type=ctype, **sign)
        t0 = time.perf_counter()
        try:
            async with session.post(self.url, data=body.encode(), headers=headers) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            self.errors[f"{kind}:{type(e).__name__}"] += 1
            return 0, ""
        self.lat[kind].append(time.perf_counter() - t0)
        if status != 200:
            self.errors[f"{kind}:HTTP{status}"] += 1
        return status, text

    async def user(self, session, n: int, deadline: float) -> None:
        rng = random.Random(n)
        uid, dm = f"U{1000 + n}", f"D{1000 + n}"
        if n % 2 == 0:  # half of the users subscribe to reminders first
            ts = self.ts()
            body = event_body(message_event("알림 켜기", user=uid, channel=dm, ts=ts))
            if (await self.post(session, "event", body, "application/json"))[0] == 200:
                self.subscribed.add(uid)
                self.expect_threads.add(ts)
        filed = 0
        while time.monotonic() < deadline:
            r = rng.random()
            if r < 0.50:  # a question in the DM, sometimes re-delivered by "Slack"
                ts = self.ts()
                ev_id = f"EvS{n:03d}{self.seq:08d}"
                body = event_body(message_event(rng.choice(QUESTIONS), user=uid, channel=dm, ts=ts), event_id=ev_id)
                if (await self.post(session, "event", body, "application/json"))[0] == 200:
                    self.expect_threads.add(ts)
                    if rng.random() < 0.1:
                        await asyncio.sleep(rng.uniform(0.05, 0.5))
                        await self.post(session, "retry", body, "application/json", retry=1)
                        self.retries += 1
            elif r < 0.65:  # the slash command
                rid = f"cmd{n}-{self.seq}"
                self.seq += 1
                body = command_body(rng.choice(QUESTIONS), user=uid, channel="C100",
                                    response_url=f"{self.fake_url}/response/{rid}", trigger_id=f"trig-{rid}")
                if (await self.post(session, "command", body, "application/x-www-form-urlencoded"))[0] == 200:
                    self.expect_rids.add(rid)
            elif r < 0.85:  # a click on an answer's 예 / 아니요
                p = click(uid, rng.choice(["feedback.yes", "feedback.no"]), "outage-period\n시스템 중단 기간", channel=dm)
                ts = p["container"]["message_ts"] = p["message"]["ts"] = self.ts()
                if (await self.post(session, "click", payload_body(p), "application/x-www-form-urlencoded"))[0] == 200:
                    self.expect_threads.add(ts)
            elif r < 0.93 and filed < 3:  # file an inquiry with subject info
                title = f"부하 시험 질의 {n}-{filed}"
                p = submission(uid, title=title, content=f"{title} 내용입니다", subject=f"대상자 {n}-{filed} 홍길동",
                               category=CATEGORY, view_id=f"VS{n}x{filed}")
                status, text = await self.post(session, "submit", payload_body(p), "application/x-www-form-urlencoded")
                if status == 200 and "errors" not in text:
                    self.filed[title] = uid
                filed += 1
            else:  # 내 질의
                ts = self.ts()
                body = event_body(message_event("내 질의", user=uid, channel=dm, ts=ts))
                if (await self.post(session, "event", body, "application/json"))[0] == 200:
                    self.expect_threads.add(ts)
            await asyncio.sleep(rng.uniform(0.05, 0.6) * self.think)  # think time

    async def agent(self, session, k: int, deadline: float, db: Path) -> None:
        import sqlite3

        agent = AGENTS[k]
        handled: set[int] = set()
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                # each agent takes its own share (claim races are tests/inquiries/test_triage.py's subject)
                rows = [r[0] for r in conn.execute("SELECT id FROM inquiries WHERE assignee IS NULL AND id % ? = ?"
                                                   " ORDER BY id LIMIT 5", [len(AGENTS), k])]
            except sqlite3.Error:
                rows = []
            finally:
                conn.close()
            for number in rows:
                if number in handled or time.monotonic() > deadline:
                    continue
                handled.add(number)
                receipt = f"{number:010d}"
                await self.post(session, "triage", payload_body(click(agent, "triage.assign", receipt, channel=TRIAGE)),
                                "application/x-www-form-urlencoded")
                p = form_submission(agent, "triage.answer.submit", receipt, {"answer": f"{receipt} 답변입니다."},
                                    {"complete": True}, view_id=f"VA{receipt}{k}")
                status, _ = await self.post(session, "triage", payload_body(p), "application/x-www-form-urlencoded")
                if status == 200:
                    self.agent_done += 1

    async def run(self, db: Path) -> float:
        deadline = time.monotonic() + self.duration
        connector = aiohttp.TCPConnector(limit=self.users + len(AGENTS) + 5)
        timeout = aiohttp.ClientTimeout(total=30)
        t0 = time.perf_counter()
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(self.user(session, n, deadline) for n in range(self.users)),
                                 *(self.agent(session, k, deadline + 5, db) for k in range(len(AGENTS))))
        return time.perf_counter() - t0


# ---- the SQLite writer -----------------------------------------------------------------------------------


def writer_limit(seconds: float = 4.0) -> dict:
    """Inquiries filed per second on one WAL database by 1 and by 4 threads (in process, no HTTP)."""
    from bot.core.config import Settings
    from bot.services import build

    out = {}
    for threads in (1, 4):
        tmp = Path(tempfile.mkdtemp(prefix="ieum-writer-"))
        services = build(Settings(data_dir=tmp, secret_key=KEY))
        count = [0]
        stop = time.monotonic() + seconds

        def work(k: int) -> None:
            n = 0
            while time.monotonic() < stop:
                services.inquiries.file(title=f"쓰기 {k}-{n}", category=CATEGORY, type="사용법문의", requester=f"U{k}",
                                        content="내용", subject_info="대상자")
                n += 1
            count[0] += n

        ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        out[f"file_{threads}t_per_s"] = round(count[0] / (time.perf_counter() - t0), 1)
        # the bare write path: one small INSERT per transaction (what dedupe and the outbox do)
        if threads == 1:
            conn = services.store.conn
            conn.execute("CREATE TABLE IF NOT EXISTS _w (k TEXT PRIMARY KEY)")
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 2.0:
                with services.store.transaction():
                    conn.execute("INSERT INTO _w VALUES (?)", [f"k{n}"])
                n += 1
            out["tx_per_s"] = round(n / (time.perf_counter() - t0))
        services.close()
    return out


# ---- main ------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="about 30 s of traffic")
    ap.add_argument("--seconds", type=float, default=None, help="seconds of traffic (default 180, quick 30)")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--think", type=float, default=1.0,
                    help="think-time factor (1: 0.05-0.6 s between a user's actions; 0: back to back, saturation)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--fake-server", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fake_server:
        run_fake()
        return 0
    seconds = args.seconds or (30.0 if args.quick else 180.0)
    python = sys.executable
    fake = subprocess.Popen([python, __file__, "--fake-server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="ieum-soak-"))
    at, burst = first_reminder_burst()
    start = at - timedelta(seconds=min(20.0, seconds / 3))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IEUM_"))}
    env.update(IEUM_DATA_DIR=str(data), SLACK_BOT_TOKEN="xoxb-soak", SLACK_SIGNING_SECRET=SECRET,
               SLACK_TRIAGE_CHANNEL=TRIAGE, SLACK_API_URL=fake_url + "/api/", IEUM_LOG_LEVEL="WARNING",
               IEUM_AGENTS=",".join(AGENTS), IEUM_SECRET_KEY=KEY, IEUM_NOW=start.isoformat(),
               IEUM_TICK_SECONDS="1", IEUM_REMINDER_CHANNELS=f"slack:{REMIND_CHANNEL}")
    log = open(data / "bot.log", "wb")
    bot = subprocess.Popen([python, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                           env=env, cwd=ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    result: dict = {"seconds": seconds, "users": args.users, "think": args.think}
    ok = True
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(base + "/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise SystemExit("the bot did not start")
                time.sleep(0.2)
        rss: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.wait(2.0):
                rss.append((round(time.monotonic() - t0, 1), round(rss_mb(bot.pid), 1)))

        sampler = threading.Thread(target=sample, daemon=True)
        rss.append((0.0, round(rss_mb(bot.pid), 1)))
        sampler.start()
        load = Load(base + "/slack/events", fake_url, seconds, args.users, think=args.think)
        cpu0 = cpu_seconds(bot.pid)
        elapsed = asyncio.run(load.run(data / "ieum.db"))
        result["bot_cpu_pct"] = round((cpu_seconds(bot.pid) - cpu0) / elapsed * 100)
        # let the last answers and the outbox settle (bounded)
        settle_deadline = time.monotonic() + 60
        while time.monotonic() < settle_deadline:
            calls = get_json(fake_url + "/_calls/*")["calls"]
            threads = Counter(c["thread_ts"] for c in calls if c["m"] in ("chat.postMessage", "chat.postEphemeral"))
            rids = Counter(c["rid"] for c in calls if c["m"] == "response_url")
            if all(threads.get(t) for t in load.expect_threads) and all(rids.get(r) for r in load.expect_rids):
                break
            time.sleep(0.5)
        time.sleep(2.0)  # anything late (a second answer) shows up now
        stop.set()
        sampler.join(5)
        metrics = get_text(base + "/metrics")
        health = get_json(base + "/healthz")
        calls = get_json(fake_url + "/_calls/*")
        bot.send_signal(2)
        bot.wait(30)
        result.update(check(load, calls, data, burst, metrics, rss, elapsed, health))
        ok = result.pop("_ok")
    finally:
        if bot.poll() is None:
            bot.kill()
        fake.stdin.close()
        fake.wait(15)
        log.close()
    log_text = (data / "bot.log").read_text(errors="replace")
    result["log_lines"] = log_text.count("\n")
    result["log_personal_data"] = sum(log_text.count(f"대상자 {n}-") for n in range(args.users))
    ok = ok and result["log_personal_data"] == 0
    result["writer"] = writer_limit()
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print("result                   :", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def check(load: Load, dump: dict, data: Path, burst, metrics: str, rss, elapsed: float, health: dict) -> dict:
    import sqlite3

    from bot.core.config import Settings
    from bot.inquiries.service import Forbidden
    from bot.services import build

    calls = dump["calls"]
    posts = [c for c in calls if c["m"] in ("chat.postMessage", "chat.postEphemeral")]
    threads = Counter(c["thread_ts"] for c in posts)
    rids = Counter(c["rid"] for c in calls if c["m"] == "response_url")
    answered_once = sum(1 for t in load.expect_threads if threads.get(t) == 1)
    answered_twice = sum(1 for t in load.expect_threads if threads.get(t, 0) > 1)
    unanswered = sum(1 for t in load.expect_threads if not threads.get(t))
    cmd_once = sum(1 for r in load.expect_rids if rids.get(r) == 1)
    dup_posts = [k for k, v in Counter((c["m"], c["channel"], c["thread_ts"], c["text"]) for c in calls
                                       if c["m"] == "chat.postMessage").items() if v > 1]
    # inquiries: stored once each, subject decryptable by requester and assignee only
    services = build(Settings(data_dir=data, secret_key=KEY, agents=tuple(AGENTS)))
    inq = services.inquiries
    stored = Counter(r[0] for r in services.store.conn.execute("SELECT title FROM inquiries"))
    lost = [t for t in load.filed if stored.get(t) != 1]
    decrypt_ok = decrypt_refused = 0
    for number, requester, assignee in services.store.conn.execute(
            "SELECT id, requester, assignee FROM inquiries").fetchall():
        readers = [requester] + ([assignee] if assignee else [])
        if all(inq.read_subject_info(number, u).startswith("대상자 ") for u in readers):
            decrypt_ok += 1
        try:
            inq.read_subject_info(number, "UNOBODY")
        except Forbidden:
            decrypt_refused += 1
    counts = dict(services.store.conn.execute("SELECT status, count(*) FROM inquiries GROUP BY status").fetchall())
    reminders = services.store.conn.execute(
        "SELECT status, count(*) FROM outbox WHERE key LIKE 'reminder:%' GROUP BY status").fetchall()
    cards = services.store.conn.execute(
        "SELECT count(*) FROM outbox WHERE key LIKE 'inquiry-%-filed' AND status = 'sent'").fetchone()[0]
    outbox = dict(services.store.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    total_inquiries = sum(stored.values())
    services.close()
    reminder_texts = Counter((c["channel"], c["text"]) for c in posts if c["m"] == "chat.postMessage"
                             and c["channel"] and not c["thread_ts"] and (c["channel"] == REMIND_CHANNEL or
                                                                          c["text"].startswith(("⏰", "📅", "🔔", "📢"))))
    remind_channel = sum(1 for (ch, _), n in reminder_texts.items() if ch == REMIND_CHANNEL)
    remind_twice = sum(1 for n in reminder_texts.values() if n > 1)
    lat = {k: [x * 1000 for x in v] for k, v in load.lat.items()}
    everything = [x for v in lat.values() for x in v]
    requests = len(everything)
    rss_values = [m for _, m in rss]
    third = max(1, len(rss_values) // 3)
    early, late = statistics.median(rss_values[:third]), statistics.median(rss_values[-third:])
    out = {
        "requests": requests, "throughput_rps": round(requests / elapsed, 1), "elapsed_s": round(elapsed, 1),
        "ack_ms": {k: {"n": len(v), "p50": round(statistics.median(v), 1), "p99": round(pct(v, 99), 1),
                       "max": round(max(v), 1)} for k, v in sorted(lat.items()) if v},
        "ack_ms_all": {"p50": round(statistics.median(everything), 1), "p99": round(pct(everything, 99), 1)},
        "http_errors": dict(load.errors),
        "expected_replies": len(load.expect_threads), "answered_once": answered_once,
        "answered_twice": answered_twice, "unanswered": unanswered, "slack_retries_sent": load.retries,
        "commands": len(load.expect_rids), "commands_answered_once": cmd_once,
        "duplicate_posts": len(dup_posts), "duplicate_examples": [list(d)[:3] + [d[3][:80]] for d in dup_posts[:5]],
        "inquiries_acked": len(load.filed), "inquiries_stored": total_inquiries, "inquiries_lost_or_doubled": len(lost),
        "subject_decryptable_by_owner_and_assignee": decrypt_ok, "subject_refused_to_others": decrypt_refused,
        "inquiries_by_status": counts, "triage_cards_sent": cards, "agent_answers": load.agent_done,
        "subscribers": len(load.subscribed), "reminder_rules_in_burst": len(burst),
        "reminder_outbox": dict(reminders), "reminders_to_channel": remind_channel,
        "reminders_sent_twice": remind_twice, "outbox": outbox,
        "rss_mb": {"start": rss_values[0], "early_median": early, "late_median": late, "max": max(rss_values),
                   "growth_pct": round((late - early) / early * 100, 1), "samples": len(rss_values)},
        "block_kit_violations": len(dump["violations"]), "healthz_ok": health.get("ok"),
        "metrics_sample": [l for l in metrics.splitlines() if l.startswith(("ieum_answers_total", "ieum_inquiries{",
                                                                             "ieum_reminder_sends_total",
                                                                             "ieum_ack_seconds_count"))],
    }
    out["_ok"] = (unanswered == 0 and answered_twice == 0 and cmd_once == len(load.expect_rids)
                  and not dup_posts and not lost and decrypt_ok == total_inquiries == decrypt_refused
                  and remind_twice == 0 and not load.errors and out["rss_mb"]["growth_pct"] < 25
                  and cards == total_inquiries)
    return out


def report(r: dict) -> None:
    print(f"traffic                  : {r['users']} users, {r['elapsed_s']} s, {r['requests']} requests "
          f"({r['throughput_rps']} requests/s), {r['slack_retries_sent']} Slack retries mixed in")
    for k, v in r["ack_ms"].items():
        print(f"ack {k:<21}: p50 {v['p50']} ms, p99 {v['p99']} ms, max {v['max']} ms (n={v['n']})")
    print(f"ack all                  : p50 {r['ack_ms_all']['p50']} ms, p99 {r['ack_ms_all']['p99']} ms; "
          f"bot CPU {r['bot_cpu_pct']}% of one core (2 cores shared with the client and the fake)")
    print(f"HTTP errors              : {r['http_errors'] or 'none'}")
    print(f"answered exactly once    : {r['answered_once']}/{r['expected_replies']} (twice {r['answered_twice']}, "
          f"never {r['unanswered']}); slash commands {r['commands_answered_once']}/{r['commands']}")
    print(f"duplicate posts          : {r['duplicate_posts']}")
    print(f"inquiries                : {r['inquiries_acked']} acked, {r['inquiries_stored']} stored, "
          f"{r['inquiries_lost_or_doubled']} lost/doubled, {r['triage_cards_sent']} triage cards; "
          f"by status {r['inquiries_by_status']}")
    print(f"subject info             : decryptable by requester+assignee {r['subject_decryptable_by_owner_and_assignee']}, "
          f"refused to others {r['subject_refused_to_others']}")
    print(f"reminders                : {r['reminder_rules_in_burst']} rules x ({r['subscribers']} subscribers + channel); "
          f"outbox {r['reminder_outbox']}; to channel {r['reminders_to_channel']}; sent twice {r['reminders_sent_twice']}")
    m = r["rss_mb"]
    print(f"bot RSS (MB)             : start {m['start']}, early {m['early_median']}, late {m['late_median']}, "
          f"max {m['max']} ({m['growth_pct']:+}% early->late, {m['samples']} samples)")
    w = r["writer"]
    print(f"SQLite writer            : {w['file_1t_per_s']} inquiries/s (1 thread), {w['file_4t_per_s']}/s (4 threads), "
          f"{w['tx_per_s']} small write transactions/s")
    print(f"log                      : {r['log_lines']} lines, personal data {r['log_personal_data']}")


if __name__ == "__main__":
    raise SystemExit(main())
