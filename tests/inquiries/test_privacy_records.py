"""Issue 16: access records (접속기록) of every handling of subject info, hash-chained and verified; the monthly
review flags exactly the planted anomalies; destruction (파기) removes the ciphertext from the database file
and its WAL and keeps the inquiry and a 파기 대장 line; the requester's 대상자 정보 삭제 on every surface."""
from __future__ import annotations

import functools
import json
import sqlite3
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.core.clock import SEOUL, FixedClock
from bot.core.config import Settings
from bot.core.messages import Incoming
from bot.http import ServerThread
from bot.infra.businesshours import PolicyError
from bot.infra.store import Store
from bot.inquiries.protection import PrivacyPolicy
from bot.inquiries.records import AccessLog, RecordError
from bot.services import build
from bot.surfaces.console.adapter import Console
from bot.surfaces.teams import adapter as teams
from fakes import teams as teams_fake
from fakes.harness import AGENT, CATEGORY, Client, click, settings_for
from fakes.slack import FakeSlack
from handlers.router import dispatch

FIELDS = ("at", "handler", "place", "receipt", "requester", "action")
SUBJECT = "홍길동 800101-1234567 UNIQUE-SUBJECT-MARK"
SECRET = "dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4="


def _file(services, requester: str, *, subject: str = SUBJECT, title: str = "대상자 급여 확인", **kw):
    return services.inquiries.file(title=title, category=CATEGORY, type="사용법문의", requester=requester,
                                   content="확인 부탁드립니다", subject_info=subject, **kw)


def _views(services) -> list[dict]:
    return [r for r in services.privacy.records.rows() if r["action"] == "조회"]


def _complete(record: dict, *, handler: str, place: str, receipt: str, requester: str) -> None:
    assert all(record[f] for f in FIELDS), record
    assert (record["handler"], record["place"], record["receipt"], record["requester"]) == (handler, place, receipt,
                                                                                            requester)
    datetime.fromisoformat(record["at"])  # to the second, with the zone
    assert len(record["at"]) == len("2022-08-29T10:00:00+09:00")
    assert "800101" not in str(record) and "홍길동" not in str(record)


def _destroyed_by(services, receipt: str, handler: str, place: str) -> None:
    assert not services.inquiries.get(receipt).has_subject
    deleted = [(r["handler"], r["place"]) for r in services.privacy.records.rows() if r["action"] == "삭제"]
    assert deleted == [(handler, place)]


# ---- every surface's view writes exactly one complete record ------------------------------------------


def test_the_terminal_view_writes_one_complete_record(services):
    i = _file(services, "tester")
    before = len(_views(services))
    out = StringIO()
    console = Console(services, StringIO(""), out, user="tester")
    console.handle_line("내 질의")
    console.handle_line(str(next(n for n, c in enumerate(console.choices, 1) if c.action == "inquiry.view")))
    console.handle_line(str(next(n for n, c in enumerate(console.choices, 1) if c.action == "inquiry.subject")))
    assert "UNIQUE-SUBJECT-MARK" in out.getvalue()
    (record,) = _views(services)[before:]
    _complete(record, handler="tester", place="console", receipt=i.receipt, requester="tester")


def test_the_cli_view_writes_one_complete_record(tmp_path, monkeypatch, capsys, inquiry_knowledge):
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IEUM_SECRET_KEY", SECRET)
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    s = build(Settings.from_env())
    i = _file(s, "U7")
    s.close()
    assert main(["privacy", "subject", i.receipt, "--by", "U7"]) == 0
    assert "UNIQUE-SUBJECT-MARK" in capsys.readouterr().out
    assert main(["privacy", "subject", i.receipt, "--by", "U8"]) == 2  # neither requester nor assignee
    s = build(Settings.from_env())
    try:
        (record,) = _views(s)
        _complete(record, handler="U7", place="CLI", receipt=i.receipt, requester="U7")
    finally:
        s.close()


