"""Inquiries: filing and its refusals, receipt numbers, listing, export, re-inquiry, rating, FAQ promotion,
business-hours due times, and all-or-nothing filing (a crash, a bad input, a killed process)."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest
from openpyxl import load_workbook

from bot.infra.businesshours import BusinessCalendar, Policy, remaining_label
from bot.core.clock import SEOUL
from bot.core.config import PROJECT_ROOT
from bot.inquiries.service import DONE, EXPORT_HEADINGS, IN_PROGRESS, WAITING, AlreadyDone, BadState, Forbidden, Inquiries, Invalid, NotFound
from bot.core.messages import Incoming
from handlers.router import dispatch

from conftest import BOTH, clone_inquiries

STORES = BOTH
NOW = datetime(2022, 8, 29, 10, 0, tzinfo=SEOUL)  # a Monday


def file(s, **kw):
    data = dict(title="인사카드 직원정보 누락", category="전체업무 > ERP > 인사", type="자료확인", requester="u1",
                requester_name="박세나", organization="복지시설", content="인사카드에 직원정보가 보이지 않습니다.")
    data.update(kw)
    return s.inquiries.file(**data)


# ---- filing ----------------------------------------------------------------------------------------


def test_receipt_numbers_are_ten_digits_sequential(services):
    a, b = file(services), file(services)
    assert (a.receipt, b.receipt) == ("0000000001", "0000000002")
    assert a.status == WAITING and a.category == "전체업무 > ERP > 인사"
    assert [e.kind for e in services.inquiries.get(a.receipt, events=True).events] == ["filed"]


def test_receipt_numbers_are_never_reused(services):
    a = file(services)
    with services.store.transaction():
        services.store.conn.execute("DELETE FROM inquiry_events WHERE inquiry_id = ?", [a.id])
        services.store.conn.execute("DELETE FROM inquiries WHERE id = ?", [a.id])
    assert file(services).receipt == "0000000002"


@pytest.mark.sqlite_only
def test_the_same_submission_files_once(services):
    inq = services.inquiries
    a = file(services, subject_info="대상자 홍길동", submission_id="slack:V1")
    again = file(services, subject_info="대상자 홍길동", submission_id="slack:V1")
    assert again.receipt == a.receipt and again.title == a.title
    # even with the fields changed in between (the form re-sent as the client kept it): the first filing stands
    assert file(services, title="다른 제목", submission_id="slack:V1").receipt == a.receipt
    # another form instance, or none at all, files anew
    assert file(services, submission_id="slack:V2").receipt == "0000000002"
    assert file(services).receipt == "0000000003" and file(services).receipt == "0000000004"
    # someone else cannot reuse (or read back) a submission id
    with pytest.raises(Forbidden):
        file(services, requester="u2", submission_id="slack:V1")
    c = services.store.conn
    assert c.execute("SELECT count(*) FROM inquiries WHERE submission_id = 'slack:V1'").fetchone()[0] == 1
    assert c.execute("SELECT count(*) FROM inquiry_events WHERE kind = 'filed'").fetchone()[0] == 4
    assert c.execute("SELECT count(*) FROM inquiry_subjects").fetchone()[0] == 1
    assert c.execute("SELECT value FROM inquiry_counter").fetchone()[0] == 4  # no receipt number spent on a repeat
    # the UNIQUE index holds even against a writer that skips the check
    import sqlite3

    with pytest.raises(sqlite3.IntegrityError):
        with services.store.transaction():
            c.execute("UPDATE inquiries SET submission_id = 'slack:V1' WHERE id = 2")
    # a re-inquiry form submitted twice files one child
    inq.answer(a.receipt, "agent1", "답변")
    child = inq.reinquire(a.receipt, "u1", content="다시", submission_id="teams:a:dm:act-9")
    assert inq.reinquire(a.receipt, "u1", content="다시", submission_id="teams:a:dm:act-9").receipt == child.receipt
    assert [e.kind for e in inq.get(a.receipt, events=True).events].count("reinquired") == 1


def test_category_shorthands_are_normalised(services):
    assert file(services, category="ERP/인사").category == "전체업무 > ERP > 인사"
    assert file(services, category="사회서비스 > 공통관리 > 질의하기").category == "전체업무 > 사회서비스 > 공통관리 > 질의하기"
    assert file(services, category="G/W/전자결재").category == "전체업무 > G/W > 전자결재"  # a slash inside a name
    assert services.inquiries.list(category="G/W").total == 1


@pytest.mark.parametrize("change, field, words", [
    ({"title": ""}, "title", "제목을 입력"),
    ({"title": "가" * 101}, "title", "100자"),
    ({"category": "전체업무 > 없는분류"}, "category", "알 수 없는 업무분류"),
    ({"category": ""}, "category", "업무분류를 선택"),
    ({"type": "질문"}, "type", "정확히 하나"),
    ({"type": "단순질의,지침문의"}, "type", "정확히 하나"),
    ({"attachments": [{"name": "run.exe", "size": 10, "id": "F1"}]}, "files", "jpg, jpeg, png, hwp, doc, docx, pdf"),
    ({"attachments": [{"name": "화면.png", "size": 999_999_999, "id": "F1"}]}, "files", "MB"),
    ({"content": "연락처 010-1234-5678"}, "content", "휴대전화번호"),
    ({"requester": ""}, "requester", "요청자"),
])
def test_refusals_are_korean_and_write_nothing(services, change, field, words):
    with pytest.raises(Invalid) as e:
        file(services, **change)
    assert field in e.value.errors and words in e.value.errors[field]
    assert services.store.conn.execute("SELECT COUNT(*) FROM inquiries").fetchone()[0] == 0
    assert services.store.conn.execute("SELECT value FROM inquiry_counter").fetchone()[0] == 0


def test_allowed_attachments_are_stored(services):
    files = [{"name": n, "size": 100, "id": f"F{i}"} for i, n in
             enumerate(["a.jpg", "b.JPEG", "c.png", "d.hwp", "e.doc", "f.docx", "g.pdf"])]
    i = file(services, attachments=files)
    assert [a.type for a in services.inquiries.get(i.receipt).attachments] == \
        ["jpg", "jpeg", "png", "hwp", "doc", "docx", "pdf"]


def test_a_crash_mid_filing_leaves_nothing(services):
    class Crashing(Inquiries):
        def _event(self, *a, **kw):
            raise RuntimeError("disk on fire")

    broken = Crashing(services.store, kb=services.kb, clock=services.clock, cipher=services.inquiries.cipher)
    with pytest.raises(RuntimeError):
        broken.file(title="제목", category="ERP/인사", type="자료확인", requester="u1", subject_info="비밀",
                    attachments=[{"name": "a.png", "size": 1, "id": "F"}])
    c = services.store.conn
    for table in ("inquiries", "inquiry_subjects", "inquiry_attachments", "inquiry_events"):
        assert c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    assert c.execute("SELECT value FROM inquiry_counter").fetchone()[0] == 0
    assert file(services).receipt == "0000000001"


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from datetime import datetime
    from pathlib import Path
    from bot import services as services_mod
    from bot.core.clock import SEOUL, FixedClock
    from bot.core.config import Settings
    from bot.infra.store import Store
    d = Path(sys.argv[1])
    s = services_mod.build(Settings(data_dir=d, secret_key="dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4=", knowledge=Path(sys.argv[2])), clock=FixedClock(datetime(2022, 8, 29, 10, tzinfo=SEOUL)),
                           store=Store(d / "ieum.db"))
    n = 0
    while True:
        n += 1
        s.inquiries.file(title=f"질의 {n}", category="ERP/인사", type="자료확인", requester="u1",
                         subject_info=f"대상자 {n}", content="x" * 200,
                         attachments=[{"name": "a.png", "size": 1, "id": "A"}, {"name": "b.pdf", "size": 2, "id": "B"}])
        print(n, flush=True)
""")


