"""Access records (접속기록) and the destruction register (파기 대장) for personal data.

안전성 확보조치 기준 제8조: every handling of subject info — a view, entering or changing it, an export or
download that identifies people, a backup restore, a deletion — leaves one record with who (the handler's
account id), when (to the second), where from (the surface or an IP address), whose data (receipt and
requester) and what was done (조회, 입력, 변경, 삭제, 출력, 다운로드). A record never holds the personal data.

The records live in their own SQLite file (`records.db` beside the database) so that restoring an old backup
of the database can neither roll them back nor bring destroyed subject info back unnoticed (the register
lists what must stay destroyed). Records are append-only: triggers refuse UPDATE, and DELETE of anything
younger than the retention; each record carries the SHA-256 of the previous one, so an edit made behind the
triggers' back is found by `verify()`, which names the first broken record.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.clock import SEOUL
from bot.infra.store import Migrations, Store

ACTIONS = ("조회", "입력", "변경", "삭제", "출력", "다운로드")
# Records of systems holding 고유식별정보 (resident numbers) are kept at least two years.
MIN_RETENTION_YEARS = 2
GENESIS = "0" * 64
FIELDS = ("id", "at", "handler", "place", "receipt", "requester", "action", "reason", "detail", "prev_hash", "hash")

MIGRATIONS = Migrations("records")


@MIGRATIONS("records_001_tables")
def _m001(db) -> None:
    c = db.conn
    c.execute("""CREATE TABLE access_records (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, handler TEXT NOT NULL, place TEXT NOT NULL,
        receipt TEXT NOT NULL DEFAULT '', requester TEXT NOT NULL DEFAULT '', action TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""")
    c.execute("CREATE INDEX idx_access_records_at ON access_records (at)")
    # where the chain starts once records older than the retention are pruned, and the pruning bound
    c.execute("CREATE TABLE records_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    c.execute("INSERT INTO records_meta (name, value) VALUES ('anchor', ?), ('prune_before', '')", [GENESIS])
    c.execute("""CREATE TRIGGER access_records_no_update BEFORE UPDATE ON access_records
        BEGIN SELECT RAISE(ABORT, 'access records are append-only'); END""")
    c.execute("""CREATE TRIGGER access_records_no_delete BEFORE DELETE ON access_records
        WHEN old.at >= (SELECT value FROM records_meta WHERE name = 'prune_before')
        BEGIN SELECT RAISE(ABORT, 'access records are kept for the retention period'); END""")
    c.execute("""CREATE TABLE destructions (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, receipt TEXT NOT NULL, what TEXT NOT NULL,
        why TEXT NOT NULL, by TEXT NOT NULL)""")
    c.execute("CREATE INDEX idx_destructions_receipt ON destructions (receipt)")
    c.execute("""CREATE TABLE review_acks (
        id INTEGER PRIMARY KEY, month TEXT NOT NULL, officer TEXT NOT NULL, at TEXT NOT NULL,
        digest TEXT NOT NULL, note TEXT NOT NULL DEFAULT '')""")


class RecordError(ValueError):
    """An access record cannot be written as asked (unknown action, missing reason)."""


@dataclass
class Broken:
    """The first record whose chain does not hold, and why."""
    id: int
    reason: str


def _text(t: datetime) -> str:
    return t.astimezone(SEOUL).replace(microsecond=0).isoformat()


def _digest(prev: str, row: dict) -> str:
    body = json.dumps([prev] + [row[k] for k in FIELDS[1:-2]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def records_path(db_path: Path | None) -> str:
    """The records' own file beside the database (in memory for an in-memory database)."""
    return ":memory:" if db_path is None else str(Path(db_path).with_name("records.db"))


class AccessLog:
    """Append-only, hash-chained access records, the destruction register and the monthly sign-offs."""

    def __init__(self, store: Store, *, clock, retention_years: int = MIN_RETENTION_YEARS):
        if int(retention_years) < MIN_RETENTION_YEARS:
            raise RecordError(f"접속기록 보관기간은 {MIN_RETENTION_YEARS}년 이상이어야 합니다 ({retention_years}년).")
        self.store = store
        self.clock = clock
        self.retention_years = int(retention_years)

    @classmethod
    def open(cls, db_path: Path | None, *, clock, retention_years: int = MIN_RETENTION_YEARS) -> "AccessLog":
        return cls(Store(records_path(db_path), migrations=[MIGRATIONS]), clock=clock, retention_years=retention_years)

    def close(self) -> None:
        self.store.close()

    # ---- writing --------------------------------------------------------------------------------

    def record(self, *, handler: str, place: str, action: str, receipt: str = "", requester: str = "",
               reason: str = "", detail: str = "", at: datetime | None = None) -> int:
        """Append one record; returns its id. `detail` says what (e.g. '첨부 1', '백업 복원'), never the data."""
        if action not in ACTIONS:
            raise RecordError(f"알 수 없는 처리 구분입니다: {action}")
        if action in ("출력", "다운로드") and not str(reason or "").strip():
            raise RecordError("개인정보를 내려받거나 출력하려면 사유를 입력해야 합니다.")
        row = {"at": _text(at or self.clock.now()), "handler": str(handler or "?"), "place": str(place or "?"),
               "receipt": str(receipt or ""), "requester": str(requester or ""), "action": action,
               "reason": str(reason or "").strip()[:500], "detail": str(detail or "")[:200]}
        with self.store.transaction():
            c = self.store.conn
            last = c.execute("SELECT hash FROM access_records ORDER BY id DESC LIMIT 1").fetchone()
            prev = last[0] if last else c.execute("SELECT value FROM records_meta WHERE name = 'anchor'").fetchone()[0]
            row["prev_hash"] = prev
            row["hash"] = _digest(prev, row)
            cols = list(row)
            cur = c.execute(f"INSERT INTO access_records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            [row[k] for k in cols])
            return int(cur.lastrowid or 0)

    def destroyed(self, *, receipt: str, what: str, why: str, by: str, at: datetime | None = None) -> None:
        """A line of the 파기 대장: what was destroyed, when, why, by whom (or '자동 파기')."""
        with self.store.transaction():
            self.store.conn.execute("INSERT INTO destructions (at, receipt, what, why, by) VALUES (?, ?, ?, ?, ?)",
                                    [_text(at or self.clock.now()), receipt, what, why, by])

    def ack(self, month: str, officer: str, digest: str, note: str = "") -> None:
        with self.store.transaction():
            self.store.conn.execute("INSERT INTO review_acks (month, officer, at, digest, note) VALUES (?, ?, ?, ?, ?)",
                                    [month, officer, _text(self.clock.now()), digest, note])

    def prune(self, now: datetime | None = None) -> int:
        """Drop records older than the retention; the last dropped one's hash becomes the chain's anchor."""
        now = now or self.clock.now()
        bound = _text(now - timedelta(days=366 * self.retention_years))  # never less than the years
        with self.store.transaction():
            c = self.store.conn
            last = c.execute("SELECT hash FROM access_records WHERE at < ? ORDER BY id DESC LIMIT 1", [bound]).fetchone()
            if not last:
                return 0
            c.execute("UPDATE records_meta SET value = ? WHERE name = 'prune_before'", [bound])
            n = c.execute("DELETE FROM access_records WHERE at < ?", [bound]).rowcount
            c.execute("UPDATE records_meta SET value = ? WHERE name = 'anchor'", [last[0]])
            c.execute("UPDATE records_meta SET value = '' WHERE name = 'prune_before'")
            return n

    # ---- reading --------------------------------------------------------------------------------

    def verify(self) -> tuple[int, Broken | None]:
        """(records checked, the first broken record or None)."""
        with self.store.transaction():
            c = self.store.conn
            prev = c.execute("SELECT value FROM records_meta WHERE name = 'anchor'").fetchone()[0]
            rows = c.execute(f"SELECT {', '.join(FIELDS)} FROM access_records ORDER BY id").fetchall()
        for n, values in enumerate(rows, 1):
            row = dict(zip(FIELDS, values))
            if row["prev_hash"] != prev:
                return n - 1, Broken(row["id"], "앞 기록의 해시와 이어지지 않습니다 (기록이 삭제되었거나 끼워 넣어졌습니다)")
            if _digest(prev, row) != row["hash"]:
                return n - 1, Broken(row["id"], "내용이 기록 당시와 다릅니다 (수정되었습니다)")
            prev = row["hash"]
        return len(rows), None

    def _between(self, table: str, cols: tuple[str, ...], start: datetime | None, end: datetime | None) -> list[dict]:
        bounds = [(f"at {op} ?", _text(t)) for op, t in ((">=", start), ("<", end)) if t is not None]
        where = " WHERE " + " AND ".join(c for c, _ in bounds) if bounds else ""
        with self.store.transaction():
            rows = self.store.conn.execute(f"SELECT {', '.join(cols)} FROM {table}{where} ORDER BY id",
                                           [v for _, v in bounds]).fetchall()
        return [dict(zip(cols, r)) for r in rows]

    def rows(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        """The access records in [start, end), oldest first."""
        return self._between("access_records", FIELDS, start, end)

    def destructions(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        """The 파기 대장 in [start, end), oldest first."""
        return self._between("destructions", ("at", "receipt", "what", "why", "by"), start, end)

    def destroyed_receipts(self) -> set[str]:
        with self.store.transaction():
            return {r[0] for r in self.store.conn.execute("SELECT DISTINCT receipt FROM destructions")}

    def acks(self, month: str) -> list[dict[str, Any]]:
        with self.store.transaction():
            rows = self.store.conn.execute(
                "SELECT officer, at, digest, note FROM review_acks WHERE month = ? ORDER BY id", [month]).fetchall()
        return [dict(zip(("officer", "at", "digest", "note"), r)) for r in rows]

    def meta(self, name: str) -> str | None:
        with self.store.transaction():
            row = self.store.conn.execute("SELECT value FROM records_meta WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.store.transaction():
            self.store.conn.execute("INSERT INTO records_meta (name, value) VALUES (?, ?) "
                                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value", [name, value])
