"""개인정보 보호: destruction (파기) on schedule or on request, and the monthly review (월 1회 이상 점검) of the
access records (bot.inquiries.records).

The rules come from `privacy:` in knowledge/policy.yaml: subject info and attachments are destroyed
`destroy_after_days` after the inquiry is 조치완료 (default 30); access records are kept
`records_retention_years` (at least 2); the review flags views outside business hours, `burst_subjects`
different subjects viewed by one handler within `burst_minutes`, and views by someone who was neither the
requester nor the assignee at that moment.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.core.clock import SEOUL
from bot.infra.businesshours import PolicyError
from bot.inquiries.records import MIN_RETENTION_YEARS, AccessLog, RecordError
from bot.inquiries.service import Inquiries, InquiryError, parse_receipt, policy_path

log = logging.getLogger(__name__)

SCHEDULE = "자동 파기(보유기간 경과)"
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class PrivacyPolicy:
    destroy_after_days: int = 30
    records_retention_years: int = MIN_RETENTION_YEARS
    burst_subjects: int = 10
    burst_minutes: int = 60

    @classmethod
    def load(cls, path: Path | None) -> "PrivacyPolicy":
        raw: dict = {}
        if path is not None and Path(path).is_file():
            try:
                raw = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("privacy") or {}
            except (yaml.YAMLError, AttributeError) as e:
                raise PolicyError(f"{path}: privacy: 읽을 수 없습니다 ({e})") from None
        try:
            policy = cls(**{k: int(raw[k]) for k in cls.__dataclass_fields__ if k in raw})
        except (TypeError, ValueError):
            raise PolicyError(f"{path}: privacy: 값은 정수여야 합니다") from None
        if policy.records_retention_years < MIN_RETENTION_YEARS:
            raise PolicyError(f"{path}: privacy.records_retention_years는 {MIN_RETENTION_YEARS}년 이상이어야 합니다 "
                              "(고유식별정보를 처리하는 시스템의 접속기록 보관기간)")
        if policy.destroy_after_days < 0 or policy.burst_subjects < 2 or policy.burst_minutes < 1:
            raise PolicyError(f"{path}: privacy: destroy_after_days는 0 이상, burst_subjects는 2 이상, "
                              "burst_minutes는 1 이상이어야 합니다")
        return policy


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2022-09' → [Sept 1, Oct 1) in Seoul time."""
    try:
        year, mon = (int(x) for x in str(month).split("-"))
        start = datetime(year, mon, 1, tzinfo=SEOUL)
    except (ValueError, TypeError):
        raise RecordError(f"월은 YYYY-MM 형식이어야 합니다 ({month!r}).") from None
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SEOUL)
    return start, end


@dataclass
class Review:
    """One month's review: the records and what stands out in them."""
    month: str
    records: list[dict[str, Any]]
    counts: list[dict[str, Any]]          # handler, requester (whose data), action, times
    after_hours: list[dict[str, Any]]
    bursts: list[dict[str, Any]]          # handler, start, end, subjects
    not_assignee: list[dict[str, Any]]
    downloads: list[dict[str, Any]]
    destructions: list[dict[str, Any]]
    acks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """What the privacy officer signs off: the month's records, by their chained hashes."""
        return hashlib.sha256("".join(r["hash"] for r in self.records).encode()).hexdigest()

    def csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["구분", "일시", "처리자", "접속지", "접수번호", "정보주체(요청자)", "처리내용", "사유", "비고"])
        flagged = {id(r): kind for kind, rows in (("업무시간 외 조회", self.after_hours),
                                                   ("담당자 아닌 조회", self.not_assignee)) for r in rows}
        for r in self.records:
            w.writerow(["접속기록", r["at"], r["handler"], r["place"], r["receipt"], r["requester"], r["action"],
                        r["reason"], flagged.get(id(r), r["detail"])])
        for b in self.bursts:
            w.writerow(["단시간 다수 조회", f"{b['start']}~{b['end']}", b["handler"], "", "", "", "조회",
                        "", f"대상 {b['subjects']}건"])
        for d in self.destructions:
            w.writerow(["파기", d["at"], d["by"], "", d["receipt"], "", "삭제", d["why"], d["what"]])
        return "\ufeff" + buf.getvalue()


