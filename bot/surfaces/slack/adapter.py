"""The Slack surface: bolt wiring, Block Kit rendering, delivery. Translates only; handlers decide.

Everything Slack-specific lives here: `Incoming` is built from events, slash commands, shortcuts and
interactivity payloads; `Reply`/`Form` come back out as messages, ephemerals, modals and App Home views.

Protocol duties handled here:
- ack within 3 s, whatever the Web API does: bolt runs with `process_before_response=False`; listeners ack
  and hand the work (the router, Web API calls) to the adapter's own work executor, so bolt's listener
  threads, which every slash command's and click's ack waits for, are never held by a hung Web API call.
  Nothing on the ack path calls Slack: bolt gets an authorization at start-up even when `auth.test` fails
  there, and a form submission (handled before its ack) names its user from the cache, never `users.info`.
- replays: a signed click or slash command sent again inside the 5-minute signature window is done once:
  its identity (trigger id for a command; action ts + user + action + value for a click) is claimed in
  the surfaces' seen-event table like an event id.
- dedupe: every `event_id` is claimed in the seen-event table (a UNIQUE key) before anything happens, so Slack's
  retries (`X-Slack-Retry-Num`) and duplicate deliveries never answer twice.
- escaping: user text placed in mrkdwn is escaped (& < >), so nobody can make the bot say `<!channel>`.
- limits: text split into sections of 3,000 chars, at most 50 blocks per message / 100 per view, 25 buttons
  per actions block, 100 options per select (option groups for the category tree), 75-char labels.
- delivery: a Web API client with retry handlers for 429 (Retry-After) and 5xx; out-of-band replies (DMs,
  triage cards) go through the outbox with surface "slack", so a post that still fails is kept and retried.
  A post with a delivery key carries it in the message `metadata`; before the outbox re-sends a row that may
  have gone out (a kill -9 mid-send, a timeout), `delivered` looks for the key in the conversation (or thread)
  history, so a triage card or a receipt is never posted twice.
- forms go back to whoever submitted them: a re-shown form (personal data moved, a field invalid) is the
  submission's ack (`errors`, or `update` when the handler changed the values), wherever the form was opened.
- forms submitted twice: a `view_submission` carries `Incoming.submission = "slack:<view id>"`, the same
  for a re-submission of the same modal, so the handler files once (see `Inquiries.file`).
- in place: a message posted with a delivery key is remembered (the surfaces' `PostLog`); a later reply with
  the same key, or one that names it in `Reply.edit`, updates it (`chat.update`). `Reply.thread` names the
  post to reply under by its key; threads are named neutrally by the key of their first message, so a reply
  in a card's thread or in a DM thread comes back to the handlers as `Incoming(thread=<key>)`.
- topics: a message in the thread of a post that has a `topic` is `Incoming(action="thread.reply",
  value=<topic>)` (the triage channel named "triage"), a reaction is `Incoming(action="reaction",
  value=<its name>)` with the post's topic; the handlers decide what they mean (handlers/threads.py).
- start-up: `auth.test` is called once here, so bolt never makes that call (with its retries) lazily on the
  server's event loop; request signatures are checked by the HTTP route (bot/server.py), not again by bolt.

Subject info (a `Field(private=True)` value) is never logged here; form values are passed to the router
and nowhere else.
"""
from __future__ import annotations

import html
import json
import logging
import random
import re
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterable

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (ConnectionErrorRetryHandler, RateLimitErrorRetryHandler,
                                                   ServerErrorRetryHandler)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bot.surfaces.base import HERE, Adapter, SurfaceConfigError, bundled_text, bundled_texts, destination
from bot.core.messages import Choice, Field, Form, Incoming, Reply
from bot.infra.store import Migrations
from bot.inquiries.service import MAX_FILE_SIZE

log = logging.getLogger(__name__)

SURFACE = "slack"
DEFAULT_API_URL = "https://slack.com/api/"

# Slack limits (https://docs.slack.dev/reference/block-kit)
MAX_SECTION = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_BUTTONS = 25
MAX_OPTIONS = 100
MAX_OPTION_GROUPS = 100
MAX_LABEL = 75
MAX_VALUE = 2000
MAX_TEXT = 3000  # the fallback `text` of a message (notifications)
MAX_METADATA = 3000
MAX_MODAL_TITLE = 24
MAX_INPUT_LABEL = 2000
MAX_INPUT = 3000

# Action names the adapter dispatches for Slack-only gestures (the handlers own what they mean).
OPEN_INQUIRY = "inquiry.open"  # the message shortcut, and the button of a form that cannot open from an event
THREAD_REPLY = "thread.reply"  # a message in the thread of a post with a topic (triage channel or DM)
REACTION = "reaction"  # a reaction added to a message (its name as the value)
HOME = "home.open"  # App Home contents
HELP = "help.open"  # `/ieum` with nothing after it
FORM_CALLBACK = "ieum_form"
SHORTCUT_CALLBACK = "file_inquiry"
METADATA_EVENT = "ieum_delivery"  # message metadata carrying a post's delivery key
FILES_FETCHED = "inquiry.files_fetched"  # the modal's files, fetched after the ack

# The adapter's fixed phrases (templates/NAME.j2 of this package, adapter_* in bot/surfaces/templates); `adapter_*` are shared with Teams.
TEXTS = ("slack_submit_failed", "slack_private_hint", "slack_cancel", "slack_close", "adapter_error",
         "adapter_private_mark", "adapter_title")


class SlackConfigError(SurfaceConfigError):
    """The Slack settings are incomplete."""


# ---- storage ----------------------------------------------------------------------------------


MIGRATIONS = Migrations("slack")  # this surface's tables; bot.services lists the sets to apply
# (slack_seen and slack_posts moved to the surfaces' shared tables in surfaces_001_posts_seen)


