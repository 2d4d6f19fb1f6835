"""The bot's HTTP server (`ieum serve --port 3000`): `/healthz` plus the routes each chat surface mounts.

Surfaces plug in through `MOUNTS`: functions `mount(web_app, services) -> closer | None` that add their
routes to the aiohttp application (Slack adds `/slack/events`; Teams can add `/api/messages` the same
way). With `SLACK_APP_TOKEN` set, Slack runs in Socket Mode instead (no public URL needed) and the server
keeps only `/healthz`.
"""
from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from aiohttp import web

from bot.metrics import SERVICES_KEY, install as install_metrics
from bot.surfaces.teams.adapter import TEAMS_KEY, mount as mount_teams  # noqa: F401  (TEAMS_KEY for callers)
from bot.surfaces.web.app import mount as mount_console
from handlers.router import ACTIONS

log = logging.getLogger(__name__)

SLACK_KEY = web.AppKey("slack", object)
SLACK_SOCKET_KEY = web.AppKey("slack_socket", object)
Mount = Callable[[web.Application, object], Callable[[], None] | None]


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def mount_slack(web_app: web.Application, services, *, adapter=None, socket_mode: bool | None = None):
    """`/slack/events` for events, slash commands and interactivity; Socket Mode when SLACK_APP_TOKEN is set."""
    settings = services.settings
    if adapter is None:
        if not settings.slack_enabled:
            return None
        from bot.surfaces.slack.adapter import SlackAdapter

        # the route below checks every request's signature before bolt sees it: bolt need not check again
        adapter = SlackAdapter(services, verify_requests=False)
    web_app[SLACK_KEY] = adapter
    closers = [adapter.close]
    use_socket = bool(settings.slack_app_token) if socket_mode is None else socket_mode
    if use_socket:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(adapter.app, app_token=settings.slack_app_token, web_client=adapter.client)
        handler.connect()
        web_app[SLACK_SOCKET_KEY] = handler
        closers.insert(0, handler.close)
        log.info("slack: socket mode connected")
    if settings.slack_signing_secret:
        executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="slack-ack")
        closers.append(lambda: executor.shutdown(wait=False))
        from slack_bolt.adapter.aiohttp import to_aiohttp_response
        from slack_bolt.request import BoltRequest
        from slack_sdk.signature import SignatureVerifier

        verifier = SignatureVerifier(settings.slack_signing_secret)

        async def slack_events(request: web.Request) -> web.Response:
            raw = await request.read()
            headers = {k.lower(): v for k, v in request.headers.items()}
            # Verify the signature over the raw bytes first: forged, stale (more than 5 minutes off) or
            # garbled requests are refused with 401 before anything is decoded or parsed, so bad bytes or a
            # bogus charset never reach a decoder unsigned. This is the check bolt's RequestVerification
            # makes, so the adapter is built without it.
            if not _signed(verifier, raw, headers):
                return web.Response(status=401, text="invalid request")
            try:
                body = raw.decode(request.charset or "utf-8")  # Slack sends UTF-8
            except (LookupError, UnicodeDecodeError):
                return web.Response(status=400, text="invalid request")
            try:
                bolt_req = BoltRequest(body=body, query=request.query_string, headers=headers)
            except Exception:  # a signed body bolt cannot parse (e.g. JSON `null`)
                return web.Response(status=400, text="invalid request")
            try:
                if request.content_type == "application/json" and adapter.authorized:
                    # Events API: bolt acks before any listener runs, so dispatch is short; run it inline
                    # (no thread hop: the ack stays fast while listeners are busy). Only once bolt has the
                    # auth.test result: otherwise it would call Slack (with retries) right here, on the loop.
                    resp = adapter.app.dispatch(bolt_req)
                else:
                    # commands and interactivity wait for the listener's ack() (a form submission runs its
                    # handler first): a worker thread, so the event loop never blocks.
                    loop = asyncio.get_running_loop()
                    resp = await loop.run_in_executor(executor, adapter.app.dispatch, bolt_req)
            except Exception as e:
                # bolt's own error path can fail on a signed but malformed payload (e.g. `"actions": ""`)
                log.warning("slack: malformed request refused (bolt raised %s)", type(e).__name__)
                return web.Response(status=400, text="invalid request")
            if resp.status >= 500:
                # Our listeners ack before any work, so a 500 from bolt means its own parsing of a signed
                # but malformed payload failed (e.g. `"view": ""`): the request was bad, not the server.
                log.warning("slack: malformed request refused (bolt answered %s)", resp.status)
                return web.Response(status=400, text="invalid request")
            return await to_aiohttp_response(resp)

        web_app.router.add_post("/slack/events", slack_events)

    def close() -> None:
        for fn in closers:
            try:
                fn()
            except Exception as e:
                log.warning("slack: close failed: %s", type(e).__name__)

    return close


def _signed(verifier, raw: bytes, headers: dict) -> bool:
    """Slack's v0 signature of the raw body. slack_sdk's SignatureVerifier decodes a bytes body as UTF-8
    before hashing (a signed body that is not UTF-8 would raise), so for those bytes the same HMAC is taken
    here over the bytes as sent; its own check still decides everything else (timestamp window, digest)."""
    timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
    try:
        return verifier.is_valid(raw.decode("utf-8"), timestamp, signature)
    except UnicodeDecodeError:
        pass
    except (TypeError, ValueError):  # a missing or non-numeric timestamp
        return False
    try:
        if abs(time.time() - int(timestamp)) > 60 * 5:
            return False
    except ValueError:
        return False
    digest = hmac.new(verifier.signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)


