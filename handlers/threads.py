"""The conversation around an inquiry, and the user's home: decisions the surfaces only carry out.

- `thread.reply`: a message written in one of an inquiry's threads (`Incoming.value` = the receipt). Under
  the triage card (`Incoming.conversation == "triage"`, the adapter's name for its triage channel) it goes
  to the requester's DM; in the requester's DM thread it goes to the card's thread. Personal data is masked
  before the message is kept on the inquiry or sent anywhere.
- `reaction`: a reaction added to a message (`Incoming.value` = its name, `text` = the message, `topic` = the
  topic of the post, when the bot posted it): 🎫 `ticket` offers to file the message as an inquiry, 📖 `book`
  on a post about an inquiry offers its FAQ 등록.
- `home.open`: the user's home (Slack's App Home): their inquiries and the next deadlines, as replies.
- `inquiry.reply`: 답장하기, the requester's reply as a form, for surfaces without threads (Teams, terminal).
"""
from __future__ import annotations

import logging
from dataclasses import replace

from bot.inquiries.service import InquiryError, delivery_key
from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.core.privacy import find_personal_data, mask
from bot.knowledge.templates import dday

from handlers.common import error_reply, words
from handlers.inquiries import MAX_VALUE, mine, render
from handlers.registry import action
from handlers.triage import TRIAGE, card_key

log = logging.getLogger(__name__)

MAX_MESSAGE = 4000  # characters of a relayed message kept on the inquiry
HOME_DEADLINES = 5


@action("thread.reply")
def thread_reply(incoming: Incoming, services) -> list[Reply]:
    """Relay a reply between the triage card's thread (agents) and the requester's DM thread."""
    inquiries = getattr(services, "inquiries", None)
    if inquiries is None:
        return []
    try:
        i = inquiries.get(incoming.value or "")
    except InquiryError:
        return []
    from_triage = incoming.conversation == TRIAGE
    if from_triage and not inquiries.is_agent(incoming.user):
        # anyone can write in the triage channel's threads; only an agent speaks for the helpdesk
        return []
    if not from_triage and incoming.user != i.requester:
        return []
    findings = find_personal_data(incoming.text)
    text = mask(incoming.text, findings=findings)  # nothing below sees the raw text
    if findings:
        log.info("thread reply on inquiry %s: personal data masked before relaying", i.receipt)
    try:
        with services.store.transaction():
            # services.inquiries has no public call for a conversation message; its event log is the place
            inquiries._event(i.id, incoming.user, "message",
                             {"from": "agent" if from_triage else "requester", "text": text[:MAX_MESSAGE],
                              "surface": incoming.surface})
    except Exception as e:
        log.info("thread reply: keeping the message on the inquiry failed: %s", type(e).__name__)
    from bot.infra.people import name_of

    # labelled with its real author: the display name the surface gave (recorded by the router)
    author = incoming.user_name or name_of(services, incoming.user)
    words = render(services, "adapter_relay", receipt=i.receipt, author=author,
                   text=text, from_triage=from_triage)
    reply = Reply(words, kind="notice", topic=i.receipt, data={"receipt": i.receipt})
    if from_triage:
        return [replace(reply, to_user=i.requester)]
    from handlers.desk import info_received

    # the requester's answer to a 추가 정보 요청 returns the inquiry to 조치중
    return [replace(reply, to_conversation=TRIAGE, thread=card_key(i.receipt)),
            *info_received(services, i, incoming.user)]


TICKET, BOOK = "ticket", "book"  # the reactions' names (Slack's emoji names 🎫 and 📖)


@action("reaction")
def reaction(incoming: Incoming, services) -> list[Reply]:
    """What a reaction means: 🎫 files the message as an inquiry, 📖 on a post about an inquiry makes it a FAQ
    (no form can open from a reaction, so each is offered behind a button, to the reacting user only)."""
    if incoming.value == TICKET:
        return [Reply(render(services, "reaction_ticket"), private=True,
                      choices=[Choice(render(services, "reaction_ticket_button"), "inquiry.open",
                                      (incoming.text or "")[:MAX_VALUE], style="primary")])]
    if incoming.value == BOOK and incoming.topic:
        return [Reply(render(services, "reaction_book", receipt=incoming.topic), private=True,
                      choices=[Choice(render(services, "reaction_book_button"), "triage.promote", incoming.topic,
                                      style="primary")])]
    return []


