"""The Slack app end to end: the bot's real HTTP server on 127.0.0.1, a fake Slack Web API on 127.0.0.1,
requests signed exactly like Slack's."""
from __future__ import annotations

import json
import time

import pytest

from bot.http import ServerThread
from bot.services import build
from fakes.harness import wait_until
from fakes.slack import BOT_USER, command_body, event_body, message_event, post, receipt_of, signed_headers
from fakes.slack_chat import (AGENT, SUBJECT, TRIAGE, channel_posts, file_inquiry, open_form_from_decline,
                              running, slack_settings, submit_view)


@pytest.fixture()
def bot(tmp_path, knowledge, fake):
    with running(tmp_path, knowledge, fake) as b:
        assert len(fake.of("auth.test")) == 1  # once, at start-up (not lazily, on the event loop)
        fake.reset()  # the start-up call belongs to no test
        yield b


@pytest.fixture()
def helpdesk(tmp_path, knowledge, fake):
    with running(tmp_path, knowledge, fake, agents=(AGENT,)) as b:
        yield b


def texts(calls) -> str:
    return "\n".join(json.dumps(c.args, ensure_ascii=False) for c in calls)


# ---- answers ---------------------------------------------------------------------------------------


def test_healthz(bot):
    import urllib.request

    with urllib.request.urlopen(bot.server.url + "/healthz", timeout=5) as r:
        assert r.status == 200 and json.loads(r.read())["ok"] is True


def test_dm_question_is_answered_in_a_thread_with_buttons(bot, fake):
    status, _ = bot.event(message_event("시스템 중단 기간이 언제예요", channel="D100", ts="1700000000.000100"))
    assert status == 200
    (call,) = fake.wait_calls("chat.postMessage")
    assert call["channel"] == "D100"
    assert call["thread_ts"] == "1700000000.000100"
    assert "W4C를 사용할 수 없습니다" in call["text"]
    labels = [el["text"]["text"] for b in call["blocks"] for el in b.get("elements", [])]
    assert labels == ["예", "아니요", "다른 답변 보기", "질의하기"]
    assert fake.violations == []


def test_mention_in_channel_strips_the_mention(bot, fake):
    ev = message_event(f"<@{BOT_USER}> 희망이음 접속 방법", channel="C200", ts="1700000001.000100", kind="app_mention")
    assert bot.event(ev)[0] == 200
    (call,) = fake.wait_calls("chat.postMessage")
    assert call["channel"] == "C200" and call["thread_ts"] == "1700000001.000100"
    assert "인증서로 로그인" in call["text"]


def test_plain_channel_message_is_ignored(bot, fake):
    bot.event(message_event("희망이음 접속 방법", channel="C200"))
    fake.quiet(0.3)
    assert fake.of("chat.postMessage") == []


def test_declined_question_offers_inquiry(bot, fake):
    bot.event(message_event("<!channel> 김치찌개 맛있게 끓이는 법 & <http://evil|여기>", channel="D100"))
    (call,) = fake.wait_calls("chat.postMessage")
    labels = [el["text"]["text"] for b in call["blocks"] for el in b.get("elements", [])]
    assert "질의하기" in labels


def test_user_text_is_escaped(bot, fake):
    # Slack sends text escaped; the bot unescapes it for handlers and escapes it again for mrkdwn.
    evil = "&lt;!channel&gt; 시스템 중단 기간 &lt;http://evil.example|클릭&gt; &amp;"
    bot.event(message_event(evil, channel="D100"))
    (call,) = fake.wait_calls("chat.postMessage")
    rendered = [call["text"]] + [b["text"]["text"] for b in call["blocks"] if b["type"] == "section"]
    assert all("<!channel>" not in t and "<http://evil" not in t for t in rendered)
    # a button value carries the plain text back to the handler (values are data, never rendered)
    click_values = [el.get("value", "") for b in call["blocks"] for el in b.get("elements", [])]
    assert any("<!channel>" in v for v in click_values)


