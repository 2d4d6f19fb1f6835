"""Every command in README.md's `sh` blocks runs as written (the new user's first steps), and `make run` shows the
bot, not the build."""
import os
import re
import shutil
import subprocess

import pytest

from bot.core.config import PROJECT_ROOT

ROOT = PROJECT_ROOT
VENV_IEUM = ROOT / ".venv" / "bin" / "ieum"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()  # the README's comments after two spaces
            if line and not line.startswith("#"):
                out.append(line)
    return out


def test_the_readme_has_the_commands_a_new_user_tries():
    commands = readme_commands()
    assert ".venv/bin/ieum ask --json < examples/questions.txt" in commands
    assert (ROOT / "examples" / "questions.txt").is_file()
    assert any(c.startswith("ieum schedule list") for c in commands)


needs_venv = pytest.mark.skipif(not VENV_IEUM.exists() or shutil.which("make") is None,
                                reason="the README's commands use .venv/bin/ieum and make (make test sets them up)")


@needs_venv
@pytest.mark.parametrize("command", [c for c in readme_commands() if c != "make test"])  # make test runs this
def test_every_readme_command_runs_as_written(command, tmp_path):
    env = {**os.environ, "IEUM_DATA_DIR": str(tmp_path), "IEUM_USER": "reader",
           "PATH": f"{VENV_IEUM.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("IEUM_NOW", None)
    r = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    if "make run" in command:  # the bot, not the build: no echoed command line, no installer's banner
        assert ".venv/bin/ieum run" not in r.stdout + r.stderr
        assert not re.search(r"setuptools|Obtaining|Successfully installed", r.stdout + r.stderr)
    if command.startswith("printf"):
        assert "9월 6일" in r.stdout  # 희망이음 언제 열려요
        assert "그 이야기는 잘 모르겠어요" in r.stdout  # 점심 뭐 먹지: small talk, not the inquiry offer
    if "--json" in command and "ask" in command:
        import json

        rows = [json.loads(line) for line in r.stdout.splitlines()]
        questions = (ROOT / "examples" / "questions.txt").read_text(encoding="utf-8").splitlines()
        assert [row["query"] for row in rows] == questions
        assert sum(row["answered"] for row in rows) >= len(questions) - 1


def test_schedule_list_says_why_it_is_empty(tmp_path):
    import sys

    env = {**os.environ, "IEUM_DATA_DIR": str(tmp_path), "IEUM_NOW": "2026-11-30T10:00:00+09:00"}
    r = subprocess.run([sys.executable, "-m", "bot.cli", "schedule", "list"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0
    assert "예정된 알림이 없습니다" in r.stdout and "2022년" in r.stdout and "IEUM_NOW=2022-" in r.stdout
    env["IEUM_NOW"] = "2022-08-29T08:59:00+09:00"
    r = subprocess.run([sys.executable, "-m", "bot.cli", "schedule", "list"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert "예정된 알림이 없습니다" not in r.stdout and "8월 29일(월) 09:00" in r.stdout
