"""What the chat surface adapters share: the services they use, their words, the router, the outbox.

Each adapter (Slack, Teams) subclasses `Adapter`; only the translation to and from its surface differs.
- words: `text(name, **data)` renders `NAME.j2` from the knowledge base's templates, else the surfaces' own
  (`bot/surfaces/templates/adapter_*.j2` shared, `bot/surfaces/<surface>/templates/` per surface: package data,
  not the folder helpdesk agents edit); `texts` holds the adapter's fixed phrases (its `TEXTS`), rendered once.
- handlers: `dispatch(incoming)` is the router, nothing else.
- out of band: `send_out_of_band(reply, key=…)` queues a reply in the outbox for the adapter's `send`
  (DMs, the triage channel, updates in place), then drains.
- dedupe tables: the ids of events already handled are kept `SEEN_DAYS` days (`prune_seen` at start-up).
"""
from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.messages import Incoming, Reply

log = logging.getLogger(__name__)

SEEN_DAYS = 7  # chat platforms retry an event for minutes, never for days


SURFACES_DIR = Path(__file__).resolve().parent


def template_dirs() -> list[str]:
    """The surfaces' template folders: the shared one, then each surface's (names are prefixed, never clash)."""
    return [str(SURFACES_DIR / "templates"), *sorted(str(d) for d in SURFACES_DIR.glob("*/templates"))]


@functools.lru_cache(maxsize=1)
def _bundled_env() -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=jinja2.FileSystemLoader(template_dirs()),
                                undefined=jinja2.ChainableUndefined, autoescape=False, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=False)


def bundled_text(name: str, /, **data) -> str:
    """Template `NAME.j2` of the surfaces (the adapters' own phrases need no knowledge base)."""
    return _bundled_env().get_template(f"{name}.j2").render(**data).strip()


def bundled_texts(names) -> dict[str, str]:
    return {name: bundled_text(name) for name in names}


def prune_seen(store, table: str, *, days: float = SEEN_DAYS) -> int:
    """Delete the rows of a seen-event table (`seen_at` in epoch seconds) older than `days`."""
    with store.transaction():
        cur = store.conn.execute(f"DELETE FROM {table} WHERE seen_at < ?", [time.time() - days * 86400])
    return cur.rowcount


class Adapter:
    """The plumbing every surface adapter has; subclasses set `SURFACE`, `TEXTS`, `executor`, `send`."""

    SURFACE = ""
    TEXTS: tuple[str, ...] = ()  # template names rendered once into `texts`

    def __init__(self, services, *, settings=None):
        self.services = services
        self.settings = settings or services.settings
        self.executor = None
        self.outbox = None
        self._texts: dict[str, str] = {}

    # -- services

    def attach_outbox(self) -> None:
        """Take the services' outbox (set it up if needed) and register `send` as this surface's sender."""
        outbox = getattr(self.services, "outbox", None)
        if outbox is None:
            try:
                from bot.infra import outbox as outbox_mod
            except ModuleNotFoundError:
                outbox_mod = None
            if outbox_mod is not None:
                outbox_mod.setup(self.services)
                outbox = self.services.outbox
        self.outbox = outbox
        if outbox is not None:
            outbox.register_sender(self.SURFACE, self.send)

    def prune_seen(self, table: str) -> None:
        """Forget handled event ids older than `SEEN_DAYS` (never fatal: dedupe works with more rows too)."""
        try:
            n = prune_seen(self.services.store, table)
            if n:
                log.info("%s: %d seen event id(s) older than %d days pruned", self.SURFACE, n, SEEN_DAYS)
        except Exception as e:
            log.warning("%s: pruning seen event ids failed: %s", self.SURFACE, type(e).__name__)

    # -- words

    def text(self, name: str, /, **data) -> str:
        try:
            return self.services.templates.render(name, **data)
        except jinja2.TemplateNotFound:
            return bundled_text(name, **data)

    @property
    def texts(self) -> dict[str, str]:
        if not self._texts:
            self._texts = {name: self.text(name) for name in self.TEXTS}
        return self._texts

    # -- handlers

    def dispatch(self, incoming: Incoming) -> list[Reply]:
        from handlers.router import dispatch

        return dispatch(incoming, self.services)

    # -- delivery

    def send(self, target: str, reply: Reply) -> None:
        """The outbox sender: deliver `reply` to `target` ("user:<id>" / "channel:<id>" / "channel:triage")."""
        raise NotImplementedError

    def send_out_of_band(self, reply: Reply, *, key: str, default_user: str = "", drain: bool = True) -> None:
        """Queue a reply for a DM (`to_user`, else `default_user`) or a conversation (`to_conversation`)."""
        if reply.to_user or not reply.to_conversation:
            target = f"user:{reply.to_user or default_user}"
        else:
            target = f"channel:{reply.to_conversation}"
        if self.outbox is None:
            try:
                self.send(target, reply)
            except Exception as e:
                log.warning("%s: out-of-band delivery %s failed: %s", self.SURFACE, key, type(e).__name__)
            return
        self.outbox.enqueue(reply, key=key, surface=self.SURFACE, target=target)
        if drain:
            self.drain()

    def drain(self) -> None:
        try:
            self.outbox.drain()
        except Exception as e:
            log.warning("%s: outbox drain failed: %s", self.SURFACE, type(e).__name__)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=False)
