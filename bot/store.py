"""The SQLite store: one file under the data directory, WAL mode, forward migrations at start-up.

Feature modules own their tables; this module owns the connection, the migration runner and
transactions. Keep SQL that handlers need behind methods of the feature modules, so a PostgreSQL
store can replace this one without touching handlers.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import sqlite_utils


class StoreError(RuntimeError):
    """The database cannot be opened or written."""


# (name, function) pairs, applied once each in this order and recorded in `_migrations`.
# Never edit or reorder an applied migration: add a new one at the end of its section.
Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a forward migration (used by feature modules at import time)."""

    def register(fn: Migration) -> Migration:
        if any(n == name for n, _ in MIGRATIONS):
            raise ValueError(f"duplicate migration {name}")
        MIGRATIONS.append((name, fn))
        return fn

    return register


class Store:
    """A sqlite-utils database with migrations applied and a re-entrant transaction helper."""

    def __init__(self, path: str | Path = ":memory:", *, migrate: bool = True):
        self.path = Path(path) if str(path) != ":memory:" else None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"데이터베이스를 열 수 없습니다: {path} ({e})") from None
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        if migrate:
            self.migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; returns their names."""
        _load_feature_modules()
        applied = []
        with self.transaction():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            done = {r[0] for r in self.conn.execute("SELECT name FROM _migrations")}
            for name, fn in MIGRATIONS:
                if name not in done:
                    fn(self.db)
                    self.conn.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
                    applied.append(name)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All-or-nothing: BEGIN IMMEDIATE on the outermost level, nested calls join it."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.db
            except BaseException:
                self._depth -= 1
                if outer and self.conn.in_transaction:
                    # (SQLite has already rolled back by itself after e.g. SQLITE_FULL; a second ROLLBACK
                    # would raise "no transaction is active" and hide the real error)
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self._depth -= 1
                if outer:
                    self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def _load_feature_modules() -> None:
    # Feature modules register their migrations when imported; import them here so that opening
    # a store always yields the full schema, whatever the caller imported first.
    import importlib

    for mod in FEATURE_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


# Modules that register migrations, in the order their tables should be created.
FEATURE_MODULES = [
    "bot.outbox",
    "bot.feedback",
    "bot.inquiries",
    "bot.reminders",
    "bot.people",
    "bot.adapters.slack",
    "bot.adapters.teams",
]
