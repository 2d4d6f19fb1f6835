"""One direction of flow (issue 12): the inquiries feature decides, in neutral `Reply` fields, what the
surfaces only carry out (threads, card edits, receipts, reactions); one post log and one reply-destination
rule for every surface; the environment read by bot.core.config alone; the inquiries table read by its
feature alone."""
from __future__ import annotations

import ast
import time

import pytest

from bot.core.config import PROJECT_ROOT, Settings
from bot.core.messages import Form, Incoming, Reply
from bot.infra.store import Store
from bot.services import MIGRATIONS
from bot.surfaces.base import DM, HERE, QUEUE, PostLog, destination
from bot.surfaces.slack.adapter import MIGRATIONS as SLACK_TABLES
from bot.surfaces.teams.adapter import MIGRATIONS as TEAMS_TABLES
from handlers.router import dispatch

AGENTS = ("agent1", "agent2")


def _file(services, user="u1"):
    return services.inquiries.file(title="보조금 정산보고 화면 오류", category="전체업무 > ERP > 회계", type="시스템오류",
                                   requester=user, content="저장 버튼이 동작하지 않습니다.", source="slack")


def act(services, user, action, value="", **kw):
    return dispatch(Incoming(user=user, action=action, value=value, **kw), services)


# ---- the feature decides -------------------------------------------------------------------------


def test_triage_news_names_the_cards_thread_and_replaces_the_card(services):
    i = _file(services)
    replies = act(services, "agent1", "triage.assign", i.receipt)
    card_key = f"inquiry-{i.receipt}-filed"
    update = next(r for r in replies if r.to_conversation == "triage" and not r.edit)
    assert (update.thread, update.topic) == (card_key, i.receipt)
    (edit,) = [r for r in replies if r.edit]
    assert edit.edit == card_key and edit.to_conversation == "triage" and edit.key == f"{update.key}-card"
    assert update.text.splitlines()[0] in edit.text  # the card shows the latest step under it
    assert "triage.assign" not in [c.action for c in edit.choices]  # claimed: no 맡기 any more
    # a step that can happen again (추가 정보 요청) edits the card every time, under a key of its own
    first = act(services, "agent1", "triage.ask.submit", i.receipt, form={"question": "화면을 알려 주세요"})
    again = act(services, "agent1", "triage.ask.submit", i.receipt, form={"question": "메뉴도 알려 주세요"})
    keys = [r.key for r in first + again if r.edit]
    assert len(keys) == 2 and len(set(keys)) == 2


def test_the_requesters_receipt_carries_its_own_key_and_topic(services):
    values = {"title": "보조금 정산보고 화면 오류", "category": "전체업무 > ERP > 회계", "type": "시스템오류",
              "content": "저장 안 됨"}
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value="{}", form=values), services)
    receipt = replies[0].data["receipt"]
    assert (replies[0].key, replies[0].topic) == (f"inquiry-{receipt}-receipt", receipt)
    card = next(r for r in replies if r.to_conversation == "triage")
    assert (card.key, card.topic, card.thread) == (f"inquiry-{receipt}-filed", receipt, None)


def test_a_thread_reply_from_the_requester_goes_under_the_card(services):
    i = _file(services)
    (relay, *_) = act(services, "u1", "thread.reply", i.receipt, text="급여 메뉴 첫 화면입니다", topic=i.receipt)
    assert relay.to_conversation == "triage" and relay.thread == f"inquiry-{i.receipt}-filed"


def test_reactions_mean_what_the_handlers_say(services):
    i = _file(services)
    (ticket,) = act(services, "u9", "reaction", "ticket", text="회계 전표 승인이 안 됩니다")
    assert ticket.private and [(c.action, c.value) for c in ticket.choices] == [("inquiry.open", "회계 전표 승인이 안 됩니다")]
    (book,) = act(services, "agent1", "reaction", "book", topic=i.receipt)
    assert book.private and [(c.action, c.value) for c in book.choices] == [("triage.promote", i.receipt)]
    assert act(services, "agent1", "reaction", "book") == []  # not a post about an inquiry
    assert act(services, "u9", "reaction", "thumbsup", text="좋아요") == []


