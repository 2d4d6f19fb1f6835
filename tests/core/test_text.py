"""Korean normalisation rules."""
import unicodedata

import pytest

from bot.core.text import Synonyms, chosung, compose, ends_half_typed, is_chosung_query, jamo, normalize, strip_all


def test_nfd_hangul_composes():
    nfd = unicodedata.normalize("NFD", "후원관리")
    assert nfd != "후원관리"
    assert normalize(nfd) == "후원관리"


def test_full_width_and_case_fold():
    assert normalize("ＷＡ４Ｃ") == "wa4c"
    assert normalize("ERP") == "erp"


def test_typed_jamo_stay_compatibility_jamo():
    # NFKC would turn ㅅ (U+3145) into a conjoining jamo (U+1109); 초성 matching needs U+3145.
    assert compose("ㅅㄱㄱ") == "ㅅㄱㄱ"
    assert all(0x3131 <= ord(c) <= 0x318E for c in compose("ㅅㄱㄱ"))


def test_latin_split_from_hangul_but_units_kept():
    assert normalize("w4c로그인") == "w4c 로그인"
    assert normalize("8월30일까지 2차") == "8월 30일까지 2차"


def test_invisible_and_control_characters_removed():
    assert normalize("희망\u200b이음\x00") == "희망이음"


def test_punctuation_dropped_but_urls_and_dates_kept():
    assert normalize("ssis.go.kr 접속!!") == "ssis.go.kr 접속"
    assert normalize("9.30까지?") == "9월 30일 까지"


@pytest.mark.parametrize("typed", ["9/6", "9.6", "9.6.", "09-06", "9월6일", "9월 6일", "9.6일"])
def test_dates_typed_any_way_meet(typed):
    assert normalize(typed) == "9월 6일"


def test_numbers_that_are_not_dates_stay():
    assert normalize("3.14159") == "3.14159"
    assert normalize("ssis.go.kr") == "ssis.go.kr"


@pytest.mark.parametrize("word, stem", [("연기된거", "연기"), ("관련해서", "관련"), ("등록하면", "등록"),
                                        ("마감기한", "마감기한"), ("메뉴권한", "메뉴권한")])
def test_light_verb_tails(word, stem):
    assert strip_all(word, set()) == stem


@pytest.mark.parametrize("word, function", [("하는거에요", True), ("되나요", True), ("있음", True), ("뭐였죠", True),
                                            ("보고", False), ("가입", False), ("가능", False), ("언제", False)])
def test_function_words(word, function):
    from bot.core.text import is_function_word

    assert is_function_word(word) is function


def test_jamo_and_chosung():
    assert jamo("관리") == "ㄱㅗㅏㄴㄹㅣ"
    assert chosung("시군구보고") == "ㅅㄱㄱㅂㄱ"
    assert is_chosung_query("ㅎㅇㄱㄹ")
    assert not is_chosung_query("ㅎ")


def test_half_typed_syllable_is_a_jamo_prefix():
    assert ends_half_typed("후원관ㄹ")
    assert jamo("후원관리").startswith(jamo("후원관ㄹ"))
    assert jamo("후원관리").startswith(jamo("후원과"))


@pytest.mark.parametrize("word, known, stem", [
    ("시스템에서는요", {"시스템"}, "시스템"),
    ("희망이음으로", {"희망이음"}, "희망이음"),
    ("보조금이요", set(), "보조금"),
    ("평가", set(), "평가"),  # 가 is not a particle here
    ("휴가요", {"휴가"}, "휴가"),
])
def test_particles_and_endings(word, known, stem):
    assert strip_all(word, known) == stem


def test_synonyms_rewrite_longest_first_ignoring_spaces():
    syn = Synonyms([["시설정보시스템", "사회복지시설정보시스템", "w4c"], ["희망이음", "차세대", "ssis"]])
    assert syn.apply(normalize("사회복지 시설정보시스템이랑 W4C")) == "시설정보시스템 이랑 시설정보시스템"
    assert syn.apply(normalize("차세대 오픈")) == "희망이음 오픈"


def test_a_latin_spelling_is_a_whole_word():
    # 'id' of 'side' and 'erp' of 'enterprise' are not 아이디 and the ERP; Korean may still touch a Latin spelling
    syn = Synonyms([["아이디", "id"], ["인사회계시스템", "erp", "새erp"], ["시설정보시스템", "w4c"]])
    assert syn.apply(normalize("a quick question from the IT side")) == "a quick question from the it side"
    assert syn.apply(normalize("enterprise software to provide a guide")) == "enterprise software to provide a guide"
    assert syn.apply(normalize("W4C에서 ID를 새ERP 에")) == "시설정보시스템 에서 아이디 를 인사회계시스템 에"