# Surfaces that add routes; another surface appends its own `mount` here.
MOUNTS: list[Mount] = [mount_slack, mount_teams, mount_console]


def build_web_app(services, *, mounts: list[Mount] | None = None) -> web.Application:
    web_app = web.Application(client_max_size=4 * 1024 * 1024)
    web_app[SERVICES_KEY] = services
    install_metrics(web_app, services, actions=ACTIONS)  # /healthz (database + scheduler), /metrics, ack latency
    closers = []
    for mount in (MOUNTS if mounts is None else mounts):
        closer = mount(web_app, services)
        if closer:
            closers.append(closer)

    async def on_cleanup(app: web.Application) -> None:
        for closer in reversed(closers):
            await asyncio.get_running_loop().run_in_executor(None, closer)

    web_app.on_cleanup.append(on_cleanup)
    return web_app


OUTBOX_POLL_SECONDS = 2.0


async def _drain_outbox(services, every: float, *, only_when_due: bool = False) -> None:
    # Under `serve` (every OUTBOX_POLL_SECONDS beside the scheduler's tick, draining only when a row is due)
    # and `ServerThread(drain_every=…)`.
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        outbox = getattr(services, "outbox", None)
        if outbox is not None:
            try:
                if only_when_due and not await loop.run_in_executor(None, outbox.due):
                    continue
                await loop.run_in_executor(None, outbox.drain)
            except Exception as e:
                log.warning("outbox drain failed: %s", type(e).__name__)


class ServerThread:
    """The server on its own event loop in a background thread (tests, the bench, embedding)."""

    def __init__(self, services, *, host: str = "127.0.0.1", port: int = 0, mounts: list[Mount] | None = None,
                 drain_every: float | None = None):
        self.services = services
        self.host = host
        self.port = port
        self.mounts = mounts
        self.drain_every = drain_every
        self.web_app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ieum-http", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(15)
        if self._error:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as e:
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    async def _start(self) -> None:
        self.web_app = build_web_app(self.services, mounts=self.mounts)
        if self.drain_every:
            task = asyncio.get_running_loop().create_task(_drain_outbox(self.services, self.drain_every))
            self.web_app.on_cleanup.insert(0, lambda app: _cancel(task))
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()


async def _stop_scheduler(scheduler) -> None:
    # A tick may be running in a worker thread: let it finish before the store is closed.
    await asyncio.get_running_loop().run_in_executor(None, lambda: scheduler.shutdown(wait=True))


def _warm_up(services) -> None:
    """Do the lazy first-use work (template compilation, the holiday calendars) before traffic arrives, so the
    first burst of requests does not wait for it."""
    from handlers.answers import result_text

    for question in ("희망이음 개통일", "점심 메뉴"):
        result_text(services.engine.answer(question), services.templates)
    for entry in services.kb.entries:
        services.templates.render_answer(entry)
    # The scheduler's first tick builds the holiday calendars (~50 ms): do it now, not mid-traffic.
    from bot.infra.scheduler import tick

    tick(services)
    # Everything built so far lives as long as the process: keep the cycle collector from walking it
    # again and again (a full collection is a ~30 ms pause every ack would wait for).
    gc.collect()
    gc.freeze()


def main(settings=None, *, host: str = "0.0.0.0", port: int = 3000) -> int:
    """Run the server until interrupted."""
    from bot.core.config import Settings
    from bot.services import build

    settings = settings or Settings.from_env()
    # Listener threads do CPU work (search); a shorter GIL switch interval keeps acks prompt.
    sys.setswitchinterval(0.001)
    from bot.infra.logs import setup as setup_logging

    setup_logging(settings.log_level)  # replaces the CLI's WARNING-only handler (JSON off a terminal)
    services = build(settings)
    _warm_up(services)
    if not settings.slack_enabled:
        log.warning("Slack 토큰(SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET 또는 SLACK_APP_TOKEN)이 없어 /healthz만 제공합니다.")

    async def make() -> web.Application:
        web_app = build_web_app(services)
        # reminders and inquiry warnings fire under `serve` too, and the same tick drains the outbox
        from bot.infra.scheduler import TICK_SECONDS, start as start_scheduler

        tick = float(settings.extra.get("IEUM_TICK_SECONDS") or TICK_SECONDS)
        scheduler = start_scheduler(services, interval=tick)
        web_app.on_cleanup.insert(0, lambda app: _stop_scheduler(scheduler))
        # what another process queued (an answer given with `ieum inquiries answer`) goes out within seconds,
        # not at the next tick: a due-row poll is one indexed query
        poll = float(settings.extra.get("IEUM_OUTBOX_POLL_SECONDS") or OUTBOX_POLL_SECONDS)
        if poll > 0:
            poller = asyncio.get_running_loop().create_task(_drain_outbox(services, poll, only_when_due=True))
            web_app.on_cleanup.insert(0, lambda app: _cancel(poller))
        # crash recovery: notifications of inquiries committed just before a kill (bot/recovery.py)
        from handlers.recovery import run as recover

        from handlers.recovery import SETTLE

        settle = float(settings.extra.get("IEUM_RECOVERY_SETTLE_SECONDS") or SETTLE.total_seconds())
        recovery = asyncio.get_running_loop().create_task(recover(services, settle_seconds=settle))
        web_app.on_cleanup.insert(0, lambda app: _cancel(recovery))
        return web_app

    try:
        web.run_app(make(), host=host, port=port, access_log=None, print=lambda *a: log.info(*a))
    finally:
        services.close()
    return 0
