"""A fake Teams for tests: a Bot Connector service on 127.0.0.1 (the activities' `serviceUrl`) that records
every reply, proactive message, update and created conversation; an OpenID metadata document and JWKS
with keys generated here; tokens signed like the Bot Framework's; builders for real Activity JSON."""
from __future__ import annotations

import base64
import itertools
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import jwt
from aiohttp import web

from fakes.loopback import LoopbackServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "00000000-1111-2222-3333-444444444444"
TENANT = "tenant-0001"
BOT_ID = f"28:{APP_ID}"
BOT_NAME = "이음"
ISSUER = "https://issuer.ieum.test"
KID = "test-key-1"
OUTBOUND_TOKEN = "outbound-test-token"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Call:
    method: str  # send | reply | update | create
    conversation: str
    body: dict[str, Any]
    activity_id: str | None = None
    auth: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)

    @property
    def card(self) -> dict | None:
        for a in self.body.get("attachments") or []:
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return a.get("content")
        return None


# The Activity properties of the Bot Framework schema (v3): the connector refuses a body with any other
# top-level field, or with a null anywhere (Microsoft's answers 400 `BadArgument: Invalid input` to
# `"id": null` / `"locale": null`, which the Agents Playground showed).
ACTIVITY_FIELDS = frozenset("""
type id timestamp localTimestamp localTimezone callerId serviceUrl channelId from conversation recipient
textFormat attachmentLayout membersAdded membersRemoved reactionsAdded reactionsRemoved topicName
historyDisclosed locale text speak inputHint summary suggestedActions attachments entities channelData action
replyToId label valueType value name relatesTo code expiration importance deliveryMode listenFor
textHighlights semanticAction
""".split())


def invalid(body: Any) -> str | None:
    """Why Microsoft's connector would refuse this activity body, or None."""
    if not isinstance(body, dict):
        return "not an object"
    unknown = sorted(set(body) - ACTIVITY_FIELDS)
    if unknown:
        return f"unknown field(s) {unknown}"

    def nulls(value, path: str):
        if value is None:
            yield path
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from nulls(v, f"{path}.{k}")
        elif isinstance(value, list):
            for n, v in enumerate(value):
                yield from nulls(v, f"{path}[{n}]")

    found = list(nulls(body, "$"))
    return f"null at {found}" if found else None


class FakeTeams(LoopbackServer):
    """The connector at `{url}/` (v3 API), OpenID metadata at `{url}/.well-known/openid-configuration`."""

    def __init__(self):
        super().__init__()
        self.calls: list[Call] = []
        self.refused: list[tuple[str, str]] = []  # (method, reason): bodies answered 400 like Microsoft's
        self.down: set[str] = set()  # conversations whose every send is answered 500 (a broken connector)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        self._ids = itertools.count(1)

    # -- control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}.well-known/openid-configuration"

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.refused.clear()
            self.down.clear()

    def token(self, **claims) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": APP_ID, "serviceurl": self.url, "nbf": now - 5, "exp": now + 600, **claims}
        return jwt.encode(body, self.pem, algorithm="RS256", headers={"kid": KID})

    def wait_for(self, pred: Callable[[list[Call]], Any], timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = pred(list(self.calls))
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; calls: {[(c.method, c.conversation) for c in self.calls]}")
                self._cond.wait(min(left, 0.1))

    def to(self, conversation: str, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.conversation.split(";messageid=")[0] == conversation
                    and (method is None or c.method == method)]

    # -- server

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    async def _metadata(self, request):
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request):
        pub = self.key.public_key().public_numbers()
        return web.json_response({"keys": [{"kty": "RSA", "use": "sig", "kid": KID, "alg": "RS256",
                                            "n": _b64(pub.n), "e": _b64(pub.e)}]})

    async def _create(self, request):
        body = await request.json()
        cid = f"a:personal-{next(self._ids)}"
        self._record(Call("create", cid, body, auth=request.headers.get("Authorization")))
        return web.json_response({"id": cid, "activityId": f"act-{next(self._ids)}", "serviceUrl": self.url})

    def _refuse(self, method: str, body, conversation: str = "") -> web.Response | None:
        if conversation.split(";messageid=")[0] in self.down:
            with self._cond:
                self.refused.append((method, "down"))
                self._cond.notify_all()
            return web.json_response({"error": {"code": "ServiceError", "message": "down"}}, status=500)
        reason = invalid(body)
        if reason is None:
            return None
        with self._cond:
            self.refused.append((method, reason))
            self._cond.notify_all()
        return web.json_response({"error": {"code": "BadArgument", "message": "Invalid input"}}, status=400)

    async def _send(self, request):
        body = await request.json()
        if (refused := self._refuse("send", body, request.match_info["cid"])) is not None:
            return refused
        aid = f"act-{next(self._ids)}"
        self._record(Call("send", request.match_info["cid"], body, aid, request.headers.get("Authorization")))
        return web.json_response({"id": aid}, status=201)

    async def _reply(self, request):
        body = await request.json()
        if (refused := self._refuse("reply", body, request.match_info["cid"])) is not None:
            return refused
        aid = f"act-{next(self._ids)}"
        self._record(Call("reply", request.match_info["cid"], body, aid, request.headers.get("Authorization")))
        return web.json_response({"id": aid}, status=201)

    async def _update(self, request):
        body = await request.json()
        if (refused := self._refuse("update", body, request.match_info["cid"])) is not None:
            return refused
        aid = request.match_info["aid"]
        self._record(Call("update", request.match_info["cid"], body, aid, request.headers.get("Authorization")))
        return web.json_response({"id": aid})


