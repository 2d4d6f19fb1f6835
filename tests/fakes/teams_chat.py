"""A Teams requester and agent talking to the bot's real server: settings, a client that posts signed
activities, and the steps of filing an inquiry from a card (shared by the Teams and console tests)."""
from __future__ import annotations

from bot.core.config import Settings
from bot.http import TEAMS_KEY, ServerThread
from bot.surfaces.teams import adapter as teams

from fakes.teams import APP_ID, FakeTeams, card_action, find_action, message, post

TRIAGE = "19:triage@thread.tacv2"
DM = "a:dm-u1"
AGENT = "agent"  # Teams user "agent": aadObjectId "aad-agent"
SUBJECT = "홍길동 800101-1234567"
DECLINED = "급여 명세서 출력 메뉴가 어디에 있나요"


def teams_settings(tmp_path, knowledge, fake, **extra) -> Settings:
    env = {"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": APP_ID,
           "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "not-used",
           "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "tenant-0001",
           teams.ENV_METADATA: fake.metadata_url, "TEAMS_TRIAGE_CHANNEL": TRIAGE, **extra}
    return Settings(data_dir=tmp_path / "data", knowledge=knowledge, agents=(f"aad-{AGENT}",), extra=env)


class Bot:
    def __init__(self, server: ServerThread, services, fake: FakeTeams):
        self.server, self.services, self.fake = server, services, fake

    @property
    def url(self) -> str:
        return self.server.url + teams.ROUTE

    @property
    def adapter(self) -> teams.TeamsAdapter:
        return self.server.web_app[TEAMS_KEY]

    def send(self, body: dict, *, token: str | None | bool = True, expect: int | None = None):
        tok = self.fake.token() if token is True else (token or None)
        status, data = post(self.url, body, token=tok)
        if expect is not None:
            assert status == expect, (status, data)
        return status, data

    def ask(self, text: str, **kw) -> list[dict]:
        """A personal-chat message with `deliveryMode: expectReplies`: the replies come back in the response."""
        _, data = self.send(message(text, service_url=self.fake.url, deliveryMode="expectReplies", **kw), expect=200)
        return data["activities"]

    def click(self, action: dict, *, reply_to: str | None = None, form: dict | None = None, **kw) -> dict:
        _, data = self.send(card_action(action, reply_to=reply_to, inputs=form, service_url=self.fake.url, **kw),
                            expect=200)
        assert data["statusCode"] == 200
        return data


def card_of(activity: dict) -> dict | None:
    for a in activity.get("attachments") or []:
        if a.get("contentType") == teams.CARD:
            return a["content"]
    return None


VALUES = {"title": "급여 명세서 출력 메뉴 문의", "category": "전체업무 > ERP > 급여", "type": "사용법문의",
          "content": "급여 명세서를 출력할 메뉴를 찾지 못했습니다.", "subject_info": SUBJECT,
          "urgent": "false", "public": "true", "guideline": "false", "organization": "", "position": ""}


def open_form(bot, fake) -> tuple[dict, str]:
    (reply,) = bot.ask(DECLINED)
    bot.click(find_action(card_of(reply), "질의하기"))
    (call,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM and c.card])
    fake.reset()
    return call.card, call.activity_id


def file_inquiry(bot, fake, values=None) -> dict:
    form, form_id = open_form(bot, fake)
    data = bot.click(find_action(form, "질의 등록"), reply_to=form_id, form=values or VALUES)
    assert data["type"] == teams.INVOKE_CARD
    return data["value"]
