"""Parity: the same conversations through the terminal, Slack and Teams give the same answers (entry ids)
and the same stored inquiries. Each surface runs for real: the console on StringIO, Slack through signed
HTTP requests against a fake Web API, Teams through Activity JSON with signed tokens against a fake
connector — all on 127.0.0.1."""
from __future__ import annotations

import functools
import json
import time
from io import StringIO
from pathlib import Path

import pytest

from bot.surfaces.teams import adapter as teams
from bot.core.config import Settings
from bot.surfaces.console.adapter import Console
from bot.http import ServerThread
from bot.services import build

from fakes import slack as slack_fake  # noqa: E402
from fakes import teams as teams_fake  # noqa: E402


DECLINED = "급여 명세서 출력 메뉴가 어디에 있나요"
# (question, expected entry id or None for a decline)
CONVERSATIONS = [
    ("시스템 중단 기간이 언제예요", "outage-period"),
    ("희망이음 로그인은 어떻게 해요", "login"),
    (DECLINED, None),
]
INQUIRY = {"title": "급여 명세서 출력 메뉴 문의", "category": "전체업무 > ERP > 급여", "type": "사용법문의",
           "urgent": False, "public": True, "guideline": False, "organization": "행복복지관", "position": "사회복지사",
           "content": "급여 명세서를 출력할 메뉴를 찾지 못했습니다.", "subject_info": "홍길동 800101-1234567"}
SLACK_TRIAGE = "CTRIAGE"
TEAMS_TRIAGE = "19:triage@thread.tacv2"


def _entry(value: str) -> str:
    return (value or "").partition("\n")[0]


# ---- the three surfaces, driven the same way ---------------------------------------------------------


class ConsoleSurface:
    name = "console"

    def __init__(self, tmp: Path, knowledge: Path):
        self.services = build(Settings(data_dir=tmp / "console", knowledge=knowledge))
        self.out = StringIO()
        self.console = Console(self.services, StringIO(""), self.out, user="tester")
        self.requester = "tester"

    def ask(self, text: str) -> tuple[str | None, list[str]]:
        self.console.handle_line(text)
        choices = self.console.choices
        yes = next((c for c in choices if c.action == "feedback.yes"), None)
        return (_entry(yes.value) if yes else None), [c.label for c in choices]

    def helpful(self) -> None:
        n = next(i for i, c in enumerate(self.console.choices, 1) if c.action == "feedback.yes")
        self.console.handle_line(str(n))

    def file(self, question: str, values: dict) -> None:
        self.console.handle_line(question)
        n = next(i for i, c in enumerate(self.console.choices, 1) if c.label == "질의하기")
        yes_no = lambda b: "예" if b else "아니요"  # noqa: E731
        lines = [values["title"], values["category"], values["type"], yes_no(values["urgent"]),
                 yes_no(values["public"]), yes_no(values["guideline"]), values["organization"], values["position"],
                 values["content"], "", values["subject_info"], "", ""]  # multi-line fields end with an empty line
        self.console.input.stdin = StringIO("\n".join(lines) + "\n")
        self.console.handle_line(str(n))
        assert "접수" in self.out.getvalue()

    def close(self) -> None:
        self.services.close()


