"""The answer engine: matching rules on a small base of its own, and the decline model."""
import os
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge.base import Entry
from bot.knowledge.search import Engine, _top

ENTRIES = [
    Entry("donation-menu", "후원관리 메뉴 위치", "희망이음 기관운영(행정)업무 > 후원관리",
          questions=["후원관리는 어디서 해요", "후원 메뉴 어디 있어요"]),
    Entry("report-menu", "시군구보고 메뉴 위치", "희망이음 기관운영(행정)업무 > 시군구보고",
          questions=["시군구보고 어디서 해요", "시군구 보고 메뉴"]),
    Entry("outage", "시스템 중단 기간", "8월 31일 18:00 ~ 9월 6일 09:00",
          questions=["시스템 중단 기간이 언제예요", "언제부터 언제까지 못 써요"]),
    Entry("access", "희망이음 접속 방법", "크롬 또는 엣지로 https://ssis.go.kr 접속",
          questions=["희망이음 접속 주소", "희망이음 어떻게 들어가요"]),
    Entry("w4c-browser", "시설정보시스템 브라우저", "엣지 익스플로러 모드",
          questions=["시설정보시스템 접속 브라우저", "w4c 어떤 브라우저로 들어가요"]),
]
SYNONYMS = [["시설정보시스템", "w4c", "사회복지시설정보시스템"], ["희망이음", "차세대", "ssis"], ["접속", "로그인"]]


@pytest.fixture(scope="module")
def engine():
    return Engine(ENTRIES, SYNONYMS)


def top(engine, q):
    r = engine.search(q, 1)
    return r[0].entry_id if r else None


@pytest.mark.parametrize("query, expected", [
    ("후원관리 메뉴 어디에요", "donation-menu"),
    ("후원관리메뉴어디에요", "donation-menu"),          # no spacing
    ("후원 관리 메뉴", "donation-menu"),                 # extra spacing
    ("ㅎㅇㄱㄹ", "donation-menu"),                       # 초성
    ("후원관ㄹ", "donation-menu"),                       # half-typed, lone jamo left by the IME
    ("ㅅㄱㄱㅂㄱ 메뉴", "report-menu"),
    ("ㅅㄱㄱㅂㄱ메뉴", "report-menu"),                   # 초성 stuck to a word
    ("희망이음접속주소알려주세요", "access"),             # a whole sentence without spaces
    ("시스템중단기간", "outage"),
    ("희망이음 접송 주소", "access"),                    # typo
    ("차세대 로그인 주소", "access"),                    # synonyms
    ("W4C 브라우저", "w4c-browser"),
    ("ｗ４ｃ 브라우저", "w4c-browser"),                  # full width
])
def test_matching_rules(engine, query, expected):
    assert top(engine, query) == expected


def test_nfd_query_scores_like_nfc(engine):
    q = "후원관리 메뉴 어디에요"
    a = engine.search(q, 1)[0]
    b = engine.search(unicodedata.normalize("NFD", q), 1)[0]
    assert (a.entry_id, round(a.score, 6)) == (b.entry_id, round(b.score, 6))


@pytest.mark.parametrize("query, reason", [
    ("", "empty"),
    ("   ", "empty"),
    ("안녕하세요", "greeting"),
    ("고마워요", "thanks"),
    ("ㅋㅋㅋ", "chitchat"),
    ("ㅎㅎ", "chitchat"),
    ("점심 메뉴 추천해줘", "unknown"),
    ("희망이음 다크모드 있나요", "unknown"),
    ("asdkfjhqwe", "unknown"),
    ("!!!???", "gibberish"),
    ("<script>alert(1)</script>", "unknown"),
])
def test_declines(engine, query, reason):
    r = engine.answer(query)
    assert not r.answered
    assert r.reason == reason


def test_unspaced_unknown_topic_still_declines(engine):
    assert not engine.answer("희망이음다크모드설정하는법알려주세요").answered


def test_greeting_with_a_question_is_answered(engine):
    r = engine.answer("안녕하세요 희망이음 접속 주소 알려주세요")
    assert r.answered and r.best.entry_id == "access"


def test_huge_and_binary_input_does_not_crash(engine):
    assert engine.answer("가" * 40_000).answered in (True, False)
    assert not engine.answer("\x00\x01\x02\ufffd\ufffd").answered


def test_live_add_and_remove():
    eng = Engine(ENTRIES, SYNONYMS)
    assert not eng.answer("다크모드 설정 방법").answered
    eng.add(Entry("dark", "다크모드 설정", "설정 > 화면에서 바꿉니다", questions=["다크모드 어떻게 켜요"]))
    r = eng.answer("다크모드 설정 방법")
    assert r.answered and r.best.entry_id == "dark"
    eng.remove("dark")
    assert not eng.answer("다크모드 설정 방법").answered


def test_alternatives_are_other_entries(engine):
    r = engine.answer("시군구보고 메뉴 어디")
    assert r.answered
    assert r.best.entry_id == "report-menu"
    assert r.best.entry_id not in [m.entry_id for m in r.alternatives]


# ---- on the shipped knowledge base ---------------------------------------------------------

@pytest.fixture(scope="module")
def kb_engine(kb):
    return Engine.from_knowledge(kb)


@pytest.mark.parametrize("query", ["희망이음 다크모드 있나요", "연말정산 서류 제출 기한", "모니터가 안 켜져요",
                                   "오늘 날씨 어때", "주식 추천 좀"])
def test_out_of_domain_declined_on_shipped_kb(kb_engine, query):
    assert not kb_engine.answer(query).answered