def test_the_slack_view_writes_one_complete_record(tmp_path):
    fake = FakeSlack().start()
    services = build(settings_for(tmp_path, fake))
    server = ServerThread(services, host="127.0.0.1", port=0).start()
    try:
        i = _file(services, "U100")
        services.inquiries.assign(i.receipt, AGENT)
        assert Client(server.url).interact(click(AGENT, "inquiry.subject", i.receipt))[0] == 200
        fake.wait_for(lambda f: [c for c in f.calls if "UNIQUE-SUBJECT-MARK" in c.everything])
        fake.quiet(0.2)
        (record,) = _views(services)
        _complete(record, handler=AGENT, place="slack", receipt=i.receipt, requester="U100")
        # the requester's 대상자 정보 삭제 button, clicked in Slack: destroyed at once, recorded with the surface
        assert Client(server.url).interact(click("U100", "privacy.destroy.confirm", i.receipt))[0] == 200
        fake.wait_for(lambda f: [c for c in f.calls if "파기했습니다" in c.everything])
        _destroyed_by(services, i.receipt, "U100", "slack")
    finally:
        server.stop()
        services.close()
        fake.stop()


def test_the_teams_view_writes_one_complete_record(tmp_path, inquiry_knowledge):
    fake = teams_fake.FakeTeams().start()
    env = {"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": teams_fake.APP_ID,
           teams.ENV_METADATA: fake.metadata_url}
    services = build(Settings(data_dir=tmp_path, knowledge=inquiry_knowledge, secret_key=SECRET, extra=env))
    mount = functools.partial(teams.mount, connections=teams_fake.FakeConnections())
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount]).start()
    try:
        i = _file(services, "aad-u1")

        def press(verb: str, expect: str) -> None:
            action = {"verb": verb, "data": {teams.ACTION_KEY: verb, "v": i.receipt}}
            status, data = teams_fake.post(server.url + teams.ROUTE,
                                           teams_fake.card_action(action, service_url=fake.url), token=fake.token())
            assert status == 200
            fake.wait_for(lambda calls: expect in json.dumps(data, ensure_ascii=False)
                          or [c for c in calls if expect in c.text])

        press("inquiry.subject", "UNIQUE-SUBJECT-MARK")
        (record,) = _views(services)
        _complete(record, handler="aad-u1", place="teams", receipt=i.receipt, requester="aad-u1")
        # the requester's 대상자 정보 삭제 button on the Teams card
        press("privacy.destroy.confirm", "파기했습니다")
        _destroyed_by(services, i.receipt, "aad-u1", "teams")
    finally:
        server.stop()
        services.close()
        fake.stop()


def test_entering_viewing_attachments_and_refusals(services):
    i = _file(services, "u1")
    entered = [r for r in services.privacy.records.rows() if r["action"] == "입력"]
    assert [(r["handler"], r["receipt"]) for r in entered] == [("u1", i.receipt)]
    with pytest.raises(Exception):
        services.inquiries.read_subject_info(i.receipt, "agent2")  # refused: nothing handled, nothing recorded
    assert _views(services) == []
    plain = services.inquiries.file(title="개인정보 없는 질의", category=CATEGORY, type="사용법문의", requester="u1",
                                    content="메뉴 위치")
    services.inquiries.read_subject_info(plain.receipt, "u1")  # nothing there: no handling of personal data
    assert _views(services) == [] and len(services.privacy.records.rows()) == 1


def test_a_download_needs_a_reason(services):
    log = services.privacy.records
    with pytest.raises(RecordError):
        log.record(handler="u1", place="CLI", action="다운로드")
    with pytest.raises(RecordError):
        log.record(handler="u1", place="CLI", action="출력", reason="   ")
    log.record(handler="u1", place="CLI", action="출력", reason="감사 제출")
    assert [r["reason"] for r in log.rows()] == ["감사 제출"]


# ---- tamper evidence --------------------------------------------------------------------------------


