"""Personal data: the guard that keeps it out of public text, and the cipher that keeps it at rest.

The guard finds Korean resident registration numbers (numbers issued since October 2020 carry no valid
check digit, so it is never checked), foreigner registration numbers, mobile and landline phone numbers
and e-mail addresses, however they are spelled. `find_personal_data` is the one detector: filing, the
triage card, exports, similar-inquiry suggestions, FAQ promotion, thread relay, inquiry events and log
masking all go through it (directly or through `mask` / `extract`). Findings name the kind of data,
never the data, so they can go into a Korean error message or a log line safely.

How it reads text (the spellings people actually type):
1. Normalise: NFKC per character (full-width digits and hyphens, `＠`, circled or bold digits become
   ASCII), any other script's decimal digit becomes its ASCII digit, zero-width and control characters
   are dropped. Each normalised character remembers where it came from, so a finding covers the original
   text, zero-width characters inside it included.
2. Digit groups joined by any run of separators (spaces, line breaks, hyphens and dashes of every kind,
   `.` `/` `_` `~` `ㅡ` `·` and parentheses) form one chain; every stretch of consecutive groups in a chain
   is judged on its digits alone, so `900 101-1234 567`, `(010)1234-5678` and `010 - 1234 - 5678` are
   the same numbers as their plain forms.
3. E-mail: an ASCII or Hangul local part, `@` (also `＠`, spaces around it, `(at)` / `[at]`), and a domain
   of at least two labels whose last label is ASCII letters, punycode or `한국`.

Shapes deliberately NOT treated as personal data (tests/test_privacy_guard.py keeps them unflagged):
- Commas and colons are not separators: `1,234,567원` is an amount and `18:00` a time, and no one writes a
  resident number or a phone with them.
- Thirteen digits whose first six are not a date (`1234567890123`): resident and foreigner numbers always
  start with YYMMDD (every seventh digit is some sex/century code, so that digit decides nothing).
- A number glued to more digits (`3800101-1234567`, `800101-1234567800101`): the digit groups are judged
  whole, and a seven-digit first group or a longer run is some other number (an account, a serial).
- Six-digit birth dates alone (`900101`), eight-digit local numbers without an area code (`1234-5678`) and
  already masked numbers (`900101-1******`): they identify no one by themselves and appear in ordinary
  schedules and examples.
- Company representative numbers (`1588-1234`, `1577-…`) and business registration numbers
  (`123-45-67890`): they belong to organisations, and the knowledge base quotes them.
- Slack mentions (`@홍길동`) and addresses without a dotted domain (`user@localhost`): no local part or no
  deliverable domain; and `@` spelled as a word (`at`, `골뱅이`), which ordinary prose is full of.

The cipher is Fernet (`cryptography`); the key is `IEUM_SECRET_KEY` (a Fernet key: `ieum keygen` prints
one) or is generated once into the data directory with mode 0600.
"""
from __future__ import annotations

import os
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"

KINDS = {
    "rrn": "주민등록번호",
    "frn": "외국인등록번호",
    "mobile": "휴대전화번호",
    "phone": "전화번호",
    "email": "전자우편 주소",
}

# Zero-width, bidi and other format/control characters: invisible, so dropped before detection
# (tab, line feed and carriage return stay: they are separators).
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5"
                        "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
# What people type between digit groups (after NFKC: `－` is `-`, `～` is `~`, `ㅡ` is U+1173).
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−﹣./_~·•()\[\]\u1173\u3161]+")
_DIGITS = re.compile(r"[0-9]+")
_PLUS = re.compile(r"\+[\s\-]*$")
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]+"  # local part: ASCII or Hangul
    r"(?:\s*@\s*|\s*[(\[]\s*at\s*[)\]]\s*)"
    r"[^\W_][\w\-]*(?:\.[^\W_][\w\-]*)*"  # domain labels (IDN allowed)
    r"\.(?:xn--[A-Za-z0-9\-]+|[A-Za-z]{2,}(?![A-Za-z0-9\-])|한국)",  # Korean particles may follow
    re.IGNORECASE)
_LANDLINE = re.compile(r"0(?:2\d{7,8}|[3-6][1-5]\d{7,8}|70\d{7,8}|50\d{8,9})")
_MOBILE = re.compile(r"01[016789]\d{7,8}")


@dataclass(frozen=True)
class Finding:
    kind: str  # rrn | frn | mobile | phone | email
    start: int
    end: int

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def normalize(text: str) -> tuple[str, list[int]]:
    """(normalised text, for each of its characters the index in `text` it came from)."""
    if text.isascii() and not _INVISIBLE.search(text):  # ASCII is its own NFKC form
        return text, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if _INVISIBLE.match(ch):
            continue
        n = unicodedata.normalize("NFKC", ch)
        for c in n:
            if not c.isascii() and c.isdecimal():
                c = str(unicodedata.decimal(c))
            out.append(c)
            origin.append(i)
    return "".join(out), origin


