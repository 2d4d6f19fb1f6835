"""Routes an `Incoming` to the handler that owns it.

The handler modules below register their actions and commands in `handlers.registry` when imported;
anything else is a question for the answer engine.
"""
from __future__ import annotations

import logging
import re

from bot.core.messages import Incoming, Reply
# the handler modules, in this order; importing them registers their actions and commands
from handlers import answers, inquiries, privacy, triage, reminders, threads, console, desk  # noqa: F401  # isort: skip
from handlers.answers import answer_question
from handlers.common import words
from bot.infra.people import remember
from handlers.registry import ACTIONS, COMMANDS, PATTERNS, Handler, action, command, command_key  # noqa: F401

log = logging.getLogger(__name__)


class UnknownAction(LookupError):
    """A button names an action no handler owns."""


def dispatch(incoming: Incoming, services) -> list[Reply]:
    """The single entry point every adapter calls."""
    if incoming.user_name:
        try:
            remember(services, incoming.user, incoming.user_name)
        except Exception as e:  # a name is nice to have: never a reason not to answer
            log.info("people: name not recorded: %s", type(e).__name__)
    try:
        replies = _route(incoming, services)
    except Exception as e:
        observe(services, incoming, error=True)
        kind = storage_failure(e)
        if kind is None or incoming.form is not None:
            if kind is not None:  # a form submission: the surface keeps the form open with its own error
                log.error("저장 실패: 데이터베이스에 쓸 수 없어 제출을 처리하지 못했습니다 (%s). %s", kind, _hint(e))
            raise
        log.error("저장 실패: 데이터베이스에 쓸 수 없습니다 (%s). %s", kind, _hint(e))
        return [Reply(words(services, "storage_error"), kind="error", private=True, thread=incoming.thread)]
    observe(services, incoming, replies)
    return replies


STORAGE_HINT = "디스크 여유 공간과 데이터 디렉터리의 쓰기 권한을 확인하세요."
PG_HINT = "PostgreSQL 서버의 상태와 디스크, IEUM_DATABASE_URL의 계정 권한을 확인하세요."


def storage_failure(error: BaseException) -> str | None:
    """'디스크 공간 부족' / '읽기 전용' / '입출력 오류' / '연결 끊김' when `error` is the store (SQLite or
    PostgreSQL) failing to write or to answer, else None."""
    import sqlite3

    if not isinstance(error, sqlite3.Error):
        return _pg_failure(error)
    code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(error).lower()
    if code == 13 or "disk is full" in text:
        return "디스크 공간 부족"
    if code == 8 or "readonly" in text or "read-only" in text:
        return "읽기 전용"
    if code in (10, 14) or "disk i/o" in text or "unable to open" in text:
        return "입출력 오류"
    return None


def _hint(error: BaseException) -> str:
    import sqlite3

    return STORAGE_HINT if isinstance(error, sqlite3.Error) else PG_HINT


def _pg_failure(error: BaseException) -> str | None:
    """PostgreSQL's counterparts: 53100 (disk full), 25006 (a read-only transaction: a standby, or
    default_transaction_read_only), class 58 (I/O), and any other OperationalError: the connection lost or
    refused (the server stopped, restarted or unreachable, the pool timed out waiting for one, too many
    connections)."""
    try:
        import psycopg
    except ImportError:  # SQLite-only installs
        return None
    if not isinstance(error, psycopg.Error):
        return None
    if isinstance(error, psycopg.errors.DiskFull):
        return "디스크 공간 부족"
    if isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
        return "읽기 전용"
    if (error.sqlstate or "").startswith("58"):
        return "입출력 오류"
    if isinstance(error, psycopg.OperationalError):
        return "연결 끊김"
    return None


def _route(incoming: Incoming, services) -> list[Reply]:
    if incoming.action:
        fn = ACTIONS.get(incoming.action)
        if fn is None:
            # the name comes from the client (a button can be edited): logged only when it looks like one
            name = incoming.action if re.fullmatch(r"[a-z][a-z0-9_.]{0,40}", incoming.action) else "(invalid name)"
            log.warning("unknown action %s", name)
            return [Reply(words(services, "unknown_button"), kind="error", private=True)]
        return fn(incoming, services)
    fn = COMMANDS.get(command_key(incoming.text))
    if fn is not None:
        return fn(incoming, services)
    text = (incoming.text or "").strip()
    for regex, fn in PATTERNS:
        if regex.fullmatch(text):
            return fn(incoming, services)
    return answer_question(incoming, services)


def observe(services, incoming, replies=None, *, error: bool = False) -> None:
    """Count one dispatch (never raises; a process without metrics ignores it)."""
    try:
        m = getattr(services, "metrics", None)
        if m is None:
            return
        if error:
            m.failed(incoming)
        else:
            m.observe(incoming, replies)
    except Exception as e:  # metrics must never break a reply
        log.debug("metrics: observe failed: %s", type(e).__name__)
