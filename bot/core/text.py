"""Korean text normalisation for matching: Unicode forms, jamo, 초성, spacing, particles, synonyms.

Everything here is a pure function over strings; `bot.search` prepares keys with it once per
entry and once per query.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Container, Iterable

HANGUL_BASE, HANGUL_END = 0xAC00, 0xD7A3
CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
JONG = ["", "ㄱ", "ㄲ", "ㄳ", "ㄴ", "ㄵ", "ㄶ", "ㄷ", "ㄹ", "ㄺ", "ㄻ", "ㄼ", "ㄽ", "ㄾ", "ㄿ", "ㅀ", "ㅁ",
        "ㅂ", "ㅄ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"]
# Compound vowels and finals as the keys a 2-beolsik keyboard types, so that a half-typed syllable
# ("후원과" on the way to "후원관리") is a jamo prefix of the word it becomes.
KEYSTROKES = {
    "ㅘ": "ㅗㅏ", "ㅙ": "ㅗㅐ", "ㅚ": "ㅗㅣ", "ㅝ": "ㅜㅓ", "ㅞ": "ㅜㅔ", "ㅟ": "ㅜㅣ", "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ", "ㄵ": "ㄴㅈ", "ㄶ": "ㄴㅎ", "ㄺ": "ㄹㄱ", "ㄻ": "ㄹㅁ", "ㄼ": "ㄹㅂ", "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ", "ㄿ": "ㄹㅍ", "ㅀ": "ㄹㅎ", "ㅄ": "ㅂㅅ",
}
# NFKC turns typed compatibility jamo (ㅅ, U+3145) into conjoining jamo (U+1109); map them back.
_CONJOINING = {}
for _i, _c in enumerate(CHO):
    _CONJOINING[chr(0x1100 + _i)] = _c
for _i, _c in enumerate(JUNG):
    _CONJOINING[chr(0x1161 + _i)] = _c
for _i, _c in enumerate(JONG[1:]):
    _CONJOINING[chr(0x11A8 + _i)] = _c
_CONJOINING_RE = re.compile("[" + "".join(_CONJOINING) + "]")

COMPAT_JAMO = set(CHO) | set(JUNG) | {j for j in JONG if j}
CONSONANTS = set(CHO) | {j for j in JONG if j}

_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b-\x1f\x7f]")
# Latin and Hangul are set apart ('w4c로그인' → 'w4c 로그인'); digits keep their unit ('8월', '30일', '2차').
# A run of typed consonants (초성) is its own word too: 'ㅅㄱㄱㅂㄱ메뉴' → 'ㅅㄱㄱㅂㄱ 메뉴' (one trailing jamo is a
# half-typed syllable and stays: '후원관ㄹ').
_BOUNDARY = re.compile(r"(?<=[a-z])(?=[가-힣ㄱ-ㅣ])|(?<=[0-9])(?=[가-힣ㄱ-ㅣ])(?![월일시분차년주건개])|(?<=[가-힣ㄱ-ㅣ])(?=[a-z0-9])"
                       r"|(?<=[ㄱ-ㅎ][ㄱ-ㅎ])(?=[가-힣])|(?<=[가-힣])(?=[ㄱ-ㅎ][ㄱ-ㅎ])")
_NON_WORD = re.compile(r"[^0-9a-z가-힣ㄱ-ㅣ.:/]+")
_TRIM_PUNCT = re.compile(r"(?<![0-9a-z])[.:/]|[.:/](?![0-9a-z])")

# Particles and endings stripped from the end of a word, longest first. Multi-syllable ones are
# unambiguous; a one-syllable one is stripped only when what remains is a known word.
PARTICLES = sorted({
    "에서는", "으로는", "에게는", "까지는", "부터는", "이라도", "이라서", "이라고", "이면", "이랑", "에서도",
    "에서", "에게", "으로", "까지", "부터", "처럼", "보다", "에는", "로는", "이나", "이랑", "하고", "한테",
    "라도", "마다", "밖에", "이요", "인데", "인지", "이고", "에도", "이에요", "예요", "이죠", "만요", "으로요",
    "은", "는", "이", "가", "을", "를", "에", "로", "와", "과", "도", "만", "의", "요", "랑", "나",
}, key=len, reverse=True)
ENDINGS = sorted({
    "인가요", "인가", "나요", "가요", "까요", "할까요", "하나요", "하나", "해요", "해야", "하면", "되나요", "돼요",
    "되요", "됨", "되죠", "됩니까", "합니까", "습니까", "입니까", "입니다", "합니다", "있나요", "없나요", "있어요",
    "없어요", "했어요", "했나요", "하죠", "이죠", "인지", "는지", "은지", "인데요", "는데요", "는데", "한데",
    "해줘", "해주세요", "해주나요", "주세요", "줘요", "줘", "함", "임", "음", "요", "죠", "냐", "니", "하는",
    "하려면", "되려면", "려면", "으려면", "할때", "할", "한", "된", "되는", "하는지", "되는지", "해도", "돼도",
    "되나", "되는거", "하는거", "인거", "건가요", "거", "건", "게", "걸", "데", "지",
    "이란", "란", "에선", "므로", "으므로", "되므로", "하므로", "니다", "습니다", "ㅂ니다", "됩니다", "합니다",
    "입니다", "랍니다", "십시오", "세요", "하세요", "으세요", "되세요", "시나요", "으신가요", "신가요", "셨나요",
    "었나요", "았나요", "였나요", "어요", "아요", "여요", "었어요", "았어요", "였어요", "겠죠", "겠어요", "을까요",
    "ㄹ까요", "던가요", "던데", "다고", "라고", "이라", "이래요", "래요", "대요", "냐고", "려고", "으려고",
    "에요", "이에요", "거에요", "으면", "ㄴ다", "는다", "어야", "아야", "여야", "건데", "건지", "는거", "은거", "ㄴ거", "나여", "가여", "해여", "에여", "예여",
    # colloquial endings: 되나여, 주세여, 있어여, 언제임, 되남
    "세여", "돼여", "되여", "어여", "아여", "는데여", "남", "나용", "요ㅠ", "요ㅠㅠ",
}, key=len, reverse=True)

# Words that carry no topic: dropped from matching keys.
FILLERS = frozenset({
    "좀", "혹시", "그럼", "그러면", "그리고", "근데", "그런데", "저", "제가", "저희", "우리", "저기", "아", "음",
    "네", "예", "요", "것", "거", "게", "수", "때", "등", "및", "또", "또는", "더", "잘", "그", "이", "이거",
    "그거", "저거", "뭐", "뭔가요", "뭔지", "무엇", "무엇인가요", "뭐예요", "뭐에요", "뭐임", "알려줘", "알려주세요",
    "알려", "알려주실", "궁금해요", "궁금합니다", "궁금", "문의", "문의드립니다", "질문", "질문이요", "있나요",
    "있어요", "있습니까", "하나요", "해요", "되나요", "돼요", "되요", "인가요", "가요", "나요", "합니다", "입니다",
    "주세요", "부탁", "부탁드립니다", "부탁해요", "어떻게", "어떡해요", "어떻게요", "하면", "되는", "하는", "있는",
    "해야", "해야하나요", "하는지", "되는지", "하죠", "건가요", "할까요", "됩니까", "습니까", "하고", "해서",
    "아님", "아니면", "혹은", "아닌가요", "아니죠", "맞나요", "맞죠", "맞아요", "그런가요",
    "the", "a", "is",
    # colloquial spellings: 머 = 뭐, 꺼 = 거, crying and laughing marks
    "머", "머에요", "머예요", "머임", "머머", "뭐뭐", "머있", "꺼", "면", "ㅠ", "ㅠㅠ", "ㅜㅜ", "ㅎㅎ", "ㅋㅋ",
})
# Question words: kept (they separate "when" from "how"), but weigh little.
SUFFIXES = tuple(sorted(set(PARTICLES) | set(ENDINGS), key=len, reverse=True))
_SUFFIX_SET = frozenset(SUFFIXES)


def _by_last_char(suffixes) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for suf in suffixes:  # already longest first
        index.setdefault(suf[-1], []).append(suf)
    return {k: tuple(v) for k, v in index.items()}


# Only suffixes ending in a word's last character can match: check those, not all two hundred.
_SUFFIXES_BY_LAST = _by_last_char(SUFFIXES)
QUESTION_WORDS = frozenset({"언제", "언제까지", "언제부터", "어디", "어디서", "어디로", "어디에", "왜", "누가",
                            "방법", "얼마나", "몇", "무슨", "어떤", "안", "못", "다시", "지금", "이제",
                            # adverbs: rare in the knowledge base, so high IDF, yet they never name a topic
                            "아직", "계속", "그냥", "정말", "진짜", "너무", "많이", "바로", "이번", "요즘", "오늘",
                            "내일", "항상", "자꾸", "빨리", "제대로", "같이", "따로", "모두", "전부", "다", "그대로",
                            "꼭", "반드시", "그때", "벌써", "언제든", "먼저", "정확히", "아무리", "원래", "완전",
                            "완전히", "대충", "일단", "우선", "아마", "제발", "혹시나", "도대체", "대체",
                            # who is asking, not what: "저희 요양원인데요 …"
                            "요양원", "어린이집", "복지관", "센터", "지역아동센터", "시설", "기관", "저희기관",
                            "우리기관", "우리시설", "저희시설", "다른", "사람", "사람들",
                            # colloquial "how": 어케 = 어떻게
                            "어케", "어캐", "어케함", "어캐함", "어떡", "어떡해", "어떡해요", "어떡하나요", "어떡하죠",
                            "가는법", "하는법", "넣는법", "쓰는법", "보는법", "찾는법", "해결법", "맞나", "맞지", "맞는지",
                            # when, roughly: a moment is not a topic
                            "올해", "이번달", "매달", "다음달", "다음달부터", "아침", "저녁", "밤", "그동안", "그날", "곧",
                            "요일", "월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일", "주말", "평일",
                            # how the asker feels or stands
                            "걱정", "당황", "급함", "급하게", "처음", "혼자", "신입", "선임", "확실히", "자세히", "아예",
                            "도무지", "갑자기",
                            # the people a question is about, not its topic
                            "어르신", "아이", "아이들", "분들", "이분들", "직원들", "선생님들"})
# Who is asking, not what: job titles and facility kinds ('노인요양원 사무국장입니다', '센터장인데요').
_ASKER = re.compile(r"^(\S*(요양원|시설|복지관|센터|그룹홈|종복|법인|기관)|"
                    r"\S*(사회복지사|사무원|사무국장|센터장|시설장|원장|팀장|과장|국장|총무|선생님|생활지도원|요양보호사|"
                    r"담당자|담당|직원|행정팀|회계팀|기획팀|\S+팀))(에서|인데요|인데|이에요|예요|입니다|이고|이라|이구요|이고요|임)?$")


def is_asker_word(word: str) -> bool:
    """A job title or a kind of facility, possibly with its copula: who asks, never what is asked."""
    return bool(_ASKER.match(word))


def compose(text: str) -> str:
    """NFKC (composes NFD Hangul, folds full-width), with typed jamo kept as compatibility jamo."""
    text = unicodedata.normalize("NFKC", text or "")
    return _CONJOINING_RE.sub(lambda m: _CONJOINING[m.group()], text)


def normalize(text: str) -> str:
    """Lower-cased, composed, invisible characters removed, Latin/digits spaced from Hangul."""
    text = _INVISIBLE.sub("", compose(text)).lower()
    text = normalize_dates(text)
    text = _BOUNDARY.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    text = _TRIM_PUNCT.sub(" ", text)
    return " ".join(text.split())


def is_hangul_syllable(ch: str) -> bool:
    return HANGUL_BASE <= ord(ch) <= HANGUL_END


def jamo(text: str) -> str:
    """Keystroke-level jamo: '관리' → 'ㄱㅗㅏㄴㄹㅣ'. Other characters pass through."""
    out = []
    for ch in text:
        if is_hangul_syllable(ch):
            code = ord(ch) - HANGUL_BASE
            for part in (CHO[code // 588], JUNG[(code % 588) // 28], JONG[code % 28]):
                out.append(KEYSTROKES.get(part, part))
        else:
            out.append(KEYSTROKES.get(ch, ch))
    return "".join(out)


def chosung(text: str) -> str:
    """초성 key: '시군구보고' → 'ㅅㄱㄱㅂㄱ'. Non-Hangul characters pass through."""
    return "".join(CHO[(ord(c) - HANGUL_BASE) // 588] if is_hangul_syllable(c) else c for c in text)


def is_chosung_query(word: str) -> bool:
    return len(word) >= 2 and all(c in CONSONANTS for c in word)


def ends_half_typed(word: str) -> bool:
    """A trailing lone jamo left by the input method ('후원관ㄹ')."""
    return len(word) >= 2 and word[-1] in COMPAT_JAMO and any(is_hangul_syllable(c) for c in word[:-1])


def strip_particle(word: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """Remove one particle or ending from the end of a word.

    A known word is left alone; a one-syllable suffix is removed only when the rest is a known word
    (so 평가 and 휴가 keep their 가), a longer one whenever at least two syllables remain.
    """
    if word in known or not word or not is_hangul_syllable(word[-1]):
        return word
    for suffix in _SUFFIXES_BY_LAST.get(word[-1], ()):
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            if stem in known or (len(suffix) >= 2 and len(stem) >= 2):
                return stem
    return word


def strip_all(word: str, known: Container[str], depth: int = 3) -> str:
    """Strip stacked particles and endings ('시스템에서는요' → '시스템').

    Prefers a path that ends on a known word; otherwise strips only unambiguous (multi-syllable) suffixes.
    """
    if word in known or not word or not is_hangul_syllable(word[-1]):
        return word
    found = _to_known(word, known, depth)
    if found is not None:
        return found
    verb = strip_light_verb(word, known)
    if verb != word:
        return verb
    return strip_particle(word, frozenset())


_WISH = re.compile(r"고\s?싶.*$")


def strip_wish(word: str) -> str:
    """'신청하고싶어요' → '신청하' (then a light-verb tail comes off); '보고싶어' → '보' (nothing left)."""
    return _WISH.sub("", word) if len(word) > 3 else word


def strip_light_verb(word: str, known=frozenset()) -> str:
    """A noun made a verb: '연기된거' → '연기', '관련해서' → '관련', '등록하면' → '등록'.

    The tail must be two syllables or more, or leave a known noun, so 기한 and 권한 stay whole.
    """
    for i in range(2, len(word)):
        tail = word[i:]
        if is_light_verb(tail) and (len(tail) >= 2 or word[:i] in known):
            return word[:i]
    return word


# Question words carrying endings ('뭐였죠', '어딘가요', '언제예요'): still question words.
_QUESTION_ROOT = re.compile(r"^(뭐|뭔|무엇|어디|어딘|언제|언젠|누구|누가|왜|어떻|어떤|어때|어땠|어떨|얼마)")


def question_root(word: str) -> str | None:
    m = _QUESTION_ROOT.match(word)
    if m and (m.end() == len(word) or _strips_away(word[m.end():]) or word[m.end():] in _LIGHT_ENDINGS):
        return m.group()
    return None


def _to_known(word: str, known, depth: int) -> str | None:
    if depth == 0 or not word:
        return None
    for suffix in _SUFFIXES_BY_LAST.get(word[-1], ()):
        if word.endswith(suffix) and len(word) > len(suffix):
            stem = word[: -len(suffix)]
            if stem in known:
                return stem
            deeper = _to_known(stem, known, depth - 1)
            if deeper is not None:
                return deeper
    return None


@lru_cache(maxsize=200_000)
def is_function_word(word: str) -> bool:
    """A particle, ending or filler standing alone (left over after synonyms split a word)."""
    if word in FILLERS or word in _SUFFIX_SET or is_light_verb(word):
        return True
    root = question_root(word)
    return root is not None and root not in QUESTION_WORDS


# 하다/되다/있다/없다 with an ending ('하는거에요', '되나요', '있음'): grammar, not topic.
_LIGHT_VERB = re.compile(
    r"^(하|해|할|한|함|합|했|하는|되|돼|될|된|됨|됩|됐|되는|있|없|있는|없는|가|갈|간|갔|오|올|온|왔|봐|보|볼|본|봤|쓴|쓸|써)")


def is_light_verb(word: str) -> bool:
    m = _LIGHT_VERB.match(word)
    if not m:
        return False
    rest = word[m.end():]
    return rest == "" or rest in _SUFFIX_SET or _strips_away(rest)


_LIGHT_ENDINGS = tuple(sorted({*SUFFIXES, "면", "다", "야", "서", "어서", "아서", "해서", "는데", "니까", "으니까",
                                "였죠", "었죠", "였어요", "였나요", "였", "었", "았", "던", "어", "아", "라도", "이라도"},
                               key=len, reverse=True))
_LIGHT_ENDINGS_BY_LAST = _by_last_char(_LIGHT_ENDINGS)


def _strips_away(rest: str) -> bool:
    # the remainder is nothing but stacked endings ('나요', '는거에요', '을까요')
    for _ in range(3):
        for suffix in _LIGHT_ENDINGS_BY_LAST.get(rest[-1:], ()):
            if rest.endswith(suffix):
                rest = rest[: -len(suffix)]
                break
        else:
            return False
        if not rest:
            return True
    return False


# 9/6, 9.6., 09-06 → '9월 6일' so dates typed any way meet the answers' dates.
_DATE = re.compile(r"(?<![0-9.])(0?[1-9]|1[0-2])\s?[./-]\s?(0?[1-9]|[12][0-9]|3[01])(?:\.|일(?![가-힣]))?(?![0-9])(?![./-]?[0-9])")


def normalize_dates(text: str) -> str:
    return _DATE.sub(lambda m: f" {int(m.group(1))}월 {int(m.group(2))}일 ", text)


def strip_oov_particle(word: str) -> str:
    """For a word nobody knows, still drop one obvious particle ('시점이' → '시점')."""
    if len(word) >= 3 and word[-1] in "은는이가을를에의도로" and is_hangul_syllable(word[-2]):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    return normalize(text).split()


def _spelling_pattern(spelling: str) -> str:
    """A spelling as typed: Korean with or without spaces between its syllables ('시설 정보 시스템'); a Latin
    word whole ('id' is not the id of 'side' or 'provide', 'erp' not the erp of 'enterprise'), though Korean
    may follow or precede it ('w4c에서', '새erp')."""
    out = re.escape(spelling[0])
    for prev, ch in zip(spelling, spelling[1:]):
        out += ("" if _LATIN_WORD.match(prev) and _LATIN_WORD.match(ch) else r"\s?") + re.escape(ch)
    if _LATIN_WORD.match(spelling[0]):
        out = r"(?<![0-9a-z])" + out
    if _LATIN_WORD.match(spelling[-1]):
        out += r"(?![0-9a-z])"
    return out


_LATIN_WORD = re.compile(r"[0-9a-z.]")


class Synonyms:
    """Rewrites every spelling of a group to the group's first word, ignoring spacing and case."""

    def __init__(self, groups: Iterable[Iterable[str]] = ()):
        self.canonical: dict[str, str] = {}
        for group in groups:
            keys = [normalize(w).replace(" ", "") for w in group]
            keys = [k for k in keys if k]
            if not keys:
                continue
            head = keys[0]
            for k in keys:
                self.canonical.setdefault(k, head)
        # Longest spellings first so '사회복지시설정보시스템' wins over '시설정보시스템'.
        alts = sorted(self.canonical, key=len, reverse=True)
        self._re = re.compile("|".join(map(_spelling_pattern, alts))) if alts else None

    def apply(self, text: str) -> str:
        """`text` must already be normalised. Each spelling becomes its canonical word, set apart by spaces."""
        if self._re is None:
            return text
        return " ".join(self._re.sub(lambda m: " " + self.canonical[m.group().replace(" ", "")] + " ", text).split())


