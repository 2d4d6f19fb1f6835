"""The terminal chat: the same handlers as Slack and Teams, with numbered choices for buttons.

Works interactively (history through readline, Ctrl-D to quit) and scripted
(`printf '질문\\n' | ieum chat` prints the answers and exits at the end of input).
"""
from __future__ import annotations

import getpass
import re
import sys
import threading
from typing import TextIO

from handlers.router import dispatch

from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.surfaces.base import bundled_text

QUIT_WORDS = {"종료", "quit", "exit", "/quit", "/exit"}
CANCEL_WORDS = {"취소", "cancel", "/cancel"}
END_OF_FIELD = {"", "."}  # a multi-line field ends with an empty line or a lone dot
MAX_BUTTON_DIGITS = 2  # "1".."99" press buttons; a ten-digit receipt number is a command, not a button



def for_terminal(text: str, *, tty: bool) -> str:
    """Slack-style markdown for a terminal: *bold* in ANSI bold on a tty, plain when piped; _italic_ plain."""
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", text)
    if tty:
        return re.sub(r"\*([^*\n]+)\*", "\033[1m\\1\033[0m", text)
    return re.sub(r"\*([^*\n]+)\*", r"\1", text)

class _Input:
    """Lines from a terminal (with readline) or a pipe (decoded leniently)."""

    def __init__(self, stdin: TextIO, stdout: TextIO):
        self.stdin, self.stdout = stdin, stdout
        self.tty = stdin.isatty() and stdout.isatty()
        self.prompt: str | None = None  # the prompt input() is waiting at, to redraw after an interruption
        if self.tty:
            try:
                import readline  # noqa: F401  (history and line editing for input())
            except ImportError:
                pass

    def read(self, prompt: str) -> str | None:
        if self.tty:
            self.prompt = prompt
            try:
                return input(prompt)
            except EOFError:
                return None
            finally:
                self.prompt = None
        raw = self.stdin.buffer.readline() if hasattr(self.stdin, "buffer") else self.stdin.readline()
        if not raw:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        return raw.rstrip("\r\n")


