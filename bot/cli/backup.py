"""`ieum backup` and `ieum restore` (the work is bot.infra.backup's)."""
from __future__ import annotations

import sys
from pathlib import Path

from bot.cli.common import _settings, operator
from bot.core.privacy import key_problem
from bot.infra.backup import BackupError, backup, restore
from bot.inquiries.records import RecordError
from bot.services import build


def cmd_backup(args) -> int:
    settings = _settings(args)
    try:
        result = backup(settings.db_path, args.output)
    except BackupError as e:
        print(f"백업 실패: {e}", file=sys.stderr)
        return 1
    # The copy holds every subject's data: an 출력 in the access records, with the operator and a reason
    # (a backup that cannot be recorded is not kept).
    services = build(settings)
    try:
        services.privacy.records.record(handler=operator(args, services), place="CLI", action="출력",
                                        reason=args.reason, detail=f"백업: {Path(result['output']).name}"[:200])
    except RecordError as e:
        Path(result["output"]).unlink(missing_ok=True)
        print(f"백업하지 않았습니다: {e}", file=sys.stderr)
        return 2
    finally:
        services.close()
    print(f"백업 완료: {result['output']} ({result['bytes']:,} 바이트, {result['seconds']}초, "
          f"질의 {result.get('inquiries', 0)}건)")
    print("참고: 암호화 키(IEUM_SECRET_KEY 또는 데이터 디렉터리의 secret.key)는 백업에 들어 있지 않습니다. 따로 보관하세요.")
    return 0


def cmd_restore(args) -> int:
    settings = _settings(args)
    # Refuse before anything is replaced: a backup the current key cannot read would lose its subject info.
    if Path(args.input).is_file() and (problem := key_problem(settings, Path(args.input))):
        print("복원하지 않았습니다: 지금 키로는 백업의 대상자 정보를 풀 수 없습니다. 백업 당시의 키를 IEUM_SECRET_KEY에 "
              "설정한 뒤 다시 실행하세요.", file=sys.stderr)
        return 2
    try:
        result = restore(args.input, settings.db_path, force=args.force)
    except BackupError as e:
        print(f"복원 실패: {e}", file=sys.stderr)
        return 1
    print(f"복원 완료: {result['restored']} (질의 {result.get('inquiries', 0)}건)")
    # A restore is a handling of every subject's data (접속기록, 변경); what was destroyed (파기 대장) since the
    # backup was made is destroyed again at once.
    services = build(settings)
    try:
        services.privacy.records.record(handler=operator(args, services), place="CLI", action="변경",
                                        detail=f"백업 복원: {Path(args.input).name}"[:200])
        again = services.privacy.purge()["destroyed"]
    finally:
        services.close()
    if again:
        print(f"파기 대장에 따라 대상자 정보를 다시 파기했습니다: {', '.join(again)}")
    if result["previous"]:
        print(f"복원 전 데이터베이스는 {result['previous']}에 보관했습니다.")
    return 0


def register_cli(subparsers) -> None:
    b = subparsers.add_parser("backup", help="copy the database safely while the bot runs (SQLite backup API)")
    b.add_argument("output", help="the backup file to write")
    b.add_argument("--reason", default="정기 백업", help="사유, for the access records (default: 정기 백업)")
    b.add_argument("--by", help="who backs up, for the access records (default: IEUM_USER or the login account)")
    b.set_defaults(func=cmd_backup)
    r = subparsers.add_parser("restore", help="replace the database with a backup (refuses while in use)")
    r.add_argument("input", help="a file written by `ieum backup`")
    r.add_argument("--force", action="store_true", help="overwrite even if the database is in use")
    r.add_argument("--by", help="who restores, for the access records (default: IEUM_USER or the login account)")
    r.set_defaults(func=cmd_restore)
