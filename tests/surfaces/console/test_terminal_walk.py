"""One inquiry walked through on a real terminal (a pseudo-terminal), as a requester and then an agent would:
multi-line fields, button numbers that stay bound to what was shown, and buttons pressed by their label."""
import os
import pty
import re
import sys
from pathlib import Path

from bot.core.config import PROJECT_ROOT
from fakes.terminal import end, read_until

ROOT = PROJECT_ROOT


def plain(screen: str) -> str:
    """The text as read: without the bold marks and the terminal's carriage returns."""
    return re.sub(r"\x1b\[[0-9;]*m", "", screen).replace("\r\n", "\n")


class Terminal:
    def __init__(self, data_dir: Path, user: str):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: `ieum chat` on a real terminal
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "chat"],
                      {**os.environ, "IEUM_DATA_DIR": str(data_dir), "IEUM_USER": user, "IEUM_AGENTS": "agent1",
                       "LANG": "C.UTF-8", "TERM": "dumb", "IEUM_NOW": "2022-08-29T10:00:00+09:00"})
        self.screen = read_until(self.fd, "나> ")

    def type(self, line: str, until: str) -> str:
        os.write(self.fd, (line + "\r").encode())
        self.screen = plain(read_until(self.fd, until))
        assert until in self.screen, self.screen[-1500:]
        return self.screen

    def close(self) -> int:
        try:
            return end(self.pid, self.fd)
        finally:
            os.close(self.fd)


def test_requester_and_agent_walk_one_inquiry(tmp_path):
    req = Terminal(tmp_path, "req")
    assert "리허설 시계" in req.screen
    req.type("질의하기", "제목 (필수)> ")
    req.type("급여 명세서 출력 오류", "업무분류 (필수)> ")
    req.type("전체업무 > ERP > 급여", "질의구분 (필수)> ")
    req.type("시스템오류", "긴급 여부")
    for _ in range(4):  # 긴급, 공개, 지침문의 이관, 소속기관: defaults
        req.type("", "> ")
    screen = req.type("", "질의내용> ")
    assert "빈 줄이나 '.'" in screen
    req.type("급여 명세서 출력 버튼이 반응하지 않습니다.", "(계속, 빈 줄이나 '.'로 끝)> ")
    req.type("크롬에서도 같습니다.", "(계속, 빈 줄이나 '.'로 끝)> ")
    req.type(".", "대상자 정보 🔒비공개> ")
    req.type("", "첨부> ")
    screen = req.type("", "나> ")
    assert "접수번호 0000000001" in screen
    assert req.close() == 0

    agent = Terminal(tmp_path, "agent1")
    screen = agent.type("도움말", "나> ")
    assert "질의 목록" in screen
    screen = agent.type("0000000001", "나> ")  # a receipt number opens the inquiry
    assert "크롬에서도 같습니다." in screen and "[1] 맡기" in screen
    screen = agent.type("맡기", "나> ")  # the button's label presses it
    assert "agent1님이 맡았습니다" in screen and "[2] 답변하기" in screen
    assert "[1] 5점" not in screen
    screen = agent.type("2", "답변 (필수)> ")  # [2] is still 답변하기, whatever was printed after it
    agent.type("메뉴에서 다시 조회해 주세요.", "(계속, 빈 줄이나 '.'로 끝)> ")
    agent.type("그래도 안 되면 알려 주세요.", "(계속, 빈 줄이나 '.'로 끝)> ")
    agent.type("", "조치완료로 처리")
    screen = agent.type("", "나> ")
    assert "답변을 등록했습니다" in screen and "[1] FAQ 등록" in screen
    assert agent.close() == 0

    req = Terminal(tmp_path, "req")
    screen = req.type("0000000001", "나> ")
    assert "메뉴에서 다시 조회해 주세요.\n그래도 안 되면 알려 주세요." in screen.replace("\r\n", "\n")
    assert "[2] 만족도 4점" in screen
    screen = req.type("2", "나> ")
    assert "4점" in screen
    assert req.close() == 0

    from bot.infra.store import Store

    store = Store(tmp_path / "ieum.db")
    try:
        row = store.conn.execute("SELECT satisfaction, content, answer FROM inquiries").fetchone()
    finally:
        store.close()
    assert row[0] == 4 and "\n" in row[1] and "\n" in row[2]
