"""The helpdesk's side: triage cards, claiming, starting, answering, completing, promoting to FAQ.

Only agents (`settings.agents`) may triage. Cards go to the triage conversation
(`Reply(to_conversation="triage")`, mapped by each adapter to its channel); the requester hears about
progress by direct message (`Reply(to_user=requester, key=…)`, the key making delivery idempotent).
Subject info never appears here: the assignee opens it privately with `inquiry.subject`.

The inquiry's conversation is decided here, in neutral fields the surfaces carry out: every post about an
inquiry has its receipt as `topic`; news in the triage channel goes in the thread of the inquiry's card
(`thread=card_key(receipt)`), and after each step the card itself is replaced in place (`edit=card_key(…)`).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import replace

from bot.inquiries.service import DONE, INFO_REQUESTED, IN_PROGRESS, WAITING, AlreadyClaimed, AlreadyYours, InquiryError, Invalid, delivery_key
from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.infra.people import name_of

from handlers.common import error_reply, rating_choices, render, words
from handlers.registry import action, command

log = logging.getLogger(__name__)

TRIAGE = "triage"


def agent_choices(i, user: str) -> list[Choice]:
    """The next triage steps for an inquiry, as buttons."""
    out: list[Choice] = []
    if i.status == DONE:
        if i.answer and not i.faq_id:
            out.append(Choice("FAQ 등록", "triage.promote", i.receipt))
        return out
    if i.assignee is None:
        out.append(Choice("맡기", "triage.assign", i.receipt, style="primary"))
    if i.status == WAITING:
        out.append(Choice("조치 시작", "triage.start", i.receipt))
    out.append(Choice("답변하기", "triage.answer", i.receipt, style="primary" if i.assignee == user else ""))
    if i.answer:
        out.append(Choice("조치완료", "triage.complete", i.receipt))
    return out


def triage_card(services, i) -> Reply:
    """The card for a new inquiry in the triage channel (no subject info, content masked and cut)."""
    from bot.core.privacy import mask

    inq = services.inquiries
    content = mask(i.content)
    content = content if len(content) <= 300 else content[:300] + "…"
    text = render(services, "triage_new", i=i.public_dict(), due=i.due, remaining=inq.remaining_label(i),
                   content=content, question=mask(i.question)[:200])
    return Reply(text, kind="notice", to_conversation=TRIAGE, key=card_key(i.receipt), topic=i.receipt,
                 choices=[Choice("맡기", "triage.assign", i.receipt, style="primary"),
                          Choice("보기", "inquiry.view", i.receipt)],
                 data={"receipt": i.receipt, "status": i.status, "urgent": i.urgent})


def card_key(receipt: str) -> str:
    """The delivery key of an inquiry's triage card: its thread holds the inquiry's news, edits replace it."""
    return delivery_key(receipt, "filed")


def triage_update(services, event: str, *, key: str | None = None, **data) -> Reply:
    """A step told in the triage channel, in the thread of the inquiry's card."""
    receipt = data.get("receipt")
    return Reply(render(services, "triage_update", event=event, **data), kind="notice", to_conversation=TRIAGE,
                 key=key or delivery_key(receipt, f"{event}-triage"), thread=card_key(receipt), topic=receipt,
                 data={"event": event, **data})


def refreshed_card(services, receipt: str, update: Reply | None = None) -> Reply:
    """The inquiry's triage card now: the first line of `update` under it, the next triage steps and 보기."""
    i = services.inquiries.get(receipt)
    card = triage_card(services, i)
    latest = update.text.strip().splitlines()[0] if update is not None and update.text.strip() else ""
    text = card.text + (f"\n\n{latest}" if latest else "")
    choices = [c for c in agent_choices(i, "") if c.action != "triage.answer" or i.status != DONE]
    choices += [c for c in card.choices if c.action == "inquiry.view"]
    return replace(card, text=text, choices=choices)


def card_refresh(services, update: Reply) -> list[Reply]:
    """The card of `update`'s inquiry as it stands now, replacing the card in place (delivered with the update)."""
    try:
        card = refreshed_card(services, str(update.topic), update)
    except InquiryError:
        return []
    return [replace(card, key=f"{update.key}-card", edit=card_key(str(update.topic)), thread=None)]


def triage_news(services, event: str, *, key: str | None = None, **data) -> list[Reply]:
    """A step in the triage channel: the update in the card's thread, then the card refreshed."""
    update = triage_update(services, event, key=key, **data)
    return [update, *card_refresh(services, update)]


