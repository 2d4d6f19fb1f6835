"""The tables of what handlers own: `@action("inquiry.open")` for button clicks (matched on
`Incoming.action`) and `@command("내 질의", "내질의")` for typed commands (matched on the whole message,
ignoring spacing). Handler modules register into it; `handlers.router` imports them and reads it, so
handlers and the router never import each other.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

from bot.core.messages import Incoming, Reply

Handler = Callable[[Incoming, "object"], list[Reply]]
ACTIONS: dict[str, Handler] = {}
COMMANDS: dict[str, Handler] = {}
PATTERNS: list[tuple[re.Pattern, Handler]] = []  # typed commands with an argument, e.g. a receipt number


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


def pattern(regex: str) -> Callable[[Handler], Handler]:
    """Register a handler for messages that (stripped) match `regex` in full."""

    def register(fn: Handler) -> Handler:
        PATTERNS.append((re.compile(regex), fn))
        return fn

    return register