class Console:
    def __init__(self, services, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, *, user: str | None = None):
        self.services = services
        self.out = stdout
        self.input = _Input(stdin, stdout)
        self.user = user or services.settings.extra.get("IEUM_USER") or _login()  # IEUM_USER, read by config
        # The buttons last shown, numbered once: a number keeps meaning the same button until new ones appear.
        self.choices: list[Choice] = []
        self._lock = threading.Lock()  # reminders arrive from the scheduler's thread
        outbox = getattr(services, "outbox", None)
        if outbox is not None:
            outbox.register_sender("console", self.deliver)

    # ---- output ---------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def deliver(self, target: str, reply: Reply) -> None:
        """The outbox's sender for the terminal (reminders, news): printed above the prompt, which is redrawn."""
        if reply.edit:
            return  # a terminal has no earlier post to replace
        text = "[알림] " + self._plain(reply.text)
        with self._lock:
            prompt = self.input.prompt
            if prompt is None:
                self.out.write(text + "\n\n")
            else:  # the user is typing: clear their line, print, then give them back the prompt and what they typed
                self.out.write("\r\033[K" + text + "\n\n" + prompt + _line_buffer())
            self.out.flush()

    def _plain(self, text: str) -> str:
        return for_terminal(text, tty=self.input.tty)

    def show(self, replies: list[Reply]) -> None:
        replies = _alternatives_as_choice(replies)
        shown: list[Choice] = []  # every button of this batch, numbered on from the previous reply's
        for reply in replies:
            if reply.edit:
                continue  # a terminal has no earlier post to replace
            if reply.form is not None:
                self.walk_form(reply.form, reply.text)
                continue
            prefix = ""
            if reply.to_user and reply.to_user != self.user:
                prefix = f"[알림 → {reply.to_user}] "
            elif reply.to_conversation:
                prefix = f"[{reply.to_conversation} 채널] "
            self.say(prefix + self._plain(reply.text))
            if reply.choices and not prefix:
                first = len(shown) + 1
                shown += reply.choices
                self.say("  " + "  ".join(f"[{i}] {c.label}" for i, c in enumerate(reply.choices, first)))
            self.say()
        if shown:
            self.choices = shown

    # ---- input ----------------------------------------------------------------------------

    def incoming(self, **kw) -> Incoming:
        return Incoming(user=self.user, user_name=self.user, conversation="console", surface="console", **kw)

    def pressed(self, text: str) -> Choice | None:
        """The button a line names: its number as last shown, or its label ("FAQ 등록")."""
        if text.isdigit() and len(text) <= MAX_BUTTON_DIGITS:
            n = int(text)
            return self.choices[n - 1] if 1 <= n <= len(self.choices) else None
        key = _label_key(text)
        return next((c for c in self.choices if _label_key(c.label) == key), None) if key else None

    def handle_line(self, line: str) -> None:
        c = self.pressed(line.strip())
        if c is not None:
            self.show(dispatch(self.incoming(action=c.action, value=c.value), self.services))
            return
        self.show(dispatch(self.incoming(text=line), self.services))

    def run(self) -> int:
        if self.input.tty:
            self.say(self.banner())
            self.say()
        while True:
            line = self.input.read("나> ")
            if line is None:
                if self.input.tty:
                    self.say()
                return 0
            if not line.strip():
                continue
            if line.strip().lower() in QUIT_WORDS:
                return 0
            try:
                self.handle_line(line)
            except Exception:  # the chat must survive any single failure
                import logging

                logging.getLogger(__name__).exception("console handler failed")
                self.say(_words("failed") + "\n")

    def banner(self) -> str:
        settings = self.services.settings
        rehearsal = None
        if settings.now is not None:
            from bot.core.dates import kdatetime

            now = self.services.clock.now()
            rehearsal = f"{now.year}년 {kdatetime(now)}"
        return bundled_text("console_banner", user=self.user, rehearsal=rehearsal,
                            agent=self.services.inquiries.is_agent(self.user))

    # ---- forms ----------------------------------------------------------------------------

    def walk_form(self, form: Form, intro: str = "") -> None:
        """Ask each field in turn, submit, and re-ask the fields the handler rejected."""
        if intro:
            self.say(self._plain(intro))
        self.say(_words("form_title", title=form.title))
        values: dict = {f.name: f.initial for f in form.fields}
        todo = list(form.fields) if not form.errors else [f for f in form.fields if f.name in form.errors]
        if form.errors:  # every problem at once, then each field in turn
            labels = {f.name: f.label for f in form.fields}
            self.say(_words("form_errors", n=len(form.errors)))
            for name, message in form.errors.items():
                self.say(f"  • {labels.get(name, name)}: {message}")
        for f in todo:
            if f.name in form.errors:
                self.say(f"⚠ {f.label}: {form.errors[f.name]}")
            current = values.get(f.name)
            if f.kind == "files" and f.name in form.errors:
                current = None  # the refused files are not kept: Enter files without them
                self.say("  " + _words("files_again"))
            value = self.ask_field(f, current)
            if value is _CANCEL:
                self.say(_words("cancelled") + "\n")
                return
            values[f.name] = value
            if f.suggest_action and value:
                self.show(dispatch(self.incoming(action=f.suggest_action, value=str(value)), self.services))
        self.show(dispatch(self.incoming(action=form.action, value=form.state, form=values), self.services))

    def ask_field(self, f: Field, current):
        marks = (" (필수)" if f.required else "") + (" 🔒비공개" if f.private else "")
        if f.hint:
            self.say(f"  {f.hint}")
        if f.kind == "select":
            for i, (_, label) in enumerate(f.options, 1):
                self.say(f"  [{i}] {label}")
        default = ""
        if current not in (None, "", []):
            default = f" [{_show(current, f)}]"
        if f.kind == "textarea":
            self.say("  " + _words("multiline"))
        while True:
            prompt = f"{f.label}{marks}{default}> "
            if not self.input.tty:
                self.say(prompt)  # scripted runs still show which field a line answered
            line = self.input.read(prompt)
            if line is None or line.strip() in CANCEL_WORDS:
                return _CANCEL
            if f.kind == "textarea" and line.strip() not in END_OF_FIELD:
                more = self.read_lines(f)
                if more is _CANCEL:
                    return _CANCEL
                line = "\n".join([line.rstrip(), *more]).strip()
            line = line.strip()
            if not line:
                if current not in (None, "") or not f.required:
                    return current
                self.say("  " + _words("required"))
                continue
            if f.kind == "select":
                chosen = _pick(line, f.options)
                if chosen is None:
                    self.say("  " + _words("pick"))
                    continue
                return chosen
            if f.kind == "boolean":
                if line in ("예", "네", "y", "yes", "1", "ㅇ"):
                    return True
                if line in ("아니요", "아니오", "n", "no", "0", "ㄴ"):
                    return False
                self.say("  " + _words("yes_no"))
                continue
            if f.kind == "files":
                from bot.inquiries.service import AttachmentError, read_local_file

                try:  # the bytes are read here, on the user's own machine, once
                    return [read_local_file(p) for p in re.split(r"\s*,\s*", line) if p]
                except AttachmentError as e:
                    self.say(f"  {e}")
                    continue
            if f.max_length and len(line) > f.max_length:
                self.say("  " + _words("too_long", limit=f.max_length, n=len(line)))
                continue
            return line

    def read_lines(self, f: Field):
        """The lines after a multi-line field's first, up to an empty line or '.'."""
        lines: list[str] = []
        while True:
            prompt = _words("continued", label=f.label) + "> "
            if not self.input.tty:
                self.say(prompt)
            line = self.input.read(prompt)
            if line is None or line.strip() in END_OF_FIELD:
                return lines
            if line.strip() in CANCEL_WORDS:
                return _CANCEL
            lines.append(line.rstrip())


