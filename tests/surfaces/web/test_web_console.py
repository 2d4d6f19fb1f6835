"""The helpdesk web console over real HTTP: one-time links (a non-agent, an expired link, a reused link are
refused), sessions and CSRF (a POST without the token changes nothing), security headers, an agent removed
from IEUM_AGENTS losing access, the queue's filters and export, and `콘솔` in chat sending the link privately."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from bot.core.messages import Incoming
from bot.http import SLACK_KEY, ServerThread
from bot.surfaces.web.app import mount as mount_console
from fakes.browser import Browser
from fakes.harness import wait_until
from handlers.console import signin_link
from handlers.router import dispatch

AGENTS = ("agent1", "agent2")


def file(s, **kw):
    data = dict(title="보조금 정산보고 화면 오류", category="전체업무 > ERP > 회계", type="시스템오류",
                requester="u1", requester_name="김성현", content="저장 버튼이 동작하지 않습니다.",
                subject_info="대상자 이순신 850101-1234567", source="console")
    data.update(kw)
    return s.inquiries.file(**data)


@pytest.fixture
def server(services):
    with ServerThread(services, mounts=[mount_console]) as srv:
        yield srv


def test_a_link_signs_in_once_and_the_session_sees_the_queue(services, server):
    i = file(services)
    b = Browser(server.url)
    url = signin_link(services, "agent1")
    assert url.startswith("http://127.0.0.1:3000/console/signin?token=")
    status, _, html, _ = b.request(urllib.parse.urlparse(url).path + "?" + urllib.parse.urlparse(url).query)
    assert status == 200 and "로그인" in html and i.title not in html  # a GET (a link preview) spends nothing
    status, where, html, headers = b.sign_in(url)
    assert status == 200 and where.endswith("/console/inquiries") and i.title in html and i.receipt in html
    cookie = next(c for c in b.jar if c.name == "ieum_console")
    assert cookie.has_nonstandard_attr("HttpOnly") and not cookie.secure
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # reused: refused, and the second browser gets no session
    other = Browser(server.url)
    status, _, html, _ = other.sign_in(url)
    assert status == 403 and "사용할 수 없습니다" in html and i.title not in html
    assert other.request("/console/inquiries")[1].endswith("/console/welcome")
    # logout ends the session
    b.request("/console/logout", {"_csrf": b.csrf("/console/inquiries")})
    status, where, html, _ = b.request("/console/inquiries")
    assert where.endswith("/console/welcome") and i.title not in html and "ieum console link" in html


def test_an_expired_link_is_refused(services, server):
    url = signin_link(services, "agent1", minutes=15)
    services.store.conn.execute("UPDATE signin_links SET expires_at = expires_at - 3600")
    status, _, html, _ = Browser(server.url).sign_in(url)
    assert status == 403 and "만료" in html


def test_without_a_session_every_page_explains_and_shows_nothing(services, server):
    i = file(services)
    for path in ("/console/", "/console/inquiries", f"/console/inquiries/{i.receipt}", "/console/inquiries.csv",
                 "/console/privacy?month=2022-08", "/console/privacy.csv?month=2022-08&reason=x"):
        status, where, html, headers = Browser(server.url).request(path)
        assert where.endswith("/console/welcome") and i.title not in html and "/ieum 콘솔" in html, path
        assert headers["X-Frame-Options"] == "DENY"


def test_a_post_without_the_csrf_token_changes_nothing(services, server):
    i = file(services)
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    status, _, html, _ = b.request(f"/console/inquiries/{i.receipt}/assign", {})
    assert status == 403 and "CSRF" in html
    status, _, _, _ = b.request(f"/console/inquiries/{i.receipt}/answer", {"answer": "x", "_csrf": "forged"})
    assert status == 403
    after = services.inquiries.get(i.receipt)
    assert after.assignee is None and after.answer is None
    assert services.store.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_an_agent_removed_from_ieum_agents_loses_access(services, make, tmp_path):
    file(services)
    with ServerThread(services, mounts=[mount_console]) as srv:
        b = Browser(srv.url)
        b.sign_in(signin_link(services, "agent1"))
        assert b.request("/console/inquiries")[1].endswith("/console/inquiries")
    later = make(tmp_path, agents=("agent2",))  # the same database, restarted without agent1
    try:
        with ServerThread(later, mounts=[mount_console]) as srv:
            b.base = srv.url
            status, where, html, _ = b.request("/console/inquiries")
            assert where.endswith("/console/welcome") and "보조금" not in html
    finally:
        later.close()


def test_console_actions_go_through_the_handlers_and_reach_the_requester(services, server):
    i = file(services, urgent=True)
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    token = b.csrf(f"/console/inquiries/{i.receipt}")
    status, where, html, _ = b.request(f"/console/inquiries/{i.receipt}/assign", {"_csrf": token})
    assert status == 200 and "담당자 지정" in html  # the history in Korean
    # the subject info: only after a click, logged
    assert "850101" not in html
    status, _, html, _ = b.request(f"/console/inquiries/{i.receipt}/subject", {"_csrf": token})
    assert "850101-1234567" in html and services.inquiries.subject_reads(i.receipt)[-1]["reader"] == "agent1"
    (rec,) = [r for r in services.privacy.records.rows() if r["action"] == "조회"]  # one access record, no data
    assert (rec["handler"], rec["receipt"], rec["requester"]) == ("agent1", i.receipt, i.requester)
    assert rec["place"].startswith("console") and rec["at"] and "850101" not in str(rec)
    b.request(f"/console/inquiries/{i.receipt}/answer", {"_csrf": token, "answer": "설정 메뉴에서 다시 저장하세요.",
                                                       "complete": "1"})
    after = services.inquiries.get(i.receipt)
    assert after.status == "조치완료" and after.answer.startswith("설정 메뉴")
    rows = services.outbox.items()
    targets = {(r["surface"], r["target"]) for r in rows}
    assert ("console", "user:u1") in targets and ("console", "channel:triage") in targets
    assert all(r["status"] == "sent" for r in rows)  # drained at once, not at the next tick


def test_a_message_to_the_requester_is_delivered_and_kept_in_the_conversation(services, server):
    i = file(services)
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    token = b.csrf(f"/console/inquiries/{i.receipt}")
    b.request(f"/console/inquiries/{i.receipt}/start", {"_csrf": token})
    status, _, html, _ = b.request(f"/console/inquiries/{i.receipt}/message",
                                   {"_csrf": token, "message": "오늘 오후에 원격으로 확인하겠습니다. 담당 010-2345-6789"})
    assert status == 200 and "요청자에게 메시지를 보냈습니다" in html
    talk = html.split("<h2>대화</h2>")[1].split("<h2>조치</h2>")[0]
    assert "원격으로 확인하겠습니다" in talk and "요청자에게" in talk and "010-2345-6789" not in html  # masked
    assert services.inquiries.get(i.receipt).status == "조치중"  # a message changes no status
    (row,) = [r for r in services.outbox.items() if r["target"] == "user:u1" and "원격으로" in r["reply"]]
    assert row["surface"] == "console" and row["status"] == "sent" and "010-2345-6789" not in row["reply"]
    # another message is its own delivery; an empty one is refused and sends nothing
    b.request(f"/console/inquiries/{i.receipt}/message", {"_csrf": token, "message": "확인했습니다."})
    n = len(services.outbox.items())
    status, _, html, _ = b.request(f"/console/inquiries/{i.receipt}/message", {"_csrf": token, "message": "  "})
    assert "보낼 메시지를 입력해 주세요" in html and len(services.outbox.items()) == n
    assert len([r for r in services.outbox.items() if r["target"] == "user:u1" and "담당자 답글" in r["reply"]]) == 2
    # an inquiry imported with `ieum inquiries file` has no chat to tell: the console offers no message to it
    imported = file(services, source="import")
    html = b.request(f"/console/inquiries/{imported.receipt}")[2]
    assert "가져온 질의" in html and 'action="/console/inquiries/%s/message"' % imported.receipt not in html
    assert 'action="/console/inquiries/%s/message"' % i.receipt in b.request(f"/console/inquiries/{i.receipt}")[2]


def test_reply_button_is_the_requesters_alone_and_brings_the_answer_back(services):
    """답장하기 (the way back on surfaces without threads): only the requester, never empty, masked, and the
    answer to a 추가 정보 요청 returns the inquiry to 조치중."""
    i = file(services)
    services.inquiries.request_info(i.receipt, "agent1", "어느 시설인가요?")
    click = lambda user, action, form=None: dispatch(  # noqa: E731
        Incoming(user=user, action=action, value=i.receipt, form=form, surface="console"), services)
    # the terminal prints the request without its button: the requester's view of the inquiry offers it
    assert ("답장하기", "inquiry.reply") in [(c.label, c.action) for c in click("u1", "inquiry.view")[0].choices]
    assert "inquiry.reply" not in [c.action for c in click("u2", "inquiry.view")[0].choices]
    assert click("u2", "inquiry.reply")[0].kind == "error"
    assert click("u2", "inquiry.reply.submit", {"message": "남의 질의"})[0].kind == "error"
    (form,) = click("u1", "inquiry.reply")
    assert form.form.action == "inquiry.reply.submit" and form.private
    (again,) = click("u1", "inquiry.reply.submit", {"message": "  "})
    assert again.form.errors and services.inquiries.get(i.receipt).status == "추가정보요청"
    replies = click("u1", "inquiry.reply.submit", {"message": "행복요양원입니다. 010-2345-6789"})
    assert "전달했습니다" in replies[0].text and replies[0].private
    assert any(r.to_conversation == "triage" and "행복요양원" in r.text for r in replies)
    assert not any("010-2345-6789" in r.text for r in replies)
    after = services.inquiries.get(i.receipt, events=True)
    assert after.status == "조치중" and after.events[-2].detail["text"].startswith("행복요양원입니다")
    assert all("010-2345-6789" not in str(e.detail) for e in after.events)


def test_the_assignee_downloads_an_attachment_with_a_reason_recorded(services, server):
    pdf = b"%PDF-1.4\n" + b"SCREEN-" * 100
    i = file(services, attachments=[{"name": "오류 화면.pdf", "data": pdf}])
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    token = b.csrf(f"/console/inquiries/{i.receipt}")
    path = f"/console/inquiries/{i.receipt}/files/0"
    downloads = lambda: [r for r in services.privacy.records.rows() if r["action"] == "다운로드"]  # noqa: E731
    status, _, html, _ = b.request(path, {"_csrf": token, "reason": "화면 확인"})  # not the assignee
    assert status == 403 and "SCREEN" not in html and not downloads()
    html = b.request(f"/console/inquiries/{i.receipt}/assign", {"_csrf": token})[2]
    assert "내려받기 (기록됨)" in html
    assert b.request(path, {"reason": "화면 확인"})[0] == 403  # no CSRF token
    status, _, html, _ = b.request(path, {"_csrf": token, "reason": " "})
    assert status == 400 and "사유" in html and not downloads()
    status, _, body, headers = b.request(path, {"_csrf": token, "reason": "화면 확인"})
    assert status == 200 and body.encode() == pdf
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment;") and "UTF-8''" in headers["Content-Disposition"]
    (rec,) = downloads()
    assert (rec["handler"], rec["receipt"], rec["requester"], rec["reason"], rec["detail"]) == (
        "agent1", i.receipt, "u1", "화면 확인", "첨부파일 1")
    assert rec["place"].startswith("console")
    assert b.request(f"/console/inquiries/{i.receipt}/files/5", {"_csrf": token, "reason": "x"})[0] == 403


def test_the_monthly_review_page_is_the_reports_content_and_records_the_officers_sign_off(services, server):
    i = file(services)
    services.inquiries.assign(i.receipt, "agent2")
    services.inquiries.read_subject_info(i.receipt, "agent2", where="slack")
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    status, _, html, _ = b.request("/console/privacy?month=2022-08")
    assert status == 403 and "IEUM_PRIVACY_OFFICERS" in html and "agent2" not in html
    assert "개인정보 점검" not in b.request("/console/inquiries")[2]
    services.settings.extra["IEUM_PRIVACY_OFFICERS"] = "officer9, agent1"
    html = b.request("/console/inquiries")[2]
    assert 'href="/console/privacy"' in html
    status, _, html, _ = b.request("/console/privacy?month=2022-08")
    review = services.privacy.review("2022-08")
    assert status == 200 and review.digest[:16] in html and "아직 개인정보 보호책임자의 확인이 없습니다" in html
    assert "<td>agent2</td><td>u1</td><td>조회</td><td>1</td>" in html.replace("\n", "")
    assert "<td>u1</td><td>u1</td><td>입력</td><td>1</td>" in html.replace("\n", "")
    assert b.request("/console/privacy?month=2022-13")[2].count("YYYY-MM") == 1
    # CSV: a download with a reason
    assert b.request("/console/privacy.csv?month=2022-08")[0] == 400
    status, _, body, _ = b.request("/console/privacy.csv?month=2022-08&reason=" + urllib.parse.quote("월간 점검 보관"))
    assert status == 200 and "접속기록" in body and "850101" not in body
    status, _, _, headers = b.request("/console/privacy.csv?month=2022-8%0D%0A&reason=x")  # typed loosely
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="privacy-2022-08.csv"'
    # the sign-off: CSRF-checked, recorded with the month's digest, shown on the page
    assert b.request("/console/privacy/ack", {"month": "2022-08"})[0] == 403 and services.privacy.records.acks("2022-08") == []
    token = b.csrf("/console/privacy?month=2022-08")
    status, where, html, _ = b.request("/console/privacy/ack", {"_csrf": token, "month": "2022-08", "note": "이상 없음"})
    assert where.endswith("/console/privacy?month=2022-08") and "확인했다고 기록했습니다" in html
    (ack,) = services.privacy.records.acks("2022-08")
    assert (ack["officer"], ack["note"]) == ("agent1", "이상 없음") and ack["digest"] == services.privacy.review("2022-08").digest
    assert "개인정보 보호책임자 agent1" in html and "이상 없음" in html


def test_every_event_the_inquiries_write_has_a_korean_label_in_the_console_and_the_cli():
    """The history is in Korean: a new kind of event (e.g. subject_moved) must not show as its code name."""
    from bot.core.config import PROJECT_ROOT
    from bot.surfaces.web.app import EVENT_LABELS

    kinds = set()
    for f in ("bot/inquiries/service.py", "handlers/threads.py"):  # every `…._event(n, actor, KIND, …)` call
        for node in ast.walk(ast.parse((PROJECT_ROOT / f).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_event" and len(node.args) > 2:
                kind = node.args[2]
                kinds |= {c.value for c in ([kind.body, kind.orelse] if isinstance(kind, ast.IfExp) else [kind])
                          if isinstance(c, ast.Constant)}
    assert {"filed", "subject_moved", "attachment_stored", "message"} <= kinds  # the pattern finds them
    history = (PROJECT_ROOT / "knowledge" / "templates" / "inquiry_history.j2").read_text(encoding="utf-8")
    assert kinds <= set(EVENT_LABELS), kinds - set(EVENT_LABELS)
    assert not [k for k in kinds if f'"{k}":' not in history]


def test_the_queue_filters_and_exports(services, server):
    a = file(services, title="긴급한 급여 오류", urgent=True)
    file(services, title="평범한 질문", type="사용법문의")
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    html = b.request("/console/inquiries?urgent=1")[2]
    assert "긴급한 급여 오류" in html and "평범한 질문" not in html
    html = b.request("/console/inquiries?text=" + urllib.parse.quote("평범"))[2]
    assert "평범한 질문" in html and "긴급한 급여 오류" not in html
    services.inquiries.assign(a.receipt, "agent1")
    html = b.request("/console/inquiries?mine=1")[2]
    assert "긴급한 급여 오류" in html and "평범한 질문" not in html
    html = b.request("/console/inquiries?unassigned=1")[2]
    assert "평범한 질문" in html and "긴급한 급여 오류" not in html
    status, _, body, headers = b.request("/console/inquiries.csv?urgent=1")  # no reason: refused, recorded nothing
    assert status == 400 and "사유" in body and "긴급한 급여 오류" not in body
    downloads = lambda: [r for r in services.privacy.records.rows() if r["action"] == "다운로드"]  # noqa: E731
    assert not downloads()
    status, _, body, headers = b.request("/console/inquiries.csv?urgent=1&reason=" + urllib.parse.quote("주간 보고"))
    assert status == 200 and "긴급한 급여 오류" in body and "평범한 질문" not in body and "850101" not in body
    (rec,) = downloads()
    assert (rec["handler"], rec["action"], rec["reason"]) == ("agent1", "다운로드", "주간 보고")
    assert rec["place"].startswith("console")


def test_a_queue_of_more_than_ten_thousand_says_so_and_pages_on(services, server):
    from conftest import clone_inquiries

    file(services)
    clone_inquiries(services.store, 10_050)
    b = Browser(server.url)
    b.sign_in(signin_link(services, "agent1"))
    html = b.request("/console/inquiries?status=all&sort=newest")[2]
    assert "10,000건 이상" in html and "1 / 500쪽 이상" in html and "page=2" in html
    html = b.request("/console/inquiries?status=all&sort=newest&page=501")[2]
    assert "0000000050" in html and "501 / 502쪽 이상" in html and "page=502" in html
    html = b.request("/console/inquiries?status=all&sort=newest&page=503")[2]  # the last ten
    assert "0000000001" in html and "503 / 503쪽 이상" in html and "page=504" not in html
    html = b.request("/console/inquiries?status=all&text=" + urllib.parse.quote("없는 말"))[2]
    assert "총 0건" in html


def test_console_command_sends_the_link_privately_to_agents_only(services):
    replies = dispatch(Incoming(user="agent1", text="콘솔", surface="slack", direct=False), services)
    (r,) = replies
    assert r.to_user == "agent1" and r.private and r.data.get("sensitive") is True
    assert "/console/signin?token=" in r.text
    refused = dispatch(Incoming(user="u1", text="콘솔"), services)
    assert refused[0].kind == "error" and "/console/" not in refused[0].text


def test_cli_link_refuses_a_non_agent_in_korean(tmp_path):
    env = {"IEUM_DATA_DIR": str(tmp_path), "IEUM_AGENTS": "agent1", "PATH": "/usr/bin:/bin",
           "IEUM_SECRET_KEY": "dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4="}
    cmd = [sys.executable, "-m", "bot.cli", "console", "link"]
    refused = subprocess.run([*cmd, "nobody"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "담당자" in refused.stderr and refused.stdout == ""
    ok = subprocess.run([*cmd, "agent1", "--minutes", "5"], env={**env, "IEUM_PUBLIC_URL": "https://help.example"},
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("https://help.example/console/signin?token=")


def test_cli_answer_beside_a_serving_bot_reaches_the_requester_in_seconds(tmp_path, fake):
    """`ieum inquiries answer` runs the triage handler and queues the requester's DM; the serving bot's
    outbox poll (not its 30-second tick) sends it."""
    import time

    from fakes.harness import AGENT, Client, submission
    from fakes.harness import BotProcess

    fake.reset()
    bot = BotProcess(tmp_path / "data", fake, tmp_path / "bot.log", IEUM_OUTBOX_POLL_SECONDS="0.5")
    bot.env["IEUM_TICK_SECONDS"] = "600"  # only the poll can deliver within the test's time
    bot.start()
    try:
        status, body = Client(bot.url).interact(submission("U100", title="급여대장 출력 오류", content="출력이 안 됩니다."))
        assert status == 200 and "errors" not in body
        fake.wait_for(lambda f: any("급여대장" in str(c.args.get("text", "")) for c in f.of("chat.postMessage")), 10)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "bot.cli", "inquiries", "answer", "1", "--agent", AGENT,
                               "--text", "출력 설정을 A4로 바꾸세요."], env=bot.env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        calls = fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if "A4로" in str(c.args.get("text", ""))
                                         and c.args.get("channel") != "CTRIAGE"], 15)
        assert calls and time.monotonic() - started < 15
        fake.quiet(1.0)
        dms = [c for c in fake.of("chat.postMessage") if "A4로" in str(c.args.get("text", ""))
               and c.args.get("channel") != "CTRIAGE"]
        assert len(dms) == 1  # once
    finally:
        bot.stop()


@pytest.fixture
def slack_console(tmp_path, fake):
    from bot.http import mount_slack
    from bot.services import build
    from fakes.harness import settings_for

    fake.reset()
    services = build(settings_for(tmp_path / "data", fake))
    server = ServerThread(services, mounts=[mount_slack, mount_console], drain_every=0.3).start()
    yield services, server
    server.stop()
    services.close()


def filed_in_slack_and_signed_in(services, server):
    """U100 files inquiry 1 in Slack; the agent signs in to the console: (Slack client, browser, CSRF token)."""
    from fakes.harness import AGENT, Client, submission

    slack = Client(server.url)
    assert slack.interact(submission("U100", title="급여대장 출력 오류", content="출력이 안 됩니다."))[0] == 200
    b = Browser(server.url)
    b.sign_in(signin_link(services, AGENT))
    return slack, b, b.csrf("/console/inquiries/1")


def test_asking_for_more_reaches_the_requester_and_their_reply_returns_it_to_work(slack_console, fake):
    from fakes.harness import message_event

    services, server = slack_console
    slack, b, token = filed_in_slack_and_signed_in(services, server)
    b.request("/console/inquiries/1/assign", {"_csrf": token})
    status, _, html, _ = b.request("/console/inquiries/1/ask", {"_csrf": token, "question": "어느 시설의 급여대장인가요?"})
    assert status == 200 and "추가정보요청" in html
    assert services.inquiries.get("1").status == "추가정보요청"

    def asked(f):
        return [(ch, ts) for (ch, ts), m in f.messages.items() if ch.startswith("D") and "어느 시설" in m["text"]]

    ((channel, ts),) = fake.wait_for(asked, 10)
    # the bot knows the message is the inquiry's a moment after Slack has it (a drain may send it)
    wait_until(lambda: server.web_app[SLACK_KEY].posts.topic_at(channel, ts))
    slack.event(message_event("행복요양원 2월분입니다. 010-2345-6789", user="U100", channel=channel, thread_ts=ts))
    wait_until(lambda: services.inquiries.get("1").status == "조치중")
    html = b.request("/console/inquiries/1")[2]
    assert "행복요양원 2월분입니다" in html and "010-2345-6789" not in html  # masked on the way in
    assert "추가 정보 받음" in html
    # an internal note stays in the console; 재개 after completion tells the requester again
    n = len(fake.of("chat.postMessage"))
    b.request("/console/inquiries/1/note", {"_csrf": token, "note": "시설 담당자와 통화함"})
    assert "시설 담당자와 통화함" in b.request("/console/inquiries/1")[2]
    fake.quiet(0.5)
    assert not any("통화함" in str(c.args.get("text")) for c in fake.of("chat.postMessage")[n:])
    b.request("/console/inquiries/1/answer", {"_csrf": token, "answer": "2월분을 다시 생성했습니다.", "complete": "1"})
    b.request("/console/inquiries/1/reopen", {"_csrf": token})
    assert services.inquiries.get("1").status == "조치중"
    fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.args.get("channel") == channel
                             and "다시 열었습니다" in str(c.args.get("text"))], 10)


def test_the_slack_requester_answers_a_console_message_with_the_reply_button(slack_console, fake):
    from fakes.harness import click, form_submission

    services, server = slack_console
    slack, b, token = filed_in_slack_and_signed_in(services, server)
    b.request("/console/inquiries/1/message", {"_csrf": token, "message": "출력 화면을 캡처해 보내 주실 수 있나요?"})

    def told(f):
        return [c for c in f.of("chat.postMessage") if "캡처해 보내" in str(c.args.get("text", ""))
                and str(c.args.get("channel", "")).startswith("D")]

    (dm,) = fake.wait_for(told, 10)
    assert "inquiry.reply|" in json.dumps(dm.args.get("blocks"), ensure_ascii=False)  # the 답장하기 button
    assert slack.interact(click("U100", "inquiry.reply", "0000000001"))[0] == 200
    (opened,) = fake.wait_for(lambda f: f.of("views.open"), 10)
    assert "inquiry.reply.submit" in json.dumps(opened.args, ensure_ascii=False)
    status, body = slack.interact(form_submission("U100", "inquiry.reply.submit", "0000000001",
                                                  {"message": "캡처는 메일로 보냈습니다."}))
    assert status == 200 and "errors" not in body
    wait_until(lambda: "캡처는 메일로 보냈습니다" in b.request("/console/inquiries/1")[2])
    fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.args.get("channel") == "CTRIAGE"
                             and "캡처는 메일로" in str(c.args.get("text", ""))], 10)  # the card's thread hears it


def test_gaps_group_declined_questions_masked_and_a_gap_becomes_a_faq_ieum_ask_answers(tmp_path, knowledge):
    from bot.core.clock import FixedClock
    from bot.core.config import Settings
    from bot.services import build
    from conftest import INQUIRY_NOW

    settings = Settings(data_dir=tmp_path / "data", knowledge=knowledge, agents=AGENTS,
                        secret_key="dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    services = build(settings, clock=FixedClock(INQUIRY_NOW))
    try:
        for q in ("급여명세서 재발급 방법 알려주세요 010-2345-6789", "급여 명세서 재발급은 어떻게 하나요",
                  "급여명세서 재발급 방법", "희망이음 접속 방법", "안녕"):
            dispatch(Incoming(user="u1", text=q), services)
        stored = [q for (q,) in services.store.conn.execute("SELECT query FROM declined_questions")]
        assert len(stored) == 3 and not any("010-2345" in q for q in stored)  # masked before written; no 안녕
        with ServerThread(services, mounts=[mount_console]) as srv:
            b = Browser(srv.url)
            b.sign_in(signin_link(services, "agent1"))
            html = b.request("/console/gaps")[2]
            assert "010-2345-6789" not in html and html.count("FAQ로 만들기") == 1 and ">3<" in html
            csv_body = b.request("/console/gaps.csv")[2]
            assert "급여" in csv_body and "010-2345" not in csv_body
            draft = b.request("/console/gaps/draft?days=30&g=0")[2]
            assert "급여 명세서 재발급은 어떻게 하나요" in draft
            status, where, html, _ = b.request("/console/gaps/faq", {
                "_csrf": b.csrf("/console/gaps"), "title": "급여명세서 재발급 방법",
                "questions": "급여 명세서 재발급은 어떻게 하나요\r\n급여명세서 다시 뽑기",  # a browser's CRLF
                "answer": "ERP > 급여 > 급여명세서 메뉴에서 재발급을 누르세요.\r\n\r\n안 되면 질의하기로 알려 주세요."})
            assert where.endswith("/console/gaps") and "FAQ로 등록했습니다" in html
            reply = dispatch(Incoming(user="u2", text="급여명세서 다시 뽑기"), services)[0]
            assert "재발급을 누르세요" in reply.text and "\r" not in reply.text  # at once, in the serving bot
            assert not [f for f in knowledge.rglob("*.yaml") if "\\r" in f.read_text(encoding="utf-8")]  # YAML writes a CR as \\r
            html = b.request("/console/insights?days=7")[2]
            assert "<svg" in html and "자동 해결률" in html and "<script" not in html
            assert b.request("/console/insights.csv")[0] == 200
        env = {"IEUM_DATA_DIR": str(tmp_path / "ask"), "IEUM_KNOWLEDGE": str(knowledge), "PATH": "/usr/bin:/bin"}
        asked = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "급여명세서 다시 뽑기"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert asked.returncode == 0 and "재발급을 누르세요" in asked.stdout
        # kept for the configured period (IEUM_GAPS_DAYS), then deleted
        from datetime import timedelta

        services.feedback.keep_days = 90
        services.feedback.clock = FixedClock(INQUIRY_NOW + timedelta(days=89))
        assert services.feedback.prune_declined() == 0
        services.feedback.clock = FixedClock(INQUIRY_NOW + timedelta(days=91))
        services.feedback.prune_declined()
        assert services.store.conn.execute("SELECT COUNT(*) FROM declined_questions").fetchone()[0] == 0
    finally:
        services.close()


def test_slash_ieum_console_sends_the_link_privately_in_slack(slack_console, fake):
    from fakes.harness import AGENT, Client

    services, server = slack_console
    slack = Client(server.url)
    assert slack.command("콘솔", user=AGENT, response_url=f"{fake.url}/response/c1")[0] == 200

    def with_link(f):
        return [c for c in f.calls if "/console/signin?token=" in str(c.args.get("text", ""))]

    (call,) = fake.wait_for(with_link, 10)
    assert call.method in ("response_url", "chat.postEphemeral") or str(call.args.get("channel", "")).startswith("D")
    assert call.args.get("channel") != "CTRIAGE" and call.args.get("response_type", "ephemeral") == "ephemeral"
    # the link works once
    token = re.search(r"token=([\w-]+)", call.args["text"]).group(1)
    b = Browser(server.url)
    assert b.request("/console/signin", {"token": token})[1].endswith("/console/inquiries")
    # a non-agent gets a refusal, no link
    slack.command("콘솔", user="U100", response_url=f"{fake.url}/response/c2")
    fake.wait_for(lambda f: [c for c in f.calls if "담당자만" in str(c.args.get("text", ""))], 10)
    assert len(with_link(fake)) == 1


def test_insights_count_response_and_completion_times(services):
    from datetime import timedelta

    from bot.inquiries.insights import compute

    i = file(services, type="사용법문의")
    services.inquiries.clock.advance(seconds=2 * 3600)
    services.inquiries.assign(i.receipt, "agent1")
    services.inquiries.start(i.receipt, "agent1")
    services.inquiries.clock.advance(seconds=3600)
    services.inquiries.answer(i.receipt, "agent1", "메뉴에서 다시 저장하세요.")
    file(services, title="두 번째")
    data = compute(services.store, services.clock.now() + timedelta(hours=1), 7)
    (cat,) = data["by_category"]
    assert cat["count"] == 2 and cat["first_hours"] == pytest.approx(2.0, abs=0.01)
    assert cat["done_hours"] == pytest.approx(3.0, abs=0.01) and cat["in_time"] == 1.0
    assert sum(d["opened"] for d in data["daily"]) == 2 and sum(d["closed"] for d in data["daily"]) == 1