def test_records_are_append_only_and_an_edit_is_named_by_verify(services, capsys, monkeypatch):
    for n in range(5):
        services.privacy.records.record(handler=f"h{n}", place="slack", action="조회", receipt=f"{n:010d}")
    assert services.privacy.records.verify() == (5, None)
    path = Path(services.store.path).with_name("records.db")
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError):
        raw.execute("UPDATE access_records SET handler = 'x' WHERE id = 3")
    with pytest.raises(sqlite3.DatabaseError):
        raw.execute("DELETE FROM access_records WHERE id = 3")
    # someone with the file drops the trigger and edits record 3
    raw.execute("DROP TRIGGER access_records_no_update")
    raw.execute("UPDATE access_records SET handler = 'someone-else' WHERE id = 3")
    raw.commit()
    raw.close()
    checked, broken = services.privacy.records.verify()
    assert (checked, broken.id) == (2, 3) and "수정" in broken.reason
    monkeypatch.setenv("IEUM_DATA_DIR", str(path.parent))
    monkeypatch.setenv("IEUM_SECRET_KEY", "dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    assert main(["privacy", "verify"]) == 1
    assert "3번 기록" in capsys.readouterr().out


def test_a_deleted_record_breaks_the_chain_at_the_next_one(services):
    for n in range(4):
        services.privacy.records.record(handler="h", place="teams", action="조회", receipt=f"{n:010d}")
    raw = sqlite3.connect(Path(services.store.path).with_name("records.db"))
    raw.execute("DROP TRIGGER access_records_no_delete")
    raw.execute("DELETE FROM access_records WHERE id = 2")
    raw.commit()
    raw.close()
    _, broken = services.privacy.records.verify()
    assert broken.id == 3 and "삭제" in broken.reason


def test_a_retention_below_two_years_stops_the_bot_with_a_korean_line(tmp_path, monkeypatch, capsys):
    import shutil

    from bot.core.config import DEFAULT_KNOWLEDGE

    root = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE, root, ignore=shutil.ignore_patterns("entries"))
    (root / "entries").mkdir()
    policy = (root / "policy.yaml").read_text(encoding="utf-8")
    assert "records_retention_years: 2" in policy
    (root / "policy.yaml").write_text(policy.replace("records_retention_years: 2", "records_retention_years: 1"),
                                      encoding="utf-8")
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(root))
    assert main(["privacy", "verify"]) == 2
    err = capsys.readouterr().err
    assert "2년 이상" in err and "Traceback" not in err


def test_retention_is_two_years_at_least_and_pruning_keeps_the_chain(tmp_path):
    clock = FixedClock(datetime(2020, 1, 1, 10, tzinfo=SEOUL))
    with pytest.raises(RecordError):
        AccessLog(Store(":memory:"), clock=clock, retention_years=1)
    (tmp_path / "policy.yaml").write_text("privacy:\n  records_retention_years: 1\n", encoding="utf-8")
    with pytest.raises(PolicyError):
        PrivacyPolicy.load(tmp_path / "policy.yaml")
    (tmp_path / "policy.yaml").write_text("privacy:\n  records_retention_years: 5\n", encoding="utf-8")
    assert PrivacyPolicy.load(tmp_path / "policy.yaml").records_retention_years == 5
    log = AccessLog.open(tmp_path / "ieum.db", clock=clock)
    for _ in range(3):
        log.record(handler="h", place="slack", action="조회")
        clock.advance(days=365)
    assert log.prune(clock.now()) == 1  # three years old; the others are within the two years
    assert len(log.rows()) == 2 and log.verify() == (2, None)
    log.record(handler="h", place="slack", action="조회")
    assert log.verify() == (3, None)
    log.close()


# ---- the monthly review -------------------------------------------------------------------------------


