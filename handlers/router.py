"""Routes an `Incoming` to the handler that owns it.

Handler modules register themselves: `@action("inquiry.open")` for button clicks (matched on
`Incoming.action`) and `@command("내 질의", "내질의")` for typed commands (matched on the whole message,
ignoring spacing). Anything else is a question for the answer engine.
"""
from __future__ import annotations

import importlib
import logging
import re
import unicodedata
from typing import Callable

from bot.messages import Incoming, Reply

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, "object"], list[Reply]]
ACTIONS: dict[str, Handler] = {}
COMMANDS: dict[str, Handler] = {}

# Handler modules, imported on first dispatch so that their decorators run.
HANDLER_MODULES = [
    "handlers.answers",
    "handlers.inquiries",
    "handlers.triage",
    "handlers.reminders",
]


def action(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler for button clicks with these action names."""

    def register(fn: Handler) -> Handler:
        for name in names:
            ACTIONS[name] = fn
        return fn

    return register


def command_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s!?.~/]+", "", text)


def command(*words: str) -> Callable[[Handler], Handler]:
    """Register a handler for a typed command (the whole message, spacing ignored)."""

    def register(fn: Handler) -> Handler:
        for w in words:
            COMMANDS[command_key(w)] = fn
        return fn

    return register


_loaded = False


def load_handlers() -> None:
    global _loaded
    if _loaded:
        return
    for mod in HANDLER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
    _loaded = True


class UnknownAction(LookupError):
    """A button names an action no handler owns."""


def dispatch(incoming: Incoming, services) -> list[Reply]:
    """The single entry point every adapter calls."""
    from bot.metrics import observe

    try:
        replies = _route(incoming, services)
    except Exception:
        observe(services, incoming, error=True)
        raise
    observe(services, incoming, replies)
    return replies


def _route(incoming: Incoming, services) -> list[Reply]:
    load_handlers()
    if incoming.action:
        fn = ACTIONS.get(incoming.action)
        if fn is None:
            # the name comes from the client (a button can be edited): logged only when it looks like one
            name = incoming.action if re.fullmatch(r"[a-z][a-z0-9_.]{0,40}", incoming.action) else "(invalid name)"
            log.warning("unknown action %s", name)
            return [Reply("이 버튼은 더 이상 사용할 수 없습니다. 다시 질문해 주세요.", kind="error", private=True)]
        return fn(incoming, services)
    fn = COMMANDS.get(command_key(incoming.text))
    if fn is not None:
        return fn(incoming, services)
    from handlers.answers import answer_question

    return answer_question(incoming, services)
