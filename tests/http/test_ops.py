"""Operations: /metrics, /healthz (database and scheduler), structured logs without personal data, and
`ieum backup` / `ieum restore` (SQLite online backup API) while the bot runs."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fakes.harness import PERSONAL, SUBJECT, TRIAGE, Client, check_invariants, settings_for, submission  # noqa: E402
from fakes.slack import FakeSlack  # noqa: E402

from bot.infra.backup import BackupError, backup, in_use, restore  # noqa: E402
from bot.core.config import PROJECT_ROOT
from bot.infra.logs import setup as setup_logging  # noqa: E402
from bot.core.messages import Reply  # noqa: E402
from bot.http import ServerThread, mount_slack  # noqa: E402
from bot.services import build  # noqa: E402

ROOT = PROJECT_ROOT


@pytest.fixture()
def live(tmp_path, fake):
    fake.reset()
    services = build(settings_for(tmp_path / "data", fake))
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount_slack]).start()
    yield services, server, Client(server.url)
    server.stop()
    services.close()


def metric(text: str, name: str, **labels) -> float:
    """The sample of `name` whose labels are exactly `labels` (in any order); 0 when absent."""
    for line in text.splitlines():
        m = re.fullmatch(re.escape(name) + r"(?:\{(.*)\})? ([0-9.e+-]+)", line)
        if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")) == {k: str(v) for k, v in labels.items()}:
            return float(m.group(2))
    return 0.0


def test_metrics_counts_answers_declines_inquiries_reminders_and_ack_latency(live, fake):
    services, server, client = live
    assert client.ask("희망이음 접속 방법")[0] == 200
    assert client.ask("김치찌개 맛있게 끓이는 법 알려줘")[0] == 200
    fake.wait_calls("chat.postMessage", 2)
    status, _ = client.interact(submission("U100", title="급여 명세서 출력 메뉴 문의", content="메뉴를 못 찾겠습니다",
                                           subject=SUBJECT))
    assert status == 200
    fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.get("channel") == TRIAGE])
    # a reminder delivered after one failed attempt
    outbox = services.outbox
    calls = []

    def flaky(target, reply):
        calls.append(target)
        if len(calls) == 1:
            raise RuntimeError("boom")

    outbox.register_sender("test", flaky)
    outbox.backoff = 0.0
    assert outbox.enqueue(Reply("알림"), key="reminder:r1:2022-08-29T09:00:test:x", surface="test", target="x")
    outbox.drain()
    outbox.drain()
    fake.quiet(0.2)
    status, text = client.get("/metrics")
    assert status == 200
    assert metric(text, "ieum_answers_total", surface="slack") == 1
    assert sum(float(v) for v in re.findall(r'^ieum_declines_total\{[^}]*surface="slack"[^}]*\} ([0-9.]+)$', text, re.M)) == 1
    assert metric(text, "ieum_inquiries", status="조치대기") == 1
    assert metric(text, "ieum_inquiries", status="조치완료") == 0
    assert metric(text, "ieum_reminder_sends_total") == 1
    assert metric(text, "ieum_reminder_send_failures_total") == 1
    assert metric(text, "ieum_ack_seconds_count", route="slack") >= 3
    assert metric(text, "ieum_ack_seconds_bucket", route="slack", le="3.0") >= 3
    assert metric(text, "ieum_database_up") == 1
    assert metric(text, "ieum_actions_total", action="inquiry.submit") == 1
    assert not any(p in text for p in PERSONAL)


def test_healthz_checks_database_and_scheduler(live):
    from bot.infra.scheduler import start

    services, server, client = live
    status, body = client.get("/healthz")
    data = json.loads(body)
    assert status == 200 and data["ok"] and data["database"]["ok"] and data["database"]["migrations"] > 0
    sched = start(services, interval=3600)
    try:
        data = json.loads(client.get("/healthz")[1])
        assert data["scheduler"]["running"] and data["scheduler"]["next_tick"]
    finally:
        sched.shutdown()
    status, body = client.get("/healthz")
    assert status == 503 and json.loads(body)["scheduler"]["ok"] is False
    services.scheduler = None
    # the database made read-only (as root only the immutable attribute stops writes)
    db = services.store.path
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        status, body = client.get("/healthz")
        assert status == 503 and json.loads(body)["database"] == {**json.loads(body)["database"], "ok": False,
                                                                   "writable": False}
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    assert client.get("/healthz")[0] == 200


def test_json_logs_mask_personal_data_even_in_tracebacks():
    stream = io.StringIO()
    handler = setup_logging("INFO", stream=stream)
    try:
        log = logging.getLogger("ieum.test")
        log.info("subject %s phone %s", "800101-1234567", "010-2345-6789")
        try:
            raise ValueError("bad value 8001011234567")
        except ValueError:
            log.exception("failed for %s", "someone@example.com")
        log.warning("receipt %s", "0000000011", extra={"receipt": "0000000011", "who": "010 2345 6789"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [l["level"] for l in lines] == ["INFO", "ERROR", "WARNING"]
    assert lines[0]["msg"] == "subject [개인정보] phone [개인정보]"
    assert "ValueError" in lines[1]["exc"] and "[개인정보]" in lines[1]["exc"]
    assert lines[2]["receipt"] == "0000000011"  # receipt numbers are not personal data
    text = stream.getvalue()
    assert not any(p in text for p in PERSONAL + ("someone@example.com", "010 2345 6789"))


def test_json_logs_mask_numbers_behind_the_escapes_of_a_repr():
    # Bolt logs an unhandled request as the repr of its body: a control or invisible character right before a
    # number is written `\x01`, `\xa0` or `\u2060`, whose hex digits would make it read as a longer number
    body = {"text": "\x01800101-1234567 \xa0010-2345-6789 \u206001023456789"}
    stream = io.StringIO()
    handler = setup_logging("INFO", stream=stream)
    try:
        log = logging.getLogger("ieum.slack.bolt")
        log.warning("Unhandled request (%s)", body)
        log.warning("with extra", extra={"body": body})
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert not any(p in text for p in PERSONAL), text
    assert text.count("[개인정보]") == 6


def test_json_logs_keep_one_record_on_one_line():
    stream = io.StringIO()
    handler = setup_logging("INFO", stream=stream)
    try:
        logging.getLogger("ieum.test").warning("hostile %s", "a\u2028b\u2029c\x85d\ne")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["msg"] == "hostile a\u2028b\u2029c\x85d\ne"


def test_plain_logs_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    handler = setup_logging("INFO", stream=stream)
    try:
        logging.getLogger("ieum.test").info("전화 010-2345-6789")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert not line.startswith("{") and line.endswith("ieum.test: 전화 [개인정보]")


def _file(services, n: int, user: str = "U100"):
    return services.inquiries.file(title=f"백업 시험 질의 {n}", category="전체업무 > ERP > 급여", type="사용법문의",
                                   requester=user, content="내용", subject_info=f"대상자 {n} 010-1234-{n:04d}")


def test_backup_while_writing_then_restore(tmp_path, fake):
    services = build(settings_for(tmp_path / "data", fake))
    try:
        for n in range(20):
            _file(services, n)
        stop = threading.Event()
        written = []

        def writer():
            n = 1000
            while not stop.is_set() and n < 1400:
                _file(services, n)
                written.append(n)
                n += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.2)
        out = tmp_path / "backups" / "ieum-1.db"
        result = backup(services.store.path, out)
        stop.set()
        t.join()
        assert out.exists() and result["inquiries"] >= 20
        snap = check_invariants(out, cipher=services.inquiries.cipher)
        assert snap["problems"] == []
        total = 20 + len(written)
        # restore refuses while another process has the database open
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]);"
             "c.execute('select count(*) from inquiries').fetchall(); print('open', flush=True); time.sleep(60)",
             str(services.store.path)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "open"
            assert in_use(services.store.path)
            with pytest.raises(BackupError, match="사용 중"):
                restore(out, services.store.path)
        finally:
            holder.kill()
            holder.wait()
    finally:
        services.close()
    assert not in_use(tmp_path / "data" / "ieum.db")
    result = restore(out, tmp_path / "data" / "ieum.db")
    assert result["inquiries"] == snap["inquiries"] <= total
    assert Path(result["previous"]).exists()
    # the restored database opens, decrypts and keeps numbering after the snapshot's last receipt
    services = build(settings_for(tmp_path / "data", fake))
    try:
        assert services.inquiries.read_subject_info("0000000001", "U100") == "대상자 0 010-1234-0000"
        i = _file(services, 9999)
        assert int(i.receipt) == snap["receipt_counter"] + 1
    finally:
        services.close()


def test_backup_and_restore_commands(tmp_path, fake):
    data = tmp_path / "data"
    services = build(settings_for(data, fake))
    for n in range(3):
        _file(services, n)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IEUM_"))}
    env.update(IEUM_DATA_DIR=str(data), IEUM_SECRET_KEY="cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4=")
    ieum = [sys.executable, "-m", "bot.cli"]
    out = tmp_path / "b.db"
    try:
        # the bot (this process) keeps its connection open: backup works, restore refuses without --force
        r = subprocess.run(ieum + ["backup", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "백업 완료" in r.stdout and "secret.key" in r.stdout
        _file(services, 3)
    finally:
        services.close()
    r = subprocess.run(ieum + ["restore", str(tmp_path / "missing.db")], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "백업 파일이 없습니다" in r.stderr
    (tmp_path / "junk.db").write_bytes(b"junk" * 1000)
    r = subprocess.run(ieum + ["restore", str(tmp_path / "junk.db")], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "복원 실패" in r.stderr
    r = subprocess.run(ieum + ["restore", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "질의 3건" in r.stdout
    # with another key, the restore refuses before replacing anything (the database is left as it was)
    before, kept = (data / "ieum.db").read_bytes(), sorted(data.glob("ieum.db.before-restore-*"))
    env["IEUM_SECRET_KEY"] = "YW5vdGhlci1rZXkuLi4uLi4uLi4uLi4uLi4uLi4uLi4="
    r = subprocess.run(ieum + ["restore", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "복원하지 않았습니다" in r.stderr and "키" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (data / "ieum.db").read_bytes() == before
    assert sorted(data.glob("ieum.db.before-restore-*")) == kept