@MIGRATIONS("slack_001_tables")
def _tables(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS slack_seen (event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS slack_posts (key TEXT PRIMARY KEY, channel TEXT NOT NULL, ts TEXT NOT NULL,"
        " created_at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS slack_posts_ts ON slack_posts (channel, ts)")
    db.execute("CREATE TABLE IF NOT EXISTS slack_dms (user TEXT PRIMARY KEY, channel TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS slack_forms (id TEXT PRIMARY KEY, meta TEXT NOT NULL, created_at REAL NOT NULL)")


@MIGRATIONS("slack_002_post_ref")
def _post_ref(db) -> None:
    # the inquiry a posted message belongs to (its receipt), for thread relay and in-place card updates
    db.execute("ALTER TABLE slack_posts ADD COLUMN ref TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS slack_posts_ref ON slack_posts (ref, channel)")


FORM_DAYS = 2  # a modal's stored metadata outlives any modal left open


class SlackState:
    """The adapter's own tables: DM channels, large modal metadata (posts and seen events: `PostLog`)."""

    def __init__(self, store):
        self.store = store

    def dm_channel(self, user: str) -> str | None:
        with self.store.transaction():
            row = self.store.conn.execute("SELECT channel FROM slack_dms WHERE user=?", [user]).fetchone()
        return row[0] if row else None

    def remember_dm(self, user: str, channel: str) -> None:
        with self.store.transaction():
            self.store.conn.execute("INSERT OR REPLACE INTO slack_dms (user, channel) VALUES (?, ?)", [user, channel])

    def save_meta(self, meta: dict) -> str:
        ref = uuid.uuid4().hex
        with self.store.transaction():
            self.prune_forms()
            self.store.conn.execute(
                "INSERT INTO slack_forms (id, meta, created_at) VALUES (?, ?, ?)",
                [ref, json.dumps(meta, ensure_ascii=False), time.time()],
            )
        return ref

    def prune_forms(self, days: float = FORM_DAYS) -> int:
        with self.store.transaction():
            return self.store.conn.execute("DELETE FROM slack_forms WHERE created_at < ?",
                                           [time.time() - days * 86400]).rowcount

    def load_meta(self, ref: str) -> dict:
        with self.store.transaction():
            row = self.store.conn.execute("SELECT meta FROM slack_forms WHERE id=?", [ref]).fetchone()
        return json.loads(row[0]) if row else {}


# ---- the Web API client ------------------------------------------------------------------------


class RateLimitRetry(RateLimitErrorRetryHandler):
    """429: wait what `Retry-After` says (capped), plus a little jitter, then retry."""

    def __init__(self, max_retry_count: int = 3, max_wait: float = 30.0):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        wait = 1.0
        for k, v in response.headers.items():
            if k.lower() == "retry-after":
                try:
                    wait = float(v[0] if isinstance(v, (list, tuple)) else v)
                except ValueError:
                    pass
        time.sleep(min(max(wait, 0.0), self.max_wait) + random.random() * 0.05)
        state.increment_current_attempt()


class ServerErrorRetry(ServerErrorRetryHandler):
    """Any 5xx (slack_sdk's handler retries only 500 and 503): retry with its backoff."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code < 600


def make_client(settings, *, backoff: float = 0.5, max_retries: int = 3, timeout: int = 10) -> WebClient:
    """A WebClient on `SLACK_API_URL` that retries 429 and 5xx (and dropped connections)."""
    base_url = settings.slack_api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    calc = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    return WebClient(
        token=settings.slack_bot_token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=calc),
            RateLimitRetry(max_retry_count=max_retries),
            ServerErrorRetry(max_retry_count=max_retries, interval_calculator=calc),
        ],
    )


# ---- rendering: Reply / Form -> Block Kit ------------------------------------------------------


def escape(text: str) -> str:
    """Escape user text for mrkdwn: &, <, > (Slack's three control characters)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack sends message text with &, <, > escaped; handlers get the plain text."""
    return html.unescape(text or "") if "&" in (text or "") else (text or "")


def _plain(text: str, limit: int) -> dict:
    text = (text or "").strip() or " "
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split text into chunks of at most `limit` chars, preferring line breaks."""
    text = text or ""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = limit
        chunk = text[:cut]
        # never split an escape sequence (&amp; &lt; &gt;)
        amp = chunk.rfind("&", max(0, len(chunk) - 5))
        if amp != -1 and ";" not in chunk[amp:]:
            chunk = chunk[:amp]
            cut = amp
        chunks.append(chunk)
        text = text[cut:].lstrip("\n")
    if text or not chunks:
        chunks.append(text)
    return chunks


def _action_id(choice: Choice, i: int) -> str:
    return f"{choice.action}|{i}"[:255]


def action_name(action_id: str) -> str:
    return (action_id or "").rsplit("|", 1)[0]


def button(choice: Choice, i: int) -> dict:
    el = {"type": "button", "text": _plain(choice.label, MAX_LABEL), "action_id": _action_id(choice, i),
          "value": (choice.value or "")[:MAX_VALUE]}
    if choice.style in ("primary", "danger"):
        el["style"] = choice.style
    return el


def choice_blocks(choices: list[Choice], *, block_prefix: str = "ieum_actions") -> list[dict]:
    blocks = []
    for n in range(0, len(choices), MAX_BUTTONS):
        part = choices[n: n + MAX_BUTTONS]
        blocks.append({"type": "actions", "block_id": f"{block_prefix}_{n // MAX_BUTTONS}",
                       "elements": [button(c, n + i) for i, c in enumerate(part)]})
    return blocks


def reply_blocks(reply: Reply, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> tuple[str, list[dict]]:
    """A Reply as (fallback text, blocks): escaped mrkdwn sections, then buttons, within Slack's limits."""
    body = escape(reply.text)
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk or " "}}
                for chunk in split_text(body) if chunk.strip()]
    actions = choice_blocks(reply.choices)
    room = max_blocks - len(actions)
    if len(sections) > room:
        sections = sections[: max(room, 1)]
        sections[-1]["text"]["text"] = sections[-1]["text"]["text"][: MAX_SECTION - 1] + "…"
    blocks = (sections + actions)[:max_blocks]
    fallback = body if len(body) <= MAX_TEXT else body[: MAX_TEXT - 1] + "…"
    return fallback or " ", blocks


def message_payload(reply: Reply) -> dict:
    text, blocks = reply_blocks(reply)
    return {"text": text, "blocks": blocks}


def _option(value: str, label: str) -> dict:
    return {"text": _plain(label, MAX_LABEL), "value": str(value)[:150]}


