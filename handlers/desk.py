"""The helpdesk's further steps (the web console's buttons, usable from any surface): 추가 정보 요청,
재개, internal notes. Like the triage handlers, each is told to the agent, in the triage channel and, when
it concerns them, to the requester on their surface."""
from __future__ import annotations

from bot.core.messages import Choice, Incoming, Reply
from bot.infra.people import name_of
from bot.inquiries.service import InquiryError, Invalid, delivery_key

from handlers.common import error_reply, render
from handlers.registry import action
from handlers.triage import _announce, agent_choices, agents_only, triage_news


def _reply_choice(i) -> Choice:
    """답장하기 (handlers.threads): the requester's way back where there is no thread to reply in."""
    return Choice("답장하기", "inquiry.reply", i.receipt)


def _count(services, i, kind: str) -> int:
    return sum(1 for e in services.inquiries.get(i.receipt, events=True).events if e.kind == kind)


@action("triage.ask.submit")
@agents_only
def ask_submit(incoming: Incoming, services) -> list[Reply]:
    """추가 정보 요청: the requester is asked on their surface; a reply in that message's thread comes back
    (handlers.threads) and returns the inquiry to 조치중."""
    question = str((incoming.form or {}).get("question") or "")
    try:
        i = services.inquiries.request_info(incoming.value or "", incoming.user, question)
    except Invalid as e:
        return error_reply(services, " ".join(e.errors.values()))
    except InquiryError as e:
        return error_reply(services, str(e))
    n = _count(services, i, "info_requested")  # each request is its own delivery
    agent = name_of(services, incoming.user)
    asked = Reply(render(services, "inquiry_notify", event="info_requested", receipt=i.receipt, title=i.title,
                         question=question.strip()), kind="notice", to_user=i.requester,
                  key=delivery_key(i.receipt, f"info-{n}"), topic=i.receipt, choices=[_reply_choice(i)],
                  data={"receipt": i.receipt, "event": "info_requested", "status": i.status})
    replies = _announce(services, i, "info_requested", incoming.user, agent=agent,
                        keys=(delivery_key(i.receipt, f"info-{n}-triage"), None))
    return [*replies[:-1], asked]  # the request itself, not the generic notice, goes to the requester


@action("triage.message.submit")
@agents_only
def message(incoming: Incoming, services) -> list[Reply]:
    """A free-form message to the requester on an open inquiry: on their surface, as a reply in the card's
    thread would be, and kept in the conversation; the status stays as it is."""
    text = str((incoming.form or {}).get("message") or "")
    try:
        i = services.inquiries.message(incoming.value or "", incoming.user, text, surface=incoming.surface)
    except Invalid as e:
        return error_reply(services, " ".join(e.errors.values()))
    except InquiryError as e:
        return error_reply(services, str(e))
    n = sum(1 for e in i.events if e.kind == "message")  # each message is its own delivery
    words = render(services, "adapter_relay", receipt=i.receipt, author=name_of(services, incoming.user),
                   text=i.events[-1].detail["text"], from_triage=True)  # as kept: masked
    return [Reply(render(services, "triage_update", event="messaged", receipt=i.receipt), kind="notice",
                  private=True, choices=agent_choices(i, incoming.user)),
            Reply(words, kind="notice", to_user=i.requester, key=delivery_key(i.receipt, f"message-{n}"),
                  topic=i.receipt, choices=[_reply_choice(i)], data={"receipt": i.receipt})]


@action("triage.reopen")
@agents_only
def reopen(incoming: Incoming, services) -> list[Reply]:
    try:
        i = services.inquiries.reopen(incoming.value or "", incoming.user)
    except InquiryError as e:
        return error_reply(services, str(e))
    n = _count(services, i, "reopened")
    return _announce(services, i, "reopened", incoming.user, agent=name_of(services, incoming.user),
                     keys=(delivery_key(i.receipt, f"reopened-{n}-triage"), delivery_key(i.receipt, f"reopened-{n}")))


@action("triage.note.submit")
@agents_only
def note(incoming: Incoming, services) -> list[Reply]:
    """An internal note: agents only, never sent to the requester or a channel."""
    try:
        i = services.inquiries.note(incoming.value or "", incoming.user, str((incoming.form or {}).get("note") or ""))
    except Invalid as e:
        return error_reply(services, " ".join(e.errors.values()))
    except InquiryError as e:
        return error_reply(services, str(e))
    return [Reply(render(services, "triage_update", event="noted", receipt=i.receipt), kind="notice", private=True,
                  choices=agent_choices(i, incoming.user))]


def info_received(services, i, user: str) -> list[Reply]:
    """The requester replied to a 추가 정보 요청 (handlers.threads): 조치중 again, told in the triage channel."""
    back = services.inquiries.info_received(i.receipt, user)
    if back is None:
        return []
    n = _count(services, back, "info_received")
    return triage_news(services, "info_received", key=delivery_key(back.receipt, f"info-received-{n}-triage"),
                       receipt=back.receipt)
