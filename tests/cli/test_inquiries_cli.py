"""`ieum inquiries list|show|assign|answer|export|file`: JSON lines without subject info, exports with the
seed's headings, refused import lines written nowhere and exit status 2."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from bot.cli.main import main
from bot.core.config import PROJECT_ROOT
from bot.inquiries.service import EXPORT_HEADINGS

SECRET_RRN = "850101-1234567"
GOOD = {"title": "인사카드 직원정보 누락", "category": "ERP/인사", "type": "자료확인", "urgent": False, "public": True,
        "requester": "u1", "organization": "복지시설", "position": "사회복지사", "content": "직원정보가 안 보입니다.",
        "subject_info": f"홍길동 {SECRET_RRN}"}


@pytest.fixture
def env(tmp_path, monkeypatch, inquiry_knowledge):
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IEUM_SECRET_KEY", "Y2xpLXNlY3JldC4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    monkeypatch.setenv("IEUM_AGENTS", "agent1,agent2")
    monkeypatch.setenv("IEUM_NOW", "2022-08-29T10:00:00+09:00")
    return tmp_path


def run(monkeypatch, capsys, argv, stdin: str = ""):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def lines(*items) -> str:
    return "".join((json.dumps(i, ensure_ascii=False) if isinstance(i, dict) else i) + "\n" for i in items)


def test_file_prints_one_result_a_line_and_exits_2_on_refusals(env, monkeypatch, capsys):
    stdin = lines(GOOD, {**GOOD, "title": ""}, "{not json", "", {**GOOD, "type": "질문"},
                  {**GOOD, "content": "연락처 010-1234-5678"}, {**GOOD, "title": "두 번째"})
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "file", "--json"], stdin)
    assert code == 2
    results = out.splitlines()
    assert results[0] == "0000000001" and results[-1] == "0000000002"
    assert len(results) == 6  # the blank line is skipped, not refused
    assert "제목을 입력" in results[1] and "JSON" in results[2] and "질의구분" in results[3]
    assert "휴대전화번호" in results[4] and "010-1234-5678" not in out
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list", "--json"])
    assert [json.loads(l)["receipt"] for l in out.splitlines()] == ["0000000002", "0000000001"]


def test_file_all_good_exits_0(env, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD, GOOD))
    assert code == 0 and out.split() == ["0000000001", "0000000002"]


def test_list_json_never_has_subject_info(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD, {**GOOD, "type": "장애신고", "urgent": True}))
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list", "--json"])
    assert code == 0 and SECRET_RRN not in out and "홍길동" not in out
    rows = [json.loads(l) for l in out.splitlines()]
    assert rows[0]["has_subject_info"] is True and rows[0]["remaining"] == "4시간"
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list", "--json", "--type", "장애신고"])
    assert len(out.splitlines()) == 1
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list", "--category", "전체업무 > ERP"])
    assert out.splitlines()[0].split("\t") == EXPORT_HEADINGS and "총 2건" in out


def test_list_says_more_than_ten_thousand_when_the_count_is_capped(env, monkeypatch, capsys):
    from bot.infra.store import Store
    from conftest import clone_inquiries

    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD))
    store = Store(env / "ieum.db")
    try:
        clone_inquiries(store, 10_001)
    finally:
        store.close()
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list", "--page", "3"])
    assert code == 0 and "10,000건 이상, 3/" in out and "쪽 이상)" in out


def test_assign_answer_show(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD))
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "assign", "0000000001", "agent1"])
    assert code == 0 and "agent1" in out
    code, _, err = run(monkeypatch, capsys, ["inquiries", "assign", "1", "agent2"])
    assert code == 1 and "이미 agent1님이 맡은 질의" in err
    code, _, err = run(monkeypatch, capsys, ["inquiries", "assign", "1", "stranger", "--force"])
    assert code == 1 and "담당자" in err
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "answer", "1", "--agent", "agent1"], "마이페이지에서 수정하세요.\n")
    assert code == 0 and "조치완료" in out
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "show", "1"])
    assert "마이페이지" in out and "담당자 지정" in out and "assigned" not in out and SECRET_RRN not in out
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "show", "1", "--json"])
    d = json.loads(out)
    assert [e["kind"] for e in d["events"]] == ["filed", "assigned", "answered", "completed"]
    assert SECRET_RRN not in out
    code, _, err = run(monkeypatch, capsys, ["inquiries", "show", "0000000099"])
    assert code == 1 and "찾을 수 없습니다" in err


def test_export_csv_and_xlsx(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD, {**GOOD, "category": "ERP/세무"}))
    path = env / "out.csv"
    code, _, _ = run(monkeypatch, capsys, ["inquiries", "export", "--format", "csv", "--output", str(path),
                                           "--category", "ERP/인사", "--reason", "월간 처리 현황 보고"])
    assert code == 0
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == EXPORT_HEADINGS and len(rows) == 2 and rows[1][1] == "ERP/인사"
    assert SECRET_RRN not in text and "홍길동" not in text
    xpath = env / "out.xlsx"
    code, _, _ = run(monkeypatch, capsys, ["inquiries", "export", "--format", "xlsx", "--output", str(xpath),
                                           "--reason", "감사 자료"])
    values = [[c.value for c in r] for r in load_workbook(xpath).active.iter_rows()]
    assert values[0] == EXPORT_HEADINGS and len(values) == 3
    assert SECRET_RRN not in json.dumps(values, ensure_ascii=False, default=str)


def test_export_without_a_reason_is_refused_and_writes_nothing(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD))
    path = env / "out.csv"
    code, _, err = run(monkeypatch, capsys, ["inquiries", "export", "--output", str(path)])
    assert code == 2 and "사유" in err and not path.exists()


def test_ieum_command_in_a_subprocess(env):
    import os

    proc = subprocess.run([sys.executable, "-m", "bot.cli.inquiries", "inquiries", "file", "--json"], cwd=PROJECT_ROOT,
                          input=lines(GOOD, {**GOOD, "category": "없는분류"}), capture_output=True, text=True,
                          env={**os.environ}, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[0] == "0000000001" and "업무분류" in proc.stdout.splitlines()[1]
    assert SECRET_RRN not in proc.stdout + proc.stderr


def test_without_configured_agents_nobody_triages_from_the_cli_either(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD))
    monkeypatch.setenv("IEUM_AGENTS", "")  # as in chat (Inquiries.is_agent): no agents, no triage
    code, _, err = run(monkeypatch, capsys, ["inquiries", "assign", "1", "agent1"])
    assert code == 1 and "헬프데스크 담당자(IEUM_AGENTS)가 아닙니다" in err


def test_list_prints_the_export_columns(env, monkeypatch, capsys):
    run(monkeypatch, capsys, ["inquiries", "file", "--json"], lines(GOOD))
    code, out, _ = run(monkeypatch, capsys, ["inquiries", "list"])
    row = out.splitlines()[1].split("\t")
    assert code == 0 and len(row) == len(EXPORT_HEADINGS)
    assert row[0] == "0000000001" and row[3] == GOOD["title"] and row[7] == "조치대기"