@pytest.mark.sqlite_only
def test_killed_process_leaves_no_partial_inquiry(tmp_path, make, inquiry_knowledge):
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path), str(inquiry_knowledge)], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(30):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
        time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    s = make(tmp_path)
    c = s.store.conn
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r[0] for r in c.execute("SELECT id FROM inquiries ORDER BY id")]
    assert len(ids) >= 30 and ids == list(range(1, len(ids) + 1))
    assert c.execute("SELECT value FROM inquiry_counter").fetchone()[0] == ids[-1]
    for table, per in (("inquiry_subjects", 1), ("inquiry_attachments", 2), ("inquiry_events", 1)):
        counts = dict(c.execute(f"SELECT inquiry_id, COUNT(*) FROM {table} GROUP BY inquiry_id"))
        assert counts == {i: per for i in ids}, table
    s.close()


# ---- listing and export ---------------------------------------------------------------------------


def test_list_filters_and_pagination(services):
    clock = services.clock
    file(services, type="단순질의", category="ERP/세무", title="세무 질의")
    clock.set(datetime(2022, 8, 30, 10, tzinfo=SEOUL))
    for n in range(25):
        file(services, title=f"인사 질의 {n}", urgent=(n % 5 == 0))
    inq = services.inquiries
    page = inq.list(per_page=10)
    assert page.total == 26 and page.pages == 3 and page.items[0].receipt == "0000000026"
    assert [i.receipt for i in inq.list(page=3, per_page=10).items] == [f"{n:010d}" for n in range(6, 0, -1)]
    assert inq.list(category="전체업무 > ERP").total == 26
    assert inq.list(category="ERP > 세무").total == 1
    assert inq.list(type="단순질의").total == 1
    assert inq.list(urgent=True).total == 5
    assert inq.list(text="세무").total == 1
    assert inq.list(text="100%").total == 0
    assert inq.list(status=WAITING).total == 26 and inq.list(status=DONE).total == 0
    clock.set(datetime(2022, 10, 1, 10, tzinfo=SEOUL))
    assert inq.list(period="1개월").total == 0
    assert inq.list(period="3개월").total == 26
    with pytest.raises(Exception, match="업무분류"):
        inq.list(category="없는분류")


