"""Reminder subscriptions ("알림", "알림 켜기", "알림 끄기") and time-aware phrases for answers."""
from __future__ import annotations

from bot.core.messages import Choice, Incoming, Reply
from handlers.common import words
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
    last = None if nxt is not None else max((o.at for o in reminders.occurrences(None)), default=None)
    text = services.templates.render("reminder_subscribed", on=on, next_at=nxt.at if nxt else None,
                                     next_name=services.kb.milestones[nxt.milestone].name if nxt else "",
                                     last_at=last)
    state = "off" if on else "on"  # the button turns it the other way
    choice = Choice(words(services, f"reminders_{state}"), "reminders.toggle", state)
    return [Reply(text, kind="notice", private=True, choices=[choice], data={"subscribed": on})]
