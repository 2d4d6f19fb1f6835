"""A yes/no question that states a day gets its "네" when the answer names that day (bot/knowledge/confirm.py)."""
import pytest

from bot.core.clock import FixedClock, parse_time
from bot.knowledge.confirm import confirms
from bot.knowledge.search import Engine
from bot.knowledge.templates import Templates

ANSWER = "9월에 입퇴사한 종사자 보고는 9월 30일(금)까지 보고하세요. • 8월 입사자 임면보고는 8월 30일(화)까지 마쳐야 합니다."


@pytest.mark.parametrize("now, query", [
    ("2022-09-28T21:00", "모레마감인거 종사자입퇴사보고 맞지?"),
    ("2022-09-29T17:55", "내일(9.30)까지 보조금 교부신청 하면 되는거 ㅇㅇ?"),
    ("2022-09-23T10:00", "오늘이 이번 주 금요일인데, 다음 주 금요일이 입퇴사보고 마감 맞죠?"),
    ("2022-09-26T09:00", "이번주 금요일이 입퇴사 보고 마감이라고 들었는데 맞나요?"),
    ("2022-09-26T09:00", "입퇴사 보고 금욜까지 맞죠"),
    ("2026-11-30T10:00", "종사자 입퇴사 보고 9/30까지 맞나요?"),  # a date typed out needs no moment
    ("2022-08-29T09:10", "오늘 8/29인데 시군구 보고 마감이 내일 맞나요?"),  # the last day named is the claim
])
def test_a_day_the_answer_names_is_confirmed(now, query):
    assert confirms(query, ANSWER, parse_time(now))


@pytest.mark.parametrize("now, query", [
    ("2022-09-27T21:00", "모레마감인거 종사자입퇴사보고 맞지?"),  # 모레 is 9/29: not the deadline
    ("2022-09-28T21:00", "입퇴사 보고 마감 언제죠? 모레 맞죠?"),  # asks for the fact
    ("2022-09-28T21:00", "모레까지 하면 늦지 않은 거 맞죠?"),  # a negation: a bare 네 could be read either way
    ("2022-09-28T21:00", "9월 30일까지 입퇴사 보고 해야 해요"),  # not a question to confirm
    ("2022-09-28T21:00", "입퇴사 보고 마감 맞죠?"),  # no day stated
    ("2022-09-30T19:00", "오늘 9월 30일 맞죠?"),  # a day named, nothing said to end or begin on it
])
def test_no_yes_without_a_day_to_confirm(now, query):
    assert not confirms(query, ANSWER, parse_time(now))


def test_a_day_merely_named_is_no_yes(kb):
    # After the cut-off the outage answer names today as its start: that is no "yes" to entering data today.
    clock = FixedClock(parse_time("2022-08-31T19:00"))
    engine, templates = Engine.from_knowledge(kb), Templates(kb, clock)
    said = templates.render_reply_answer(engine.entries["outage-period"], "오늘 W4C 입력 가능한 거 맞죠?")
    assert "8월 31일(수, 오늘) 18:00" in said and "네," not in said, said


def test_the_chat_answer_starts_with_yes(kb):
    clock = FixedClock(parse_time("2022-09-28T21:00"))
    engine, templates = Engine.from_knowledge(kb), Templates(kb, clock)
    query = "모레 마감인 거 종사자 입퇴사 보고 맞지?"
    result = engine.answer(query)
    assert result.answered
    said = templates.render_reply_answer(result.best.entry, query)
    assert said.startswith("네, ") and "9월 30일(금, 모레)" in said, said
    assert not templates.render_answer(result.best.entry).startswith("네, ")  # exports stay as written
    clock.set(parse_time("2022-09-27T21:00"))  # then 모레 is 9/29
    assert not templates.render_reply_answer(result.best.entry, query).startswith("네, ")
