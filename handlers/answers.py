"""Answering a question from the knowledge base, and the choices that follow an answer."""
from __future__ import annotations

import logging

from bot.core.messages import Choice, Incoming, Reply
from bot.knowledge.search import Result

from handlers.common import words
from handlers.registry import action, command

log = logging.getLogger(__name__)

MAX_VALUE = 1500  # button values travel through Slack (2,000 chars) and Teams; keep them short


def _choices_after_answer(query: str, entry_id: str) -> list[Choice]:
    q = query[:MAX_VALUE]
    return [
        Choice("예", "feedback.yes", f"{entry_id}\n{q}", style="primary"),
        Choice("아니요", "feedback.no", f"{entry_id}\n{q}"),
        Choice("다른 답변 보기", "answer.more", f"{entry_id}\n{q}"),
        Choice("질의하기", "inquiry.open", q),
    ]


def result_json(result: Result, templates) -> dict:
    """The `ask --json` contract of ../shared/eval/score.py."""
    best = result.best
    return {
        "query": result.query,
        "answered": result.answered,
        "answer": templates.render_reply_answer(best.entry, result.query) if result.answered and best else None,
        "entry_id": best.entry_id if result.answered and best else None,
        "score": round(best.score, 1) if best else 0.0,
        "reason": result.reason,
        "alternatives": [
            {"entry_id": m.entry_id, "title": m.title,
             "answer": templates.render_reply_answer(m.entry, result.query), "score": round(m.score, 1)}
            for m in result.alternatives
        ],
    }


def result_text(result: Result, templates) -> str:
    if result.answered and result.best:
        return templates.render("answer", title=result.best.title,
                                answer=templates.render_reply_answer(result.best.entry, result.query))
    return templates.render("decline", reason=result.reason, query=result.query,
                            suggestions=[m.title for m in result.alternatives[:2]])


def _answer_reply(services, entry, *, query: str, thread: str | None, score: float | None = None) -> Reply:
    """One answer with its follow-up choices, the same wherever it comes from."""
    t = services.templates
    return Reply(t.render("answer", title=entry.title, answer=t.render_reply_answer(entry, query)),
                 choices=_choices_after_answer(query, entry.id), kind="answer",
                 data={"entry_id": entry.id, "title": entry.title, "score": score, "query": query},
                 thread=thread)


def answer_question(incoming: Incoming, services) -> list[Reply]:
    query = (incoming.text or "").strip()
    result = services.engine.answer(query)
    if not result.answered:
        from bot.knowledge import smalltalk

        result.reason = smalltalk.reason(services.kb, query) or result.reason
    log.info("answer answered=%s reason=%s entry=%s score=%.1f", result.answered, result.reason,
             result.best.entry_id if result.best else None, result.best.score if result.best else 0)
    _record(services, result)
    if result.answered and result.best and result.close:
        # Two or three entries about as likely: ask which one rather than guess; a button answers it.
        options = [result.best, *result.close[:2]]
        return [Reply(services.templates.render("clarify", titles=[m.title for m in options]),
                      choices=[Choice(m.title[:60], "answer.show", f"{m.entry_id}\n{query[:MAX_VALUE]}")
                               for m in options],
                      kind="clarify", data={"entry_ids": [m.entry_id for m in options], "query": query},
                      thread=incoming.thread)]
    if result.answered and result.best:
        return [_answer_reply(services, result.best.entry, query=query, thread=incoming.thread,
                              score=result.best.score)]
    choices = []
    if result.reason == "unknown":
        choices.append(Choice("질의하기", "inquiry.open", query[:MAX_VALUE], style="primary"))
        for m in result.alternatives[:2]:
            choices.append(Choice(m.title[:60], "answer.show", m.entry_id))
    return [Reply(result_text(result, services.templates), choices=choices, kind="decline",
                  data={"reason": result.reason, "query": query}, thread=incoming.thread)]


def _record(services, result: Result) -> None:
    feedback = getattr(services, "feedback", None)
    if feedback is not None:
        try:
            feedback.record_answer(result)
        except Exception as e:  # a statistic: never worth losing the answer over (e.g. a full disk)
            log.warning("answer statistics not recorded: %s", type(e).__name__)


def _split_value(value: str | None) -> tuple[str, str]:
    entry_id, _, query = (value or "").partition("\n")
    return entry_id, query


@action("answer.more")
def more_answers(incoming: Incoming, services) -> list[Reply]:
    entry_id, query = _split_value(incoming.value)
    matches = [m for m in services.engine.search(query, limit=4) if m.entry_id != entry_id][:2]
    if not matches:
        return [Reply(services.templates.render("no_more"), choices=[Choice("질의하기", "inquiry.open", query)],
                      kind="decline", thread=incoming.thread)]
    return [_answer_reply(services, m.entry, query=query, thread=incoming.thread, score=m.score) for m in matches]


@action("answer.show")
def show_entry(incoming: Incoming, services) -> list[Reply]:
    # value: the entry id, and after a clarification also the question asked ("id\nquestion")
    entry_id, query = _split_value(incoming.value)
    entry = services.engine.entries.get(entry_id)
    if entry is None:
        return [Reply(words(services, "entry_not_found"), kind="error")]
    return [_answer_reply(services, entry, query=query or entry.title, thread=incoming.thread)]


@action("feedback.yes", "feedback.no")
def feedback(incoming: Incoming, services) -> list[Reply]:
    entry_id, query = _split_value(incoming.value)
    helpful = incoming.action == "feedback.yes"
    store = getattr(services, "feedback", None)
    if store is not None:
        store.record_feedback(user=incoming.user, entry_id=entry_id, query=query, helpful=helpful,
                              surface=incoming.surface)
    if helpful:
        return [Reply(services.templates.render("feedback_yes"), kind="notice", private=True, thread=incoming.thread)]
    return [Reply(services.templates.render("feedback_no"), kind="notice", private=True, thread=incoming.thread,
                  choices=[Choice("다른 답변 보기", "answer.more", incoming.value or ""),
                           Choice("질의하기", "inquiry.open", query, style="primary")])]


@command("도움말", "help", "사용법", "명령어")
@action("help.open")  # a surface's own gesture for help (Slack: `/ieum` alone)
def help_text(incoming: Incoming, services) -> list[Reply]:
    agent = services.inquiries.is_agent(incoming.user)
    return [Reply(services.templates.render("help", surface=incoming.surface, agent=agent), kind="notice",
                  choices=[Choice("질의하기", "inquiry.open", ""), Choice("내 질의", "inquiry.mine", "")])]
