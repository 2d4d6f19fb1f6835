"""Logging for the bot: JSON lines when stderr is not a terminal (collectors parse them), plain text on a
terminal, and personal data masked in everything that is written (a last line of defence: code should
never log it in the first place).

    from bot.infra.logs import setup
    setup("INFO")            # replaces the root logger's handlers

Masking uses `bot.privacy`'s detector on the final text of each record, including exception tracebacks
(an exception's message can carry user input).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import IO

from bot.core.privacy import find_personal_data, mask

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}


# Line breaks that JSON leaves raw with ensure_ascii=False but line-based readers (str.splitlines, many
# collectors) split on: escaped, so that one record stays one line.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


# How repr() and JSON write an invisible or control character: `\x01`, `\xa0`, `\u2060`. Their last hex
# digits would glue to a number right after them, which the guard then reads as a longer, other number
# (`\x01800101-1234567` as 01800101-…); a third-party library that logs a request's repr would leak it.
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


def _findings(text: str):
    if "\\" in text:  # the escapes read as spaces (a separator), on a copy of the same length
        return find_personal_data(_ESCAPE.sub(lambda m: " " * len(m.group()), text))
    return find_personal_data(text)


def redact(text: str) -> str:
    # one scan: text without personal data comes back as it was
    return mask(text, findings=_findings(text)) if text else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and exc / extra fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string still gets logged
            message = str(record.msg)
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(message),
        }
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                # anything but a number is written as text (json's default=str), so it is masked as text
                out[k] = v if v is None or isinstance(v, (int, float)) else redact(v if isinstance(v, str) else str(v))
        return json.dumps(out, ensure_ascii=False, default=str).translate(_LINE_BREAKS)


class PlainFormatter(logging.Formatter):
    """`time level logger: message`, masked."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingHandlerFilter(logging.Filter):
    """Masks a record's message in place, for handlers whose formatter is not ours (e.g. pytest's caplog).

    The handler `setup()` installs does not need it: its formatters mask the whole written text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        found = _findings(message)
        if found:
            record.msg, record.args = mask(message, findings=found), None
        return True


def setup(level: str | int = "INFO", *, stream: IO | None = None, json_lines: bool | None = None) -> logging.Handler:
    """Configure the root logger (replacing its handlers); JSON unless `stream` is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if json_lines is None:
        try:
            json_lines = not stream.isatty()
        except (AttributeError, ValueError):
            json_lines = True
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())  # both mask what they write
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else getattr(logging, str(level).upper(), logging.INFO))
    # chatty libraries stay at WARNING unless asked for DEBUG
    if root.level > logging.DEBUG:
        for name in ("urllib3", "asyncio", "apscheduler.executors.default"):
            logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    # Libraries that log what they send and receive (request bodies, responses, payloads) at DEBUG: the
    # assignee's 대상자 정보, a re-shown form or a relayed message would be written out in full, and
    # masking only catches what looks like a number. Their DEBUG output is never emitted, at any level.
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
    # The Agents SDK logs a whole invalid activity (its text included) with a traceback at ERROR; the Teams
    # adapter refuses such an activity with 400 and logs its own line without the body.
    logging.getLogger("microsoft_agents.activity.activity").setLevel(logging.CRITICAL)
    return handler


# Loggers of third-party clients and frameworks that log request or response bodies at DEBUG.
BODY_LOGGERS = ("slack_sdk", "slack_bolt", "aiohttp.client", "urllib3", "msal", "microsoft_agents", "azure",
                "requests")
