"""Which store a deployment runs on: PostgreSQL when `IEUM_DATABASE_URL` names one, else the SQLite file."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from bot.infra.store import Migrations, Store


def is_postgres(target: str | Path | None) -> bool:
    return str(target or "").startswith(("postgresql://", "postgres://"))


def open_store(target: str | Path, *, migrations: Iterable[Migrations] = (), migrate: bool = True):
    """The store `target` names: a `postgresql://` URL (bot.infra.pgstore) or an SQLite path."""
    if is_postgres(target):
        from bot.infra.pgstore import PgStore

        return PgStore(str(target), migrations=migrations, migrate=migrate)
    return Store(target, migrations=migrations, migrate=migrate)