def test_a_broad_filter_is_counted_up_to_the_cap_and_its_pages_stay_navigable(services):
    from bot.inquiries.service import COUNT_CAP

    file(services, title="복제될 질의")
    clone_inquiries(services.store, COUNT_CAP + 5)
    file(services, title="하나뿐인 질의")  # below the cap: exact, as before
    inq = services.inquiries
    page = inq.list(per_page=20)
    assert page.capped and page.total == COUNT_CAP and page.pages == COUNT_CAP // 20
    assert page.items[0].title == "하나뿐인 질의" and len(page.items) == 20
    deep = inq.list(page=COUNT_CAP // 20, per_page=20)  # the last counted page is full: one more is offered
    assert deep.capped and deep.pages == COUNT_CAP // 20 + 1
    last = inq.list(page=COUNT_CAP // 20 + 1, per_page=20)
    assert [i.receipt for i in last.items] == [f"{n:010d}" for n in range(6, 0, -1)]
    assert last.pages == last.page
    assert inq.list(order="due", open=True).capped
    exact = inq.list(text="하나뿐인")
    assert (exact.total, exact.capped, exact.pages) == (1, False, 1)
    # a word search is counted to its own, lower cap (each match costs reading a text)
    from bot.inquiries.service import TEXT_COUNT_CAP

    word = inq.list(text="복제될", per_page=20)
    assert word.capped and word.total == TEXT_COUNT_CAP and word.pages == TEXT_COUNT_CAP // 20


def test_a_rare_word_is_read_from_the_trigram_indexes_on_postgresql(services):
    from fakes.harness import wait_until

    if services.store.dialect != "postgresql":
        pytest.skip("PostgreSQL's trigram indexes only (SQLite has no index for a substring)")
    file(services, title="흔한 질의", content="흔한 내용")
    clone_inquiries(services.store, 3000)
    file(services, title="드문낱말 질의")
    conn = services.store.conn
    conn.execute("ANALYZE inquiries")

    def trigram_scans() -> int:
        return conn.execute("SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = "
                            "current_schema() AND indexrelname LIKE '%trgm'").fetchone()[0]

    before = trigram_scans()
    page = services.inquiries.list(text="드문낱말")
    assert (page.total, [i.title for i in page.items]) == (1, ["드문낱말 질의"])
    wait_until(lambda: trigram_scans() > before, timeout=10)  # statistics reach the view within a second
    from bot.inquiries.service import TEXT_COUNT_CAP

    common = services.inquiries.list(text="흔한", per_page=5)  # 3,001 matches, counted to the word cap
    assert (common.total, common.capped, len(common.items)) == (TEXT_COUNT_CAP, True, 5)


def test_private_inquiries_are_listed_only_for_their_people(services):
    file(services, public=False, requester="u1")
    file(services, requester="u2")
    inq = services.inquiries
    assert inq.list(visible_to="u2").total == 1
    assert inq.list(visible_to="u1").total == 2
    assert inq.list(visible_to="agent1").total == 2
    with pytest.raises(Forbidden):
        inq.view("1", "u2")


def test_export_csv_and_xlsx_with_seed_headings(services, tmp_path):
    i = file(services, subject_info="홍길동 900101-1234567", title="=HYPERLINK(\"x\")")
    services.inquiries.view(i.receipt, "u2")
    out = io.BytesIO()
    assert services.inquiries.export(out, "csv") == 1
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert rows[0] == EXPORT_HEADINGS == ["접수번호", "업무분류", "질의구분", "제목", "소속기관", "요청자", "등록일자",
                                          "진행상태", "처리여유기간", "추천수", "만족도", "조회수"]
    assert rows[1][:3] == ["0000000001", "ERP/인사", "자료확인"] and rows[1][3].startswith("'=")
    assert rows[1][6:] == ["2022-08-29", "조치대기", "16시간", "0", "", "1"]
    path = tmp_path / "list.xlsx"
    services.inquiries.export(path, "xlsx", status=WAITING)
    ws = load_workbook(path).active
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[0] == EXPORT_HEADINGS and values[1][0] == "0000000001"
    assert "900101" not in out.getvalue().decode("utf-8-sig") + str(values)


# ---- the workflow ----------------------------------------------------------------------------------


def test_status_flow_events_and_answer(services):
    inq = services.inquiries
    i = file(services)
    inq.assign(i.receipt, "agent1")
    assert inq.start(i.receipt, "agent1").status == IN_PROGRESS
    with pytest.raises(Forbidden):
        inq.answer(i.receipt, "agent2", "답변")
    with pytest.raises(BadState, match="답변을 먼저"):
        inq.complete(i.receipt, "agent1")
    done = inq.answer(i.receipt, "agent1", "메인포탈 - 마이페이지에서 수정 가능합니다.")
    assert done.status == DONE and done.completed_at
    kinds = [e.kind for e in inq.get(i.receipt, events=True).events]
    assert kinds == ["filed", "assigned", "started", "answered", "completed"]
    with pytest.raises(Invalid, match="개인정보"):
        inq.answer(file(services).receipt, "agent1", "010-1234-5678로 전화 주세요")


def test_reinquiry_rating_and_recommending(services):
    inq = services.inquiries
    i = file(services, subject_info="대상자 홍길동")
    with pytest.raises(BadState):
        inq.rate(i.receipt, "u1", 5)
    with pytest.raises(BadState):
        inq.reinquire(i.receipt, "u1", content="다시")
    inq.answer(i.receipt, "agent1", "답변")
    with pytest.raises(Forbidden):
        inq.rate(i.receipt, "u2", 5)
    with pytest.raises(Invalid):
        inq.rate(i.receipt, "u1", 6)
    assert inq.rate(i.receipt, "u1", "4").satisfaction == 4
    with pytest.raises(AlreadyDone):
        inq.rate(i.receipt, "u1", 5)
    assert inq.recommend(i.receipt, "u2").recommends == 1
    with pytest.raises(AlreadyDone):
        inq.recommend(i.receipt, "u2")
    with pytest.raises(Forbidden):
        inq.recommend(i.receipt, "u1")
    with pytest.raises(Forbidden):
        inq.reinquire(i.receipt, "u2", content="남의 질의")
    child = inq.reinquire(i.receipt, "u1", content="아직 안 보입니다")
    assert child.receipt == "0000000002" and child.parent_receipt == i.receipt and child.status == WAITING
    assert child.title == "[재질의] 인사카드 직원정보 누락" and child.category == i.category
    assert inq.read_subject_info(child.receipt, "u1") == "대상자 홍길동"
    assert "reinquired" in [e.kind for e in inq.get(i.receipt, events=True).events]


@pytest.mark.sqlite_only
def test_a_reinquiry_keeps_its_parents_chat_surface(tmp_path, make):
    s = make(tmp_path)
    inq = s.inquiries
    i = file(s, source="slack")
    inq.answer(i.receipt, "agent1", "답변")
    child = inq.reinquire(i.receipt, "u1", content="아직 안 보입니다")
    assert child.source == "slack" and child.parent_receipt == i.receipt
    filed = [e for e in inq.get(child.receipt, events=True).events if e.kind == "filed"]
    assert filed[0].detail["parent"] == i.receipt and filed[0].detail["source"] == "slack"
    inq.assign(child.receipt, "agent1")
    assert [r["surface"] for r in inq.open_for_reminders() if r["receipt"] == child.receipt] == ["slack"]
    # rows filed before the fix (source 'reinquiry', even a re-inquiry of one) get their surface back
    grandchild = file(s, source="reinquiry", parent_id=child.id)
    s.store.conn.execute("UPDATE inquiries SET source = 'reinquiry' WHERE id = ?", [child.id])
    s.store.conn.execute("DELETE FROM _migrations WHERE name = 'inquiries_003_reinquiry_source'")
    s.store.conn.commit()
    s.close()
    s = make(tmp_path)
    assert s.inquiries.get(child.receipt).source == "slack"
    assert s.inquiries.get(grandchild.receipt).source == "slack"
    s.close()


def test_subject_info_access_is_checked_and_logged(services):
    inq = services.inquiries
    i = file(services, subject_info="홍길동 900101-1234567")
    assert inq.read_subject_info(i.receipt, "u1") == "홍길동 900101-1234567"
    with pytest.raises(Forbidden):
        inq.read_subject_info(i.receipt, "agent2")  # an agent who is not the assignee
    inq.assign(i.receipt, "agent2")
    assert "900101" in inq.read_subject_info(i.receipt, "agent2")
    assert [(r["reader"], r["allowed"]) for r in inq.subject_reads(i.receipt)] == \
        [("u1", True), ("agent2", False), ("agent2", True)]


def test_promoted_faq_is_answered_at_once_and_after_restart(tmp_path, make):
    s = make(tmp_path)
    i = file(s, title="희망이음 메뉴권한 확인 요청", question="메뉴권한이 안 보여요 010-1234-5678")
    with pytest.raises(BadState):
        s.inquiries.promote_to_faq(i.receipt, "agent1")
    s.inquiries.answer(i.receipt, "agent1", "기관 관리자가 {{ 권한 }}을 다시 부여하면 됩니다.")
    entry = s.inquiries.promote_to_faq(i.receipt, "agent1")
    assert entry.kind == "inquiry" and "010" not in str(entry.__dict__)
    hits = s.engine.search("희망이음 메뉴권한 확인 요청", 3)
    assert hits and hits[0].entry.id == entry.id
    assert s.templates.render_answer(hits[0].entry) == "기관 관리자가 {{ 권한 }}을 다시 부여하면 됩니다."
    s.close()
    s2 = make(tmp_path)
    assert s2.engine.search("희망이음 메뉴권한 확인 요청", 1)[0].entry.id == entry.id
    s2.close()


def test_similar_suggests_public_inquiries_and_faq_only(services):
    file(services, title="인사카드 직원정보 누락")
    file(services, title="인사카드 직원정보 누락 비공개", public=False)
    got = services.inquiries.similar("인사카드 직원정보 누락")
    assert got and got[0].kind == "inquiry" and got[0].id == "0000000001"
    assert "0000000002" not in [g.id for g in got]
    file(services, title="직원 인사카드 정보가 누락됨")  # added to the index live
    assert "0000000003" in [g.id for g in services.inquiries.similar("인사카드 정보 누락", limit=10)]


# ---- business hours --------------------------------------------------------------------------------


def test_due_times_skip_nights_weekends_and_holidays():
    cal = BusinessCalendar(Policy())
    fri = datetime(2022, 9, 2, 17, 0, tzinfo=SEOUL)
    assert cal.add_hours(fri, 2) == datetime(2022, 9, 5, 10, 0, tzinfo=SEOUL)  # over the weekend
    before_chuseok = datetime(2022, 9, 8, 17, 0, tzinfo=SEOUL)  # 9.9–9.12 are holidays
    assert cal.add_hours(before_chuseok, 2) == datetime(2022, 9, 13, 10, 0, tzinfo=SEOUL)
    night = datetime(2022, 8, 29, 22, 0, tzinfo=SEOUL)
    assert cal.add_hours(night, 1) == datetime(2022, 8, 30, 10, 0, tzinfo=SEOUL)
    assert cal.hours_between(fri, datetime(2022, 9, 5, 10, 0, tzinfo=SEOUL)) == 2
    assert remaining_label(None) == "-" and remaining_label(5.2) == "6시간" and remaining_label(-2.5) == "3시간 초과"


def test_policy_is_data(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text("business_hours: {start: '08:00', end: '17:00'}\nhours: {default: 10, 장애신고: 2}\nurgent_hours: 1\n")
    pol = Policy.load(p)
    assert pol.hours_for("장애신고", False) == 2 and pol.hours_for("개선요구", False) == 10
    assert pol.hours_for("개선요구", True) == 1
    shipped = Policy.load(PROJECT_ROOT / "knowledge" / "policy.yaml")
    assert shipped.hours_for("장애신고", False) < shipped.hours_for("개선요구", False)


def test_remaining_time_counts_down_in_business_hours(services):
    i = file(services, type="장애신고")  # 4 business hours
    assert services.inquiries.remaining_label(i) == "4시간"
    services.clock.set(datetime(2022, 8, 29, 17, 0, tzinfo=SEOUL))
    assert services.inquiries.remaining_label(i) == "3시간 초과"
    assert services.inquiries.remaining(i) == -3


# ---- the requester's chat flow ---------------------------------------------------------------------


def test_chat_form_is_built_from_the_taxonomy(services):
    replies = dispatch(Incoming(user="u1", text="질의하기"), services)
    form = replies[0].form
    fields = {f.name: f for f in form.fields}
    assert ("전체업무 > ERP > 인사", "전체업무 > ERP > 인사") in fields["category"].options
    assert [v for v, _ in fields["type"].options] == services.kb.types
    assert fields["subject_info"].private and fields["title"].suggest_action == "inquiry.similar"
    assert fields["title"].max_length == 100


def test_open_from_a_declined_answer_prefills_and_keeps_the_question(services):
    replies = dispatch(Incoming(user="u1", action="inquiry.open", value="급여 명세서가 안 나와요"), services)
    form = replies[0].form
    assert {f.name: f.initial for f in form.fields}["title"] == "급여 명세서가 안 나와요"
    values = {"title": "급여 명세서 오류", "category": "ERP > 급여", "type": "시스템오류", "content": "출력 안 됨"}
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value=form.state, form=values), services)
    i = services.inquiries.get(replies[0].data["receipt"])
    assert i.question == "급여 명세서가 안 나와요"


def test_chat_submit_errors_come_back_on_the_form(services):
    values = {"title": "", "category": "없음", "type": "질문", "files": [{"name": "x.exe", "size": 1, "id": "F"}]}
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value="{}", form=values), services)
    assert replies[0].kind == "form"
    assert set(replies[0].form.errors) == {"title", "category", "type", "files"}
    assert services.store.conn.execute("SELECT COUNT(*) FROM inquiries").fetchone()[0] == 0


