"""Loading and checking `knowledge/`: entries, synonyms, schedule, taxonomy, and plain FAQ files.

Entries are YAML lists in `knowledge/entries/*.yaml`; answers are jinja2 templates that refer to
milestones of `schedule.yaml` by id, so a date lives in one place. Plain FAQ files (`.jsonl`,
`.csv`, `.xlsx` with columns id, question, answer) can be loaded beside or instead of them.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Iterable

import yaml

from bot.core.clock import SEOUL

MAX_ANSWER = 600
MAX_TITLE = 100


class KnowledgeError(ValueError):
    """The knowledge base has a problem; the message names the file and line."""


@dataclass
class Entry:
    """One question the bot can answer."""

    id: str
    title: str
    answer: str  # a jinja2 template
    questions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str = ""
    origin: str = ""  # file:line it was loaded from
    kind: str = "faq"  # faq | inquiry (a promoted or suggested inquiry)

    @property
    def phrasings(self) -> list[str]:
        return [self.title, *self.questions]


@dataclass
class Milestone:
    id: str
    name: str
    at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    date: date | None = None
    label: str = ""
    source: str = ""

    @property
    def when(self) -> str:
        """How to say when it happens, even when only a label ("9월 중") is known."""
        from bot.core.dates import kdate, kdatetime

        if self.at:
            return kdatetime(self.at)
        if self.date:
            return kdate(self.date)
        if self.start and self.end:
            return f"{kdatetime(self.start)} ~ {kdatetime(self.end)}"
        return self.label

    @property
    def moment(self) -> datetime | None:
        """The instant reminders count towards: `at`, a window's start, or a day's end of business."""
        if self.at:
            return self.at
        if self.start:
            return self.start
        if self.date:
            return datetime.combine(self.date, time(18, 0), SEOUL)
        return None


@dataclass
class KnowledgeBase:
    entries: list[Entry] = field(default_factory=list)
    synonyms: list[list[str]] = field(default_factory=list)
    milestones: dict[str, Milestone] = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    types: list[str] = field(default_factory=list)
    root: Path | None = None

    def entry(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def category_paths(self) -> list[str]:
        """Every node of the category tree as 'A > B > C'."""
        out: list[str] = []

        def walk(node: dict, prefix: list[str]) -> None:
            for name, child in (node or {}).items():
                path = [*prefix, str(name)]
                out.append(" > ".join(path))
                walk(child, path)

        walk(self.categories, [])
        return out


# ---- YAML with line numbers -------------------------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise KnowledgeError(f"{path}: UTF-8이 아닙니다 ({e})") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise KnowledgeError(f"{where}: YAML 오류: {getattr(e, 'problem', e)}") from None


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _as_datetime(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SEOUL)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise KnowledgeError(f"{where}: 날짜/시각 형식 오류: {value!r}") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=SEOUL)
    raise KnowledgeError(f"{where}: 날짜/시각이 아닙니다: {value!r}")


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise KnowledgeError(f"{where}: 날짜 형식 오류: {value!r}")


# ---- loaders ----------------------------------------------------------------------------------


def load_schedule(path: Path) -> dict[str, Milestone]:
    raw = _read_yaml(path) or {}
    out: dict[str, Milestone] = {}
    for mid, m in (raw.get("milestones") or {}).items():
        if mid == "__line__":
            continue
        where = f"{path}:{m.get('__line__', 0) if isinstance(m, dict) else 0}"
        if not isinstance(m, dict):
            raise KnowledgeError(f"{where}: 마일스톤 {mid} 형식 오류")
        ms = Milestone(id=str(mid), name=str(m.get("name") or mid), label=str(m.get("label") or ""),
                       source=str(m.get("source") or ""))
        if m.get("at") is not None:
            ms.at = _as_datetime(m["at"], where)
        if m.get("start") is not None:
            ms.start = _as_datetime(m["start"], where)
        if m.get("end") is not None:
            ms.end = _as_datetime(m["end"], where)
        if m.get("date") is not None:
            ms.date = _as_date(m["date"], where)
        if (ms.start is None) != (ms.end is None):
            raise KnowledgeError(f"{where}: {mid}: start와 end는 함께 있어야 합니다")
        if ms.start and ms.end and ms.end <= ms.start:
            raise KnowledgeError(f"{where}: {mid}: end가 start보다 앞섭니다")
        if not (ms.at or ms.start or ms.date or ms.label):
            raise KnowledgeError(f"{where}: {mid}: at, start/end, date, label 중 하나가 필요합니다")
        out[ms.id] = ms
    return out


def load_entries_yaml(path: Path) -> list[Entry]:
    raw = _read_yaml(path)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise KnowledgeError(f"{path}:1: 항목 목록(YAML list)이어야 합니다")
    out = []
    for item in raw:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        where = f"{path}:{line}"
        if not isinstance(item, dict):
            raise KnowledgeError(f"{where}: 항목은 id, title, questions, answer를 가진 매핑이어야 합니다")
        for key in ("id", "title", "answer"):
            if not str(item.get(key) or "").strip():
                raise KnowledgeError(f"{where}: '{key}'가 비어 있습니다")
        questions = item.get("questions") or []
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise KnowledgeError(f"{where}: questions는 문자열 목록이어야 합니다")
        out.append(Entry(
            id=str(item["id"]).strip(), title=str(item["title"]).strip(), answer=str(item["answer"]).strip(),
            questions=[q.strip() for q in questions if q.strip()],
            tags=[str(t) for t in (item.get("tags") or [])], source=str(item.get("source") or ""),
            origin=where,
        ))
    return out


# A plain FAQ's column names: English, or the Korean an organisation's own spreadsheet uses.
FAQ_COLUMNS = {"아이디": "id", "번호": "id", "질문": "question", "답변": "answer", "답": "answer"}


def load_faq_file(path: Path) -> list[Entry]:
    """A plain FAQ: `.jsonl`, `.csv` or `.xlsx` with columns id, question, answer."""
    path = Path(path)
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict]] = []
    if suffix == ".jsonl":
        for n, line in enumerate(_read_text(path).splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise KnowledgeError(f"{path}:{n}: JSON 오류: {e.msg}") from None
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(_read_text(path)))
        rows = [(n + 2, r) for n, r in enumerate(reader)]
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many types for a broken file
            raise KnowledgeError(f"{path}: 엑셀 파일을 열 수 없습니다 ({type(e).__name__})") from None
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(it, [])]
        for n, values in enumerate(it, 2):
            rows.append((n, {h: v for h, v in zip(header, values)}))
        wb.close()
    else:
        raise KnowledgeError(f"{path}: 지원하지 않는 형식입니다 (.jsonl, .csv, .xlsx)")
    out = []
    for n, row in rows:
        if not isinstance(row, dict):
            raise KnowledgeError(f"{path}:{n}: 객체가 아닙니다")
        row = {FAQ_COLUMNS.get(str(k).strip().lower(), str(k).strip().lower()): v
               for k, v in row.items() if k is not None}
        if suffix != ".jsonl" and not {"id", "question", "answer"} <= set(row):  # a table: its header is wrong
            missing = [k for k in ("id", "question", "answer") if k not in row]
            raise KnowledgeError(f"{path}: 열 {', '.join(missing)}이(가) 없습니다. 첫 줄에 id,question,answer "
                                 "(또는 id,질문,답변) 열 이름이 있어야 합니다")
        if all(row.get(k) in (None, "") for k in ("id", "question", "answer")):
            continue
        for key in ("id", "question", "answer"):
            if row.get(key) in (None, ""):
                raise KnowledgeError(f"{path}:{n}: '{key}' 열이 비어 있습니다 (열: id,question,answer 또는 id,질문,답변)")
        question = str(row["question"]).strip()
        out.append(Entry(id=str(row["id"]).strip(), title=question, answer=str(row["answer"]).strip(),
                         questions=[], origin=f"{path}:{n}", source=str(path.name)))
    return out


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KnowledgeError(f"{path}: UTF-8 파일이 아닙니다") from None


def load_knowledge(root: Path | None = None, *, extra: Iterable[Path] = ()) -> KnowledgeBase:
    """The knowledge directory (entries, synonyms, schedule, taxonomy) plus any plain FAQ files.

    A knowledge base holds what it is given and nothing else: `root` may itself be a plain FAQ file, which
    brings its entries only (no synonyms, schedule, categories or reminders of the bundled W4C pack), and a
    directory brings only the files it has.
    """
    from bot.core.config import DEFAULT_KNOWLEDGE

    root = Path(root) if root else DEFAULT_KNOWLEDGE
    files = list(extra)
    if root.is_file():
        files.insert(0, root)
        kb = KnowledgeBase()
    elif root.is_dir():
        kb = _load_dir(root)
    else:
        raise KnowledgeError(f"{root}: 지식 베이스를 찾을 수 없습니다")
    for f in files:
        kb.entries.extend(load_faq_file(f))
    return kb


def _load_dir(root: Path) -> KnowledgeBase:
    kb = KnowledgeBase(root=root)
    for f in sorted((root / "entries").glob("*.yaml")):
        kb.entries.extend(load_entries_yaml(f))
    syn = root / "synonyms.yaml"
    if syn.exists():
        raw = _strip_lines(_read_yaml(syn) or {})
        for n, group in enumerate(raw.get("groups") or [], 1):
            if not isinstance(group, list) or len(group) < 2:
                raise KnowledgeError(f"{syn}: 동의어 그룹 {n}은 두 단어 이상의 목록이어야 합니다")
            kb.synonyms.append([str(w) for w in group])
    sched = root / "schedule.yaml"
    if sched.exists():
        kb.milestones = load_schedule(sched)
    tax = root / "taxonomy.yaml"
    if tax.exists():
        raw = _strip_lines(_read_yaml(tax) or {})
        kb.categories = raw.get("categories") or {}
        kb.types = [str(t) for t in raw.get("types") or []]
    return kb
