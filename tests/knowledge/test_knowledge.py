"""Loading and checking knowledge/: the shipped base, broken data, and plain FAQ files."""
import json
import shutil
import subprocess
import sys

import pytest

from bot.core.config import DEFAULT_KNOWLEDGE
from bot.core.config import PROJECT_ROOT
from bot.knowledge.base import KnowledgeError, load_faq_file, load_knowledge
from bot.knowledge.checking import check
from bot.knowledge.search import Engine
from bot.knowledge.templates import Templates, kdate, kdatetime

IEUM = [sys.executable, "-m", "bot.cli"]


def run(*args, input=None, env=None, cwd=None):
    return subprocess.run([*IEUM, *args], input=input, capture_output=True, text=True, timeout=60, env=env,
                          cwd=cwd or PROJECT_ROOT)


def test_shipped_knowledge_is_sound(kb):
    assert check(kb) == []
    assert len(kb.entries) >= 40
    assert {"launch", "outage", "data_entry_close", "report_cutoff", "deadline_0930"} <= set(kb.milestones)
    assert "전체업무 > ERP > 인사" in kb.category_paths()
    assert len(kb.types) == 11


def test_dates_render_the_korean_way(kb):
    assert kdatetime(kb.milestones["data_entry_close"].at) == "8월 31일(수) 18:00"
    assert kdate(kb.milestones["launch"].at) == "9월 6일(화)"
    assert kb.milestones["phase2_reporting"].when == "9월 중"


def test_every_answer_is_short_and_renders(kb):
    t = Templates(kb)
    for e in kb.entries:
        text = t.render_answer(e, strict=True)
        assert 0 < len(text) <= 600, e.id


def test_kb_check_command_passes():
    r = run("kb", "check")
    assert r.returncode == 0, r.stderr
    assert "정상" in r.stdout


@pytest.fixture
def broken_kb(tmp_path):
    root = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE, root)
    return root


def _write(root, text):
    (root / "entries" / "zz_broken.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("text, message", [
    ("- id: launch-date\n  title: 중복\n  answer: 중복입니다\n", "중복"),
    ("- id: x1\n  title: 날짜\n  answer: '{{ ms.no_such_milestone.at | kdate }}'\n", "zz_broken.yaml:1"),
    ("- id: x2\n  title: 문법\n  answer: '{{ ms.launch.at | kdate '\n", "문법"),
    ("- id: x3\n  title: 길다\n  answer: '" + "가" * 700 + "'\n", "600"),
    ("- id: x4\n  title: ''\n  answer: 내용\n", "title"),
    ("- id: x5\n  title: 들여쓰기\n   answer: 잘못\n", "YAML"),
])
def test_kb_check_catches_broken_data(broken_kb, text, message):
    _write(broken_kb, text)
    r = run("--knowledge", str(broken_kb), "kb", "check")
    assert r.returncode != 0
    assert message in r.stderr
    assert "zz_broken.yaml" in r.stderr or "중복" in r.stderr


def test_kb_check_catches_bad_schedule(broken_kb):
    p = broken_kb / "schedule.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("end: 2022-09-06T09:00", "end: 2022-08-01T09:00"),
                 encoding="utf-8")
    r = run("--knowledge", str(broken_kb), "kb", "check")
    assert r.returncode != 0 and "schedule.yaml" in r.stderr


def test_kb_export_json(kb):
    r = run("kb", "export", "--json")
    assert r.returncode == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == len(kb.entries)
    assert all({"id", "title", "questions", "answer", "tags", "source"} <= set(row) for row in rows)
    assert not any("{{" in row["answer"] for row in rows)


# ---- plain FAQ files ------------------------------------------------------------------------

FAQ = [("f1", "연차 신청은 어디서 하나요", "인사 메뉴 > 휴가 신청에서 합니다."),
       ("f2", "비밀번호를 잊어버렸어요", "로그인 화면의 비밀번호 찾기를 누르세요.")]


def _faq_files(tmp_path):
    import csv

    from openpyxl import Workbook

    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "question": q, "answer": a}, ensure_ascii=False) + "\n"
                             for i, q, a in FAQ), encoding="utf-8")
    csv_path = tmp_path / "faq.csv"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "answer"])
        w.writerows(FAQ)
    xlsx = tmp_path / "faq.xlsx"
    wb = Workbook()
    wb.active.append(["id", "question", "answer"])
    for row in FAQ:
        wb.active.append(list(row))
    wb.save(xlsx)
    return [jsonl, csv_path, xlsx]


def test_plain_faq_files_load_alike(tmp_path):
    for path in _faq_files(tmp_path):
        entries = load_faq_file(path)
        assert [(e.id, e.title, e.answer) for e in entries] == FAQ, path.suffix


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "xlsx"])
def test_ask_with_a_plain_faq_file(tmp_path, suffix):
    path = next(p for p in _faq_files(tmp_path) if p.suffix == "." + suffix)
    r = run("--knowledge", str(path), "ask", "--json", input="비밀번호 잊어버림\n점심 뭐 먹지\n")
    assert r.returncode == 0, r.stderr
    first, second = [json.loads(line) for line in r.stdout.splitlines()]
    assert first["answered"] and first["entry_id"] == "f2"
    assert not second["answered"]


def test_ieum_knowledge_env_adds_a_faq(tmp_path):
    import os

    path = _faq_files(tmp_path)[0]
    env = {**os.environ, "IEUM_KNOWLEDGE": f"{DEFAULT_KNOWLEDGE},{path}"}
    r = run("ask", "--json", input="연차 신청 어디서 해요\n희망이음 주소\n", env=env)
    a, b = [json.loads(line) for line in r.stdout.splitlines()]
    assert a["entry_id"] == "f1"
    assert b["answered"] and "ssis.go.kr" in b["answer"]


@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "question": "q"}\n', "answer"),
    ("not json\n", "JSON"),
])
def test_broken_faq_file_is_reported_with_its_line(tmp_path, content, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message) as e:
        load_faq_file(p)
    assert "bad.jsonl:1" in str(e.value)


def test_non_utf8_faq_is_refused(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes("id,question,answer\n1,질문,답\n".encode("cp949"))
    with pytest.raises(KnowledgeError, match="UTF-8"):
        load_faq_file(p)


def test_engine_over_a_plain_faq(tmp_path):
    kb = load_knowledge(_faq_files(tmp_path)[1])
    assert [e.id for e in kb.entries] == ["f1", "f2"]
    assert Engine.from_knowledge(kb).answer("연차 신청 방법").best.entry_id == "f1"


@pytest.mark.parametrize("now, phrase, start", [
    ("2022-08-29T10:00", "중단까지 D-2", "8월 31일(수, 모레) 18:00"),  # a day near the moment says so
    ("2022-09-02T10:00", "현재 중단 기간입니다", "8월 31일(수) 18:00"),
    ("2022-09-20T10:00", "이미 개통되었습니다", "8월 31일(수) 18:00"),
])
def test_answers_are_time_aware(kb, now, phrase, start):
    from bot.core.clock import FixedClock, parse_time

    text = Templates(kb, FixedClock(parse_time(now))).render_answer(kb.entry("outage-period"))
    assert start in text and phrase in text
