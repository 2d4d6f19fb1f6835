"""Reminder subscriptions ("알림", "알림 켜기", "알림 끄기") and time-aware phrases for answers."""
from __future__ import annotations

from bot.core.messages import Incoming, Reply
from handlers.registry import action, command, command_key


def _reminders(services):
    reminders = services.reminders
    if reminders is None:
        from bot.reminders.service import setup

        setup(services)
        reminders = services.reminders
    return reminders


@command("알림", "알림 켜기", "알림 끄기", "알림켜기", "알림끄기")
@action("reminders.toggle")
def subscription(incoming: Incoming, services) -> list[Reply]:
    reminders = _reminders(services)
    key = command_key(incoming.value or incoming.text)
    if key.endswith("켜기") or key == "on":
        reminders.subscribe(incoming.surface, incoming.user)
        on = True
    elif key.endswith("끄기") or key == "off":
        reminders.unsubscribe(incoming.surface, incoming.user)
        on = False
    else:
        on = reminders.toggle(incoming.surface, incoming.user)
    nxt = next(iter(reminders.occurrences(services.clock.now())), None)
    if on:
        text = "🔔 일정 알림을 받습니다. 자료입력 마감, 시스템 중단, 개통, 보고 기한을 미리 알려 드릴게요."
        if nxt is not None:
            from bot.knowledge.templates import kdatetime

            text += f"\n다음 알림: {kdatetime(nxt.at)} — {services.kb.milestones[nxt.milestone].name}"
        text += "\n그만 받으려면 '알림 끄기'라고 입력하세요."
    else:
        text = "🔕 일정 알림을 껐습니다. 다시 받으려면 '알림 켜기'라고 입력하세요."
    from bot.core.messages import Choice

    choice = Choice("알림 끄기", "reminders.toggle", "off") if on else Choice("알림 켜기", "reminders.toggle", "on")
    return [Reply(text, kind="notice", private=True, choices=[choice], data={"subscribed": on})]
