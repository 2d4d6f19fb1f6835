"""Crash recovery at start-up: finish what a killed process had committed but not yet announced.

Filing an inquiry commits the inquiry first and queues its notifications (the triage card, the requester's
receipt) just after, in the outbox. A process killed between the two leaves an inquiry nobody at the
helpdesk hears about. `reconcile()` finds such inquiries and queues the missing messages under the very
delivery keys the handlers use, so a message that was queued after all is never sent twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)
# Younger inquiries may still be in their filing process's hands (it queues their notices right after the
# commit). Queueing them here as well is harmless (the same delivery keys), so the wait is short: a restart
# announces what a crash cut off within seconds.
SETTLE = timedelta(seconds=5)


def reconcile(services, *, settle: timedelta = SETTLE, lookback: timedelta = LOOKBACK) -> dict[str, int]:
    """Queue the triage card (and, for Slack, the receipt DM) of inquiries whose filing was cut short, and the
    answer notice of inquiries whose answer was recorded but never announced."""
    outbox = services.outbox
    inquiries = services.inquiries
    counts = {"cards": 0, "receipts": 0}
    if outbox is None or inquiries is None:
        return counts
    from bot.core.messages import Incoming
    from bot.infra.people import name_of
    from bot.inquiries.service import DONE, delivery_key
    from handlers.inquiries import filed_replies
    from handlers.triage import card_key, notify_requester, triage_card, triage_news

    now = services.clock.now()
    since, until = now - lookback, now - settle
    filed = inquiries.filed_between(since, until)
    known = outbox.known(card_key(number) for number, _, _ in filed)
    for number, source, requester in filed:
        if card_key(number) in known or source not in outbox.senders:
            continue  # announced after all, or another surface's process reconciles its own
        i = inquiries.get(number)
        card = triage_card(services, i)
        if outbox.enqueue(card, key=card.key, surface=source, target=f"channel:{card.to_conversation}"):
            counts["cards"] += 1
        if source == "slack":
            ack = filed_replies(services, Incoming(user=requester, surface=source), i)[0]
            if outbox.enqueue(ack, key=delivery_key(number, "receipt"), surface=source, target=f"user:{requester}"):
                counts["receipts"] += 1
    # answered inquiries whose requester was never told (the kill came between the answer and the notice)
    answered = inquiries.answered_between(since, until)
    known = outbox.known(delivery_key(number, event) for number, _ in answered for event in ("answered", "completed"))
    counts["answers"] = 0
    for number, source in answered:
        if {delivery_key(number, "answered"), delivery_key(number, "completed")} & known:
            continue
        if source not in outbox.senders:
            continue
        i = inquiries.get(number)
        notice = notify_requester(services, i, "answered")
        if outbox.enqueue(notice, key=notice.key, surface=source, target=f"user:{i.requester}"):
            counts["answers"] += 1
        for update in triage_news(services, "answered", receipt=i.receipt, agent=name_of(services, i.assignee),
                                  done=i.status == DONE):
            outbox.enqueue(update, key=str(update.key), surface=source, target=f"channel:{update.to_conversation}")
    if any(counts.values()):
        log.warning("recovery: queued %d triage cards, %d receipts and %d answer notices cut off by a crash",
                    counts["cards"], counts["receipts"], counts["answers"])
    return counts


async def run(services, *, settle_seconds: float = SETTLE.total_seconds()) -> None:
    """At start-up: reconcile now, and once more when the inquiries of the moment of the crash have settled."""
    import asyncio

    loop = asyncio.get_running_loop()
    settle = timedelta(seconds=settle_seconds)
    for delay in (0.0, settle_seconds + 1):
        await asyncio.sleep(delay)
        try:
            await loop.run_in_executor(None, lambda: reconcile(services, settle=settle))
        except Exception as e:  # never fatal: the next start-up tries again
            log.warning("recovery: reconcile failed: %s", type(e).__name__)
