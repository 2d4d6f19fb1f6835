"""Operations endpoints: `/metrics` (Prometheus text format) and `/healthz` (database and scheduler).

Counters that only this process sees (answers, declines, handler errors, HTTP ack latency) live in a
`prometheus_client` registry per `Services`; numbers the database already knows durably (inquiries by
status, reminder deliveries and failed attempts, the outbox backlog) are read at scrape time, so they
survive restarts and agree across processes sharing one database.

`install(web_app, services)` adds both routes and the timing middleware; `handlers.router.dispatch`
counts every Incoming through `services.metrics` when it is installed. Nothing here ever records user text.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot.inquiries.service import status_counts

log = logging.getLogger(__name__)

# Slack wants an ack within 3 s; the buckets resolve the interesting part below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
ACK_ROUTES = {"/slack/events": "slack", "/api/messages": "teams"}
HEALTH_TIMEOUT = 3.0
SERVICES_KEY = web.AppKey("services", object)


class _DatabaseCollector:
    """Gauges and counters read from the database at scrape time."""

    def __init__(self, services):
        self.services = services

    def describe(self):
        return []

    def collect(self):
        try:
            rows = _read(self.services, [
                ("inquiries", status_counts),  # the inquiries feature's own query
                ("reminders", "SELECT status, count(*), coalesce(sum(attempts), 0) FROM outbox"
                              " WHERE substr(key, 1, 9) = 'reminder:' GROUP BY status"),
                ("outbox", "SELECT surface, status, count(*) FROM outbox GROUP BY surface, status"),
            ])
        except Exception as e:  # a scrape must still answer (the health check reports the cause)
            log.warning("metrics: reading the database failed: %s", type(e).__name__)
            up = GaugeMetricFamily("ieum_database_up", "1 when the database answered the scrape's queries")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("ieum_database_up", "1 when the database answered the scrape's queries")
        up.add_metric([], 1)
        yield up
        inquiries = GaugeMetricFamily("ieum_inquiries", "Inquiries stored, by status", labels=["status"])
        for status, n in rows["inquiries"].items():
            inquiries.add_metric([status], n)
        yield inquiries
        deliveries = GaugeMetricFamily("ieum_reminder_deliveries", "Reminder deliveries in the outbox, by status",
                                       labels=["status"])
        sends = CounterMetricFamily("ieum_reminder_sends", "Reminder messages delivered")
        failures = CounterMetricFamily("ieum_reminder_send_failures", "Reminder send attempts that failed")
        # every attempt failed except the one that delivered a sent row and the one in flight
        sent = in_flight = attempts_total = 0
        for status, n, attempts in rows["reminders"]:
            deliveries.add_metric([status], n)
            attempts_total += attempts
            sent += n if status == "sent" else 0
            in_flight += n if status == "sending" else 0
        failed_attempts = attempts_total - sent - in_flight
        sends.add_metric([], sent)
        failures.add_metric([], max(failed_attempts, 0))
        yield deliveries
        yield sends
        yield failures
        outbox = GaugeMetricFamily("ieum_outbox", "Out-of-band deliveries by surface and status",
                                   labels=["surface", "status"])
        for surface, status, n in rows["outbox"]:
            outbox.add_metric([surface, status], n)
        yield outbox


def _read(services, queries: list[tuple[str, str | Callable[[sqlite3.Connection], Any]]]) -> dict[str, Any]:
    """Run read-only queries on a connection of their own (never inside another thread's transaction): SQL
    on the tables of this layer, or a feature's reading function, given the connection."""
    def run(conn: sqlite3.Connection) -> dict[str, Any]:
        return {name: q(conn) if callable(q) else conn.execute(q).fetchall() for name, q in queries}

    store = services.store
    if store.path is None:
        return run(store.conn)
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, timeout=HEALTH_TIMEOUT)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(HEALTH_TIMEOUT * 1000)}")
        return run(conn)
    finally:
        conn.close()


