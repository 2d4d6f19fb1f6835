"""The helpdesk web console in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright,
never a downloaded browser) walks issue 14's whole story against the Slack surface. An agent signs in with a
one-time link, finds the overdue urgent inquiry through the filters, asks the requester for more, sees the
reply (typed in the Slack thread) arrive, sends a message, answers with a canned answer plus a knowledge entry
found by the search box, completes it; the requester's Slack DMs carry each step once. The privacy officer's
monthly review page and the other pages are visited too.

A screenshot of each page is saved under `screenshots/console/` (git-ignored); with `IEUM_TEST_SHOTS=docs/console`
the run refreshes the ones the README shows. Skips, saying why, where Chromium or Playwright is missing.
"""
from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bot.core.clock import SEOUL, FixedClock
from bot.core.config import PROJECT_ROOT
from bot.http import SLACK_KEY, ServerThread, mount_slack
from bot.services import build
from bot.surfaces.web.app import mount as mount_console
from fakes.browser import CHROME_ARGS, CHROMIUM, browser_missing
from fakes.harness import AGENT, Client, message_event, settings_for, submission, wait_until
from handlers.console import signin_link

SHOTS = Path(os.environ.get("IEUM_TEST_SHOTS") or PROJECT_ROOT / "screenshots" / "console")
MONDAY = datetime(2022, 9, 19, 9, 30, tzinfo=SEOUL)  # a working Monday after the launch


