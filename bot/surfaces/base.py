"""What the chat surface adapters share: the services they use, their words, the router, the outbox.

Each adapter (Slack, Teams) subclasses `Adapter`; only the translation to and from its surface differs.
- words: `text(name, **data)` renders `NAME.j2` from the knowledge base's templates, else the surfaces' own
  (`bot/surfaces/templates/adapter_*.j2` shared, `bot/surfaces/<surface>/templates/` per surface: package data,
  not the folder helpdesk agents edit); `texts` holds the adapter's fixed phrases (its `TEXTS`), rendered once.
- handlers: `dispatch(incoming)` is the router, nothing else.
- where a reply goes: `destination(reply, user, …)` says, the same way for every surface, whether one of a
  turn's replies is said here, in the user's DM, or queued for another user or conversation; the surface
  only says what it can do here (show something privately, treat this conversation as the user's DM).
- out of band: `send_out_of_band(reply, key=…)` queues a reply in the outbox for the adapter's `send`
  (DMs, the triage channel, updates in place), then drains. The handlers' conversation "triage" is the
  surface's triage channel (`conversation_id`); while none is configured, what goes there is skipped (said
  once at start-up).
- posts and seen events: `PostLog` keeps, in one table for every surface, each post sent with a delivery
  key (its conversation, the surface's message id and its `topic`), so that a later reply can go in its
  thread (`Reply.thread`), replace it (`Reply.edit`), or come back about its topic; and the ids of events
  already handled, kept `SEEN_DAYS` days (pruned at start-up).
"""
from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.messages import Incoming, Reply
from bot.infra.store import Migrations

log = logging.getLogger(__name__)

SEEN_DAYS = 7  # chat platforms retry an event for minutes, never for days
TRIAGE = "triage"  # the handlers' name for the helpdesk's triage conversation
HERE, DM, QUEUE = "here", "dm", "queue"  # where one of a turn's replies goes (`destination`)


class SurfaceConfigError(ValueError):
    """A surface's settings leave out what a delivery needs."""


# ---- posts and seen events ---------------------------------------------------------------------


MIGRATIONS = Migrations("surfaces")  # applied after the Slack and Teams sets (bot.services lists them)


