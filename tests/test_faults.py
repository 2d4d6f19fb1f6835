"""Faults: the bot killed with SIGKILL mid-filing, mid-reminder-send and mid-triage, then restarted; the Slack
Web API answering 429, 500, late and with malformed JSON for a while; a full disk and a read-only database.
After each: no lost, duplicate or half-written rows, bounded retries, clear Korean errors, recovery."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from fakes.harness import (AGENT, PERSONAL, SUBJECT, TRIAGE, BotProcess, Client, FaultySlack, check_invariants,  # noqa: E402
                           click, form_submission, settings_for, submission, wait_until)
from fakes.slack import receipt_of  # noqa: E402

from bot.core.privacy import Cipher, check_secret  # noqa: E402
from bot.http import SLACK_KEY, ServerThread, mount_slack  # noqa: E402
from bot.services import build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CIPHER = Cipher(check_secret("cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4="))


FAKE = FaultySlack  # the `fake` fixture of conftest.py starts one per module


def _rows(db: Path, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _cards_missing(db) -> list[int]:
    """Stored inquiries whose triage card is not in the outbox (what recovery queues after a kill)."""
    cards = {k for (k,) in _rows(db, "SELECT key FROM outbox WHERE key LIKE 'inquiry-%-filed'")}
    return [n for (n,) in _rows(db, "SELECT id FROM inquiries") if f"inquiry-{n:010d}-filed" not in cards]


def _no_personal_data_in(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert not any(p in text for p in PERSONAL)


# ---- kill -9 ---------------------------------------------------------------------------------------


def test_kill_during_filing_loses_nothing_acknowledged(tmp_path, fake):
    fake.reset()
    data, log = tmp_path / "data", tmp_path / "bot.log"
    bot = BotProcess(data, fake, log).start()
    client = Client(bot.url)
    acked: list[str] = []
    stop = threading.Event()

    def user(k: int) -> None:
        for n in range(300):
            if stop.is_set():
                return
            title = f"중단 시험 질의 {k}-{n}"
            try:
                status, body = client.interact(submission(f"U{300 + k}", title=title, content=f"내용 {k}-{n}",
                                                          subject=SUBJECT if n % 2 else "", view_id=f"V{k}x{n}"))
            except OSError:
                return  # the bot died under us: this submission is unacknowledged
            if status == 200 and "errors" not in body:
                acked.append(title)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 25, timeout=60)
    bot.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    db = data / "ieum.db"
    inv = check_invariants(db, cipher=CIPHER)  # before any restart: the file as the crash left it
    assert inv["problems"] == []
    bot = BotProcess(data, fake, log).start()  # restart: migrations, key check, outbox drain
    try:
        inv = check_invariants(db, cipher=CIPHER)
        assert inv["problems"] == []
        stored = Counter(t for (t,) in _rows(db, "SELECT title FROM inquiries"))
        assert all(stored[t] == 1 for t in acked), "an acknowledged submission was lost or doubled"
        assert max(stored.values()) == 1
        # every stored inquiry has its triage card in the outbox (recovery queues those the kill cut off);
        # sent ones reached Slack once
        wait_until(lambda: not _cards_missing(db), timeout=30)  # recovery's passes
        wait_until(lambda: all(s in ("sent", "sending") for s in dict(_rows(
            db, "SELECT key, status FROM outbox WHERE key LIKE 'inquiry-%-filed'")).values()), timeout=30)
        posted = Counter(receipt_of(c) for c in fake.of("chat.postMessage")
                         if c.get("channel") == TRIAGE and c.get("blocks"))
        assert all(v == 1 for v in posted.values())
    finally:
        bot.stop()
    _no_personal_data_in(log)


def test_kill_mid_filing_then_the_same_forms_resubmitted_file_once(tmp_path, fake):
    """The bot dies with submissions in flight (some stored but never acknowledged: Slack showed the user an
    error); after the restart every user submits the same modal (same view id) again: one inquiry each."""
    fake.reset()
    data, log = tmp_path / "data", tmp_path / "bot.log"
    bot = BotProcess(data, fake, log).start()
    client = Client(bot.url)
    tried: list[dict] = []
    acked: list[str] = []
    stop = threading.Event()

    def user(k: int) -> None:
        for n in range(300):
            if stop.is_set():
                return
            title = f"재제출 시험 질의 {k}-{n}"
            payload = submission(f"U{900 + k}", title=title, content=f"내용 {k}-{n}", subject=SUBJECT if n % 2 else "",
                                 view_id=f"VR{k}x{n}")
            tried.append(payload)
            try:
                status, body = client.interact(payload)
            except OSError:
                return  # the bot died under us: this submission is unacknowledged
            if status == 200 and "errors" not in body:
                acked.append(title)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 15, timeout=60)
    bot.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    db = data / "ieum.db"
    stored_before = {t for (t,) in _rows(db, "SELECT title FROM inquiries")}
    assert set(acked) <= stored_before
    bot = BotProcess(data, fake, log).start()
    try:
        client = Client(bot.url)
        for payload in tried:  # every form again, acknowledged or not, as each user would
            status, body = client.interact(payload)
            assert status == 200 and "errors" not in body, body
        titles = Counter(t for (t,) in _rows(db, "SELECT title FROM inquiries"))
        assert len(titles) == len(tried) and max(titles.values()) == 1
        ids = Counter(v for (v,) in _rows(db, "SELECT submission_id FROM inquiries"))
        assert set(ids) == {f"slack:{p['view']['id']}" for p in tried} and max(ids.values()) == 1
        assert check_invariants(db, cipher=CIPHER)["problems"] == []
        # one triage card per inquiry, however many times its form was submitted (a send the kill cut off
        # stays leased, 'sending', until its lease runs out: never sent twice)
        # (a card is queued just after its form's 200: wait for the last one)
        cards = wait_until(lambda: (lambda c: len(c) >= len(tried) and c)(
            dict(_rows(db, "SELECT key, status FROM outbox WHERE key LIKE 'inquiry-%-filed'"))), timeout=30)
        assert len(cards) == len(tried)
        wait_until(lambda: all(s in ("sent", "sending") for (s,) in _rows(
            db, "SELECT status FROM outbox WHERE key LIKE 'inquiry-%-filed'")), timeout=30)
        fake.quiet(0.5)
        posted = Counter(receipt_of(c) for c in fake.of("chat.postMessage")
                         if c.get("channel") == TRIAGE and c.get("blocks"))
        assert posted and max(posted.values()) == 1
    finally:
        bot.stop()
    _no_personal_data_in(log)


def _delivery_keys(fake, channel_prefix: str) -> Counter:
    """How many messages Slack holds per delivery key (posts carry the key in their metadata), in channels
    whose id starts with `channel_prefix`."""
    with fake._lock:
        msgs = [m for (c, _), m in fake.messages.items() if c and c.startswith(channel_prefix)]
    return Counter(((m.get("metadata") or {}).get("event_payload") or {}).get("key") for m in msgs
                   if m.get("metadata"))


def test_kill9_again_and_again_mid_send_posts_each_card_once_and_soon_after_restart(tmp_path, fake):
    """Sends in flight when the bot dies (Slack holds chat.postMessage 1.5 s), three times over: after the last
    restart every inquiry has exactly one triage card and at most one receipt DM, all within seconds."""
    fake.reset()
    data, log = tmp_path / "data", tmp_path / "bot.log"
    db = data / "ieum.db"
    filed: list[str] = []
    for cycle in range(3):
        fake.delays["chat.postMessage"] = 1.5
        bot = BotProcess(data, fake, log).start()
        client = Client(bot.url)
        n0 = len(fake.of("chat.postMessage"))
        for k in range(4):
            title = f"반복 중단 질의 {cycle}-{k}"
            status, body = client.interact(submission(f"U{500 + 10 * cycle + k}", title=title, content="내용",
                                                      subject=SUBJECT, view_id=f"VK{cycle}x{k}"))
            assert status == 200 and "errors" not in body
            filed.append(title)
        # some sends are on the wire (Slack has read them), none answered yet: kill
        fake.wait_for(lambda f: len(f.of("chat.postMessage")) > n0, timeout=10)
        bot.kill9()
        assert _rows(db, "SELECT count(*) FROM outbox WHERE status = 'sending'")[0][0] >= 1 or cycle
    fake.heal()
    bot = BotProcess(data, fake, log).start()
    t0 = time.monotonic()
    try:
        keys = [f"inquiry-{n:010d}-{what}" for (n,) in _rows(db, "SELECT id FROM inquiries") for what in
                ("filed", "receipt")]
        assert len(keys) == 2 * len(filed)
        wait_until(lambda: dict(_rows(db, f"SELECT key, status FROM outbox WHERE key IN ({','.join('?' * len(keys))})",
                                      keys)) == {k: "sent" for k in keys}, timeout=10)
        took = time.monotonic() - t0
        fake.quiet(0.5)
        cards = _delivery_keys(fake, TRIAGE)
        receipts = _delivery_keys(fake, "D")
        for key in keys:
            if key.endswith("-filed"):
                assert cards[key] == 1, (key, cards[key])
            else:
                assert receipts[key] <= 1, (key, receipts[key])
        assert took < 10
    finally:
        bot.stop()
    # the sends cut off were found in Slack's history, not sent again
    assert "had arrived before" in log.read_text(errors="replace")
    assert check_invariants(db, cipher=CIPHER)["problems"] == []
    _no_personal_data_in(log)


def _first_reminder_time():
    from bot.knowledge.base import load_knowledge
    from bot.reminders.service import all_occurrences, load_rules, rules_path

    kb = load_knowledge()
    occs = all_occurrences(kb, load_rules(rules_path(kb)))
    return occs[0].at, [o for o in occs if o.at == occs[0].at]


def test_kill_during_a_reminder_send_then_the_missed_send_follows_its_rule(tmp_path, fake):
    fake.reset()
    data, log = tmp_path / "data", tmp_path / "bot.log"
    at, due = _first_reminder_time()
    start = at + timedelta(minutes=1)
    fake.delays["chat.postMessage"] = 3.0  # the send is in flight when the bot dies
    bot = BotProcess(data, fake, log, IEUM_NOW=start.isoformat(), IEUM_REMINDER_CHANNELS="slack:CREMIND").start()
    try:
        fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.get("channel") == "CREMIND"], timeout=20)
    finally:
        bot.kill9()
    db = data / "ieum.db"
    rows = _rows(db, "SELECT key, status, lease_until FROM outbox WHERE key LIKE 'reminder:%:slack:%'")
    assert len(rows) == len(due) and any(s == "sending" for _, s, _ in rows)
    assert check_invariants(db)["problems"] == []
    fake.heal()
    # restarted 6 minutes later (the rule's grace, 6 h, has not run out): each reminder goes out late, the
    # one in flight only if Slack's history does not have it (the lease is rewound as a host change would need)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE outbox SET lease_until = lease_until - 360 WHERE status = 'sending'")
    conn.commit()
    conn.close()
    later = start + timedelta(minutes=6)
    bot = BotProcess(data, fake, log, IEUM_NOW=later.isoformat(), IEUM_REMINDER_CHANNELS="slack:CREMIND").start()
    try:
        try:
            wait_until(lambda: all(s == "sent" for _, s in _rows(
                db, "SELECT key, status FROM outbox WHERE key LIKE 'reminder:%:slack:%'")), timeout=30)
        except AssertionError:
            raise AssertionError(_rows(db, "SELECT key, status, attempts, last_error, lease_until, next_attempt,"
                                           " expires_at FROM outbox WHERE key LIKE 'reminder:%'"))
    finally:
        bot.stop()
    sent = Counter(c["text"] for c in fake.of("chat.postMessage") if c.get("channel") == "CREMIND")
    assert len(sent) == len(due)
    # the one in flight had reached Slack: found in the channel's history by its key, not sent again
    assert sorted(sent.values()) == [1] * len(due)
    assert check_invariants(db)["problems"] == []
    # a reminder missed beyond its grace is recorded as skipped and never sent
    from bot.core.clock import FixedClock

    services = build(settings_for(tmp_path / "late", fake, extra={"IEUM_REMINDER_CHANNELS": "slack:CLATE"}),
                     clock=FixedClock(at + due[0].rule.grace + timedelta(hours=1)))
    try:
        counts = services.reminders.materialize()
        assert counts["skipped"] >= 1 and counts["enqueued"] == 0
        assert {i["status"] for i in services.outbox.items(prefix="reminder:")} == {"skipped"}
    finally:
        services.close()


def test_kill_during_triage_updates(tmp_path, fake):
    fake.reset()
    data, log = tmp_path / "data", tmp_path / "bot.log"
    services = build(settings_for(data, fake))
    receipts = [services.inquiries.file(title=f"처리 시험 {n}", category="전체업무 > ERP > 급여", type="사용법문의",
                                        requester=f"U{400 + n}", content="내용", subject_info=SUBJECT,
                                        source="slack").receipt
                for n in range(40)]
    services.close()
    bot = BotProcess(data, fake, log).start()
    client = Client(bot.url)
    done: list[str] = []
    stop = threading.Event()

    def agent(part: list[str]) -> None:
        from fakes.harness import click

        for r in part:
            for payload in (click(AGENT, "triage.assign", r, channel=TRIAGE), click(AGENT, "triage.start", r, channel=TRIAGE),
                            form_submission(AGENT, "triage.answer.submit", r, {"answer": f"{r} 답변입니다"},
                                            {"complete": True}, view_id=f"VA{r}")):
                if stop.is_set():
                    return
                try:
                    client.interact(payload)
                except OSError:
                    return
            done.append(r)

    threads = [threading.Thread(target=agent, args=(receipts[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(done) >= 10, timeout=60)
    bot.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    db = data / "ieum.db"
    assert check_invariants(db, cipher=CIPHER)["problems"] == []
    statuses = Counter(s for (s,) in _rows(db, "SELECT status FROM inquiries"))
    assert statuses["조치완료"] >= 10 and sum(statuses.values()) == 40
    bot = BotProcess(data, fake, log).start()
    wait_until(lambda: not _cards_missing(db), timeout=30)  # recovery's passes (IEUM_RECOVERY_SETTLE_SECONDS=1)
    try:
        # the agent picks up where the crash left off: every inquiry can be finished
        for r in receipts:
            client = Client(bot.url)
            for payload in (click(AGENT, "triage.assign", r, channel=TRIAGE),
                            form_submission(AGENT, "triage.answer.submit", r, {"answer": f"{r} 답변입니다"},
                                            {"complete": True}, view_id=f"VB{r}")):
                assert client.interact(payload)[0] == 200
        assert set(s for (s,) in _rows(db, "SELECT status FROM inquiries")) == {"조치완료"}
        assert check_invariants(db, cipher=CIPHER)["problems"] == []
        # each requester is told of the completion once (delivery keys)
        wait_until(lambda: not _rows(db, "SELECT 1 FROM outbox WHERE status IN ('pending') AND key LIKE 'inquiry-%'"),
                   timeout=30)
        # An answer committed less than the settle time before the kill is left by recovery's first pass to the
        # process that may still announce it; its second pass (settle + 1 s after start) queues the notice. The
        # pending-row wait above can end before that pass, so wait for the notices themselves.
        try:
            wait_until(lambda: len(_rows(db, "SELECT key FROM outbox WHERE key LIKE 'inquiry-%-answered'")) >= 40,
                       timeout=30)
        except AssertionError:
            pass  # the assertion below names the inquiries whose requester was not told
        done_keys = _rows(db, "SELECT key FROM outbox WHERE key LIKE 'inquiry-%-answered'")
        told = {k.split("-")[1] for (k,) in done_keys}
        assert len(done_keys) == len(told) == 40, [
            (r, _rows(db, "SELECT kind, at FROM inquiry_events WHERE inquiry_id = ?", [int(r)]),
             _rows(db, "SELECT answered_at, completed_at FROM inquiries WHERE id = ?", [int(r)]),
             _rows(db, "SELECT key, status FROM outbox WHERE key LIKE ?", [f"inquiry-{r}-%"]))
            for r in receipts if r not in told]
    finally:
        bot.stop()
    _no_personal_data_in(log)


# ---- the Slack Web API misbehaving --------------------------------------------------------------------


@pytest.fixture()
def live(tmp_path, fake):
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    fake.reset()
    services = build(settings_for(tmp_path / "data", fake))
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount_slack], drain_every=0.3).start()
    adapter = server.web_app[SLACK_KEY]
    adapter.client.timeout = 1
    for h in adapter.client.retry_handlers:
        if hasattr(h, "interval_calculator"):
            h.interval_calculator = BackoffRetryIntervalCalculator(backoff_factor=0.05)
    services.outbox.backoff = 0.3
    yield services, server, Client(server.url)
    server.stop()
    services.close()


@pytest.mark.parametrize("mode", ["429", "500", "timeout", "malformed"])
def test_slack_api_failing_for_a_while_loses_nothing(live, fake, mode):
    services, server, client = live
    fake.chaos("chat.postMessage", mode, seconds=2.5, retry_after=1, wait=1.5)
    users = [f"U{500 + n}" for n in range(6)]
    for u in users:
        assert client.ask("희망이음 접속 방법", user=u)[0] == 200
    status, body = client.interact(submission("U600", title="장애 중 접수한 질의", content="내용", subject=SUBJECT))
    assert status == 200 and "errors" not in body  # the user's filing never waits on Slack's health
    time.sleep(3)
    fake.heal()
    wait_until(lambda: services.outbox.counts().get("pending", 0) == 0 and
               services.outbox.counts().get("sending", 0) == 0, timeout=20)
    fake.quiet(0.5)
    posts = fake.of("chat.postMessage")
    by_channel = Counter(c.get("channel") for c in posts)
    # every user got an answer; retries were bounded (client retries x outbox attempts)
    assert all(by_channel["D" + u[1:]] >= 1 for u in users)
    assert max(by_channel.values()) <= 4 * services.outbox.max_attempts
    # delivered (a 2xx from Slack, even late or garbled) exactly once per user: never resent
    delivered = Counter(c.get("channel") for c in posts if getattr(c, "outcome", "ok") == "ok")
    if mode in ("timeout", "malformed"):
        assert all(by_channel["D" + u[1:]] == 1 for u in users)
    assert services.outbox.counts().get("failed", 0) == 0
    assert services.store.conn.execute("SELECT count(*) FROM inquiries").fetchone()[0] == 1
    assert [c for c in posts if c.get("channel") == TRIAGE]
    assert check_invariants(services.store.path, cipher=CIPHER)["problems"] == []
    del delivered


# ---- the disk full, the database read-only ------------------------------------------------------------


def _storage_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "저장 실패" in r.getMessage()]


def test_full_disk_then_recovery(live, fake, caplog):
    services, server, client = live
    conn = services.store.conn
    with services.store.transaction():
        conn.execute("CREATE TABLE IF NOT EXISTS _ballast (b BLOB)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page: SQLITE_FULL
    # and no free page left inside either
    for size in (65536, 4096, 512, 64, 8):
        while True:
            try:
                with services.store.transaction():
                    conn.execute("INSERT INTO _ballast VALUES (zeroblob(?))", [size])
            except sqlite3.OperationalError:
                break
    try:
        n0 = len(fake.calls)
        # filing: the modal stays open with a Korean error, nothing half-written
        for n in range(3):
            status, body = client.interact(submission("U700", title=f"디스크 가득 질의 {n}", content="내용 " * 900,
                                                      subject=SUBJECT, view_id=f"VFULL{n}"))
            assert status == 200 and "접수하지 못했습니다" in json.loads(body)["errors"]["title"]
        # questions are still answered (their statistics are not worth an error)
        client.ask("희망이음 접속 방법", user="U701")
        answer = fake.wait_for(lambda f: [c for c in f.calls[n0:] if c.get("channel") == "D701"])[0]
        assert "희망이음" in answer["text"]
    finally:
        conn.execute("PRAGMA max_page_count = 1073741823")
    assert _storage_errors(caplog) and all("디스크 공간 부족" in m for m in _storage_errors(caplog))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # space is back: the same submission goes through
    status, body = client.interact(submission("U700", title="디스크 가득 질의 0", content="내용", subject=SUBJECT,
                                              view_id="VFULLOK"))
    assert status == 200 and "errors" not in body
    assert check_invariants(services.store.path, cipher=CIPHER)["problems"] == []
    assert services.store.conn.execute("SELECT count(*) FROM inquiries").fetchone()[0] == 1


def test_read_only_database_then_recovery(live, fake, caplog):
    services, server, client = live
    db = services.store.path
    files = [str(db), str(db) + "-wal"]
    if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        n0 = len(fake.calls)
        status, body = client.interact(submission("U800", title="읽기 전용 중 질의", content="내용", subject=SUBJECT,
                                                  view_id="VRO"))
        assert status == 200 and "접수하지 못했습니다" in json.loads(body)["errors"]["title"]
        client.ask("알림 켜기", user="U800")
        fake.wait_for(lambda f: [c for c in f.calls[n0:] if "저장 공간" in c.everything])
        status, body = client.get("/healthz")
        assert status == 503
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)
    assert _storage_errors(caplog)
    assert services.store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    status, body = client.interact(submission("U800", title="읽기 전용 중 질의", content="내용", subject=SUBJECT,
                                              view_id="VRO2"))
    assert status == 200 and "errors" not in body
    assert client.get("/healthz")[0] == 200
    assert check_invariants(db, cipher=CIPHER)["problems"] == []
