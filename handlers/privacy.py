"""대상자 정보 삭제: the requester has their subject info and attachments destroyed (파기) at once.

The same on every surface: the typed command lists one's inquiries still holding personal data, the
button (on the list and on the inquiry's detail) asks to confirm, the confirmation destroys. The work and
the 파기 대장 are bot.inquiries.protection's.
"""
from __future__ import annotations

from bot.core.messages import Choice, Incoming, Reply
from bot.inquiries.service import InquiryError

from handlers.common import error_reply, render, words
from handlers.registry import action, command


@command("대상자 정보 삭제", "대상자정보 삭제", "개인정보 삭제")
def destroy_list(incoming: Incoming, services) -> list[Reply]:
    held = services.inquiries.holding_personal_data(requester=incoming.user)
    choices = [Choice(f"{r} 삭제", "privacy.destroy", r) for r in held[:10]]
    return [Reply(render(services, "privacy_destroy", step="list", receipts=held), choices=choices,
                  kind="message", private=True)]


@action("privacy.destroy")
def destroy_ask(incoming: Incoming, services) -> list[Reply]:
    try:
        i = services.inquiries.get(incoming.value or "")
    except InquiryError as e:
        return error_reply(services, str(e))
    if i.requester != incoming.user:
        return error_reply(services, words(services, "destroy_own_only"))
    return [Reply(render(services, "privacy_destroy", step="confirm", receipt=i.receipt), kind="message",
                  private=True, choices=[Choice("삭제 확인", "privacy.destroy.confirm", i.receipt)])]


@action("privacy.destroy.confirm")
def destroy(incoming: Incoming, services) -> list[Reply]:
    try:
        gone = services.privacy.destroy_on_request(incoming.value or "", incoming.user, where=incoming.surface)
        number = services.inquiries.get(incoming.value or "").receipt
    except InquiryError as e:
        return error_reply(services, str(e))
    return [Reply(render(services, "privacy_destroy", step="done", receipt=number, gone=gone), kind="notice",
                  private=True)]