def test_a_month_of_activity_flags_exactly_the_planted_anomalies(services, capsys, monkeypatch, tmp_path):
    inq, log = services.inquiries, services.privacy.records
    clock = services.clock
    clock.set(datetime(2022, 8, 31, 9, 30, tzinfo=SEOUL))
    receipts = []
    for n in range(30):
        i = _file(services, f"u{n % 6}", title=f"대상자 확인 {n}")
        receipts.append(inq.assign(i.receipt, "agent1" if n % 2 else "agent2"))
    # normal September: each assignee opens subject info of their inquiries in business hours, spread out
    day = datetime(2022, 9, 1, 10, 0, tzinfo=SEOUL)
    normal = 0
    for d in range(30):
        t = day + timedelta(days=d)
        if t.weekday() >= 5 or t.date().isoformat() in ("2022-09-09", "2022-09-12"):  # weekends, 추석
            continue
        for k in range(3):
            i = receipts[(d * 3 + k) % 30]
            clock.set(t + timedelta(hours=2 * k))
            inq.read_subject_info(i.receipt, i.assignee, where="slack")
            normal += 1
    # planted: (1) a view at 22:10 on a weekday, (2) a view on a Saturday, (3) agent1 opening 10 different
    # subjects within 20 minutes, (4) a view recorded for someone who was not the assignee at that moment,
    # (5) a download with a reason, (6) a destruction
    clock.set(datetime(2022, 9, 14, 22, 10, tzinfo=SEOUL))
    late = inq.read_subject_info(receipts[1].receipt, "agent1", where="teams")
    clock.set(datetime(2022, 9, 17, 11, 0, tzinfo=SEOUL))
    inq.read_subject_info(receipts[3].receipt, "agent1", where="console")
    burst = [i for i in receipts if i.assignee == "agent1"][:10]
    for k, i in enumerate(burst):
        clock.set(datetime(2022, 9, 20, 16, 30, tzinfo=SEOUL) + timedelta(minutes=2 * k))
        inq.read_subject_info(i.receipt, "agent1", where="slack")
    clock.set(datetime(2022, 9, 21, 15, 0, tzinfo=SEOUL))
    log.record(handler="agent2", place="slack", action="조회", receipt=receipts[1].receipt, requester="u1")
    log.record(handler="agent1", place="CLI", action="다운로드", reason="구청 감사 자료 제출")
    services.privacy.destroy_on_request(receipts[0].receipt, "u0", where="slack")
    assert late  # the read itself worked
    review = services.privacy.review("2022-09")
    assert [(r["at"][11:16], r["handler"]) for r in review.after_hours] == [("22:10", "agent1"), ("11:00", "agent1")]
    assert [(b["handler"], b["subjects"]) for b in review.bursts] == [("agent1", 10)]
    assert [(r["handler"], r["receipt"]) for r in review.not_assignee] == [("agent2", receipts[1].receipt)]
    assert [(r["action"], r["reason"]) for r in review.downloads] == [("다운로드", "구청 감사 자료 제출")]
    assert [(d["receipt"], d["by"]) for d in review.destructions] == [(receipts[0].receipt, "u0")]
    assert len(review.records) == normal + 2 + 10 + 1 + 1 + 1
    # the CLI: the Korean summary, the CSV, and the officer's sign-off recorded
    monkeypatch.setenv("IEUM_DATA_DIR", str(Path(services.store.path).parent))
    monkeypatch.setenv("IEUM_SECRET_KEY", SECRET)
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(services.kb.root))
    out_csv = tmp_path / "review.csv"
    assert main(["privacy", "report", "--month", "2022-09", "--csv", str(out_csv)]) == 0
    summary = capsys.readouterr().out
    assert "업무시간 외 조회: 2건" in summary and "단시간 다수 조회" in summary and "아직 개인정보 보호책임자의 확인이 없습니다" in summary
    assert "구청 감사 자료 제출" in summary and "800101" not in summary
    text = out_csv.read_text(encoding="utf-8-sig")
    assert text.count("업무시간 외 조회") == 2 and text.count("담당자 아닌 조회") == 1 and "800101" not in text
    assert main(["privacy", "report", "--month", "2022-09", "--ack", "dpo", "--note", "이상 없음 확인"]) == 0
    assert "확인: 개인정보 보호책임자 dpo" in capsys.readouterr().out
    assert [a["officer"] for a in services.privacy.records.acks("2022-09")] == ["dpo"]
    assert main(["privacy", "report", "--month", "2022-13"]) == 2


