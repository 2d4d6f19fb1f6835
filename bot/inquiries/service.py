"""Inquiries (질의하기): filing, the helpdesk's triage workflow, and their storage.

An inquiry follows the seed's 질의하기 screens: a ten-digit receipt number that is never reused, title,
business category (a path of the taxonomy tree), inquiry type (exactly one of the taxonomy's types),
urgent flag, public or private, 지침문의 이관, requester, content, attachments, and the private subject
info (대상자 정보), which lives encrypted in its own table and is read only by the requester and the
assignee, every read logged. Status goes 조치대기 → 조치중 → 조치완료; every change is an event.

`Inquiries` is the small interface handlers and the CLI use; all SQL stays in this module so another
store (PostgreSQL) can replace it without touching them. Every multi-row change is one transaction.
"""
from __future__ import annotations

import builtins  # the annotations of Inquiries, whose method `list` hides the builtin
import csv
import io
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from bot.infra.businesshours import BusinessCalendar, Policy, remaining_label
from bot.core.clock import SEOUL
from bot.knowledge.base import Entry
from bot.core.privacy import Cipher, find_personal_data, labels, mask
from bot.infra.store import Migrations, Store
from bot.inquiries.records import AccessLog

log = logging.getLogger(__name__)

WAITING, IN_PROGRESS, DONE = "조치대기", "조치중", "조치완료"
INFO_REQUESTED = "추가정보요청"  # the requester was asked for more; their reply returns it to 조치중
STATUSES = (WAITING, IN_PROGRESS, INFO_REQUESTED, DONE)
MAX_NOTE = 2000
SEED_TYPES = ["개선요구", "고객PC환경", "교육문의", "사용법문의", "시스템오류", "자료보정", "자료확인",
              "단순질의", "지침문의", "장애신고", "기타문의"]
ALLOWED_EXTENSIONS = ("jpg", "jpeg", "png", "hwp", "doc", "docx", "pdf")
MAX_TITLE = 100
MAX_CONTENT = 4000
MAX_SUBJECT = 2000
MAX_ANSWER = 4000
MAX_FILE_SIZE = 20 * 1024 * 1024
MAX_FILES = 10
PERIODS = {"1개월": 1, "3개월": 3, "1년": 12}
EXPORT_HEADINGS = ["접수번호", "업무분류", "질의구분", "제목", "소속기관", "요청자", "등록일자", "진행상태",
                   "처리여유기간", "추천수", "만족도", "조회수"]
# `export --with-content` adds what was asked and answered (masked like the rest; never the subject info).
CONTENT_HEADINGS = ["질의내용", "답변", "담당자", "완료일시", "처리시간(업무시간)"]
EXPORT_WIDTHS = [13, 24, 12, 40, 18, 12, 12, 10, 14, 8, 8, 8, 60, 60, 12, 18, 16]  # characters, for Excel
SIMILAR_POOL = 5000  # most recent public inquiries kept in the similar-inquiry index


# ---- errors -----------------------------------------------------------------------------------------


class InquiryError(ValueError):
    """A refused inquiry operation; the message is Korean and never contains personal data."""


class Invalid(InquiryError):
    """The inquiry's fields do not pass validation (errors maps field name to a Korean message)."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__(" / ".join(errors.values()))


class NotFound(InquiryError):
    """No inquiry has this receipt number."""


class Forbidden(InquiryError):
    """The user may not do this to this inquiry."""


class AlreadyClaimed(InquiryError):
    """Another agent claimed the inquiry first."""

    def __init__(self, assignee: str):
        self.assignee = assignee
        super().__init__(f"이미 {assignee}님이 맡은 질의입니다.")


class AlreadyYours(InquiryError):
    """The agent claiming the inquiry already holds it (two clicks at once: one claims, one is told)."""


class BadState(InquiryError):
    """The inquiry's status does not allow this step."""


class AlreadyDone(InquiryError):
    """Something that may happen only once already happened (rating, recommending)."""


# ---- schema -----------------------------------------------------------------------------------------


MIGRATIONS = Migrations("inquiries")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("inquiries_001_tables")
def _m001(db) -> None:
    c = db.conn
    c.execute("CREATE TABLE inquiry_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    c.execute("INSERT INTO inquiry_counter (name, value) VALUES ('receipt', 0)")
    c.execute("""CREATE TABLE inquiries (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        urgent INTEGER NOT NULL DEFAULT 0,
        public INTEGER NOT NULL DEFAULT 1,
        guideline INTEGER NOT NULL DEFAULT 0,
        requester TEXT NOT NULL,
        requester_name TEXT NOT NULL DEFAULT '',
        organization TEXT NOT NULL DEFAULT '',
        position TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '',
        question TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT '조치대기',
        assignee TEXT,
        answer TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        due_at TEXT,
        started_at TEXT,
        answered_at TEXT,
        completed_at TEXT,
        parent_id INTEGER REFERENCES inquiries(id),
        has_subject INTEGER NOT NULL DEFAULT 0,
        recommends INTEGER NOT NULL DEFAULT 0,
        views INTEGER NOT NULL DEFAULT 0,
        satisfaction INTEGER,
        faq_id TEXT,
        source TEXT NOT NULL DEFAULT 'chat'
    )""")
    for cols in ("status, id", "category, id", "type, id", "requester, id", "assignee, id", "urgent, id",
                 "created_at", "public, id", "parent_id"):
        name = "idx_inquiries_" + cols.replace(", ", "_")
        c.execute(f"CREATE INDEX {name} ON inquiries ({cols})")
    c.execute("""CREATE TABLE inquiry_events (
        id INTEGER PRIMARY KEY, inquiry_id INTEGER NOT NULL REFERENCES inquiries(id),
        at TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}')""")
    c.execute("CREATE INDEX idx_inquiry_events_inquiry ON inquiry_events (inquiry_id, id)")
    c.execute("""CREATE TABLE inquiry_subjects (
        inquiry_id INTEGER PRIMARY KEY REFERENCES inquiries(id), token TEXT NOT NULL, created_at TEXT NOT NULL)""")
    c.execute("""CREATE TABLE inquiry_subject_reads (
        id INTEGER PRIMARY KEY, inquiry_id INTEGER NOT NULL, reader TEXT NOT NULL, at TEXT NOT NULL,
        allowed INTEGER NOT NULL)""")
    c.execute("CREATE INDEX idx_inquiry_subject_reads ON inquiry_subject_reads (inquiry_id)")
    c.execute("""CREATE TABLE inquiry_attachments (
        id INTEGER PRIMARY KEY, inquiry_id INTEGER NOT NULL REFERENCES inquiries(id), name TEXT NOT NULL,
        type TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0, file_id TEXT NOT NULL DEFAULT '')""")
    c.execute("CREATE INDEX idx_inquiry_attachments ON inquiry_attachments (inquiry_id)")
    c.execute("""CREATE TABLE inquiry_recommends (
        inquiry_id INTEGER NOT NULL REFERENCES inquiries(id), user TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (inquiry_id, user))""")
    c.execute("""CREATE TABLE inquiry_faq (
        id TEXT PRIMARY KEY, inquiry_id INTEGER NOT NULL REFERENCES inquiries(id), title TEXT NOT NULL,
        answer TEXT NOT NULL, questions TEXT NOT NULL DEFAULT '[]', tags TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, created_by TEXT NOT NULL)""")
    c.execute("CREATE TABLE inquiry_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


@MIGRATIONS("inquiries_002_list_indexes")
def _m002(db) -> None:
    # Covering indexes for the list screen's combined filters (counts read the index only).
    c = db.conn
    c.execute("CREATE INDEX idx_inquiries_category_status ON inquiries (category, status, urgent, type)")
    c.execute("CREATE INDEX idx_inquiries_type_created ON inquiries (type, created_at)")
    c.execute("CREATE INDEX idx_inquiries_status_created ON inquiries (status, created_at)")


@MIGRATIONS("inquiries_003_reinquiry_source")
def _m003(db) -> None:
    # Re-inquiries were once filed with source 'reinquiry' and so lost their chat surface (warnings went to
    # the console, recovery skipped them): give them their parent's, level by level down a chain of them.
    c = db.conn
    parent = "(SELECT p.source FROM inquiries p WHERE p.id = inquiries.parent_id)"
    while c.execute(f"UPDATE inquiries SET source = {parent} WHERE source = 'reinquiry' AND parent_id IS NOT NULL"
                    f" AND {parent} != 'reinquiry'").rowcount:
        pass


@MIGRATIONS("inquiries_004_submission_id")
def _m004(db) -> None:
    # The chat surface's id of the form a user submitted (Slack view id, Teams card activity): the same form
    # submitted again (a retry after a crash, a double click) finds its inquiry instead of filing another.
    c = db.conn
    c.execute("ALTER TABLE inquiries ADD COLUMN submission_id TEXT")
    c.execute("CREATE UNIQUE INDEX idx_inquiries_submission ON inquiries (submission_id) "
              "WHERE submission_id IS NOT NULL")


@MIGRATIONS("inquiries_005_attachment_content")
def _m005(db) -> None:
    # The attachment's bytes, encrypted with the subject-info cipher (a scan can hold personal data): kept in
    # the database, so they are owner-only (0600) like it and go into every backup with it.
    db.conn.execute("ALTER TABLE inquiry_attachments ADD COLUMN content BLOB")


OPEN = f"status != '{DONE}'"  # a literal, so that SQLite matches it to the partial index below


@MIGRATIONS("inquiries_006_open_due")
def _m006(db) -> None:
    # the console's queue: open inquiries by time left, its filters covered (counted without the table)
    db.conn.execute("CREATE INDEX IF NOT EXISTS idx_inquiries_open_due ON inquiries "
                    f"(due_at, category, assignee, urgent, type, created_at) WHERE {OPEN}")
    # the console's insights: inquiries completed per day
    db.conn.execute("CREATE INDEX IF NOT EXISTS idx_inquiries_completed_at ON inquiries (completed_at) "
                    "WHERE completed_at IS NOT NULL")


@MIGRATIONS("inquiries_007_postgresql_search")
def _m007(db) -> None:
    # PostgreSQL only (SQLite records the step and has nothing to do): trigram indexes serve the list
    # screen's substring search (title/content ILIKE '%…%', Hangul included), and (status, category) the
    # combined filter, where a million rows would otherwise be scanned. pg_trgm is a trusted extension
    # (PostgreSQL 13+: the database owner may create it); without it the search still works, unindexed.
    if getattr(db, "dialect", "sqlite") != "postgresql":
        return
    db.execute("CREATE INDEX IF NOT EXISTS idx_inquiries_status_category ON inquiries (status, category)")
    db.execute("SAVEPOINT trgm")
    try:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as e:  # no privilege: keep the rest of the migration
        db.execute("ROLLBACK TO SAVEPOINT trgm")
        log.warning("pg_trgm cannot be created here (%s): the text filter runs without an index", type(e).__name__)
        return
    db.execute("RELEASE SAVEPOINT trgm")
    # the extension lives in one schema of the database, maybe not in this store's search_path
    schema = db.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
                        ).fetchone()[0]
    for column in ("title", "content"):
        db.execute(f"CREATE INDEX IF NOT EXISTS idx_inquiries_{column}_trgm ON inquiries "
                   f"USING gin ({column} {schema}.gin_trgm_ops)")


# What each allowed type starts with: a name says .pdf, the bytes must agree (HWP 5 and DOC are OLE compound
# files, HWPX and DOCX are ZIP packages).
_OLE, _ZIP = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x03\x04"
MAGIC = {"jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",),
         "pdf": (b"%PDF-",), "hwp": (_OLE, _ZIP), "doc": (_OLE,), "docx": (_ZIP,)}


