"""`ieum backup` and `ieum restore` (the work is bot.infra.backup's)."""
from __future__ import annotations

import sys
from pathlib import Path

from bot.cli.common import _settings, operator, words
from bot.core.privacy import key_problem
from bot.infra.backup import BackupError, backup, restore
from bot.inquiries.records import RecordError
from bot.services import build


def cmd_backup(args) -> int:
    settings = _settings(args)
    try:
        if settings.database_url:
            from bot.infra import pgbackup

            result = pgbackup.backup(settings.database_url, args.output)
        else:
            result = backup(settings.db_path, args.output)
    except BackupError as e:
        print(words("backup_failed", message=e), file=sys.stderr)
        return 1
    # The copy holds every subject's data: an 출력 in the access records, with the operator and a reason
    # (a backup that cannot be recorded is not kept).
    services = build(settings)
    try:
        services.privacy.records.record(handler=operator(args, services), place="CLI", action="출력",
                                        reason=args.reason, detail=f"백업: {Path(result['output']).name}"[:200])
    except RecordError as e:
        Path(result["output"]).unlink(missing_ok=True)
        print(words("backup_not_recorded", message=str(e)), file=sys.stderr)
        return 2
    finally:
        services.close()
    print(words("backup_done", output=result["output"], size=result["bytes"], seconds=result["seconds"],
                inquiries=result.get("inquiries", 0)))
    print(words("backup_key_note"))
    return 0


def cmd_restore(args) -> int:
    settings = _settings(args)
    # Refuse before anything is replaced: a backup the current key cannot read would lose its subject info.
    if Path(args.input).is_file() and (problem := _backup_key_problem(settings, Path(args.input))):
        print(words("restore_wrong_key"), file=sys.stderr)
        return 2
    try:
        if settings.database_url:
            from bot.infra import pgbackup
            from bot.services import MIGRATIONS

            result = pgbackup.restore(args.input, settings.database_url, migrations=list(MIGRATIONS),
                                      force=args.force)
        else:
            result = restore(args.input, settings.db_path, force=args.force)
    except BackupError as e:
        print(words("restore_failed", message=e), file=sys.stderr)
        return 1
    print(words("restore_done", restored=result["restored"], inquiries=result.get("inquiries", 0)))
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
        print(words("restore_destroyed_again", receipts=again))
    if result["previous"]:
        print(words("restore_previous", previous=result["previous"]))
    return 0


def _backup_key_problem(settings, path: Path) -> str | None:
    """Why the configured key cannot read the backup at `path`: an SQLite file, or with PostgreSQL a dump."""
    if not settings.database_url:
        return key_problem(settings, path)
    from bot.core.privacy import Cipher, KeyError_, KeyMismatch
    from bot.infra import pgbackup

    if not pgbackup.is_dump(path):
        return None  # restore itself refuses it, saying what it is not
    try:
        token = pgbackup.dump_key_check(path)
        if token is not None:
            Cipher.from_settings(settings, directory=settings.data_dir, create=False).decrypt(token)
    except (BackupError, KeyError_, KeyMismatch) as e:
        return str(e)
    return None


def register_cli(subparsers) -> None:
    b = subparsers.add_parser("backup", help="copy the database safely while the bot runs "
                                                "(SQLite backup API; pg_dump of the bot's schema on PostgreSQL)")
    b.add_argument("output", help="the backup file to write")
    b.add_argument("--reason", default="정기 백업", help="사유, for the access records (default: 정기 백업)")
    b.add_argument("--by", help="who backs up, for the access records (default: IEUM_USER or the login account)")
    b.set_defaults(func=cmd_backup)
    r = subparsers.add_parser("restore", help="replace the database with a backup (refuses while in use)")
    r.add_argument("input", help="a file written by `ieum backup`")
    r.add_argument("--force", action="store_true", help="overwrite even if the database is in use")
    r.add_argument("--by", help="who restores, for the access records (default: IEUM_USER or the login account)")
    r.set_defaults(func=cmd_restore)
