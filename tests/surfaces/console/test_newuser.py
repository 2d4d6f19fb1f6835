"""What a new user tripped over (issue 13): the terminal chat, the forms, the history, the view count."""
import io
import sys

from bot.core.messages import Incoming, Reply
from bot.core.config import PROJECT_ROOT
from bot.surfaces.console.adapter import Console
from handlers.router import dispatch

ROOT = PROJECT_ROOT
EXE = b"MZ\x90\x00\x03\x00\x00\x00"


def file(s, **kw):
    data = dict(title="인사카드 직원정보 누락", category="전체업무 > ERP > 인사", type="자료확인", requester="u1",
                requester_name="박세나", organization="복지시설", content="인사카드에 직원정보가 보이지 않습니다.")
    data.update(kw)
    return s.inquiries.file(**data)


def chat(services, script: list[str], user="u1") -> tuple[Console, str]:
    out = io.StringIO()
    con = Console(services, io.StringIO("\n".join(script) + "\n"), out, user=user)
    con.run()
    return con, out.getvalue()


def test_button_numbers_stay_bound_and_labels_press_buttons(services):
    i = file(services)
    services.inquiries.assign(i.receipt, "agent1")
    services.inquiries.answer(i.receipt, "agent1", "인사카드 메뉴에서 다시 조회해 주세요.", complete=True)
    # an agent opens an unassigned public inquiry: [1] is the agent's 맡기, not the reader's 추천
    j = file(services, requester="u2")
    con, text = chat(services, [j.receipt], user="agent1")
    assert con.choices[0].label == "맡기" and "[1] 맡기" in text
    # typing a label presses that button; a plain question keeps the buttons last shown
    con, text = chat(services, [j.receipt, "맡기", "ㅎㅇ", "1"], user="agent1")
    assert services.inquiries.get(j.receipt).assignee == "agent1"
    assert "안녕하세요" not in text.split("ㅎㅇ")[0]
    # the requester's own view: the rating buttons are numbered once, a number means what it was shown with
    con, text = chat(services, [i.receipt, "만족도 4점"])
    assert services.inquiries.get(i.receipt).satisfaction == 4


def test_a_batch_of_replies_numbers_its_buttons_on(services):
    from bot.core.messages import Choice

    out = io.StringIO()
    con = Console(services, io.StringIO(""), out, user="u1")
    con.show([Reply("하나", choices=[Choice("FAQ 등록", "a.x", "1")]),
              Reply("둘", choices=[Choice("5점", "b.y", "5"), Choice("4점", "b.y", "4")])])
    assert "[1] FAQ 등록" in out.getvalue() and "[2] 5점" in out.getvalue() and "[3] 4점" in out.getvalue()
    assert con.pressed("1").label == "FAQ 등록" and con.pressed("3").value == "4"
    assert con.pressed("faq등록").label == "FAQ 등록" and con.pressed("0000000001") is None
    con.show([Reply("버튼 없는 안내")])
    assert con.pressed("2").label == "5점"  # still the buttons the user last saw


def test_receipt_number_opens_the_inquiry_and_help_lists_the_agent_commands(services):
    i = file(services)
    text = dispatch(Incoming(user="u1", text=i.receipt, surface="console"), services)[0].text
    assert i.title in text and "질의" in text
    agent_help = dispatch(Incoming(user="agent1", text="도움말", surface="console"), services)[0].text
    user_help = dispatch(Incoming(user="u1", text="도움말", surface="console"), services)[0].text
    assert "질의 목록" in agent_help and "질의 목록" not in user_help
    assert "0000000001" in user_help


def test_greetings_and_small_talk_from_the_data_file(kb_services):
    hi = dispatch(Incoming(user="u1", text="ㅎㅇ", surface="console"), kb_services)[0]
    assert hi.data["reason"] == "greeting" and "안녕하세요" in hi.text
    lunch = dispatch(Incoming(user="u1", text="점심 뭐 먹지?", surface="console"), kb_services)[0]
    assert lunch.data["reason"] == "chitchat" and not lunch.choices
    real = dispatch(Incoming(user="u1", text="희망이음 언제 열려요", surface="console"), kb_services)[0]
    assert real.kind == "answer"


