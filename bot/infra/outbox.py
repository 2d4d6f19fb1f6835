"""Durable, exactly-once out-of-band delivery: reminders, inquiry notifications, triage posts.

Every message gets a delivery key written under a UNIQUE constraint *before* it is sent, so a restart,
a late start or a second bot process on the same database never sends it twice. `drain()` claims each
due row with a single UPDATE … RETURNING (only one connection can win it; on PostgreSQL the row is picked
FOR UPDATE SKIP LOCKED), sends it outside any
transaction, then records the outcome. A failing sender is retried with exponential backoff, a
bounded number of times, until it succeeds or the item expires.

A process that dies between claiming and recording leaves the row 'sending' with a lease. A process on
the same host whose worker id names a dead process (or its own pid under an earlier worker id: a restarted
container) takes such rows back at once (`reclaim_dead`, run by every drain); rows of other hosts wait for
their lease. A row that may have gone out (claimed before, by a process that died or whose send failed
ambiguously) is re-sent only after the surface's `delivered` check (`register_sender(..., delivered=…)`)
says it did not arrive: Slack looks for the delivery key in the conversation's history.

A reply whose `data` has `"sensitive": True` (decrypted subject info on its way to its reader), or that holds
a form (whose fields may carry typed values or subject info), is stored encrypted with the subject-info
cipher (`bot.privacy`), and its payload is wiped once the row is final (sent, expired, failed): neither form
values nor personal data ever sit in the outbox table in plain text, at any status.

A row that finally fails is logged at ERROR, counted (`ieum_outbox{status="failed"}` in /metrics) and
reported by `/healthz` (its `outbox` detail); `on_failure` callbacks tell someone where possible (the
handlers decide whom: `handlers.triage.undelivered`).
"""
from __future__ import annotations

import json
import time
import logging
import os
import socket
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any, Callable, Iterable

from bot.core.clock import Clock
from bot.core.messages import Choice, Field, Form, Reply
from bot.core.privacy import Cipher
from bot.infra.store import Migrations, Store

log = logging.getLogger(__name__)

Sender = Callable[[str, Reply], None]
# `delivered(target, reply, since)`: True when the reply (its `key`) is known to have arrived since `since`
# (epoch seconds), False when it certainly did not; raises when it cannot tell (the row is retried later).
Delivered = Callable[[str, Reply, float], bool]

# statuses
PENDING, SENDING, SENT, FAILED, EXPIRED, SKIPPED = "pending", "sending", "sent", "failed", "expired", "skipped"
FINAL = (SENT, FAILED, EXPIRED, SKIPPED)

# Never pruned: an inquiry's deadline warnings stand for as long as the inquiry (an overdue one would
# otherwise be warned about again once its warning had been pruned).
KEEP_PREFIXES = ("inquiry-warn:",)

# A sealed (encrypted) payload starts with this; a plain one is JSON and starts with '{'.
SEALED = "sealed:"
WIPED = "{}"
# In an UPDATE that makes a row final: a sealed payload is not kept once it cannot be sent any more.
_WIPE_SEALED = f"reply = CASE WHEN substr(reply, 1, {len(SEALED)}) = '{SEALED}' THEN '{WIPED}' ELSE reply END"


class OutboxError(RuntimeError):
    """An outbox operation cannot be carried out."""


MIGRATIONS = Migrations("outbox")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("outbox_001_create")
def _create(db) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS outbox (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            surface TEXT NOT NULL,
            target TEXT NOT NULL,
            reply TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL,
            expires_at REAL,
            next_attempt REAL NOT NULL,
            lease_until REAL,
            claimed_by TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT,
            note TEXT
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt)")


@MIGRATIONS("outbox_002_tried_at")
def _tried_at(db) -> None:
    # wall time of the first claim: how far back a surface looks for a send that may have gone out
    db.execute("ALTER TABLE outbox ADD COLUMN tried_at REAL")


# ---- Reply <-> JSON ---------------------------------------------------------------------------


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    return asdict(reply)


def reply_from_dict(data: dict[str, Any]) -> Reply:
    data = dict(data)
    data["choices"] = [c if isinstance(c, Choice) else Choice(**c) for c in data.get("choices") or []]
    form = data.get("form")
    if isinstance(form, dict):
        fields = []
        for f in form.get("fields") or []:
            f = dict(f)
            f["options"] = [tuple(o) for o in f.get("options") or []]
            fields.append(Field(**f))
        data["form"] = Form(**{**form, "fields": fields})
    known = Reply.__dataclass_fields__
    return Reply(**{k: v for k, v in data.items() if k in known})


def to_json(reply: Reply) -> str:
    return json.dumps(reply_to_dict(reply), ensure_ascii=False, default=str)