def test_my_inquiries_and_rating_through_chat(services):
    i = file(services)
    services.inquiries.answer(i.receipt, "agent1", "답변입니다")
    text = dispatch(Incoming(user="u1", text="내 질의"), services)[0].text
    assert i.receipt in text and "조치완료" in text
    replies = dispatch(Incoming(user="u1", action="inquiry.rate", value=f"{i.receipt}:5"), services)
    assert "5점" in replies[0].text
    replies = dispatch(Incoming(user="u1", action="inquiry.rate", value=f"{i.receipt}:4"), services)
    assert replies[0].kind == "error" and "한 번만" in replies[0].text
    empty = dispatch(Incoming(user="nobody", text="내질의"), services)[0].text
    assert "아직 등록한 질의가 없습니다" in empty


def test_reinquiry_through_chat(services):
    i = file(services)
    services.inquiries.answer(i.receipt, "agent1", "답변")
    form = dispatch(Incoming(user="u1", action="inquiry.reinquire", value=i.receipt), services)[0].form
    values = {f.name: f.initial for f in form.fields}
    values["content"] = "여전히 안 됩니다"
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value=form.state, form=values), services)
    assert replies[0].data["receipt"] == "0000000002"
    assert services.inquiries.get("2").parent_receipt == i.receipt
    assert any(r.to_conversation == "triage" for r in replies)


