"""A Slack requester and agent talking to the bot's real server: settings, a client that posts requests signed
like Slack's (events, commands, clicks, modal submissions), and the steps of filing an inquiry from a declined
answer (shared by the Slack tests, whose fixtures start the bot with `running`)."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import replace

from bot.core.config import Settings
from bot.http import SLACK_KEY, ServerThread
from bot.services import build

from fakes.harness import AGENT, TRIAGE, wait_until  # noqa: F401 (the Slack tests' agent and triage channel)
from fakes.slack import (SECRET, FakeSlack, command_body, event_body, message_event, payload_body, post,
                         receipt_of, signed_headers)


class Bot:
    def __init__(self, server: ServerThread, services, fake: FakeSlack):
        self.server, self.services, self.fake = server, services, fake

    @property
    def url(self) -> str:
        return self.server.url + "/slack/events"

    @property
    def adapter(self):
        return self.server.web_app[SLACK_KEY]

    def event(self, event: dict, *, event_id: str | None = None, retry: int | None = None, **kw):
        body = event_body(event, event_id=event_id)
        return post(self.url, body, signed_headers(body, content_type="application/json", retry=retry, **kw))

    def command(self, text: str, **kw):
        body = command_body(text, response_url=f"{self.fake.url}/response/cmd", **kw)
        return post(self.url, body, signed_headers(body, content_type="application/x-www-form-urlencoded"))

    def interact(self, payload: dict):
        body = payload_body(payload)
        return post(self.url, body, signed_headers(body, content_type="application/x-www-form-urlencoded"))

    def click(self, message_call, label: str, *, user: str = "U100", channel: str | None = None,
              ephemeral: bool = False, thread_ts: str | None = None):
        """Click the button labelled `label` in a recorded chat.postMessage / ephemeral call."""
        blocks = message_call.get("blocks") or []
        for b in blocks:
            for el in b.get("elements") or []:
                if el.get("type") == "button" and el["text"]["text"] == label:
                    channel = channel or message_call.get("channel") or "D100"
                    ts = f"{time.time():.6f}"
                    msg = {"type": "message", "ts": ts, "text": message_call.get("text"), "blocks": blocks}
                    if thread_ts or message_call.get("thread_ts"):
                        msg["thread_ts"] = thread_ts or message_call.get("thread_ts")
                    return self.interact({
                        "type": "block_actions", "user": {"id": user, "username": "hong", "name": "hong"},
                        "trigger_id": f"trig-{ts}", "response_url": f"{self.fake.url}/response/act",
                        "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                                      "is_ephemeral": ephemeral, "thread_ts": msg.get("thread_ts")},
                        "channel": {"id": channel}, "message": msg,
                        "actions": [{"type": "button", "action_id": el["action_id"], "block_id": b.get("block_id"),
                                     "value": el.get("value", ""), "text": el["text"], "action_ts": ts}],
                    })
        raise AssertionError(f"no button {label!r} in {blocks}")


def slack_settings(tmp_path, knowledge, fake, **kw) -> Settings:
    base = Settings(data_dir=tmp_path / "data", knowledge=knowledge, slack_bot_token="xoxb-test",
                    slack_signing_secret=SECRET, slack_triage_channel=TRIAGE, slack_api_url=fake.api_url)
    return replace(base, **kw)


def fast_backoff(server) -> None:
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    for h in server.web_app[SLACK_KEY].client.retry_handlers:
        if hasattr(h, "interval_calculator"):
            h.interval_calculator = BackoffRetryIntervalCalculator(backoff_factor=0.01)


@contextmanager
def running(tmp_path, knowledge, fake, **settings):
    """The bot's real server over `fake` (reset first), with test-speed Web API retries; stopped after."""
    fake.reset()
    services = build(slack_settings(tmp_path, knowledge, fake, **settings))
    server = ServerThread(services, host="127.0.0.1", port=0).start()
    fast_backoff(server)
    try:
        yield Bot(server, services, fake)
    finally:
        fake.quiet(0.1)
        server.stop()
        services.close()


SUBJECT = "김철수 800101-1234567"  # a name and a resident number: the subject info that must stay private


def submit_view(bot, view_call, values: dict, *, user: str = "U100"):
    view = dict(view_call["view"])
    state = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        el, name = block["element"], block["block_id"]
        v = values.get(name, el.get("initial_value") if el["type"] == "plain_text_input" else None)
        if el["type"] == "plain_text_input":
            state[name] = {name: {"type": "plain_text_input", "value": v}}
        elif el["type"] == "static_select":
            opt = v and {"text": {"type": "plain_text", "text": v}, "value": v}
            state[name] = {name: {"type": "static_select", "selected_option": opt or el.get("initial_option")}}
        elif el["type"] == "checkboxes":
            on = values.get(name, bool(el.get("initial_options")))
            state[name] = {name: {"type": "checkboxes", "selected_options": el["options"] if on else []}}
        elif el["type"] == "file_input":
            state[name] = {name: {"type": "file_input", "files": v or []}}
    view.update(id="VSUB1", hash="h1", state={"values": state}, team_id="T0001")
    return bot.interact({"type": "view_submission", "user": {"id": user, "username": "hong"}, "view": view,
                         "trigger_id": "trig-sub"})


def channel_posts(fake, channel):
    return [c for c in fake.calls if c.method in ("chat.postMessage", "chat.update") and c.get("channel") == channel]


def open_form_from_decline(bot, fake, question="급여 명세서 출력 메뉴가 어디에 있나요"):
    bot.event(message_event(question, channel="D100", ts="1700000010.000100"))
    (answer,) = fake.wait_calls("chat.postMessage")
    assert bot.click(answer, "질의하기")[0] == 200
    (opened,) = fake.wait_calls("views.open")
    return opened


def file_inquiry(bot, fake):
    opened = open_form_from_decline(bot, fake)
    status, body = submit_view(bot, opened, {"title": "급여 명세서 출력 메뉴 문의", "category": "전체업무 > ERP > 급여",
                                             "type": "사용법문의", "content": "급여 명세서를 출력할 메뉴를 찾지 못했습니다.",
                                             "subject_info": SUBJECT})
    assert status == 200 and body in ("", "{}") or json.loads(body or "{}").get("response_action") is None
    fake.wait_for(lambda f: channel_posts(f, TRIAGE))
    card = channel_posts(fake, TRIAGE)[0]
    receipt_dm = fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.get("channel") == "D100"
                                          and "접수" in c["text"]])
    # the bot remembers where it posted once it has read Slack's answer, a moment after the fake saw the
    # post: a click on the card before that would find no card to update or thread to answer in
    receipt = receipt_of(card)
    posts = bot.adapter.posts
    wait_until(lambda: posts.find(f"inquiry-{receipt}-filed") and posts.find(f"inquiry-{receipt}-receipt"))
    return card, receipt_dm[0]