def upcoming_milestones(services, limit: int = HOME_DEADLINES) -> list[dict]:
    """The next milestones (not yet over), soonest first: name, when, moment, dday."""
    now = services.clock.now()
    upcoming = sorted((m for m in services.kb.milestones.values() if m.moment and (m.end or m.moment) >= now),
                      key=lambda m: m.moment)[:limit]
    return [{"name": m.name, "when": m.when, "moment": m.moment, "dday": dday(m.moment, now)} for m in upcoming]


@action("home.open")
def home(incoming: Incoming, services) -> list[Reply]:
    """The user's home: their inquiries (with 보기 buttons), then the next deadlines."""
    replies: list[Reply] = []
    try:
        replies = [r for r in mine(replace(incoming, action="inquiry.mine", value=""), services)
                   if r.kind not in ("answer", "decline")]
    except Exception as e:  # the deadlines are still worth showing
        log.info("home: inquiries unavailable: %s", type(e).__name__)
    try:
        milestones = upcoming_milestones(services)
    except Exception as e:
        log.info("home: deadlines unavailable: %s", type(e).__name__)
        milestones = []
    if milestones:
        replies.append(Reply(render(services, "adapter_home_deadlines", milestones=milestones), kind="notice",
                             data={"milestones": milestones}))
    return replies


def _reply(services, i, errors: dict | None = None) -> Reply:
    """The 답장 form for inquiry `i` (its requester's)."""
    form = Form(action="inquiry.reply.submit", title=words(services, "reply_title", receipt=i.receipt),
                submit_label="보내기", state=i.receipt, errors=dict(errors or {}), fields=[
                    Field("message", "담당자에게 보낼 내용", kind="textarea", required=True, max_length=MAX_MESSAGE,
                          hint=words(services, "reply_hint"))])
    return Reply(words(services, "reply_intro", receipt=i.receipt), kind="form", private=True, form=form)


def _requesters(incoming: Incoming, services):
    """(the inquiry `incoming.value` names, []) when it is the user's own, else (None, a refusal)."""
    try:
        i = services.inquiries.get(incoming.value or "")
    except InquiryError as e:
        return None, error_reply(services, str(e))
    if incoming.user != i.requester:
        return None, error_reply(services, words(services, "reply_own_only"))
    return i, []


@action("inquiry.reply")
def reply_form(incoming: Incoming, services) -> list[Reply]:
    """답장하기 under the helpdesk's message or 추가 정보 요청: the requester's way back on a surface with no
    thread to reply in (Teams' personal chat, the terminal); it ends where a thread reply does."""
    i, refused = _requesters(incoming, services)
    return refused if i is None else [_reply(services, i)]


@action("inquiry.reply.submit")
def reply_submit(incoming: Incoming, services) -> list[Reply]:
    i, refused = _requesters(incoming, services)
    if i is None:
        return refused
    text = str((incoming.form or {}).get("message") or "").strip()
    if not text:
        return [_reply(services, i, {"message": words(services, "reply_empty")})]
    relayed = thread_reply(replace(incoming, action="thread.reply", text=text, value=i.receipt, conversation=None,
                                   form=None), services)
    # each reply its own delivery: without a key, a form's surface may file it under the inquiry's receipt DM
    n = sum(1 for e in services.inquiries.get(i.receipt, events=True).events if e.kind == "message")
    relayed = [r if r.key else replace(r, key=delivery_key(i.receipt, f"reply-{n}-{k}")) for k, r in enumerate(relayed)]
    return [Reply(render(services, "inquiry_notify", event="reply_sent", receipt=i.receipt, title=i.title),
                  kind="notice", private=True), *relayed]