def test_unknown_receipt_is_a_korean_error(services):
    with pytest.raises(NotFound, match="찾을 수 없습니다"):
        services.inquiries.get("0000000099")
    reply = dispatch(Incoming(user="u1", action="inquiry.view", value="abc"), services)[0]
    assert reply.kind == "error" and "접수번호" in reply.text


def test_attachment_type_from_the_surface_and_agents_as_a_callable(services):
    i = file(services, attachments=[{"name": "화면캡처", "type": "image/png", "size": 5, "id": "F1"}])
    assert services.inquiries.get(i.receipt).attachments[0].type == "png"
    with pytest.raises(Invalid):
        file(services, attachments=[{"name": "script", "type": "application/x-sh", "size": 5, "id": "F2"}])
    members = {"triager"}
    inq = Inquiries(services.store, kb=services.kb, clock=services.clock, agents=members.__contains__)
    assert inq.is_agent("triager") and not inq.is_agent("u1")


def test_terminal_chat_walks_the_form_and_moves_personal_data_in_one_step(services):
    from bot.surfaces.console.adapter import Console

    script = "\n".join([
        "질의하기",
        "급여 명세서 출력 오류 010-1234-5678",  # title, with a phone number
        "전체업무 > ERP > 급여", "시스템오류", "아니요", "", "", "", "",
        "출력 버튼이 반응하지 않습니다", "",  # 질의내용 may hold several lines: an empty line ends it
        "", "",
        "",  # the form comes back with the number moved to subject info: Enter accepts
        "내 질의",
    ]) + "\n"
    out = io.StringIO()
    Console(services, io.StringIO(script), out, user="u1").run()
    text = out.getvalue()
    assert "대상자 정보로 옮겼습니다" in text
    assert "접수번호 0000000001" in text and "[조치대기]" in text
    i = services.inquiries.get("1")
    assert "010-1234-5678" not in i.title
    assert services.inquiries.read_subject_info("1", "u1") == "010-1234-5678"


