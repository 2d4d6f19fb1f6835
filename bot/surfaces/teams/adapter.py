"""The Microsoft Teams surface on the Microsoft 365 Agents SDK: activities in, Adaptive Cards out.

Translates only; handlers decide. `Incoming` is built from
- a message in personal chat, or an @mention in a channel (the mention text stripped),
- an `invoke` named `adaptiveCard/action` (an `Action.Execute` button or a submitted form card),
- a message carrying `value` (an `Action.Submit` from an older client), handled like the invoke;
and `Reply`/`Form` come back out as messages and Adaptive Cards.

Protocol duties handled here:
- authentication: `/api/messages` checks the Bot Framework / Entra JWT of every request (the SDK's
  `JwtTokenValidator`, configured from the standard `CONNECTIONS__SERVICE_CONNECTION__SETTINGS__*`
  variables). Anonymous requests are accepted only when `IEUM_TEAMS_ANONYMOUS=1` (local development,
  the Agents Playground). `IEUM_TEAMS_OPENID_METADATA` points validation at another OpenID metadata
  document (sovereign clouds, tests); its `jwks_uri` and `issuer` are then used.
  The token's `serviceurl` claim must name the activity's `serviceUrl` (the bot sends its token there).
- replies: `deliveryMode: expectReplies` is honoured by the SDK (replies come back in the HTTP response);
  otherwise they are posted to the activity's `serviceUrl`. A reply the connector refuses is queued in the
  outbox for the same conversation.
- text: the handlers' mrkdwn is converted by its structure (`markdown`, `blocks`): bold/italic spans, one
  paragraph per line, "•" lines as lists; all other text is literal (escaped), so user text never links.
- forms: a `Form` is an Adaptive Card with inputs and an `Action.Execute`; the submission comes back as
  an invoke, and a form returned with errors is the invoke's response (the card refreshes in place, the
  values kept and the errors under their fields). Forms always go to the user's personal chat.
- forms submitted twice: a form card's submission carries `Incoming.submission`, a nonce rendered into the
  card's data (else the card activity, `replyToId`, with the conversation), so a second click on the same
  card is handled once (see `Inquiries.file`).
- out of band: DMs, triage cards and reminders go through the outbox with surface "teams"; the sender
  continues the conversation from a stored conversation reference (proactive message), creating the
  personal chat when only the user's Teams account is known. Proactive activities go to the connector
  without null fields (which it refuses), and a refusal is raised to the outbox (never recorded as sent).
  Forms and private replies are queued `sensitive` (encrypted, wiped once final). A message posted with a delivery key is
  remembered (the surfaces' `PostLog`); a later reply with the same key, or one naming it in `Reply.edit`, updates
  it in place (`update_activity`), and one naming it in `Reply.thread` goes in its thread (a channel's reply chain).
  A card button whose replies edit that very card answers the invoke with the new card (it changes in place).
- threads: a channel message reaches the bot only when it @mentions it, so there is no relay of thread
  replies here (Slack's `thread.reply`); a mention in a card's thread is a question like any other.

Subject info (a `Field(private=True)` value) never reaches a channel and is never logged here.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable

from aiohttp import web

if TYPE_CHECKING:  # the SDK is imported on first use (`sdk`), so importing this module stays cheap
    from microsoft_agents.activity import Activity
    from microsoft_agents.hosting.core import TurnContext
    from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, ClaimsIdentity

from bot.surfaces.base import HERE, QUEUE, Adapter, SurfaceConfigError, bundled_text, bundled_texts, destination
from bot.core.config import AGENTS_SDK_PREFIXES
from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.infra.store import Migrations

log = logging.getLogger(__name__)

SURFACE = "teams"
CHANNEL_ID = "msteams"
ROUTE = "/api/messages"
TEAMS_KEY = web.AppKey("teams", object)  # the adapter, on the aiohttp app it is mounted on
ENV_ANONYMOUS = "IEUM_TEAMS_ANONYMOUS"
ENV_METADATA = "IEUM_TEAMS_OPENID_METADATA"
ENV_TRIAGE = ("TEAMS_TRIAGE_CHANNEL", "IEUM_TEAMS_TRIAGE_CHANNEL")
ENV_CLIENT_ID = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"

CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # Action.Execute (Universal Actions) needs 1.4
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"
MAX_TEXT = 20000  # Teams takes ~28 KB per message; leave room for the card JSON
MAX_ACTIONS_PER_SET = 5
MAX_TITLE = 60
FORM_KEY = "ieum_form"  # data of a form's submit action: {"ieum_form": action, "s": state, "k": kinds, "n": nonce}
NONCE_KEY = "n"  # a random id per rendered form card: names the submission when Teams sends no replyToId
ACTION_KEY = "ieum"  # data of a button: {"ieum": action, "v": value}
OPEN_INQUIRY = "inquiry.open"

# The adapter's fixed phrases (templates/NAME.j2 of this package, adapter_* in bot/surfaces/templates); `adapter_*` are shared with Slack.
TEXTS = ("teams_welcome", "teams_private_hint", "teams_files_note", "teams_done", "teams_form_fix", "teams_delayed",
         "adapter_error", "adapter_private_mark", "adapter_title")


class _SDK:
    """The Agents SDK names this module uses, imported when first needed."""

    _modules = {
        "Activity": "microsoft_agents.activity", "ActivityTypes": "microsoft_agents.activity",
        "Attachment": "microsoft_agents.activity", "ChannelAccount": "microsoft_agents.activity",
        "ConversationParameters": "microsoft_agents.activity", "ConversationReference": "microsoft_agents.activity",
        "load_configuration_from_env": "microsoft_agents.activity",
        "CloudAdapter": "microsoft_agents.hosting.aiohttp",
        "MessageFactory": "microsoft_agents.hosting.core",
        "ConnectorClientBase": "microsoft_agents.hosting.core",
        "RestChannelServiceClientFactory": "microsoft_agents.hosting.core",
        "AgentAuthConfiguration": "microsoft_agents.hosting.core.authorization",
        "ClaimsIdentity": "microsoft_agents.hosting.core.authorization",
        "JwtTokenValidator": "microsoft_agents.hosting.core.authorization",
        "AnonymousTokenProvider": "microsoft_agents.hosting.core.authorization",
        "AuthenticationConstants": "microsoft_agents.hosting.core.authorization",
    }

    def __getattr__(self, name: str):
        import microsoft_agents.activity
        import microsoft_agents.hosting.aiohttp
        import microsoft_agents.hosting.core
        import microsoft_agents.hosting.core.authorization  # noqa: F401

        value = getattr(sys.modules[self._modules[name]], name)
        setattr(self, name, value)
        return value


sdk = _SDK()


CONTINUE = "ContinueConversation"  # the name of the SDK's continuation activity (a proactive turn)
_USER_TOKEN_LOGGER = "microsoft_agents.hosting.core.connector.client.user_token_client"


def _no_app_id_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("App ID is not provided")


class TeamsConfigError(SurfaceConfigError):
    """The Teams settings are incomplete."""


def _config_text(word: str) -> str:
    """What the Teams settings leave out (templates/teams_config.j2), naming the variables."""
    return bundled_text("teams_config", word=word, client_id=ENV_CLIENT_ID, anonymous=ENV_ANONYMOUS)


class Unauthorized(PermissionError):
    """A request to /api/messages without a valid token."""


# ---- settings ----------------------------------------------------------------------------------


def _env(settings) -> dict[str, str]:
    """The Teams settings and the Agents SDK's variables, as bot.core.config read them (`Settings.extra`)."""
    return dict(getattr(settings, "extra", None) or {})


