"""The console beside Teams: an inquiry filed in Teams, answered in the web console, reaches the requester's
personal chat once; 콘솔 typed in the agent's personal chat brings a one-time link."""
from __future__ import annotations

import functools
import re
import urllib.parse

import pytest

from bot.http import ServerThread
from bot.services import build
from bot.surfaces.teams import adapter as teams
from bot.surfaces.web.app import mount as mount_console
from fakes.browser import Browser
from fakes.teams import FakeConnections, FakeTeams, installed
from fakes.teams_chat import AGENT, DM, TRIAGE, Bot, file_inquiry, teams_settings
from fakes.harness import wait_until

FAKE = FakeTeams  # the `fake` fixture of conftest.py starts one per module


@pytest.fixture
def bot(tmp_path, knowledge, fake):
    fake.reset()
    services = build(teams_settings(tmp_path, knowledge, fake))
    mounts = [functools.partial(teams.mount, connections=FakeConnections()), mount_console]
    server = ServerThread(services, mounts=mounts, drain_every=0.3).start()
    b = Bot(server, services, fake)
    b.send(installed(service_url=fake.url), expect=202)
    b.send(installed(service_url=fake.url, conversation="a:dm-agent", user=AGENT), expect=202)
    fake.reset()
    yield b
    server.stop()
    services.close()


def test_an_answer_given_in_the_console_reaches_the_teams_requester_once(bot, fake):
    file_inquiry(bot, fake)
    (i,) = bot.services.inquiries.mine("aad-u1").items
    assert i.source == "teams"
    fake.reset()
    replies = bot.ask("콘솔", conversation="a:dm-agent", user=AGENT)
    text = " ".join(str(a.get("text", "")) for a in replies)
    if "/console/signin?token=" not in text:  # sent proactively to the personal chat instead of in the turn
        text = fake.wait_for(lambda calls: [c.text for c in calls if "/console/signin?token=" in c.text])[0]
    token = re.search(r"token=([\w-]+)", text).group(1)
    b = Browser(bot.server.url)
    assert b.request("/console/signin", {"token": token})[1].endswith("/console/inquiries")
    csrf = b.csrf(f"/console/inquiries/{i.receipt}")
    b.request(f"/console/inquiries/{i.receipt}/assign", {"_csrf": csrf})
    b.request(f"/console/inquiries/{i.receipt}/answer", {"_csrf": csrf, "answer": "급여 > 명세서 메뉴에서 출력합니다.",
                                                      "complete": "1"})

    def told(calls):
        return [c for c in calls if c.conversation == DM and "명세서 메뉴" in c.text]

    fake.wait_for(told)
    fake.wait_for(lambda calls: [c for c in calls if c.method == "update" and c.conversation != DM])
    assert len(told(fake.calls)) == 1


def _draft(html: str) -> str:
    import html as markup

    return markup.unescape(re.search(r'<textarea id="answer" name="answer"[^>]*>(.*?)</textarea>', html, re.S).group(1))


def test_the_whole_console_story_reaches_the_teams_requester_once_per_step(bot, fake):
    """추가 정보 요청 → 답장하기 in Teams (no threads there) → a message → a canned answer plus a knowledge entry,
    completed: the requester's personal chat gets each step once, and their reply comes back into the console."""
    from fakes.teams import find_action, inputs

    from handlers.console import signin_link

    file_inquiry(bot, fake)
    (i,) = bot.services.inquiries.mine("aad-u1").items
    fake.reset()
    b = Browser(bot.server.url)
    b.sign_in(signin_link(bot.services, f"aad-{AGENT}"))
    page = f"/console/inquiries/{i.receipt}"
    csrf = b.csrf(page)
    b.request(f"{page}/assign", {"_csrf": csrf})
    b.request(f"{page}/ask", {"_csrf": csrf, "question": "몇 월분 명세서인가요?"})

    def dm(text):
        return lambda calls: [c for c in calls if c.conversation == DM and text in c.text]

    (asked,) = fake.wait_for(dm("몇 월분 명세서인가요"))
    form = bot.click(find_action(asked.card, "답장하기"), reply_to=asked.activity_id)
    card = form["value"] if form.get("type") == teams.INVOKE_CARD else \
        fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM and c.card
                                     and "message" in inputs(c.card)])[-1].card
    done = bot.click(find_action(card, "보내기"), form={"message": "8월분입니다. 010-2345-6789"})
    assert done["statusCode"] == 200
    wait_until(lambda: bot.services.inquiries.get(i.receipt).status == "조치중")
    html = b.request(page)[2]
    assert "8월분입니다" in html and "010-2345-6789" not in html and "추가 정보 받음" in html
    fake.wait_for(lambda calls: [c for c in calls if c.conversation.startswith(TRIAGE) and "8월분입니다" in c.text])
    b.request(f"{page}/message", {"_csrf": csrf, "message": "8월분 명세서를 다시 만들고 있습니다."})
    fake.wait_for(dm("다시 만들고 있습니다"))
    # the answer: a canned answer, then a knowledge entry found by the search box
    html = b.request(f"{page}?canned=0&kb=" + urllib.parse.quote("희망이음 접속 방법"))[2]
    entry = re.search(r'entry=([^"&]+)"', html).group(1)
    draft = _draft(b.request(f"{page}?canned=0&entry={entry}")[2])
    assert draft.startswith("문의하신 내용은 확인 중입니다") and len(draft.splitlines()) > 2
    b.request(f"{page}/answer", {"_csrf": csrf, "answer": draft, "complete": "1"})
    assert bot.services.inquiries.get(i.receipt).status == "조치완료"
    fake.wait_for(dm("문의하신 내용은 확인 중입니다"))
    wait_until(lambda: all(r["status"] == "sent" for r in bot.services.outbox.items()))  # nothing more to send
    for text in ("담당자가 정해졌습니다", "몇 월분 명세서인가요", "다시 만들고 있습니다", "문의하신 내용은 확인 중입니다"):
        assert len(dm(text)(fake.calls)) == 1, text