def test_escape_unit():
    from bot.surfaces.slack.adapter import escape, message_payload
    from bot.core.messages import Reply

    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    p = message_payload(Reply("<!here> " + "가" * 10000))
    assert all(len(b["text"]["text"]) <= 3000 for b in p["blocks"] if b["type"] == "section")
    assert "<!here>" not in json.dumps(p, ensure_ascii=False)
    assert len(p["text"]) <= 3000


def test_limits_unit():
    from bot.surfaces.slack.adapter import form_view, message_payload, select_options
    from bot.core.messages import Choice, Field, Form, Reply

    p = message_payload(Reply("가\n" * 200000, choices=[Choice("버튼" * 60, "x", "v" * 5000) for _ in range(60)]))
    assert len(p["blocks"]) <= 50
    for b in p["blocks"]:
        for el in b.get("elements", []):
            assert len(el["text"]["text"]) <= 75 and len(el["value"]) <= 2000
        assert len(b.get("elements", [])) <= 25
    opts = select_options([(f"전체업무 > 그룹{i // 150} > 항목{i}", f"전체업무 > 그룹{i // 150} > 항목{i}")
                           for i in range(450)])
    assert "option_groups" in opts and all(len(g["options"]) <= 100 for g in opts["option_groups"])
    assert opts["option_groups"][0]["options"][0]["text"]["text"] == "항목0"
    v = form_view(Form("x", "아주 긴 제목" * 10, [Field("t", "제목", suggest_action="s")]), meta="{}")
    assert len(v["title"]["text"]) <= 24
    assert v["blocks"][0]["dispatch_action"] is True


# ---- protocol --------------------------------------------------------------------------------------


def test_bad_missing_and_stale_signatures_are_refused(bot, fake):
    ev = event_body(message_event("시스템 중단 기간", channel="D100"), event_id="EvBAD1")
    wrong = signed_headers(ev, content_type="application/json", secret="not-the-secret")
    assert post(bot.url, ev, wrong)[0] == 401
    missing = {"Content-Type": "application/json"}
    assert post(bot.url, ev, missing)[0] == 401
    stale = signed_headers(ev, content_type="application/json", timestamp=int(time.time()) - 6 * 60)
    assert post(bot.url, ev, stale)[0] == 401
    cmd = command_body("시스템 중단 기간")
    assert post(bot.url, cmd, signed_headers(cmd, content_type="application/x-www-form-urlencoded",
                                             secret="nope"))[0] == 401
    fake.quiet(0.3)
    assert fake.calls == []
    assert bot.adapter.posts.seen_count() == 0  # nothing stored
    # the same event, signed properly, is then processed
    assert post(bot.url, ev, signed_headers(ev, content_type="application/json"))[0] == 200
    fake.wait_calls("chat.postMessage")


def test_retries_and_duplicate_event_ids_answer_once(bot, fake):
    ev = message_event("시스템 중단 기간", channel="D100")
    assert bot.event(ev, event_id="EvDUP1")[0] == 200
    assert bot.event(ev, event_id="EvDUP1", retry=1)[0] == 200
    assert bot.event(ev, event_id="EvDUP1", retry=2)[0] == 200
    fake.wait_calls("chat.postMessage")
    fake.quiet(0.3)
    assert len(fake.of("chat.postMessage")) == 1


def test_ack_is_fast_even_when_slack_is_slow(bot, fake):
    fake.fail("chat.postMessage", 429, times=1, retry_after=1)
    t0 = time.monotonic()
    assert bot.event(message_event("시스템 중단 기간", channel="D100"))[0] == 200
    assert time.monotonic() - t0 < 0.5
    fake.wait_calls("chat.postMessage", 2, timeout=8)


