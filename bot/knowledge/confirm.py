"""A yes/no question that states when something ends or begins ("모레 마감 맞죠?", "내일(9.30)까지 하면 되는 거
맞나요?") gets its "네" when the answer names that very day.

Only the plain, affirmative form is confirmed: a question with a question word (언제, 몇 시, when) asks for the
fact, not a yes, and one with a negation ("늦지 않죠?", "안 되는 거 맞죠?") is left to the answer itself, since
a bare "네" to it could be read either way. The day claimed is the last one the question names ("오늘 8/29인데
마감이 내일 맞나요?" claims 내일): the ones before it are usually the context.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.core.clock import SEOUL
from bot.core.text import normalize

_CONFIRM = re.compile(r"(맞(?:죠|지요|나요|나|지|음|아요|습니까|는\s?거죠|는\s?거지|는\s?거|을까요|으면)?|죠|지요|ㅇㅇ|거지|"
                      r"right|correct|is that so|isn't it|aren't they)\s*$")
_ASKS = re.compile(r"언제|몇|어디|뭐|무엇|무슨|어떻게|어케|왜|누가|누구|얼마|며칠|어느|when|what|where|how|which|why|who")
# What is confirmed is a day something ends or begins ('모레 마감', '내일까지', '9/6부터 열리는'), never a day
# merely named: "오늘 W4C 입력 가능한 거 맞죠?" asked after the cut-off must not hear "네" from an answer that
# says the outage began today.
_DEADLINE = re.compile(r"까지|마감|기한|부터|개통|오픈|시작|열리|열려|deadline|due|until|open")
_NEGATION = re.compile(r"안\s?[되돼됨됬]|않|못|없|불가|아니|아닌|아직|늦|지났|지나|not|n't|\bno\b|late")
_DATE = re.compile(r"(?P<month>1[0-2]|[1-9])월\s?(?P<day>[12][0-9]|3[01]|[1-9])일")
_RELATIVE = {"오늘": 0, "내일": 1, "모레": 2, "글피": 3, "today": 0, "tomorrow": 1}
_DAY_WORD = re.compile("|".join([
    f"(?P<relative>{'|'.join(_RELATIVE)})",
    _DATE.pattern,
    r"(?P<week>이번\s?주|다음\s?주|담주)?\s?(?P<weekday>[월화수목금토일])(?:요일|욜)"]))


def _claimed_day(text: str, today: date) -> tuple[int, int] | None:
    """The last day the question names, as (month, day)."""
    last = None
    for m in _DAY_WORD.finditer(text):
        if m["relative"]:
            d = today + timedelta(days=_RELATIVE[m["relative"]])
        elif m["month"]:
            last = (int(m["month"]), int(m["day"]))
            continue
        else:
            weekday = "월화수목금토일".index(m["weekday"])
            monday = today - timedelta(days=today.weekday())
            if m["week"] and m["week"].replace(" ", "") in ("다음주", "담주"):
                d = monday + timedelta(days=7 + weekday)
            elif m["week"]:
                d = monday + timedelta(days=weekday)
            else:  # a bare weekday: the next one, today included
                d = today + timedelta(days=(weekday - today.weekday()) % 7)
        last = (d.month, d.day)
    return last


def confirms(query: str, answer: str, now: datetime) -> bool:
    """Whether to say "네," before `answer`: the question asks to confirm a day the answer names."""
    text = normalize(query or "")
    text = re.sub(r"[\s?!.~ㅠㅜㅋㅎ]+$", "", text)
    if not _CONFIRM.search(text) or _ASKS.search(text) or _NEGATION.search(text) or not _DEADLINE.search(text):
        return False
    claimed = _claimed_day(text, now.astimezone(SEOUL).date())
    if claimed is None:
        return False
    named = {(int(m["month"]), int(m["day"])) for m in _DATE.finditer(answer)}
    return claimed in named
