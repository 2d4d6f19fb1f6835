"""One engine, one state, every entry point: `ieum ask`, `ieum kb export` and the chat answer from the
knowledge files plus the store's live state (milestones set by an admin, FAQ entries promoted from inquiries)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from bot.core.config import Settings
from bot.core.config import PROJECT_ROOT
from bot.services import build

ROOT = PROJECT_ROOT
SECRET = Fernet.generate_key().decode()


def ieum(data_dir: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "IEUM_DATA_DIR": str(data_dir), "IEUM_SECRET_KEY": SECRET,
           "IEUM_NOW": "2022-09-08T10:00:00+09:00"}
    env.pop("IEUM_KNOWLEDGE", None)
    out = subprocess.run([sys.executable, "-m", "bot.cli", *args], input=input, capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out


def ask(data_dir: Path, question: str) -> dict:
    return json.loads(ieum(data_dir, "ask", "--json", question).stdout)


def chat_answer(data_dir: Path, question: str) -> str:
    """What the chat says: services built as `ieum chat` builds them."""
    from bot.core.messages import Incoming
    from handlers.router import dispatch

    s = build(Settings(data_dir=data_dir, secret_key=SECRET))
    try:
        return dispatch(Incoming(user="u1", text=question), s)[0].text
    finally:
        s.close()


def test_ask_and_chat_follow_schedule_set(tmp_path):
    question = "2차 시군구 보고 언제 개시돼요?"
    before = ask(tmp_path, question)
    assert "9월 중" in before["answer"]
    ieum(tmp_path, "schedule", "set", "phase2_reporting", "2022-09-13")
    after = ask(tmp_path, question)
    assert after["entry_id"] == before["entry_id"]
    assert "9월 13일(화)" in after["answer"] and "9월 중" not in after["answer"]
    assert "9월 13일(화)" in chat_answer(tmp_path, question)


def test_promoted_faq_is_answered_by_ask_and_exported(tmp_path):
    s = build(Settings(data_dir=tmp_path, secret_key=SECRET))
    try:
        i = s.inquiries.file(title="외부 결재 연동 설정 방법", category="전체업무 > ERP > 인사", type="자료확인",
                             requester="u1", content="그룹웨어 결재 연동은 어디서 설정하나요?", subject_info="담당 010-1234-5678")
        s.inquiries.answer(i.receipt, "agent1", "기관 관리자 메뉴의 연동 설정에서 결재 연동을 켜면 됩니다.")
        entry = s.inquiries.promote_to_faq(i.receipt, "agent1", questions=["그룹웨어 결재 연동 설정"])
    finally:
        s.close()
    answer = ask(tmp_path, "그룹웨어 결재 연동 설정은 어디서 해요?")
    assert answer["entry_id"] == entry.id and "연동 설정에서 결재 연동" in answer["answer"]
    assert "연동 설정에서 결재 연동" in chat_answer(tmp_path, "그룹웨어 결재 연동 설정은 어디서 해요?")
    exported = [json.loads(line) for line in ieum(tmp_path, "kb", "export").stdout.splitlines()]
    promoted = [e for e in exported if e["id"] == entry.id]
    assert promoted and promoted[0]["kind"] == "inquiry" and "010-1234-5678" not in json.dumps(promoted)
    assert any(e["id"] == "launch-date" for e in exported)  # and the files' entries, as before


def test_ask_creates_no_state(tmp_path):
    """A question is not an admin action: without a database, `ieum ask` reads none and creates none."""
    data = tmp_path / "data"
    assert ask(data, "희망이음 언제 열려요")["answered"]
    assert not data.exists()