def _truthy(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def anonymous(settings) -> bool:
    return _truthy(_env(settings).get(ENV_ANONYMOUS))


def enabled(settings) -> bool:
    """Teams is configured: an app registration (client id), or anonymous local development."""
    return bool(_env(settings).get(ENV_CLIENT_ID)) or anonymous(settings)


def triage_channel(settings) -> str | None:
    env = _env(settings)
    return next((env[k] for k in ENV_TRIAGE if env.get(k)), None)


async def _addressed_activity(request: web.Request) -> bool:
    """Whether the body names a sender, a recipient and a conversation (each an object with a string id);
    a body that is not JSON is left to the SDK, which refuses it without running a turn."""
    try:
        body = await request.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    return all(isinstance(body.get(key), dict) and isinstance(body[key].get("id"), str)
               for key in ("from", "recipient", "conversation"))


def _same_service_url(a: str | None, b: str | None) -> bool:
    """Two service URLs name the same connector: scheme, host, port and path alike (case and a trailing
    slash aside), as the Bot Framework's rule compares the token's `serviceurl` claim with the activity's."""
    from yarl import URL

    try:
        ua, ub = URL(str(a or "").strip()), URL(str(b or "").strip())
    except (ValueError, TypeError):
        return False
    if not ua.is_absolute() or not ub.is_absolute():
        return False
    return (ua.scheme.lower(), (ua.host or "").lower(), ua.port, ua.path.rstrip("/")) == \
        (ub.scheme.lower(), (ub.host or "").lower(), ub.port, ub.path.rstrip("/"))


# ---- storage -----------------------------------------------------------------------------------


MIGRATIONS = Migrations("teams")  # this surface's tables; bot.services lists the sets to apply


# (teams_seen and teams_posts moved to the surfaces' shared tables in surfaces_001_posts_seen)
@MIGRATIONS("teams_001_tables")
def _tables(db) -> None:
    # conversation references: "user:<id>" (personal chat), "conv:<conversation id>", "account:<id>" (the
    # user's Teams account, tenant and service URL, to open a personal chat), "last" (any, for the service URL)
    db.execute("CREATE TABLE IF NOT EXISTS teams_refs (key TEXT PRIMARY KEY, ref TEXT NOT NULL, updated_at REAL NOT NULL)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS teams_posts (key TEXT PRIMARY KEY, conversation TEXT NOT NULL,"
        " activity_id TEXT NOT NULL, ref TEXT, created_at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS teams_posts_ref ON teams_posts (ref, conversation)")
    db.execute("CREATE INDEX IF NOT EXISTS teams_posts_activity ON teams_posts (activity_id)")
    db.execute("CREATE TABLE IF NOT EXISTS teams_seen (id TEXT PRIMARY KEY, seen_at REAL NOT NULL)")


class TeamsState:
    """The adapter's own table: conversation references (posts and seen activities: `PostLog`)."""

    def __init__(self, store):
        self.store = store

    def save_ref(self, key: str, ref: dict) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                "INSERT OR REPLACE INTO teams_refs (key, ref, updated_at) VALUES (?, ?, ?)",
                [key, json.dumps(ref, ensure_ascii=False), time.time()],
            )

    def ref(self, key: str) -> dict | None:
        with self.store.transaction():
            row = self.store.conn.execute("SELECT ref FROM teams_refs WHERE key=?", [key]).fetchone()
        return json.loads(row[0]) if row else None



# ---- rendering: Reply / Form -> Adaptive Cards -------------------------------------------------


# The handlers write a light mrkdwn (Slack's dialect): *bold*, _italic_, `code`, "•" list lines, single line
# breaks. Teams reads CommonMark-like markdown, where every other punctuation may be markup (a user's
# `[text](url)` would become a disguised link) and a single line break is a space. So the text is parsed
# into blocks (paragraph lines, list items) and spans (bold, italic, code, literal), and written back as
# markdown with every literal character that could be markup escaped.

_BULLET = re.compile(r"^\s*(?:[•·◦▪‣∙]|[-*](?=\s))\s*")
# A span opens on a mark followed by a non-space and closes on the next same mark preceded by a non-space,
# on the same line, whatever follows it (Korean particles attach to the closing mark: *이음*입니다).
_SPAN = re.compile(r"\*(?P<b>[^\s*](?:[^*\n]*[^\s*])?)\*"
                   r"|(?<![^\W_])_(?P<i>[^\s_](?:[^_\n]*[^\s_])?)_"
                   r"|`(?P<c>[^`\n]+)`")
# What could make markup of literal text anywhere (`~~` strikes through in Teams); `#`, `>` and list markers
# matter only at the start of a line (`_LINE_START`). Nothing more is escaped: every backslash is visible
# wherever a client's markdown is weaker than CommonMark.
_MARKUP = re.compile(r"([\\`*_\[\]]|~(?=~))")
_LINE_START = re.compile(r"^(?:([#>])|([-+])(?=\s)|(\d+)([.)])(?=\s))")


