"""The scheduler: ticks against a controlled clock, restarts, two processes, retries, APScheduler wiring."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

from bot import services as services_mod
from bot.core.config import PROJECT_ROOT
from bot.core.clock import SEOUL, FixedClock
from bot.core.config import Settings
from bot.infra.scheduler import JOB_DEFAULTS, Scheduler, tick
from bot.infra.store import Store

ROOT = PROJECT_ROOT


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=SEOUL)


def make(tmp_path, when, channels="slack:C_NOTICE"):
    settings = Settings(data_dir=tmp_path, extra={"IEUM_REMINDER_CHANNELS": channels})
    return services_mod.build(settings, clock=FixedClock(at(when)), store=Store(tmp_path / "ieum.db"))


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, target, reply):
        with self.lock:
            self.sent.append((target, reply.key, reply.text))


def test_ticking_through_the_campaign_sends_each_reminder_once_at_its_time(tmp_path):
    s = make(tmp_path, "2022-08-22T00:00")
    rec = Recorder()
    s.outbox.register_sender("slack", rec)
    expected = [(x.key, x.occurrence.at) for x in s.reminders.plan(at("2022-08-22T00:00"), at("2022-10-01T00:00"))]
    sent_at = {}
    while s.clock.now() < at("2022-10-01T00:00"):
        before = len(rec.sent)
        tick(s)
        for _, key, _ in rec.sent[before:]:
            sent_at[key] = s.clock.now()
        s.clock.advance(minutes=20)
    assert Counter(k for _, k, _ in rec.sent) == Counter(k for k, _ in expected)
    for key, due in expected:
        assert timedelta(0) <= sent_at[key] - due < timedelta(minutes=20), key  # at the next tick
    assert all(target == "C_NOTICE" for target, _, _ in rec.sent)
    s.close()


def test_restart_across_a_due_time_sends_once(tmp_path):
    rec = Recorder()
    a = make(tmp_path, "2022-08-23T08:55")
    a.outbox.register_sender("slack", rec)
    tick(a)
    assert rec.sent == []
    a.close()  # the bot goes down before 09:00 …
    b = make(tmp_path, "2022-08-23T09:40")  # … and comes back 40 minutes late
    b.outbox.register_sender("slack", rec)
    tick(b)
    assert len(rec.sent) == 2  # cms_before D-7 and report_cutoff D-7, sent late within grace
    tick(b)
    b.close()
    c = make(tmp_path, "2022-08-23T10:00")  # and restarts once more
    c.outbox.register_sender("slack", rec)
    tick(c)
    assert len(rec.sent) == 2
    c.close()


def test_down_beyond_grace_is_recorded_as_skipped(tmp_path):
    rec = Recorder()
    s = make(tmp_path, "2022-08-23T16:00")  # 7 hours after 09:00; grace is 6 hours
    s.outbox.register_sender("slack", rec)
    result = tick(s)
    assert rec.sent == [] and result["skipped"] == 2
    assert s.outbox.counts() == {"skipped": 2}
    s.close()


def test_a_failing_slack_call_is_retried(tmp_path):
    s = make(tmp_path, "2022-08-24T09:00")
    calls = []

    def slack(target, reply):
        calls.append(s.clock.now())
        if len(calls) == 1:
            raise ConnectionError("chat.postMessage: 503")

    s.outbox.register_sender("slack", slack)
    assert tick(s)["sent"] == 0
    key = "reminder:data_entry_close:2022-08-24T09:00+09:00:slack:C_NOTICE"
    assert s.outbox.get(key)["status"] == "pending"
    s.clock.advance(seconds=30)
    assert tick(s)["sent"] == 1
    s.clock.advance(minutes=5)
    assert tick(s)["sent"] == 0
    assert len(calls) == 2 and s.outbox.status(key) == "sent"
    s.close()


def test_two_schedulers_on_one_database_send_once_threads(tmp_path):
    rec = Recorder()
    first = make(tmp_path, "2022-08-22T00:00")
    procs = [first] + [make(tmp_path, "2022-08-22T00:00") for _ in range(2)]  # separate Store connections
    for p in procs:
        p.outbox.register_sender("slack", rec)
    barrier = threading.Barrier(len(procs))

    def run(p):
        barrier.wait()
        while p.clock.now() < at("2022-09-07T00:00"):
            tick(p)
            p.clock.advance(hours=1)

    threads = [threading.Thread(target=run, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    keys = [k for _, k, _ in rec.sent]
    expected = {x.key for x in first.reminders.plan(at("2022-08-22T00:00"), at("2022-09-07T00:00"))}
    assert len(keys) == len(set(keys)) == len(expected) == 18
    assert set(keys) == expected
    for p in procs:
        p.close()


def test_two_scheduler_processes_on_one_database_send_once(tmp_path):
    env = {**os.environ, "IEUM_DATA_DIR": str(tmp_path), "IEUM_NOW": "2022-08-23T09:01:00+09:00",
           "IEUM_REMINDER_CHANNELS": "console:console", "PYTHONPATH": str(ROOT)}
    env.pop("SLACK_BOT_TOKEN", None)
    Store(tmp_path / "ieum.db", migrations=services_mod.MIGRATIONS).close()  # schema first, so both processes start from the same state
    cmd = [sys.executable, "-m", "bot.cli.reminders", "schedule", "tick"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    printed = [line for out, _ in outs for line in out.splitlines() if line.startswith("[console]")]
    assert len(printed) == 2, outs  # two reminders are due at 8/23 09:00, each printed by one process
    assert sum("CMS 출금신청 불가 기간" in line for line in printed) == 1
    assert sum("8월 시군구 보고 완료 기한" in line for line in printed) == 1


def test_background_scheduler_in_sync_mode(tmp_path):
    s = make(tmp_path, "2022-08-23T09:00:30")
    rec = Recorder()
    s.outbox.register_sender("slack", rec)
    sched = Scheduler(s, interval=0.2)
    aps = sched.start()
    try:
        assert isinstance(aps, BackgroundScheduler) and sched.mode == "background"
        assert str(aps.timezone) == "Asia/Seoul"
        assert aps._job_defaults["misfire_grace_time"] == JOB_DEFAULTS["misfire_grace_time"] > 0
        assert aps._job_defaults["coalesce"] is True
        deadline = time.monotonic() + 5
        while len(rec.sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rec.sent) == 2
    finally:
        sched.shutdown()
    s.close()


def test_asyncio_scheduler_inside_a_running_loop(tmp_path):
    s = make(tmp_path, "2022-09-06T09:00:10")
    rec = Recorder()
    s.outbox.register_sender("slack", rec)

    async def main():
        sched = Scheduler(s, interval=0.2)
        aps = sched.start()
        try:
            assert isinstance(aps, AsyncIOScheduler) and sched.mode == "asyncio"
            assert str(aps.timezone) == "Asia/Seoul"
            for _ in range(100):
                if rec.sent:
                    break
                await asyncio.sleep(0.05)
        finally:
            sched.shutdown()

    asyncio.run(main())
    assert [k for _, k, _ in rec.sent] == ["reminder:launch:2022-09-06T09:00+09:00:slack:C_NOTICE"]
    assert "희망이음이 개통되었습니다" in rec.sent[0][2]
    s.close()


def test_the_rehearsal_clock_drives_due_ness(tmp_path):
    # IEUM_NOW=2022-08-29T08:59 — the wall clock is years later, yet only what is due "then" is sent.
    from bot.core.clock import Clock

    settings = Settings(data_dir=tmp_path, extra={"IEUM_REMINDER_CHANNELS": "slack:C"})
    s = services_mod.build(settings, clock=Clock(at("2022-08-29T08:00")), store=Store(tmp_path / "ieum.db"))
    rec = Recorder()
    s.outbox.register_sender("slack", rec)
    s.clock.jump(at("2022-08-29T08:59:59.5"))  # after the (slow, on a busy machine) set-up
    tick(s)
    assert rec.sent == []  # 09:00 is not yet due
    time.sleep(0.6)
    tick(s)
    assert sorted(k.split(":")[1] for _, k, _ in rec.sent) == ["cms_before", "report_cutoff"]
    s.close()


def test_the_tick_prunes_long_finished_deliveries_without_sending_them_again(tmp_path):
    s = make(tmp_path, "2022-08-23T09:05")
    rec = Recorder()
    s.outbox.register_sender("slack", rec)
    tick(s)
    sent = len(rec.sent)
    assert sent and s.outbox.counts().get("sent") == sent
    s.close()
    later = make(tmp_path, "2022-10-05T09:05")  # a process running weeks after the campaign
    later.outbox.register_sender("slack", rec)
    result = tick(later)
    assert result["pruned"] == sent and result["sent"] == 0
    assert later.outbox.counts().get("sent", 0) == 0 and len(rec.sent) == sent
    later.close()
