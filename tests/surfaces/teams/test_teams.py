"""The Teams app end to end: the bot's real HTTP server on 127.0.0.1, real Activity JSON posted to
/api/messages with tokens signed by keys generated here (served from a local OpenID metadata endpoint),
and a fake Bot Connector service on 127.0.0.1 recording replies, proactive messages and card updates."""
from __future__ import annotations

import functools
import json
import sys

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.surfaces.teams import adapter as teams
from bot.core.config import PROJECT_ROOT
from bot.core.config import Settings
from bot.core.messages import Choice, Reply
from bot.http import TEAMS_KEY, ServerThread
from bot.services import build

from fakes.harness import wait_until
from fakes.teams import (APP_ID, ISSUER, KID, OUTBOUND_TOKEN, FakeConnections, FakeTeams,
                        find_action, inputs, installed, mention, message)
from fakes.teams_chat import (AGENT, DECLINED, DM, SUBJECT, TRIAGE, VALUES, Bot, card_of, file_inquiry, open_form,
                              teams_settings)


FAKE = FakeTeams  # the `fake` fixture of conftest.py starts one per module


def start_bot(tmp_path, knowledge, fake, **extra) -> tuple[Bot, ServerThread]:
    fake.reset()
    services = build(teams_settings(tmp_path, knowledge, fake, **extra))
    mount = functools.partial(teams.mount, connections=FakeConnections())
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount]).start()
    return Bot(server, services, fake), server


@pytest.fixture()
def bot(tmp_path, knowledge, fake):
    b, server = start_bot(tmp_path, knowledge, fake)
    # the requester and the agent have installed the app in personal scope
    b.send(installed(service_url=fake.url), expect=202)
    b.send(installed(service_url=fake.url, conversation="a:dm-agent", user=AGENT), expect=202)
    fake.reset()
    yield b
    server.stop()
    b.services.close()


def titles(card: dict | None) -> list[str]:
    from fakes.teams import actions

    return [a.get("title") for a in actions(card)]


# ---- authentication --------------------------------------------------------------------------------


def test_requests_without_a_valid_token_are_refused(bot, fake):
    body = message("시스템 중단 기간", service_url=fake.url, deliveryMode="expectReplies")
    assert bot.send(body, token=None)[0] == 401
    assert bot.send(body, token="not-a-jwt")[0] == 401
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = jwt.encode({"iss": ISSUER, "aud": APP_ID, "exp": 9999999999}, other, algorithm="RS256",
                        headers={"kid": KID})
    assert bot.send(body, token=forged)[0] == 401
    assert bot.send(body, token=fake.token(aud="someone-else"))[0] == 401
    assert bot.send(body, token=fake.token(iss="https://evil.test"))[0] == 401
    assert bot.send(body, token=fake.token(exp=1000, nbf=900))[0] == 401
    assert fake.calls == []
    assert bot.send(body)[0] == 200  # the same request with a valid token


def test_anonymous_only_when_enabled(tmp_path, knowledge, fake):
    b, server = start_bot(tmp_path, knowledge, fake, **{teams.ENV_ANONYMOUS: "1"})
    try:
        status, data = b.send(message("시스템 중단 기간", service_url=fake.url, deliveryMode="expectReplies"),
                              token=None)
        assert status == 200 and "W4C" in json.dumps(data, ensure_ascii=False)
    finally:
        server.stop()
        b.services.close()


def test_not_mounted_without_configuration(tmp_path, knowledge):
    services = build(Settings(data_dir=tmp_path / "d", knowledge=knowledge))
    try:
        with ServerThread(services, host="127.0.0.1", port=0) as server:
            assert TEAMS_KEY not in server.web_app
    finally:
        services.close()


# ---- answers -----------------------------------------------------------------------------------------


def test_personal_question_is_answered_with_the_choices_as_a_card(bot):
    (reply,) = bot.ask("시스템 중단 기간이 언제예요")
    card = card_of(reply)
    assert "W4C" in json.dumps(card, ensure_ascii=False)
    assert titles(card) == ["예", "아니요", "다른 답변 보기", "질의하기"]
    assert all(a["type"] == "Action.Execute" for a in card["body"][-1]["actions"])
    assert card["version"] == "1.4"