def escape(text: str) -> str:
    """Literal text for Teams markdown: every character that could start markup is backslash-escaped."""
    return _MARKUP.sub(r"\\\1", text or "")


def _emphasis(content: str, mark: str, before: str = "", after: str = "") -> str:
    """`content` between `mark`s, valid CommonMark whatever surrounds it: a delimiter between punctuation
    inside and a letter outside would not count (`**(화)**부터`), so such edge punctuation moves outside."""
    lead = re.match(r"[^\w\s]*", content).group(0) if re.match(r"\w", before) else ""
    trail = re.search(r"[^\w\s]*$", content[len(lead):]).group(0) if re.match(r"\w", after) else ""
    core = content[len(lead): len(content) - len(trail)]
    if not core.strip():
        return escape(content)
    return f"{escape(lead)}{mark}{escape(core)}{mark}{escape(trail)}"


def inline(line: str, *, plain_text: bool = False) -> str:
    """One line of mrkdwn as Teams markdown (or as plain text without any mark, for summaries)."""
    out: list[str] = []
    pos = 0
    for m in _SPAN.finditer(line):
        out.append(line[pos:m.start()] if plain_text else escape(line[pos:m.start()]))
        content = m.group("b") or m.group("i") or m.group("c")
        if plain_text:
            out.append(content)
        elif m.group("b") is not None or m.group("i") is not None:
            around = {"before": line[m.start() - 1: m.start()], "after": line[m.end(): m.end() + 1]}
            out.append(_emphasis(content, "**" if m.group("b") is not None else "_", **around))
        else:
            out.append(f"`{content.replace('`', '')}`")
        pos = m.end()
    out.append(line[pos:] if plain_text else escape(line[pos:]))
    text = "".join(out)
    return text if plain_text else _LINE_START.sub(lambda m: f"{m[3]}\\{m[4]}" if m[3] else f"\\{m[0]}", text)


def blocks(text: str) -> list[str]:
    """The text as markdown blocks: each line its own paragraph, consecutive "•" lines one list."""
    out: list[str] = []
    items: list[str] = []
    for line in (text or "").splitlines():
        if not line.strip():
            out += ["\n".join(items)] if items else []
            items = []
            continue
        bullet = _BULLET.match(line)
        if bullet:
            items.append("- " + inline(line[bullet.end():].strip()))
            continue
        out += ["\n".join(items)] if items else []
        items = []
        out.append(inline(line.strip()))
    out += ["\n".join(items)] if items else []
    return out


def markdown(text: str) -> str:
    """The handlers' mrkdwn as Teams markdown (a message's text): blocks separated by blank lines."""
    text = "\n\n".join(blocks(text))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def plain(text: str) -> str:
    """The first line of the text without marks (a card's summary, a notification preview)."""
    first = next((line for line in (text or "").splitlines() if line.strip()), "")
    bullet = _BULLET.match(first)
    return inline(first[bullet.end():] if bullet else first, plain_text=True).strip()


def _cut(text: str, limit: int) -> str:
    text = (text or "").strip() or " "
    return text if len(text) <= limit else text[: limit - 1] + "…"


def execute(choice: Choice) -> dict:
    """A button: `Action.Execute` whose verb is the handler's action and whose data carries the value."""
    action = {"type": "Action.Execute", "title": _cut(choice.label, MAX_TITLE), "verb": choice.action,
              "data": {ACTION_KEY: choice.action, "v": choice.value or ""}}
    if choice.style == "primary":
        action["style"] = "positive"
    elif choice.style == "danger":
        action["style"] = "destructive"
    return action


def card(body: list[dict], actions: Iterable[dict] = ()) -> dict:
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "body": body or [{"type": "TextBlock", "text": " "}],
            **({"actions": list(actions)} if actions else {}), "msteams": {"width": "Full"}}


def text_blocks(text: str) -> list[dict]:
    """One TextBlock per paragraph line or list, so no line break depends on the client's markdown."""
    return [{"type": "TextBlock", "text": _cut(chunk, MAX_TEXT), "wrap": True, "spacing": "Small"}
            for chunk in blocks(text)]


def reply_card(reply: Reply) -> dict:
    body = text_blocks(reply.text)
    choices = list(reply.choices)
    for n in range(0, len(choices), MAX_ACTIONS_PER_SET):
        body.append({"type": "ActionSet", "actions": [execute(c) for c in choices[n: n + MAX_ACTIONS_PER_SET]]})
    return card(body)


def reply_activity(reply: Reply) -> Activity:
    """A Reply as a message: plain markdown text, or an Adaptive Card when it has buttons."""
    if not reply.choices:
        return sdk.MessageFactory.text(markdown(reply.text) or " ")
    activity = sdk.MessageFactory.attachment(sdk.Attachment(content_type=CARD, content=reply_card(reply)))
    activity.summary = _cut(plain(reply.text) or bundled_text("adapter_title"), 200)
    return activity


def _initial_text(f: Field, *, channel: bool) -> str:
    if f.private and channel:
        return ""  # subject info never in a channel
    return "" if f.initial in (None, "") else str(f.initial)