def select_options(options: list[tuple[str, str]]) -> dict:
    """`options`, or `option_groups` when the values are category paths ("A > B > C")."""
    if any(" > " in str(v) for v, _ in options):
        groups: dict[str, list[dict]] = {}
        for value, label in options:
            parent, _, leaf = str(value).rpartition(" > ")
            if str(label) == str(value):
                label = leaf or str(value)
            groups.setdefault(parent or str(label), []).append(_option(value, label))
        out = []
        for name, opts in list(groups.items())[:MAX_OPTION_GROUPS]:
            out.append({"label": _plain(name, MAX_LABEL), "options": opts[:MAX_OPTIONS]})
        return {"option_groups": out}
    return {"options": [_option(v, l) for v, l in options[:MAX_OPTIONS]]}


def _find_option(options: list[tuple[str, str]], value) -> dict | None:
    for v, l in options:
        if str(v) == str(value):
            if " > " in str(v) and str(l) == str(v):
                l = str(v).rpartition(" > ")[2]
            return _option(v, l)
    return None


def field_block(f: Field, texts: dict) -> dict:
    label = f.label + (f" {texts['adapter_private_mark']}" if f.private else "")
    block: dict[str, Any] = {"type": "input", "block_id": f.name, "label": _plain(label, MAX_INPUT_LABEL),
                             "optional": not f.required}
    hint = f.hint or (texts["slack_private_hint"] if f.private else "")
    if hint:
        block["hint"] = _plain(hint, MAX_INPUT_LABEL)
    if f.kind in ("text", "textarea"):
        el: dict[str, Any] = {"type": "plain_text_input", "action_id": f.name, "multiline": f.kind == "textarea"}
        limit = min(f.max_length or MAX_INPUT, MAX_INPUT)
        el["max_length"] = limit
        if f.initial not in (None, ""):
            el["initial_value"] = str(f.initial)[:limit]
        if f.suggest_action:
            block["dispatch_action"] = True
            el["dispatch_action_config"] = {"trigger_actions_on": ["on_character_entered"]}
    elif f.kind == "select":
        el = {"type": "static_select", "action_id": f.name, **select_options(f.options)}
        initial = _find_option(f.options, f.initial) if f.initial not in (None, "") else None
        if initial:
            el["initial_option"] = initial
    elif f.kind == "boolean":
        opt = {"text": _plain(f.hint or f.label, MAX_LABEL), "value": "yes"}
        el = {"type": "checkboxes", "action_id": f.name, "options": [opt]}
        if f.initial:
            el["initial_options"] = [opt]
        block["optional"] = True
        block.pop("hint", None) if not f.private else None
    elif f.kind == "files":
        el = {"type": "file_input", "action_id": f.name, "max_files": 5}
        block["optional"] = not f.required
    else:
        el = {"type": "plain_text_input", "action_id": f.name}
    block["element"] = el
    return block


def form_view(form: Form, *, meta: str, intro: str = "", texts: dict | None = None) -> dict:
    """A Form as a modal view (errors are returned separately, with `response_action: errors`)."""
    texts = texts or bundled_texts(TEXTS)
    blocks: list[dict] = []
    if intro:
        for chunk in split_text(escape(intro))[:3]:
            blocks.append({"type": "section", "block_id": f"ieum_intro_{len(blocks)}",
                           "text": {"type": "mrkdwn", "text": chunk or " "}})
    for f in form.fields:
        blocks.append(field_block(f, texts))
        error = form.errors.get(f.name)
        if error:  # shown under its field when the form comes back as a view (`update`), not as `errors`
            blocks.append({"type": "context", "block_id": f"ieum_error_{f.name}"[:255],
                           "elements": [{"type": "mrkdwn", "text": "⚠️ " + escape(error)[:MAX_SECTION - 3]}]})
    view = {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": _plain(form.title, MAX_MODAL_TITLE),
        "close": _plain(texts["slack_cancel"], MAX_MODAL_TITLE),
        "private_metadata": meta,
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }
    if form.fields:
        view["submit"] = _plain(form.submit_label, MAX_MODAL_TITLE)
    return view


def info_view(replies: list[Reply], *, title: str, texts: dict) -> dict:
    """Read-only modal (e.g. an answer opened from a suggestion inside the inquiry modal)."""
    blocks: list[dict] = []
    for r in replies:
        blocks += reply_blocks(replace(r, choices=[]), max_blocks=MAX_VIEW_BLOCKS - len(blocks))[1]
    return {"type": "modal", "title": _plain(title, MAX_MODAL_TITLE), "close": _plain(texts["slack_close"], 24),
            "blocks": blocks[:MAX_VIEW_BLOCKS] or [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]}


def home_view(replies: list[Reply]) -> dict:
    blocks: list[dict] = []
    for r in replies:
        if blocks:
            blocks.append({"type": "divider"})
        blocks += reply_blocks(r, max_blocks=MAX_VIEW_BLOCKS - len(blocks))[1]
        if len(blocks) >= MAX_VIEW_BLOCKS - 1:
            break
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def view_values(view: dict) -> dict[str, Any]:
    """The submitted values of a modal, by field name (block_id)."""
    out: dict[str, Any] = {}
    for block_id, actions in ((view or {}).get("state") or {}).get("values", {}).items():
        for _action_id, v in actions.items():
            kind = v.get("type")
            if kind == "plain_text_input":
                out[block_id] = v.get("value") or ""
            elif kind in ("static_select", "external_select", "radio_buttons"):
                opt = v.get("selected_option")
                out[block_id] = opt.get("value") if opt else None
            elif kind == "checkboxes":
                out[block_id] = bool(v.get("selected_options"))
            elif kind == "file_input":
                out[block_id] = [_file_record(f) for f in v.get("files") or []]
            elif kind == "users_select":
                out[block_id] = v.get("selected_user")
            else:
                out[block_id] = v.get("value")
    return out


def _is_ts(value: str | None) -> bool:
    return bool(value) and bool(re.fullmatch(r"\d+\.\d+", str(value)))


# ---- delivery context --------------------------------------------------------------------------