def notify_requester(services, i, event: str, *, key: str | None = None) -> Reply:
    done = i.status == DONE
    text = render(services, "inquiry_notify", event=event, receipt=i.receipt, title=i.title, answer=i.answer or "",
                   done=done)
    choices = []
    if done:
        choices = rating_choices(i.receipt)
        choices.append(Choice("재질의", "inquiry.reinquire", i.receipt))
    return Reply(text, kind="notice", to_user=i.requester, key=key or delivery_key(i.receipt, event),
                 choices=choices, topic=i.receipt, data={"receipt": i.receipt, "event": event, "status": i.status})


def undelivered(services, key: str, reply: Reply) -> list[Reply]:
    """What to say when the outbox gave up on `reply` (key `key`): a triage card that never reached the
    helpdesk is told to its requester (a message to the requester that failed cannot be told to them)."""
    receipt = (reply.data or {}).get("receipt")
    if not receipt or key != card_key(receipt):
        return []
    try:
        i = services.inquiries.get(receipt)
    except InquiryError:
        return []
    return [Reply(render(services, "inquiry_undelivered", receipt=i.receipt), kind="notice", to_user=i.requester,
                  key=delivery_key(i.receipt, "undelivered"), topic=i.receipt, data={"receipt": i.receipt})]


def agents_only(handler):
    """Refuse the handler to anyone who is not a helpdesk agent."""

    @functools.wraps(handler)
    def guarded(incoming: Incoming, services) -> list[Reply]:
        if not services.inquiries.is_agent(incoming.user):
            return error_reply(services, words(services, "agents_only"))
        return handler(incoming, services)

    return guarded


def _announce(services, i, event: str, user: str, *, agent: str | None = None, keys: tuple = (None, None),
              **extra) -> list[Reply]:
    """One triage step told three ways: to the agent (with the next steps), in the triage channel (with the
    card refreshed), and to the requester. `keys`: the triage update's and the requester's delivery keys,
    where a step can happen more than once."""
    data = {"receipt": i.receipt, **({"agent": agent} if agent else {}), **extra}
    return [
        Reply(render(services, "triage_update", event=event, **data), kind="notice", private=True,
              choices=agent_choices(i, user)),
        *triage_news(services, event, key=keys[0], **data),
        notify_requester(services, i, event, key=keys[1]),
    ]


@action("triage.assign")
@agents_only
def assign(incoming: Incoming, services) -> list[Reply]:
    try:
        before = services.inquiries.get(incoming.value or "")
        i = services.inquiries.assign(before.receipt, incoming.user)
    except AlreadyClaimed as e:
        return error_reply(services, words(services, "already_claimed", assignee=name_of(services, e.assignee)),
                           data={"assignee": e.assignee})
    except AlreadyYours:  # already theirs, or their other click (another window, another process) won
        i = services.inquiries.get(before.receipt)
        return [Reply(render(services, "inquiry_error", message=words(services, "already_yours", receipt=i.receipt)),
                      kind="notice", private=True, choices=agent_choices(i, incoming.user))]
    except InquiryError as e:
        return error_reply(services, str(e))
    return _announce(services, i, "assigned", incoming.user, agent=name_of(services, incoming.user))


@action("triage.start")
@agents_only
def start(incoming: Incoming, services) -> list[Reply]:
    try:
        before = services.inquiries.get(incoming.value or "")
        i = services.inquiries.start(before.receipt, incoming.user)
    except InquiryError as e:
        return error_reply(services, str(e))
    replies = _announce(services, i, "started", incoming.user, agent=name_of(services, incoming.user))
    if before.status == WAITING and i.status == IN_PROGRESS:
        return replies
    return replies[:1]  # already started: only the agent hears it again


@action("triage.answer")
@agents_only
def answer_form(incoming: Incoming, services) -> list[Reply]:
    try:
        i = services.inquiries.get(incoming.value or "")
    except InquiryError as e:
        return error_reply(services, str(e))
    if i.assignee not in (None, incoming.user):
        return error_reply(services, words(services, "assignee_only", assignee=name_of(services, i.assignee)))
    return [Reply(words(services, "answer_intro", receipt=i.receipt), kind="form", private=True,
                  form=_answer_form(services, i))]


def _answer_form(services, i, *, values: dict | None = None, errors: dict | None = None) -> Form:
    v = values or {}
    return Form(action="triage.answer.submit", title=words(services, "answer_title", receipt=i.receipt),
                submit_label="답변 등록",
                state=i.receipt, errors=dict(errors or {}), fields=[
                    Field("answer", "답변", kind="textarea", required=True, max_length=4000,
                          initial=v.get("answer", i.answer or ""), hint=words(services, "answer_hint")),
                    Field("complete", "조치완료로 처리", kind="boolean", initial=v.get("complete", True)),
                ])


