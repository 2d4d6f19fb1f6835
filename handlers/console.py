"""The helpdesk web console from chat: `콘솔` (Slack `/ieum 콘솔`, Teams personal chat) sends an agent a
one-time sign-in link, privately. The console's own actions come back through the triage handlers."""
from __future__ import annotations

from bot.core.messages import Incoming, Reply
from bot.infra.signin import LINK_MINUTES

from handlers.common import render
from handlers.registry import command
from handlers.triage import agents_only


def signin_link(services, user: str, minutes: float = LINK_MINUTES) -> str:
    """A new one-time sign-in URL for agent `user` (the caller has checked that `user` is one)."""
    token = services.signin.issue(user, minutes)
    return f"{services.settings.console_url}/console/signin?token={token}"


@command("콘솔", "헬프데스크 콘솔")
@agents_only
def console_link(incoming: Incoming, services) -> list[Reply]:
    url = signin_link(services, incoming.user)
    # to the agent's own DM, never a channel; "sensitive": the outbox keeps it encrypted and wipes it once sent
    return [Reply(render(services, "console_link", url=url, minutes=LINK_MINUTES), kind="notice", private=True,
                  to_user=incoming.user, data={"sensitive": True})]