def test_multi_line_fields_end_with_an_empty_line_or_a_dot(services):
    script = ["질의하기", "급여 명세서 출력 오류", "전체업무 > ERP > 급여", "시스템오류", "아니요", "", "", "", "",
              "첫째 줄입니다", "둘째 줄입니다", ".", "대상자 1", "대상자 2", "", ""]
    _, text = chat(services, script)
    assert "빈 줄이나 '.'" in text
    i = services.inquiries.get("1")
    assert i.content == "첫째 줄입니다\n둘째 줄입니다"
    assert services.inquiries.read_subject_info("1", "u1") == "대상자 1\n대상자 2"


def test_every_form_error_at_once(services, tmp_path):
    bad = tmp_path / "run.exe"
    bad.write_bytes(EXE)
    values = {"title": "급여 오류 010-1234-5678", "category": "전체업무 > ERP > 급여", "type": "시스템오류",
              "content": "출력이 안 됩니다", "subject_info": "",
              "files": [{"name": "run.exe", "data": EXE, "size": len(EXE)}]}
    replies = dispatch(Incoming(user="u1", surface="slack", action="inquiry.submit", value="{}", form=values),
                       services)
    form = next(r.form for r in replies if r.form is not None)
    assert set(form.errors) >= {"title", "files"}  # personal data moved and the .exe refused in one round
    # the terminal lists them all before asking again
    script = ["질의하기", "급여 오류 010-1234-5678", "전체업무 > ERP > 급여", "시스템오류", "아니요", "", "", "", "",
              "출력이 안 됩니다", "", "", str(bad), "", "", ""]
    _, text = chat(services, script)
    block = text.split("고칠 항목 2개:")[1].split("⚠")[0]
    assert "제목" in block and "첨부" in block
    assert services.inquiries.get("1").attachments == []  # filed without the refused file


def test_history_in_korean_and_reinquiry_needs_content(services):
    i = file(services)
    services.inquiries.assign(i.receipt, "agent1")
    services.inquiries.answer(i.receipt, "agent1", "다시 조회해 주세요.", complete=True)
    import pytest

    from bot.inquiries.service import Invalid

    with pytest.raises(Invalid) as e:
        services.inquiries.reinquire(i.receipt, "u1", content="  ")
    assert "질의내용" in e.value.errors["content"]
    text = services.templates.render("inquiry_history", events=services.inquiries.get(i.receipt, events=True).events)
    assert "접수" in text and "담당자 지정" in text and "조치완료" in text
    assert "filed" not in text and "assigned" not in text


def test_the_requesters_own_views_are_not_counted(services):
    i = file(services)
    services.inquiries.view(i.receipt, "u1")
    services.inquiries.view(i.receipt, "u1")
    assert services.inquiries.get(i.receipt).views == 0
    services.inquiries.view(i.receipt, "u2")
    assert services.inquiries.get(i.receipt).views == 1


def test_reminders_reach_the_terminal_once_and_redraw_the_prompt(services):
    reminders = services.reminders
    reminders.subscribe("console", "u1")
    occ = next(o for o in reminders.occurrences(None) if "subscribers" in o.rule.audience
               and "broadcast" in o.rule.audience and o.at.timestamp() > 0)
    targets = reminders.targets(occ, subscribers=[("console", "u1", 0)], broadcast=[("console", "console")])
    assert targets == [("console", "console")]
    out = io.StringIO()
    con = Console(services, io.StringIO(""), out, user="u1")
    con.input.prompt = "나> "  # as while input() waits
    con.deliver("console", Reply("🔔 내일 시스템이 중단됩니다"))
    assert out.getvalue().startswith("\r\033[K[알림] 🔔 내일") and out.getvalue().endswith("나> ")


def test_start_banner_names_the_rehearsal_clock(tmp_path):
    import os
    import pty

    from fakes.terminal import end, read_until

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "chat"],
                  {**os.environ, "IEUM_DATA_DIR": str(tmp_path), "IEUM_USER": "tester", "LANG": "C.UTF-8",
                   "TERM": "dumb", "IEUM_NOW": "2022-08-29T08:59:00+09:00"})
    try:
        screen = read_until(fd, "나> ")
        assert "리허설 시계" in screen and "2022년 8월 29일(월) 08:5" in screen and "tester" in screen
        assert end(pid, fd) == 0
    finally:
        os.close(fd)