def test_web_api_retries_on_429_and_500(bot, fake):
    fake.fail("chat.postMessage", 429, times=1, retry_after=0)
    fake.fail("chat.postMessage", 500, times=1)
    bot.event(message_event("시스템 중단 기간", channel="D100"))
    calls = fake.wait_calls("chat.postMessage", 3, timeout=8)
    assert len(calls) == 3
    fake.quiet(0.3)
    assert len(fake.of("chat.postMessage")) == 3


# ---- slash command, buttons ---------------------------------------------------------------------------


def test_slash_command_answers_privately(bot, fake):
    status, _ = bot.command("희망이음 접속 방법")
    assert status == 200
    (call,) = fake.wait_calls("response_url")
    assert call["response_type"] == "ephemeral"
    assert "인증서로 로그인" in call["text"]
    assert fake.of("chat.postMessage") == []


def test_slash_help(bot, fake):
    bot.command("도움말")
    (call,) = fake.wait_calls("response_url")
    assert "/ieum" in call["text"] and call["response_type"] == "ephemeral"
    bot.command("")
    fake.wait_calls("response_url", 2)


def test_feedback_and_more_buttons(bot, fake):
    bot.event(message_event("희망이음 접속 방법", channel="D100", ts="1700000002.000100"))
    (answer,) = fake.wait_calls("chat.postMessage")
    assert bot.click(answer, "예")[0] == 200
    fake.wait_calls("chat.postEphemeral")  # thanks, privately
    bot.click(answer, "다른 답변 보기")
    more = fake.wait_calls("chat.postMessage", 2)[1:]
    assert all(c["thread_ts"] == "1700000002.000100" for c in more)
    assert fake.violations == []


def test_unknown_button_is_acked(bot, fake):
    status, _ = bot.interact({
        "type": "block_actions", "user": {"id": "U100"}, "trigger_id": "t1",
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "D100"}, "channel": {"id": "D100"},
        "message": {"ts": "1.1", "text": ""},
        "actions": [{"type": "button", "action_id": "nothing.here|0", "block_id": "b", "value": ""}],
    })
    assert status == 200
    fake.wait_calls("chat.postEphemeral")


# ---- the inquiry modal, filing, triage ---------------------------------------------------------------

def test_inquiry_modal_opens_prefilled(helpdesk, fake):
    opened = open_form_from_decline(helpdesk, fake)
    view = opened["view"]
    assert view["type"] == "modal" and view["callback_id"] == "ieum_form"
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert blocks["title"]["element"]["initial_value"].startswith("급여 명세서")
    assert blocks["title"]["dispatch_action"] is True
    assert blocks["title"]["element"]["dispatch_action_config"]["trigger_actions_on"] == ["on_character_entered"]
    assert "option_groups" in blocks["category"]["element"]
    assert "비공개" in blocks["subject_info"]["label"]["text"]
    assert blocks["files"]["element"]["type"] == "file_input"
    assert fake.violations == []


def test_typing_the_title_suggests_similar(helpdesk, fake):
    opened = open_form_from_decline(helpdesk, fake)
    view = dict(opened["view"], id="VOPEN1", hash="h0", state={"values": {}})
    helpdesk.interact({"type": "block_actions", "user": {"id": "U100"}, "trigger_id": "trig-type",
                       "container": {"type": "view", "view_id": "VOPEN1"}, "view": view,
                       "actions": [{"type": "plain_text_input", "action_id": "title", "block_id": "title",
                                    "value": "희망이음 접속"}]})
    (update,) = fake.wait_calls("views.update")
    assert update["view_id"] == "VOPEN1" and update["hash"] == "h0"
    ids = [b.get("block_id") for b in update["view"]["blocks"]]
    assert any(str(i).startswith("ieum_suggest") for i in ids)
    assert ids.index("title") < next(n for n, i in enumerate(ids) if str(i).startswith("ieum_suggest"))