def test_mention_in_channel_strips_the_mention_and_replies_in_the_thread(bot, fake):
    channel = "19:general@thread.tacv2;messageid=1700"
    bot.send(mention("시스템 중단 기간", channel=channel, service_url=fake.url), expect=202)
    (call,) = fake.wait_for(lambda calls: [c for c in calls if c.method == "reply"])
    assert call.conversation == channel and "W4C" in call.text
    assert call.auth == f"Bearer {OUTBOUND_TOKEN}"
    # channel chatter not addressed to the bot is ignored
    fake.reset()
    bot.send(message("시스템 중단 기간", service_url=fake.url, personal=False, conversation=channel), expect=202)
    assert fake.calls == []


def test_conversation_update_welcomes_in_personal_chat(bot, fake):
    bot.send(installed(service_url=fake.url, conversation="a:dm-u9", user="u9"), expect=202)
    (call,) = fake.wait_for(lambda calls: calls)
    assert call.conversation == "a:dm-u9" and "이음" in call.text


def test_feedback_and_more_buttons(bot, fake):
    (reply,) = bot.ask("시스템 중단 기간")
    data = bot.click(find_action(card_of(reply), "예"))
    assert data["type"] == teams.INVOKE_MESSAGE
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM])
    fake.reset()
    bot.click(find_action(card_of(reply), "다른 답변 보기"))
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM])


def test_declined_question_offers_inquiry(bot):
    (reply,) = bot.ask(DECLINED)
    assert "질의하기" in titles(card_of(reply))


# ---- inquiries -------------------------------------------------------------------------------------


def test_inquiry_form_card_has_the_same_fields(bot, fake):
    form, _ = open_form(bot, fake)
    fields = inputs(form)
    assert set(fields) >= {"title", "category", "type", "urgent", "public", "guideline", "content", "subject_info"}
    assert fields["title"]["value"].startswith("급여 명세서")
    assert fields["category"]["type"] == "Input.ChoiceSet" and fields["category"]["choices"]
    assert "비공개" in fields["subject_info"]["label"]
    assert fields["urgent"]["type"] == "Input.Toggle"
    assert find_action(form, "질의 등록")["type"] == "Action.Execute"


def test_personal_data_in_the_title_refreshes_the_card_with_the_error(bot, fake):
    form, form_id = open_form(bot, fake)
    data = bot.click(find_action(form, "질의 등록"), reply_to=form_id,
                     form={**VALUES, "title": f"{SUBJECT} 급여 문의", "subject_info": ""})
    assert data["type"] == teams.INVOKE_CARD
    fields = inputs(data["value"])
    assert "errorMessage" in fields["title"] and "800101" not in fields["title"]["value"]
    assert "800101" in fields["subject_info"]["value"]  # moved, in the user's personal chat only
    assert bot.services.inquiries.mine("aad-u1").total == 0
    assert [c for c in fake.calls if c.conversation.startswith(TRIAGE)] == []


def test_missing_required_field_refreshes_the_card(bot, fake):
    form, form_id = open_form(bot, fake)
    data = bot.click(find_action(form, "질의 등록"), reply_to=form_id, form={**VALUES, "category": ""})
    fields = inputs(data["value"])
    assert "errorMessage" in fields["category"]
    assert fields["content"]["value"] == VALUES["content"]  # what was typed is kept


def test_filing_returns_the_receipt_and_posts_a_card_to_triage_without_subject_info(bot, fake):
    receipt_card = file_inquiry(bot, fake)
    text = json.dumps(receipt_card, ensure_ascii=False)
    assert "접수" in text and "800101" not in text
    (posted,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE and c.method == "send"])
    assert "맡기" in titles(posted.card)
    for c in fake.calls:
        assert "800101" not in c.text
    (i,) = bot.services.inquiries.mine("aad-u1").items
    assert i.source == "teams" and i.has_subject