def _note(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": escape(text), "wrap": True, "isSubtle": True, "size": "Small", **style}


def field_elements(f: Field, form: Form, texts: dict, *, channel: bool) -> list[dict]:
    label = f.label + (f" {texts['adapter_private_mark']}" if f.private else "")
    # A hint is shown once: a short one as the input's placeholder, a long one (or a private field's, which
    # must stay readable while typing) as a note under it. A toggle's own text is its label, so that
    # ticking it means what the label says (공개 여부 ticked = public); its hint explains the other case.
    noted = bool(f.hint) and (f.private or f.kind == "boolean" or len(f.hint) > 40)
    out: list[dict] = []
    if f.kind in ("text", "textarea"):
        el: dict[str, Any] = {"type": "Input.Text", "id": f.name, "label": label, "isRequired": f.required,
                              "isMultiline": f.kind == "textarea", "value": _initial_text(f, channel=channel)}
        if f.max_length:
            el["maxLength"] = f.max_length
        if f.hint and not noted:
            el["placeholder"] = _cut(f.hint, 200)
        out.append(el)
    elif f.kind == "select":
        el = {"type": "Input.ChoiceSet", "id": f.name, "label": label, "isRequired": f.required, "style": "compact",
              "choices": [{"title": str(l), "value": str(v)} for v, l in f.options]}
        if f.initial not in (None, ""):
            el["value"] = str(f.initial)
        if f.hint and not noted:
            el["placeholder"] = _cut(f.hint, 200)
        out.append(el)
    elif f.kind == "boolean":
        out.append({"type": "Input.Toggle", "id": f.name, "title": label, "value": "true" if f.initial else "false",
                    "valueOn": "true", "valueOff": "false"})
    elif f.kind == "files":
        out.append(_note(f"{f.label}: {texts['teams_files_note']}"))
    else:
        out.append({"type": "Input.Text", "id": f.name, "label": label, "value": _initial_text(f, channel=channel)})
    if f.kind != "files" and (noted or (f.private and not f.hint)):
        out.append(_note(f.hint or texts["teams_private_hint"], spacing="None"))
    error = form.errors.get(f.name)
    if error:
        if out and out[0]["type"].startswith("Input."):
            out[0]["errorMessage"] = _cut(error, 500)
        out.append({"type": "TextBlock", "text": escape(f"⚠ {error}"), "wrap": True, "color": "Attention",
                    "id": f"{f.name}__error"})
    return out


def form_card(form: Form, *, intro: str = "", texts: dict | None = None, channel: bool = False) -> dict:
    """A Form as an Adaptive Card with inputs and one `Action.Execute` submit (verb = the form's action)."""
    texts = texts or bundled_texts(TEXTS)
    body: list[dict] = [{"type": "TextBlock", "text": escape(_cut(form.title, 200)), "weight": "Bolder", "size": "Medium",
                         "wrap": True}]
    body += text_blocks(intro)[:3]
    if form.errors:
        body.append({"type": "TextBlock", "text": markdown(texts["teams_form_fix"]), "color": "Attention", "wrap": True})
    for f in form.fields:
        body += field_elements(f, form, texts, channel=channel)
    data = {FORM_KEY: form.action, "s": form.state, "k": {f.name: f.kind for f in form.fields},
            NONCE_KEY: uuid.uuid4().hex}
    submit = {"type": "Action.Execute", "title": _cut(form.submit_label, MAX_TITLE), "verb": form.action,
              "data": data, "style": "positive"}
    return card(body, [submit])


def form_activity(form: Form, *, intro: str = "", texts: dict | None = None, channel: bool = False) -> Activity:
    activity = sdk.MessageFactory.attachment(sdk.Attachment(content_type=CARD, content=form_card(
        form, intro=intro, texts=texts, channel=channel)))
    activity.summary = _cut(plain(form.title), 200)
    return activity


def form_values(data: dict) -> dict[str, Any]:
    """The submitted inputs of a form card (Teams merges them into the action's data), typed by field kind."""
    kinds = data.get("k") or {}
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        if kind == "files":
            out[name] = []
            continue
        v = data.get(name)
        if kind == "boolean":
            out[name] = _truthy(v)
        elif kind == "select":
            out[name] = (str(v) if v not in (None, "") else None)
        else:
            out[name] = "" if v is None else str(v)
    return out


def submission_id(activity: Activity, data: dict) -> str | None:
    """The id of the form card being submitted (`Incoming.submission`), the same for a second click on it:
    the nonce the card was rendered with (whatever the client sends), else the card activity (`replyToId`)
    in its conversation (cards rendered before the nonce existed), else None."""
    nonce = data.get(NONCE_KEY)
    if isinstance(nonce, str) and 8 <= len(nonce) <= 64:
        return f"teams:card:{nonce}"
    if activity.reply_to_id and activity.conversation and activity.conversation.id:
        return f"teams:{_base_conversation(activity.conversation.id)}:{activity.reply_to_id}"
    return None


def invoke_card(card_json: dict) -> dict:
    return {"statusCode": 200, "type": INVOKE_CARD, "value": card_json}


def invoke_message(text: str) -> dict:
    """A short answer to a card action, shown by Teams as plain text (no markdown)."""
    lines = (inline(line, plain_text=True) for line in (text or "").splitlines())
    return {"statusCode": 200, "type": INVOKE_MESSAGE, "value": _cut("\n".join(lines), 1000)}


# ---- authentication ----------------------------------------------------------------------------


class MetadataValidator:
    """Validates against an explicit OpenID metadata document (`IEUM_TEAMS_OPENID_METADATA`).

    The same interface as the SDK's `JwtTokenValidator` (RS256, the configured client id as audience),
    with the signing keys and the issuer taken from the metadata instead of the built-in endpoints."""

    def __init__(self, configuration: AgentAuthConfiguration, metadata_url: str):
        self.configuration = configuration
        self.metadata_url = metadata_url
        self._metadata: dict | None = None
        self._jwks = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[dict, Any]:
        import jwt

        with self._lock:
            if self._metadata is None:
                with urllib.request.urlopen(self.metadata_url, timeout=10) as resp:
                    self._metadata = json.loads(resp.read().decode("utf-8"))
                self._jwks = jwt.PyJWKClient(self._metadata["jwks_uri"], timeout=10)
            return self._metadata, self._jwks

    async def validate_token(self, token: str) -> ClaimsIdentity:
        import jwt

        def check() -> dict:
            metadata, jwks = self._load()
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key=key.key, algorithms=["RS256"], leeway=300.0, options={"verify_aud": False},
                                issuer=metadata.get("issuer"))
            if not self.configuration._jwt_patch_is_valid_aud(claims.get("aud", "")):
                raise ValueError("Invalid audience.")
            return claims

        claims = await asyncio.to_thread(check)
        return sdk.ClaimsIdentity(claims, security_token=token)

    def get_anonymous_claims(self) -> ClaimsIdentity:
        return sdk.ClaimsIdentity()


