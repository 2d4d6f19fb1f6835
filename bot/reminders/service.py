"""Scheduled reminders: rules (knowledge/reminders.yaml) → occurrences → delivery keys in the outbox.

An occurrence is one send of one rule at one Seoul time. Its delivery key is
`reminder:{rule}:{time}:{surface}:{target}`; the outbox keeps it unique, so however many times (and in
however many processes) `materialize()` runs, each reminder reaches each target once.

Sends falling on a weekend or Korean public holiday move to the previous business day; `daily` rules
simply skip those days. The admin override of open milestones ("9월 중" → a date, persisted) lives here
too; the time-aware phrases ("중단까지 D-2") are the knowledge's (`bot.knowledge.phrases`).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.infra.businesshours import BusinessCalendar, Policy, is_business_day
from bot.core.clock import SEOUL, BadTime, parse_time
from bot.core.messages import Reply
from bot.infra.store import Migrations
from bot.core.dates import dday
from bot.knowledge.phrases import install_template_globals, parse_phrases, rules_path

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)


class ReminderError(ValueError):
    """A reminder rule or a schedule change is invalid."""


# ---- tables -----------------------------------------------------------------------------------


MIGRATIONS = Migrations("reminders")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("reminders_001_create")
def _create(db) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS reminder_subscriptions (
            surface TEXT NOT NULL,
            user TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            since REAL NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (surface, user)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS milestone_overrides (
            milestone TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            set_by TEXT,
            set_at TEXT NOT NULL
        )
        """
    )


# ---- business days ----------------------------------------------------------------------------


def previous_business_day(d: date) -> date:
    while not is_business_day(d):
        d -= timedelta(days=1)
    return d


def shift_to_business_day(dt: datetime) -> datetime:
    local = dt.astimezone(SEOUL)
    d = previous_business_day(local.date())
    return local if d == local.date() else datetime.combine(d, local.timetz())


# ---- rules ------------------------------------------------------------------------------------

_DAY_OFFSET = re.compile(r"^D\s*([+-])\s*(\d+)$|^D-?day$|^D0$", re.I)
_HOUR_OFFSET = re.compile(r"^([+-])\s*(\d+)\s*h$", re.I)
_DURATION = re.compile(r"^(\d+)\s*([mhd])$", re.I)


def parse_offset(text: str) -> tuple[str, int]:
    """'D-7' → ('day', -7); 'D-day' → ('day', 0); '-3h' → ('hour', -3)."""
    t = str(text).strip()
    m = _DAY_OFFSET.match(t)
    if m:
        if m.group(1) is None:
            return "day", 0
        n = int(m.group(2))
        return "day", -n if m.group(1) == "-" else n
    m = _HOUR_OFFSET.match(t)
    if m:
        n = int(m.group(2))
        return "hour", -n if m.group(1) == "-" else n
    raise ReminderError(f"오프셋 형식 오류: {text!r} (예: D-7, D-day, D+7, -3h)")


def parse_duration(text: Any) -> timedelta:
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ReminderError(f"시간 길이 형식 오류: {text!r} (예: 30m, 6h, 1d)")
    n, unit = int(m.group(1)), m.group(2).lower()
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n)}[unit]


