"""Display names of the people the bot has met, by user id, for every surface.

Adapters put the name they know into `Incoming.user_name` (Slack: `users.info`, cached; Teams: the activity's
`from.name`); the router records it here (`remember`), and handlers show `name_of(services, user)` wherever a
person is named (an agent who claimed an inquiry, the author of a relayed message) instead of a raw id.
A name is not personal data in the sense of the guard (it is what the chat platform shows everyone anyway).
"""
from __future__ import annotations

import threading
import time

from bot.infra.store import Migrations

MAX_NAME = 80
_lock = threading.Lock()
_known: dict[tuple[object, str], str] = {}  # (database, user) -> name, so an unchanged name is not rewritten


def _db(store) -> object:
    return str(store.path) if getattr(store, "path", None) else id(store)


MIGRATIONS = Migrations("people")  # this feature's tables; bot.services lists the sets to apply


@MIGRATIONS("people_001_names")
def _create(db) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS people (user TEXT PRIMARY KEY, name TEXT NOT NULL, seen_at REAL NOT NULL)")


def remember(services, user: str, name: str) -> None:
    """Record `user`'s display name (a no-op when it is already known)."""
    name = " ".join((name or "").split())[:MAX_NAME]
    if not user or not name:
        return
    store = services.store
    with _lock:
        if _known.get((_db(store), user)) == name:
            return
    with store.transaction():
        store.conn.execute("INSERT INTO people (user, name, seen_at) VALUES (?, ?, ?) ON CONFLICT(user) DO UPDATE"
                           " SET name=excluded.name, seen_at=excluded.seen_at", [user, name, time.time()])
    with _lock:
        _known[(_db(store), user)] = name


def name_of(services, user: str | None) -> str:
    """The display name of `user`, or the id itself when the bot never learnt one."""
    if not user:
        return ""
    store = services.store
    with _lock:
        known = _known.get((_db(store), user))
    if known:
        return known
    row = store.conn.execute("SELECT name FROM people WHERE user=?", [user]).fetchone()
    return row[0] if row else user