@dataclass
class Context:
    """Where a request came from, so its replies go back to the right place."""

    user: str
    channel: str | None = None
    thread: str | None = None  # Slack ts to reply under
    trigger_id: str | None = None
    response_url: str | None = None
    ephemeral_only: bool = False  # slash commands and ephemeral messages: answer privately
    view_id: str | None = None  # the modal a block action came from
    dm_only: bool = False  # a modal submission: what is said back goes to the user's DM
    key: str = ""  # base for delivery keys (event id, trigger id …)


# ---- the adapter -------------------------------------------------------------------------------



def _file_record(f: dict) -> dict:
    """A Slack file as the inquiry needs it; its size goes along so the 20 MB limit holds for Slack files too."""
    return {"id": f.get("id"), "name": f.get("name"), "url": f.get("url_private"), "size": f.get("size") or 0,
            "type": f.get("filetype") or ""}

class SlackAdapter(Adapter):
    """Owns the bolt App, the Web API client and the outbox sender for surface "slack".

    `verify_requests=False` leaves the signature check to whoever hands requests to `app.dispatch` (the
    HTTP route in bot/server.py does, with the same check bolt would make); Socket Mode needs none."""

    SURFACE = SURFACE
    TEXTS = TEXTS
    TRIAGE_SETTING = "SLACK_TRIAGE_CHANNEL"

    def __init__(self, services, *, client: WebClient | None = None, settings=None, workers: int = 8,
                 backoff: float = 0.5, verify_requests: bool = True):
        settings = settings or services.settings
        super().__init__(services, settings=settings, triage_channel=settings.slack_triage_channel)
        if not self.settings.slack_bot_token:
            raise SlackConfigError(bundled_text("slack_config", word="no_token"))
        if not (self.settings.slack_signing_secret or self.settings.slack_app_token):
            raise SlackConfigError(bundled_text("slack_config", word="no_secret"))
        self.client = client or make_client(self.settings, backoff=backoff)
        self.state = SlackState(services.store)
        self._users: dict[str, dict] = {}
        self._lock = threading.Lock()
        # bolt's listener threads only ack and hand over; the work (handlers, Web API calls) runs on `work`
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-listener")
        self.work = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-work")
        self.app = App(
            client=self.client,
            signing_secret=self.settings.slack_signing_secret or "",
            token_verification_enabled=False,  # auth.test is made below, tolerating failure
            process_before_response=False,
            request_verification_enabled=bool(self.settings.slack_signing_secret) and verify_requests,
            listener_executor=self.executor,
            name="ieum",
            logger=logging.getLogger("ieum.slack.bolt"),
        )
        if not self.authorize():
            self.later(self.authorize)  # once more in the background; bolt has a stand-in meanwhile
        self.attach_outbox()
        if self.outbox is not None:
            self.outbox.register_sender(SURFACE, self.send, delivered=self.delivered)
        try:
            self.state.prune_forms()
        except Exception as e:
            log.warning("slack: pruning stored form metadata failed: %s", type(e).__name__)
        register(self.app, self)

    def authorize(self) -> bool:
        """`auth.test` once, now, and hand the result to bolt's single-workspace authorization.

        Without it bolt calls `auth.test` (with the client's retries) on the first request, before the ack:
        a Web API that hangs would hold every ack. When the call fails, bolt gets a stand-in result (the
        configured token, no bot user id) so that it never makes the call itself; the caller retries in
        the background."""
        try:
            result = self.client.auth_test()
        except Exception as e:
            log.warning("slack: auth.test failed (%s); retrying in the background", type(e).__name__)
            from slack_sdk.web import SlackResponse

            stand_in = SlackResponse(client=self.client, http_verb="POST", api_url="auth.test", req_args={},
                                     data={"ok": True}, headers={}, status_code=200)
            for middleware in self._authorization():
                if not middleware.auth_test_result:
                    middleware.auth_test_result = stand_in
            return False
        for middleware in self._authorization():
            middleware.auth_test_result = result
        return True

    def later(self, fn, *args) -> None:
        """Run `fn(*args)` on the work executor (after the ack); a failure is logged, never lost silently."""
        def run():
            try:
                fn(*args)
            except Exception:
                log.exception("slack: background work %s failed", getattr(fn, "__name__", "?"))

        try:
            self.work.submit(run)
        except RuntimeError:  # shutting down
            log.warning("slack: work dropped at shutdown: %s", getattr(fn, "__name__", "?"))

    def close(self) -> None:
        self.work.shutdown(wait=True, cancel_futures=False)
        super().close()

    def _authorization(self) -> list:
        from slack_bolt.middleware.authorization import SingleTeamAuthorization

        return [m for m in self.app._middleware_list if isinstance(m, SingleTeamAuthorization)]

    @property
    def authorized(self) -> bool:
        """bolt has the `auth.test` result (no Web API call before the first listener runs)."""
        found = self._authorization()
        return bool(found) and all(m.auth_test_result for m in found)

    # -- building Incoming

    def user_profile(self, user: str, *, fetch: bool = True) -> dict:
        """The user's display name and title (users.info, cached). `fetch=False` (on an ack path): the cache
        only, the lookup made in the background for next time."""
        if not user:
            return {}
        with self._lock:
            if user in self._users:
                return self._users[user]
        if not fetch:
            self.later(self.user_profile, user)
            return {}
        profile: dict = {}
        try:
            resp = self.client.users_info(user=user)
            u = resp.get("user") or {}
            p = u.get("profile") or {}
            profile = {"name": p.get("display_name") or p.get("real_name") or u.get("real_name") or u.get("name") or "",
                       "position": p.get("title") or ""}
        except Exception as e:  # a name is nice to have, never required
            log.info("slack: users.info failed for a user: %s", type(e).__name__)
        with self._lock:
            self._users[user] = profile
        return profile

    def incoming(self, ctx: Context, *, fetch: bool = True, **kw) -> Incoming:
        profile = self.user_profile(ctx.user, fetch=fetch)
        direct = bool(ctx.channel and ctx.channel.startswith("D"))
        return Incoming(user=ctx.user, conversation=ctx.channel or f"slack:{ctx.user}", surface=SURFACE,
                        direct=direct, user_name=profile.get("name", ""), position=profile.get("position", ""),
                        **kw)

    def thread_key(self, channel: str | None, thread_ts: str | None) -> str | None:
        """The neutral name of a thread whose first message the bot posted with a delivery key."""
        if not channel or not thread_ts:
            return None
        return self.posts.key_at(channel, thread_ts)

    # -- running handlers

    def handle(self, incoming: Incoming, ctx: Context) -> list[Reply]:
        """Dispatch and deliver; a failure tells the user instead of going silent."""
        try:
            replies = self.dispatch(incoming)
        except Exception:
            log.exception("slack: handler failed for action=%s", incoming.action)
            replies = [Reply(self.texts["adapter_error"], kind="error", private=True, thread=ctx.thread)]
        self.deliver(replies, ctx)
        return replies

    # -- delivering

    def deliver(self, replies: Iterable[Reply], ctx: Context) -> None:
        out_of_band = []
        for i, reply in enumerate(replies):
            try:
                # privately here: an ephemeral message where the user acted, or a modal (needs a trigger)
                where = destination(reply, ctx.user, private_here=bool(ctx.channel or ctx.trigger_id),
                                    answer_here=not ctx.dm_only)
                if where != HERE:
                    out_of_band.append((i, reply))  # the user's DM or another user / conversation, by the outbox
                elif reply.kind == "form" and reply.form is not None:
                    self.open_form(reply, ctx)  # a modal is private to the user anyway
                else:
                    # e.g. 대상자 정보 보기: ephemeral where the user clicked, never stored in the outbox
                    self.reply_here(replace(reply, to_user=None), ctx)
            except Exception as e:
                log.warning("slack: delivering a reply failed: %s", type(e).__name__)
                if _definitely_not_delivered(e) and not reply.private and reply.kind != "form" and ctx.channel \
                        and not (ctx.ephemeral_only and ctx.response_url):
                    # Slack refused it (429/5xx after the client's own retries): keep it in the outbox, which
                    # retries with backoff; ambiguous failures (timeouts) are not resent, to never post twice.
                    thread = self.resolve_thread(reply.thread, ctx.channel) or ctx.thread
                    out_of_band.append((i, replace(reply, to_conversation=ctx.channel, to_user=None, thread=thread,
                                                   key=reply.key or f"slack:{ctx.key or uuid.uuid4().hex}:{i}:retry")))
        if not out_of_band:
            return
        try:
            # all the notices of one step are queued in one transaction: a crash never keeps half of them
            with self.services.store.transaction():
                for i, reply in out_of_band:
                    self.send_out_of_band(reply, key=reply.key or f"slack:{ctx.key or uuid.uuid4().hex}:{i}",
                                          default_user=ctx.user, drain=False)
        except Exception as e:
            log.warning("slack: queueing out-of-band replies failed: %s", type(e).__name__)
        if self.outbox is not None:
            self.drain()

    def reply_here(self, reply: Reply, ctx: Context) -> None:
        payload = message_payload(reply)
        thread = self.resolve_thread(reply.thread, ctx.channel) or ctx.thread
        if ctx.ephemeral_only and ctx.response_url:
            WebhookClient(ctx.response_url, timeout=10).send(
                response_type="ephemeral", replace_original=False, **payload)
            return
        if not ctx.channel:
            # no conversation to answer in (e.g. App Home): the user's DM
            self.send(f"user:{ctx.user}", reply)
            return
        if reply.private:
            kwargs = {"thread_ts": thread} if thread else {}
            self.client.chat_postEphemeral(channel=ctx.channel, user=ctx.user, **payload, **kwargs)
            return
        self.post(ctx.channel, reply, thread=thread)

    def post(self, channel: str, reply: Reply, *, thread: str | None = None) -> dict:
        """Post, or update in place when a message with this key was posted before (idempotent)."""
        payload = message_payload(reply)
        key = reply.key
        if key:
            known = self.posts.find(key)
            if known is not None:
                resp = self.client.chat_update(channel=known[0], ts=known[1], **payload)
                return resp.data if hasattr(resp, "data") else dict(resp)
        kwargs = {"thread_ts": thread} if thread else {}
        if key:
            # the delivery key travels with the message, so `delivered` can find it after a crash
            kwargs["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key[:200]}}
        resp = self.client.chat_postMessage(channel=channel, unfurl_links=False, **payload, **kwargs)
        if key and resp.get("ts"):
            self.posts.remember(key, resp.get("channel") or channel, resp["ts"], reply.topic)
        return resp.data if hasattr(resp, "data") else dict(resp)

    def edit(self, reply: Reply) -> None:
        """Replace the post `reply.edit` names (nothing when it was never posted here)."""
        known = self.posts.find(str(reply.edit))
        if known is not None:
            self.client.chat_update(channel=known[0], ts=known[1], **message_payload(reply))

    def resolve_thread(self, thread: str | None, channel: str | None = None) -> str | None:
        """The ts to reply under: a ts as it is, or the post with that delivery key (in `channel`)."""
        if not thread:
            return None
        if _is_ts(thread):
            return thread
        known = self.posts.find(thread)
        return known[1] if known and (channel is None or known[0] == channel) else None

    def dm_channel(self, user: str) -> str:
        channel = self.state.dm_channel(user)
        if channel:
            return channel
        resp = self.client.conversations_open(users=user)
        channel = resp["channel"]["id"]
        self.state.remember_dm(user, channel)
        return channel

    def target_channel(self, target: str) -> str:
        kind, _, ident = target.partition(":")
        if not ident:
            kind, ident = ("user", target) if target[:1] in ("U", "W") else ("channel", target)
        if kind == "user":
            return self.dm_channel(ident)
        return self.conversation_id(ident)

    def where(self, target: str, reply: Reply) -> tuple[str, str | None]:
        """The channel and thread an outbox reply goes to."""
        channel = self.target_channel(target)
        return channel, self.resolve_thread(reply.thread, channel)

    def send(self, target: str, reply: Reply) -> None:
        """The outbox sender for surface "slack": post (or update in place, by key) or raise."""
        if reply.edit:
            self.edit(reply)
            return
        channel, thread = self.where(target, reply)
        self.post(channel, reply, thread=thread)

    def delivered(self, target: str, reply: Reply, since: float) -> bool:
        """Whether a post with this reply's key reached Slack since `since` (the outbox asks before re-sending
        a row an earlier attempt may have sent): its metadata in the channel's or the thread's history."""
        key = reply.key
        if not key or reply.edit:
            return False  # an edit made twice changes nothing
        if self.posts.find(key) is not None:
            return True  # posted and remembered: a re-send would only update it
        channel, thread = self.where(target, reply)
        args = {"channel": channel, "include_all_metadata": True, "limit": 200, "oldest": f"{since - 60:.6f}"}
        try:
            if thread:
                resp = self.client.conversations_replies(ts=thread, **args)
            else:
                resp = self.client.conversations_history(**args)
        except SlackApiError as e:
            error = (e.response or {}).get("error")
            if error in ("missing_scope", "not_in_channel", "channel_not_found", "thread_not_found"):
                # the history cannot be read (an app installed without *:history): send rather than never
                log.warning("slack: cannot check an earlier send (%s); sending again", error)
                return False
            raise  # Slack unwell: the outbox retries later
        for msg in resp.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and (meta.get("event_payload") or {}).get("key") == key[:200]:
                self.posts.remember(key, channel, msg["ts"], reply.topic)
                return True
        return False

    # -- forms

    def form_meta(self, form: Form, ctx: Context) -> str:
        # only what the submission needs: the action, its state, where it was opened, live-suggestion fields
        meta = {"a": form.action, "s": form.state, "c": ctx.channel, "t": ctx.thread,
                "g": {f.name: f.suggest_action for f in form.fields if f.suggest_action}}
        text = json.dumps(meta, ensure_ascii=False)
        if len(text) <= MAX_METADATA:
            return text
        # too long for the view (the form's state is guarded by the handler); kept FORM_DAYS at most
        return json.dumps({"ref": self.state.save_meta(meta)})

    def read_meta(self, text: str) -> dict:
        try:
            meta = json.loads(text or "{}")
        except ValueError:
            return {}
        if "ref" in meta:
            return self.state.load_meta(meta["ref"])
        return meta

    def open_form(self, reply: Reply, ctx: Context) -> None:
        form = reply.form
        view = form_view(form, meta=self.form_meta(form, ctx), intro=reply.text, texts=self.texts)
        if ctx.view_id and ctx.trigger_id:
            self.client.views_push(trigger_id=ctx.trigger_id, view=view)
        elif ctx.trigger_id:
            self.client.views_open(trigger_id=ctx.trigger_id, view=view)
        else:
            # no trigger (an event): offer a button that opens it
            self.reply_here(Reply(reply.text or form.title, choices=[Choice(form.title[:MAX_LABEL], OPEN_INQUIRY, form.state)],
                                  private=True, thread=reply.thread), ctx)

    def submit_form(self, body: dict, ack) -> None:
        """view_submission: run the handler before acking, because errors go back in the ack."""
        view = body.get("view") or {}
        meta = self.read_meta(view.get("private_metadata", ""))
        user = (body.get("user") or {}).get("id", "")
        ctx = Context(user=user, channel=meta.get("c"), thread=meta.get("t"), key=f"view:{view.get('id', '')}",
                      dm_only=True)
        values = view_values(view)
        # the view id names this modal: Slack sends it again when the user re-submits the same modal (after
        # an error, or after a crash that left the first submission unacknowledged)
        # handled before the ack: the name from the cache (or the payload), never a users.info call here
        incoming = self.incoming(ctx, fetch=False, action=meta.get("a"), form=values, value=meta.get("s", ""),
                                 thread=ctx.thread, files=tuple(f for v in values.values() if isinstance(v, list) for f in v),
                                 submission=f"slack:{view['id']}" if view.get("id") else None)
        try:
            replies = self.dispatch(incoming)
        except Exception:
            log.exception("slack: form submission failed for action=%s", meta.get("a"))
            first = next(iter(values), None)
            if first:
                ack(response_action="errors", errors={first: self.texts["slack_submit_failed"]})
            else:
                ack()
            return
        rest = []
        acked = False
        for r in replies:
            # a form for the submitter (wherever the modal was opened: a DM, a channel, a shortcut) goes back
            # in this very modal; sent anywhere else it would lose what was typed and store it on the way
            if not acked and r.kind == "form" and r.form is not None and r.to_user in (None, user) \
                    and not r.to_conversation:
                changed = any(str(f.initial or "") != str(values.get(f.name) or "") for f in r.form.fields
                              if f.kind in ("text", "textarea") and f.name in values)
                if r.form.errors and not changed:
                    ack(response_action="errors", errors={k: v[:MAX_INPUT_LABEL] for k, v in r.form.errors.items()})
                else:
                    # the handler changed the values (e.g. moved personal data into 대상자 정보): show them,
                    # with its messages under the fields
                    new = form_view(r.form, meta=self.form_meta(r.form, ctx), intro=r.text, texts=self.texts)
                    ack(response_action="update", view=new)
                acked = True
            else:
                rest.append(r)
        if not acked:
            ack()
        if rest:
            self.later(self.deliver, rest, ctx)
        files = [f for f in incoming.files if f.get("id") and f.get("url")]
        if files and incoming.submission:
            self.later(self.fetch_files, incoming, files, ctx)

    def fetch_files(self, incoming: Incoming, files: list[dict], ctx: Context) -> None:
        """After the ack: fetch the modal's files from Slack (`url_private`, with the bot token) and hand their
        bytes to the handlers, which keep or drop each one; at most MAX_FILE_SIZE + 1 bytes are read."""
        fetched = tuple({"id": f["id"], "data": self.download(f["url"])} for f in files)
        replies = self.dispatch(replace(incoming, action=FILES_FETCHED, form={}, files=fetched))
        if replies:
            self.deliver(replies, ctx)

    def download(self, url: str) -> bytes | None:
        """A Slack file's bytes (None when it cannot be had); one byte over the limit shows it is too big."""
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.settings.slack_bot_token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.read(MAX_FILE_SIZE + 1)
        except (OSError, ValueError) as e:
            log.warning("slack: a file could not be fetched (%s)", type(e).__name__)
            return None

    def suggest(self, body: dict, action: dict) -> None:
        """A character typed in a field with `suggest_action`: show the handler's suggestions in the modal."""
        view = body.get("view") or {}
        meta = self.read_meta(view.get("private_metadata", ""))
        field = action.get("block_id") or action_name(action.get("action_id", ""))
        name = (meta.get("g") or {}).get(field)
        if not name:
            return
        typed = action.get("value") or ""
        user = (body.get("user") or {}).get("id", "")
        ctx = Context(user=user, channel=meta.get("c"), thread=meta.get("t"))
        incoming = self.incoming(ctx, action=name, value=typed, text=typed, form=view_values(view))
        replies = self.dispatch(incoming)
        form_reply = next((r for r in replies if r.kind == "form" and r.form is not None), None)
        if form_reply is not None:
            new = form_view(form_reply.form, meta=self.form_meta(form_reply.form, ctx), intro=form_reply.text,
                            texts=self.texts)
        else:
            blocks = [b for b in view.get("blocks", []) if not str(b.get("block_id", "")).startswith("ieum_suggest")]
            extra: list[dict] = []
            for r in replies:
                if r.text.strip() or r.choices:
                    extra += reply_blocks(r, max_blocks=6)[1]
            for n, b in enumerate(extra):
                b["block_id"] = f"ieum_suggest_{n}"
            pos = next((i + 1 for i, b in enumerate(blocks) if b.get("block_id") == field), len(blocks))
            blocks = blocks[:pos] + extra + blocks[pos:]
            new = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "private_metadata")
                   if k in view}
            new["blocks"] = blocks[:MAX_VIEW_BLOCKS]
        kwargs = {"hash": view["hash"]} if view.get("hash") else {}
        try:
            self.client.views_update(view_id=view.get("id"), view=new, **kwargs)
        except SlackApiError as e:
            if (e.response or {}).get("error") != "hash_conflict":  # typing went on; a newer update wins
                raise

    # -- App Home

    def home(self, user: str) -> None:
        replies = self.dispatch(self.incoming(Context(user=user), action=HOME))
        self.client.views_publish(user_id=user, view=home_view(replies))

    # -- reactions and messages

    def fetch_message(self, channel: str, ts: str) -> dict | None:
        resp = self.client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1)
        msgs = resp.get("messages") or []
        if not msgs:
            resp = self.client.conversations_replies(channel=channel, ts=ts, latest=ts, inclusive=True, limit=1)
            msgs = [m for m in resp.get("messages") or [] if m.get("ts") == ts]
        return msgs[0] if msgs else None

    def on_reaction(self, event: dict, event_id: str) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        reaction = (event.get("reaction") or "").split("::")[0]
        channel, ts, user = item.get("channel"), item.get("ts"), event.get("user", "")
        msg = self.fetch_message(channel, ts)
        if msg is None:
            return
        text = unescape(msg.get("text") or "")
        thread = msg.get("thread_ts") or ts
        ctx = Context(user=user, channel=channel, thread=thread, key=event_id)
        topic = self.posts.topic_at(channel, ts) or self.posts.topic_at(channel, thread)
        self.handle(self.incoming(ctx, action=REACTION, value=reaction, text=text, topic=topic), ctx)

    def on_message(self, event: dict, event_id: str, *, mention: bool = False) -> None:
        subtype = event.get("subtype")
        if subtype not in (None, "file_share", "thread_broadcast") or event.get("bot_id"):
            return
        channel, user = event.get("channel", ""), event.get("user", "")
        text = unescape(event.get("text") or "")
        if mention:
            text = re.sub(r"^\s*<@[A-Z0-9]+(\|[^>]*)?>[\s,:]*", "", text).strip()
        thread_ts = event.get("thread_ts")
        ref = self.thread_key(channel, thread_ts)
        files = tuple(_file_record(f) for f in event.get("files") or [])
        ctx = Context(user=user, channel=channel, thread=thread_ts or event.get("ts"), key=event_id)
        topic = self.posts.topic_at(channel, thread_ts) if thread_ts else None
        if topic and (channel == self.triage_channel or channel.startswith("D")):
            # a reply in the thread of a post with a topic: the handler decides where it goes
            incoming = self.incoming(ctx, action=THREAD_REPLY, value=topic, topic=topic, text=text, thread=ref,
                                     files=files)
            self.handle(replace(incoming, conversation=self.conversation_name(channel)), ctx)
            return
        if not mention and not (channel.startswith("D") or event.get("channel_type") == "im"):
            return  # plain channel chatter that is not a reply to one of our threads
        incoming = self.incoming(ctx, text=text, thread=ctx.thread, files=files)
        self.handle(incoming, ctx)

    # -- slash command, shortcuts, buttons

    def on_command(self, body: dict) -> None:
        text = (body.get("text") or "").strip()
        ctx = Context(user=body.get("user_id", ""), channel=body.get("channel_id"), trigger_id=body.get("trigger_id"),
                      response_url=body.get("response_url"), ephemeral_only=True,
                      key=f"cmd:{body.get('trigger_id') or uuid.uuid4().hex}")
        if not re.sub(r"[\s?]+", "", text):  # `/ieum` alone; the words after it are the handlers' to read
            self.handle(self.incoming(ctx, action=HELP), ctx)
            return
        self.handle(self.incoming(ctx, text=text), ctx)

    def on_shortcut(self, body: dict) -> None:
        msg = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        ctx = Context(user=(body.get("user") or {}).get("id", ""), channel=channel,
                      thread=msg.get("thread_ts") or msg.get("ts"), trigger_id=body.get("trigger_id"),
                      response_url=body.get("response_url"), ephemeral_only=True,
                      key=f"sc:{body.get('trigger_id') or uuid.uuid4().hex}")
        text = unescape(msg.get("text") or "")
        self.handle(self.incoming(ctx, action=OPEN_INQUIRY, value=text[:1500]), ctx)

    def on_block_action(self, body: dict) -> None:
        container = body.get("container") or {}
        user = (body.get("user") or {}).get("id", "")
        view = body.get("view")
        for action in body.get("actions") or []:
            if view and action.get("type") == "plain_text_input":
                self.suggest(body, action)
                continue
            name = action_name(action.get("action_id", ""))
            value = action.get("value")
            if value is None and action.get("selected_option"):
                value = action["selected_option"].get("value")
            if view is not None:
                meta = self.read_meta(view.get("private_metadata", ""))
                ctx = Context(user=user, channel=meta.get("c"), thread=meta.get("t"), trigger_id=body.get("trigger_id"),
                              view_id=view.get("id"), key=f"act:{body.get('trigger_id')}")
                replies = self.dispatch(self.incoming(ctx, action=name, value=value))
                forms = [r for r in replies if r.kind == "form" and r.form is not None]
                shown = [r for r in replies if r not in forms and not (r.to_user or r.to_conversation)]
                if shown:
                    self.client.views_push(trigger_id=body.get("trigger_id"),
                                           view=info_view(shown, title=shown[0].data.get("title") or self.texts["adapter_title"],
                                                          texts=self.texts))
                self.deliver([r for r in replies if r not in shown], ctx)
                continue
            channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
            msg = body.get("message") or {}
            thread_ts = msg.get("thread_ts") or container.get("thread_ts") or msg.get("ts") or container.get("message_ts")
            ref = self.thread_key(channel, thread_ts) if msg.get("thread_ts") else None
            root_key = self.thread_key(channel, msg.get("ts") or container.get("message_ts"))
            ctx = Context(user=user, channel=channel, thread=thread_ts, trigger_id=body.get("trigger_id"),
                          response_url=body.get("response_url"), ephemeral_only=bool(container.get("is_ephemeral")),
                          key=f"act:{body.get('trigger_id') or uuid.uuid4().hex}")
            incoming = self.incoming(ctx, action=name, value=value, thread=ref or root_key or thread_ts)
            self.handle(incoming, ctx)


