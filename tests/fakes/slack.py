"""A fake Slack for tests and the bench: a Web API server on 127.0.0.1 that records every call and can be
told to fail (429 with Retry-After, 500), a `response_url` endpoint, and builders for requests signed
exactly like Slack's (events, slash commands, interactivity payloads)."""
from __future__ import annotations

import itertools
import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from fakes.loopback import LoopbackServer
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
BOT_USER = "UBOT"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    def __getitem__(self, key):
        return self.args[key]

    def get(self, key, default=None):
        return self.args.get(key, default)

    @property
    def everything(self) -> str:
        return json.dumps(self.args, ensure_ascii=False)


class FakeSlack(LoopbackServer):
    """The Web API at `{url}/api/`; `response_url`s at `{url}/response/<id>`."""

    backlog = 1024  # the bench opens 50 connections at once

    def __init__(self):
        super().__init__()
        self.calls: list[Call] = []
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        self.messages: dict[tuple[str, str], dict] = {}  # (channel, ts) -> message, for conversations.history
        self.users: dict[str, dict] = {}  # user id -> {"name", "display_name", "title"} for users.info
        self.ws_url: str | None = None
        self.files: dict[str, bytes] = {}  # file id -> bytes served at `file_url(id)` to the bot token only
        self.file_reads: list[str] = []  # the Authorization headers file downloads came with
        self.violations: list[str] = []
        self._ts = itertools.count(1)

    # -- control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def add_file(self, file_id: str, data: bytes) -> str:
        """Serve `data` as a Slack file would be (url_private); returns that URL."""
        self.files[file_id] = data
        return self.file_url(file_id)

    def file_url(self, file_id: str) -> str:
        return f"{self.url}/files-pri/{file_id}"

    def fail(self, method: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self.failures.setdefault(method, []).extend([(status, headers)] * times)

    def add_message(self, channel: str, ts: str, text: str, user: str = "U0AUTHOR", **extra) -> None:
        self.messages[(channel, ts)] = {"type": "message", "ts": ts, "text": text, "user": user, **extra}

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[["FakeSlack"], Any], timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate(self)
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; calls: {[c.method for c in self.calls]}")
                self._cond.wait(min(left, 0.05))

    def wait_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        return self.wait_for(lambda f: (lambda cs: cs if len(cs) >= n else None)(
            [c for c in f.calls if c.method == method]), timeout)

    def quiet(self, seconds: float = 0.3) -> None:
        """Wait until no call arrived for `seconds` (background work has settled)."""
        while True:
            n = len(self.calls)
            time.sleep(seconds)
            if len(self.calls) == n:
                return

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.users.clear()
            self.calls.clear()
            self.failures.clear()
            self.violations.clear()

    # -- server

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_get("/_calls/{method}", self._calls)
        app.router.add_get("/files-pri/{fid}", self._file)

    async def _file(self, request: web.Request) -> web.Response:
        # Slack serves url_private only to a request with a token (Authorization: Bearer xoxb-…)
        auth = request.headers.get("Authorization", "")
        self.file_reads.append(auth)
        if auth != "Bearer xoxb-test":
            return web.Response(status=403, text="not_authed")
        data = self.files.get(request.match_info["fid"])
        if data is None:
            return web.Response(status=404, text="file_not_found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _read_args(self, request: web.Request) -> dict:
        args: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(dict(urllib.parse.parse_qsl(raw.decode())))
        for k in ("blocks", "view", "attachments", "metadata"):
            if isinstance(args.get(k), str):
                try:
                    args[k] = json.loads(args[k])
                except ValueError:
                    pass
        auth = request.headers.get("Authorization", "")
        args["_token"] = auth.removeprefix("Bearer ")
        return args

    def _record(self, method: str, args: dict, *, refused: bool = False) -> None:
        with self._cond:
            if method == "chat.postMessage" and not refused:
                # posted the moment Slack reads the request, whether or not the caller lives to see the answer
                ts = f"{int(time.time())}.{next(self._ts):06d}"
                args["_ts"] = ts
                msg = {"type": "message", "ts": ts, "text": args.get("text"), "user": BOT_USER, "bot_id": "BBOT"}
                if args.get("thread_ts"):
                    msg["thread_ts"] = args["thread_ts"]
                if isinstance(args.get("metadata"), dict):
                    msg["metadata"] = args["metadata"]
                self.messages[(args.get("channel"), ts)] = msg
            self.calls.append(Call(method, args))
            self._check(method, args)
            self._cond.notify_all()

    def _check(self, method: str, args: dict) -> None:
        blocks = args.get("blocks") or (args.get("view") or {}).get("blocks") or []
        limit = 100 if "view" in args else 50
        if len(blocks) > limit:
            self.violations.append(f"{method}: {len(blocks)} blocks")
        if len(str(args.get("text") or "")) > 40000:
            self.violations.append(f"{method}: text too long")
        for b in blocks:
            t = (b.get("text") or {}).get("text") if isinstance(b.get("text"), dict) else None
            if t and len(t) > 3000:
                self.violations.append(f"{method}: section text {len(t)}")
            for el in b.get("elements") or []:
                if len((el.get("text") or {}).get("text", "")) > 75:
                    self.violations.append(f"{method}: button label too long")
                if len(el.get("value", "")) > 2000:
                    self.violations.append(f"{method}: button value too long")
            el = b.get("element") or {}
            if len(el.get("options") or []) > 100:
                self.violations.append(f"{method}: too many options")
        view = args.get("view") or {}
        if view and len((view.get("title") or {}).get("text", "")) > 24:
            self.violations.append(f"{method}: modal title too long")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._read_args(request)
        with self._lock:
            queue = self.failures.get(method)
            failure = queue.pop(0) if queue else None
        self._record(method, args, refused=failure is not None)
        if failure:
            status, headers = failure
            return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                     status=status, headers=headers)
        return web.json_response(self._answer(method, args))

    async def _calls(self, request: web.Request) -> web.Response:
        # for a fake in another process (the bench): the recorded calls of one method
        calls = self.of(request.match_info["method"])
        return web.json_response({"calls": [{k: v for k, v in c.args.items() if k in ("channel", "thread_ts", "ts")}
                                            for c in calls], "violations": self.violations})

    async def _response(self, request: web.Request) -> web.Response:
        args = json.loads(await request.read())
        args["_rid"] = request.match_info["rid"]
        self._record("response_url", args)
        return web.Response(text="ok")

    def _history(self, method: str, args: dict) -> list[dict]:
        """conversations.history (top-level messages, newest first) / .replies (a thread, oldest first),
        within oldest/latest; one exact message when oldest == latest (how the bot fetches a message).
        `metadata` only with include_all_metadata, as Slack does."""
        channel = args.get("channel")
        with self._lock:
            msgs = [m for (c, _), m in self.messages.items() if c == channel]
        if method == "conversations.replies":
            root = args.get("ts")
            msgs = [m for m in msgs if m["ts"] == root or m.get("thread_ts") == root]
        else:
            msgs = [m for m in msgs if not m.get("thread_ts") or m.get("thread_ts") == m["ts"]]
        oldest, latest = args.get("oldest"), args.get("latest")
        if oldest:
            msgs = [m for m in msgs if float(m["ts"]) >= float(oldest)]
        if latest:
            msgs = [m for m in msgs if float(m["ts"]) <= float(latest)]
        msgs.sort(key=lambda m: float(m["ts"]), reverse=method == "conversations.history")
        if str(args.get("include_all_metadata")).lower() not in ("true", "1"):
            msgs = [{k: v for k, v in m.items() if k != "metadata"} for m in msgs]
        return msgs[: int(args.get("limit") or 100)]

    def _answer(self, method: str, args: dict) -> dict:
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": TEAM, "user": "ieum",
                    "url": "https://example.slack.com/"}
        if method == "chat.postMessage":
            ts = args.get("_ts") or ts
            return {"ok": True, "channel": args.get("channel"), "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args.get("users", "")).lstrip("UW")}}
        if method in ("views.open", "views.push", "views.update", "views.publish"):
            view = dict(args.get("view") or {})
            view.update(id=args.get("view_id") or "V" + ts.replace(".", ""), hash="h" + ts)
            return {"ok": True, "view": view}
        if method == "users.info":
            u = self.users.get(args.get("user"), {})
            return {"ok": True, "user": {"id": args.get("user"), "name": u.get("name", "hong"),
                                          "profile": {"display_name": u.get("display_name", "홍길동"),
                                                      "title": u.get("title", "사회복지사")}}}
        if method in ("conversations.history", "conversations.replies"):
            return {"ok": True, "messages": self._history(method, args)}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        return {"ok": True}


# ---- signed requests, built like Slack's ---------------------------------------------------------


def receipt_of(card: dict) -> str:
    """The receipt number a triage card was posted with (its first block reads '*0000000001* …')."""
    return card["blocks"][0]["text"]["text"].split("*")[1]


def signature(body: str, timestamp: int | str, secret: str = SECRET) -> str:
    return SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)


