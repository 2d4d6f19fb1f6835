"""The `ieum` command: chat, ask, kb, serve, and the subcommands feature modules register."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.cli import backup, console, inquiries, privacy, reminders, serve
from bot.cli.common import _settings, build_services, words  # noqa: F401  (build_services: for callers)
from bot.core.config import ConfigError, Settings
from bot.infra.businesshours import PolicyError
from bot.knowledge.base import KnowledgeError
from bot.reminders.service import check_knowledge as check_reminders

# The subcommands beyond chat, ask, run and kb: each module's `register_cli(subparsers)` adds its own.
COMMANDS = (inquiries.register_cli, reminders.register_cli, serve.register_cli, backup.register_cli,
            privacy.register_cli, console.register_cli)


def _read_lines(stream) -> "iter[str]":
    # Questions arrive from pipes in any state: undecodable bytes become U+FFFD rather than a crash.
    data = stream.buffer if hasattr(stream, "buffer") else None
    if data is None:
        yield from (line.rstrip("\n") for line in stream)
        return
    for raw in data:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def live_services(args):
    """The services every entry point answers from: the knowledge files plus the store's live state
    (milestones set with `ieum schedule set`, FAQ entries promoted from inquiries), built the way the chat
    and the server build them. A data directory without a database has no state yet, and a question
    does not create one."""
    from bot.services import build
    from bot.infra.store import Store

    settings = _settings(args)
    return build(settings, store=None if settings.db_path.exists() else Store(":memory:"))


def cmd_ask(args) -> int:
    from handlers.answers import result_json, result_text

    from bot.surfaces.console.adapter import for_terminal

    tty = sys.stdout.isatty()
    services = live_services(args)
    engine, templates = services.engine, services.templates
    try:
        if args.question:
            question = " ".join(args.question)
            result = engine.answer(question)
            if args.json:
                print(json.dumps(result_json(result, templates), ensure_ascii=False))
            else:
                print(for_terminal(result_text(result, templates), tty=tty))
            return 0
        out = sys.stdout
        for line in _read_lines(sys.stdin):
            result = engine.answer(line)
            if args.json:
                out.write(json.dumps(result_json(result, templates), ensure_ascii=False) + "\n")
            else:
                out.write(for_terminal(result_text(result, templates), tty=tty) + "\n\n")
            out.flush()
        return 0
    finally:
        services.close()


def cmd_chat(args) -> int:
    from bot.surfaces.console.adapter import run_console
    from bot.infra.scheduler import start

    services = build_services(args)
    # Reminders fire in the terminal too, so a rehearsal (IEUM_NOW=…) shows them arrive.
    scheduler = start(services)
    try:
        return run_console(services, stdin=sys.stdin, stdout=sys.stdout)
    finally:
        scheduler.shutdown(wait=True)  # let a running tick finish before the store closes
        services.close()


def cmd_kb(args) -> int:
    from bot.knowledge.base import KnowledgeError, load_knowledge
    from bot.knowledge.checking import check

    if args.kb_command == "export":
        # What the engine answers from: the files' entries and the promoted ones, rendered with live dates.
        services = live_services(args)
        try:
            for e in services.engine.entries.values():
                print(json.dumps({"id": e.id, "title": e.title, "questions": e.questions,
                                  "answer": services.templates.render_answer(e), "tags": e.tags,
                                  "source": e.source, "kind": e.kind}, ensure_ascii=False))
        finally:
            services.close()
        return 0
    settings = _settings(args)
    try:
        kb = load_knowledge(settings.knowledge, extra=settings.extra_knowledge)
    except KnowledgeError as e:
        print(words("error", message=e), file=sys.stderr)
        return 1
    if args.kb_command == "check":
        problems = check(kb)
        problems.extend(check_reminders(kb))  # the reminder rules are knowledge too
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(words("kb_problems", n=len(problems)), file=sys.stderr)
            return 1
        print(words("kb_ok", entries=len(kb.entries), synonyms=len(kb.synonyms), milestones=len(kb.milestones),
                    categories=len(kb.category_paths()), types=len(kb.types)))
        return 0
    return 2


def cmd_run(args) -> int:
    """`make run`: Slack when its tokens are set, else the terminal chat."""
    settings = _settings(args)
    if settings.slack_enabled:
        from bot.http import main as serve_http

        return serve_http(settings)
    return cmd_chat(args)


def cmd_keygen(args) -> int:
    from bot.core.privacy import generate_key

    print(generate_key())
    print(words("keygen_note"), file=sys.stderr)
    return 0


# Commands that never open the data directory: no start-up check for them.
NO_DATA_COMMANDS = {"ask", "kb", "keygen"}
SQLITE_MAGIC = b"SQLite format 3\x00"


class StartupError(RuntimeError):
    """The bot cannot start with this data directory or key (one Korean line: what is wrong, what to do)."""


def startup_check(settings: Settings, *, database: bool = True) -> None:
    """Check the data directory, the database file and the key before anything is written (no key file,
    no database file, no WAL): a start-up failure leaves the data directory exactly as it was."""
    import os
    import sqlite3

    from bot.core.privacy import key_problem

    data = settings.data_dir
    if data.exists() and not data.is_dir():
        raise StartupError(words("data_dir_is_file", path=data))
    if data.is_dir() and not os.access(data, os.W_OK | os.X_OK):
        raise StartupError(words("data_dir_not_writable", path=data))
    db = settings.db_path
    if not database or not db.exists():
        return
    if not db.is_file():
        raise StartupError(words("db_not_file", path=db))
    try:
        with open(db, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise StartupError(words("db_unreadable", path=db, reason=e.strerror)) from None
    if head and head != SQLITE_MAGIC:
        raise StartupError(words("db_not_sqlite", path=db))
    try:
        problem = key_problem(settings, db)
    except sqlite3.DatabaseError:
        raise StartupError(words("db_corrupt", path=db)) from None
    if problem:
        raise StartupError(problem)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ieum", description="이음: 희망이음 전환 헬프데스크 도우미")
    p.add_argument("--knowledge", help="knowledge directory, or a plain FAQ file (.jsonl/.csv/.xlsx)")
    sub = p.add_subparsers(dest="command")

    ask = sub.add_parser("ask", help="answer a question (or one per line on stdin)")
    ask.add_argument("question", nargs="*")
    ask.add_argument("--json", action="store_true", help="one JSON object per line")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="the terminal chat")
    chat.set_defaults(func=cmd_chat)

    run = sub.add_parser("run", help="Slack when its tokens are set, the terminal chat otherwise")
    run.set_defaults(func=cmd_run)

    keygen = sub.add_parser("keygen", help="print a new encryption key for IEUM_SECRET_KEY")
    keygen.set_defaults(func=cmd_keygen)

    kb = sub.add_parser("kb", help="the knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_sub.add_parser("check", help="validate knowledge/")
    exp = kb_sub.add_parser("export", help="every entry as JSON lines")
    exp.add_argument("--json", action="store_true", default=True)
    kb.set_defaults(func=cmd_kb)

    for register in COMMANDS:
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    parser = build_parser()
    args = parser.parse_args(argv)
    from bot.infra.logs import setup as setup_logging

    setup_logging(logging.WARNING)  # JSON lines off a terminal, personal data masked
    if not getattr(args, "func", None):
        args.func = cmd_run
    from bot.core.privacy import KeyError_, KeyMismatch
    from bot.infra.store import StoreError

    try:
        if args.command not in NO_DATA_COMMANDS:
            # `restore` replaces the database, so only the directory is checked (the backup's key is
            # checked by the command itself)
            startup_check(_settings(args), database=args.command != "restore")
        # Subcommands may be given --knowledge after the subcommand name too; the parent option wins.
        return args.func(args) or 0
    except (StartupError, StoreError, KeyError_, KeyMismatch) as e:
        print(words("cannot_start", message=e), file=sys.stderr)
        return 2
    except (ConfigError, PolicyError) as e:
        print(words("config_error", message=e), file=sys.stderr)
        return 2
    except KnowledgeError as e:
        print(words("knowledge_error", message=e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
