"""One-time sign-in links and the sessions they open, for the helpdesk web console.

No passwords of ours: an agent asks for a link (`ieum console link`, `/ieum 콘솔` in Slack, 콘솔 in Teams)
and the link opens a session. Only hashes of the link and session tokens are stored, so a copy of the
database opens nothing. Expiry runs on wall time (`time.time()`), like the outbox's leases: a shifted
campaign clock (rehearsals, tests) must never keep a link alive.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Callable

from bot.infra.store import Migrations, Store

MIGRATIONS = Migrations("signin")  # this module's tables; bot.services lists the sets to apply

LINK_MINUTES = 15
SESSION_HOURS = 8


@MIGRATIONS("signin_001_create")
def _create(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS signin_links (token_hash TEXT PRIMARY KEY, user TEXT NOT NULL,"
               " expires_at REAL NOT NULL, used_at REAL)")
    db.execute("CREATE TABLE IF NOT EXISTS signin_sessions (token_hash TEXT PRIMARY KEY, user TEXT NOT NULL,"
               " csrf TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL)")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires_at: float


class SignIn:
    def __init__(self, store: Store, *, session_hours: float = SESSION_HOURS, wall: Callable[[], float] = time.time):
        self.store = store
        self.session_hours = session_hours
        self.wall = wall

    def issue(self, user: str, minutes: float = LINK_MINUTES) -> str:
        """A new one-time link token for `user` (the caller checks that `user` is an agent)."""
        # Hex, not url-safe base64: the link travels in chat text that Slack and Teams read as markdown, where
        # `_` is escaped (`\_`) and a copied link would then carry a backslash into the token.
        token = secrets.token_hex(32)
        now = self.wall()
        with self.store.transaction():
            self.store.conn.execute("INSERT INTO signin_links (token_hash, user, expires_at) VALUES (?,?,?)",
                                    [_hash(token), user, now + minutes * 60])
            # spent and expired links are worthless: keep the table small
            self.store.conn.execute("DELETE FROM signin_links WHERE expires_at < ?", [now - 86400])
            self.store.conn.execute("DELETE FROM signin_sessions WHERE expires_at < ?", [now])
        return token

    def redeem(self, token: str) -> tuple[str, str] | None:
        """Spend a link: (user, session token) once, None when unknown, used or expired. The conditional
        UPDATE makes a link work exactly once even when two requests race for it."""
        now = self.wall()
        h = _hash(token)
        with self.store.transaction():
            cur = self.store.conn.execute(
                "UPDATE signin_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                [now, h, now])
            if cur.rowcount != 1:
                return None
            user = self.store.conn.execute("SELECT user FROM signin_links WHERE token_hash = ?", [h]).fetchone()[0]
            session = secrets.token_urlsafe(32)
            self.store.conn.execute(
                "INSERT INTO signin_sessions (token_hash, user, csrf, created_at, expires_at) VALUES (?,?,?,?,?)",
                [_hash(session), user, secrets.token_urlsafe(24), now, now + self.session_hours * 3600])
        return user, session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self.store.transaction():
            row = self.store.conn.execute("SELECT user, csrf, expires_at FROM signin_sessions WHERE token_hash = ?",
                                          [_hash(token)]).fetchone()
        if row is None or row[2] <= self.wall():
            return None
        return Session(*row)

    def end(self, token: str | None) -> None:
        if token:
            with self.store.transaction():
                self.store.conn.execute("DELETE FROM signin_sessions WHERE token_hash = ?", [_hash(token)])

    def end_all(self, user: str) -> None:
        """Every session of `user` (an agent removed from IEUM_AGENTS)."""
        with self.store.transaction():
            self.store.conn.execute("DELETE FROM signin_sessions WHERE user = ?", [user])


def setup(services) -> None:
    services.signin = SignIn(services.store)
