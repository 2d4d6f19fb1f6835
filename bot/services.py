"""The services a handler receives: built once from settings, passed in (never imported as globals).

`build(settings)` is the one place the bot is wired: the features it runs and the tables they and the
surfaces own are written out below, in the order they start. Only the HTTP app (bot.http), the command
line (bot.cli) and tests import this module; handlers and surfaces receive a `Services`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.core.messages import Reply
from bot.core.privacy import Cipher
from bot.infra import outbox as outbox_feature
from bot.infra import people
from bot.infra import signin as signin_feature
from bot.infra.signin import SignIn
from bot.infra.outbox import Outbox
from bot.infra.scheduler import Scheduler
from bot.infra.store import Migrations, Store
from bot.inquiries import protection
from bot.inquiries import service as inquiries_feature
from bot.inquiries.protection import Privacy
from bot.inquiries.service import Inquiries
from bot.knowledge import feedback as feedback_feature
from bot.knowledge.base import KnowledgeBase, load_knowledge
from bot.knowledge.feedback import Feedback
from bot.knowledge.search import Engine
from bot.knowledge.templates import Templates
from bot.reminders import service as reminders_feature
from bot.reminders.service import Reminders
from bot.surfaces.base import MIGRATIONS as SURFACE_TABLES
from bot.surfaces.slack.adapter import MIGRATIONS as SLACK_TABLES
from bot.surfaces.teams.adapter import MIGRATIONS as TEAMS_TABLES
from handlers.triage import undelivered

# The tables of the features below and of the surfaces (seen events, posted messages), in this order.
MIGRATIONS: tuple[Migrations, ...] = (
    outbox_feature.MIGRATIONS,
    feedback_feature.MIGRATIONS,
    inquiries_feature.MIGRATIONS,
    reminders_feature.MIGRATIONS,
    people.MIGRATIONS,
    signin_feature.MIGRATIONS,
    SLACK_TABLES,
    TEAMS_TABLES,
    SURFACE_TABLES,  # after the two above: it takes over their posts and seen events
)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    kb: KnowledgeBase
    engine: Engine
    store: Store
    templates: Templates
    # the features, attached by their `setup(services)` in `build`
    outbox: Outbox | None = None
    feedback: Feedback | None = None
    inquiries: Inquiries | None = None
    reminders: Reminders | None = None
    privacy: Privacy | None = None  # access records (their own file), destruction, the monthly review
    signin: SignIn | None = None  # the console's one-time links and sessions
    cipher: Cipher | None = None  # the subject-info key, loaded once (bot.core.privacy.service_cipher)
    # attached by the processes that run them: `bot.infra.scheduler.start`, `bot.metrics.install`
    scheduler: Scheduler | None = None
    metrics: Any = None  # bot.metrics.Metrics (the HTTP layer, above this one)

    def close(self) -> None:
        if self.privacy is not None:
            self.privacy.records.close()
        self.store.close()


def _tell_undelivered(services: Services, row: dict, reply: Reply) -> None:
    # the handlers decide who hears about a delivery given up on; their notices go out like any other
    for notice in undelivered(services, row.get("key", ""), reply):
        services.outbox.enqueue(notice, key=notice.key, surface=row["surface"], target=f"user:{notice.to_user}")


def build(settings: Settings | None = None, *, clock: Clock | None = None, store: Store | None = None,
          kb: KnowledgeBase | None = None) -> Services:
    """Everything the bot needs, from settings; any piece can be handed in (tests do)."""
    settings = settings or Settings.from_env()
    clock = clock or settings.clock()
    kb = kb or load_knowledge(settings.knowledge, extra=settings.extra_knowledge)
    if store is None:
        store = Store(settings.db_path, migrations=MIGRATIONS)
    else:
        store.migrate(MIGRATIONS)
    templates = Templates(kb, clock)
    engine = Engine.cached(kb, settings.data_dir, templates=templates)  # one template environment
    services = Services(settings=settings, clock=clock, kb=kb, engine=engine, store=store, templates=templates)
    outbox_feature.setup(services)
    services.outbox.on_failure.append(functools.partial(_tell_undelivered, services))
    feedback_feature.setup(services)
    inquiries_feature.setup(services)
    protection.setup(services)
    reminders_feature.setup(services)
    signin_feature.setup(services)
    return services
