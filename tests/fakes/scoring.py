"""How ../shared/eval/score.py judges an answer: every expected group has one alternative in it, both sides
normalised (NFKC, lower case, no white space, no * _ `)."""
from __future__ import annotations

import re
import unicodedata


def _norm(text: str) -> str:
    return re.sub(r"[\s*_`]", "", unicodedata.normalize("NFKC", text or "").lower())


def holds(answer: str, expect) -> bool:
    a = _norm(answer)
    return all(any(_norm(alt) in a for alt in group) for group in expect)