@pytest.fixture
def live(tmp_path, fake):
    """Slack and the console on one server, over a clock the test moves (so that an urgent inquiry is late)."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    fake.reset()
    settings = settings_for(tmp_path / "data", fake, extra={"IEUM_PRIVACY_OFFICERS": AGENT})
    services = build(settings, clock=FixedClock(MONDAY))
    server = ServerThread(services, mounts=[mount_slack, mount_console], drain_every=0.3).start()
    yield services, server
    server.stop()
    services.close()


def test_the_whole_console_story_in_a_browser_and_the_slack_requester_hears_each_step_once(live, fake):
    from playwright.sync_api import expect, sync_playwright

    services, server = live
    slack = Client(server.url)
    for user, title, urgent in (("U100", "급여대장 출력 오류", True), ("U200", "교육 일정 문의", False)):
        status, body = slack.interact(submission(user, title=title, content="출력 버튼을 눌러도 아무 반응이 없습니다.",
                                                 kind="시스템오류", urgent=urgent, view_id=f"V{user}",
                                                 subject="대상자: 가상의 어르신 (시험용)" if urgent else ""))
        assert status == 200 and "errors" not in body
    fake.wait_for(lambda f: len([c for c in f.of("chat.postMessage") if c.args.get("channel") == "CTRIAGE"]) >= 2, 10)
    urgent = services.inquiries.list(urgent=True).items[0]
    services.clock.advance(hours=6)  # past the 4 hours an urgent inquiry gets
    assert services.inquiries.remaining(urgent) < 0
    entry = services.engine.search("급여대장 출력", limit=1)[0].entry  # what the search box will offer first
    link = urlparse(signin_link(services, AGENT))
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def dms(text: str) -> list:
        return [c for c in fake.of("chat.postMessage") if text in str(c.args.get("text", ""))
                and str(c.args.get("channel", "")).startswith("D")]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="ko-KR")
            page.goto(f"{server.url}/console/inquiries")
            expect(page.get_by_role("heading", name="헬프데스크 콘솔 로그인")).to_be_visible()
            shot(page, "01-welcome")
            page.goto(f"{server.url}{link.path}?{link.query}")
            page.get_by_role("button", name="로그인").click()
            expect(page.get_by_role("heading", name="질의 목록")).to_be_visible()
            shot(page, "02-queue")
            # the filters: 긴급 and 기한 초과 leave the late urgent inquiry alone
            page.get_by_label("긴급").check()
            page.get_by_label("기한 초과").check()
            page.get_by_role("button", name="조회").click()
            expect(page.get_by_role("link", name="급여대장 출력 오류")).to_be_visible()
            expect(page.get_by_role("link", name="교육 일정 문의")).to_have_count(0)
            expect(page.locator("tr.overdue .tag.late")).to_have_count(1)
            shot(page, "03-queue-overdue-urgent")
            page.get_by_role("link", name="급여대장 출력 오류").click()
            page.get_by_role("button", name="맡기").click()
            expect(page.locator("dd", has_text="조치대기")).to_be_visible()
            # 추가 정보 요청: the requester is asked in Slack and answers in the message's thread
            page.get_by_label("요청자에게 물어볼 내용").fill("어느 달의 급여대장인지, 오류 화면을 알려 주세요.")
            page.get_by_role("button", name="추가 정보 요청").click()
            expect(page.locator("dd", has_text="추가정보요청")).to_be_visible()
            ((channel, ts),) = fake.wait_for(lambda f: [(ch, ts) for (ch, ts), m in f.messages.items()
                                                        if ch.startswith("D") and "어느 달의 급여대장인지" in m["text"]], 10)
            # the bot knows the message is the inquiry's a moment after Slack has it (a drain may send it)
            wait_until(lambda: server.web_app[SLACK_KEY].posts.topic_at(channel, ts))
            slack.event(message_event("8월분입니다. 인쇄 미리보기에서 멈춥니다.", user="U100", channel=channel,
                                      thread_ts=ts))
            wait_until(lambda: services.inquiries.get(urgent.receipt).status == "조치중", timeout=10)
            page.reload()
            expect(page.locator(".talk")).to_contain_text("인쇄 미리보기에서 멈춥니다")
            expect(page.locator(".history")).to_contain_text("추가 정보 받음")
            # a message that changes nothing but tells the requester
            page.get_by_label("메시지 (요청자의 채팅으로 전달되고 대화에 남습니다. 진행상태는 바뀌지 않습니다)").fill(
                "8월분 출력 설정을 확인하고 있습니다. 잠시만 기다려 주세요.")
            page.get_by_role("button", name="메시지 보내기").click()
            expect(page.locator(".talk")).to_contain_text("잠시만 기다려 주세요")
            shot(page, "04-inquiry-conversation")
            # 대상자 정보: the assignee only, after a click, recorded (조회) for the monthly review below
            page.get_by_role("button", name="대상자 정보 보기 (열람 기록됨)").click()
            expect(page.locator(".subject")).to_contain_text("가상의 어르신")
            # the answer: a canned answer, then a knowledge entry from the search box
            page.get_by_label("상용 답변").select_option(label="추가 확인 후 안내")
            page.get_by_label("지식 검색").fill("급여대장 출력")
            page.get_by_role("button", name="불러오기").click()
            page.locator(".found li", has_text=entry.title).get_by_role("link", name="답변에 넣기").click()
            answer = page.get_by_label("답변 (요청자에게 전달됩니다. 개인정보는 적지 마세요)")
            expect(answer).to_have_value(re.compile(r"^문의하신 내용은 확인 중입니다.+\n\n.+", re.S))
            shot(page, "05-answer-draft")
            page.get_by_role("button", name="답변 등록").click()
            expect(page.locator("dd", has_text="조치완료")).to_be_visible()
            shot(page, "06-inquiry-completed")
            page.get_by_role("link", name="통계").click()
            expect(page.locator("svg.chart").first).to_be_visible()
            shot(page, "07-insights")
            page.get_by_role("link", name="지식 공백").click()
            expect(page.get_by_role("heading", name=re.compile("지식 공백"))).to_be_visible()
            shot(page, "08-gaps")
            page.get_by_role("link", name="개인정보 점검").click()
            page.get_by_label("점검 월").fill("2022-09")
            page.get_by_role("button", name="보기").click()
            expect(page.get_by_role("heading", name=re.compile("개인정보 접속기록 점검"))).to_be_visible()
            page.get_by_label("확인 의견").fill("이상 없음")
            page.get_by_role("button", name="2022-09 점검 확인").click()
            expect(page.get_by_text(f"개인정보 보호책임자 {AGENT}")).to_be_visible()
            expect(page.locator("table").first).to_contain_text("조회")
            shot(page, "09-privacy-review")
        finally:
            browser.close()

    final = services.inquiries.get(urgent.receipt)
    assert final.status == "조치완료" and final.answer.startswith("문의하신 내용은 확인 중입니다")
    assert len(final.answer.split("\n\n")) >= 2  # the knowledge entry after the canned answer
    assert [a["officer"] for a in services.privacy.records.acks("2022-09")] == [AGENT]
    # the requester's DMs: each step once (the outbox has nothing left to send)
    wait_until(lambda: all(r["status"] == "sent" for r in services.outbox.items()), timeout=10)
    fake.quiet(0.5)
    for text in ("담당자가 정해졌습니다", "어느 달의 급여대장인지", "잠시만 기다려 주세요", "문의하신 내용은 확인 중입니다"):
        assert len(dms(text)) == 1, text
    assert all(c.args["channel"] == channel for c in dms("문의하신 내용은 확인 중입니다"))  # U100's DM, nobody else's