# ---- destruction --------------------------------------------------------------------------------------


PDF = b"%PDF-1.4\n" + b"ATTACHMENT-BYTES-" * 200


def _raw(services) -> bytes:
    path = Path(services.store.path)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_destruction_after_n_days_leaves_no_ciphertext_in_the_file_or_wal(services, monkeypatch, capsys):
    inq = services.inquiries
    i = _file(services, "u1", attachments=[{"name": "홍길동_진단서.pdf", "data": PDF}])
    keep = _file(services, "u2", title="아직 처리 중")
    token = services.store.conn.execute("SELECT token FROM inquiry_subjects WHERE inquiry_id = ?", [i.id]).fetchone()[0]
    blob = services.store.conn.execute("SELECT content FROM inquiry_attachments WHERE inquiry_id = ?", [i.id]).fetchone()[0]
    assert token.encode() in _raw(services) and bytes(blob)[:64] in _raw(services)
    inq.assign(i.receipt, "agent1")
    inq.answer(i.receipt, "agent1", "처리했습니다.")
    done_at = services.clock.now()
    public = inq.get(i.receipt).public_dict()
    services.clock.set(done_at + timedelta(days=29, hours=23))
    assert services.privacy.purge()["destroyed"] == []  # not yet: 30 days by default
    services.clock.set(done_at + timedelta(days=30, minutes=1))
    result = services.privacy.purge()
    assert result["destroyed"] == [i.receipt]
    raw = _raw(services)
    assert token.encode() not in raw and token[:40].encode() not in raw
    assert bytes(blob)[:64] not in raw and bytes(blob)[-64:] not in raw and "홍길동_진단서".encode() not in raw
    after = inq.get(i.receipt).public_dict()
    assert {k: v for k, v in after.items() if k not in ("has_subject_info", "updated_at", "attachments")} == \
        {k: v for k, v in public.items() if k not in ("has_subject_info", "updated_at", "attachments")}
    assert after["has_subject_info"] is False and inq.read_subject_info(i.receipt, "u1") == ""
    assert inq.read_subject_info(keep.receipt, "u2") == SUBJECT  # another inquiry's, not yet due
    (line,) = services.privacy.records.destructions()
    assert (line["receipt"], line["by"]) == (i.receipt, "자동 파기") and "대상자 정보" in line["what"]
    assert "첨부파일 1건" in line["what"]
    assert [(r["handler"], r["place"]) for r in services.privacy.records.rows()
            if r["action"] == "삭제" and r["receipt"] == i.receipt] == [("schedule", "scheduler")]
    assert services.privacy.purge()["destroyed"] == []  # nothing twice


def test_the_scheduler_tick_runs_destruction_once_a_day_of_the_bots_clock(services):
    from bot.infra.scheduler import tick

    i = _file(services, "u1")
    services.inquiries.assign(i.receipt, "agent1")
    services.inquiries.answer(i.receipt, "agent1", "끝")
    services.clock.advance(days=31)
    assert tick(services).get("destroyed") == 1
    assert "destroyed" not in tick(services)  # the same day: not again
    services.clock.advance(days=1)
    assert tick(services).get("destroyed") == 0


def test_ieum_privacy_purge_uses_ieum_now_and_reports_old_backups(tmp_path, monkeypatch, capsys, inquiry_knowledge):
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IEUM_SECRET_KEY", SECRET)
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    monkeypatch.setenv("IEUM_NOW", "2022-09-01 10:00")
    s = build(Settings.from_env())
    i = _file(s, "u1")
    s.inquiries.assign(i.receipt, "agent1")
    s.inquiries.answer(i.receipt, "agent1", "끝")
    s.close()
    assert main(["backup", str(tmp_path / "backups" / "before.db")]) == 0
    capsys.readouterr()
    assert main(["privacy", "purge"]) == 0
    assert "파기할 대상자 정보가 없습니다" in capsys.readouterr().out
    monkeypatch.setenv("IEUM_NOW", "2022-10-05 10:00")
    assert main(["privacy", "purge"]) == 0
    out = capsys.readouterr().out
    assert i.receipt in out and "before.db" in out
    # restoring the old backup brings the subject info back: destroyed again at once, by the register
    assert main(["restore", str(tmp_path / "backups" / "before.db"), "--force"]) == 0
    assert "다시 파기" in capsys.readouterr().out
    s = build(Settings.from_env())
    try:
        assert s.inquiries.holding_personal_data() == []
        assert [r["detail"] for r in s.privacy.records.rows() if r["action"] == "변경"][0].startswith("백업 복원")
    finally:
        s.close()


