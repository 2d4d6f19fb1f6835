"""The helpdesk's triage: agents only, atomic claims (two agents at once: one wins), notifications to the
requester, triage-channel cards without subject info, answering, completing and promoting to FAQ."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from bot.core.clock import SEOUL
from bot.inquiries.service import DONE, IN_PROGRESS, AlreadyClaimed, Inquiries
from bot.core.messages import Incoming
from conftest import BOTH
from handlers.router import dispatch

NOW = datetime(2022, 8, 29, 10, 0, tzinfo=SEOUL)
AGENTS = ("agent1", "agent2")


def file(s, **kw):
    data = dict(title="보조금 정산보고 화면 오류", category="전체업무 > 사회서비스 > 시군구보고 > 보조금 정산보고",
                type="시스템오류", requester="u1", requester_name="김성현", content="저장 버튼이 동작하지 않습니다.",
                subject_info="대상자 이순신 850101-1234567")
    data.update(kw)
    return s.inquiries.file(**data)


def act(s, user, action, value="", form=None):
    return dispatch(Incoming(user=user, action=action, value=value, form=form), s)


def test_filing_posts_a_triage_card_without_subject_info(services):
    values = {"title": "보조금 정산보고 화면 오류", "category": "전체업무 > ERP > 회계", "type": "시스템오류",
              "content": "저장 안 됨", "subject_info": "이순신 850101-1234567", "urgent": True}
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value="{}", form=values), services)
    card = next(r for r in replies if r.to_conversation == "triage")
    assert "0000000001" in card.text and "🚨긴급" in card.text and "대상자 정보: 있음" in card.text
    assert "850101" not in card.text and "이순신" not in card.text
    assert card.key == "inquiry-0000000001-filed"
    assert [c.action for c in card.choices][0] == "triage.assign"


def test_only_agents_triage(services):
    i = file(services)
    for action in ("triage.assign", "triage.start", "triage.answer", "triage.complete", "triage.promote"):
        reply = act(services, "u1", action, i.receipt)[0]
        assert reply.kind == "error" and "담당자만" in reply.text
    assert act(services, "u1", "triage.answer.submit", i.receipt, {"answer": "x"})[0].kind == "error"
    assert dispatch(Incoming(user="u1", text="질의 목록"), services)[0].kind == "error"
    assert services.inquiries.get(i.receipt).assignee is None


def test_assign_notifies_and_the_second_agent_is_told(services):
    i = file(services)
    replies = act(services, "agent1", "triage.assign", i.receipt)
    note = next(r for r in replies if r.to_user == "u1")
    assert note.key == "inquiry-0000000001-assigned" and "담당자가 정해졌습니다" in note.text
    assert any(r.to_conversation == "triage" and "agent1" in r.text for r in replies)
    lost = act(services, "agent2", "triage.assign", i.receipt)
    assert lost[0].kind == "error" and "이미 agent1님이 맡은 질의" in lost[0].text
    assert len(lost) == 1  # nobody else hears about a failed claim
    again = act(services, "agent1", "triage.assign", i.receipt)
    assert "이미 맡고 있는" in again[0].text


@pytest.mark.parametrize("store_kind", BOTH)
def test_concurrent_claims_one_wins(tmp_path, make, open_store):
    base = make(tmp_path)
    receipts = [file(base).receipt for _ in range(8)]
    # Two agents, each with its own connection(s) to the same database, claim at the same moment (as two
    # processes would: on PostgreSQL too).
    workers = [Inquiries(open_store(tmp_path / "ieum.db"), kb=base.kb, clock=base.clock,
                         cipher=base.inquiries.cipher, agents=AGENTS) for _ in AGENTS]
    for receipt in receipts:
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def claim(agent, inq):
            barrier.wait()
            try:
                inq.assign(receipt, agent)
                results[agent] = "won"
            except AlreadyClaimed as e:
                results[agent] = f"lost to {e.assignee}"

        threads = [threading.Thread(target=claim, args=(a, w)) for a, w in zip(AGENTS, workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [a for a, r in results.items() if r == "won"]
        assert len(winners) == 1, results
        loser = next(a for a in AGENTS if a not in winners)
        assert results[loser] == f"lost to {winners[0]}"
        assert base.inquiries.get(receipt).assignee == winners[0]
        events = [e for e in base.inquiries.get(receipt, events=True).events if e.kind == "assigned"]
        assert len(events) == 1
    for w in workers:
        w.store.close()
    base.close()


def test_start_answer_complete_through_chat(services):
    i = file(services)
    act(services, "agent1", "triage.assign", i.receipt)
    replies = act(services, "agent1", "triage.start", i.receipt)
    assert services.inquiries.get(i.receipt).status == IN_PROGRESS
    assert any(r.to_user == "u1" and r.key == "inquiry-0000000001-started" for r in replies)
    assert act(services, "agent2", "triage.answer", i.receipt)[0].kind == "error"
    form = act(services, "agent1", "triage.answer", i.receipt)[0].form
    assert form.action == "triage.answer.submit" and form.state == i.receipt
    bad = act(services, "agent1", "triage.answer.submit", i.receipt, {"answer": "이 번호로 전화: 010-1234-5678"})
    assert bad[0].form.errors["answer"].startswith("답변에 개인정보")
    replies = act(services, "agent1", "triage.answer.submit", i.receipt, {"answer": "패치했습니다.", "complete": False})
    assert services.inquiries.get(i.receipt).status == IN_PROGRESS
    assert next(r for r in replies if r.to_user == "u1").key == "inquiry-0000000001-answered"
    replies = act(services, "agent1", "triage.complete", i.receipt)
    assert services.inquiries.get(i.receipt).status == DONE
    note = next(r for r in replies if r.to_user == "u1")
    assert note.key == "inquiry-0000000001-completed" and any(c.action == "inquiry.rate" for c in note.choices)
    for r in replies:
        assert "850101" not in r.text


def test_assignee_reads_subject_info_privately(services):
    i = file(services)
    denied = act(services, "agent2", "inquiry.subject", i.receipt)[0]
    assert denied.kind == "error" and "850101" not in denied.text
    act(services, "agent2", "triage.assign", i.receipt)
    shown = act(services, "agent2", "inquiry.subject", i.receipt)[0]
    assert "850101-1234567" in shown.text and shown.private and shown.to_user == "agent2"
    assert shown.to_conversation is None
    view = act(services, "agent2", "inquiry.view", i.receipt)[0]
    assert "850101" not in view.text and any(c.action == "inquiry.subject" for c in view.choices)


def test_promote_through_chat_makes_a_faq_answer(services):
    i = file(services, title="보조금 정산보고 저장 버튼 오류")
    act(services, "agent1", "triage.answer.submit", i.receipt, {"answer": "브라우저 캐시를 지우고 다시 저장하세요."})
    form = act(services, "agent1", "triage.promote", i.receipt)[0].form
    values = {f.name: f.initial for f in form.fields}
    values["questions"] = "정산보고 저장이 안돼요"
    replies = act(services, "agent1", "triage.promote.submit", i.receipt, values)
    assert any(r.to_conversation == "triage" for r in replies)
    result = services.engine.answer("보조금 정산보고 저장 버튼 오류")
    assert result.best and result.best.entry.id == f"inquiry-{i.receipt}"
    answer = services.templates.render_answer(result.best.entry)
    assert "캐시" in answer and "850101" not in answer


def test_agent_queue_lists_open_inquiries(services):
    file(services, urgent=True)
    done = file(services)
    services.inquiries.answer(done.receipt, "agent1", "답변")
    reply = dispatch(Incoming(user="agent1", text="질의 목록"), services)[0]
    assert "0000000001" in reply.text and "0000000002" not in reply.text
    assert reply.data["total"] == 1


def test_open_for_reminders(services):
    i = file(services)
    assert services.inquiries.open_for_reminders() == []
    services.inquiries.assign(i.receipt, "agent1")
    (item,) = services.inquiries.open_for_reminders()
    assert item["receipt"] == i.receipt and item["assignee"] == "agent1" and item["due_at"]


def test_recovery_queues_what_a_crash_cut_off_under_the_handlers_keys(services):
    from datetime import timedelta

    from handlers.recovery import reconcile

    s = services
    s.outbox.register_sender("slack", lambda target, reply: None)
    i = file(s, source="slack")  # filed, then the process died before queueing its messages
    j = file(s, source="slack")
    s.outbox.enqueue(act(s, "u1", "inquiry.view", j.receipt)[0], key="inquiry-0000000002-filed", surface="slack",
                     target="channel:triage")  # this one's card went out
    s.clock.set(NOW + timedelta(minutes=5))
    assert reconcile(s) == {"cards": 1, "receipts": 1, "answers": 0}
    assert s.outbox.get("inquiry-0000000001-filed")["target"] == "channel:triage"
    assert s.outbox.get("inquiry-0000000001-receipt")["target"] == "user:u1"
    s.inquiries.answer(i.receipt, "agent1", "다시 저장해 보세요.")  # answered, then killed before the notices
    s.clock.set(NOW + timedelta(minutes=10))
    assert reconcile(s) == {"cards": 0, "receipts": 0, "answers": 1}
    assert s.outbox.get("inquiry-0000000001-answered")["target"] == "user:u1"
    assert s.outbox.status("inquiry-0000000001-answered-triage") is not None
    assert reconcile(s) == {"cards": 0, "receipts": 0, "answers": 0}  # never twice
