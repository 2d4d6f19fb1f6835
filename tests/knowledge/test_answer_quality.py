"""Issue 10: near-miss questions are declined, English and colloquial ones answered, close calls asked
back with buttons, and the terminal shows answers without Slack markup."""
from io import StringIO

import pytest

from bot.surfaces.console.adapter import Console
from bot.knowledge.base import load_knowledge
from bot.core.messages import Incoming
from bot.knowledge.search import DeclineModel, Engine, english
from bot.core.text import normalize
from handlers.router import dispatch


@pytest.fixture(scope="module")
def engine(kb):
    return Engine.from_knowledge(kb)


# In-domain questions the seed does not answer: the thing asked about (an expired certificate, a reset
# password, a locked account, a tax report, a phone) is not what any entry is about, though other words match.
NEAR_MISSES = [
    "공동인증서 유효기간 지났는데 어떻게 해요",
    "공동인증서 갱신 어디서 해요",
    "희망이음 비밀번호 초기화 어떻게 해요",
    "비밀번호 5회 틀려서 잠겼어요",
    "계정 잠겼는데 풀어주세요",
    "연말정산 희망이음에서 해요?",
    "태블릿으로 희망이음 되나요",
    "보조금 금액이 얼마에요",
]


@pytest.mark.parametrize("question", NEAR_MISSES)
def test_near_miss_questions_are_declined(engine, question):
    result = engine.answer(question)
    assert not result.answered, (result.best.entry_id, result.confidence)
    assert result.reason == "unknown"


@pytest.mark.parametrize("question,entry_id", [
    ("What time does 희망이음 start on launch day?", "launch-date"),
    ("is the ERP opening on 9/6 too?", "erp-postponed"),
    ("희망이음 언제 열림?", "launch-date"),
    ("먹통 언제까지임", "outage-period"),
    ("안녕하세요, 요양원 총무입니다. 매달 초에 직원들 급여명세서를 메일로 보내 왔는데 이번에는 그 시기에 "
     "시스템이 멈춰 있다고 들었어요. 어떻게 준비하면 될까요?", None),
])
def test_english_colloquial_and_chatty_questions_are_answered(engine, question, entry_id):
    result = engine.answer(question)
    assert result.answered, (result.alternatives[:1], result.confidence)
    if entry_id:
        assert result.best.entry_id == entry_id


# Round 3 (issue 10): the classes the pooled labelled sets still got wrong, in examples written for this test
# (not taken from a set). A thing asked about that no entry answers, though the rest of the words match …
NEAR_MISSES_3 = [
    "스마트폰으로 희망이음 들어갈 수 있어요?",  # a phone: no entry says
    "국민신문고에 민원 넣는 방법이 궁금해요",  # another system
    "희망이음 비밀번호를 잊어버렸어요",  # a forgotten password
    "Is there a mobile app for 희망이음?",
]
# … and questions the seed answers, asked at length, colloquially or in English.
ANSWERED_3 = [
    ("안녕하세요 지역아동센터 사회복지사인데요, 이번에 시스템이 바뀐다고 해서 여쭤봐요. 희망이음은 몇일 몇시부터 "
     "쓸 수 있어요?", "launch-date"),
    ("희망이음 오픈 언제임??", "launch-date"),
    ("When will the old system stop working?", None),
    ("Where do I submit a question about 희망이음?", "inquiry-where"),
]


@pytest.mark.parametrize("question", NEAR_MISSES_3)
def test_things_no_entry_answers_are_declined(engine, question):
    result = engine.answer(question)
    assert not result.answered, (result.best.entry_id, result.confidence)


@pytest.mark.parametrize("question,entry_id", ANSWERED_3)
def test_long_colloquial_and_english_questions_are_answered(engine, question, entry_id):
    result = engine.answer(question)
    assert result.answered, (result.alternatives[:1], result.confidence)
    assert entry_id is None or result.best.entry_id == entry_id


def test_words_the_entry_does_not_hold_are_features(engine):
    # The decline model weighs, by name, the words of a question that its entry's questions do not say
    # (and their syllable pairs): what it learnt about 갱신 from labelled sets applies to the next writer's 갱신은.
    result = engine.answer("공동인증서 갱신은 어디서 해요")
    assert {"w:갱신", "w:증서"} & set(result.features) == {"w:갱신"}  # 공동인증서 is in the entry, 갱신 is not
    assert any(name.startswith("e:") for name in result.features)  # the entry itself is a feature too
    # a word the model never weighed counts nothing, whatever the question
    model = DeclineModel({"w:갱신": -3.0}, 0.0)
    assert model.confidence({"w:갱신": 1.0}) < 0.5 == model.confidence({"w:처음보는말": 1.0})