async def authorize(header: str | None, config: AgentAuthConfiguration, validator) -> ClaimsIdentity:
    """The claims of a request, or `Unauthorized` (anonymous only when explicitly allowed)."""
    import jwt

    if not header:
        if config.ANONYMOUS_ALLOWED:
            return validator.get_anonymous_claims()
        raise Unauthorized("Authorization header not found")
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthorized("Invalid authorization header format")
    try:
        return await validator.validate_token(parts[1])
    except (jwt.PyJWTError, ValueError, KeyError, OSError) as e:
        log.warning("teams: token refused (%s)", type(e).__name__)
        raise Unauthorized("Invalid token") from None


class _NoConnections:
    """Anonymous local development without an app registration: no outbound tokens."""

    def get_token_provider(self, claims_identity, service_url):
        return sdk.AnonymousTokenProvider()

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return sdk.AgentAuthConfiguration(anonymous_allowed=True)


# ---- delivery context --------------------------------------------------------------------------


@dataclass
class Turn:
    """Where a turn came from, so its replies go back to the right place."""

    user: str
    conversation: str
    personal: bool
    invoke: bool = False
    key: str = ""  # base for delivery keys (the activity id)


def _sealed(reply: Reply) -> Reply:
    """A reply that holds form values or subject info is stored encrypted by the outbox (and wiped once
    delivered): a form (its typed values come back in it), anything private."""
    if reply.form is None and not reply.private:
        return reply
    return replace(reply, data={**(reply.data or {}), "sensitive": True})


def _base_conversation(conversation_id: str) -> str:
    return (conversation_id or "").split(";messageid=")[0]


def _thread_id(conversation_id: str) -> str | None:
    _, sep, message = (conversation_id or "").partition(";messageid=")
    return message if sep else None


def _addressed(activity: Activity, context: TurnContext, **fields) -> Activity:
    """`activity` addressed from the bot to the continued conversation, with only the fields that have a
    value. The SDK's own send path writes `"id": null` and `"locale": null` into a proactive message (its
    `send_to_conversation` keeps explicit Nones) and the Bot Connector answers 400 BadArgument to that;
    an activity built from a dump without Nones has nothing null to write."""
    addressed = activity.model_copy(deep=True).apply_conversation_reference(
        context.activity.get_conversation_reference())
    body = addressed.model_dump(mode="json", by_alias=True, exclude_none=True)
    body.pop("id", None)  # a new message has none; an update names its own
    return sdk.Activity.model_validate({**body, **fields})


# ---- the adapter -------------------------------------------------------------------------------