class AttachmentError(InquiryError):
    """A file that cannot be attached (the message is Korean)."""


def safe_name(name: Any) -> str:
    """The file's own name: no directories (`../../etc/passwd.pdf` is `passwd.pdf`), no control characters
    (a NUL included), no leading dots, at most 120 characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    return re.split(r"[\\/]", name)[-1].strip().lstrip(".").strip()[:120]


def read_local_file(path: str) -> dict:
    """An attachment from a path on this machine (the terminal only: never from a chat payload)."""
    p = Path(os.path.expanduser(path.strip().strip('"').strip("'")))
    if not p.is_file():
        raise AttachmentError(f"첨부파일을 찾을 수 없습니다: {safe_name(p.name)[:60] or path[:60]}")
    if p.stat().st_size > MAX_FILE_SIZE:
        raise AttachmentError(f"첨부파일은 한 개에 {MAX_FILE_SIZE // (1024 * 1024)}MB까지 올릴 수 있습니다: "
                              f"{safe_name(p.name)[:60]}")
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except OSError as e:
        raise AttachmentError(f"첨부파일을 읽을 수 없습니다: {safe_name(p.name)[:60]} ({e.strerror})") from None
    return {"name": safe_name(p.name), "size": len(data), "data": data}


# ---- the inquiry ------------------------------------------------------------------------------------


@dataclass
class Attachment:
    name: str
    type: str
    size: int = 0
    file_id: str = ""


@dataclass
class Event:
    at: str
    actor: str
    kind: str
    detail: dict = field(default_factory=dict)


@dataclass
class Inquiry:
    id: int
    title: str
    category: str
    type: str
    urgent: bool
    public: bool
    guideline: bool
    requester: str
    requester_name: str
    organization: str
    position: str
    content: str
    question: str
    status: str
    assignee: str | None
    answer: str | None
    created_at: str
    updated_at: str
    due_at: str | None
    started_at: str | None
    answered_at: str | None
    completed_at: str | None
    parent_id: int | None
    has_subject: bool
    recommends: int
    views: int
    satisfaction: int | None
    faq_id: str | None
    source: str
    attachments: list[Attachment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def receipt(self) -> str:
        return receipt(self.id)

    @property
    def parent_receipt(self) -> str | None:
        return receipt(self.parent_id) if self.parent_id else None

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def due(self) -> datetime | None:
        return datetime.fromisoformat(self.due_at) if self.due_at else None

    @property
    def category_short(self) -> str:
        """'사회서비스/공통관리/질의하기' as the seed's list shows it (without the root)."""
        parts = self.category.split(" > ")
        return "/".join(parts[1:] if len(parts) > 1 else parts)

    def public_dict(self) -> dict[str, Any]:
        """Everything but the subject info (which this object never holds): for JSON and templates."""
        return {
            "receipt": self.receipt, "title": self.title, "category": self.category, "type": self.type,
            "urgent": self.urgent, "public": self.public, "guideline": self.guideline,
            "requester": self.requester, "requester_name": self.requester_name,
            "organization": self.organization, "position": self.position, "content": self.content,
            "question": self.question, "status": self.status, "assignee": self.assignee, "answer": self.answer,
            "created_at": self.created_at, "updated_at": self.updated_at, "due_at": self.due_at,
            "answered_at": self.answered_at, "completed_at": self.completed_at,
            "parent": self.parent_receipt, "has_subject_info": self.has_subject,
            "recommends": self.recommends, "views": self.views, "satisfaction": self.satisfaction,
            "faq_id": self.faq_id,
            "attachments": [a.__dict__ for a in self.attachments],
        }


_COLUMNS = [f for f in Inquiry.__dataclass_fields__ if f not in ("attachments", "events")]
_BOOL = {"urgent", "public", "guideline", "has_subject"}


def receipt(number: int) -> str:
    return f"{int(number):010d}"


def status_counts(conn) -> dict[str, int]:
    """Inquiries by status, every status present (0 where none), read on `conn` (the caller's connection: the
    metrics scrape reads on a read-only one of its own)."""
    counts = {s: 0 for s in STATUSES}
    counts.update({s: n for s, n in conn.execute("SELECT status, count(*) FROM inquiries GROUP BY status")})
    return counts


def delivery_key(number: str | int, event: str) -> str:
    """The outbox key of one message about an inquiry, e.g. for 0000000011: 'inquiry-0000000011-filed' (the
    triage card), '-receipt' (the requester's receipt DM), '-answered' (a notice to the requester),
    '-answered-triage' (the triage channel's update). Handlers, recovery and adapters must agree on it."""
    return f"inquiry-{receipt(number) if isinstance(number, int) else number}-{event}"


def parse_receipt(value: str | int) -> int:
    text = str(value).strip().lstrip("#")
    if not text.isdigit() or len(text) > 10 or int(text) <= 0:
        raise NotFound(f"접수번호 형식이 올바르지 않습니다: {mask(str(value))[:20]} (예: 0000000011)")
    return int(text)


# The list counts its matches up to this many and no further: an exact COUNT(*) of a filter matching most of
# a million rows costs a scan of them all, and nobody pages through 10,000 inquiries (the screen says
# "10,000건 이상" and keeps its 다음 link while pages are full).
COUNT_CAP = 10_000
# A word search is counted to 1,000 ("1,000건 이상"), as search screens do: each match costs reading its text, so
# a common word with another filter read ten thousand texts to count (130 ms at 1,000,000 on PostgreSQL).
TEXT_COUNT_CAP = 1_000
# A text filter the planner expects at most this many rows for is read from the trigram indexes (PostgreSQL).
TEXT_SELECTIVE_ROWS = 5_000


