"""`ieum db migrate` and `ieum db copy --from sqlite:PATH --to postgresql://…` (the work is the stores')."""
from __future__ import annotations

import sys

from bot.cli.common import _settings
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
    print(f"마이그레이션 {len(applied)}개 적용" + (f": {', '.join(applied)}" if applied else " (이미 최신입니다)"))
    return 0


def cmd_copy(args) -> int:
    from bot.infra.pgbackup import copy_sqlite

    source, target = args.source, args.target
    if not source.startswith("sqlite:") or not is_postgres(target):
        print("사용법: ieum db copy --from sqlite:경로/ieum.db --to postgresql://사용자@호스트/DB", file=sys.stderr)
        return 2
    try:
        counts = copy_sqlite(source[len("sqlite:"):], target, migrations=list(MIGRATIONS))
    except (BackupError, StoreError) as e:
        print(f"옮기지 못했습니다 (대상은 그대로입니다): {e}", file=sys.stderr)
        return 1
    for table, (n, _) in counts.items():
        print(f"  {table:<24} {n:>10,}행")
    print(f"옮기기 완료: 표 {len(counts)}개, 행 수 모두 일치. 대상자 정보는 암호화된 그대로 옮겼습니다: 같은 키"
          "(IEUM_SECRET_KEY)로 실행하세요. 접속기록(records.db)은 데이터 디렉터리에 그대로 둡니다.")
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