def test_english_glossary_reads_words_and_drops_grammar():
    glossary = english()
    assert glossary.apply(normalize("What time does 희망이음 start on launch day?")).split() == \
        ["몇시", "희망이음", "개시", "개통일"]
    assert glossary.apply(normalize("ID/PW login")) == "id 비밀번호 로그인"
    # YAML would read `on` and `no` as booleans: the stopwords are one string
    assert {"on", "no", "yes"} <= glossary.stopwords
    # an English topic nobody wrote down stays, so the question can be declined
    assert "crm" in glossary.apply(normalize("Is there an API to sync our CRM?")).split()


def test_decline_model_is_data_and_a_dot_product():
    model = DeclineModel.bundled()
    assert 0 < model.threshold < 1
    exact = {"coverage": 1.0, "similarity": 1.0, "noun_coverage": 1.0, "reverse": 1.0, "score": 1.0,
             "topic_covered": 1.0, "title": 1.0, "length": 0.3, "margin": 0.2}
    near_miss = {"coverage": 0.1, "similarity": 0.2, "unknown": 0.8, "unknown_tail": 1.0, "score": 0.15}
    assert model.confidence(exact) > model.threshold
    assert model.confidence(near_miss) < model.threshold
    # the re-ranker is data too: a candidate that covers the question goes before one that does not
    assert model.rerank and model.preference(exact) > model.preference(near_miss)


CLOSE_ENTRIES = """
- id: cms-before
  title: 중단 전 CMS 출금 조치
  questions: [CMS 출금 조치 방법]
  answer: 약속일자를 바꿔 출금 신청하세요.
- id: cms-kftc
  title: 금융결제원 CMS 출금 조치
  questions: [CMS 출금 조치 방법 알려줘]
  answer: 금융결제원 CMS는 미리 출금 신청하면 됩니다.
- id: address
  title: 희망이음 주소
  questions: [희망이음 주소]
  answer: https://ssis.go.kr
"""


@pytest.fixture
def close_services(tmp_path, clock):
    import shutil

    from bot.core.config import DEFAULT_KNOWLEDGE, Settings
    from bot.services import build

    root = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE, root, ignore=shutil.ignore_patterns("entries"))
    (root / "entries").mkdir()
    (root / "entries" / "close.yaml").write_text(CLOSE_ENTRIES, encoding="utf-8")
    settings = Settings(data_dir=tmp_path, agents=("agent1", "agent2"), secret_key=None)
    s = build(settings, clock=clock, kb=load_knowledge(root))
    yield s
    s.close()


def test_two_close_entries_are_asked_back_and_a_button_answers(close_services):
    replies = dispatch(Incoming(user="u1", text="CMS 출금 조치 방법"), close_services)
    assert len(replies) == 1 and replies[0].kind == "clarify"
    reply = replies[0]
    assert "어떤 걸 물으셨나요" in reply.text
    assert {c.action for c in reply.choices} == {"answer.show"}
    assert 2 <= len(reply.choices) <= 3
    assert {c.label for c in reply.choices} >= {"중단 전 CMS 출금 조치", "금융결제원 CMS 출금 조치"}
    chosen = next(c for c in reply.choices if c.label.startswith("금융결제원"))
    answer = dispatch(Incoming(user="u1", action=chosen.action, value=chosen.value), close_services)
    assert answer[0].kind == "answer" and answer[0].data["entry_id"] == "cms-kftc"
    assert "미리 출금 신청" in answer[0].text
    assert answer[0].data["query"] == "CMS 출금 조치 방법"  # feedback is about what was asked
    # a clear question is answered directly
    assert dispatch(Incoming(user="u1", text="희망이음 주소"), close_services)[0].kind == "answer"


def test_ask_json_keeps_the_eval_contract_when_asking_back(close_services):
    from handlers.answers import result_json

    result = close_services.engine.answer("CMS 출금 조치 방법")
    assert result.ambiguous
    out = result_json(result, close_services.templates)
    assert out["answered"] is True and out["entry_id"] in {"cms-before", "cms-kftc"}
    assert {a["entry_id"] for a in out["alternatives"]} & {"cms-before", "cms-kftc"}


class _Tty(StringIO):
    def isatty(self):
        return True


def test_terminal_renders_markdown(kb_services):
    services = kb_services
    # piped: plain text, no Slack markup
    out = StringIO()
    Console(services, StringIO("희망이음 언제 열려요\n"), out, user="tester").run()
    text = out.getvalue()
    assert "9월 6일(화) 09:00" in text
    assert "*" not in text and "_" not in text.replace("__", "")
    # a terminal: ANSI bold instead of asterisks
    tty = _Tty()
    Console(services, _Tty("희망이음 언제 열려요\n"), tty, user="tester").show(
        dispatch(Incoming(user="tester", text="희망이음 언제 열려요"), services))
    shown = tty.getvalue()
    assert "\033[1m9월 6일(화) 09:00\033[0m" in shown and "*" not in shown