def signed_headers(body: str, *, content_type: str, secret: str = SECRET, timestamp: int | None = None,
                   retry: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
               "X-Slack-Signature": signature(body, ts, secret), "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    if retry:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


_event_ids = itertools.count(1)


def event_body(event: dict, *, event_id: str | None = None) -> str:
    return json.dumps({
        "token": "legacy", "team_id": TEAM, "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}{int(time.time() * 1000) % 100000}",
        "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }, ensure_ascii=False)


def message_event(text: str, *, user: str = "U100", channel: str = "D100", ts: str | None = None,
                  thread_ts: str | None = None, kind: str = "message") -> dict:
    ev = {"type": kind, "user": user, "text": text, "channel": channel, "ts": ts or f"{time.time():.6f}",
          "channel_type": "im" if channel.startswith("D") else "channel", "event_ts": ts or f"{time.time():.6f}"}
    if thread_ts:
        ev["thread_ts"] = thread_ts
    return ev


_triggers = itertools.count(1)


def command_body(text: str, *, user: str = "U100", channel: str = "C100", response_url: str = "",
                 trigger_id: str | None = None) -> str:
    # Slack gives every invocation its own trigger id (a replay of the same request repeats it)
    trigger_id = trigger_id or f"trig-{next(_triggers)}.{time.time():.6f}"
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "example", "channel_id": channel, "channel_name": "general",
        "user_id": user, "user_name": "hong", "command": "/ieum", "text": text, "api_app_id": "A0001",
        "response_url": response_url, "trigger_id": trigger_id,
    })


def payload_body(payload: dict) -> str:
    payload = {"team": {"id": TEAM, "domain": "example"}, "api_app_id": "A0001", "token": "legacy", **payload}
    return urllib.parse.urlencode({"payload": json.dumps(payload, ensure_ascii=False)})


def post(url: str, body: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


if __name__ == "__main__":  # a standalone fake (the bench runs it in its own process)
    import sys

    fake = FakeSlack().start()
    print(fake.port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()
