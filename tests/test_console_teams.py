"""The console beside Teams: an inquiry filed in Teams, answered in the web console, reaches the requester's
personal chat once; 콘솔 typed in the agent's personal chat brings a one-time link."""
from __future__ import annotations

import functools
import re

import pytest

from bot.http import ServerThread
from bot.services import build
from bot.surfaces.teams import adapter as teams
from bot.surfaces.web.app import mount as mount_console
from fakes.teams import FakeConnections, FakeTeams, installed
from test_teams import AGENT, DM, Bot, file_inquiry, teams_settings
from test_web_console import Browser

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