def test_personal_data_in_title_is_refused_on_the_field(helpdesk, fake):
    opened = open_form_from_decline(helpdesk, fake)
    status, body = submit_view(helpdesk, opened, {"title": f"{SUBJECT} 급여 문의", "category": "전체업무 > ERP > 급여",
                                                  "type": "사용법문의", "content": "내용"})
    assert status == 200
    data = json.loads(body)
    # the form comes back in the modal with the data moved into 대상자 정보, the reason under the title
    assert data["response_action"] == "update"
    blocks = {b.get("block_id"): b for b in data["view"]["blocks"]}
    assert "800101" not in blocks["title"]["element"].get("initial_value", "")
    assert "800101-1234567" in blocks["subject_info"]["element"]["initial_value"]
    assert "대상자 정보로 옮겼습니다" in blocks["ieum_error_title"]["elements"][0]["text"]
    fake.quiet(0.3)
    assert channel_posts(fake, TRIAGE) == []


def test_filing_dms_the_receipt_and_posts_a_card_without_subject_info(helpdesk, fake):
    card, receipt = file_inquiry(helpdesk, fake)
    labels = [el["text"]["text"] for b in card["blocks"] for el in b.get("elements", [])]
    assert "맡기" in labels
    fake.quiet(0.3)
    for c in fake.calls:
        if c.get("channel") == TRIAGE or c.method == "chat.postMessage":
            assert "800101" not in c.everything and "김철수" not in c.everything, c.method
    assert fake.violations == []


def test_the_same_modal_submitted_twice_files_one_inquiry(helpdesk, fake):
    """Slack shows an error when the first ack never came (e.g. the bot crashed after storing): the user
    submits the same modal (same view id) again, and gets the inquiry already filed."""
    opened = open_form_from_decline(helpdesk, fake)
    values = {"title": "급여 명세서 출력 메뉴 문의", "category": "전체업무 > ERP > 급여", "type": "사용법문의",
              "content": "급여 명세서를 출력할 메뉴를 찾지 못했습니다.", "subject_info": SUBJECT}
    first = submit_view(helpdesk, opened, values)
    receipt_dm = fake.wait_for(lambda f: [c for c in f.of("chat.postMessage") if c.get("channel") == "D100"
                                          and "접수" in c["text"]])[0]
    second = submit_view(helpdesk, opened, values)
    assert first[0] == second[0] == 200
    assert "errors" not in first[1] and "errors" not in second[1]  # the modal closes both times
    fake.quiet(0.5)
    inquiries = helpdesk.services.inquiries.mine("U100")
    assert inquiries.total == 1
    receipt = inquiries.items[0].receipt
    assert receipt in receipt_dm["text"]
    # the same receipt, told once; one triage card
    dms = [c for c in fake.of("chat.postMessage") if c.get("channel") == "D100" and receipt in c["text"]]
    assert len(dms) == 1
    cards = [c for c in fake.of("chat.postMessage") if c.get("channel") == TRIAGE]
    assert len(cards) == 1 and receipt in cards[0]["text"]
    # and the handler answers the repeat with that same receipt
    from bot.core.messages import Incoming
    from handlers.router import dispatch

    again = dispatch(Incoming(user="U100", action="inquiry.submit", value="{}", surface="slack", form=values,
                              submission="slack:VSUB1"), helpdesk.services)
    assert again[0].data["receipt"] == receipt and helpdesk.services.inquiries.mine("U100").total == 1