class TeamsAdapter(Adapter):
    """Owns the SDK's CloudAdapter, the agent (`on_turn`) and the outbox sender for surface "teams"."""

    SURFACE = SURFACE
    TEXTS = TEXTS
    TRIAGE_SETTING = ENV_TRIAGE[0]

    def __init__(self, services, *, settings=None, connections=None, workers: int = 8):
        settings = settings or services.settings
        super().__init__(services, settings=settings, triage_channel=triage_channel(settings))
        env = _env(self.settings)
        self.anonymous = anonymous(self.settings)
        if not enabled(self.settings):
            raise TeamsConfigError(_config_text("not_enabled"))
        # the SDK's configuration from the settings bot.core.config read, passed explicitly (never os.environ)
        sdk_config = sdk.load_configuration_from_env({k: v for k, v in env.items() if k.startswith(AGENTS_SDK_PREFIXES)})
        if connections is None:
            if env.get(ENV_CLIENT_ID):
                from microsoft_agents.authentication.msal import MsalConnectionManager

                connections = MsalConnectionManager(**sdk_config)
            else:
                connections = _NoConnections()
        self.connections = connections
        try:
            self.auth_config = connections.get_default_connection_configuration()
        except Exception:
            self.auth_config = sdk.AgentAuthConfiguration(**(sdk_config.get("CONNECTIONS", {}).get(
                "SERVICE_CONNECTION", {}).get("SETTINGS", {})))
        # JWT validation is on unless anonymous development is explicitly enabled
        self.auth_config.ANONYMOUS_ALLOWED = self.anonymous
        self.app_id = self.auth_config.CLIENT_ID or env.get(ENV_CLIENT_ID) or ""
        metadata = env.get(ENV_METADATA)
        self.validator = MetadataValidator(self.auth_config, metadata) if metadata else sdk.JwtTokenValidator(self.auth_config)
        self.cloud = sdk.CloudAdapter(channel_service_client_factory=sdk.RestChannelServiceClientFactory(connections))
        self.cloud.on_turn_error = self._on_turn_error
        self.state = TeamsState(services.store)
        self._startup_notes()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="teams-turn")
        self.attach_outbox()

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """A proactive send's failure goes back to its caller (the outbox retries it, and records the final
        failure); an incoming turn's is logged and the user told, where the connector still takes it."""
        activity = context.activity
        if activity is not None and activity.type == sdk.ActivityTypes.event and activity.name == CONTINUE:
            raise error
        log.error("teams: turn failed: %s", type(error).__name__, exc_info=(type(error), error, error.__traceback__))
        try:
            await context.send_activity(sdk.MessageFactory.text(self.texts["adapter_error"]))
        except Exception as e:
            log.warning("teams: the apology could not be sent either: %s", type(e).__name__)

    def _startup_notes(self) -> None:
        """What the configuration leaves out, said once here rather than on every turn or delivery."""
        if not self.app_id:
            # The SDK warns "App ID is not provided" each time it builds a user-token client (every turn);
            # without an app registration that is known at start-up, so it is said once, here.
            log.warning("teams: %s", _config_text("no_app_id"))
            logging.getLogger(_USER_TOKEN_LOGGER).addFilter(_no_app_id_warning)

    # -- HTTP

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        """`POST /api/messages`: authenticate, then let the SDK run the turn."""
        from aiohttp import web

        if request.method != "POST":
            return web.json_response({"error": "method not allowed"}, status=405)
        try:
            claims = await authorize(request.headers.get("Authorization"), self.auth_config, self.validator)
        except Unauthorized:
            return web.json_response({"error": "Invalid token or authentication failed."}, status=401)
        if request.headers.get("Authorization") and not await self._service_url_matches(request, claims):
            return web.json_response({"error": "serviceUrl does not match the token."}, status=401)
        if not await _addressed_activity(request):
            # No turn can answer an activity that does not say who sent it to whom in which conversation:
            # the SDK would fail building the reply's reference and report 501.
            return web.json_response({"error": "Invalid activity."}, status=400)
        with warnings.catch_warnings():  # the SDK reads the identity from this string key
            warnings.simplefilter("ignore")
            request["claims_identity"] = claims
        try:
            response = await self.cloud.process(request, self)
        except (ValueError, TypeError) as e:
            # pydantic's ValidationError, or the SDK's TypeError for a bad channelId (`""`): JSON that is no
            # Activity (the turn never ran)
            log.info("teams: malformed activity refused (%s)", type(e).__name__)
            return web.json_response({"error": "Invalid activity."}, status=400)
        return response if response is not None else web.Response(status=202)

    async def _service_url_matches(self, request: web.Request, claims: ClaimsIdentity) -> bool:
        """The Bot Framework's rule: the token's `serviceurl` claim names the activity's `serviceUrl`, since
        the bot sends its own token there; a token without the claim cannot vouch for any URL."""
        try:
            body = await request.json()
        except ValueError:
            return True  # not JSON: the SDK answers 400 without running a turn
        service_url = body.get("serviceUrl") if isinstance(body, dict) else None
        if not service_url:
            return True  # nothing will be sent anywhere on its behalf (the SDK refuses it)
        claim = (getattr(claims, "claims", None) or {}).get(sdk.AuthenticationConstants.SERVICE_URL_CLAIM)
        if _same_service_url(claim, service_url):
            return True
        log.warning("teams: activity refused: its serviceUrl is not the token's serviceurl claim")
        return False

    # -- the agent

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        self.remember(activity)
        kind = activity.type
        if kind == sdk.ActivityTypes.message:
            if activity.value and isinstance(activity.value, dict) and not (activity.text or "").strip():
                await self.on_submit(context, activity.value)  # Action.Submit from an older client
            else:
                await self.on_message(context)
        elif kind == sdk.ActivityTypes.invoke:
            if activity.name == "adaptiveCard/action":
                try:
                    await self.on_card_action(context)
                except Exception:
                    # A malformed card action must still be answered, or the SDK reports 501 to Teams.
                    log.exception("teams: card action failed")
                    await context.send_activity(sdk.Activity(
                        type=sdk.ActivityTypes.invoke_response,
                        value={"status": 200, "body": invoke_message(self.texts["adapter_error"])}))
            else:
                await context.send_activity(sdk.Activity(type=sdk.ActivityTypes.invoke_response, value={"status": 200}))
        elif kind == sdk.ActivityTypes.conversation_update:
            await self.on_conversation_update(context)
        elif kind == sdk.ActivityTypes.installation_update:
            pass  # the reference is remembered above

    def _user_id(self, activity: Activity) -> str:
        who = activity.from_property
        if who is None:
            return ""
        return who.aad_object_id or who.id or ""

    def _personal(self, activity: Activity) -> bool:
        conv = activity.conversation
        return bool(conv) and (conv.conversation_type or "personal") == "personal" and not conv.is_group

    def remember(self, activity: Activity) -> None:
        """Keep the conversation references proactive messages need (no message content)."""
        if not activity.conversation or not activity.service_url:
            return
        try:
            ref = activity.get_conversation_reference().model_dump(mode="json", by_alias=True, exclude_none=True)
        except Exception as e:
            log.info("teams: no conversation reference: %s", type(e).__name__)
            return
        ref.pop("activityId", None)
        conversation = _base_conversation(activity.conversation.id)
        ref["conversation"] = {**ref.get("conversation", {}), "id": conversation}
        self.state.save_ref(f"conv:{conversation}", ref)
        self.state.save_ref("last", ref)
        user = self._user_id(activity)
        who = activity.from_property
        if user and who is not None and (who.role or "user") != "bot":
            tenant = (activity.conversation.tenant_id or
                      ((activity.channel_data or {}).get("tenant") or {}).get("id") if isinstance(activity.channel_data, dict)
                      else activity.conversation.tenant_id)
            known = self.state.ref(f"account:{user}") or {}
            # the display name (`from.name`) is kept, so an agent is shown by name even when a later
            # activity (some invokes) comes without it
            self.state.save_ref(f"account:{user}", {"id": who.id, "tenant": tenant, "serviceUrl": activity.service_url,
                                                    "bot": ref.get("bot"), "name": who.name or known.get("name")})
            if self._personal(activity):
                self.state.save_ref(f"user:{user}", ref)

    def incoming(self, activity: Activity, **kw) -> Incoming:
        who = activity.from_property
        conversation = activity.conversation.id if activity.conversation else ""
        thread = kw.pop("thread", None)
        if thread is None:
            message = _thread_id(conversation)
            thread = (self.posts.key_at(None, message) if message else None) or message
        user = self._user_id(activity)
        return Incoming(user=user, conversation=_base_conversation(conversation), surface=SURFACE,
                        direct=self._personal(activity), user_name=(who.name if who else "") or self.display_name(user),
                        thread=thread, **kw)

    def display_name(self, user: str) -> str:
        """The name Teams last showed for a user (`from.name`), or "" when the bot has never seen one."""
        return ((self.state.ref(f"account:{user}") or {}).get("name") or "") if user else ""

    def turn(self, activity: Activity, *, invoke: bool = False) -> Turn:
        return Turn(user=self._user_id(activity), conversation=activity.conversation.id,
                    personal=self._personal(activity), invoke=invoke, key=activity.id or "")

    async def run(self, incoming: Incoming) -> list[Reply]:
        """The router (sync, sqlite) off the event loop."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, self.dispatch, incoming)
        except Exception:
            log.exception("teams: handler failed for action=%s", incoming.action)
            return [Reply(self.texts["adapter_error"], kind="error", private=True)]

    async def on_message(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.id and activity.conversation and not self.posts.claim(f"{activity.conversation.id}|{activity.id}"):
            log.info("teams: duplicate activity ignored")
            return
        personal = self._personal(activity)
        if not personal:
            mentioned = any(m.mentioned and activity.recipient and m.mentioned.id == activity.recipient.id
                            for m in activity.get_mentions())
            if not mentioned:
                return  # channel chatter not addressed to the bot
        text = activity.remove_recipient_mention() if not personal else (activity.text or "")
        text = re.sub(r"<at>[^<]*</at>", "", text or "").strip()
        replies = await self.run(self.incoming(activity, text=text))
        turn = self.turn(activity)
        if not await self.deliver(context, replies, turn) and not turn.personal:
            await self._tell(context, self.texts["teams_delayed"])

    async def _tell(self, context: TurnContext, text: str) -> None:
        """A short note in the turn's conversation; never fatal (the outbox already holds what matters)."""
        try:
            await context.send_activity(sdk.MessageFactory.text(markdown(text)))
        except Exception as e:
            log.warning("teams: a note could not be sent: %s", type(e).__name__)

    async def on_submit(self, context: TurnContext, data: dict) -> None:
        replies, form_reply = await self._dispatch_card(context.activity, data)
        turn = self.turn(context.activity)
        if form_reply is not None:
            replies = [form_reply] + replies
        await self.deliver(context, replies, turn)

    async def on_card_action(self, context: TurnContext) -> None:
        activity = context.activity
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action") or {}
        data = dict(action.get("data") or {})
        if ACTION_KEY not in data and FORM_KEY not in data:
            data[ACTION_KEY] = action.get("verb")
        turn = self.turn(activity, invoke=True)
        replies, form_reply = await self._dispatch_card(activity, data)
        response: dict | None = None
        if form_reply is not None:  # the form again (errors on the fields): refresh the card in place
            response = invoke_card(form_card(form_reply.form, intro=form_reply.text, texts=self.texts,
                                             channel=not turn.personal))
        rest: list[Reply] = []
        notes: list[str] = []
        for r in replies:
            mine = not (r.to_user or r.to_conversation)
            if response is None and FORM_KEY in data and mine and r.kind != "form" and turn.personal:
                response = invoke_card(reply_card(r))  # the submitted form becomes the receipt
            elif mine and r.private and not turn.personal and not r.choices and r.kind != "form":
                notes.append(r.text)  # only the clicker sees the invoke's answer
            else:
                rest.append(r)
        if not await self.deliver(context, rest, turn):
            notes.append(self.texts["teams_delayed"])
        clicked = self.posts.key_at(None, activity.reply_to_id)
        edit = next((r for r in rest if clicked and r.edit == clicked), None)
        if response is None and not notes and edit is not None:
            response = invoke_card(reply_card(edit))  # the clicked card, as it now stands, in place
        if response is None:
            response = invoke_message("\n".join(notes) if notes else self.texts["teams_done"])
        elif notes:
            log.info("teams: %d private note(s) folded into a card response", len(notes))
        await context.send_activity(sdk.Activity(type=sdk.ActivityTypes.invoke_response,
                                             value={"status": 200, "body": response}))

    async def _dispatch_card(self, activity: Activity, data: dict) -> tuple[list[Reply], Reply | None]:
        """A card's button or form submission through the router; a form returned to its author comes apart."""
        if data.get(FORM_KEY):
            incoming = self.incoming(activity, action=str(data[FORM_KEY]), value=str(data.get("s") or ""),
                                     form=form_values(data), submission=submission_id(activity, data))
        else:
            incoming = self.incoming(activity, action=str(data.get(ACTION_KEY) or ""), value=str(data.get("v") or ""))
        replies = await self.run(incoming)
        form_reply = None
        if data.get(FORM_KEY):
            for r in replies:
                if r.kind == "form" and r.form is not None and r.to_user in (None, incoming.user) \
                        and not r.to_conversation and r.form.action == data[FORM_KEY]:
                    form_reply = r
                    break
            replies = [r for r in replies if r is not form_reply]
        return replies, form_reply

    async def on_conversation_update(self, context: TurnContext) -> None:
        activity = context.activity
        added = activity.members_added or []
        bot_added = any(m.id == (activity.recipient.id if activity.recipient else None) for m in added)
        if bot_added and self._personal(activity):
            await context.send_activity(sdk.MessageFactory.text(markdown(self.texts["teams_welcome"])))

    # -- delivering

    async def deliver(self, context: TurnContext, replies: Iterable[Reply], turn: Turn) -> bool:
        """Send the turn's replies; False when one meant for this user is still waiting in the outbox (the
        connector refused it for now), so the caller can say so."""
        out_of_band: list[tuple[int, Reply]] = []
        for_user: set[int] = set()
        for i, reply in enumerate(replies):
            # privately here only in the personal chat, which is also the user's DM
            where = destination(reply, turn.user, private_here=turn.personal, dm_here=turn.personal)
            if where == HERE:
                try:
                    await self.reply_here(context, reply, turn)
                except Exception as e:
                    # Not lost: the outbox retries it in this conversation and records a final failure.
                    log.warning("teams: a reply was refused (%s); queued for retry", type(e).__name__)
                    where = {"to_user": turn.user} if turn.personal else {"to_conversation": turn.conversation}
                    out_of_band.append((i, _sealed(replace(reply, **where))))
                    for_user.add(i)
            elif where == QUEUE:
                out_of_band.append((i, _sealed(reply)))
            else:
                # private in a channel (forms, receipts, subject info): the user's personal chat
                out_of_band.append((i, _sealed(replace(reply, to_user=turn.user))))
                for_user.add(i)
        if not out_of_band:
            return True
        keys = await asyncio.get_running_loop().run_in_executor(self.executor, self._out_of_band, out_of_band, turn)
        if self.outbox is None:
            return True
        waiting = [k for i, k in keys if i in for_user and self.outbox.status(k) in ("pending", "failed")]
        return not waiting

    def _out_of_band(self, items: list[tuple[int, Reply]], turn: Turn) -> list[tuple[int, str]]:
        keys = []
        for i, reply in items:
            key = reply.key or f"teams:{turn.key or time.time()}:{i}"
            self.send_out_of_band(reply, key=key, default_user=turn.user)
            keys.append((i, key))
        return keys

    def render(self, reply: Reply, *, channel: bool) -> Activity:
        if reply.kind == "form" and reply.form is not None:
            return form_activity(reply.form, intro=reply.text, texts=self.texts, channel=channel)
        return reply_activity(reply)

    async def reply_here(self, context: TurnContext, reply: Reply, turn: Turn) -> None:
        activity = self.render(reply, channel=not turn.personal)
        resp = await context.send_activity(activity)
        key = reply.key
        if key and resp is not None and getattr(resp, "id", None):
            self.posts.remember(key, _base_conversation(turn.conversation), resp.id, reply.topic)

    # -- proactive (the outbox sender)

    def _reference(self, target: str) -> tuple[dict | None, bool, str]:
        """(conversation reference, personal?, user id) for an outbox target."""
        kind, _, ident = target.partition(":")
        if not ident:
            kind, ident = "user", target
        if kind == "user":
            return self.state.ref(f"user:{ident}"), True, ident
        ident = self.conversation_id(ident)
        ref = self.state.ref(f"conv:{ident}")
        if ref is None:
            last = self.state.ref("last")
            if last is None:
                raise TeamsConfigError(_config_text("no_conversation"))
            ref = {**last, "conversation": {"id": ident, "isGroup": True, "conversationType": "channel"}}
            ref.pop("user", None)
        return ref, False, ""

    def send(self, target: str, reply: Reply) -> None:
        """The outbox sender for surface "teams": post (or update in place, by key) or raise."""
        self.call(self._send(target, reply))

    def call(self, coro, timeout: float = 60.0):
        """Run a coroutine from sync code (the outbox's drain runs in worker threads)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(asyncio.wait_for(coro, timeout))
        result: dict = {}

        def runner() -> None:
            try:
                result["v"] = asyncio.run(asyncio.wait_for(coro, timeout))
            except BaseException as e:  # re-raised in the caller
                result["e"] = e

        t = threading.Thread(target=runner, name="teams-send", daemon=True)
        t.start()
        t.join(timeout + 5)
        if "e" in result:
            raise result["e"]
        return result.get("v")

    async def _send(self, target: str, reply: Reply) -> None:
        ref, personal, user = self._reference(target)
        if ref is None and personal:
            ref = await self.open_personal_chat(user)
        conversation = ref["conversation"]["id"]
        key = reply.edit or reply.key
        known = self.posts.find(key) if key else None
        activity = self.render(reply, channel=not personal)
        if known is not None:
            await self.update(ref, known[0], known[1], activity)
            return
        if reply.edit:
            return  # the post to replace was never made here
        thread_ref = ref
        thread = self.posts.find(reply.thread) if reply.thread and not personal else None
        if thread is not None and thread[0] == conversation:  # a channel's reply chain
            thread_ref = {**ref, "conversation": {**ref["conversation"], "id": f"{conversation};messageid={thread[1]}"}}
        posted = await self.post(thread_ref, activity)
        if key and posted:
            self.posts.remember(key, conversation, posted, reply.topic)

    async def _continue(self, ref: dict, callback) -> None:
        reference = sdk.ConversationReference.model_validate(ref)
        continuation = reference.get_continuation_activity()
        if self.anonymous and not self.app_id:
            await self.cloud.continue_conversation_with_claims(sdk.ClaimsIdentity(), continuation, callback,
                                                               audience=sdk.AuthenticationConstants.AGENTS_SDK_SCOPE)
        else:
            await self.cloud.continue_conversation(self.app_id, continuation, callback)

    async def post(self, ref: dict, activity: Activity) -> str | None:
        """A new message (or a new thread in a channel); the connector's activity id, or raises."""
        out: dict = {}

        async def callback(context: TurnContext) -> None:
            outgoing = _addressed(activity, context)
            client = context.services.get(sdk.ConnectorClientBase)
            resp = await client.conversations.send_to_conversation(outgoing.conversation.id, outgoing)
            out["id"] = getattr(resp, "id", None)

        await self._continue(ref, callback)
        return out.get("id")

    async def update(self, ref: dict, conversation: str, activity_id: str, activity: Activity) -> None:
        ref = {**ref, "conversation": {**ref["conversation"], "id": conversation}}

        async def callback(context: TurnContext) -> None:
            outgoing = _addressed(activity, context, id=activity_id)
            client = context.services.get(sdk.ConnectorClientBase)
            await client.conversations.update_activity(outgoing.conversation.id, activity_id, outgoing)

        await self._continue(ref, callback)

    async def open_personal_chat(self, user: str) -> dict:
        """Create the personal chat with a user whose Teams account the bot has seen (e.g. in a channel)."""
        account = self.state.ref(f"account:{user}")
        if account is None:
            raise TeamsConfigError(_config_text("no_personal_chat"))
        params = sdk.ConversationParameters(is_group=False, agent=sdk.ChannelAccount(**(account.get("bot") or {})),
                                        members=[sdk.ChannelAccount(id=account["id"])], tenant_id=account.get("tenant"),
                                        channel_data={"tenant": {"id": account.get("tenant")}} if account.get("tenant") else None)
        out: dict = {}

        async def callback(context: TurnContext) -> None:
            ref = context.activity.get_conversation_reference().model_dump(mode="json", by_alias=True, exclude_none=True)
            ref.pop("activityId", None)
            ref["user"] = {"id": account["id"]}
            out["ref"] = ref

        if self.anonymous and not self.app_id:
            raise TeamsConfigError(_config_text("anonymous_no_new_chat"))
        await self.cloud.create_conversation(self.app_id, CHANNEL_ID, account["serviceUrl"],
                                             sdk.AuthenticationConstants.AGENTS_SDK_SCOPE, params, callback)
        ref = out["ref"]
        self.state.save_ref(f"user:{user}", ref)
        return ref


# ---- the HTTP route ----------------------------------------------------------------------------


def mount(web_app: web.Application, services, *, adapter: TeamsAdapter | None = None, connections=None):
    """Add `POST /api/messages` when Teams is configured; returns the closer (or None)."""
    if adapter is None:
        if not enabled(services.settings):
            return None
        adapter = TeamsAdapter(services, connections=connections)
    web_app[TEAMS_KEY] = adapter
    web_app.router.add_post(ROUTE, adapter.handle_http)
    if adapter.anonymous:
        log.warning("teams: %s", _config_text("anonymous"))
    return adapter.close


def create(services, **kw) -> TeamsAdapter:
    return TeamsAdapter(services, **kw)