class Privacy:
    """Destruction and review over the inquiries and their access records."""

    def __init__(self, inquiries: Inquiries, records: AccessLog, policy: PrivacyPolicy, *, clock,
                 data_dir: Path | None = None, db_path: Path | None = None):
        self.inquiries = inquiries
        self.records = records
        self.policy = policy
        self.clock = clock
        self.data_dir = data_dir
        self.db_path = db_path
        self.calendar = inquiries.calendar

    # ---- destruction ----------------------------------------------------------------------------

    def destroy_on_request(self, number: str, user: str, *, where: str) -> dict[str, int]:
        """The requester asked (`대상자 정보 삭제`): at once, whatever the status."""
        gone = self.inquiries.destroy_subject(number, by=user, why="정보주체(요청자) 삭제 요청", where=where,
                                              requester_only=True)
        if any(gone.values()):
            self._register(number, gone, why="정보주체(요청자) 삭제 요청", by=user)
        return gone

    def _register(self, number: str | int, gone: dict[str, int], *, why: str, by: str) -> None:
        what = ", ".join(w for w, n in (("대상자 정보", gone["subject_info"]),
                                        (f"첨부파일 {gone['attachments']}건", gone["attachments"])) if n)
        self.records.destroyed(receipt=self.inquiries.get(number).receipt, what=what, why=why, by=by)

    def purge(self, now: datetime | None = None) -> dict[str, Any]:
        """Destroy what is past its time as of `now` (the bot's clock), re-destroy what the register says is
        destroyed but a restored backup brought back, prune records past the retention, report old backups."""
        now = now or self.clock.now()
        due = self.inquiries.holding_personal_data(completed_before=now - timedelta(days=self.policy.destroy_after_days))
        back = sorted(set(self.inquiries.holding_personal_data()) & self.records.destroyed_receipts())
        destroyed = []
        for number, why in [(r, SCHEDULE) for r in due] + [(r, "파기 재적용(백업 복원)") for r in back if r not in due]:
            gone = self.inquiries.destroy_subject(number, by="schedule", why=why, where="scheduler")
            if any(gone.values()):
                self._register(number, gone, why=why, by="자동 파기")
                destroyed.append(number)
        pruned = self.records.prune(now)
        self.records.set_meta("last_purge", now.astimezone(SEOUL).date().isoformat())
        return {"destroyed": destroyed, "pruned_records": pruned, "old_backups": self.old_backups()}

    def daily(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Run `purge` once per day of the bot's clock (the scheduler's tick calls this every time)."""
        now = now or self.clock.now()
        if self.records.meta("last_purge") == now.astimezone(SEOUL).date().isoformat():
            return None
        result = self.purge(now)
        if result["destroyed"] or result["old_backups"]:
            log.info("privacy purge: %d destroyed, %d old backups", len(result["destroyed"]), len(result["old_backups"]))
        return result

    def old_backups(self) -> list[str]:
        """SQLite files in the data directory (backups, databases kept by a restore) that still hold subject
        info or attachments the register says are destroyed: past their retention, an operator rotates them."""
        if self.data_dir is None or not Path(self.data_dir).is_dir():
            return []
        destroyed = {parse_receipt(r) for r in self.records.destroyed_receipts()}
        if not destroyed:
            return []
        live = {Path(p).resolve() for p in (self.db_path, self.records.store.path) if p}
        out = []
        for path in sorted(Path(self.data_dir).rglob("*")):
            try:
                if not path.is_file() or path.resolve() in live:
                    continue
                with path.open("rb") as f:
                    if f.read(16) != SQLITE_MAGIC:
                        continue
                # immutable: read as it is on disk, creating no -wal or -shm beside a backup
                with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as db:
                    held = {r[0] for r in db.execute(
                        "SELECT inquiry_id FROM inquiry_subjects UNION "
                        "SELECT inquiry_id FROM inquiry_attachments WHERE content IS NOT NULL OR file_id != ''")}
            except (OSError, sqlite3.Error):
                continue
            if held & destroyed:
                out.append(str(path))
        return out

    # ---- review ---------------------------------------------------------------------------------

    def review(self, month: str) -> Review:
        start, end = month_bounds(month)
        month = start.strftime("%Y-%m")  # as typed it may be '2022-9' or carry spaces: one spelling is stored
        rows = self.records.rows(start, end)
        counts: dict[tuple, int] = {}
        for r in rows:
            key = (r["handler"], r["requester"], r["action"])
            counts[key] = counts.get(key, 0) + 1
        views = [r for r in rows if r["action"] == "조회"]
        after = [r for r in views if not self.calendar.is_business_time(datetime.fromisoformat(r["at"]))]
        return Review(
            month=month, records=rows,
            counts=[{"handler": h, "requester": q, "action": a, "times": n} for (h, q, a), n in sorted(counts.items())],
            after_hours=after, bursts=self._bursts(views), not_assignee=self._not_assignee(views),
            downloads=[r for r in rows if r["action"] in ("출력", "다운로드")],
            destructions=self.records.destructions(start, end), acks=self.records.acks(month))

    def _bursts(self, views: list[dict]) -> list[dict]:
        """Windows where one handler viewed `burst_subjects` or more different subjects within
        `burst_minutes`: each burst reported once, from its first view to its last."""
        window = timedelta(minutes=self.policy.burst_minutes)
        out = []
        by_handler: dict[str, list[tuple[datetime, str]]] = {}
        for r in views:
            by_handler.setdefault(r["handler"], []).append((datetime.fromisoformat(r["at"]), r["receipt"]))
        for handler, seen in sorted(by_handler.items()):
            seen.sort()
            i = 0
            while i < len(seen):
                j = i
                while j + 1 < len(seen) and seen[j + 1][0] - seen[i][0] <= window:
                    j += 1
                subjects = {s for _, s in seen[i:j + 1]}
                if len(subjects) >= self.policy.burst_subjects:
                    out.append({"handler": handler, "start": seen[i][0].isoformat(), "end": seen[j][0].isoformat(),
                                "subjects": len(subjects)})
                    i = j + 1
                else:
                    i += 1
        return out

    def _not_assignee(self, views: list[dict]) -> list[dict]:
        """Views by someone who was neither the requester nor the assignee at that moment (from the
        inquiry's assignment events)."""
        out = []
        history: dict[str, list[tuple[str, str]]] = {}
        for r in views:
            number = r["receipt"]
            if number not in history:
                try:
                    inq = self.inquiries.get(parse_receipt(number), events=True)
                    history[number] = [(e.at, e.detail.get("assignee", "")) for e in inq.events if e.kind == "assigned"]
                except InquiryError:
                    history[number] = []
            assignee = ""
            for at, who in history[number]:
                if at <= r["at"]:
                    assignee = who
            if r["handler"] not in (r["requester"], assignee):
                out.append(r)
        return out

    def ack(self, month: str, officer: str, note: str = "") -> Review:
        review = self.review(month)
        self.records.ack(review.month, officer, review.digest, note)
        review.acks = self.records.acks(review.month)
        return review


def setup(services) -> None:
    """Attach `services.privacy`: the access records in their own file and the destruction schedule; every
    handling of subject info by `services.inquiries` is recorded from then on."""
    policy = PrivacyPolicy.load(policy_path(services.kb))
    db_path = getattr(services.store, "path", None)
    # with PostgreSQL the records still live in their own SQLite file, in the data directory, and the SQLite
    # files there (an ieum.db left behind by `ieum db copy`, old backups) are still checked for destroyed data
    records_at = db_path or (services.settings.db_path if services.store.dialect != "sqlite" else None)
    records = AccessLog.open(records_at, clock=services.clock, retention_years=policy.records_retention_years)
    services.inquiries.records = records
    services.privacy = Privacy(services.inquiries, records, policy, clock=services.clock,
                               data_dir=services.settings.data_dir if records_at else None, db_path=db_path)

