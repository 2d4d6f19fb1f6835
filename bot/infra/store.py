"""The SQLite store: one file under the data directory, WAL mode, forward migrations at start-up.
(`bot.infra.pgstore.PgStore` is the PostgreSQL store with the same interface; `bot.infra.stores.open_store`
picks one.)

Feature modules own their tables, each in its own `Migrations` set (as sqlite-migrate does); this
module owns the connection, the migration runner and transactions. Which sets a store applies is
written out in `bot.services.MIGRATIONS`. Keep SQL that handlers need behind methods of the feature modules, so a PostgreSQL
store can replace this one without touching handlers.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

import sqlite_utils


class StoreError(RuntimeError):
    """The database cannot be opened or written."""


def private_dir(path: Path) -> None:
    """Create `path` (and parents) readable by the bot's user only; an existing directory is left as is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Make `path` an owner-only (0600) file before SQLite opens it: SQLite creates the -wal and -shm files
    with the database file's mode, so they are private too."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        try:
            os.chmod(path, 0o600)  # a database from before this rule: tightened when it is ours
        except PermissionError:
            pass


Migration = Callable[[sqlite_utils.Database], None]


class Migrations:
    """One feature's forward migrations, applied once each in the order registered (`@MIGRATIONS("name")`).

    Never edit or reorder an applied migration: add a new one at the end. Names are global (they are
    recorded in `_migrations`), so prefix them with the feature.
    """

    def __init__(self, name: str):
        self.name = name
        self.steps: list[tuple[str, Migration]] = []

    def __call__(self, name: str) -> Callable[[Migration], Migration]:
        def register(fn: Migration) -> Migration:
            if any(n == name for n, _ in self.steps):
                raise ValueError(f"duplicate migration {name}")
            self.steps.append((name, fn))
            return fn

        return register


def apply_migrations(store, migrations: Iterable[Migrations] = (), *, lock: str | None = None) -> list[str]:
    """The runner of either store: the steps of `store.migrations` (plus `migrations`) not yet recorded in
    `_migrations`, in one transaction; `lock` is a statement that serialises concurrent runners (PostgreSQL's
    advisory lock; SQLite's BEGIN IMMEDIATE already does)."""
    for m in migrations:
        if m not in store.migrations:
            store.migrations.append(m)
    applied = []
    with store.transaction():
        if lock:
            store.conn.execute(lock)
        store.conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT DEFAULT CURRENT_TIMESTAMP)"
        )
        done = {r[0] for r in store.conn.execute("SELECT name FROM _migrations")}
        for name, fn in (step for m in store.migrations for step in m.steps):
            if name not in done:
                fn(store.db)
                store.conn.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
                applied.append(name)
    return applied


class Store:
    """A sqlite-utils database with migrations applied and a re-entrant transaction helper."""

    dialect = "sqlite"

    def __init__(self, path: str | Path = ":memory:", *, migrations: Iterable[Migrations] = (), migrate: bool = True):
        self.path = Path(path) if str(path) != ":memory:" else None
        try:
            if self.path is not None:
                private_dir(self.path.parent)
                private_file(self.path)
            conn = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"데이터베이스를 열 수 없습니다: {path} ({e})") from None
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"데이터베이스 파일이 SQLite 데이터베이스가 아니거나 손상되었습니다: {path} ({e}). "
                             "`ieum restore 백업파일`로 복원하거나, 그 파일을 옮긴 뒤 다시 실행하세요.") from None
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0
        self.migrations: list[Migrations] = list(migrations)
        if migrate:
            self.migrate()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def migrate(self, migrations: Iterable[Migrations] = ()) -> list[str]:
        """Apply the migrations of these sets (and of those given before) not yet applied; returns their names."""
        return apply_migrations(self, migrations)

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

    def purge_deleted(self, *tables: str) -> None:
        """Make deleted rows unrecoverable from the files now: with secure_delete on (the deleting transaction
        sets it) the pages are zeroed; the WAL that still holds them is checkpointed and truncated."""
        with self._lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()