class Metrics:
    """The process's own counters plus the database collector, in one registry."""

    def __init__(self, services, *, actions: Iterable[str] = ()):
        self.known_actions = frozenset(actions)  # label values stay bounded: others count as "unknown"
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.answers = Counter("ieum_answers", "Questions answered from the knowledge base", ["surface"], registry=r)
        self.declines = Counter("ieum_declines", "Questions declined (no good answer)", ["surface", "reason"],
                                registry=r)
        self.actions = Counter("ieum_actions", "Button clicks and form submissions handled", ["action"], registry=r)
        self.errors = Counter("ieum_handler_errors", "Handler calls that raised", ["kind"], registry=r)
        self.requests = Counter("ieum_http_requests", "HTTP requests on the chat endpoints", ["route", "status"],
                                registry=r)
        self.ack = Histogram("ieum_ack_seconds", "Time to acknowledge a chat request (HTTP response)", ["route"],
                             buckets=ACK_BUCKETS, registry=r)
        r.register(_DatabaseCollector(services))

    def observe(self, incoming, replies) -> None:
        surface = getattr(incoming, "surface", "") or "console"
        if incoming.action:
            # label values are bounded: an unknown (forged) action name is counted as "unknown"
            self.actions.labels(incoming.action if incoming.action in self.known_actions else "unknown").inc()
        for r in replies or ():
            if r.kind == "answer":
                self.answers.labels(surface).inc()
            elif r.kind == "decline":
                reason = str((r.data or {}).get("reason") or "unknown")[:32]
                self.declines.labels(surface, reason).inc()

    def failed(self, incoming) -> None:
        self.errors.labels("action" if incoming.action else "message").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


# ---- HTTP ----------------------------------------------------------------------------------------


def _services(request: web.Request):
    return request.app[SERVICES_KEY]


async def metrics_view(request: web.Request) -> web.Response:
    services = _services(request)
    m = services.metrics
    body = await asyncio.get_running_loop().run_in_executor(None, m.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def check_health(services) -> dict:
    """{"ok": bool, "database": {...}, "scheduler": {...}}: a real query, writability, the tick job."""
    out: dict = {"ok": True}
    db: dict = {}
    t0 = time.perf_counter()
    try:
        rows = _read(services, [("migrations", "SELECT count(*) FROM _migrations"),
                                ("inquiries", status_counts)])
        db["migrations"] = rows["migrations"][0][0]
        db["ok"] = db["migrations"] > 0
    except Exception as e:
        db.update(ok=False, error=type(e).__name__)
    path = services.store.path
    if path is not None:
        db["writable"] = os.access(path, os.W_OK) and os.access(Path(path).parent, os.W_OK)
        if not db["writable"]:
            db["ok"] = False
            db.setdefault("error", "read-only")
    db["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["database"] = db
    sched = services.scheduler
    if sched is None:
        out["scheduler"] = {"ok": True, "running": False, "note": "not started in this process"}
    else:
        s: dict = {"running": bool(sched.scheduler is not None and sched.scheduler.running)}
        job = sched.scheduler.get_job("ieum.tick") if s["running"] else None
        s["next_tick"] = job.next_run_time.isoformat() if job is not None and job.next_run_time else None
        s["ok"] = s["running"] and s["next_tick"] is not None
        out["scheduler"] = s
    # deliveries given up on are reported, not fatal: the process is healthy, a message was not delivered
    try:
        rows = _read(services, [("counts", "SELECT status, count(*) FROM outbox GROUP BY status"),
                                ("last", "SELECT key, surface, last_error FROM outbox WHERE status='failed'"
                                         " ORDER BY id DESC LIMIT 1")])
        counts = dict(rows["counts"])
        out["outbox"] = {s: counts.get(s, 0) for s in ("failed", "pending", "sending")}
        if rows["last"]:
            key, surface, error = rows["last"][0]
            out["outbox"]["last_failed"] = {"key": key, "surface": surface, "error": (error or "")[:120]}
    except Exception as e:
        out["outbox"] = {"error": type(e).__name__}
    out["ok"] = bool(db["ok"] and out["scheduler"]["ok"])
    return out


async def healthz(request: web.Request) -> web.Response:
    services = _services(request)
    loop = asyncio.get_running_loop()
    try:
        result = await asyncio.wait_for(loop.run_in_executor(None, check_health, services), HEALTH_TIMEOUT + 2)
    except asyncio.TimeoutError:
        result = {"ok": False, "database": {"ok": False, "error": "timeout"}}
    return web.json_response(result, status=200 if result["ok"] else 503)


@web.middleware
async def timing(request: web.Request, handler):
    route = ACK_ROUTES.get(request.path)
    if route is None:
        return await handler(request)
    m = request.app[METRICS_KEY]
    t0 = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        m.ack.labels(route).observe(time.perf_counter() - t0)
        m.requests.labels(route, str(status)).inc()


METRICS_KEY = web.AppKey("metrics", Metrics)


def install(web_app: web.Application, services, *, actions: Iterable[str] = ()) -> Metrics:
    """`/metrics`, `/healthz` (replacing a plain one) and the ack-latency middleware."""
    m = services.metrics
    if m is None:
        m = Metrics(services, actions=actions)
        services.metrics = m
    web_app[METRICS_KEY] = m
    web_app.middlewares.append(timing)
    web_app.router.add_get("/metrics", metrics_view)
    web_app.router.add_get("/healthz", healthz)
    return m
