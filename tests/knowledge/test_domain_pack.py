"""The engine is not the W4C pack: a plain FAQ file, or another organisation's knowledge directory, brings
only what it holds (its own synonyms, schedule, taxonomy, reminders, templates); the bot's UI templates are
still found."""
import os
import subprocess
import sys
from pathlib import Path

from bot.core.clock import FixedClock, parse_time
from bot.core.config import PROJECT_ROOT
from bot.core.config import Settings
from bot.knowledge.base import load_knowledge
from bot.knowledge.search import Engine
from bot.services import build
from bot.knowledge.templates import Templates

ROOT = PROJECT_ROOT

# Another organisation's FAQ that shares words with the W4C pack's synonyms (새시스템 = 희망이음, 오픈 = 열려).
FAQ = "id,question,answer\nf1,연차 신청 방법,인사 시스템에서 신청합니다.\nf2,새시스템 오픈일,새 그룹웨어는 10월 4일에 오픈합니다.\n"


def ieum(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "IEUM_DATA_DIR": str(tmp_path / "data"), "IEUM_NOW": "2022-08-20T10:00:00+09:00",
            **(env or {})}
    if env is None or "IEUM_KNOWLEDGE" not in env:
        full.pop("IEUM_KNOWLEDGE", None)
    out = subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120,
                         env=full, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out


def faq_file(tmp_path: Path) -> Path:
    path = tmp_path / "faq.csv"
    path.write_text(FAQ, encoding="utf-8")
    return path


def test_a_plain_faq_brings_no_w4c_pack(tmp_path):
    kb = load_knowledge(faq_file(tmp_path))
    assert [e.id for e in kb.entries] == ["f1", "f2"]
    assert (kb.synonyms, kb.milestones, kb.categories, kb.types, kb.root) == ([], {}, {}, [], None)
    engine = Engine.from_knowledge(kb)
    assert not engine.answer("희망이음 언제 열려요").answered
    assert engine.answer("연차 신청 방법").best.entry_id == "f1"


def test_ask_with_a_plain_faq_declines_w4c_questions(tmp_path):
    faq = str(faq_file(tmp_path))
    out = ieum(tmp_path, "--knowledge", faq, "ask", "희망이음 언제 열려요")
    assert "답변은 아직 준비되어 있지 않습니다" in out.stdout  # the bot's own decline template, still found
    # IEUM_KNOWLEDGE naming only FAQ files means the same as --knowledge
    out = ieum(tmp_path, "ask", "희망이음 언제 열려요", env={"IEUM_KNOWLEDGE": faq})
    assert "답변은 아직 준비되어 있지 않습니다" in out.stdout


def test_schedule_list_with_a_plain_faq_has_no_w4c_reminder(tmp_path):
    out = ieum(tmp_path, "--knowledge", str(faq_file(tmp_path)), "schedule", "list", "--all")
    # nothing listed, and the reason is this pack's (no rule), not the W4C campaign's being over
    assert out.stdout.strip() == "예정된 알림이 없습니다. (날짜가 정해진 알림 규칙이 없습니다)"


OTHER_ENTRIES = """
- id: gw-open
  title: 그룹웨어 개통일
  questions: [그룹웨어 언제 열려요, 그룹웨어 개통일]
  answer: "그룹웨어는 {{ ms.gw_launch.at | kdatetime }}에 엽니다. ({{ relative('gw_launch') }})"
"""
OTHER_SCHEDULE = """
milestones:
  gw_launch:
    name: 그룹웨어 개통
    at: 2022-10-04T09:00
"""
OTHER_REMINDERS = """
phrases:
  gw_launch:
    short: 그룹웨어 개통
rules:
  - id: gw_before
    milestone: gw_launch
    offsets: [D-1]
    template: reminder_deadline
"""


def other_org(tmp_path: Path) -> Path:
    root = tmp_path / "other"
    (root / "entries").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "entries" / "faq.yaml").write_text(OTHER_ENTRIES, encoding="utf-8")
    (root / "schedule.yaml").write_text(OTHER_SCHEDULE, encoding="utf-8")
    (root / "synonyms.yaml").write_text("groups:\n  - [그룹웨어, 전자결재]\n", encoding="utf-8")
    (root / "taxonomy.yaml").write_text("categories:\n  총무: {}\ntypes: [문의, 오류]\n", encoding="utf-8")
    (root / "reminders.yaml").write_text(OTHER_REMINDERS, encoding="utf-8")
    (root / "templates" / "help.j2").write_text("우리 기관 도움말입니다.", encoding="utf-8")
    return root


def test_another_organisations_directory_brings_only_its_own(tmp_path):
    root = other_org(tmp_path)
    kb = load_knowledge(root)
    assert [e.id for e in kb.entries] == ["gw-open"] and list(kb.milestones) == ["gw_launch"]
    assert kb.synonyms == [["그룹웨어", "전자결재"]] and kb.types == ["문의", "오류"]
    templates = Templates(kb, FixedClock(parse_time("2022-10-01T10:00")))
    assert templates.render("help") == "우리 기관 도움말입니다."  # its own template wins
    assert "죄송합니다" in templates.render("decline", reason="unknown", query="q", suggestions=[])  # the bot's own
    engine = Engine.from_knowledge(kb)
    assert engine.answer("전자결재 언제 열려요").best.entry_id == "gw-open"
    assert not engine.answer("희망이음 언제 열려요").answered
    s = build(Settings(data_dir=tmp_path / "data", knowledge=root), clock=FixedClock(parse_time("2022-10-01T10:00")))
    try:
        assert [r.id for r in s.reminders.rules.rules] == ["gw_before"]
        assert "그룹웨어 개통까지 D-3" in s.templates.render_answer(kb.entry("gw-open"))
    finally:
        s.close()
    out = ieum(tmp_path, "--knowledge", str(root), "schedule", "list", "--all")
    assert "gw_before" in out.stdout and "phase2" not in out.stdout and "중단" not in out.stdout
