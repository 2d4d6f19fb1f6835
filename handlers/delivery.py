"""One path for a helpdesk action taken outside a chat (the web console, the CLI): run the same handler a
chat click runs, queue what it says to others (the requester's DM, the triage card update) in the outbox on
the surface the inquiry came from, and hand back what it says to the actor."""
from __future__ import annotations

import uuid

from bot.core.messages import Incoming, Reply

# the surfaces a requester can be told on (an inquiry imported with `ieum inquiries file` has none)
CHAT_SURFACES = ("slack", "teams", "console")


def act(services, incoming: Incoming, *, source: str) -> list[Reply]:
    """Dispatch `incoming`; out-of-band replies go to the outbox for surface `source`; returns the rest."""
    from handlers.router import dispatch

    mine: list[Reply] = []
    for reply in dispatch(incoming, services):
        if reply.to_conversation:
            target = f"channel:{reply.to_conversation}"
        elif reply.to_user and reply.to_user != incoming.user:
            target = f"user:{reply.to_user}"
        else:
            mine.append(reply)
            continue
        if source not in CHAT_SURFACES:
            continue
        # the handlers' delivery keys make a repeated action (a double submit) send nothing twice
        services.outbox.enqueue(reply, key=reply.key or f"act:{uuid.uuid4().hex}", surface=source, target=target)
    return mine