def test_help_has_an_action_for_a_surfaces_own_gesture(services):
    (help_reply,) = act(services, "u1", "help.open", surface="slack")
    assert "/ieum 질의" in help_reply.text


# ---- one rule, one table, for every surface ----------------------------------------------------


@pytest.mark.parametrize("reply, kw, where", [
    (Reply("x", to_conversation="triage"), {}, QUEUE),
    (Reply("x", to_user="u2"), {}, QUEUE),
    (Reply("x"), {}, HERE),
    (Reply("x", private=True), {}, HERE),  # Slack: ephemeral; Teams: the personal chat
    (Reply("x", private=True), {"private_here": False}, DM),  # Teams, in a channel
    (Reply("x", form=Form("a", "t", [])), {"private_here": False}, DM),
    (Reply("x", to_user="u1"), {}, DM),  # named for the user's DM ...
    (Reply("x", to_user="u1"), {"dm_here": True}, HERE),  # ... which is where the user is
    (Reply("x", to_user="u1", private=True), {}, HERE),
    (Reply("x"), {"answer_here": False}, DM),  # Slack: a modal's submission, closed
])
def test_destination_is_one_rule_for_every_surface(reply, kw, where):
    assert destination(reply, "u1", **{"private_here": True, **kw}) == where


def test_old_surface_tables_move_into_the_shared_post_log(tmp_path):
    store = Store(tmp_path / "old.db", migrations=(SLACK_TABLES, TEAMS_TABLES))
    now = time.time()
    with store.transaction():
        store.conn.execute("INSERT INTO slack_posts (key, channel, ts, created_at, ref) VALUES"
                           " ('inquiry-0000000001-filed', 'C1', '1.2', ?, '0000000001')", [now])
        store.conn.execute("INSERT INTO teams_posts (key, conversation, activity_id, ref, created_at) VALUES"
                           " ('inquiry-0000000002-filed', '19:t', 'a1', '0000000002', ?)", [now])
        store.conn.execute("INSERT INTO slack_seen (event_id, seen_at) VALUES ('Ev1', ?)", [now])
        store.conn.execute("INSERT INTO teams_seen (id, seen_at) VALUES ('c|1', ?)", [now])
    store.migrate(MIGRATIONS)
    slack, teams = PostLog(store, "slack"), PostLog(store, "teams")
    assert slack.find("inquiry-0000000001-filed") == ("C1", "1.2") and slack.topic_at("C1", "1.2") == "0000000001"
    assert teams.key_at(None, "a1") == "inquiry-0000000002-filed"
    assert not slack.claim("Ev1") and not teams.claim("c|1") and slack.claim("c|1")  # seen per surface
    tables = set(store.db.table_names())
    assert not tables & {"slack_posts", "teams_posts", "slack_seen", "teams_seen"}
    store.close()


# ---- the rules of the house --------------------------------------------------------------------


def _sources():
    for pkg in ("bot", "handlers"):
        for path in sorted((PROJECT_ROOT / pkg).rglob("*.py")):
            yield path.relative_to(PROJECT_ROOT).as_posix(), path.read_text(encoding="utf-8")


def test_the_environment_is_read_in_config_only():
    readers = []
    for name, text in _sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and getattr(node.value, "id", "") == "os" and name != "bot/core/config.py":
                readers.append(f"{name}:{node.lineno}")
    assert readers == []


def test_config_hands_the_agents_sdk_its_variables():
    env = {"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "app", "CONNECTIONSMAP__0__SERVICEURL": "*",
           "AGENTAPPLICATION__USERAUTHORIZATION__AUTO": "false", "HOME": "/root"}
    extra = Settings.from_env(env).extra
    assert set(extra) == set(env) - {"HOME"}


def test_only_the_inquiries_feature_reads_its_table():
    import re

    sql = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+inquiries\b")  # SQL keywords, as our SQL writes them
    readers = [name for name, text in _sources() if sql.search(text) and not name.startswith("bot/inquiries/")]
    assert readers == []