def test_export_dates_widths_empty_rating_and_content(services, tmp_path):
    from datetime import date, datetime

    from openpyxl import load_workbook

    from bot.inquiries.service import CONTENT_HEADINGS, EXPORT_HEADINGS

    done = file(services, content="출력이 안 됩니다.", subject_info="홍길동 900101-1234567")
    services.inquiries.assign(done.receipt, "agent1")
    services.inquiries.answer(done.receipt, "agent1", "인사카드 메뉴에서 다시 조회해 주세요.", complete=True)
    file(services, title="두 번째 질의")
    path = tmp_path / "all.xlsx"
    assert services.inquiries.export(path, "xlsx", with_content=True) == 2
    ws = load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == EXPORT_HEADINGS + CONTENT_HEADINGS
    by_receipt = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    first, second = by_receipt[done.receipt], by_receipt["0000000002"]
    assert isinstance(first["등록일자"], (date, datetime))  # a real date, not text
    assert ws.column_dimensions["D"].width >= 30  # 제목 is readable without resizing
    assert second["만족도"] in (None, "")  # not rated: empty, not 0
    assert first["답변"].startswith("인사카드 메뉴") and first["담당자"] == "agent1"
    assert isinstance(first["완료일시"], datetime) and first["처리시간(업무시간)"] is not None
    assert "900101" not in str(rows) and "홍길동" not in str(rows)
    plain = tmp_path / "plain.csv"
    services.inquiries.export(plain, "csv")
    header, *lines = plain.read_text(encoding="utf-8-sig").splitlines()
    assert header.split(",") == EXPORT_HEADINGS and "질의내용" not in header


def test_a_csv_faq_with_korean_headers_loads_and_bad_headers_are_named(tmp_path):
    import pytest

    from bot.knowledge.base import KnowledgeError, load_faq_file

    good = tmp_path / "faq.csv"
    good.write_text("id,질문,답변\nq1,점심시간 언제예요,12시부터 13시까지입니다\n", encoding="utf-8")
    (entry,) = load_faq_file(good)
    assert (entry.id, entry.title, entry.answer) == ("q1", "점심시간 언제예요", "12시부터 13시까지입니다")
    bad = tmp_path / "bad.csv"
    bad.write_text("번호,물음,풀이\n1,x,y\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as e:
        load_faq_file(bad)
    assert "id,question,answer" in str(e.value) and "id,질문,답변" in str(e.value)


def test_reminder_moved_by_a_holiday_says_its_real_distance_and_why(services):
    from bot.reminders.service import set_milestone

    set_milestone(services, "phase2_reporting", "2022-09-13", by="test")
    r = services.reminders
    occ = next(o for o in r.occurrences(None) if o.rule.id == "phase2_open" and o.offset == "D-1")
    assert occ.at.date().isoformat() == "2022-09-08"  # 추석 (9/9–12) moved it
    text = r.render(occ).text
    assert "D-5" in text and "9월 12일(월)" in text and "앞당겨" in text
    assert "그대로 물어보세요" not in text



def test_the_cms_reminder_links_the_cms_entry(kb_services):
    r = kb_services.reminders
    cms = next(o for o in r.occurrences(None) if o.rule.id == "cms_before")
    assert "「중단 기간 CMS 출금신청」" in r.render(cms).text  # the CMS entry, not only the 후원관리 menu


def test_subscribing_after_the_campaign_promises_nothing(services):
    services.clock.set(datetime_(2026, 11, 30))
    text = dispatch(Incoming(user="u1", text="알림", surface="console"), services)[0].text
    assert "미리 알려 드릴게요" not in text and "보낼 알림이 없습니다" in text and "2022년" in text
    services.clock.set(datetime_(2022, 8, 29))
    dispatch(Incoming(user="u1", text="알림 끄기", surface="console"), services)
    text = dispatch(Incoming(user="u1", text="알림", surface="console"), services)[0].text
    assert "다음 알림" in text


def datetime_(y, m, d):
    from datetime import datetime

    from bot.core.clock import SEOUL

    return datetime(y, m, d, 8, 0, tzinfo=SEOUL)