@pytest.mark.parametrize("surface", ["console", "slack", "teams"])
def test_the_requester_destroys_at_once_on_every_surface(services, surface):
    i = _file(services, "u1")
    listing = dispatch(Incoming(user="u1", text="대상자 정보 삭제", surface=surface), services)[0]
    assert [(c.action, c.value) for c in listing.choices] == [("privacy.destroy", i.receipt)]
    detail = dispatch(Incoming(user="u1", action="inquiry.view", value=i.receipt, surface=surface), services)[0]
    assert ("privacy.destroy", i.receipt) in [(c.action, c.value) for c in detail.choices]
    other = dispatch(Incoming(user="u2", action="privacy.destroy.confirm", value=i.receipt, surface=surface), services)
    assert other[0].kind == "error" and services.inquiries.get(i.receipt).has_subject
    ask = dispatch(Incoming(user="u1", action="privacy.destroy", value=i.receipt, surface=surface), services)[0]
    assert [c.action for c in ask.choices] == ["privacy.destroy.confirm"]
    done = dispatch(Incoming(user="u1", action="privacy.destroy.confirm", value=i.receipt, surface=surface), services)[0]
    assert "파기했습니다" in done.text
    _destroyed_by(services, i.receipt, "u1", surface)
    (line,) = services.privacy.records.destructions()
    assert line["by"] == "u1" and "요청" in line["why"]


# ---- 재질의: one copy of the subject info, destroyed on the child's schedule or at the requester's request -----


def test_a_reinquiry_moves_the_subject_info_so_no_copy_outlives_its_purpose(services):
    inq = services.inquiries
    parent = _file(services, "u1")
    token = services.store.conn.execute("SELECT token FROM inquiry_subjects").fetchone()[0]
    inq.assign(parent.receipt, "agent1")
    inq.answer(parent.receipt, "agent1", "처리했습니다.")
    parent_done = services.clock.now()
    child = inq.reinquire(parent.receipt, "u1", content="아직 안 됩니다")
    # one copy, on the child; the parent (조치완료, purpose over) holds none
    assert services.store.conn.execute("SELECT inquiry_id FROM inquiry_subjects").fetchall() == [(child.id,)]
    assert not inq.get(parent.receipt).has_subject and inq.get(child.receipt).has_subject
    assert inq.read_subject_info(parent.receipt, "u1") == "" and inq.read_subject_info(child.receipt, "u1") == SUBJECT
    (moved,) = [r for r in services.privacy.records.rows() if r["action"] == "변경"]
    assert (moved["receipt"], moved["handler"]) == (parent.receipt, "u1") and child.receipt in moved["detail"]
    # the parent's schedule passes while the child is open: nothing destroyed, the child still has it
    services.clock.set(parent_done + timedelta(days=31))
    assert services.privacy.purge()["destroyed"] == []
    inq.assign(child.receipt, "agent1")
    assert inq.read_subject_info(child.receipt, "agent1") == SUBJECT
    inq.answer(child.receipt, "agent1", "다시 처리했습니다.")
    child_done = services.clock.now()
    services.clock.set(child_done + timedelta(days=30, minutes=1))
    assert services.privacy.purge()["destroyed"] == [child.receipt]
    assert token.encode() not in _raw(services) and token[:40].encode() not in _raw(services)
    assert inq.holding_personal_data() == []


