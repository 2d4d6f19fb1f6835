"""`ieum db migrate` and `ieum db copy --from sqlite:PATH --to postgresql://…` (the work is the stores')."""
from __future__ import annotations

import sys

from bot.cli.common import _settings, words
from bot.infra.backup import BackupError
from bot.infra.store import StoreError
from bot.infra.stores import is_postgres, open_store
from bot.services import MIGRATIONS


def cmd_migrate(args) -> int:
    settings = _settings(args)
    store = open_store(settings.database, migrate=False)
    try:
        applied = store.migrate(MIGRATIONS)
    finally:
        store.close()
    print(words("db_migrated", names=applied))
    return 0


def cmd_copy(args) -> int:
    from bot.infra.pgbackup import copy_sqlite

    source, target = args.source, args.target
    if not source.startswith("sqlite:") or not is_postgres(target):
        print(words("db_copy_usage"), file=sys.stderr)
        return 2
    try:
        counts = copy_sqlite(source[len("sqlite:"):], target, migrations=list(MIGRATIONS))
    except (BackupError, StoreError) as e:
        print(words("db_copy_failed", message=e), file=sys.stderr)
        return 1
    for table, (n, _) in counts.items():
        print(words("db_copy_table", table=table, rows=n))
    print(words("db_copy_done", tables=len(counts)))
    return 0


def register_cli(subparsers) -> None:
    db = subparsers.add_parser("db", help="the database: migrate, copy SQLite into PostgreSQL")
    sub = db.add_subparsers(dest="db_command", required=True)
    m = sub.add_parser("migrate", help="create or update the tables (IEUM_DATABASE_URL, else the SQLite file)")
    m.set_defaults(func=cmd_migrate)
    c = sub.add_parser("copy", help="copy an SQLite deployment into an empty PostgreSQL database, counts verified")
    c.add_argument("--from", dest="source", required=True, help="sqlite:PATH of the ieum.db to copy")
    c.add_argument("--to", dest="target", required=True, help="postgresql://USER[:PASSWORD]@HOST[:PORT]/DB")
    c.set_defaults(func=cmd_copy)