def test_the_same_form_card_submitted_twice_files_one_inquiry(bot, fake):
    form, form_id = open_form(bot, fake)
    submit = find_action(form, "질의 등록")
    first = bot.click(submit, reply_to=form_id, form=VALUES)
    second = bot.click(submit, reply_to=form_id, form=VALUES)  # a double click on the same card
    assert first["type"] == second["type"] == teams.INVOKE_CARD
    (i,) = bot.services.inquiries.mine("aad-u1").items
    assert i.receipt in json.dumps(first["value"]) and i.receipt in json.dumps(second["value"])  # the same receipt
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE and c.method == "send"])
    # the card's nonce names it whether or not the client sends a replyToId
    assert bot.click(submit, form=VALUES)["value"] == second["value"]
    assert bot.services.inquiries.mine("aad-u1").total == 1
    # a card without the nonce (rendered by an older version): the card activity (replyToId) names it
    old = {**submit, "data": {k: v for k, v in submit["data"].items() if k != teams.NONCE_KEY}}
    third = bot.click(old, reply_to="act-older-card", form=VALUES)
    fourth = bot.click(old, reply_to="act-older-card", form=VALUES)
    assert third["value"] == fourth["value"] and third["value"] != second["value"]
    assert bot.services.inquiries.mine("aad-u1").total == 2
    # one triage card per inquiry, never two: counted once the outbox has delivered everything
    counts = bot.services.outbox.counts
    wait_until(lambda: not counts().get("pending") and not counts().get("sending"))
    cards = [c for c in fake.calls if c.conversation == TRIAGE and c.method == "send"]
    assert len(cards) == 2 and len({json.dumps(c.card, ensure_ascii=False) for c in cards}) == 2


def test_triage_in_a_channel_updates_the_card_and_tells_the_requester(bot, fake):
    file_inquiry(bot, fake)
    (card,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE and c.method == "send"])
    fake.reset()
    data = bot.click(find_action(card.card, "맡기"), reply_to=card.activity_id, conversation=TRIAGE,
                     personal=False, user=AGENT)
    assert data["type"] == teams.INVOKE_CARD and "맡기" not in titles(data["value"])
    updates = fake.wait_for(lambda calls: [c for c in calls if c.method == "update" and c.activity_id == card.activity_id])
    assert "맡기" not in titles(updates[-1].card)
    news = fake.wait_for(lambda calls: [c for c in calls if c.conversation == f"{TRIAGE};messageid={card.activity_id}"])
    assert news
    told = fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM])
    assert "800101" not in told[0].text
    for c in fake.calls:
        if c.conversation.startswith(TRIAGE):
            assert "800101" not in c.text


def test_non_agent_cannot_triage(bot, fake):
    file_inquiry(bot, fake)
    (card,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE and c.method == "send"])
    data = bot.click(find_action(card.card, "맡기"), reply_to=card.activity_id, conversation=TRIAGE,
                     personal=False, user="u7")
    assert data["type"] == teams.INVOKE_MESSAGE and "담당자" in data["value"]


def test_answer_reaches_the_requester_proactively(bot, fake):
    file_inquiry(bot, fake)
    (i,) = bot.services.inquiries.mine("aad-u1").items
    fake.reset()
    # the agent answers from their personal chat (the answer form)
    data = bot.click({"verb": "triage.answer", "data": {"ieum": "triage.answer", "v": i.receipt}},
                     conversation="a:dm-agent", user=AGENT)
    (form_call,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == "a:dm-agent" and c.card])
    submit = find_action(form_call.card, "답변 등록")
    data = bot.click(submit, reply_to=form_call.activity_id, conversation="a:dm-agent", user=AGENT,
                     form={"answer": "급여 > 명세서 메뉴에서 출력합니다.", "complete": "true"})
    assert data["type"] == teams.INVOKE_CARD
    told = fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM and "명세서 메뉴" in c.text])
    assert "5점" in titles(told[0].card)
    fake.wait_for(lambda calls: [c for c in calls if c.method == "update" and c.conversation == TRIAGE])


def test_inquiry_from_a_channel_mention_opens_the_form_in_a_new_personal_chat(bot, fake):
    # u5 has never talked to the bot in personal chat: the form goes to a personal chat the bot creates
    bot.send(mention("질의하기", user="u5", service_url=fake.url), expect=202)
    (created,) = fake.wait_for(lambda calls: [c for c in calls if c.method == "create"])
    assert created.body["members"][0]["id"] == "29:u5"
    (form,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == created.conversation and c.card])
    assert "subject_info" in inputs(form.card)
    assert not [c for c in fake.calls if c.conversation.startswith("19:general") and c.card and inputs(c.card)]