def from_json(text: str) -> Reply:
    return reply_from_dict(json.loads(text))


# ---- the outbox -------------------------------------------------------------------------------


def _ts(dt: datetime) -> float:
    return dt.timestamp()


class Outbox:
    """Delivery keys, claims, retries. One instance per process; any number of processes per database."""

    def __init__(self, store: Store, clock: Clock, *, max_attempts: int = 8, backoff: float = 30.0,
                 max_backoff: float = 3600.0, lease: float = 300.0, cipher: Cipher | None = None):
        self.store = store
        self.clock = clock
        # Without the services' cipher (a bare outbox in a script), sensitive payloads get a key that
        # lives as long as the process: they can still be sent by it, and are useless to anyone else.
        self.cipher = cipher
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.lease = lease
        self.senders: dict[str, Sender] = {}
        self.checks: dict[str, Delivered] = {}
        self.on_failure: list[Callable[[dict, Reply], None]] = []
        self._pruned_at: float | None = None
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _LIVE_WORKERS.add(self.worker)

    # -- configuration

    def register_sender(self, surface: str, fn: Sender, *, delivered: Delivered | None = None) -> None:
        """`fn(target, reply)` delivers or raises; it is called at most once per claim. `delivered` tells
        whether an earlier attempt that may have gone out did arrive (then the row is recorded sent)."""
        self.senders[surface] = fn
        if delivered is not None:
            self.checks[surface] = delivered
        else:
            self.checks.pop(surface, None)

    # -- writing

    def enqueue(self, reply: Reply, *, key: str, surface: str, target: str,
                not_before: datetime | None = None, expires_at: datetime | None = None) -> bool:
        """Record a delivery; False when the key already exists (it will never be sent twice)."""
        return self._insert(reply, key=key, surface=surface, target=target, not_before=not_before,
                            expires_at=expires_at, status=PENDING)

    def skip(self, reply: Reply | None, *, key: str, surface: str, target: str, note: str = "",
             not_before: datetime | None = None) -> bool:
        """Record a delivery as deliberately not made (e.g. missed beyond its grace); False if known."""
        return self._insert(reply or Reply(""), key=key, surface=surface, target=target,
                            not_before=not_before, expires_at=None, status=SKIPPED, note=note)

    def _insert(self, reply: Reply, *, key: str, surface: str, target: str, not_before, expires_at,
                status: str, note: str = "") -> bool:
        if not key:
            raise OutboxError("delivery key is required")
        now = self.clock.now()
        due = _ts(not_before or now)
        reply = Reply(**{**reply_to_dict_shallow(reply), "key": key})
        payload = self._seal(reply, final=status in FINAL)
        with self.store.transaction():
            cur = self.store.conn.execute(
                "INSERT INTO outbox (key, surface, target, reply, status, not_before, expires_at,"
                " next_attempt, created_at, note) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING",
                [key, surface, target, payload, status, due,
                 _ts(expires_at) if expires_at else None, due, now.isoformat(), note or None],
            )
            return cur.rowcount == 1

    # -- sensitive payloads

    @staticmethod
    def is_sensitive(reply: Reply) -> bool:
        # a form carries what was typed into it (subject info included) in its fields' initial values
        return reply.form is not None or (isinstance(reply.data, dict) and reply.data.get("sensitive") is True)

    def _cipher(self) -> Cipher:
        if self.cipher is None:
            from cryptography.fernet import Fernet

            self.cipher = Cipher(Fernet.generate_key())
        return self.cipher

    def _seal(self, reply: Reply, *, final: bool = False) -> str:
        """The stored form of `reply`: JSON, or for a sensitive reply its encryption (nothing once final)."""
        if not self.is_sensitive(reply):
            return to_json(reply)
        return WIPED if final else SEALED + self._cipher().encrypt(to_json(reply))

    def _open(self, payload: str) -> Reply:
        if payload.startswith(SEALED):
            return from_json(self._cipher().decrypt(payload[len(SEALED):]))
        return from_json(payload)

    # -- sending

    def drain(self, limit: int = 100) -> int:
        """Send what is due (for the surfaces this process has senders for); returns how many were sent."""
        now = self.clock.now()
        t = _ts(now)
        # Leases are about a process being alive, so they run on real time even when the campaign
        # clock is shifted or stopped (rehearsals, tests): two workers whose clocks differ must still agree.
        wall = time.time()
        self._expire(t, wall)
        self.reclaim_dead(wall)
        surfaces = list(self.senders)
        if not surfaces:
            return 0
        sent = 0
        handled: list[int] = []  # rows this drain has tried: a failure due again at once waits for the next
        while len(handled) < limit:
            item = self._claim(None, t, wall, surfaces=surfaces, handled=handled)
            if item is None:
                break  # nothing due that another process is not already sending
            row_id = item[0]
            handled.append(row_id)
            _, key, surface, target, payload, attempts, tried_at = item
            try:
                reply = self._open(payload)
                check = self.checks.get(surface)
                # attempts > 1: an earlier claim may have sent it (the process died, or the send failed
                # without saying whether the remote side had accepted it): look before sending again
                if not (attempts > 1 and check is not None and check(target, reply, tried_at or wall)):
                    self.senders[surface](target, reply)
                else:
                    log.info("outbox: delivery %s had arrived before; not sent again", key)
            except Exception as e:  # a sender may raise anything: record it and retry later
                self._failed(row_id, key, attempts, e)
            else:
                with self.store.transaction():
                    self.store.conn.execute(
                        f"UPDATE outbox SET status='sent', sent_at=?, lease_until=NULL, last_error=NULL, {_WIPE_SEALED}"
                        " WHERE id=? AND claimed_by=?",
                        [self.clock.now().isoformat(), row_id, self.worker],
                    )
                sent += 1
        return sent

    def _claim(self, row_id: int | None, t: float, wall: float, *, surfaces: Iterable[str] = (),
               handled: Iterable[int] = ()):
        """Claim row `row_id`, or (None) the next due row for `surfaces` not in `handled`: one statement, so
        only one connection wins a row. On PostgreSQL the row is picked FOR UPDATE SKIP LOCKED: processes
        draining at once take different rows instead of queueing on the same one (SQLite has one writer at a
        time anyway)."""
        surfaces, handled = list(surfaces), list(handled)
        args: list[Any]
        if row_id is not None:
            pick, args = "id = ?", [row_id]
        else:
            pick = (f"surface IN ({','.join('?' * len(surfaces))})"
                    + (f" AND id NOT IN ({','.join('?' * len(handled))})" if handled else ""))
            args = [*surfaces, *handled]
        lock = " FOR UPDATE SKIP LOCKED" if self.store.dialect == "postgresql" else ""
        with self.store.transaction():
            return self.store.conn.execute(
                "UPDATE outbox SET status='sending', attempts=attempts+1, claimed_by=?, lease_until=?,"
                f" tried_at=coalesce(tried_at, ?) WHERE id = (SELECT id FROM outbox WHERE {pick}"
                " AND ((status='pending' AND next_attempt <= ?) OR (status='sending' AND lease_until < ?))"
                f" AND (expires_at IS NULL OR expires_at > ?) ORDER BY next_attempt, id LIMIT 1{lock})"
                " RETURNING id, key, surface, target, reply, attempts, tried_at",
                [self.worker, wall + self.lease, wall, *args, t, wall, t],
            ).fetchone()

    def reclaim_dead(self, wall: float | None = None) -> int:
        """Expire at once the leases held by dead processes of this host (a kill -9 leaves them 'sending');
        returns how many rows were released. Rows of other hosts keep their lease."""
        wall = time.time() if wall is None else wall
        host, pid = socket.gethostname(), os.getpid()
        holders = [w for (w,) in self.store.conn.execute(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status='sending' AND lease_until >= ?", [wall])]
        dead = [w for w in holders if w != self.worker and _dead_worker(w, host, pid)]
        n = 0
        for worker in dead:
            with self.store.transaction():
                n += self.store.conn.execute(
                    "UPDATE outbox SET lease_until=? WHERE status='sending' AND claimed_by=?", [wall - 1, worker]
                ).rowcount
        if n:
            log.warning("outbox: %d deliveries left 'sending' by a dead process taken back", n)
        return n

    def _failed(self, row_id: int, key: str, attempts: int, error: Exception) -> None:
        now = self.clock.now()
        delay = min(self.backoff * (2 ** (attempts - 1)), self.max_backoff)
        status = FAILED if attempts >= self.max_attempts else PENDING
        # The error text may come from a remote API; keep only its type and a short message.
        message = f"{type(error).__name__}: {str(error)[:200]}"
        level = logging.ERROR if status == FAILED else logging.WARNING
        log.log(level, "outbox: delivery %s failed (attempt %d/%d%s): %s", key, attempts, self.max_attempts,
                ", given up" if status == FAILED else "", type(error).__name__)
        reply = None
        if status == FAILED and self.on_failure:
            try:
                reply = self._open(self.store.conn.execute("SELECT reply FROM outbox WHERE id=?", [row_id]
                                                           ).fetchone()[0])
            except Exception:
                reply = None
        with self.store.transaction():
            self.store.conn.execute(
                "UPDATE outbox SET status=?, next_attempt=?, lease_until=NULL, last_error=? WHERE id=? AND claimed_by=?",
                [status, _ts(now) + delay, message, row_id, self.worker],
            )
            if status == FAILED:
                self.store.conn.execute(f"UPDATE outbox SET {_WIPE_SEALED} WHERE id=?", [row_id])
        if reply is not None:
            row = self.get(key) or {}
            for fn in self.on_failure:
                try:
                    fn(row, reply)
                except Exception as e:  # telling someone is best effort; the row stays visible anyway
                    log.warning("outbox: failure callback for %s failed: %s", key, type(e).__name__)

    def _expire(self, t: float, wall: float) -> None:
        with self.store.transaction():
            self.store.conn.execute(
                f"UPDATE outbox SET status='expired', lease_until=NULL, {_WIPE_SEALED}"
                " WHERE expires_at IS NOT NULL AND expires_at <= ?"
                " AND (status='pending' OR (status='sending' AND lease_until < ?))",
                [t, wall],
            )

    # -- housekeeping

    def prune(self, older_than_days: float = 30, *, keep_prefixes: Iterable[str] = KEEP_PREFIXES,
              at_most_every: float = 3600.0) -> int:
        """Delete final rows (sent, expired, failed, skipped) due more than `older_than_days` ago; returns
        how many. Cheap to call every tick: it works at most once per `at_most_every` seconds.

        Their keys are long out of the reminders' lookback and the recovery's window, so nothing enqueues
        them again; keys under `keep_prefixes` (an open inquiry's deadline warnings) are kept for good.
        """
        wall = time.time()
        if self._pruned_at is not None and wall - self._pruned_at < at_most_every:
            return 0
        self._pruned_at = wall
        cutoff = _ts(self.clock.now()) - older_than_days * 86400
        keep = list(keep_prefixes)
        sql = (f"DELETE FROM outbox WHERE status IN ({','.join('?' * len(FINAL))}) AND not_before < ?"
               + "".join(" AND substr(key, 1, ?) != ?" for _ in keep))
        args = [*FINAL, cutoff, *(x for p in keep for x in (len(p), p))]
        with self.store.transaction():
            n = self.store.conn.execute(sql, args).rowcount
        if n:
            log.info("outbox: pruned %d delivered or abandoned rows older than %g days", n, older_than_days)
        return n

    # -- reading

    def due(self) -> bool:
        """Whether a row this process can send is due now: one indexed read (for a cheap, frequent poll)."""
        surfaces = list(self.senders)
        if not surfaces:
            return False
        with self.store.transaction():
            row = self.store.conn.execute(
                f"SELECT 1 FROM outbox WHERE status = ? AND next_attempt <= ? AND surface IN "
                f"({', '.join('?' * len(surfaces))}) LIMIT 1", [PENDING, _ts(self.clock.now()), *surfaces]).fetchone()
        return row is not None

    def status(self, key: str) -> str | None:
        row = self.store.conn.execute("SELECT status FROM outbox WHERE key=?", [key]).fetchone()
        return row[0] if row else None

    def known(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` the outbox already holds (in any status), in one query per 500 keys."""
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            found.update(r[0] for r in self.store.conn.execute(
                f"SELECT key FROM outbox WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def get(self, key: str) -> dict | None:
        cur = self.store.conn.execute("SELECT * FROM outbox WHERE key=?", [key])
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))

    def items(self, *, status: str | Iterable[str] | None = None, prefix: str = "") -> list[dict]:
        sql, args = "SELECT * FROM outbox WHERE substr(key, 1, ?) = ?", [len(prefix), prefix]
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        cur = self.store.conn.execute(sql + " ORDER BY not_before, id", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def counts(self) -> dict[str, int]:
        return dict(self.store.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())


_LIVE_WORKERS: set[str] = set()  # the worker ids of this process's outboxes


def _dead_worker(worker: str, host: str, pid: int) -> bool:
    """A worker id (`host:pid:nonce`) of this host whose process is gone (or is us, under an earlier id)."""
    parts = worker.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    other = int(parts[1])
    if other == pid:
        # our pid: an outbox of this process, or an earlier incarnation's (a restarted container's pid 1)
        return worker not in _LIVE_WORKERS
    try:
        os.kill(other, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def reply_to_dict_shallow(reply: Reply) -> dict[str, Any]:
    return {name: getattr(reply, name) for name in Reply.__dataclass_fields__}


def _console_sender(target: str, reply: Reply) -> None:
    print(f"[{target}] {reply.text}", flush=True)


def setup(services) -> None:
    from bot.core.privacy import service_cipher

    outbox = Outbox(services.store, services.clock, cipher=service_cipher(services))
    outbox.register_sender("console", _console_sender)
    services.outbox = outbox