def test_the_requesters_deletion_on_a_reinquiry_removes_the_only_copy(services):
    inq = services.inquiries
    parent = _file(services, "u1")
    token = services.store.conn.execute("SELECT token FROM inquiry_subjects").fetchone()[0]
    inq.answer(parent.receipt, "agent1", "처리했습니다.")
    child = inq.reinquire(parent.receipt, "u1", content="아직 안 됩니다")
    assert inq.holding_personal_data(requester="u1") == [child.receipt]  # what 대상자 정보 삭제 lists
    services.privacy.destroy_on_request(child.receipt, "u1", where="slack")
    assert inq.holding_personal_data() == [] and token.encode() not in _raw(services)
    assert inq.read_subject_info(parent.receipt, "u1") == "" and inq.read_subject_info(child.receipt, "u1") == ""
    (line,) = services.privacy.records.destructions()
    assert line["receipt"] == child.receipt


# ---- backups and the terminal's attachment download are recorded -----------------------------------------


def test_ieum_backup_writes_an_output_record_and_needs_a_reason(tmp_path, monkeypatch, capsys, inquiry_knowledge):
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IEUM_SECRET_KEY", SECRET)
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    s = build(Settings.from_env())
    _file(s, "u1")
    s.close()
    assert main(["backup", str(tmp_path / "b" / "refused.db"), "--reason", " "]) == 2
    assert "사유" in capsys.readouterr().err and not (tmp_path / "b" / "refused.db").exists()
    assert main(["backup", str(tmp_path / "b" / "night.db"), "--by", "ops1"]) == 0
    assert main(["backup", str(tmp_path / "b" / "audit.db"), "--by", "ops1", "--reason", "감사 제출"]) == 0
    s = build(Settings.from_env())
    try:
        out = [(r["handler"], r["place"], r["action"], r["reason"], r["detail"]) for r in s.privacy.records.rows()
               if r["action"] == "출력"]
        assert out == [("ops1", "CLI", "출력", "정기 백업", "백업: night.db"),
                       ("ops1", "CLI", "출력", "감사 제출", "백업: audit.db")]
        assert s.privacy.records.verify()[1] is None
    finally:
        s.close()


def test_the_terminal_downloads_an_attachment_for_its_requester_or_assignee_recorded(
        tmp_path, monkeypatch, capsys, inquiry_knowledge):
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IEUM_SECRET_KEY", SECRET)
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    monkeypatch.setenv("IEUM_AGENTS", "agent1")
    s = build(Settings.from_env())
    i = _file(s, "u1", attachments=[{"name": "오류화면.pdf", "data": PDF}])
    s.inquiries.assign(i.receipt, "agent1")
    s.close()
    monkeypatch.chdir(tmp_path)
    assert main(["privacy", "attachment", i.receipt, "1", "--by", "u2"]) == 2  # neither requester nor assignee
    assert main(["privacy", "attachment", i.receipt, "1", "--by", "agent1", "--out", "a.pdf"]) == 2  # no reason
    assert "사유" in capsys.readouterr().err and not (tmp_path / "a.pdf").exists()
    assert main(["privacy", "attachment", i.receipt, "1", "--by", "u1"]) == 0  # the requester's own file
    assert (tmp_path / "오류화면.pdf").read_bytes() == PDF and (tmp_path / "오류화면.pdf").stat().st_mode & 0o077 == 0
    assert main(["privacy", "attachment", i.receipt, "1", "--by", "agent1", "--out", "a.pdf", "--reason", "화면 확인"]) == 0
    assert (tmp_path / "a.pdf").read_bytes() == PDF
    s = build(Settings.from_env())
    try:
        got = [(r["handler"], r["receipt"], r["action"], r["reason"], r["detail"]) for r in s.privacy.records.rows()
               if r["action"] == "다운로드"]
        assert got == [("u1", i.receipt, "다운로드", "본인 첨부파일", "첨부파일 1"),
                       ("agent1", i.receipt, "다운로드", "화면 확인", "첨부파일 1")]
    finally:
        s.close()