# ---- reminders and the outbox ------------------------------------------------------------------------


def test_outbox_sender_delivers_to_teams_targets_once(bot, fake):
    outbox = bot.services.outbox
    reply = Reply("*마감 알림* 8월 31일까지 자료를 이관해 주세요.", choices=[Choice("알림 끄기", "reminder.off")])
    assert outbox.enqueue(reply, key="reminder-test-1", surface="teams", target="user:aad-u1")
    assert not outbox.enqueue(reply, key="reminder-test-1", surface="teams", target="user:aad-u1")
    outbox.drain()
    (call,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM])
    assert "**마감 알림**" in call.text and outbox.status("reminder-test-1") == "sent"
    outbox.enqueue(Reply("채널 공지"), key="reminder-test-2", surface="teams", target="channel:triage")
    outbox.drain()
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE])


def test_unknown_user_is_kept_for_retry(bot, fake):
    outbox = bot.services.outbox
    outbox.enqueue(Reply("안내"), key="reminder-nobody", surface="teams", target="user:aad-nobody")
    outbox.drain()
    assert outbox.status("reminder-nobody") == "pending"


# ---- rendering units ---------------------------------------------------------------------------------


def test_private_field_is_never_prefilled_in_a_channel():
    from bot.core.messages import Field, Form

    form = Form("x", "양식", [Field("subject_info", "대상자 정보", kind="textarea", private=True, initial=SUBJECT)])
    assert "800101" in json.dumps(teams.form_card(form), ensure_ascii=False)
    assert "800101" not in json.dumps(teams.form_card(form, channel=True), ensure_ascii=False)


def test_form_values_are_typed():
    data = {"k": {"a": "boolean", "b": "select", "c": "text", "d": "files"}, "a": "true", "b": "", "c": None}
    assert teams.form_values(data) == {"a": True, "b": None, "c": "", "d": []}


def test_manifest_and_icons(tmp_path):
    import struct
    import zipfile

    root = PROJECT_ROOT / "manifest"
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    for name, size in (("color.png", 192), ("outline.png", 32)):
        head = (root / name).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (size, size)
    sys.path.insert(0, str(root))
    import package

    out = package.build(APP_ID, tmp_path / "app.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["color.png", "manifest.json", "outline.png"]
        packed = json.loads(z.read("manifest.json"))
    assert packed["id"] == APP_ID and packed["bots"][0]["botId"] == APP_ID


# ---- issue 17: what Microsoft's own client showed -----------------------------------------------------


def test_proactive_messages_carry_no_null_fields(bot, fake):
    """The fake refuses nulls and unknown fields as Microsoft's connector does (400 BadArgument)."""
    outbox = bot.services.outbox
    outbox.enqueue(Reply("*마감 알림*입니다", choices=[Choice("알림 끄기", "reminder.off")]), key="r-null-1",
                   surface="teams", target="user:aad-u1")
    outbox.enqueue(Reply("채널 공지"), key="r-null-2", surface="teams", target="channel:triage")
    outbox.drain()
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM and c.method == "send"])
    fake.wait_for(lambda calls: [c for c in calls if c.conversation == TRIAGE and c.method == "send"])
    assert fake.refused == []
    assert outbox.status("r-null-1") == outbox.status("r-null-2") == "sent"
    for c in fake.calls:
        assert "id" not in c.body and "locale" not in c.body


def test_a_refused_proactive_send_is_not_recorded_as_sent(bot, fake):
    outbox = bot.services.outbox
    fake.down.add(DM)
    outbox.enqueue(Reply("안내"), key="r-down-1", surface="teams", target="user:aad-u1")
    outbox.drain()
    row = outbox.get("r-down-1")
    assert row["status"] != "sent" and row["attempts"] == 1 and row["last_error"]
    assert fake.refused and bot.adapter.posts.find("r-down-1") is None