def _number_kind(digits: str, plus82: bool) -> str | None:
    if plus82:
        rest = digits[2:]
        rest = rest if rest.startswith("0") else "0" + rest
        return "phone" if (_MOBILE.fullmatch(rest) or _LANDLINE.fullmatch(rest)) else None
    if len(digits) == 13:
        month, day, seventh = int(digits[2:4]), int(digits[4:6]), digits[6]
        if 1 <= month <= 12 and 1 <= day <= 31:
            # 7th digit: 1-4 and 9/0 (born before 1900) for citizens, 5-8 for foreigners
            return "frn" if seventh in "5678" else "rrn"
        return None
    if _MOBILE.fullmatch(digits):
        return "mobile"
    if _LANDLINE.fullmatch(digits):
        return "phone"
    return None


def _numbers(norm: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) in `norm` for every personal number: in each chain of digit groups, from left to
    right, the longest run of groups starting at a group whose digits make a number."""
    groups = [(m.start(), m.end()) for m in _DIGITS.finditer(norm)]
    if not groups:
        return []
    chains: list[list[tuple[int, int]]] = [[groups[0]]]
    for g in groups[1:]:
        if _SEPARATORS.fullmatch(norm, chains[-1][-1][1], g[0]):
            chains[-1].append(g)
        else:
            chains.append([g])
    found = []
    for chain in chains:
        i = 0
        while i < len(chain):
            best = None
            digits = ""
            plus82 = norm[chain[i][0]:chain[i][1]] == "82" and bool(_PLUS.search(norm, 0, chain[i][0]))
            for j in range(i, len(chain)):
                digits += norm[chain[j][0]:chain[j][1]]
                if len(digits) > 14:
                    break
                kind = _number_kind(digits, plus82)
                if kind:
                    best = (kind, j)
            if best is None:
                i += 1
                continue
            kind, j = best
            start = chain[i][0]
            if plus82 and (plus := _PLUS.search(norm, 0, start)) is not None:
                start = plus.start()
            found.append((kind, start, chain[j][1]))
            i = j + 1
    return found


def find_personal_data(text: str | None) -> list[Finding]:
    """Every stretch of personal data in `text`, left to right, non-overlapping, in `text`'s indices."""
    if not text:
        return []
    norm, origin = normalize(text)
    spans = [(m.start(), m.end(), "email") for m in _EMAIL.finditer(norm)] if "@" in norm or "at" in norm.lower() else []
    for kind, s, e in _numbers(norm):
        if not any(s < oe and os_ < e for os_, oe, _ in spans):
            spans.append((s, e, kind))
    return sorted((Finding(kind, origin[s], origin[e - 1] + 1) for s, e, kind in spans), key=lambda f: f.start)


def labels(findings: list[Finding]) -> str:
    """'주민등록번호, 휴대전화번호' — the kinds found, in order, once each."""
    seen: list[str] = []
    for f in findings:
        if f.label not in seen:
            seen.append(f.label)
    return ", ".join(seen)


def _replace(text: str, findings: list[Finding], placeholder: str) -> str:
    out, pos = [], 0
    for f in findings:
        out.append(text[pos:f.start])
        out.append(placeholder)
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def mask(text: str | None, *, placeholder: str = "[개인정보]", findings: list[Finding] | None = None) -> str:
    """`text` with each piece of personal data replaced by `placeholder`.

    Pass `findings` when `find_personal_data(text)` has already been called: the text is not scanned again.
    """
    if not text:
        return text or ""
    return _replace(text, find_personal_data(text) if findings is None else findings, placeholder)


def extract(text: str | None, *, placeholder: str = "[대상자 정보]",
            findings: list[Finding] | None = None) -> tuple[str, list[str]]:
    """Split `text` into (public text with the data replaced, the pieces of data taken out); one scan."""
    if not text:
        return text or "", []
    found = find_personal_data(text) if findings is None else findings
    return _replace(text, found, placeholder), [text[f.start:f.end] for f in found]


# ---- the cipher ------------------------------------------------------------------------------------


class KeyError_(RuntimeError):
    """The encryption key is missing, unreadable or malformed."""


class KeyMismatch(RuntimeError):
    """The encryption key cannot decrypt the data already stored."""


KEYGEN_HINT = "`ieum keygen`으로 새 키를 만들어 IEUM_SECRET_KEY에 넣으세요"