class SlackSurface:
    name = "slack"

    def __init__(self, tmp: Path, knowledge: Path, fake: slack_fake.FakeSlack):
        fake.reset()
        self.fake = fake
        self.services = build(Settings(data_dir=tmp / "slack", knowledge=knowledge, slack_bot_token="xoxb-test",
                                       slack_signing_secret=slack_fake.SECRET, slack_triage_channel=SLACK_TRIAGE,
                                       slack_api_url=fake.api_url))
        self.server = ServerThread(self.services, host="127.0.0.1", port=0).start()
        self.url = self.server.url + "/slack/events"
        self.requester = "U100"
        self.last = None

    def _signed(self, body: str, content_type: str):
        return slack_fake.post(self.url, body, slack_fake.signed_headers(body, content_type=content_type))

    def _posts(self) -> list:
        return [c for c in self.fake.of("chat.postMessage") if c.get("channel") == "D100"]

    def ask(self, text: str) -> tuple[str | None, list[str]]:
        n = len(self._posts())
        body = slack_fake.event_body(slack_fake.message_event(text, channel="D100"))
        assert self._signed(body, "application/json")[0] == 200
        self.last = self.fake.wait_for(lambda f: self._posts()[n:] or None)[0]
        buttons = [el for b in self.last["blocks"] for el in b.get("elements", []) if el.get("type") == "button"]
        yes = next((el for el in buttons if el["action_id"].startswith("feedback.yes")), None)
        return (_entry(yes["value"]) if yes else None), [el["text"]["text"] for el in buttons]

    def click(self, message, label: str) -> None:
        for b in message["blocks"]:
            for el in b.get("elements") or []:
                if el.get("type") == "button" and el["text"]["text"] == label:
                    ts = f"{time.time():.6f}"
                    payload = {"type": "block_actions", "user": {"id": self.requester, "username": "hong"},
                               "trigger_id": f"trig-{ts}", "response_url": f"{self.fake.url}/response/act",
                               "container": {"type": "message", "message_ts": ts, "channel_id": "D100"},
                               "channel": {"id": "D100"}, "message": {"type": "message", "ts": ts,
                                                                      "text": message.get("text"), "blocks": message["blocks"]},
                               "actions": [{"type": "button", "action_id": el["action_id"], "block_id": b.get("block_id"),
                                            "value": el.get("value", ""), "text": el["text"], "action_ts": ts}]}
                    body = slack_fake.payload_body(payload)
                    assert self._signed(body, "application/x-www-form-urlencoded")[0] == 200
                    return
        raise AssertionError(f"no button {label!r}")

    def helpful(self) -> None:
        n = len(self.fake.calls)
        self.click(self.last, "예")
        self.fake.wait_for(lambda f: len(f.calls) > n)

    def file(self, question: str, values: dict) -> None:
        self.ask(question)
        n = len(self.fake.of("views.open"))
        self.click(self.last, "질의하기")
        view = dict(self.fake.wait_for(lambda f: f.of("views.open")[n:] or None)[0]["view"])
        state = {}
        for name in ("title", "organization", "position", "content", "subject_info"):
            state[name] = {name: {"type": "plain_text_input", "value": values[name]}}
        for name in ("category", "type"):
            state[name] = {name: {"type": "static_select",
                                  "selected_option": {"text": {"type": "plain_text", "text": values[name]},
                                                      "value": values[name]}}}
        for name in ("urgent", "public", "guideline"):
            on = [{"text": {"type": "plain_text", "text": name}, "value": "yes"}] if values[name] else []
            state[name] = {name: {"type": "checkboxes", "selected_options": on}}
        state["files"] = {"files": {"type": "file_input", "files": []}}
        view.update(id="VSUB1", hash="h1", state={"values": state}, team_id=slack_fake.TEAM)
        body = slack_fake.payload_body({"type": "view_submission", "user": {"id": self.requester, "username": "hong"},
                                        "view": view, "trigger_id": "trig-sub"})
        status, text = self._signed(body, "application/x-www-form-urlencoded")
        assert status == 200 and json.loads(text or "{}").get("response_action") is None, text
        self.fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.get("channel") == SLACK_TRIAGE])

    def close(self) -> None:
        self.fake.quiet(0.1)
        self.server.stop()
        self.services.close()