@action("triage.answer.submit")
@agents_only
def answer_submit(incoming: Incoming, services) -> list[Reply]:
    from bot.inquiries.service import _as_bool

    values = dict(incoming.form or {})
    try:
        before = services.inquiries.get(incoming.value or "")
        i = services.inquiries.answer(before.receipt, incoming.user, str(values.get("answer") or ""),
                                      complete=_as_bool(values.get("complete", True)))
    except Invalid as e:
        return [Reply(words(services, "answer_intro", receipt=before.receipt), kind="form", private=True,
                      form=_answer_form(services, before, values=values, errors=e.errors))]
    except InquiryError as e:
        return error_reply(services, str(e))
    return _announce(services, i, "answered", incoming.user, agent=name_of(services, incoming.user),
                     done=i.status == DONE)


@action("triage.complete")
@agents_only
def complete(incoming: Incoming, services) -> list[Reply]:
    try:
        before = services.inquiries.get(incoming.value or "")
        i = services.inquiries.complete(before.receipt, incoming.user)
    except InquiryError as e:
        return error_reply(services, str(e))
    if before.status == DONE:
        return error_reply(services, words(services, "already_done", receipt=i.receipt))
    return _announce(services, i, "completed", incoming.user)


@action("triage.promote")
@agents_only
def promote_form(incoming: Incoming, services) -> list[Reply]:
    try:
        i = services.inquiries.get(incoming.value or "")
    except InquiryError as e:
        return error_reply(services, str(e))
    if not i.answer:
        return error_reply(services, words(services, "promote_needs_answer"))
    return [Reply(words(services, "promote_intro", receipt=i.receipt), kind="form", private=True,
                  form=_promote_form(services, i))]


def _promote_form(services, i, *, values: dict | None = None, errors: dict | None = None) -> Form:
    v = values or {}
    return Form(action="triage.promote.submit", title=words(services, "promote_title", receipt=i.receipt),
                submit_label="FAQ 등록",
                state=i.receipt, errors=dict(errors or {}), fields=[
                    Field("title", "FAQ 제목", required=True, max_length=100, initial=v.get("title", i.title)),
                    Field("answer", "FAQ 답변", kind="textarea", required=True, initial=v.get("answer", i.answer)),
                    Field("questions", "다른 질문 표현 (줄마다 하나)", kind="textarea", required=False,
                          initial=v.get("questions", "")),
                ])


@action("triage.promote.submit")
@agents_only
def promote_submit(incoming: Incoming, services) -> list[Reply]:
    values = dict(incoming.form or {})
    try:
        i = services.inquiries.get(incoming.value or "")
        questions = [q for q in str(values.get("questions") or "").splitlines() if q.strip()]
        if i.question:
            questions.append(i.question)
        entry = services.inquiries.promote_to_faq(i.receipt, incoming.user, title=values.get("title") or None,
                                                  answer=values.get("answer") or None, questions=questions)
    except Invalid as e:
        return [Reply(words(services, "promote_intro", receipt=i.receipt), kind="form", private=True,
                      form=_promote_form(services, i, values=values, errors=e.errors))]
    except InquiryError as e:
        return error_reply(services, str(e))
    return [
        Reply(render(services, "triage_update", event="promoted", receipt=i.receipt, title=entry.title),
              kind="notice", private=True, data={"entry_id": entry.id}),
        *triage_news(services, "promoted", receipt=i.receipt, title=entry.title),
    ]


@command("질의 목록", "접수 목록", "대기 질의")
@agents_only
def queue(incoming: Incoming, services) -> list[Reply]:
    """For agents: the open inquiries, urgent and oldest first in the seed's list order (newest first)."""
    inq = services.inquiries
    page = inq.list(status=[WAITING, IN_PROGRESS, INFO_REQUESTED], per_page=15)
    now = services.clock.now()
    items = [{"receipt": i.receipt, "status": i.status, "urgent": i.urgent, "title": i.title,
              "category_short": i.category_short, "type": i.type, "assignee": name_of(services, i.assignee),
              "remaining": inq.remaining_label(i, now)} for i in page.items]
    choices = [Choice(f"{i.receipt} {i.title[:30]}", "inquiry.view", i.receipt) for i in page.items[:5]]
    return [Reply(render(services, "triage_list", items=items, total=page.total, label=words(services, "queue_label")),
                  choices=choices, private=True, data={"items": items, "total": page.total})]