def check_secret(secret: str) -> bytes:
    """IEUM_SECRET_KEY as a Fernet key; anything else (a passphrase, `1`) is refused rather than stretched
    with an unsalted hash, so a weak key cannot protect subject info by accident."""
    raw = secret.strip().encode()
    try:
        Fernet(raw)
    except (ValueError, TypeError):
        raise KeyError_(f"IEUM_SECRET_KEY가 올바른 암호화 키(Fernet 키, 44자)가 아닙니다. {KEYGEN_HINT}.") from None
    return raw


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_key(*, secret: str | None, directory: Path | None, create: bool = True) -> bytes:
    """The key from the secret, or from `directory/secret.key` (created once, mode 0600, unless `create`
    is false: then a missing file raises KeyMismatch, so a data directory whose database was encrypted
    with another key never gets a fresh key written into it)."""
    if secret:
        return check_secret(secret)
    if directory is None:
        return Fernet.generate_key()  # an in-memory store: its data dies with the process
    path = Path(directory) / KEY_FILE
    if not create and not path.exists():
        raise KeyMismatch(f"암호화 키가 없습니다: 데이터 디렉터리에 secret.key가 없고 IEUM_SECRET_KEY도 설정되지 "
                          f"않았습니다. 처음 사용한 키를 IEUM_SECRET_KEY에 설정하거나 {path}에 되돌려 놓으세요.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
        return key
    except FileExistsError:
        pass
    except OSError as e:
        raise KeyError_(f"암호화 키 파일을 만들 수 없습니다: {path} ({e.strerror})") from None
    try:
        key = path.read_bytes().strip()
    except OSError as e:
        raise KeyError_(f"암호화 키 파일을 읽을 수 없습니다: {path} ({e.strerror})") from None
    try:
        Fernet(key)
    except ValueError:
        raise KeyError_(f"암호화 키 파일의 형식이 올바르지 않습니다: {path}") from None
    return key


class Cipher:
    """Encrypts and decrypts text with Fernet; errors never carry the text."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings, *, directory: Path | None, create: bool = True) -> "Cipher":
        return cls(load_key(secret=getattr(settings, "secret_key", None), directory=directory, create=create))

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise KeyMismatch(
                "암호화 키가 저장된 대상자 정보를 풀 수 없습니다. IEUM_SECRET_KEY 또는 데이터 디렉터리의 "
                "secret.key가 처음 사용한 키와 같은지 확인해 주세요."
            ) from None

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except (InvalidToken, ValueError):
            raise KeyMismatch("암호화 키가 저장된 첨부파일을 풀 수 없습니다. 처음 사용한 키를 설정해 주세요.") from None

    def can_decrypt(self, token: str) -> bool:
        try:
            self._fernet.decrypt(token.encode("ascii"))
            return True
        except (InvalidToken, ValueError):
            return False


def service_cipher(services) -> Cipher:
    """The one cipher of a `Services` (subject info, sensitive outbox payloads), made on first use from
    IEUM_SECRET_KEY or the key file in the database's directory."""
    cipher = services.cipher
    if cipher is None:
        store = services.store
        # the key file lives beside an SQLite file; with PostgreSQL, in the data directory (processes on
        # other hosts must be given the same key: IEUM_SECRET_KEY, checked against the database below)
        directory = (store.path.parent if store.path is not None
                     else services.settings.data_dir if store.dialect != "sqlite" else None)
        cipher = services.cipher = Cipher.from_settings(
            services.settings, directory=directory, create=stored_key_check(store.conn) is None)
    return cipher


def stored_key_check(conn: Any) -> str | None:
    """The token the inquiries store encrypts once with its key (None: nothing encrypted yet). When there is
    one, a missing key is an error, never a reason to generate a new one."""
    try:
        row = conn.execute("SELECT value FROM inquiry_meta WHERE name = 'key_check'").fetchone()
    except sqlite3.Error:  # no inquiries table yet (or not a database: its own check says so)
        return None
    except Exception as e:  # PostgreSQL's driver: no inquiries table yet
        if type(e).__name__ != "UndefinedTable":
            raise
        return None
    return row[0] if row else None


def key_problem(settings, db_path: Path | str) -> str | None:
    """Why the configured key cannot read the database at `db_path` (an SQLite file or a PostgreSQL URL;
    None: it can, or nothing is encrypted). Reads only: never creates a key file."""
    if str(db_path).startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(str(db_path), autocommit=True) as pg:
            token = stored_key_check(pg)
    else:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            token = stored_key_check(conn)
        finally:
            conn.close()
    if token is None:
        return None
    try:
        Cipher.from_settings(settings, directory=Path(settings.data_dir), create=False).decrypt(token)
    except (KeyError_, KeyMismatch) as e:
        return str(e)
    return None