@MIGRATIONS("surfaces_001_posts_seen")
def _posts_seen(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS surface_posts (surface TEXT NOT NULL, key TEXT NOT NULL,"
               " conversation TEXT NOT NULL, message TEXT NOT NULL, topic TEXT, created_at REAL NOT NULL,"
               " PRIMARY KEY (surface, key))")
    db.execute("CREATE INDEX IF NOT EXISTS surface_posts_message ON surface_posts (surface, conversation, message)")
    db.execute("CREATE TABLE IF NOT EXISTS surface_seen (surface TEXT NOT NULL, id TEXT NOT NULL,"
               " seen_at REAL NOT NULL, PRIMARY KEY (surface, id))")
    # the Slack and Teams adapters each kept these in tables of their own, in two shapes, before
    tables = set(db.table_names())
    moves = [("slack_posts", "INSERT OR IGNORE INTO surface_posts SELECT 'slack', key, channel, ts, ref, created_at"
                             " FROM slack_posts"),
             ("teams_posts", "INSERT OR IGNORE INTO surface_posts SELECT 'teams', key, conversation, activity_id, ref,"
                             " created_at FROM teams_posts"),
             ("slack_seen", "INSERT OR IGNORE INTO surface_seen SELECT 'slack', event_id, seen_at FROM slack_seen"),
             ("teams_seen", "INSERT OR IGNORE INTO surface_seen SELECT 'teams', id, seen_at FROM teams_seen")]
    for table, copy in moves:
        if table in tables:
            db.execute(copy)
            db.execute(f"DROP TABLE {table}")


class PostLog:
    """One surface's posts by delivery key and the event ids it has handled (tables shared by all surfaces)."""

    def __init__(self, store, surface: str):
        self.store = store
        self.surface = surface

    def claim(self, ident: str) -> bool:
        """True the first time an event id is seen (the caller handles it), False for a repeat."""
        with self.store.transaction():
            cur = self.store.conn.execute("INSERT OR IGNORE INTO surface_seen (surface, id, seen_at) VALUES (?, ?, ?)",
                                          [self.surface, ident, time.time()])
            return cur.rowcount == 1

    def seen_count(self) -> int:
        return self.store.conn.execute("SELECT count(*) FROM surface_seen WHERE surface=?", [self.surface]).fetchone()[0]

    def prune_seen(self, *, days: float = SEEN_DAYS) -> int:
        """Forget the handled event ids older than `days`."""
        with self.store.transaction():
            cur = self.store.conn.execute("DELETE FROM surface_seen WHERE surface=? AND seen_at < ?",
                                          [self.surface, time.time() - days * 86400])
        return cur.rowcount

    def remember(self, key: str, conversation: str, message: str, topic: str | None = None) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT OR REPLACE INTO surface_posts (surface, key, conversation, message, topic, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", [self.surface, key, conversation, message, topic, time.time()])

    def find(self, key: str) -> tuple[str, str] | None:
        """(conversation, message id) of the post sent with delivery key `key`."""
        with self.store.transaction():
            row = self.store.conn.execute("SELECT conversation, message FROM surface_posts WHERE surface=? AND key=?",
                                          [self.surface, key]).fetchone()
        return (row[0], row[1]) if row else None

    def _at(self, column: str, conversation: str | None, message: str | None) -> str | None:
        if not message:
            return None
        where = "surface=? AND message=?" + (" AND conversation=?" if conversation is not None else "")
        args = [self.surface, message] + ([conversation] if conversation is not None else [])
        with self.store.transaction():
            row = self.store.conn.execute(
                f"SELECT {column} FROM surface_posts WHERE {where} AND {column} IS NOT NULL ORDER BY created_at LIMIT 1",
                args).fetchone()
        return row[0] if row else None

    def key_at(self, conversation: str | None, message: str | None) -> str | None:
        """The delivery key of the post `message` (in `conversation`, when given)."""
        return self._at("key", conversation, message)

    def topic_at(self, conversation: str | None, message: str | None) -> str | None:
        """The topic (`Reply.topic`) of the post `message` (in `conversation`, when given)."""
        return self._at("topic", conversation, message)


# ---- where a reply goes ------------------------------------------------------------------------


def destination(reply: Reply, user: str, *, private_here: bool, dm_here: bool = False,
                answer_here: bool = True) -> str:
    """Where one of the replies to `user`'s turn goes: HERE (the conversation the user acted in), DM (the
    user's direct messages) or QUEUE (out of band: to the other user or the conversation the reply names).

    What the surface can do here: `private_here`, show a private reply or a form to the user alone (Slack's
    ephemeral messages and modals; Teams only in the personal chat); `dm_here`, this conversation is the
    user's DM (Teams' personal chat; Slack's DMs go through the outbox, keyed); `answer_here`, there is a
    conversation to answer in at all (not after a Slack modal closed)."""
    if reply.to_conversation or reply.to_user not in (None, user):
        return QUEUE
    if not answer_here:
        return DM
    if reply.private or reply.form is not None:
        return HERE if private_here else DM
    if reply.to_user == user and not dm_here:
        return DM
    return HERE


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


class Adapter:
    """The plumbing every surface adapter has; subclasses set `SURFACE`, `TEXTS`, `executor`, `send`."""

    SURFACE = ""
    TEXTS: tuple[str, ...] = ()  # template names rendered once into `texts`
    TRIAGE_SETTING = ""  # the variable naming the surface's triage channel (said when it is unset)

    def __init__(self, services, *, settings=None, triage_channel: str | None = None):
        self.services = services
        self.settings = settings or services.settings
        self.executor = None
        self.outbox = None
        self._texts: dict[str, str] = {}
        self.posts = PostLog(services.store, self.SURFACE)
        self.triage_channel = triage_channel
        if not triage_channel:
            log.warning("%s: %s", self.SURFACE, self.text("adapter_no_triage", setting=self.TRIAGE_SETTING))
        try:
            n = self.posts.prune_seen()
            if n:
                log.info("%s: %d seen event id(s) older than %d days pruned", self.SURFACE, n, SEEN_DAYS)
        except Exception as e:  # never fatal: dedupe works with more rows too
            log.warning("%s: pruning seen event ids failed: %s", self.SURFACE, type(e).__name__)

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

    def conversation_id(self, name: str) -> str:
        """The surface's id of a conversation the handlers name ("triage": the triage channel)."""
        if name != TRIAGE:
            return name
        if not self.triage_channel:
            raise SurfaceConfigError(self.text("adapter_no_triage", setting=self.TRIAGE_SETTING))
        return self.triage_channel

    def conversation_name(self, conversation: str | None) -> str | None:
        """The handlers' name of one of the surface's conversations ("triage" for the triage channel)."""
        return TRIAGE if conversation and conversation == self.triage_channel else conversation

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
        if reply.to_conversation == TRIAGE and not reply.to_user and not self.triage_channel \
                and self.outbox is not None:
            # a configuration choice, said once at start-up: kept as skipped, never retried
            self.outbox.skip(None, key=key, surface=self.SURFACE, target=target, note=f"{self.TRIAGE_SETTING} unset")
            return
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