# ---- the outbound token (what MSAL would fetch from Entra) --------------------------------------


class FixedTokenProvider:
    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class FakeConnections:
    """Stands in for MsalConnectionManager (Entra): the inbound auth configuration and a fixed outbound token."""

    def __init__(self, app_id: str = APP_ID, tenant: str = TENANT):
        from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration

        self.config = AgentAuthConfiguration(client_id=app_id, tenant_id=tenant)

    def get_token_provider(self, claims_identity, service_url):
        return FixedTokenProvider()

    def get_default_connection_configuration(self):
        return self.config


# ---- activities ----------------------------------------------------------------------------------


def user_account(user: str = "u1", name: str = "홍길순") -> dict:
    return {"id": f"29:{user}", "aadObjectId": f"aad-{user}", "name": name}


def activity(kind: str, *, service_url: str, conversation: str = "a:dm-u1", user: str = "u1", personal: bool = True,
             **extra) -> dict:
    conv = {"id": conversation, "conversationType": "personal" if personal else "channel", "tenantId": TENANT}
    if not personal:
        conv["isGroup"] = True
    body = {"type": kind, "id": f"in-{uuid.uuid4().hex[:12]}", "timestamp": "2022-08-29T01:00:00Z",
            "serviceUrl": service_url, "channelId": "msteams", "from": user_account(user),
            "recipient": {"id": BOT_ID, "name": BOT_NAME}, "conversation": conv, "locale": "ko-KR",
            "channelData": {"tenant": {"id": TENANT}}}
    body.update(extra)
    return body


def message(text: str, **kw) -> dict:
    return activity("message", text=text, textFormat="plain", **kw)


def mention(text: str, *, channel: str = "19:general@thread.tacv2", **kw) -> dict:
    at = f"<at>{BOT_NAME}</at>"
    return activity("message", text=f"{at} {text}", personal=False, conversation=channel,
                    entities=[{"type": "mention", "text": at, "mentioned": {"id": BOT_ID, "name": BOT_NAME}}], **kw)


def card_action(action: dict, *, reply_to: str | None = None, inputs: dict | None = None, **kw) -> dict:
    """The invoke Teams sends for an `Action.Execute` (inputs merged into the action's data)."""
    data = {**(action.get("data") or {}), **(inputs or {})}
    value = {"action": {"type": "Action.Execute", "verb": action.get("verb"), "data": data}, "trigger": "manual"}
    extra = {"replyToId": reply_to} if reply_to else {}
    return activity("invoke", name="adaptiveCard/action", value=value, **extra, **kw)


def installed(*, service_url: str, conversation: str = "a:dm-u1", user: str = "u1", personal: bool = True) -> dict:
    return activity("conversationUpdate", service_url=service_url, conversation=conversation, user=user,
                    personal=personal, membersAdded=[{"id": BOT_ID}])


def post(url: str, body: dict, *, token: str | None = None, timeout: float = 20.0) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read().decode() or "null"
            return resp.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as e:
        raw = e.read().decode()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


def actions(card: dict | None) -> list[dict]:
    """Every Action.Execute in a card (body ActionSets and the card's actions)."""
    out: list[dict] = []
    if not card:
        return out

    def walk(items):
        for it in items or []:
            if it.get("type") == "ActionSet":
                out.extend(it.get("actions") or [])
            if it.get("type", "").startswith("Action."):
                out.append(it)
            walk(it.get("items"))

    walk(card.get("body"))
    walk(card.get("actions"))
    return out


def find_action(card: dict | None, title: str) -> dict:
    for a in actions(card):
        if a.get("title") == title:
            return a
    raise AssertionError(f"no action {title!r} in {[a.get('title') for a in actions(card)]}")


def inputs(card: dict | None) -> dict[str, dict]:
    return {el["id"]: el for el in (card or {}).get("body", []) if str(el.get("type", "")).startswith("Input.")}