class English:
    """English words and phrases read as the knowledge base's Korean words (`bot/knowledge/english.yaml`).

    Applied to normalised text, whole words only, longest phrase first; English stopwords are dropped so
    that "What time does 희망이음 start?" leaves 몇시 희망이음 개시 and nothing unknown.
    """

    def __init__(self, words: dict[str, str], stopwords: Iterable[str]):
        self.words = {" ".join(normalize(str(k)).split()): str(v) for k, v in words.items() if normalize(str(k))}
        if isinstance(stopwords, str):
            stopwords = stopwords.split()
        self.stopwords = frozenset(w for s in stopwords for w in normalize(str(s)).split())
        alts = sorted(self.words, key=len, reverse=True)
        self._re = re.compile(r"(?<![0-9a-z])(" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alts)
                              + r")(?![0-9a-z])") if alts else None

    @classmethod
    def from_yaml(cls, path: Path) -> "English":
        """A glossary file (`words:` English → Korean, `stopwords:`); the engine's own is
        bot/knowledge/english.yaml (`bot.knowledge.search.english()`)."""
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(data.get("words") or {}, data.get("stopwords") or [])

    def apply(self, text: str) -> str:
        if not _LATIN.search(text):
            return text
        text = _LATIN_SLASH.sub(" ", text)  # 'id/pw', 'question/ticket'
        if self._re is not None:
            text = self._re.sub(lambda m: " " + self.words[" ".join(m.group().split())] + " ", text)
        text = _MONTH_DAY.sub(r"\1월 \2일", text)  # 'Aug 30' → '8월 30' → '8월 30일'
        return " ".join(w for w in text.split() if w not in self.stopwords)


_LATIN = re.compile(r"[a-z]")
_MONTH_DAY = re.compile(r"(?<![0-9])(1[0-2]|[1-9])월\s+([12][0-9]|3[01]|0?[1-9])(?![0-9일])")
_LATIN_SLASH = re.compile(r"(?<=[a-z])/|/(?=[a-z])")
