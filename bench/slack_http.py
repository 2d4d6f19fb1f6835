"""Slack HTTP bench: 2,000 signed events from 50 concurrent clients against `ieum serve` on loopback.

Three processes, as in production: the bot (`ieum serve`), a fake Slack Web API that records every call,
and this client. Prints ack latency p50/p99, throughput, and proof that every event was answered exactly
once (Slack-style retries of already-sent events, with X-Slack-Retry-Num, are mixed in and must not
produce a second answer). Target: p99 ack < 100 ms.

    .venv/bin/python bench/slack_http.py [--events 2000] [--clients 50] [--retries 200]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import aiohttp  # noqa: E402

from fakes.slack import SECRET, event_body, message_event, signed_headers  # noqa: E402

QUESTIONS = ["시스템 중단 기간이 언제예요", "희망이음 접속 방법", "자료 이관은 자동으로 되나요", "급여 명세서 출력",
             "보조금 정산보고 기한", "안녕하세요", "인사카드 직원정보 누락"]


async def run(url: str, bodies: list[tuple[str, dict]], clients: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        # Open every client's connection first (one /healthz each): Slack keeps its connections alive,
        # and the first TCP handshakes of 50 clients at once are the client's cost, not the bot's ack.
        health = url.rsplit("/slack/", 1)[0] + "/healthz"

        async def warm():
            async with session.get(health) as resp:
                await resp.read()

        await asyncio.gather(*(warm() for _ in range(clients)))

        async def client():
            while not queue.empty():
                body, extra = queue.get_nowait()
                headers = signed_headers(body, content_type="application/json", **extra)
                t0 = time.perf_counter()
                async with session.post(url, data=body.encode(), headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise SystemExit(f"HTTP {resp.status}")
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get_json(url)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--retries", type=int, default=200, help="Slack retries of already-sent events mixed in")
    ap.add_argument("--port", type=int, default=0, help="port for `ieum serve` (default: a free one)")
    args = ap.parse_args()

    python = sys.executable
    fake = subprocess.Popen([python, "-m", "fakes.slack"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT / "tests")
    fake_url = f"http://127.0.0.1:{int(fake.stdout.readline())}"
    port = args.port
    if not port:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="ieum-bench-")
    env = {**os.environ, "IEUM_DATA_DIR": tmp, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_TRIAGE_CHANNEL": "CTRIAGE", "SLACK_API_URL": fake_url + "/api/", "IEUM_LOG_LEVEL": "WARNING"}
    env.pop("SLACK_APP_TOKEN", None)
    bot = subprocess.Popen([python, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                           env=env, cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/slack/events"
        rng = random.Random(7)
        events = []
        for n in range(args.events):
            ts = f"1700{n:06d}.{n:06d}"
            ev = message_event(rng.choice(QUESTIONS), user=f"U{n % 50:03d}", channel=f"D{n % 50:03d}", ts=ts)
            events.append((event_body(ev, event_id=f"EvB{n:06d}"), {}))
        # warm-up outside the measurement (first auth.test, imports): one event not counted
        warm = event_body(message_event("안녕하세요", user="UWARM", channel="DWARM", ts="1600000000.000001"),
                          event_id="EvWARM")
        asyncio.run(run(url, [(warm, {})], 1))
        rng.shuffle(events)
        retries = [(events[i][0], {"retry": 1}) for i in rng.sample(range(args.events), min(args.retries, args.events))]
        bodies = events + retries  # a retry comes after its original, as with Slack

        t0 = time.perf_counter()
        latencies = asyncio.run(run(url, bodies, args.clients))
        acked = time.perf_counter() - t0

        expected = {f"1700{n:06d}.{n:06d}" for n in range(args.events)}
        deadline = time.monotonic() + 180
        while True:
            calls = get_json(f"{fake_url}/_calls/chat.postMessage")
            answered = Counter(c.get("thread_ts") for c in calls["calls"] if c.get("thread_ts") in expected)
            if len(answered) >= args.events or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        answered_at = time.perf_counter() - t0
        time.sleep(1.0)  # anything late (a second answer) shows up now
        calls = get_json(f"{fake_url}/_calls/chat.postMessage")
        answered = Counter(c.get("thread_ts") for c in calls["calls"] if c.get("thread_ts") in expected)
        once = sum(1 for ts in expected if answered.get(ts) == 1)
        twice = sum(1 for k in answered.values() if k > 1)
        missing = len(expected - set(answered))

        ms = [x * 1000 for x in latencies]
        p50, p99 = statistics.median(ms), pct(ms, 99)
        print(f"requests sent          : {len(bodies)} ({args.events} events + {len(retries)} Slack retries), "
              f"{args.clients} concurrent clients")
        print(f"ack latency p50 / p99  : {p50:.1f} ms / {p99:.1f} ms (max {max(ms):.1f} ms)")
        print(f"ack throughput         : {len(bodies) / acked:.0f} requests/s ({acked:.2f} s)")
        print(f"all answered after     : {answered_at:.2f} s ({args.events / answered_at:.0f} answers/s)")
        print(f"answered exactly once  : {once}/{args.events}; answered twice: {twice}; unanswered: {missing}")
        print(f"Block Kit violations   : {len(calls['violations'])}")
        ok = once == args.events and not twice and not missing and p99 < 100
        print("result                 :", "PASS" if ok else "FAIL (target: p99 < 100 ms, every event answered once)")
        return 0 if ok else 1
    finally:
        bot.terminate()
        bot.wait(15)
        fake.stdin.close()
        fake.wait(15)


if __name__ == "__main__":
    raise SystemExit(main())
