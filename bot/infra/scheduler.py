"""APScheduler wiring: a frequent tick that materialises due reminders into the outbox and drains it.

Campaign times are *not* APScheduler triggers: the tick asks `services.clock.now()` (which the
rehearsal clock IEUM_NOW may shift) what is due, so a rehearsal, a restart or a late start all see
the same occurrences, and the outbox's delivery keys make every send happen once.

Sync mode uses a BackgroundScheduler; async mode (`start()` called inside a running event loop) an
AsyncIOScheduler bound to that loop, whose executor runs the (blocking) tick in a worker thread.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

from bot.core.clock import SEOUL

log = logging.getLogger(__name__)

TICK_SECONDS = 30
JOB_DEFAULTS = {
    # A tick that could not run on time (process busy, machine asleep) still runs once if it is at most
    # this late; ticks that piled up run once (coalesce). Reminder grace itself is per rule.
    "misfire_grace_time": 120,
    "coalesce": True,
    "max_instances": 1,
}


def tick(services) -> dict[str, int]:
    """One pass: enqueue due reminders and inquiry warnings, send what is due, prune what is long done."""
    out: dict[str, Any] = {}
    reminders = services.reminders
    now = services.clock.now()
    if reminders is not None:
        try:
            out.update(reminders.materialize(now))
        except Exception:
            log.exception("scheduler: materialising reminders failed")
        try:
            out["inquiry_warnings"] = reminders.inquiry_warnings(now)
        except Exception:
            log.exception("scheduler: inquiry warnings failed")
    inquiries = getattr(services, "inquiries", None)
    if inquiries is not None:
        try:  # FAQ entries another process on the same database promoted: answered here too
            out["promoted"] = inquiries.load_promoted()
        except Exception:
            log.exception("scheduler: reading promoted FAQ entries failed")
    privacy = getattr(services, "privacy", None)
    if privacy is not None:
        try:  # destruction (파기) runs once a day of the bot's clock, on the first tick of that day
            if (done := privacy.daily(now)) is not None:
                out["destroyed"] = len(done["destroyed"])
        except Exception:
            log.exception("scheduler: the daily destruction (파기) failed")
    outbox = services.outbox
    if outbox is not None:
        try:
            out["sent"] = outbox.drain()
        except Exception:
            log.exception("scheduler: draining the outbox failed")
        try:
            out["pruned"] = outbox.prune()  # at most hourly: finished rows older than 30 days
        except Exception:
            log.exception("scheduler: pruning the outbox failed")
    return out


class Scheduler:
    """Owns the APScheduler instance; `start()` picks background or asyncio mode by itself."""

    def __init__(self, services, *, interval: float = TICK_SECONDS):
        self.services = services
        self.interval = interval
        self.scheduler: BackgroundScheduler | AsyncIOScheduler | None = None

    @property
    def mode(self) -> str:
        return "asyncio" if isinstance(self.scheduler, AsyncIOScheduler) else "background"

    def _job(self) -> None:
        result = tick(self.services)
        if any(result.get(k) for k in ("enqueued", "skipped", "sent", "inquiry_warnings")):
            log.info("scheduler tick: %s", result)

    def start(self):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self.scheduler = AsyncIOScheduler(event_loop=loop, timezone=SEOUL, job_defaults=JOB_DEFAULTS)
        else:
            self.scheduler = BackgroundScheduler(timezone=SEOUL, job_defaults=JOB_DEFAULTS, daemon=True)
        self.scheduler.add_job(self._job, "interval", seconds=self.interval, id="ieum.tick",
                               replace_existing=True, next_run_time=_wall_now())
        self.scheduler.start()
        log.info("scheduler started (%s, every %ss)", self.mode, self.interval)
        return self.scheduler

    def shutdown(self, wait: bool = False) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=wait)


def _wall_now():
    # APScheduler's own triggers run on wall time; only the first-run instant is given here.
    from datetime import datetime

    return datetime.now(SEOUL)


def start(services, *, interval: float = TICK_SECONDS) -> Scheduler:
    """Start the reminder scheduler for `services` (called by the bot's run command)."""
    s = Scheduler(services, interval=interval)
    s.start()
    services.scheduler = s
    return s