@dataclass
class Page:
    items: list[Inquiry]
    total: int  # exact, or the cap (COUNT_CAP, TEXT_COUNT_CAP with a word) when `capped`
    page: int
    per_page: int
    capped: bool = False  # more than `total` match

    @property
    def pages(self) -> int:
        """The last page known; when capped, one more while this page is full (pages stay navigable)."""
        known = max(1, -(-self.total // self.per_page))
        if self.capped:
            return max(known, self.page + (len(self.items) == self.per_page))
        return known


@dataclass
class Suggestion:
    kind: str  # inquiry | faq
    id: str  # receipt number for inquiries, entry id for FAQ
    title: str
    score: float
    status: str = ""


def _now_text(now: datetime) -> str:
    return now.astimezone(SEOUL).isoformat(timespec="seconds")


def _months_before(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 - months, 12)
    year, month = t.year + y, m + 1
    for day in (t.day, 30, 29, 28):
        try:
            return t.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return t


def _escape_template(text: str) -> str:
    """User text inside an Entry answer (a jinja2 template) must never be compiled as template syntax."""
    return text.replace("{", "{{ '{' }}")


def _extension(attachment: dict) -> str:
    """jpg, pdf … from the file name, or from the type the chat surface reported when the name has none."""
    name = str(attachment.get("name") or "")
    if "." in name:
        return name.rsplit(".", 1)[-1].lower()
    kind = str(attachment.get("type") or "").lower()
    return kind.rsplit("/", 1)[-1] if kind else ""


def _category_key(path: str) -> tuple[str, ...]:
    # 'G/W > 전자결재', 'G/W/전자결재' and 'G > W > 전자결재' are the same path for matching purposes.
    return tuple(p.strip() for p in path.replace("/", ">").split(">") if p.strip())


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on", "예", "네", "긴급", "공개", "이관")
    return bool(value)


# ---- the service ------------------------------------------------------------------------------------


class Inquiries:
    """Filing, reading and the triage steps of inquiries; the only place that knows their SQL."""

    def __init__(self, store: Store, *, kb=None, clock=None, cipher: Cipher | None = None, engine=None,
                 policy: Policy | None = None, agents: Iterable[str] = (), synonyms=()):
        from bot.core.clock import Clock

        self.store = store
        self.kb = kb
        self.clock = clock or Clock()
        self.cipher = cipher or Cipher(_ephemeral_key())
        self.engine = engine
        self.calendar = BusinessCalendar(policy or Policy())
        self._agents = agents if callable(agents) else tuple(agents)
        self._synonyms = synonyms if synonyms else (getattr(kb, "synonyms", None) or [])
        self._similar = None  # an Engine over recent public inquiries, built on first use
        self._similar_seen = 0  # the highest public inquiry id read into it from the database
        self._promoted_seen = ""  # the newest promotion to the FAQ read into the engine (its created_at)
        self._categories: list[str] | None = None
        self._category_keys: tuple[dict[tuple, str], dict[tuple, list[str]]] | None = None
        self.records: AccessLog | None = None  # every handling of subject info is recorded there (접속기록)

    # ---- reference data -------------------------------------------------------------------------

    @property
    def types(self) -> list[str]:
        return list(getattr(self.kb, "types", None) or SEED_TYPES)

    @property
    def categories(self) -> list[str]:
        if self._categories is None:
            self._categories = self.kb.category_paths() if self.kb is not None else []
        return self._categories

    def is_agent(self, user: str) -> bool:
        """Agents are configuration: a list of user ids, or a callable (e.g. triage-channel membership)."""
        if not user:
            return False
        if callable(self._agents):
            return bool(self._agents(user))
        return user in self._agents

    @property
    def agents(self) -> tuple[str, ...]:
        return () if callable(self._agents) else tuple(self._agents)

    def normalize_category(self, value: str) -> str | None:
        """A known taxonomy path for `value` ('ERP/인사', 'ERP > 인사', '전체업무 > ERP > 인사'), or None."""
        raw = str(value or "").strip()
        parts = _category_key(raw)
        if not parts:
            return None
        paths = self.categories
        if not paths:
            return " > ".join(p.strip() for p in raw.split(">") if p.strip())
        if self._category_keys is None:
            full: dict[tuple, str] = {}
            short: dict[tuple, list[str]] = {}
            for p in paths:
                k = _category_key(p)
                full[k] = p
                short.setdefault(k[1:], []).append(p)
            self._category_keys = (full, short)
        full, short = self._category_keys
        if parts in full:
            return full[parts]
        hits = short.get(parts, [])
        return hits[0] if len(hits) == 1 else None

    # ---- validation -----------------------------------------------------------------------------

    def validate(self, *, title: Any = "", category: Any = "", type: Any = "", content: Any = "",
                 subject_info: Any = "", attachments: Iterable[dict] = (), requester: Any = "") -> dict[str, str]:
        """Field name → Korean message for every problem; empty when the inquiry can be filed."""
        errors: dict[str, str] = {}
        title = title if isinstance(title, str) else ("" if title is None else str(title))
        if not title.strip():
            errors["title"] = "제목을 입력해 주세요."
        elif len(title.strip()) > MAX_TITLE:
            errors["title"] = f"제목은 {MAX_TITLE}자 이내로 입력해 주세요. (지금 {len(title.strip())}자)"
        elif found := find_personal_data(title):
            errors["title"] = (f"제목에 개인정보({labels(found)})가 있습니다. 제목은 공개되므로 "
                               "개인정보는 대상자 정보에 적어 주세요.")
        if not str(category or "").strip():
            errors["category"] = "업무분류를 선택해 주세요."
        elif self.normalize_category(str(category)) is None:
            errors["category"] = f"알 수 없는 업무분류입니다: {mask(str(category))[:60]} (예: 전체업무 > ERP > 인사)"
        if not str(type or "").strip():
            errors["type"] = "질의구분을 하나 선택해 주세요."
        elif str(type).strip() not in self.types:
            errors["type"] = f"질의구분은 다음 중 정확히 하나여야 합니다: {', '.join(self.types)}"
        content = content if isinstance(content, str) else ("" if content is None else str(content))
        if len(content) > MAX_CONTENT:
            errors["content"] = f"질의내용은 {MAX_CONTENT}자 이내로 입력해 주세요. (지금 {len(content)}자)"
        elif found := find_personal_data(content):
            errors["content"] = (f"질의내용에 개인정보({labels(found)})가 있습니다. 질의내용은 "
                                 "공개되므로 개인정보는 대상자 정보에 적어 주세요.")
        subject_info = subject_info if isinstance(subject_info, str) else ("" if subject_info is None else str(subject_info))
        if len(subject_info) > MAX_SUBJECT:
            errors["subject_info"] = f"대상자 정보는 {MAX_SUBJECT}자 이내로 입력해 주세요."
        problem = self._attachment_problem(attachments)
        if problem:
            errors["files"] = problem
        if not str(requester or "").strip():
            errors["requester"] = "요청자를 알 수 없습니다."
        return errors

    @staticmethod
    def _attachment_problem(attachments: Iterable[dict]) -> str | None:
        files = list(attachments or [])
        if len(files) > MAX_FILES:
            return f"첨부파일은 {MAX_FILES}개까지 올릴 수 있습니다."
        for a in files:
            if not isinstance(a, dict) or not safe_name(a.get("name")):
                return "첨부파일 정보가 올바르지 않습니다 (이름이 없습니다)."
            name = safe_name(a["name"])
            if find_personal_data(name):
                return "첨부파일 이름에 개인정보가 있습니다. 파일 이름을 바꿔 주세요."
            ext = _extension(a)
            if ext not in ALLOWED_EXTENSIONS:
                return (f"첨부파일은 {', '.join(ALLOWED_EXTENSIONS)} 형식만 올릴 수 있습니다: {name[:60]}")
            data = a.get("data")
            try:
                size = len(data) if isinstance(data, bytes) else int(a.get("size") or 0)
            except (TypeError, ValueError):
                return f"첨부파일 크기가 올바르지 않습니다: {name[:60]}"
            if size < 0 or size > MAX_FILE_SIZE:
                return f"첨부파일은 한 개에 {MAX_FILE_SIZE // (1024 * 1024)}MB까지 올릴 수 있습니다: {name[:60]}"
            if isinstance(data, bytes) and not data.startswith(MAGIC.get(ext, ())):
                return f"첨부파일의 내용이 {ext} 형식이 아닙니다: {name[:60]}"
        return None

    # ---- filing ---------------------------------------------------------------------------------

    def file(self, *, title: str, category: str, type: str, requester: str, urgent: Any = False,
             public: Any = True, guideline: Any = False, requester_name: str = "", organization: str = "",
             position: str = "", content: str = "", subject_info: str = "", attachments: Iterable[dict] = (),
             question: str = "", parent_id: int | None = None, source: str = "chat",
             submission_id: str | None = None, _subject_token: str | None = None, where: str = "") -> Inquiry:
        """Validate and store a new inquiry with its subject info, attachments and first event.

        `submission_id` names the form instance this comes from (`Incoming.submission`): filing is then
        idempotent, a repeat by the same requester returning the inquiry already filed (checked and stored in
        the one transaction; a UNIQUE index backs it). Another requester's id is refused (`Forbidden`)."""
        submission_id = str(submission_id)[:300] if submission_id else None
        if submission_id:
            done = self._submitted(submission_id, requester)
            if done is not None:
                return done
        attachments = list(attachments or [])
        errors = self.validate(title=title, category=category, type=type, content=content,
                               subject_info=subject_info, attachments=attachments, requester=requester)
        if errors:
            raise Invalid(errors)
        now = self.clock.now()
        category = self.normalize_category(category) or str(category)
        type_ = str(type).strip()
        urgent, public, guideline = _as_bool(urgent), _as_bool(public), _as_bool(guideline)
        subject_info = (subject_info or "").strip()
        token = self.cipher.encrypt(subject_info) if subject_info else _subject_token
        due = self.calendar.due(now, type_, urgent)
        row = {
            "title": title.strip(), "category": category, "type": type_, "urgent": int(urgent),
            "public": int(public), "guideline": int(guideline), "requester": str(requester).strip(),
            "requester_name": mask(str(requester_name or ""))[:100], "organization": mask(str(organization or ""))[:100],
            "position": mask(str(position or ""))[:100], "content": (content or "").strip(),
            # The question the bot could not answer is kept for the helpdesk, personal data masked.
            "question": mask(str(question or ""))[:1000], "status": WAITING,
            "created_at": _now_text(now), "updated_at": _now_text(now), "due_at": _now_text(due),
            "parent_id": parent_id, "has_subject": int(bool(token)), "source": source,
            "submission_id": submission_id,
        }
        with self.store.transaction():
            c = self.store.conn
            # The counter row is the filing lock (SQLite's BEGIN IMMEDIATE already is one; on PostgreSQL this
            # row lock makes filings from every process take their turn): receipts stay sequential, and of
            # two identical submissions at once the second sees the first's inquiry.
            c.execute("UPDATE inquiry_counter SET value = value WHERE name = 'receipt'")
            if submission_id:
                done = self._submitted(submission_id, requester)
                if done is not None:
                    return done
            c.execute("UPDATE inquiry_counter SET value = value + 1 WHERE name = 'receipt'")
            number = c.execute("SELECT value FROM inquiry_counter WHERE name = 'receipt'").fetchone()[0]
            row["id"] = number
            cols = ", ".join(row)
            c.execute(f"INSERT INTO inquiries ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
            if token:
                c.execute("INSERT INTO inquiry_subjects (inquiry_id, token, created_at) VALUES (?, ?, ?)",
                          [number, token, row["created_at"]])
            for a in attachments:
                data = a.get("data") if isinstance(a.get("data"), bytes) else None
                c.execute("INSERT INTO inquiry_attachments (inquiry_id, name, type, size, file_id, content) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          [number, safe_name(a["name"]), _extension(a), len(data) if data is not None else int(a.get("size") or 0),
                           str(a.get("id") or a.get("file_id") or "") if data is None else "",
                           self.cipher.encrypt_bytes(data) if data is not None else None])
            filed = {"status": WAITING, "source": source, "attachments": len(attachments),
                     "subject_info": bool(token)}
            if parent_id:
                filed["parent"] = receipt(parent_id)  # a re-inquiry (재질의)
            self._event(number, str(row["requester"]), "filed", filed, now)
        if token or any(isinstance(a.get("data"), bytes) for a in attachments):
            self._record("입력", number, str(row["requester"]), str(row["requester"]), where or source)
        log.info("inquiry %s filed by %s", receipt(number), row["requester"])
        inquiry = self.get(number)
        if inquiry.public and self._similar is not None:
            self._similar.add(self._similar_entry(inquiry))
        return inquiry

    def _submitted(self, submission_id: str, requester: str) -> Inquiry | None:
        """The inquiry already filed from this form instance, or None."""
        rows = self._read("SELECT id, requester FROM inquiries WHERE submission_id = ?", [submission_id])
        if not rows:
            return None
        number, owner = rows[0]
        if owner != str(requester).strip():
            raise Forbidden("이미 다른 사용자가 제출한 양식입니다. 질의하기를 다시 열어 주세요.")
        log.info("inquiry %s: the same form submitted again; nothing new filed", receipt(number))
        return self.get(number)

    def _event(self, number: int, actor: str, kind: str, detail: dict | None = None, now: datetime | None = None) -> None:
        self.store.conn.execute(
            "INSERT INTO inquiry_events (inquiry_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
            [number, _now_text(now or self.clock.now()), actor, kind, json.dumps(detail or {}, ensure_ascii=False)])

    # ---- reading --------------------------------------------------------------------------------

    def _read(self, sql: str, args: Iterable = ()) -> list[tuple]:
        """Rows, read under the store's lock: the connection is shared between threads, and a read must
        never see another thread's half-done transaction (half an inquiry)."""
        with self.store.transaction():
            return self.store.conn.execute(sql, list(args)).fetchall()

    def _from_row(self, row: tuple) -> Inquiry:
        data = dict(zip(_COLUMNS, row))
        for k in _BOOL:
            data[k] = bool(data[k])
        return Inquiry(**data)

    def get(self, number: str | int, *, events: bool = False) -> Inquiry:
        n = parse_receipt(number)
        with self.store.transaction():
            rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries WHERE id = ?", [n])
            if not rows:
                raise NotFound(f"접수번호 {receipt(n)} 질의를 찾을 수 없습니다.")
            inq = self._from_row(rows[0])
            inq.attachments = [Attachment(*r) for r in self._read(
                "SELECT name, type, size, file_id FROM inquiry_attachments WHERE inquiry_id = ? ORDER BY id", [n])]
            if events:
                inq.events = [Event(at, actor, kind, json.loads(detail)) for at, actor, kind, detail in self._read(
                    "SELECT at, actor, kind, detail FROM inquiry_events WHERE inquiry_id = ? ORDER BY id", [n])]
        return inq

    def can_view(self, inq: Inquiry, user: str) -> bool:
        return inq.public or user == inq.requester or user == inq.assignee or self.is_agent(user)

    def view(self, number: str | int, user: str) -> Inquiry:
        """Open an inquiry as `user` (public ones, one's own, or any for an agent); counts the view."""
        inq = self.get(number, events=True)
        if not self.can_view(inq, user):
            raise Forbidden("비공개 질의는 요청자와 담당자만 볼 수 있습니다.")
        if user != inq.requester:  # 조회수 counts readers, not the requester rereading their own
            with self.store.transaction():
                self.store.conn.execute("UPDATE inquiries SET views = views + 1 WHERE id = ?", [inq.id])
            inq.views += 1
        if user not in (inq.requester, inq.assignee):
            inq.attachments = []  # a public inquiry's readers see its text, not the requester's files
        return inq

    def _where(self, *, status=None, category=None, type=None, urgent=None, text=None, period=None,
               since: datetime | None = None, until: datetime | None = None, requester=None, assignee=None,
               visible_to: str | None = None, unassigned: bool = False, overdue: bool = False,
               open: bool = False) -> tuple[str, list]:
        clauses: list[str] = []
        args: list = []
        if open or overdue:  # not completed; spelled as the partial index idx_inquiries_open_due is
            clauses.append(OPEN)
        if unassigned:
            clauses.append("assignee IS NULL")
        if overdue:  # open and past its due time (the console's 기한 초과)
            clauses.append("due_at < ?")
            args.append(_now_text(self.clock.now()))
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise InquiryError(f"진행상태는 {', '.join(STATUSES)} 중 하나여야 합니다.")
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if category:
            path = self.normalize_category(category)
            if path is None:
                raise InquiryError(f"알 수 없는 업무분류입니다: {mask(str(category))[:60]}")
            # A plain range (so an index serves it), then the exact rule: the path itself or below it.
            clauses.append("category >= ? AND category < ? AND (category = ? OR substr(category, 1, ?) = ?)")
            args += [path, path + " >\U0010ffff", path, len(path) + 3, path + " > "]
        if type:
            if type not in self.types:
                raise InquiryError(f"질의구분은 다음 중 하나여야 합니다: {', '.join(self.types)}")
            clauses.append("type = ?")
            args.append(type)
        if urgent is not None:
            clauses.append("urgent = ?")
            args.append(int(_as_bool(urgent)))
        if text:
            like = "%" + str(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # SQLite's LIKE ignores ASCII case; PostgreSQL's ILIKE does that too, and costs a case fold of every
            # row, so words without Latin letters (Hangul has no case) take plain LIKE (both use the trigram index)
            latin = any(ch.isascii() and ch.isalpha() for ch in str(text))
            op = "ILIKE" if self.store.dialect == "postgresql" and latin else "LIKE"
            clauses.append(f"(title {op} ? ESCAPE '\\' OR content {op} ? ESCAPE '\\')")
            args += [like, like]
        if period:
            if period not in PERIODS:
                raise InquiryError(f"조회기간은 {', '.join(PERIODS)} 중 하나여야 합니다.")
            since = _months_before(self.clock.now().astimezone(SEOUL), PERIODS[period])
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(_now_text(since))
        if until is not None:
            clauses.append("created_at < ?")
            args.append(_now_text(until))
        if requester:
            clauses.append("requester = ?")
            args.append(requester)
        if assignee:
            clauses.append("assignee = ?")
            args.append(assignee)
        if visible_to is not None and not self.is_agent(visible_to):
            clauses.append("(public = 1 OR requester = ? OR assignee = ?)")
            args += [visible_to, visible_to]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list(self, *, page: int = 1, per_page: int = 20, _unindexed: bool = False, order: str = "newest",
             status=None, **filters) -> Page:
        """A page of inquiries, newest first (or `order="due"`: open ones soonest due first), filtered by
        status/category/type/urgent/text/period/…"""
        page, per_page = max(1, int(page)), max(1, min(int(per_page), 500))
        where, args = self._where(status=status, **filters)
        if order == "due":
            # The open queue (the console's default) walks the partial index in due order and counts from it
            # alone; the planner would otherwise pick a broad category index and sort. With a status named,
            # its own index is narrower.
            if OPEN in where and not status:
                table, sort = self._indexed("idx_inquiries_open_due"), "due_at, id DESC"
            else:
                table, sort = "inquiries", f"status = '{DONE}', due_at IS NULL, due_at, id DESC"
            with self.store.transaction():
                self._plan_text_search(filters.get("text"), where, args)
                total, capped = self._count(table, where, args, filters.get("text"))
                ids = [r[0] for r in self._read(f"SELECT id FROM {table}{where} ORDER BY {sort} LIMIT ? OFFSET ?",
                                                [*args, per_page, (page - 1) * per_page])]
                by_id = {r[0]: r for r in self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries WHERE id IN "
                                                     f"({', '.join('?' * len(ids))})", ids)} if ids else {}
            return Page([self._from_row(by_id[n]) for n in ids], total, page, per_page, capped)
        table = self._indexed(None) if _unindexed else "inquiries"
        with self.store.transaction():
            self._plan_text_search(filters.get("text"), where, args)
            total, capped = self._count(table, where, args, filters.get("text"))
            # Ids first (an index often covers the filter), then the page's rows by primary key.
            ids = [r[0] for r in self._read(f"SELECT id FROM {table}{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                                            [*args, per_page, (page - 1) * per_page])]
            rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries WHERE id IN "
                              f"({', '.join('?' * len(ids))}) ORDER BY id DESC", ids) if ids else []
        return Page([self._from_row(r) for r in rows], total, page, per_page, capped)

    def _plan_text_search(self, text, where: str, args: builtins.list) -> None:
        """PostgreSQL, in the list's transaction: a substring search the planner expects few rows for is read
        from the trigram indexes (bitmap scans only; it would otherwise walk the primary key and filter a
        million rows, 0.5-1.7 s for a rare word, 11-16 ms from the index); one it expects many rows for never
        touches them (a GIN scan of a word half the rows contain costs 100+ ms and cannot stop at the page or
        the count's cap, where walking the rows in order stops at once)."""
        if not text or self.store.dialect != "postgresql":
            return
        plan = self.store.conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM inquiries{where}", args).fetchone()[0]
        if plan[0]["Plan"]["Plan Rows"] <= TEXT_SELECTIVE_ROWS:
            self.store.conn.execute("SET LOCAL enable_seqscan = off")
            self.store.conn.execute("SET LOCAL enable_indexscan = off")
        else:
            self.store.conn.execute("SET LOCAL enable_bitmapscan = off")

    def _count(self, table: str, where: str, args: builtins.list, text=None) -> tuple[int, bool]:
        """(matches, capped): counted up to the cap + 1 rows only, so a broad filter costs no full scan."""
        cap = TEXT_COUNT_CAP if text else COUNT_CAP
        n = self._read(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{where} LIMIT ?) AS upto", [*args, cap + 1])
        return min(n[0][0], cap), n[0][0] > cap

    def _indexed(self, index: str | None) -> str:
        """`inquiries` with SQLite's index hint (INDEXED BY, or NOT INDEXED for None); PostgreSQL's planner
        takes no hints and needs none here."""
        if self.store.dialect != "sqlite":
            return "inquiries"
        return f"inquiries INDEXED BY {index}" if index else "inquiries NOT INDEXED"

    def iter_all(self, *, chunk: int = 1000, **filters) -> Iterator[Inquiry]:
        where, args = self._where(**filters)
        last = None
        while True:
            w = where + ((" AND " if where else " WHERE ") + "id < ?" if last is not None else "")
            a = [*args, last] if last is not None else args
            rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries{w} ORDER BY id DESC LIMIT ?", [*a, chunk])
            if not rows:
                return
            for r in rows:
                yield self._from_row(r)
            last = rows[-1][0]

    def remaining(self, inq: Inquiry, now: datetime | None = None) -> float | None:
        """Business hours left (처리여유기간); None once completed."""
        if inq.status == DONE:
            return None
        return self.calendar.remaining(inq.due, now or self.clock.now())

    def remaining_label(self, inq: Inquiry, now: datetime | None = None) -> str:
        return remaining_label(self.remaining(inq, now))

    def open_for_reminders(self) -> builtins.list[dict]:
        """Assigned, open inquiries with their due times (for the reminders' 75%/overdue warnings)."""
        rows = self._read(
            "SELECT id, assignee, created_at, due_at, title, source FROM inquiries "
            "WHERE status != ? AND assignee IS NOT NULL AND due_at IS NOT NULL", [DONE])
        return [{"receipt": receipt(n), "assignee": a, "created_at": c, "due_at": d, "title": t,
                 "surface": s if s in ("console", "slack", "teams") else "console"} for n, a, c, d, t, s in rows]

    def filed_between(self, since: datetime, until: datetime) -> builtins.list[tuple[str, str, str]]:
        """(receipt, surface filed from, requester) of the inquiries filed in [since, until] and still waiting:
        crash recovery checks that each was announced."""
        rows = self._read("SELECT id, source, requester FROM inquiries WHERE status = ? AND created_at >= ?"
                          " AND created_at <= ?", [WAITING, _now_text(since), _now_text(until)])
        return [(receipt(n), s, r) for n, s, r in rows]

    def answered_between(self, since: datetime, until: datetime) -> builtins.list[tuple[str, str]]:
        """(receipt, surface filed from) of the inquiries answered in [since, until]: crash recovery checks
        that each requester was told."""
        rows = self._read("SELECT id, source FROM inquiries WHERE answered_at IS NOT NULL AND answered_at >= ?"
                          " AND answered_at <= ?", [_now_text(since), _now_text(until)])
        return [(receipt(n), s) for n, s in rows]

    def mine(self, user: str, *, page: int = 1, per_page: int = 10) -> Page:
        return self.list(requester=user, page=page, per_page=per_page)

    # ---- triage ---------------------------------------------------------------------------------

    def _touch(self, n: int, now: datetime, **changes) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.store.conn.execute(f"UPDATE inquiries SET {sets}, updated_at = ? WHERE id = ?",
                                [*changes.values(), _now_text(now), n])

    def assign(self, number: str | int, agent: str, *, by: str | None = None, force: bool = False) -> Inquiry:
        """Claim an inquiry for `agent`: atomically, so of two agents claiming at once one wins."""
        n = parse_receipt(number)
        if not str(agent or "").strip():
            raise InquiryError("담당자를 지정해 주세요.")
        now = self.clock.now()
        with self.store.transaction():
            c = self.store.conn
            cur = c.execute("UPDATE inquiries SET assignee = ?, updated_at = ? "
                            "WHERE id = ? AND assignee IS NULL AND status != ?", [agent, _now_text(now), n, DONE])
            if cur.rowcount == 0:
                inq = self.get(n)
                if inq.status == DONE:
                    raise BadState(f"접수번호 {inq.receipt}는 이미 조치완료된 질의입니다.")
                if inq.assignee == agent:
                    raise AlreadyYours(f"접수번호 {inq.receipt}는 이미 맡고 계신 질의입니다.")
                if not force:
                    raise AlreadyClaimed(inq.assignee or "")
                self._touch(n, now, assignee=agent)
            self._event(n, by or agent, "assigned", {"assignee": agent}, now)
        log.info("inquiry %s assigned to %s", receipt(n), agent)
        return self.get(n)

    def _own(self, n: int, agent: str) -> Inquiry:
        inq = self.get(n)
        if inq.assignee is None:
            try:
                inq = self.assign(n, agent)
            except AlreadyYours:  # the same agent's other click got there first
                inq = self.get(n)
        elif inq.assignee != agent:
            raise Forbidden(f"담당자({inq.assignee})만 처리할 수 있습니다.")
        return inq

    def start(self, number: str | int, agent: str) -> Inquiry:
        """조치대기 → 조치중 (claiming the inquiry if nobody has)."""
        n = parse_receipt(number)
        now = self.clock.now()
        with self.store.transaction():
            inq = self._own(n, agent)
            if inq.status == DONE:
                raise BadState(f"접수번호 {inq.receipt}는 이미 조치완료된 질의입니다.")
            if inq.status == WAITING:
                self._touch(n, now, status=IN_PROGRESS, started_at=_now_text(now))
                self._event(n, agent, "started", {"status": IN_PROGRESS}, now)
        return self.get(n)

    def answer(self, number: str | int, agent: str, text: str, *, complete: bool = True) -> Inquiry:
        """Record the answer (and by default complete the inquiry)."""
        n = parse_receipt(number)
        text = (text or "").strip()
        if not text:
            raise Invalid({"answer": "답변을 입력해 주세요."})
        if len(text) > MAX_ANSWER:
            raise Invalid({"answer": f"답변은 {MAX_ANSWER}자 이내로 입력해 주세요."})
        if found := find_personal_data(text):
            raise Invalid({"answer": f"답변에 개인정보({labels(found)})가 있습니다. 답변은 공개될 수 "
                                     "있으므로 개인정보를 지워 주세요."})
        now = self.clock.now()
        with self.store.transaction():
            inq = self._own(n, agent)
            if inq.status == DONE:
                raise BadState(f"접수번호 {inq.receipt}는 이미 조치완료된 질의입니다. 재질의로 다시 여세요.")
            changes = {"answer": text, "answered_at": _now_text(now)}
            if inq.status == WAITING:
                changes.update(status=IN_PROGRESS, started_at=_now_text(now))
            self._touch(n, now, **changes)
            self._event(n, agent, "answered", {"length": len(text)}, now)
            if complete:
                self._touch(n, now, status=DONE, completed_at=_now_text(now))
                self._event(n, agent, "completed", {"status": DONE}, now)
        log.info("inquiry %s answered by %s", receipt(n), agent)
        return self.get(n)

    def complete(self, number: str | int, agent: str) -> Inquiry:
        n = parse_receipt(number)
        now = self.clock.now()
        with self.store.transaction():
            inq = self._own(n, agent)
            if inq.status == DONE:
                return inq
            if not inq.answer:
                raise BadState("답변을 먼저 등록해 주세요.")
            self._touch(n, now, status=DONE, completed_at=_now_text(now))
            self._event(n, agent, "completed", {"status": DONE}, now)
        return self.get(n)

    def request_info(self, number: str | int, agent: str, question: str) -> Inquiry:
        """추가 정보 요청: ask the requester (the handlers tell them); the inquiry waits in INFO_REQUESTED."""
        n = parse_receipt(number)
        question = (question or "").strip()
        if not question:
            raise Invalid({"question": "요청할 내용을 입력해 주세요."})
        if len(question) > MAX_NOTE:
            raise Invalid({"question": f"요청 내용은 {MAX_NOTE}자 이내로 입력해 주세요."})
        if found := find_personal_data(question):
            raise Invalid({"question": f"요청 내용에 개인정보({labels(found)})가 있습니다. 지워 주세요."})
        now = self.clock.now()
        with self.store.transaction():
            inq = self._own(n, agent)
            if inq.status == DONE:
                raise BadState(f"접수번호 {inq.receipt}는 이미 조치완료된 질의입니다.")
            changes = {"status": INFO_REQUESTED}
            if inq.started_at is None:
                changes["started_at"] = _now_text(now)
            self._touch(n, now, **changes)
            self._event(n, agent, "info_requested", {"text": question}, now)
        return self.get(n)

    def info_received(self, number: str | int, user: str) -> Inquiry | None:
        """The requester answered a 추가 정보 요청: back to 조치중. None when nothing was being waited for."""
        n = parse_receipt(number)
        now = self.clock.now()
        with self.store.transaction():
            cur = self.store.conn.execute("UPDATE inquiries SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                                          [IN_PROGRESS, _now_text(now), n, INFO_REQUESTED])
            if cur.rowcount == 0:
                return None
            self._event(n, user, "info_received", {"status": IN_PROGRESS}, now)
        return self.get(n)

    def message(self, number: str | int, agent: str, text: str, *, surface: str = "") -> Inquiry:
        """A free-form message from the helpdesk to the requester on an open inquiry (the handlers deliver it):
        kept in the conversation, personal data masked; the status does not change."""
        n = parse_receipt(number)
        text = mask((text or "").strip())
        if not text:
            raise Invalid({"message": "보낼 메시지를 입력해 주세요."})
        if len(text) > MAX_NOTE:
            raise Invalid({"message": f"메시지는 {MAX_NOTE}자 이내로 입력해 주세요."})
        with self.store.transaction():
            inq = self._own(n, agent)
            if inq.status == DONE:
                raise BadState(f"접수번호 {inq.receipt}는 이미 조치완료된 질의입니다. 재개한 뒤 보내 주세요.")
            self._event(n, agent, "message", {"from": "agent", "text": text, "surface": surface})
        return self.get(n, events=True)

    def reopen(self, number: str | int, agent: str) -> Inquiry:
        """재개: an agent reopens a completed inquiry (조치완료 → 조치중)."""
        n = parse_receipt(number)
        now = self.clock.now()
        with self.store.transaction():
            inq = self.get(n)
            if inq.status != DONE:
                raise BadState(f"접수번호 {inq.receipt}는 조치완료된 질의가 아닙니다.")
            self._touch(n, now, status=IN_PROGRESS, completed_at=None, assignee=inq.assignee or agent)
            self._event(n, agent, "reopened", {"status": IN_PROGRESS}, now)
        return self.get(n)

    def note(self, number: str | int, agent: str, text: str) -> Inquiry:
        """An internal note: kept on the inquiry's history for agents only, personal data masked."""
        n = parse_receipt(number)
        text = mask((text or "").strip())
        if not text:
            raise Invalid({"note": "메모를 입력해 주세요."})
        with self.store.transaction():
            inq = self.get(n)
            self._event(n, agent, "note", {"text": text[:MAX_NOTE]})
        return inq

    def reinquire(self, number: str | int, user: str, *, content: str, title: str | None = None,
                  subject_info: str | None = None, submission_id: str | None = None, where: str = "") -> Inquiry:
        """재질의: a completed inquiry is reopened as a new inquiry linked to it (same requester only).

        The new inquiry keeps its parent's chat surface (`source`), so its notices and deadline warnings go
        where the requester is; `parent_id` and the events on both record the re-inquiry.

        Subject info the requester does not re-enter *moves* from the parent to the child: the parent is
        조치완료 (its purpose is over) and the child needs it, so one copy lives on, destroyed on the child's
        schedule or at the requester's request on the child; the parent keeps none that would outlive it."""
        parent = self.get(number)
        if user != parent.requester:
            raise Forbidden("재질의는 질의한 본인만 할 수 있습니다.")
        if parent.status != DONE:
            raise BadState("조치완료된 질의만 재질의할 수 있습니다.")
        if not str(content or "").strip():  # a re-inquiry is a new question: it needs one
            raise Invalid({"content": "재질의할 내용을 질의내용에 적어 주세요."})
        title = (title or f"[재질의] {parent.title}")[:MAX_TITLE]
        token = None
        if not subject_info and parent.has_subject:
            rows = self._read("SELECT token FROM inquiry_subjects WHERE inquiry_id = ?", [parent.id])
            token = rows[0][0] if rows else None
        with self.store.transaction():
            if submission_id:  # the same re-inquiry form again: the child already filed, nothing new
                done = self._submitted(str(submission_id)[:300], user)
                if done is not None:
                    return done
            child = self.file(title=title, category=parent.category, type=parent.type, requester=parent.requester,
                              urgent=parent.urgent, public=parent.public, guideline=parent.guideline,
                              requester_name=parent.requester_name, organization=parent.organization,
                              position=parent.position, content=content, subject_info=subject_info or "",
                              parent_id=parent.id, source=parent.source, submission_id=submission_id,
                              _subject_token=token, where=where)
            self._event(parent.id, user, "reinquired", {"child": child.receipt})
            if token:
                c = self.store.conn
                c.execute("PRAGMA secure_delete = ON")  # the parent's cell is zeroed, not left in a free page
                c.execute("DELETE FROM inquiry_subjects WHERE inquiry_id = ?", [parent.id])
                self._touch(parent.id, self.clock.now(), has_subject=0)
                self._event(parent.id, user, "subject_moved", {"to": child.receipt})
        if token:
            self._record("변경", parent.id, parent.requester, user, where, detail=f"재질의 {child.receipt}로 대상자 정보 이전")
        return child

    def recommend(self, number: str | int, user: str) -> Inquiry:
        inq = self.get(number)
        if not self.can_view(inq, user):
            raise Forbidden("비공개 질의는 추천할 수 없습니다.")
        if user == inq.requester:
            raise Forbidden("본인 질의는 추천할 수 없습니다.")
        now = self.clock.now()
        with self.store.transaction():
            cur = self.store.conn.execute(
                "INSERT INTO inquiry_recommends (inquiry_id, user, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [inq.id, user, _now_text(now)])
            if cur.rowcount == 0:
                raise AlreadyDone("이미 추천한 질의입니다.")
            self.store.conn.execute("UPDATE inquiries SET recommends = recommends + 1 WHERE id = ?", [inq.id])
            self._event(inq.id, user, "recommended", {}, now)
        return self.get(inq.id)

    def rate(self, number: str | int, user: str, score: Any) -> Inquiry:
        """만족도 1–5, once, by the requester, after completion."""
        inq = self.get(number)
        if user != inq.requester:
            raise Forbidden("만족도는 질의한 본인만 줄 수 있습니다.")
        if inq.status != DONE:
            raise BadState("조치완료된 질의에만 만족도를 줄 수 있습니다.")
        try:
            score = int(str(score).strip())
        except (TypeError, ValueError):
            score = 0
        if not 1 <= score <= 5:
            raise Invalid({"satisfaction": "만족도는 1부터 5까지의 숫자로 주세요."})
        now = self.clock.now()
        with self.store.transaction():
            cur = self.store.conn.execute(
                "UPDATE inquiries SET satisfaction = ?, updated_at = ? WHERE id = ? AND satisfaction IS NULL",
                [score, _now_text(now), inq.id])
            if cur.rowcount == 0:
                raise AlreadyDone("만족도는 한 번만 줄 수 있습니다.")
            self._event(inq.id, user, "rated", {"satisfaction": score}, now)
        return self.get(inq.id)

    # ---- subject info and attachments -----------------------------------------------------------

    def _record(self, action: str, number: int, requester: str, handler: str, where: str, **more) -> None:
        """One access record (접속기록) of this handling of subject info; a failure to record refuses it."""
        if self.records is not None:
            self.records.record(handler=handler, place=where or "미상", action=action, receipt=receipt(number),
                                requester=requester, **more)

    def pending_files(self, number: str | int) -> builtins.list[str]:
        """File ids of the chat files whose bytes have not been fetched yet (a Slack file is filed by id first)."""
        inq = self.get(number)
        return [r[0] for r in self._read("SELECT file_id FROM inquiry_attachments WHERE inquiry_id = ? "
                                         "AND content IS NULL AND file_id != '' ORDER BY id", [inq.id])]

    def store_file(self, number: str | int, file_id: str, data: bytes | None, *, where: str = "") -> str | None:
        """Keep a chat file's fetched bytes (encrypted, like the terminal's) after the same size and magic-byte
        check; a file that fails it, or could not be fetched (`data` None), is dropped from the inquiry.
        Returns the Korean reason it was dropped, or None when it was kept."""
        inq = self.get(number)
        rows = self._read("SELECT id, name, type FROM inquiry_attachments WHERE inquiry_id = ? AND file_id = ? "
                          "AND content IS NULL", [inq.id, file_id])
        if not rows:
            return None
        row_id, name, kind = rows[0]
        problem = (f"첨부파일을 가져오지 못했습니다: {name[:60]}" if data is None else
                   self._attachment_problem([{"name": name, "type": kind, "data": data}]))
        with self.store.transaction() as c:
            if problem or data is None:
                c.execute("DELETE FROM inquiry_attachments WHERE id = ?", [row_id])
            else:
                c.execute("UPDATE inquiry_attachments SET content = ?, size = ?, file_id = '' WHERE id = ?",
                          [self.cipher.encrypt_bytes(data), len(data), row_id])
            self._event(inq.id, inq.requester, "attachment_dropped" if problem else "attachment_stored",
                        {"name": name, "reason": problem} if problem else {"name": name})
        if not problem:
            self._record("입력", inq.id, inq.requester, inq.requester, where)
        return problem

    def read_attachment(self, number: str | int, index: int, user: str, *, where: str = "",
                        download: bool = False, reason: str = "") -> tuple[str, bytes]:
        """(name, bytes) of the inquiry's `index`-th attachment (from 0), for the requester or the assignee only.
        `download`: the bytes leave the system as a file (a 다운로드 record, which needs a `reason`; the
        requester fetching their own file gives '본인 첨부파일')."""
        inq = self.get(number)
        if not user or user not in (inq.requester, inq.assignee):
            log.info("attachment of inquiry %s refused to %s", inq.receipt, user)
            raise Forbidden("첨부파일은 요청자와 담당자만 볼 수 있습니다.")
        rows = self._read("SELECT name, content FROM inquiry_attachments WHERE inquiry_id = ? ORDER BY id", [inq.id])
        if not 0 <= index < len(rows) or rows[index][1] is None:
            raise NotFound("첨부파일이 없습니다.")
        if download and user == inq.requester and not str(reason or "").strip():
            reason = "본인 첨부파일"
        self._record("다운로드" if download else "조회", inq.id, inq.requester, user, where,
                     detail=f"첨부파일 {index + 1}", reason=reason)
        return rows[index][0], self.cipher.decrypt_bytes(rows[index][1])

    def read_subject_info(self, number: str | int, user: str, *, where: str = "") -> str:
        """The decrypted subject info, for the requester or the assignee only; every attempt is logged."""
        inq = self.get(number)
        allowed = bool(user) and user in (inq.requester, inq.assignee)
        now = self.clock.now()
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO inquiry_subject_reads (inquiry_id, reader, at, allowed) VALUES (?, ?, ?, ?)",
                [inq.id, user or "", _now_text(now), int(allowed)])
        log.info("subject info of inquiry %s read by %s (%s)", inq.receipt, user, "allowed" if allowed else "denied")
        if not allowed:
            raise Forbidden("대상자 정보는 요청자와 담당자만 볼 수 있습니다.")
        rows = self._read("SELECT token FROM inquiry_subjects WHERE inquiry_id = ?", [inq.id])
        if not rows:
            return ""
        self._record("조회", inq.id, inq.requester, user, where)
        return self.cipher.decrypt(rows[0][0])

    def destroy_subject(self, number: str | int, *, by: str, why: str, where: str = "",
                        requester_only: bool = False) -> dict[str, int]:
        """파기: delete the subject info and the attachments' contents (and names, which may name the person) of
        an inquiry, keeping the inquiry and its public fields. The freed pages are overwritten (secure_delete)
        and the WAL is checkpointed and truncated, so the ciphertext is gone from the files, not just unlinked.
        `requester_only`: the requester asked (`대상자 정보 삭제`); anyone else is refused. Returns what went."""
        inq = self.get(number)
        if requester_only and by != inq.requester:
            raise Forbidden("대상자 정보 삭제는 질의한 본인만 요청할 수 있습니다.")
        now = self.clock.now()
        c = self.store.conn
        with self.store.transaction():
            c.execute("PRAGMA secure_delete = ON")  # deleted cells and freed pages are zeroed, not left behind
            subject = c.execute("DELETE FROM inquiry_subjects WHERE inquiry_id = ?", [inq.id]).rowcount
            files = c.execute("UPDATE inquiry_attachments SET content = NULL, file_id = '', name = '파기됨.' || type "
                              "WHERE inquiry_id = ? AND (content IS NOT NULL OR file_id != '')", [inq.id]).rowcount
            if subject or files:
                self._touch(inq.id, now, has_subject=0)
                self._event(inq.id, by, "subject_destroyed", {"subject_info": bool(subject), "attachments": files,
                                                              "why": why}, now)
        if subject or files:
            self._record("삭제", inq.id, inq.requester, by, where, detail=why)
            self.store.purge_deleted("inquiry_subjects", "inquiry_attachments")
            log.info("inquiry %s: subject info destroyed (%s)", inq.receipt, why)
        return {"subject_info": subject, "attachments": files}

    def holding_personal_data(self, *, completed_before: datetime | None = None,
                              requester: str | None = None) -> builtins.list[str]:
        """Receipts of inquiries still holding subject info or attachments; with `completed_before`, only those
        조치완료 before it (the ones whose purpose is over); with `requester`, only that requester's."""
        sql = ("SELECT id FROM inquiries WHERE (has_subject = 1 OR EXISTS (SELECT 1 FROM inquiry_attachments a "
               "WHERE a.inquiry_id = inquiries.id AND (a.content IS NOT NULL OR a.file_id != '')))")
        args: builtins.list[Any] = []
        if completed_before is not None:
            sql += " AND status = ? AND completed_at <= ?"
            args += [DONE, _now_text(completed_before)]
        if requester is not None:
            sql += " AND requester = ?"
            args.append(requester)
        return [receipt(r[0]) for r in self._read(sql + " ORDER BY id", args)]

    def subject_reads(self, number: str | int) -> builtins.list[dict]:
        n = parse_receipt(number)
        return [{"reader": r, "at": at, "allowed": bool(ok)} for r, at, ok in self._read(
            "SELECT reader, at, allowed FROM inquiry_subject_reads WHERE inquiry_id = ? ORDER BY id", [n])]

    def verify_key(self) -> None:
        """Refuse to start when the key cannot decrypt what is stored (raises KeyMismatch)."""
        c = self.store.conn
        rows = self._read("SELECT value FROM inquiry_meta WHERE name = 'key_check'")
        if rows:
            self.cipher.decrypt(rows[0][0])
        sample = self._read("SELECT token FROM inquiry_subjects ORDER BY inquiry_id DESC LIMIT 1")
        if sample:
            self.cipher.decrypt(sample[0][0])
        if not rows:
            with self.store.transaction():
                c.execute("INSERT INTO inquiry_meta (name, value) VALUES ('key_check', ?) ON CONFLICT DO NOTHING",
                          [self.cipher.encrypt("ieum")])
            # another process may have written its check first: ours must read it, or we refuse to start
            self.cipher.decrypt(self._read("SELECT value FROM inquiry_meta WHERE name = 'key_check'")[0][0])

    # ---- FAQ and similar inquiries --------------------------------------------------------------

    def promote_to_faq(self, number: str | int, agent: str, *, title: str | None = None, answer: str | None = None,
                       questions: Iterable[str] | None = None) -> Entry:
        """Make an answered inquiry a FAQ entry the engine answers from at once (no personal data copied)."""
        inq = self.get(number)
        if not inq.answer:
            raise BadState("답변이 등록된 질의만 FAQ로 등록할 수 있습니다.")
        title = (title or inq.title).strip()[:MAX_TITLE]
        answer = (answer or inq.answer).strip()
        errors = {}
        if found := find_personal_data(title):
            errors["title"] = f"FAQ 제목에 개인정보({labels(found)})가 있습니다."
        if found := find_personal_data(answer):
            errors["answer"] = f"FAQ 답변에 개인정보({labels(found)})가 있습니다."
        if not title or not answer:
            errors.setdefault("answer", "FAQ 제목과 답변이 필요합니다.")
        if errors:
            raise Invalid(errors)
        qs = [q.strip() for q in (questions if questions is not None else [inq.question]) if q and q.strip()]
        qs = [q for q in qs if not find_personal_data(q) and "[개인정보]" not in q and q != title][:10]
        tags = [inq.category.split(" > ")[-1], inq.type]
        entry = Entry(id=f"inquiry-{inq.receipt}", title=title, answer=_escape_template(answer), questions=qs,
                      tags=tags, source=f"질의하기 {inq.receipt}", origin=f"inquiry:{inq.receipt}", kind="inquiry")
        now = self.clock.now()
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO inquiry_faq (id, inquiry_id, title, answer, questions, tags, source, created_at, "
                "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "inquiry_id = excluded.inquiry_id, title = excluded.title, answer = excluded.answer, "
                "questions = excluded.questions, tags = excluded.tags, source = excluded.source, "
                "created_at = excluded.created_at, created_by = excluded.created_by",
                [entry.id, inq.id, entry.title, entry.answer, json.dumps(qs, ensure_ascii=False),
                 json.dumps(tags, ensure_ascii=False), entry.source, _now_text(now), agent])
            self._touch(inq.id, now, faq_id=entry.id)
            self._event(inq.id, agent, "promoted", {"faq": entry.id}, now)
        if self.engine is not None:
            self.engine.add(entry)
        log.info("inquiry %s promoted to FAQ %s by %s", inq.receipt, entry.id, agent)
        return entry

    def promoted_entries(self, since: str = "") -> builtins.list[Entry]:
        """The FAQ entries promoted from inquiries (those promoted after `since`, an ISO time, when given)."""
        rows = self._read("SELECT id, title, answer, questions, tags, source, created_at FROM inquiry_faq "
                          "WHERE created_at > ? ORDER BY created_at", [since])
        if rows:
            self._promoted_seen = max(self._promoted_seen, rows[-1][-1])
        return [Entry(id=i, title=t, answer=a, questions=json.loads(q), tags=json.loads(tg), source=s,
                      origin=f"inquiry:{i.removeprefix('inquiry-')}", kind="inquiry")
                for i, t, a, q, tg, s, _ in rows]

    def load_promoted(self) -> int:
        """Add the promoted FAQ entries this process's engine does not have yet: all of them at start-up, then
        (each scheduler tick) those another process on the same database promoted since."""
        entries = self.promoted_entries(self._promoted_seen)
        if self.engine is not None:
            for e in entries:
                self.engine.add(e)
        return len(entries)

    def _similar_entry(self, inq: Inquiry) -> Entry:
        return Entry(id=f"q-{inq.receipt}", title=inq.title, answer=_escape_template(inq.answer or ""),
                     tags=[inq.category.split(" > ")[-1], inq.type], source=f"질의하기 {inq.receipt}",
                     kind="inquiry")

    def _similar_engine(self):
        if self._similar is None:
            from bot.knowledge.search import Engine

            rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries WHERE public = 1 ORDER BY id DESC LIMIT ?",
                              [SIMILAR_POOL])
            self._similar = Engine([self._similar_entry(self._from_row(r)) for r in rows], self._synonyms)
            self._similar_seen = rows[0][0] if rows else 0
        else:
            # inquiries other processes on the same database filed since (this process adds its own at once):
            # one indexed read, so every process suggests what any of them took in
            rows = self._read(f"SELECT {', '.join(_COLUMNS)} FROM inquiries WHERE public = 1 AND id > ? ORDER BY id "
                              "LIMIT ?", [self._similar_seen, SIMILAR_POOL])
            for r in rows:
                self._similar.add(self._similar_entry(self._from_row(r)))
            self._similar_seen = max([self._similar_seen, *(r[0] for r in rows)])
        return self._similar

    def similar(self, title: str, *, limit: int = 5, min_score: float = 50) -> builtins.list[Suggestion]:
        """통합검색: public inquiries and FAQ entries like `title`, best first."""
        title = (title or "").strip()
        if not title:
            return []
        out: list[Suggestion] = []
        matches = [m for m in self._similar_engine().search(title, limit) if m.score >= min_score]
        ids = [int(m.entry.id.removeprefix("q-")) for m in matches]
        # Status now, and still public? (One query for all the matches.)
        current = dict(self._read(f"SELECT id, status FROM inquiries WHERE public = 1 AND id IN "
                                  f"({', '.join('?' * len(ids))})", ids)) if ids else {}
        for m, n in zip(matches, ids):
            if n in current:
                out.append(Suggestion("inquiry", m.entry.id.removeprefix("q-"), m.entry.title, m.score, current[n]))
        if self.engine is not None:
            for m in self.engine.search(title, limit):
                if m.score >= min_score:
                    out.append(Suggestion("faq", m.entry.id, m.entry.title, m.score))
        promoted = {s.id.removeprefix("inquiry-") for s in out if s.kind == "faq"}
        out = [s for s in out if not (s.kind == "inquiry" and s.id in promoted)]
        out.sort(key=lambda s: -s.score)
        return out[:limit]

    # ---- export ---------------------------------------------------------------------------------

    def export_rows(self, items: Iterable[Inquiry] | None = None, *, with_content: bool = False,
                    **filters) -> Iterator[builtins.list]:
        """The list screen's columns (EXPORT_HEADINGS, + CONTENT_HEADINGS `with_content`) for `items`, or for
        every inquiry matching `filters`. 등록일자 is a date; an unrated inquiry's 만족도 is empty, not 0."""
        now = self.clock.now()
        for inq in (self.iter_all(**filters) if items is None else items):
            row = [inq.receipt, inq.category_short, inq.type, mask(inq.title), mask(inq.organization),
                   mask(inq.requester_name or inq.requester), inq.created.date(), inq.status,
                   self.remaining_label(inq, now), inq.recommends,
                   "" if inq.satisfaction is None else inq.satisfaction, inq.views]
            if with_content:
                done = datetime.fromisoformat(inq.completed_at) if inq.completed_at else None
                took = round(self.calendar.hours_between(inq.created, done), 1) if done else ""
                row += [mask(inq.content), mask(inq.answer or ""), inq.assignee or "",
                        done.replace(tzinfo=None) if done else "", took]
            yield row

    def export(self, out, fmt: str = "csv", *, with_content: bool = False, **filters) -> int:
        """Write the filtered list as CSV (UTF-8 with BOM, for Excel) or xlsx to a path or binary stream."""
        if fmt not in ("csv", "xlsx"):
            raise InquiryError("내보내기 형식은 csv 또는 xlsx여야 합니다.")
        count = 0
        headings = EXPORT_HEADINGS + (CONTENT_HEADINGS if with_content else [])
        rows = self.export_rows(with_content=with_content, **filters)
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(headings)
            for r in rows:
                w.writerow([_csv_safe(v) for v in r])
                count += 1
            data = ("\ufeff" + buf.getvalue()).encode("utf-8")
            if isinstance(out, (str, Path)):
                Path(out).write_bytes(data)
            else:
                out.write(data)
            return count
        from openpyxl import Workbook

        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("질의 목록")
        for n, width in enumerate(EXPORT_WIDTHS[:len(headings)], 1):
            ws.column_dimensions[get_column_letter(n)].width = width
        ws.append(headings)
        for r in rows:
            cells = []
            for v in r:
                cell = WriteOnlyCell(ws, _csv_safe(v))
                if isinstance(v, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(v, date):
                    cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            ws.append(cells)
            count += 1
        wb.save(out)
        return count


def _csv_safe(value: Any) -> Any:
    """Cells starting with = + - @ are formulas to a spreadsheet: neutralise them."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-":
        return "'" + value
    return value


def _ephemeral_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def policy_path(kb) -> Path:
    from bot.core.config import DEFAULT_KNOWLEDGE

    root = getattr(kb, "root", None)
    if root is not None and (Path(root) / "policy.yaml").is_file():
        return Path(root) / "policy.yaml"
    return DEFAULT_KNOWLEDGE / "policy.yaml"


def setup(services) -> None:
    """Attach `services.inquiries`; refuses to start when the key cannot decrypt stored subject info."""
    from bot.core.privacy import service_cipher

    store = services.store
    cipher = service_cipher(services)
    inquiries = Inquiries(store, kb=services.kb, clock=services.clock, cipher=cipher, engine=services.engine,
                          policy=Policy.load(policy_path(services.kb)), agents=services.settings.agents)
    inquiries.verify_key()
    inquiries.load_promoted()
    services.inquiries = inquiries
