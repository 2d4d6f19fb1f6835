"""Shared by the reliability suites (ops, hostile input, faults) and bench/soak.py: a Slack client that
signs like Slack, builders for the payloads a user produces (questions, clicks, inquiry submissions),
and database invariants (no lost, duplicate or half-written rows)."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from bot.core.config import DEFAULT_KNOWLEDGE, PROJECT_ROOT, Settings
from fakes.slack import (SECRET, FakeSlack, command_body, event_body, message_event, payload_body, post,  # noqa: F401
                        signed_headers)

AGENT = "UAGENT"
TRIAGE = "CTRIAGE"
CATEGORY = "전체업무 > ERP > 급여"
SUBJECT = "김철수 800101-1234567 010-2345-6789"
# Values that must never reach a log line or a channel message.
PERSONAL = ("800101-1234567", "8001011234567", "010-2345-6789", "01023456789")


def settings_for(data_dir: Path, fake, **kw) -> Settings:
    base = Settings(data_dir=Path(data_dir), knowledge=DEFAULT_KNOWLEDGE, slack_bot_token="xoxb-test",
                    slack_signing_secret=SECRET, slack_triage_channel=TRIAGE, slack_api_url=fake.api_url,
                    agents=(AGENT,), secret_key="cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4=")
    return replace(base, **kw)


def env_for(data_dir: Path, fake_api_url: str, **extra) -> dict:
    """The environment for `ieum serve` in a subprocess (same settings as `settings_for`)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IEUM_"))}
    env.update(IEUM_DATA_DIR=str(data_dir), SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_TRIAGE_CHANNEL=TRIAGE, SLACK_API_URL=fake_api_url, IEUM_AGENTS=AGENT,
               IEUM_SECRET_KEY="cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4=", IEUM_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def submission(user: str, *, title: str, content: str = "", subject: str = "", category: str = CATEGORY,
               kind: str = "사용법문의", public: bool = True, channel: str | None = None, view_id: str = "V1",
               action: str = "inquiry.submit", state: str = '{"q": ""}', urgent: bool = False) -> dict:
    """A view_submission payload for the inquiry modal, as Slack sends it."""
    def text(v):
        return {"type": "plain_text_input", "value": v}

    values = {
        "title": {"title": text(title)},
        "category": {"category": {"type": "static_select", "selected_option": {"value": category}}},
        "type": {"type": {"type": "static_select", "selected_option": {"value": kind}}},
        "urgent": {"urgent": {"type": "checkboxes", "selected_options": [{"value": "yes"}] if urgent else []}},
        "public": {"public": {"type": "checkboxes", "selected_options": [{"value": "yes"}] if public else []}},
        "content": {"content": text(content)},
        "subject_info": {"subject_info": text(subject)},
    }
    meta = json.dumps({"a": action, "s": state, "c": channel, "t": None}, ensure_ascii=False)
    return {"type": "view_submission", "user": {"id": user, "username": user.lower()}, "trigger_id": f"trig-{view_id}",
            "view": {"id": view_id, "hash": "h1", "type": "modal", "callback_id": "ieum_form",
                     "private_metadata": meta, "state": {"values": values}, "team_id": "T0001"}}


def form_submission(user: str, action: str, state: str, texts: dict[str, str], checks: dict[str, bool] | None = None,
                    *, view_id: str = "VF") -> dict:
    """A view_submission of any neutral form: text fields and checkboxes by name."""
    values = {k: {k: {"type": "plain_text_input", "value": v}} for k, v in texts.items()}
    for k, on in (checks or {}).items():
        values[k] = {k: {"type": "checkboxes", "selected_options": [{"value": "yes"}] if on else []}}
    meta = json.dumps({"a": action, "s": state, "c": None, "t": None}, ensure_ascii=False)
    return {"type": "view_submission", "user": {"id": user, "username": user.lower()}, "trigger_id": f"trig-{view_id}",
            "view": {"id": view_id, "hash": "h1", "type": "modal", "callback_id": "ieum_form",
                     "private_metadata": meta, "state": {"values": values}, "team_id": "T0001"}}


def click(user: str, action: str, value: str, *, channel: str = "D100", n: int = 0, ephemeral: bool = False) -> dict:
    """A block_actions payload: `user` clicked a button `action` carrying `value` (possibly edited by hand)."""
    ts = f"{time.time():.6f}"
    return {"type": "block_actions", "user": {"id": user, "username": user.lower()}, "trigger_id": f"trig-{ts}",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
            "channel": {"id": channel}, "message": {"type": "message", "ts": ts, "text": "x"},
            "actions": [{"type": "button", "action_id": f"{action}|{n}", "block_id": "ieum_actions_0",
                         "value": value, "text": {"type": "plain_text", "text": "x"}, "action_ts": ts}]}


class Client:
    """Signed requests to one bot's `/slack/events`."""

    def __init__(self, base_url: str, *, secret: str = SECRET):
        self.base = base_url.rstrip("/")
        self.secret = secret

    @property
    def url(self) -> str:
        return self.base + "/slack/events"

    def event(self, event: dict, *, event_id: str | None = None, retry: int | None = None, **kw):
        body = event_body(event, event_id=event_id)
        return post(self.url, body, signed_headers(body, content_type="application/json", retry=retry,
                                                   secret=self.secret, **kw))

    def ask(self, text: str, *, user: str = "U100", channel: str | None = None, event_id: str | None = None):
        channel = channel or "D" + user.lstrip("U")
        return self.event(message_event(text, user=user, channel=channel), event_id=event_id)

    def interact(self, payload: dict, **kw):
        body = payload_body(payload)
        return post(self.url, body, signed_headers(body, content_type="application/x-www-form-urlencoded",
                                                   secret=self.secret, **kw))

    def command(self, text: str, *, user: str = "U100", response_url: str = ""):
        body = command_body(text, user=user, response_url=response_url)
        return post(self.url, body, signed_headers(body, content_type="application/x-www-form-urlencoded",
                                                   secret=self.secret))

    def get(self, path: str, timeout: float = 10) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    """`ieum serve` in a subprocess on 127.0.0.1, its log in a file."""

    def __init__(self, data_dir: Path, fake, log: Path, *, launcher: Path | None = None, **env):
        """`launcher`: a script run instead of `python -m bot.cli serve` (e.g. fakes/teams_serve.py)."""
        self.data_dir, self.fake, self.log = data_dir, fake, log
        self.command = [str(launcher)] if launcher else ["-m", "bot.cli", "serve"]
        self.env = env_for(data_dir, fake.api_url, IEUM_TICK_SECONDS="1", IEUM_RECOVERY_SETTLE_SECONDS="1", **env)
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 40) -> "BotProcess":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, *self.command, "--host", "127.0.0.1",
                                      "--port", str(self.port)], cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=out)
        out.close()
        client = Client(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"bot exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if client.get("/healthz", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("bot did not become healthy")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---- invariants ---------------------------------------------------------------------------------------


def table_counts(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def check_invariants(db_path: Path, *, cipher=None) -> dict:
    """Problems found in the database: an empty "problems" list means nothing lost, doubled or half-written."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    problems: list[str] = []
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
        counter = conn.execute("SELECT value FROM inquiry_counter WHERE name='receipt'").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT id FROM inquiries ORDER BY id")]
        if ids and max(ids) > counter:
            problems.append(f"inquiry id {max(ids)} above the receipt counter {counter}")
        # every inquiry has its 'filed' event, exactly once; subject flag and subject row agree
        for n, filed in conn.execute("SELECT i.id, (SELECT count(*) FROM inquiry_events e WHERE e.inquiry_id=i.id"
                                     " AND e.kind='filed') FROM inquiries i"):
            if filed != 1:
                problems.append(f"inquiry {n}: {filed} 'filed' events")
        for n, has, rows in conn.execute("SELECT i.id, i.has_subject, (SELECT count(*) FROM inquiry_subjects s"
                                         " WHERE s.inquiry_id=i.id) FROM inquiries i"):
            if bool(has) != bool(rows):
                problems.append(f"inquiry {n}: has_subject={has} but {rows} subject rows")
        orphans = conn.execute("SELECT count(*) FROM inquiry_subjects WHERE inquiry_id NOT IN (SELECT id FROM inquiries)"
                               ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} subject rows without an inquiry")
        # status and timestamps agree
        for n, status, assignee, answer, completed in conn.execute(
                "SELECT id, status, assignee, answer, completed_at FROM inquiries"):
            if status == "조치완료" and not (answer and completed and assignee):
                problems.append(f"inquiry {n}: 조치완료 without answer/completed_at/assignee")
            if status == "조치중" and not assignee:
                problems.append(f"inquiry {n}: 조치중 without an assignee")
        # every triage step left its event, once: an assignee has one 'assigned' event, a status its events
        for n, status, assignee, assigned, started, answered, completed in conn.execute(
                "SELECT i.id, i.status, i.assignee,"
                " (SELECT count(*) FROM inquiry_events e WHERE e.inquiry_id=i.id AND e.kind='assigned'),"
                " (SELECT count(*) FROM inquiry_events e WHERE e.inquiry_id=i.id AND e.kind='started'),"
                " (SELECT count(*) FROM inquiry_events e WHERE e.inquiry_id=i.id AND e.kind='answered'),"
                " (SELECT count(*) FROM inquiry_events e WHERE e.inquiry_id=i.id AND e.kind='completed')"
                " FROM inquiries i"):
            if (assignee is not None) != (assigned >= 1) or assigned > 1:
                problems.append(f"inquiry {n}: assignee={assignee!r} with {assigned} 'assigned' events")
            if status == "조치완료" and (answered < 1 or completed != 1):
                problems.append(f"inquiry {n}: 조치완료 with {answered} answered / {completed} completed events")
            if status == "조치대기" and (started or completed):
                problems.append(f"inquiry {n}: 조치대기 with started/completed events")
        # the same submission (same requester, title, content) stored twice
        dups = conn.execute("SELECT requester, title, count(*) FROM inquiries WHERE parent_id IS NULL"
                            " GROUP BY requester, title, content HAVING count(*) > 1").fetchall()
        for requester, title, n in dups:
            problems.append(f"duplicate inquiry ({n}x) by {requester}")
        # outbox: at most one row per key is guaranteed by UNIQUE; nothing left half-sent forever
        stuck = conn.execute("SELECT count(*) FROM outbox WHERE status='sending' AND lease_until IS NULL").fetchone()[0]
        if stuck:
            problems.append(f"{stuck} outbox rows 'sending' without a lease")
        if cipher is not None:
            for n, token in conn.execute("SELECT inquiry_id, token FROM inquiry_subjects"):
                if not cipher.can_decrypt(token):
                    problems.append(f"inquiry {n}: subject info cannot be decrypted")
        counts = {"inquiries": len(ids), "receipt_counter": counter}
    finally:
        conn.close()
    return {"problems": problems, **counts}


def wait_until(predicate, timeout: float = 10.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


# ---- a fake Slack that misbehaves on request ------------------------------------------------------------


class FaultySlack(FakeSlack):
    """FakeSlack that misbehaves on request: for chosen methods answer 429 / 500, time out, send malformed
    JSON (for a number of calls or a number of seconds), or delay answers. Every call is still recorded."""

    def __init__(self):
        super().__init__()
        self.rules: list[dict] = []
        self.delays: dict[str, float] = {}

    def _take(self, method: str):
        now = time.monotonic()
        with self._lock:
            for rule in self.rules:
                if rule["method"] not in (method, "*"):
                    continue
                if rule.get("until") is not None and now > rule["until"]:
                    continue
                if rule.get("times") is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                return rule
        return None

    def chaos(self, method: str, mode: str, *, times: int | None = None, seconds: float | None = None, **kw):
        """mode: 429 | 500 | timeout (answer after `wait` s) | malformed; for `times` calls or `seconds`."""
        until = time.monotonic() + seconds if seconds is not None else None
        with self._lock:
            self.rules.append({"method": method, "mode": mode, "times": times, "until": until, **kw})

    def heal(self) -> None:
        with self._lock:
            self.rules.clear()
            self.delays.clear()

    def reset(self) -> None:
        super().reset()
        self.heal()

    async def _api(self, request):
        import asyncio

        from aiohttp import web

        method = request.match_info["method"]
        rule = self._take(method)
        delay = self.delays.get(method, 0.0)
        if rule is None and not delay:
            return await super()._api(request)
        args = await self._read_args(request)
        # a 429 / 500 is a refusal: nothing was posted (late and garbled answers did post)
        self._record(method, args, refused=rule is not None and rule["mode"] in ("429", "500"))
        if delay:
            await asyncio.sleep(delay)
        if rule is None:
            return web.json_response(self._answer(method, args))
        mode = rule["mode"]
        if mode == "429":
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(rule.get("retry_after", 1))})
        if mode == "500":
            return web.json_response({"ok": False, "error": "fatal_error"}, status=500)
        if mode == "timeout":
            await asyncio.sleep(rule.get("wait", 3))
            return web.json_response(self._answer(method, args))
        if mode == "malformed":
            return web.Response(text='{"ok": tru', content_type="application/json")
        raise ValueError(mode)