def test_a_refused_reply_in_a_turn_is_queued_not_lost(bot, fake):
    channel = "19:general@thread.tacv2;messageid=1800"
    fake.down.add("19:general@thread.tacv2")
    bot.send(mention("시스템 중단 기간", channel=channel, service_url=fake.url), expect=202)
    fake.wait_for(lambda calls: fake.refused)
    rows = bot.services.outbox.items(prefix="teams:")
    assert rows and all(r["status"] != "sent" for r in rows) and rows[0]["target"] == f"channel:{channel}"


def test_a_form_that_cannot_reach_personal_chat_yet_is_said_in_the_channel(bot, fake):
    fake.down.add(DM)
    channel = "19:general@thread.tacv2;messageid=1900"
    bot.send(mention("질의하기", user="u1", channel=channel, service_url=fake.url), expect=202)
    (note,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == channel and c.method == "reply"])
    assert "다시 보내" in note.text and not note.card
    (row,) = [r for r in bot.services.outbox.items() if r["target"] == "user:aad-u1"]
    assert row["status"] == "pending" and row["last_error"]


def test_unset_triage_channel_is_said_once_and_skipped(tmp_path, knowledge, fake, caplog):
    caplog.set_level("WARNING", logger="bot.adapters.teams")
    b, server = start_bot(tmp_path, knowledge, fake, TEAMS_TRIAGE_CHANNEL="")
    try:
        b.send(installed(service_url=fake.url), expect=202)
        fake.reset()
        file_inquiry(b, fake)
        outbox = b.services.outbox
        triage = [r for r in outbox.items() if r["target"] == "channel:triage"]
        assert triage and all(r["status"] == "skipped" for r in triage)
        assert outbox.items(status=["pending", "failed"]) == []
        notes = [r for r in caplog.records if "TEAMS_TRIAGE_CHANNEL" in r.getMessage()]
        assert len(notes) == 1
    finally:
        server.stop()
        b.services.close()


def test_app_id_warning_once_in_anonymous_mode(tmp_path, knowledge, fake, caplog):
    caplog.set_level("WARNING")
    fake.reset()
    services = build(Settings(data_dir=tmp_path / "data", knowledge=knowledge,
                              extra={teams.ENV_ANONYMOUS: "1", "TEAMS_TRIAGE_CHANNEL": TRIAGE}))
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[teams.mount]).start()
    b = Bot(server, services, fake)
    try:
        for text in ("시스템 중단 기간", "안녕하세요", "개통일"):
            b.send(message(text, service_url=fake.url), token=None, expect=202)
        fake.wait_for(lambda calls: len([c for c in calls if c.method == "reply"]) >= 3)
        sdk_warnings = [r for r in caplog.records if "App ID is not provided" in r.getMessage()]
        ours = [r for r in caplog.records if "익명 모드로만" in r.getMessage()]
        assert sdk_warnings == [] and len(ours) == 1
    finally:
        server.stop()
        services.close()


def test_activity_with_a_service_url_not_in_the_token_is_refused(bot, fake):
    body = message("시스템 중단 기간", service_url="https://evil.example/", deliveryMode="expectReplies")
    assert bot.send(body)[0] == 401  # the token's serviceurl is the fake's
    assert bot.send(body, token=fake.token(serviceurl="https://evil.example"))[0] == 200
    assert bot.send(message("시스템 중단 기간", service_url=fake.url), token=fake.token(serviceurl=None))[0] == 401
    ok = message("시스템 중단 기간", service_url=fake.url.rstrip("/").replace("http:", "HTTP:"),
                 deliveryMode="expectReplies")
    assert bot.send(ok)[0] == 200  # the same URL, spelt differently
    assert fake.calls == []


def test_form_hints_shown_once_and_toggles_say_what_ticking_does(bot, fake):
    form, _ = open_form(bot, fake)
    text = json.dumps(form, ensure_ascii=False)
    fields = inputs(form)
    hint = "주민등록번호·주소·전화번호"
    assert text.count(hint) == 1 and "placeholder" not in fields["subject_info"]
    public = fields["public"]
    assert public["title"].startswith("공개") and "비공개로 하면" not in public["title"]
    assert "label" not in public


