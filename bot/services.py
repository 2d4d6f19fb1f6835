"""The services a handler receives: built once from settings, passed in (never imported as globals)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.knowledge.base import KnowledgeBase, load_knowledge
from bot.knowledge.search import Engine
from bot.infra.store import Store
from bot.knowledge.templates import Templates


@dataclass
class Services:
    settings: Settings
    clock: Clock
    kb: KnowledgeBase
    engine: Engine
    store: Store
    templates: Templates
    # Feature services (inquiries, reminders, outbound senders …) hang here by name.
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["extra"][name]
        except KeyError:
            raise AttributeError(name) from None

    def close(self) -> None:
        self.store.close()


def build(settings: Settings | None = None, *, clock: Clock | None = None, store: Store | None = None,
          kb: KnowledgeBase | None = None) -> Services:
    """Everything the bot needs, from settings; any piece can be handed in (tests do)."""
    settings = settings or Settings.from_env()
    clock = clock or settings.clock()
    kb = kb or load_knowledge(settings.knowledge, extra=settings.extra_knowledge)
    store = store or Store(settings.db_path)
    templates = Templates(kb, clock)
    engine = Engine.cached(kb, settings.data_dir, templates=templates)  # one template environment
    services = Services(settings=settings, clock=clock, kb=kb, engine=engine, store=store, templates=templates)
    for setup in SETUP_HOOKS:
        setup(services)
    return services


def _import_hooks() -> list:
    # Feature modules expose `setup(services)` to attach their services; missing ones are skipped so
    # the core runs on its own.
    import importlib

    hooks = []
    for mod in ("bot.infra.outbox", "bot.knowledge.feedback", "bot.inquiries.service", "bot.reminders.service"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        if hasattr(m, "setup"):
            hooks.append(m.setup)
    return hooks


class _LazyHooks(list):
    def __iter__(self):
        if not self:
            self.extend(_import_hooks())
        return super().__iter__()


SETUP_HOOKS: list = _LazyHooks()
