"""The terminal chat and `ieum ask`, driven end to end through pipes and a pseudo-terminal."""
import json
import os
import pty
import subprocess
import sys
import time
from contextlib import contextmanager
from io import StringIO

from bot.surfaces.console.adapter import Console
from bot.core.config import PROJECT_ROOT
from fakes.terminal import end, read_until

ROOT = PROJECT_ROOT
IEUM = [sys.executable, "-m", "bot.cli"]


def env(tmp_path, **extra):
    return {**os.environ, "IEUM_DATA_DIR": str(tmp_path), "IEUM_USER": "tester", **extra}


def test_ask_json_contract(tmp_path):
    r = subprocess.run([*IEUM, "ask", "--json"], input="희망이음 개통일\n고마워요\n\n", capture_output=True,
                       text=True, cwd=ROOT, env=env(tmp_path), timeout=60)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 3
    a, b, c = rows
    assert set(a) >= {"query", "answered", "answer", "entry_id", "score", "alternatives"}
    assert a["answered"] and "9월 6일" in a["answer"] and a["entry_id"]
    assert all({"entry_id", "title", "answer", "score"} <= set(alt) for alt in a["alternatives"])
    assert not b["answered"] and b["answer"] is None and b["entry_id"] is None
    assert c["query"] == "" and not c["answered"]


def test_ask_json_thousands_of_lines_in_one_process(tmp_path):
    questions = ["희망이음 주소", "중단 기간", "점심 뭐 먹지", "ㅅㄱㄱㅂㄱ 메뉴"] * 750
    t = time.monotonic()
    r = subprocess.run([*IEUM, "ask", "--json"], input="\n".join(questions) + "\n", capture_output=True,
                       text=True, cwd=ROOT, env=env(tmp_path), timeout=120)
    assert r.returncode == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["query"] for row in rows] == questions
    assert time.monotonic() - t < 60


def test_ask_survives_bad_bytes(tmp_path):
    data = "희망이음 주소\n".encode() + b"\xff\xfe\x00garbage\n" + "중단 기간\n".encode("utf-16")
    r = subprocess.run([*IEUM, "ask", "--json"], input=data, capture_output=True, cwd=ROOT, env=env(tmp_path),
                       timeout=60)
    assert r.returncode == 0
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert rows[0]["answered"]
    assert not rows[1]["answered"]


def test_ask_for_a_person(tmp_path):
    r = subprocess.run([*IEUM, "ask", "시스템 중단 기간"], capture_output=True, text=True, cwd=ROOT,
                       env=env(tmp_path), timeout=60)
    assert "8월 31일(수) 18:00" in r.stdout
    r = subprocess.run([*IEUM, "ask", "점심 메뉴 추천"], capture_output=True, text=True, cwd=ROOT,
                       env=env(tmp_path), timeout=60)
    assert "질의하기" in r.stdout


def test_piped_chat_answers_and_exits_at_end_of_input(tmp_path):
    r = subprocess.run([*IEUM, "chat"], input="희망이음 주소 알려줘\n안녕하세요\n", capture_output=True, text=True,
                       cwd=ROOT, env=env(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "ERROR" not in r.stderr  # e.g. a tick racing the store's close
    assert "ssis.go.kr" in r.stdout
    assert "안녕하세요! 희망이음 전환 도우미" in r.stdout
    assert "[1] 예" in r.stdout


def test_numbered_choices_press_buttons(kb_services):
    out = StringIO()
    con = Console(kb_services, StringIO("시스템 중단 기간\n3\n2\n"), out, user="tester")
    con.run()
    text = out.getvalue()
    assert "8월 31일" in text
    # 다른 답변 보기: one numbered choice between the alternatives, not two answers with their own buttons
    more = text.split("다른 답변 후보입니다")[1]
    assert "[1] " in more and "[2] " in more and "[5]" not in more.split("\n\n")[0]
    assert more.count("[3] 다른 답변 보기") == 1  # [2] opened the second alternative with its own buttons


def test_feedback_is_stored(kb_services):
    out = StringIO()
    Console(kb_services, StringIO("희망이음 주소\n1\n"), out, user="tester").run()
    assert "다행" in out.getvalue()
    rows = list(kb_services.store.db["answer_feedback"].rows)
    assert len(rows) == 1 and rows[0]["helpful"] == 1 and rows[0]["user"] == "tester"


@contextmanager
def _on_a_terminal(tmp_path, *args):
    """`ieum ARGS` on a pseudo-terminal: (pid, fd); killed and closed at the end."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: ieum on a real terminal
        os.chdir(ROOT)
        os.execve(sys.executable, [*IEUM, *args], env(tmp_path, LANG="C.UTF-8", TERM="dumb"))
    try:
        yield pid, fd
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.close(fd)


def test_interactive_chat_in_a_pseudo_terminal(tmp_path):
    with _on_a_terminal(tmp_path, "chat") as (pid, fd):
        assert "궁금한 점을 입력하세요" in read_until(fd, "나> ")
        os.write(fd, "희망이음 주소\r".encode())
        screen = read_until(fd, "나> ")
        assert "ssis.go.kr" in screen and "[4] 질의하기" in screen
        assert end(pid, fd) == 0  # Ctrl-D


def test_ask_renders_markdown_for_the_terminal(tmp_path):
    # Piped: plain text, no literal *bold* or _italic_ markers; --json keeps the markdown as it is.
    r = subprocess.run([*IEUM, "ask", "희망이음 개통일"], capture_output=True, text=True, cwd=ROOT,
                       env=env(tmp_path), timeout=60)
    assert "9월 6일(화) 09:00" in r.stdout and "*" not in r.stdout and "_이미" not in r.stdout
    r = subprocess.run([*IEUM, "ask", "--json", "희망이음 개통일"], capture_output=True, text=True, cwd=ROOT,
                       env=env(tmp_path), timeout=60)
    assert "*9월 6일(화) 09:00*" in json.loads(r.stdout)["answer"]
    # On a terminal: ANSI bold.
    with _on_a_terminal(tmp_path, "ask", "희망이음 개통일") as (pid, fd):
        screen = read_until(fd, "\x1b[1m9월 6일(화) 09:00\x1b[0m")
        assert "\x1b[1m9월 6일(화) 09:00\x1b[0m" in screen and "*" not in screen
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