def _definitely_not_delivered(error: Exception) -> bool:
    """A Web API error that proves the message was not posted: 429, 5xx, or no connection at all."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        return status == 429 or status >= 500
    return isinstance(error, ConnectionRefusedError)


# ---- bolt wiring (thin) --------------------------------------------------------------------------


def interaction_id(body: dict) -> str | None:
    """The identity of a click: who, when (Slack's action_ts), which button, what value. A replay of the
    same signed request has the same; typing in a modal field (live suggestions) is not deduplicated."""
    user = (body.get("user") or {}).get("id", "")
    parts = []
    for a in body.get("actions") or []:
        if a.get("type") == "plain_text_input":
            return None
        value = a.get("value")
        if value is None:
            value = (a.get("selected_option") or {}).get("value")
        parts.append(f"{a.get('action_ts')}|{a.get('action_id')}|{value}")
    if not parts or not user:
        return None
    import hashlib

    return "act:" + user + ":" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def register(app: App, adapter: SlackAdapter) -> None:
    """Listeners: ack at once, then hand over to the adapter (on bolt's listener executor)."""

    def first_time(body, request) -> bool:
        # Runs after the ack (events are acked by bolt before the listener runs), so the database
        # write stays out of the 3-second path. A Slack retry (X-Slack-Retry-Num) or a duplicate
        # delivery carries an event_id already claimed and is dropped here.
        event_id = body.get("event_id")
        if not event_id:
            return True
        try:
            if adapter.posts.claim(event_id):
                return True
        except Exception as e:
            # the database cannot take the claim (full disk, read-only): answer anyway rather than go
            # silent; a Slack retry of this very event in that state could be answered twice
            log.error("slack: event id not recorded (%s); answering without dedupe", type(e).__name__)
            return True
        retry = (request.headers.get("x-slack-retry-num") or [None])[0] if request is not None else None
        log.info("slack: duplicate event %s ignored (retry=%s)", event_id, retry)
        return False

    def once(identity: str | None, fn, *args) -> None:
        # after the ack, on the work executor: a replayed click or command (same identity) is dropped
        if identity and not adapter.posts.claim(identity[:500]):
            log.info("slack: repeated interaction ignored")
            return
        fn(*args)

    @app.event("app_mention")
    def on_mention(body, event, request):
        def run():
            if first_time(body, request):
                adapter.on_message(event, body.get("event_id", ""), mention=True)
        adapter.later(run)

    @app.event("message")
    def on_message(body, event, context, request):
        bot_user = context.get("bot_user_id")

        def run():
            if not first_time(body, request):
                return
            if bot_user and f"<@{bot_user}>" in (event.get("text") or "") and not event.get("channel", "").startswith("D"):
                return  # the app_mention event handles it
            adapter.on_message(event, body.get("event_id", ""))
        adapter.later(run)

    @app.event("reaction_added")
    def on_reaction(body, event, request):
        def run():
            if first_time(body, request):
                adapter.on_reaction(event, body.get("event_id", ""))
        adapter.later(run)

    @app.event("app_home_opened")
    def on_home(body, event, request):
        def run():
            if event.get("tab", "home") == "home" and first_time(body, request):
                adapter.home(event.get("user", ""))
        adapter.later(run)

    for name in ("reaction_removed", "app_uninstalled", "tokens_revoked", "member_joined_channel"):
        app.event(name)(lambda: None)

    @app.command("/ieum")
    def on_command(ack, body):
        ack()
        trigger = body.get("trigger_id")
        adapter.later(once, f"cmd:{trigger}" if trigger else None, adapter.on_command, body)

    @app.shortcut(SHORTCUT_CALLBACK)
    def on_shortcut(ack, body):
        ack()
        trigger = body.get("trigger_id")
        adapter.later(once, f"sc:{trigger}" if trigger else None, adapter.on_shortcut, body)

    @app.action(re.compile(".+"))
    def on_action(ack, body):
        ack()
        adapter.later(once, interaction_id(body), adapter.on_block_action, body)

    @app.view_submission(FORM_CALLBACK)
    def on_submit(ack, body):
        adapter.submit_form(body, ack)

    @app.view_closed(FORM_CALLBACK)
    def on_closed(ack):
        ack()

    @app.error
    def on_error(error, body):
        log.warning("slack: listener error %s", type(error).__name__, exc_info=error)


def create(services, *, client: WebClient | None = None, settings=None, **kw) -> SlackAdapter:
    return SlackAdapter(services, client=client, settings=settings, **kw)