def test_a_form_sent_from_a_channel_is_never_stored_in_plain_text(bot, fake):
    bot.send(mention("질의하기", user="u1", service_url=fake.url), expect=202)
    (form,) = fake.wait_for(lambda calls: [c for c in calls if c.conversation == DM and c.card and inputs(c.card)])
    assert "subject_info" in inputs(form.card)
    for row in bot.services.outbox.items():
        assert "subject_info" not in row["reply"], row["status"]
    # a correction goes back as the card's invoke response, what was typed kept
    data = bot.click(find_action(form.card, "질의 등록"), reply_to=form.activity_id,
                     form={**VALUES, "title": f"{SUBJECT} 급여 문의", "subject_info": ""})
    assert data["type"] == teams.INVOKE_CARD and "800101" in inputs(data["value"])["subject_info"]["value"]
    for row in bot.services.outbox.items():
        assert "800101" not in row["reply"]


def test_agents_are_known_by_their_teams_name(bot, fake):
    bot.send(message("안녕하세요", service_url=fake.url, user=AGENT), expect=202)
    assert bot.adapter.display_name(f"aad-{AGENT}") == "홍길순"
    nameless = message("안녕하세요", service_url=fake.url, user=AGENT)
    nameless["from"].pop("name")
    bot.send(nameless, expect=202)
    assert bot.adapter.display_name(f"aad-{AGENT}") == "홍길순"


# ---- markdown ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, expected", [
    ("*이음*입니다", "**이음**입니다"),
    ("*9월 6일(화) 09:00*부터 쓸 수 있습니다", "**9월 6일(화) 09:00**부터 쓸 수 있습니다"),
    ("*질의하기*로 남겨 주세요", "**질의하기**로 남겨 주세요"),
    ("기간은 *(8.31~9.5)*입니다", "기간은 **(8.31~9.5**)입니다"),
    ("# 1. 안내", "\\# 1. 안내"),
    ("(_D-3_)", "(_D-3_)"),
    ("subject_info 와 2*3", "subject\\_info 와 2\\*3"),
])
def test_markdown_converts_on_the_structure(source, expected):
    assert teams.markdown(source) == expected


def test_lines_and_lists_stay_apart():
    text = "*제목*\n첫 줄\n둘째 줄\n• 하나\n• *둘*이요\n\n끝"
    assert teams.markdown(text) == "**제목**\n\n첫 줄\n\n둘째 줄\n\n- 하나\n- **둘**이요\n\n끝"
    blocks = [b["text"] for b in teams.text_blocks(text)]
    assert blocks == ["**제목**", "첫 줄", "둘째 줄", "- 하나\n- **둘**이요", "끝"]


def test_user_markdown_is_escaped_on_cards():
    title = "[정부24 로그인](https://evil.example/login)"
    md = teams.markdown(f"제목: {title}")
    assert "\\[정부24 로그인\\](https://evil.example/login)" in md
    html = _commonmark(md)
    assert "<a " not in html and "[정부24 로그인](https://evil.example/login)" in html


def test_card_summary_has_no_marks():
    activity = teams.reply_activity(Reply("*이음*입니다. _곧_ 답합니다", choices=[Choice("예", "x")]))
    assert activity.summary == "이음입니다. 곧 답합니다"


def _commonmark(md: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").render(md)


def test_every_answer_in_knowledge_renders_without_stray_marks(kb):
    """The Teams markdown of every answer, read by a CommonMark parser: no `*` left as text, and every
    "•" line a list item of its own."""
    import html as htmllib
    import re

    from bot.knowledge.templates import Templates

    templates = Templates(kb)
    for entry in kb.entries:
        text = templates.render_answer(entry)
        md = teams.markdown(f"*{entry.title}*\n{text}")
        out = _commonmark(md)
        visible = htmllib.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<code>.*?</code>", "", out)))
        assert "*" not in visible, (entry.id, md)
        bullets = [line for line in text.splitlines() if line.lstrip().startswith(("•", "- "))]
        assert out.count("<li>") == len(bullets), (entry.id, md)
        assert out.count("<p>") >= len([line for line in text.splitlines() if line.strip()]) - len(bullets)
    assert len(kb.entries) >= 50