def test_suggestions_include_what_another_process_filed(tmp_path, make):
    # two processes on one database (on PostgreSQL: two bot processes; each keeps its own suggestion index)
    a, b = make(tmp_path), make(tmp_path)
    try:
        assert [s for s in b.inquiries.similar("인사카드 직원정보 누락") if s.kind == "inquiry"] == []
        filed = file(a)
        found = [s.id for s in b.inquiries.similar("인사카드 직원정보 누락") if s.kind == "inquiry"]
        assert found == [filed.receipt]
    finally:
        a.close()
        b.close()


def test_the_text_filter_ignores_latin_case_and_finds_hangul_on_either_store(services):
    file(services, title="ERP 로그인 오류", content="Hope 시스템 접속")
    file(services, title="급여 명세서", content="출력이 안 됩니다")
    inq = services.inquiries
    assert [i.title for i in inq.list(text="erp").items] == ["ERP 로그인 오류"]
    assert [i.title for i in inq.list(text="HOPE").items] == ["ERP 로그인 오류"]
    assert [i.title for i in inq.list(text="명세").items] == ["급여 명세서"]
    assert inq.list(text="50%_").total == 0  # LIKE's wildcards are matched literally


def test_a_faq_entry_promoted_by_another_process_is_answered_after_the_next_tick(tmp_path, make):
    from bot.infra.scheduler import tick

    a, b = make(tmp_path), make(tmp_path)  # two processes on one database
    try:
        assert a.engine is not b.engine
        i = file(a, title="희망이음 메뉴권한 확인 요청")
        a.inquiries.answer(i.receipt, "agent1", "기관 관리자가 권한을 다시 부여하면 됩니다.")
        entry = a.inquiries.promote_to_faq(i.receipt, "agent1")
        assert not [h for h in b.engine.search("희망이음 메뉴권한 확인 요청", 3) if h.entry.id == entry.id]
        assert tick(b)["promoted"] == 1
        assert b.engine.search("희망이음 메뉴권한 확인 요청", 1)[0].entry.id == entry.id
        assert tick(b)["promoted"] == 0  # read once
    finally:
        a.close()
        b.close()