def parse_hour(text: Any) -> time:
    if isinstance(text, int):  # YAML 1.1 reads 09:00 unquoted as sexagesimal minutes
        return time(text // 60, text % 60)
    try:
        return time.fromisoformat(str(text).strip())
    except ValueError:
        raise ReminderError(f"시각 형식 오류: {text!r} (예: \"09:00\")") from None


@dataclass
class Rule:
    id: str
    milestone: str
    template: str
    offsets: list[str] = field(default_factory=list)
    kind: str = "countdown"  # countdown | daily
    hour: time = time(9, 0)
    grace: timedelta = timedelta(hours=6)
    audience: list[str] = field(default_factory=lambda: ["broadcast", "subscribers"])
    todo: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    origin: str = ""


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    broadcast: list[str] = field(default_factory=list)  # "surface:target"
    phrases: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # found while loading

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def load_rules(path: Path | str | None) -> RuleSet:
    if path is None:
        return RuleSet()
    path = Path(path)
    from bot.knowledge.base import _LineLoader, _strip_lines

    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ReminderError(f"{path}: 읽을 수 없습니다 ({e})") from None
    defaults = _strip_lines(raw.get("defaults") or {})
    out = RuleSet(broadcast=[str(b) for b in _strip_lines(raw.get("broadcast") or [])],
                  phrases=parse_phrases(raw))
    for item in raw.get("rules") or []:
        where = f"{path}:{item.get('__line__', 0) if isinstance(item, dict) else 0}"
        try:
            if not isinstance(item, dict):
                raise ReminderError("규칙은 매핑이어야 합니다")
            item = _strip_lines(item)
            for key in ("id", "milestone", "template"):
                if not item.get(key):
                    raise ReminderError(f"'{key}'가 없습니다")
            rule = Rule(
                id=str(item["id"]), milestone=str(item["milestone"]), template=str(item["template"]),
                offsets=[str(o) for o in item.get("offsets") or []],
                kind=str(item.get("kind") or "countdown"),
                hour=parse_hour(item.get("hour", defaults.get("hour", "09:00"))),
                grace=parse_duration(item.get("grace", defaults.get("grace", "6h"))),
                audience=[str(a) for a in item.get("audience", defaults.get("audience", ["broadcast", "subscribers"]))],
                todo=[str(t) for t in item.get("todo") or []],
                entries=[str(e) for e in item.get("entries") or []],
                origin=where,
            )
            for o in rule.offsets:
                parse_offset(o)
        except ReminderError as e:
            out.problems.append(f"{where}: {e}")
            continue
        out.rules.append(rule)
    return out


def check_rules(kb, rules: RuleSet, *, entries: bool = True) -> list[str]:
    """Every problem with the reminder rules against the knowledge base; empty means sound."""
    from bot.knowledge.templates import Templates

    problems = list(rules.problems)
    seen: set[str] = set()
    templates = Templates(kb)
    for r in rules.rules:
        where = f"{r.origin}: {r.id}"
        if r.id in seen:
            problems.append(f"{where}: 규칙 id가 중복됩니다")
        seen.add(r.id)
        if r.milestone not in kb.milestones:
            problems.append(f"{where}: 알 수 없는 마일스톤 '{r.milestone}'")
        elif r.kind == "daily" and not (kb.milestones[r.milestone].start and kb.milestones[r.milestone].end):
            problems.append(f"{where}: daily 규칙에는 기간(start/end) 마일스톤이 필요합니다")
        if r.kind not in ("countdown", "daily"):
            problems.append(f"{where}: 알 수 없는 kind '{r.kind}'")
        if r.kind == "countdown" and not r.offsets:
            problems.append(f"{where}: offsets가 비어 있습니다")
        for a in r.audience:
            if a not in ("broadcast", "subscribers"):
                problems.append(f"{where}: 알 수 없는 audience '{a}'")
        for e in r.entries if entries else ():
            if kb.entry(e) is None:
                problems.append(f"{where}: 알 수 없는 FAQ 항목 '{e}'")
        try:
            templates.strict_env.get_template(f"{r.template}.j2")
        except Exception as e:  # TemplateNotFound or a syntax error
            problems.append(f"{where}: 템플릿 {r.template}.j2 오류: {type(e).__name__}: {e}")
        if r.grace <= timedelta(0):
            problems.append(f"{where}: grace는 0보다 커야 합니다")
    for b in rules.broadcast:
        if ":" not in b:
            problems.append(f"reminders.yaml: broadcast 대상은 'surface:target' 형식이어야 합니다: {b!r}")
    for mid in rules.phrases:
        if mid not in kb.milestones:
            problems.append(f"reminders.yaml: phrases: 알 수 없는 마일스톤 '{mid}'")
    return problems


def check_knowledge(kb) -> list[str]:
    """The reminder part of `ieum kb check`."""
    try:
        rules = load_rules(rules_path(kb))
    except ReminderError as e:
        return [str(e)]
    # With a plain FAQ file instead of knowledge/entries, linked entry ids cannot be checked (the
    # reminders simply link nothing); with entry files they must exist.
    has_entry_files = kb.root is not None and any((Path(kb.root) / "entries").glob("*.yaml")) and any(
        "/entries/" in e.origin.replace("\\", "/") for e in kb.entries)
    return check_rules(kb, rules, entries=has_entry_files)


# ---- occurrences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    rule: Rule
    at: datetime  # when it is sent (after the business-day shift)
    planned: datetime  # before the shift
    offset: str = ""

    @property
    def milestone(self) -> str:
        return self.rule.milestone


def occurrences(rule: Rule, kb) -> list[Occurrence]:
    """Every send of a rule, in time order, with weekend/holiday shifts; [] for an open milestone."""
    ms = kb.milestones.get(rule.milestone)
    if ms is None:
        return []
    out: list[Occurrence] = []
    if rule.kind == "daily":
        if not (ms.start and ms.end):
            return []
        d = ms.start.astimezone(SEOUL).date()
        while d <= ms.end.astimezone(SEOUL).date():
            t = datetime.combine(d, rule.hour, SEOUL)
            if ms.start <= t < ms.end and is_business_day(d):
                out.append(Occurrence(rule, t, t, "daily"))
            d += timedelta(days=1)
        return out
    moment = ms.moment
    if moment is None:
        return []
    moment = moment.astimezone(SEOUL)
    by_time: dict[datetime, Occurrence] = {}
    for o in rule.offsets:
        unit, n = parse_offset(o)
        if unit == "day":
            planned = datetime.combine(moment.date() + timedelta(days=n), rule.hour, SEOUL)
        else:
            planned = moment + timedelta(hours=n)
        at = shift_to_business_day(planned)
        known = by_time.get(at)
        if known is None or planned > known.planned:  # two offsets on one day: keep the nearer one
            by_time[at] = Occurrence(rule, at, planned, o)
    return sorted(by_time.values(), key=lambda x: x.at)


def all_occurrences(kb, rules: RuleSet, *, start: datetime | None = None,
                    end: datetime | None = None) -> list[Occurrence]:
    """Occurrences of every rule with start <= at < end, in time order."""
    out = []
    for r in rules.rules:
        for occ in occurrences(r, kb):
            if (start is None or occ.at >= start) and (end is None or occ.at < end):
                out.append(occ)
    return sorted(out, key=lambda o: (o.at, o.rule.id))


def delivery_key(occ: Occurrence, surface: str, target: str) -> str:
    return f"reminder:{occ.rule.id}:{occ.at.astimezone(SEOUL).isoformat(timespec='minutes')}:{surface}:{target}"


# ---- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One planned delivery: what `schedule simulate` prints."""

    occurrence: Occurrence
    surface: str
    target: str
    reply: Reply

    @property
    def key(self) -> str:
        return delivery_key(self.occurrence, self.surface, self.target)

    def as_dict(self) -> dict[str, str]:
        return {"at": self.occurrence.at.isoformat(), "rule": self.occurrence.rule.id,
                "milestone": self.occurrence.milestone, "target": f"{self.surface}:{self.target}",
                "text": self.reply.text}


class Reminders:
    """Rules, audiences, rendering and materialisation into the outbox for one `Services`."""

    def __init__(self, services, rules: RuleSet | None = None):
        self.services = services
        self.rules = rules or load_rules(rules_path(services.kb))
        self._own_calendar: BusinessCalendar | None = None
        if self.rules.problems:
            for p in self.rules.problems:
                log.warning("reminders: %s", p)

    @property
    def store(self):
        return self.services.store

    # -- audiences

    def broadcast_targets(self) -> list[tuple[str, str]]:
        env = (getattr(self.services.settings, "extra", None) or {}).get("IEUM_REMINDER_CHANNELS", "")
        items = [v.strip() for v in env.replace(";", ",").split(",") if v.strip()] or self.rules.broadcast
        out = []
        for item in items:
            surface, _, target = item.partition(":")
            if surface and target:
                out.append((surface.strip(), target.strip()))
        return out

    def subscribe(self, surface: str, user: str, active: bool = True) -> None:
        now = self.services.clock.now()
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT INTO reminder_subscriptions (surface, user, active, since, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT (surface, user) DO UPDATE SET active=excluded.active, updated_at=excluded.updated_at,"
                " since=CASE WHEN reminder_subscriptions.active=1 AND excluded.active=1"
                " THEN reminder_subscriptions.since ELSE excluded.since END",
                [surface, user, 1 if active else 0, now.timestamp(), now.isoformat()],
            )

    def unsubscribe(self, surface: str, user: str) -> None:
        self.subscribe(surface, user, active=False)

    def is_subscribed(self, surface: str, user: str) -> bool:
        row = self.store.conn.execute(
            "SELECT active FROM reminder_subscriptions WHERE surface=? AND user=?", [surface, user]
        ).fetchone()
        return bool(row and row[0])

    def toggle(self, surface: str, user: str) -> bool:
        """Flip the subscription; returns the new state."""
        with self.store.transaction():
            new = not self.is_subscribed(surface, user)
            self.subscribe(surface, user, active=new)
        return new

    def subscribers(self) -> list[tuple[str, str, float]]:
        return [tuple(r) for r in self.store.conn.execute(
            "SELECT surface, user, since FROM reminder_subscriptions WHERE active=1 ORDER BY surface, user")]

    def targets(self, occ: Occurrence, *, subscribers: list[tuple[str, str, float]] | None = None,
                broadcast: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        """Who gets `occ`; pass `subscribers`/`broadcast` when asking for many occurrences at once."""
        out: list[tuple[str, str]] = []
        if "broadcast" in occ.rule.audience:
            out.extend(self.broadcast_targets() if broadcast is None else broadcast)
        if "subscribers" in occ.rule.audience:
            # A subscriber gets what is sent after they subscribed, not the backlog.
            subs = self.subscribers() if subscribers is None else subscribers
            out.extend((s, u) for s, u, since in subs if since <= occ.at.timestamp())
        if ("console", "console") in out:  # one terminal, one screen: its subscriber is already the broadcast
            out = [(s, t) for s, t in out if s != "console" or t == "console"]
        return list(dict.fromkeys(out))  # without repeats, first come first

    # -- schedule

    def occurrences(self, start: datetime | None = None, end: datetime | None = None) -> list[Occurrence]:
        return all_occurrences(self.services.kb, self.rules, start=start, end=end)

    def render(self, occ: Occurrence) -> Reply:
        kb = self.services.kb
        ms = kb.milestones[occ.milestone]
        at = occ.at
        moment = ms.moment
        unit, n = parse_offset(occ.offset) if occ.offset not in ("daily", "") else ("", 0)
        hours_left = None
        if unit == "hour" and moment and moment > at:
            hours_left = round((moment - at).total_seconds() / 3600)
        entries = [e for e in (kb.entry(i) for i in occ.rule.entries) if e is not None]
        data: dict[str, Any] = dict(
            m=ms, at=at, d=dday(moment, at) if moment else "", hours_left=hours_left, todo=occ.rule.todo,
            entries=entries, rule=occ.rule.id, offset=occ.offset,
            moved_from=occ.planned if occ.planned.date() != at.date() else None,  # a holiday moved it earlier
        )
        if ms.start and ms.end:
            data["day_n"] = (at.astimezone(SEOUL).date() - ms.start.astimezone(SEOUL).date()).days + 1
            data["d_launch"] = "개통 " + dday(ms.end, at)
        data["upcoming"] = [
            {"name": m.name, "when": m.when, "d": dday(m.moment, at) if m.moment else ""}
            for m in sorted(kb.milestones.values(), key=lambda m: (m.moment is None, m.moment or at))
            if (m.moment is None and m.label) or (m.moment and m.moment > at and m.moment - at < timedelta(days=45))
        ]
        text = self.services.templates.render(occ.rule.template, **data)
        return Reply(text, kind="notice", data={
            "rule": occ.rule.id, "milestone": occ.milestone, "at": at.isoformat(),
            "entries": [{"id": e.id, "title": e.title} for e in entries],
        })

    def plan(self, start: datetime | None = None, end: datetime | None = None) -> list[Send]:
        """Every send between start and end, in order (no database writes)."""
        out: list[Send] = []
        subscribers, broadcast = self.subscribers(), self.broadcast_targets()
        for occ in self.occurrences(start, end):
            targets = self.targets(occ, subscribers=subscribers, broadcast=broadcast)
            if not targets:
                continue
            reply = self.render(occ)
            out.extend(Send(occ, s, t, reply) for s, t in targets)
        return out

    def materialize(self, now: datetime | None = None, *, lookback: timedelta = LOOKBACK) -> dict[str, int]:
        """Enqueue every occurrence due by `now`; ones missed beyond their grace are recorded as skipped."""
        outbox = self.services.outbox
        now = now or self.services.clock.now()
        apply_overrides(self.services)
        counts = {"enqueued": 0, "skipped": 0}
        # One read of the audiences and one of the keys already known per tick, not one per occurrence.
        subscribers, broadcast = self.subscribers(), self.broadcast_targets()
        planned = []
        for occ in self.occurrences(now - lookback, now + timedelta(microseconds=1)):
            targets = self.targets(occ, subscribers=subscribers, broadcast=broadcast)
            planned.append((occ, {delivery_key(occ, s, t): (s, t) for s, t in targets}))
        known = outbox.known(k for _, keys in planned for k in keys)
        for occ, keys in planned:
            new = [k for k in keys if k not in known]
            if not new:
                continue
            late = now - occ.at > occ.rule.grace
            reply = None if late else self.render(occ)
            for key in new:
                surface, target = keys[key]
                if late:
                    if outbox.skip(None, key=key, surface=surface, target=target, not_before=occ.at,
                                   note=f"missed by {now - occ.at}"):
                        counts["skipped"] += 1
                        log.info("reminders: skipped %s (missed beyond grace)", key)
                elif outbox.enqueue(reply, key=key, surface=surface, target=target, not_before=occ.at,
                                    expires_at=occ.at + occ.rule.grace):
                    counts["enqueued"] += 1
        return counts

    # -- the helpdesk's own deadlines

    def calendar(self) -> BusinessCalendar:
        """The inquiries' business calendar (knowledge/policy.yaml); the same policy, loaded once, when the
        inquiries service offers none."""
        calendar = getattr(self.services.inquiries, "calendar", None)
        if isinstance(calendar, BusinessCalendar):
            return calendar
        if self._own_calendar is None:
            from bot.inquiries.service import policy_path

            self._own_calendar = BusinessCalendar(Policy.load(policy_path(self.services.kb)))
        return self._own_calendar

    def inquiry_warnings(self, now: datetime | None = None) -> int:
        """Warn assignees at 75% of an inquiry's processing time and when overdue (business hours only).

        Reads `services.inquiries.open_for_reminders()` when that service offers it: items (objects or
        dicts) with receipt/id, assignee, created_at, due_at, title, surface. Each warning is rendered
        only when its delivery key is new.
        """
        inquiries = self.services.inquiries
        source = getattr(inquiries, "open_for_reminders", None)
        if source is None:
            return 0
        now = now or self.services.clock.now()
        calendar = self.calendar()
        if not calendar.is_business_time(now):
            return 0
        due_now = []  # (key, surface, assignee, receipt, due, overdue, title)
        for item in source():
            get = (item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d))
            receipt = str(get("receipt") or get("id") or "")
            assignee, created, due = get("assignee"), get("created_at"), get("due_at")
            if not (receipt and assignee and created and due):
                continue
            created = parse_time(created) if isinstance(created, str) else created
            due = parse_time(due) if isinstance(due, str) else due
            if now >= due:
                stage, overdue = "overdue", True
            elif now >= calendar.fraction(created, due, 0.75):
                stage, overdue = "75", False
            else:
                continue
            due_now.append((f"inquiry-warn:{receipt}:{stage}", get("surface") or "console", str(assignee),
                            receipt, due, overdue, get("title") or ""))
        known = self.services.outbox.known(w[0] for w in due_now)
        n = 0
        for key, surface, assignee, receipt, due, overdue, title in due_now:
            if key in known:
                continue
            text = self.services.templates.render(
                "reminder_inquiry", receipt=receipt, due=due, overdue=overdue, title=title)
            if self.services.outbox.enqueue(Reply(text, kind="notice", private=True, to_user=assignee),
                                            key=key, surface=surface, target=assignee):
                n += 1
        return n


# ---- milestone overrides ----------------------------------------------------------------------


def parse_milestone_value(value: str) -> tuple[str, date | datetime]:
    v = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return "date", date.fromisoformat(v)
    try:
        return "at", parse_time(v)
    except BadTime as e:
        raise ReminderError(str(e)) from None


def _apply(ms, kind: str, value) -> None:
    if kind == "date":
        ms.date, ms.at = value, None
    else:
        ms.at, ms.date = value, None


def set_milestone(services, milestone_id: str, value: str, *, by: str = "") -> Any:
    """Set an open (or movable) milestone's date/time, persist it, and update `services.kb` at once."""
    ms = services.kb.milestones.get(milestone_id)
    if ms is None:
        raise ReminderError(f"알 수 없는 마일스톤입니다: {milestone_id}")
    if ms.start or ms.end:
        raise ReminderError(f"{milestone_id}: 기간(start/end) 마일스톤은 여기서 바꿀 수 없습니다")
    kind, parsed = parse_milestone_value(value)
    store = services.store
    with store.transaction():
        store.conn.execute(
            "INSERT INTO milestone_overrides (milestone, kind, value, set_by, set_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT (milestone) DO UPDATE SET kind=excluded.kind, value=excluded.value,"
            " set_by=excluded.set_by, set_at=excluded.set_at",
            [milestone_id, kind, parsed.isoformat(), by or None, services.clock.now().isoformat()],
        )
    _apply(ms, kind, parsed)
    return ms


def apply_overrides(services) -> int:
    """Bring `services.kb.milestones` in line with the overrides stored in the database."""
    rows = services.store.conn.execute("SELECT milestone, kind, value FROM milestone_overrides").fetchall()
    n = 0
    for mid, kind, value in rows:
        ms = services.kb.milestones.get(mid)
        if ms is None:
            continue
        parsed = date.fromisoformat(value) if kind == "date" else parse_time(value)
        current = ms.date if kind == "date" else ms.at
        if current != parsed:
            _apply(ms, kind, parsed)
            n += 1
    return n


# ---- wiring -----------------------------------------------------------------------------------


def setup(services) -> None:
    if services.outbox is None:
        from bot.infra import outbox

        outbox.setup(services)
    apply_overrides(services)
    services.reminders = Reminders(services)
    install_template_globals(services.templates, services)