class TeamsSurface:
    name = "teams"

    def __init__(self, tmp: Path, knowledge: Path, fake: teams_fake.FakeTeams):
        fake.reset()
        self.fake = fake
        env = {"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": teams_fake.APP_ID,
               teams.ENV_METADATA: fake.metadata_url, "TEAMS_TRIAGE_CHANNEL": TEAMS_TRIAGE}
        self.services = build(Settings(data_dir=tmp / "teams", knowledge=knowledge, extra=env))
        mount = functools.partial(teams.mount, connections=teams_fake.FakeConnections())
        self.server = ServerThread(self.services, host="127.0.0.1", port=0, mounts=[mount]).start()
        self.url = self.server.url + teams.ROUTE
        self.requester = "aad-u1"
        self.last: dict | None = None

    def _post(self, body: dict):
        status, data = teams_fake.post(self.url, body, token=self.fake.token())
        assert status in (200, 202), (status, data)
        return data

    def ask(self, text: str) -> tuple[str | None, list[str]]:
        data = self._post(teams_fake.message(text, service_url=self.fake.url, deliveryMode="expectReplies"))
        (reply,) = data["activities"]
        self.last = next(a["content"] for a in reply.get("attachments") or [] if a["contentType"] == teams.CARD)
        acts = teams_fake.actions(self.last)
        yes = next((a for a in acts if a["verb"] == "feedback.yes"), None)
        return (_entry(yes["data"]["v"]) if yes else None), [a["title"] for a in acts]

    def click(self, action: dict, **kw) -> dict:
        data = self._post(teams_fake.card_action(action, service_url=self.fake.url, **kw))
        assert data["statusCode"] == 200
        return data

    def helpful(self) -> None:
        self.click(teams_fake.find_action(self.last, "예"))

    def file(self, question: str, values: dict) -> None:
        self.ask(question)
        n = len(self.fake.calls)
        self.click(teams_fake.find_action(self.last, "질의하기"))
        form = self.fake.wait_for(lambda calls: [c for c in calls[n:] if c.card and teams_fake.inputs(c.card)])[0]
        typed = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in values.items()}
        data = self.click(teams_fake.find_action(form.card, "질의 등록"), reply_to=form.activity_id, inputs=typed)
        assert data["type"] == teams.INVOKE_CARD and "접수" in json.dumps(data["value"], ensure_ascii=False)
        self.fake.wait_for(lambda calls: [c for c in calls if c.conversation == TEAMS_TRIAGE])

    def close(self) -> None:
        self.server.stop()
        self.services.close()


# ---- the test ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fakes():
    s, t = slack_fake.FakeSlack().start(), teams_fake.FakeTeams().start()
    yield s, t
    s.stop()
    t.stop()



def stored(surface) -> dict:
    inq = surface.services.inquiries
    (i,) = inq.list().items
    return {"title": i.title, "category": i.category, "type": i.type, "urgent": bool(i.urgent),
            "public": bool(i.public), "guideline": bool(i.guideline), "organization": i.organization,
            "position": i.position, "content": i.content, "question": i.question, "status": i.status,
            "requester": i.requester == surface.requester,
            "subject_info": inq.read_subject_info(i.receipt, i.requester)}


def test_the_same_conversations_on_every_surface(tmp_path, knowledge, fakes):
    slack, teams_ = fakes
    surfaces = [ConsoleSurface(tmp_path, knowledge), SlackSurface(tmp_path, knowledge, slack),
                TeamsSurface(tmp_path, knowledge, teams_)]
    results: dict[str, dict] = {}
    try:
        for s in surfaces:
            answers = []
            for question, expected in CONVERSATIONS:
                entry, labels = s.ask(question)
                assert entry == expected, (s.name, question, entry)
                assert "질의하기" in labels, (s.name, labels)
                if entry:
                    assert labels[:3] == ["예", "아니요", "다른 답변 보기"], (s.name, labels)
                    s.helpful()
                answers.append(entry)
            s.file(DECLINED, INQUIRY)
            feedback = s.services.store.conn.execute(
                "SELECT entry_id, helpful FROM answer_feedback ORDER BY id").fetchall()
            results[s.name] = {"answers": answers, "feedback": [tuple(r) for r in feedback], "inquiry": stored(s)}
    finally:
        for s in surfaces:
            s.close()
    console = results["console"]
    assert console["answers"] == [e for _, e in CONVERSATIONS]
    assert console["feedback"] == [("outage-period", 1), ("login", 1)]
    assert console["inquiry"]["subject_info"] == INQUIRY["subject_info"]
    assert console["inquiry"]["question"] == DECLINED
    for name in ("slack", "teams"):
        assert results[name] == console, name
