"""Small talk the answer engine leaves to the data: `knowledge/smalltalk.yaml` maps a reply (greeting,
chitchat, …: the `reason` of templates/decline.j2) to the messages that get it.

The engine declines these anyway; this only picks the friendlier reply, so agents can add
"ㅎㅇ" or "점심 뭐 먹지" without touching the engine.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml

from bot.core.text import normalize

FILE = "smalltalk.yaml"


@functools.lru_cache(maxsize=8)
def _patterns(root: str) -> tuple[tuple[str, re.Pattern], ...]:
    path = Path(root) / FILE
    if not path.is_file():
        return ()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for reason, phrases in raw.items():
        for phrase in phrases or []:
            # a phrase matches the whole message, spacing and a trailing ?/!/~ ignored
            words = [re.escape(w) for w in normalize(str(phrase)).split()]
            out.append((str(reason), re.compile(r"^" + r"\s*".join(words) + r"[\s?!.~^ㅋㅎ]*$")))
    return tuple(out)


def reason(kb, text: str) -> str | None:
    """The small-talk reply `text` deserves, or None when it is not listed."""
    if kb.root is None or not text:
        return None
    key = normalize(text)
    return next((r for r, p in _patterns(str(kb.root)) if p.match(key)), None)