def _words(word: str, **data) -> str:
    """One of the terminal's own sentences (templates/console_words.j2 of this package)."""
    return bundled_text("console_words", word=word, **data)


class _Cancel:
    pass


_CANCEL = _Cancel()


def _show(value, f: Field) -> str:
    if f.kind == "boolean":
        return "예" if value else "아니요"
    if f.kind == "select":
        return next((label for v, label in f.options if v == value), str(value))
    if isinstance(value, list):
        return ", ".join(a.get("name", "") if isinstance(a, dict) else str(a) for a in value)
    return str(value)


def _pick(line: str, options: list[tuple[str, str]]) -> str | None:
    if line.isdigit() and 1 <= int(line) <= len(options):
        return options[int(line) - 1][0]
    for value, label in options:
        if line in (value, label):
            return value
    key = line.replace(" ", "")
    hits = [v for v, label in options if label.replace(" ", "").endswith(key) or v.replace(" ", "").endswith(key)]
    return hits[0] if len(hits) == 1 else None


def _label_key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _line_buffer() -> str:
    try:
        import readline

        return readline.get_line_buffer()
    except Exception:  # no readline: the prompt alone is redrawn
        return ""


def _alternatives_as_choice(replies: list[Reply]) -> list[Reply]:
    """Several answers at once (다른 답변 보기) become one numbered choice between them, as a terminal reads best."""
    answers = [r for r in replies if r.kind == "answer" and (r.data or {}).get("entry_id")]
    if len(answers) < 2 or len(answers) != len(replies):
        return replies
    return [Reply(bundled_text("console_alternatives"), kind="message",
                  choices=[Choice(r.data["title"][:60], "answer.show", r.data["entry_id"]) for r in answers])]


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "console"


def run_console(services, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    return Console(services, stdin, stdout).run()
