"""Personal data: the guard that keeps it out of public text, and the cipher that keeps it at rest.

The guard finds Korean resident registration numbers (with or without the hyphen; numbers issued
since October 2020 carry no valid check digit, so it is never checked), foreigner registration numbers,
mobile and landline phone numbers and e-mail addresses. Findings name the kind of data, never the data,
so they can go into a Korean error message or a log line safely.

The cipher is Fernet (`cryptography`); the key comes from `IEUM_SECRET_KEY` or is generated once into
the data directory with mode 0600.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"

# Separators people type between digit groups: hyphen (ASCII and look-alikes), space, dot.
_SEP = r"[\s\-‐‑‒–—―−.]?"
_D = r"(?<!\d)"  # no digit before
_E = r"(?!\d)"  # no digit after
_YYMMDD = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"

KINDS = {
    "rrn": "주민등록번호",
    "frn": "외국인등록번호",
    "mobile": "휴대전화번호",
    "phone": "전화번호",
    "email": "전자우편 주소",
}

_PATTERNS: list[tuple[str, re.Pattern]] = [
    # 7th digit: 1-4 and 9/0 (born before 1900) for citizens, 5-8 for foreigners.
    ("rrn", re.compile(_D + _YYMMDD + r"\s*[-‐‑‒–—―−]?\s*[1-490]\d{6}" + _E)),
    ("frn", re.compile(_D + _YYMMDD + r"\s*[-‐‑‒–—―−]?\s*[5-8]\d{6}" + _E)),
    ("mobile", re.compile(_D + r"01[016789]" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _E)),
    # Seoul 02, regional 031–064, internet 070, the +82 form and the (02) / 02) forms.
    ("phone", re.compile(
        r"(?:(?<!\d)\+?82[\s\-]?(?:0?1[016789]|0?2|0?[3-6][1-5]|0?70)" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _E + r")"
        + r"|(?:" + _D + r"0(?:2|[3-6][1-5]|70)" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _E + r")"
        + r"|(?:" + _D + r"\(?0(?:2|[3-6][1-5]|70)\)\s?\d{3,4}" + _SEP + r"\d{4}" + _E + r")")),
    ("email", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")),
]


@dataclass(frozen=True)
class Finding:
    kind: str  # rrn | frn | mobile | phone | email
    start: int
    end: int

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def find_personal_data(text: str | None) -> list[Finding]:
    """Every stretch of personal data in `text`, left to right, non-overlapping."""
    if not text:
        return []
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < f.end and f.start < m.end() for f in found):
                continue
            found.append(Finding(kind, m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


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


def _fernet_key(secret: str) -> bytes:
    """A Fernet key from IEUM_SECRET_KEY: a Fernet key as is, any other string through SHA-256."""
    raw = secret.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32 and len(raw) == 44:
            return raw
    except (ValueError, TypeError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def load_key(*, secret: str | None, directory: Path | None) -> bytes:
    """The key from the secret, or from `directory/secret.key` (created once, mode 0600)."""
    if secret:
        return _fernet_key(secret)
    if directory is None:
        return Fernet.generate_key()  # an in-memory store: its data dies with the process
    path = Path(directory) / KEY_FILE
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
    def from_settings(cls, settings, *, directory: Path | None) -> "Cipher":
        return cls(load_key(secret=getattr(settings, "secret_key", None), directory=directory))

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
        directory = store.path.parent if store.path is not None else None
        cipher = services.cipher = Cipher.from_settings(services.settings, directory=directory)
    return cipher
