"""The helpdesk web console in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright,
never a downloaded browser) signs in with a one-time link, filters the queue, opens an inquiry filed in
Slack, claims and answers it, and the requester's DM arrives at the fake Slack API. A screenshot of each
page is saved under `screenshots/console/` (git-ignored; `IEUM_TEST_SHOTS` overrides it).

Skips, saying why, where Chromium or Playwright is missing.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bot.core.config import PROJECT_ROOT
from fakes.harness import AGENT, Client, submission
from handlers.console import signin_link
from fakes.browser import CHROME_ARGS, CHROMIUM, browser_missing
from test_web_console import slack_console  # noqa: F401  (the fixture: Slack and the console on one server)

SHOTS = Path(os.environ.get("IEUM_TEST_SHOTS") or PROJECT_ROOT / "screenshots" / "console")


@pytest.fixture
def live(slack_console):  # noqa: F811
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    return slack_console


def test_an_agent_signs_in_filters_answers_and_the_requester_hears_in_slack(live, fake):
    from playwright.sync_api import expect, sync_playwright

    services, server = live
    slack = Client(server.url)
    for user, title in (("U100", "급여대장 출력 오류"), ("U200", "교육 일정 문의")):
        status, body = slack.interact(submission(user, title=title, content="출력 버튼이 동작하지 않습니다.",
                                                 view_id=f"V{user}"))
        assert status == 200 and "errors" not in body
    fake.wait_for(lambda f: len([c for c in f.of("chat.postMessage") if c.args.get("channel") == "CTRIAGE"]) >= 2, 10)
    link = urlparse(signin_link(services, AGENT))
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="ko-KR")
            page.goto(f"{server.url}/console/inquiries")
            expect(page.get_by_role("heading", name="헬프데스크 콘솔 로그인")).to_be_visible()
            page.screenshot(path=str(SHOTS / "01-welcome.png"), full_page=True)
            page.goto(f"{server.url}{link.path}?{link.query}")
            page.screenshot(path=str(SHOTS / "02-signin.png"), full_page=True)
            page.get_by_role("button", name="로그인").click()
            expect(page.get_by_role("heading", name="질의 목록")).to_be_visible()
            expect(page.get_by_role("link", name="급여대장 출력 오류")).to_be_visible()
            page.screenshot(path=str(SHOTS / "03-queue.png"), full_page=True)
            # filter: 미배정 and the text
            page.get_by_label("제목·내용").fill("급여대장")
            page.get_by_label("미배정").check()
            page.get_by_role("button", name="조회").click()
            expect(page.get_by_role("link", name="급여대장 출력 오류")).to_be_visible()
            expect(page.get_by_role("link", name="교육 일정 문의")).to_have_count(0)
            page.screenshot(path=str(SHOTS / "04-queue-filtered.png"), full_page=True)
            page.get_by_role("link", name="급여대장 출력 오류").click()
            page.get_by_role("button", name="맡기").click()
            expect(page.get_by_text("담당자 지정")).to_be_visible()
            page.get_by_label("답변 (요청자에게 전달됩니다. 개인정보는 적지 마세요)").fill(
                "인쇄 설정에서 용지를 A4로 바꾼 뒤 다시 출력하세요.")
            page.get_by_role("button", name="답변 등록").click()
            expect(page.locator("dd", has_text="조치완료")).to_be_visible()
            page.screenshot(path=str(SHOTS / "05-inquiry-answered.png"), full_page=True)
            page.get_by_role("link", name="통계").click()
            expect(page.locator("svg.chart").first).to_be_visible()
            page.screenshot(path=str(SHOTS / "06-insights.png"), full_page=True)
            page.get_by_role("link", name="지식 공백").click()
            expect(page.get_by_role("heading", name=re.compile("지식 공백"))).to_be_visible()
            page.screenshot(path=str(SHOTS / "07-gaps.png"), full_page=True)
        finally:
            browser.close()

    def requester_dm(f):
        return [c for c in f.of("chat.postMessage") if "A4로" in str(c.args.get("text", ""))
                and c.args.get("channel") != "CTRIAGE"]

    fake.wait_for(requester_dm, 10)
    fake.quiet(0.5)
    assert len(requester_dm(fake)) == 1
    assert services.inquiries.get("1").status == "조치완료"