@pytest.mark.xfail(strict=True, reason=(
    "known since round 7: trained on round 7's sets, the re-ranker prefers the 후원관리 menu again (preference "
    "2.06 against 1.70) and answers it (confidence 0.63). Re-ranking only candidates within 6 points would decline "
    "it but costs more on the labelled sets pooled, each left out in turn (0.097 against 0.092; README)"))
def test_a_candidate_far_behind_is_not_chosen_for_a_shared_carrier_phrase(kb_engine):
    # The re-ranker weighs all four first candidates (search.RERANK). The 후원관리 menu, 8 points behind,
    # shares '…메뉴가 어디에 있나요' with questions it answered; the question is about a 급여명세서 menu, which the
    # seed never names: the 급여명세서 entry should stay first and the question be declined.
    r = kb_engine.answer("급여 명세서 출력 메뉴가 어디에 있나요")
    assert not r.answered
    assert r.alternatives[0].entry_id == "before-payslip"


@pytest.mark.parametrize("query, must_contain", [
    ("희망이음 개통일", "9월 6일"),
    ("중단기간 언제부터", "8월 31일"),
    ("희망이음 주소", "ssis.go.kr"),
])
def test_shipped_kb_answers(kb_engine, kb, query, must_contain):
    from bot.knowledge.templates import Templates

    r = kb_engine.answer(query)
    assert r.answered
    assert must_contain in Templates(kb).render_answer(r.best.entry)


def test_saved_index_round_trip(tmp_path, fresh_kb):
    first = Engine.cached(fresh_kb, tmp_path, min_entries=1)
    files = list(tmp_path.glob("index-*.pickle"))
    assert len(files) == 1
    second = Engine.cached(fresh_kb, tmp_path, min_entries=1)
    assert second is not first
    for q in ["희망이음 개통일", "ㅅㄱㄱㅂㄱ 메뉴", "점심 뭐 먹지"]:
        a, b = first.answer(q), second.answer(q)
        assert (a.answered, a.best and a.best.entry_id) == (b.answered, b.best and b.best.entry_id)
    # the saved index renders answers like a fresh one (its renderer is re-attached)
    assert "9월 6일" in second._answer_text(second.entries[first.answer("희망이음 개통일").best.entry_id])


def test_saved_index_rebuilt_when_knowledge_changes_or_file_is_damaged(tmp_path, fresh_kb):
    Engine.cached(fresh_kb, tmp_path, min_entries=1)
    old = next(tmp_path.glob("index-*.pickle"))
    old.write_bytes(b"not a pickle")
    eng = Engine.cached(fresh_kb, tmp_path, min_entries=1)
    assert eng.answer("희망이음 개통일").answered
    fresh_kb.entries.append(Entry("dark", "다크모드 설정", "설정 > 화면", questions=["다크모드 켜는 법"]))
    eng = Engine.cached(fresh_kb, tmp_path, min_entries=1)
    assert eng.answer("다크모드 켜는 법").best.entry_id == "dark"
    assert len(list(tmp_path.glob("index-*.pickle"))) == 1


def test_searching_while_entries_are_added_from_another_thread():
    import sys
    import threading

    base = [Entry(f"b{i}", f"후원 영수증 문의 {i}", "답변", questions=[f"후원 영수증 {i}번"]) for i in range(3000)]
    eng = Engine(ENTRIES + base, SYNONYMS)
    errors = []
    stop = threading.Event()

    def add_many():
        i = 0
        while not stop.is_set() and i < 3000:
            eng.add(Entry(f"faq{i}", f"후원 영수증 추가 {i}", "답변", questions=[f"후원 영수증 추가 {i}번"]))
            eng.remove(f"faq{i - 1}")
            i += 1

    def search_many():
        try:
            for _ in range(150):
                eng.search("후원 영수증", 3)
        except Exception as e:  # "Set changed size during iteration" without the lock
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to make a race show
    try:
        writer = threading.Thread(target=add_many)
        readers = [threading.Thread(target=search_many) for _ in range(2)]
        writer.start()
        for t in readers:
            t.start()
        for t in readers:
            t.join(timeout=60)
        stop.set()
        writer.join(timeout=60)
    finally:
        sys.setswitchinterval(old)
    assert errors == []


_TERMS_UNDER_SEED = """
import json
from bot.knowledge.base import load_knowledge
from bot.knowledge.search import Engine
engine = Engine.from_knowledge(load_knowledge())
print(json.dumps([(t.surface, t.weight, list(t.expansions)) for q in ("그룹웨어 자료 이관 ㅇㅇ?", "ㅇㅇㄹ 수납내역 중단기간엔")
                  for t in engine.terms(q)], ensure_ascii=False))
"""


def test_chosung_terms_do_not_depend_on_the_hash_seed():
    # A 초성 word expands into a set of words; its weight once came from the first in set order, which the
    # hash seed (random on each start) decides: the same question got another answer after a restart.
    def run(seed):
        return subprocess.run([sys.executable, "-c", _TERMS_UNDER_SEED], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120).stdout

    assert run("1") == run("2") == run("3")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=5), st.sampled_from([0.32, 0.5, 1.0, 1.32, 2.0]),
                       max_size=400),
       st.integers(1, 40), st.sampled_from([0, 3, 80]))
def test_the_first_candidates_are_the_best_scores_then_the_smaller_keys(scores, n, max_ties):
    # with no tiebreak, `_top` is the plain definition whatever the size of the tie at the cut (a tie of thousands,
    # a common word at 100,000 entries, takes the shortcut; a small one goes through `_ranked_top`)
    assert _top(scores, n, None, max_ties) == sorted(scores, key=lambda k: (-scores[k], k))[:n]