def test_triage_assign_updates_card_in_place_and_tells_requester(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    n = len(fake.calls)
    helpdesk.click(card, "맡기", user=AGENT, channel=TRIAGE)
    fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.update" and c.get("channel") == TRIAGE])
    fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postMessage" and c.get("channel") == "D100"])
    card_ts = fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.update"])[0]["ts"]
    thread_posts = [c for c in fake.calls[n:] if c.method == "chat.postMessage" and c.get("channel") == TRIAGE]
    assert thread_posts and all(c.get("thread_ts") == card_ts for c in thread_posts)


def test_non_agent_cannot_triage(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    n = len(fake.calls)
    helpdesk.click(card, "맡기", user="U999", channel=TRIAGE)
    fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postEphemeral" and c.get("user") == "U999"])
    fake.quiet(0.2)
    assert not [c for c in fake.calls[n:] if c.method == "chat.update"]


def test_answer_modal_then_requester_gets_answer_and_rating(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    helpdesk.click(card, "맡기", user=AGENT, channel=TRIAGE)
    eph = fake.wait_for(lambda f: [c for c in f.of("chat.postEphemeral") if c.get("user") == AGENT])[0]
    n = len(fake.of("views.open"))
    helpdesk.click(eph, "답변하기", user=AGENT, channel=TRIAGE)
    opened = fake.wait_calls("views.open", n + 1)[-1]
    m = len(fake.calls)
    status, _ = submit_view(helpdesk, opened, {"answer": "ERP > 급여 > 명세서 메뉴에서 출력하세요."}, user=AGENT)
    assert status == 200
    dm = fake.wait_for(lambda f: [c for c in f.calls[m:] if c.method == "chat.postMessage"
                                  and c.get("channel") == "D100" and "명세서 메뉴" in c.everything])[0]
    labels = [el["text"]["text"] for b in dm["blocks"] for el in b.get("elements", [])]
    assert "재질의" in labels and any("5" in label for label in labels)
    # the requester rates
    k = len(fake.calls)
    helpdesk.click(dm, [l for l in labels if "5" in l][0], user="U100", channel="D100")
    fake.wait_for(lambda f: [c for c in f.calls[k:] if c.method in ("chat.postEphemeral", "chat.postMessage")])


def test_thread_relay_between_card_and_requester(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    # the card's ts is what the fake returned; find it through the adapter's posts (by the card's key)
    channel, ts = helpdesk.adapter.posts.find(f"inquiry-{receipt_of(card)}-filed")
    assert channel == TRIAGE
    n = len(fake.calls)
    helpdesk.event(message_event("확인 중입니다. 어느 화면에서 막히셨나요?", user=AGENT, channel=TRIAGE, thread_ts=ts))
    dm = fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postMessage" and c.get("channel") == "D100"])[0]
    assert "어느 화면" in dm["text"]
    m = len(fake.calls)
    rows = helpdesk.services.store.conn.execute(
        "SELECT message FROM surface_posts WHERE surface='slack' AND conversation='D100'"
        " ORDER BY created_at DESC LIMIT 1").fetchall()
    helpdesk.event(message_event("급여 메뉴 첫 화면입니다", user="U100", channel="D100", thread_ts=rows[0][0]))
    back = fake.wait_for(lambda f: [c for c in f.calls[m:] if c.method == "chat.postMessage" and c.get("channel") == TRIAGE])[0]
    assert back["thread_ts"] == ts and "첫 화면" in back["text"]


def test_thread_relay_masks_personal_data_before_posting_or_keeping_it(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    receipt = receipt_of(card)
    _, card_ts = helpdesk.adapter.posts.find(f"inquiry-{receipt}-filed")
    dm, dm_ts = helpdesk.adapter.posts.find(f"inquiry-{receipt}-receipt")
    n = len(fake.calls)
    helpdesk.event(message_event("제 번호는 010-2345-6789, 주민번호 800101-1234567 입니다", user="U100",
                                 channel=dm, thread_ts=dm_ts))
    back = fake.wait_for(lambda f: [c for c in f.calls[n:] if c.method == "chat.postMessage"
                                    and c.get("channel") == TRIAGE])[0]
    assert back["thread_ts"] == card_ts and "[개인정보]" in back["text"]
    m = len(fake.calls)
    helpdesk.event(message_event("연락처 010-9876-5432 로 전화드릴게요", user=AGENT, channel=TRIAGE, thread_ts=card_ts))
    sent = fake.wait_for(lambda f: [c for c in f.calls[m:] if c.method == "chat.postMessage"
                                    and c.get("channel") == "D100"])[0]
    assert "[개인정보]" in sent["text"]
    relayed = texts(fake.calls[n:])
    for raw in ("010-2345-6789", "800101-1234567", "010-9876-5432"):
        assert raw not in relayed
    kept = helpdesk.services.store.conn.execute(
        "SELECT actor, detail FROM inquiry_events WHERE kind='message' ORDER BY id").fetchall()
    assert [actor for actor, _ in kept] == ["U100", AGENT]
    assert all("[개인정보]" in detail for _, detail in kept)
    for raw in ("010-2345-6789", "800101-1234567", "010-9876-5432"):
        assert not any(raw in detail for _, detail in kept)


def test_reply_in_a_thread_of_someone_elses_inquiry_is_not_relayed(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    receipt = receipt_of(card)
    dm, dm_ts = helpdesk.adapter.posts.find(f"inquiry-{receipt}-receipt")
    n = len(fake.calls)
    helpdesk.event(message_event("다른 사람이 보낸 글", user="U999", channel=dm, thread_ts=dm_ts))
    fake.quiet(0.5)
    assert not [c for c in fake.calls[n:] if c.method == "chat.postMessage" and c.get("channel") == TRIAGE]


def test_first_event_makes_no_auth_test_call(bot, fake):
    assert bot.adapter.authorized  # bolt has the start-up auth.test result
    bot.event(message_event("시스템 중단 기간", channel="D100", ts="1700000060.000100"))
    fake.wait_calls("chat.postMessage")
    assert fake.of("auth.test") == []


def test_seen_event_ids_older_than_a_week_are_pruned_at_start_up(tmp_path, knowledge, fake):
    from bot.surfaces.slack.adapter import SlackAdapter

    services = build(slack_settings(tmp_path, knowledge, fake))
    try:
        store = services.store
        with store.transaction():
            store.conn.execute("INSERT INTO surface_seen (surface, id, seen_at) VALUES ('slack', 'EvOLD', ?)",
                               [time.time() - 8 * 86400])
            store.conn.execute("INSERT INTO surface_seen (surface, id, seen_at) VALUES ('slack', 'EvNEW', ?)",
                               [time.time() - 6 * 86400])
        adapter = SlackAdapter(services)
        adapter.close()
        ids = [r[0] for r in store.conn.execute("SELECT id FROM surface_seen WHERE surface='slack'").fetchall()]
        assert ids == ["EvNEW"]
    finally:
        services.close()


def test_slash_commands_open_modal_and_list_mine(helpdesk, fake):
    helpdesk.command("질의", trigger_id="trig-cmd")
    (opened,) = fake.wait_calls("views.open")
    assert opened["trigger_id"] == "trig-cmd"
    helpdesk.command("내질의")
    (listing,) = fake.wait_calls("response_url")
    assert listing["response_type"] == "ephemeral"


def test_message_shortcut_opens_prefilled_modal(helpdesk, fake):
    status, _ = helpdesk.interact({
        "type": "message_action", "callback_id": "file_inquiry", "trigger_id": "trig-sc",
        "user": {"id": "U100"}, "channel": {"id": "C300"}, "response_url": f"{fake.url}/response/sc",
        "message": {"type": "message", "ts": "1700000020.000100", "user": "U555", "text": "ERP 인사카드 직원정보가 누락됐어요"},
        "message_ts": "1700000020.000100"})
    assert status == 200
    (opened,) = fake.wait_calls("views.open")
    title = next(b for b in opened["view"]["blocks"] if b.get("block_id") == "title")
    assert "인사카드" in title["element"]["initial_value"]


def test_ticket_reaction_offers_the_modal(helpdesk, fake):
    fake.add_message("C300", "1700000030.000100", "회계 전표 승인이 안 됩니다")
    helpdesk.event({"type": "reaction_added", "user": "U100", "reaction": "ticket", "item_user": "U555",
                    "item": {"type": "message", "channel": "C300", "ts": "1700000030.000100"},
                    "event_ts": "1700000031.000100"})
    (eph,) = fake.wait_calls("chat.postEphemeral")
    assert eph["user"] == "U100"
    helpdesk.click(eph, "질의하기", channel="C300", ephemeral=True)
    (opened,) = fake.wait_calls("views.open")
    title = next(b for b in opened["view"]["blocks"] if b.get("block_id") == "title")
    assert "전표" in title["element"]["initial_value"]


def test_app_home(helpdesk, fake):
    file_inquiry(helpdesk, fake)
    helpdesk.event({"type": "app_home_opened", "user": "U100", "channel": "D100", "tab": "home",
                    "event_ts": "1700000040.000100"})
    (pub,) = fake.wait_calls("views.publish")
    assert pub["user_id"] == "U100" and pub["view"]["type"] == "home"
    assert "급여 명세서" in pub.everything


def test_failed_dm_is_kept_and_retried(helpdesk, fake):
    card, _ = file_inquiry(helpdesk, fake)
    fake.fail("chat.postMessage", 500, times=8)  # the update in the card thread and the DM: 4 attempts each
    helpdesk.click(card, "맡기", user=AGENT, channel=TRIAGE)
    outbox = helpdesk.services.outbox
    # the DM back to pending after its failed attempt, and nothing still being sent (the triage rows are
    # enqueued before the DM: waiting for any two pending rows could see them before the DM was tried)
    def kept():
        rows = outbox.items(prefix="inquiry-")
        dm = [r for r in rows if r["key"].endswith("-assigned")]
        return (dm and dm[0]["status"] == "pending" and dm[0]["attempts"] >= 1 and dm[0]["last_error"]
                and not [r for r in rows if r["status"] == "sending"] and outbox.items(status="pending"))

    pending = wait_until(kept, timeout=30)
    assert not [c for c in fake.of("chat.postMessage") if c.get("channel") == "D100" and "맡" in c.everything]
    fake.reset()
    # later (the backoff has passed), the outbox delivers what was kept
    for item in pending:
        helpdesk.services.store.conn.execute("UPDATE outbox SET next_attempt=0 WHERE id=?", [item["id"]])
    assert outbox.drain() >= 1
    assert [c for c in fake.of("chat.postMessage") if c.get("channel") == "D100"]


# ---- Socket Mode -------------------------------------------------------------------------------------


def test_socket_mode_smoke(tmp_path, knowledge, fake):
    import asyncio
    import threading

    from websockets.asyncio.server import serve

    fake.reset()
    acks: list[dict] = []
    got_ack = threading.Event()
    body = json.loads(event_body(message_event("시스템 중단 기간", channel="D100", ts="1700000050.000100"),
                                 event_id="EvSOCK1"))

    async def handler(ws):
        await ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        await ws.send(json.dumps({"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
                                  "retry_attempt": 0, "retry_reason": "", "payload": body}))
        async for msg in ws:
            acks.append(json.loads(msg))
            got_ack.set()

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            box["port"] = server.sockets[0].getsockname()[1]
            box["stop"] = asyncio.get_running_loop().create_future()
            ready.set()
            await box["stop"]

    t = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    t.start()
    assert ready.wait(5)
    fake.ws_url = f"ws://127.0.0.1:{box['port']}/link"
    services = build(slack_settings(tmp_path, knowledge, fake, slack_signing_secret=None, slack_app_token="xapp-test"))
    server = ServerThread(services, host="127.0.0.1", port=0).start()
    try:
        assert got_ack.wait(5)
        assert acks[0]["envelope_id"] == "env-1"
        (call,) = fake.wait_calls("chat.postMessage")
        assert call["thread_ts"] == "1700000050.000100"
        (conn,) = fake.of("apps.connections.open")
        assert conn["_token"] == "xapp-test"
    finally:
        server.stop()
        services.close()
        loop.call_soon_threadsafe(box["stop"].set_result, None)
        t.join(5)
