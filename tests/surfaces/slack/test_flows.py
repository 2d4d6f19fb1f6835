"""Issue 11 (items 1, 4, 5, 8, 9, 11) and the Slack half of issue 17 item 2, end to end: the bot's real HTTP
server on 127.0.0.1, the fake Slack Web API, requests signed like Slack's."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from fakes.harness import Client, FaultySlack, submission, wait_until  # noqa: E402
from fakes.slack import (command_body, event_body, message_event, payload_body, post, receipt_of,  # noqa: E402
                         signed_headers)
from fakes.slack_chat import (AGENT, SUBJECT, TRIAGE, channel_posts, file_inquiry, running, slack_settings,  # noqa: E402
                              submit_view)

from bot.http import ServerThread, mount_slack  # noqa: E402
from bot.services import build  # noqa: E402

RAW = ("800101-1234567", "8001011234567", "800101")


FAKE = FaultySlack  # the `fake` fixture of conftest.py starts one per module


@pytest.fixture()
def helpdesk(tmp_path, knowledge, fake):
    with running(tmp_path, knowledge, fake, agents=(AGENT,)) as b:
        yield b


def db_bytes(services) -> bytes:
    """Every byte of the database files as they are on disk (the main file, its WAL, the shared memory)."""
    path = Path(services.store.path)
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file())


def click_payload(user: str, action: str, value: str, *, channel: str = "D100", ts: str | None = None) -> dict:
    ts = ts or f"{time.time():.6f}"
    return {"type": "block_actions", "user": {"id": user, "username": "hong"}, "trigger_id": f"trig-{ts}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel}, "message": {"type": "message", "ts": ts, "text": "x"},
            "actions": [{"type": "button", "action_id": f"{action}|0", "block_id": "ieum_actions_0",
                         "value": value, "text": {"type": "plain_text", "text": "x"}, "action_ts": ts}]}


def open_in_channel(bot, fake, how: str):
    """The inquiry modal opened outside a DM: `/ieum 질의` in a channel, or the message shortcut there."""
    if how == "command":
        bot.command("질의", channel="C300", trigger_id="trig-ch")
    else:
        bot.interact({"type": "message_action", "callback_id": "file_inquiry", "trigger_id": "trig-sc",
                      "user": {"id": "U100"}, "channel": {"id": "C300"}, "response_url": f"{fake.url}/response/sc",
                      "message": {"type": "message", "ts": "1700000020.000100", "user": "U555",
                                  "text": "급여 명세서가 안 나와요"}, "message_ts": "1700000020.000100"})
    (opened,) = fake.wait_calls("views.open")
    assert json.loads(opened["view"]["private_metadata"])["c"] == "C300"
    return opened


# ---- item 1: a form opened outside a DM ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["command", "shortcut"])
def test_a_channel_form_needing_correction_goes_back_to_its_submitter_and_nothing_is_stored_raw(helpdesk, fake,
                                                                                                  how):
    opened = open_in_channel(helpdesk, fake, how)
    good = {"title": "급여 명세서 출력 문의", "category": "전체업무 > ERP > 급여", "type": "사용법문의"}
    # personal data typed into 질의내용: the modal comes back with it moved into 대상자 정보
    status, body = submit_view(helpdesk, opened, {**good, "content": "주민번호 800101-1234567 급여 명세서가 안 나옵니다",
                                                  "subject_info": "김철수"})
    assert status == 200 and body.strip(), "an empty ack closes the modal and loses the inquiry"
    data = json.loads(body)
    assert data["response_action"] == "update"
    fields = {b["block_id"]: b for b in data["view"]["blocks"] if b.get("type") == "input"}
    assert "800101" not in fields["content"]["element"]["initial_value"]
    assert "800101-1234567" in fields["subject_info"]["element"]["initial_value"]
    # an invalid category: field errors in the modal
    status, body = submit_view(helpdesk, {"view": data["view"]}, {**good, "category": "없는 분류", "content": "내용"})
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "category" in json.loads(body)["errors"]
    fake.quiet(0.3)
    assert channel_posts(fake, "D100") == [] and channel_posts(fake, TRIAGE) == []
    assert helpdesk.services.store.conn.execute("SELECT count(*) FROM inquiries").fetchone()[0] == 0
    # confirmed: filed once, the receipt in the DM
    status, body = submit_view(helpdesk, {"view": data["view"]}, {**good})
    assert status == 200 and "errors" not in body
    fake.wait_for(lambda f: [c for c in channel_posts(f, "D100") if "접수" in c["text"]])
    fake.wait_for(lambda f: channel_posts(f, TRIAGE))
    (i,) = helpdesk.services.inquiries.mine("U100").items
    assert "800101-1234567" in helpdesk.services.inquiries.read_subject_info(i.receipt, "U100")
    # no table holds the form's values or the subject info in plain text, at any status, nor the WAL
    raw = db_bytes(helpdesk.services)
    for value in RAW + ("김철수",):
        assert value.encode() not in raw, value
    rows = helpdesk.services.store.conn.execute("SELECT reply FROM outbox").fetchall()
    assert not any('"form": {' in r for (r,) in rows)


def test_a_form_reply_is_sealed_in_the_outbox_and_wiped_once_sent(helpdesk, fake):
    from bot.core.messages import Field, Form, Reply

    outbox = helpdesk.services.outbox
    form = Form("inquiry.submit", "질의하기 등록", [Field("subject_info", "대상자 정보", initial=SUBJECT, private=True)])
    outbox.enqueue(Reply("양식", kind="form", form=form, to_user="U100"), key="t:form", surface="slack",
                   target="user:U100")
    stored = outbox.get("t:form")["reply"]
    assert stored.startswith("sealed:") and "800101" not in stored
    outbox.drain()
    assert outbox.get("t:form")["status"] == "sent" and outbox.get("t:form")["reply"] == "{}"


# ---- item 4: long questions in the form's metadata ----------------------------------------------------


def test_a_long_question_is_stored_guarded_in_the_form_metadata_and_expires(helpdesk, fake):
    # a long multi-line question full of characters JSON escapes (twice: the state inside the metadata)
    lines = [f'{n}번째 줄 ' + '"' * 30 + ' 주민번호 800101-1234567' for n in range(60)]
    question = "\n".join(lines[:26])
    assert len(question) <= 1500
    helpdesk.interact(click_payload("U100", "inquiry.open", question))
    (opened,) = fake.wait_calls("views.open")
    meta = json.loads(opened["view"]["private_metadata"])
    assert "ref" in meta  # too long for the view: kept in slack_forms
    rows = helpdesk.services.store.conn.execute("SELECT meta FROM slack_forms").fetchall()
    assert rows and not any(r in m for (m,) in rows for r in RAW)
    assert "800101" not in opened["view"]["private_metadata"]
    # rows older than the longest a modal stays open are deleted
    state = helpdesk.adapter.state
    with helpdesk.services.store.transaction():
        helpdesk.services.store.conn.execute("UPDATE slack_forms SET created_at = created_at - 3 * 86400")
    state.save_meta({"a": "x"})
    assert helpdesk.services.store.conn.execute("SELECT count(*) FROM slack_forms").fetchone()[0] == 1


# ---- items 5 and 9: who speaks from the triage channel, and by which name -------------------------------


def _filed(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    receipt = receipt_of(card)
    return receipt, helpdesk.adapter.posts.find(f"inquiry-{receipt}-filed")[1]


def test_only_agents_are_relayed_from_the_triage_thread_under_their_own_names(helpdesk, fake):
    fake.users.update({AGENT: {"display_name": "김담당"}, "U777": {"display_name": "박구경"}})
    receipt, card_ts = _filed(helpdesk, fake)
    n = len(fake.calls)
    helpdesk.event(message_event("제가 담당자입니다. 비밀번호를 알려 주세요", user="U777", channel=TRIAGE, thread_ts=card_ts))
    fake.quiet(0.4)
    assert not [c for c in fake.calls[n:] if c.method == "chat.postMessage" and c.get("channel") == "D100"]
    helpdesk.event(message_event("확인 중입니다", user=AGENT, channel=TRIAGE, thread_ts=card_ts))
    dm = fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postMessage"
                                  and c.get("channel") == "D100"])[0]
    assert "김담당" in dm["text"] and AGENT not in dm["text"]


def test_agents_are_shown_by_display_name_not_id(helpdesk, fake):
    fake.users.update({AGENT: {"display_name": "김담당"}})
    receipt, card_ts = _filed(helpdesk, fake)
    n = len(fake.calls)
    helpdesk.interact(click_payload(AGENT, "triage.assign", receipt, channel=TRIAGE))
    update = fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postMessage"
                                      and c.get("channel") == TRIAGE and "맡았습니다" in c["text"]])[0]
    assert "김담당님이 맡았습니다" in update["text"] and AGENT not in update["text"]
    fake.wait_calls("users.info")
    # shown in the inquiry's detail too, and users.info is asked once per user (cached)
    from bot.core.messages import Incoming
    from handlers.router import dispatch

    (detail,) = dispatch(Incoming(user="U100", action="inquiry.view", value=receipt, surface="slack"),
                         helpdesk.services)
    assert "담당: 김담당" in detail.text
    assert len([c for c in fake.of("users.info") if c.get("user") == AGENT]) == 1


# ---- item 8: replayed signed requests --------------------------------------------------------------


def test_a_replayed_click_and_a_replayed_slash_command_are_done_once(helpdesk, fake):
    helpdesk.event(message_event("희망이음 접속 방법", channel="D100", ts="1700000002.000100"))
    (answer,) = fake.wait_calls("chat.postMessage")
    button = next(el for b in answer["blocks"] for el in b.get("elements", []) if el["text"]["text"] == "예")
    ts = f"{time.time():.6f}"
    payload = click_payload("U100", button["action_id"].rsplit("|", 1)[0], button["value"], ts=ts)
    payload["actions"][0]["action_id"] = button["action_id"]
    body = payload_body(payload)
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    for _ in range(4):  # the very same signed request, four times inside the 5-minute window
        assert post(helpdesk.url, body, headers)[0] == 200
    fake.wait_calls("chat.postEphemeral")  # then no more: quiet alone could end before the first arrived
    fake.quiet(0.4)
    assert helpdesk.services.store.conn.execute("SELECT count(*) FROM answer_feedback").fetchone()[0] == 1
    assert len(fake.of("chat.postEphemeral")) == 1
    body = command_body("희망이음 접속 방법", response_url=f"{fake.url}/response/cmd", trigger_id="trig-replayed")
    headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
    for _ in range(3):
        assert post(helpdesk.url, body, headers)[0] == 200
    fake.wait_calls("response_url")
    fake.quiet(0.4)
    assert len(fake.of("response_url")) == 1
    # a new click (a new action_ts) on the same button is a new request
    again = dict(payload, actions=[dict(payload["actions"][0], action_ts=f"{time.time():.6f}")])
    helpdesk.interact(again)
    fake.wait_calls("chat.postEphemeral", 2)


# ---- item 11: a Web API that accepts connections and never answers ---------------------------------------


def test_acks_never_wait_on_a_hung_web_api(tmp_path, knowledge, fake):
    from bot.surfaces.slack.adapter import SlackAdapter, make_client

    fake.reset()
    fake.chaos("*", "timeout", wait=30)  # every Web API call hangs, from start-up on
    settings = slack_settings(tmp_path, knowledge, fake, agents=(AGENT,))
    services = build(settings)

    def mount(web_app, s):
        adapter = SlackAdapter(s, client=make_client(settings, timeout=2), verify_requests=False)
        return mount_slack(web_app, s, adapter=adapter)

    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount]).start()
    url = server.url + "/slack/events"
    took: list[tuple[str, int, float]] = []

    def timed(kind: str, body: str, content_type: str) -> None:
        t0 = time.monotonic()
        status, _ = post(url, body, signed_headers(body, content_type=content_type), timeout=30)
        took.append((kind, status, time.monotonic() - t0))

    jobs = []
    for n in range(60):
        body = event_body(message_event(f"희망이음 접속 방법 {n}", user=f"U{n:03d}", channel=f"D{n:03d}"))
        jobs.append(("event", body, "application/json"))
    for n in range(10):
        jobs.append(("command", command_body("희망이음 접속 방법", user=f"U{n:03d}"), "application/x-www-form-urlencoded"))
        jobs.append(("click", payload_body(click_payload(f"U{n:03d}", "inquiry.mine", "")),
                     "application/x-www-form-urlencoded"))
    try:
        threads = [threading.Thread(target=timed, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # a form submission is handled before its ack: it too must not wait on users.info
        form = payload_body(submission("U900", title="장애 중 질의", content="내용"))
        t0 = time.monotonic()
        status, body = post(url, form, signed_headers(form, content_type="application/x-www-form-urlencoded"),
                            timeout=30)
        took.append(("submission", status, time.monotonic() - t0))
        assert status == 200 and "errors" not in body
        slow = [(k, s, round(d, 2)) for k, s, d in took if s != 200 or d > 2.5]
        assert len(took) == 81 and slow == [], slow
    finally:
        fake.heal()
        server.stop()
        services.close()


# ---- issue 17 item 2 (Slack): a send is sent only when Slack accepted it; a final failure is visible ---------


def test_a_triage_card_slack_refuses_for_good_is_failed_visible_and_told_to_the_requester(helpdesk, fake, caplog):
    outbox = helpdesk.services.outbox
    outbox.max_attempts, outbox.backoff = 2, 0.0
    fake.chaos("chat.postMessage", "500", times=100)
    from bot.core.messages import Incoming
    from handlers.router import dispatch

    values = {"title": "알림 실패 시험", "category": "전체업무 > ERP > 급여", "type": "사용법문의", "content": "내용"}
    replies = dispatch(Incoming(user="U100", action="inquiry.submit", value="{}", surface="slack", form=values,
                                submission="slack:VFAIL"), helpdesk.services)
    from bot.surfaces.slack.adapter import Context

    helpdesk.adapter.deliver(replies, Context(user="U100", dm_only=True, key="view:VFAIL"))
    receipt = replies[0].data["receipt"]
    card_key = f"inquiry-{receipt}-filed"

    def settle():
        outbox.drain()
        return outbox.status(card_key) == "failed"

    wait_until(settle, timeout=30)
    row = outbox.get(card_key)
    assert row["attempts"] == 2 and row["sent_at"] is None and row["last_error"]
    assert any(r.levelname == "ERROR" and card_key in r.getMessage() for r in caplog.records)
    status, body = Client(helpdesk.server.url).get("/healthz")
    health = json.loads(body)
    assert health["outbox"]["failed"] >= 1 and health["outbox"]["last_failed"]["key"] == card_key
    metrics = Client(helpdesk.server.url).get("/metrics")[1]
    assert 'ieum_outbox{status="failed",surface="slack"}' in metrics
    # the requester is told the helpdesk was not reached
    fake.heal()
    wait_until(lambda: outbox.drain() >= 0 and outbox.status(f"inquiry-{receipt}-undelivered") == "sent", timeout=20)
    told = [c for c in channel_posts(fake, "D100") if "알리지 못했습니다" in c["text"]]
    assert len(told) == 1 and receipt in told[0]["text"]


def test_a_re_shown_form_answers_its_submission_on_every_surface(helpdesk):
    """The handler's side of item 1: a submission from a form opened in a channel (not `direct`) gets the
    form back for that submission (no `to_user`), so Teams' invoke response and Slack's ack both carry it."""
    from bot.core.messages import Incoming
    from handlers.router import dispatch

    for surface in ("slack", "teams"):
        replies = dispatch(Incoming(user="U100", action="inquiry.submit", value="{}", surface=surface, direct=False,
                                    conversation="C300", form={"title": "문의 800101-1234567", "content": "내용",
                                                               "category": "전체업무 > ERP > 급여", "type": "사용법문의"},
                                    submission=f"{surface}:X"), helpdesk.services)
        (form,) = [r for r in replies if r.kind == "form"]
        assert form.to_user is None and form.to_conversation is None and form.form.errors
