"""`ieum backup OUTPUT` and `ieum restore INPUT`: the SQLite database, copied with SQLite's online backup API.

The backup API copies a consistent snapshot while the bot keeps running (in WAL mode the copy is one read
transaction, which never blocks the bot's writer), so a backup never needs the bot stopped. The copy is
written beside OUTPUT, checked (`PRAGMA integrity_check`), synced and then renamed into place, so
OUTPUT is either the old file or a complete new one.

Restore refuses to overwrite a database that another process has open (a running bot) unless
`--force`; the database it replaces is kept next to it as `ieum.db.before-restore-<time>`.

The encryption key (IEUM_SECRET_KEY or `secret.key` in the data directory) is *not* in the backup:
keep it separately; a restored database is checked against the current key.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
import time
from pathlib import Path

from .store import private_dir, private_file

# One step: the copy is a single read transaction. In WAL mode that never blocks the bot's writer, and
# it is never restarted (a stepped backup starts over whenever another connection writes, so under
# steady traffic it might never finish).
PAGES_PER_STEP = -1
# WAL mode: every connection holds a shared lock on this byte of the -shm file while it is open
# (the "DMS" slot: 120 + 8 in os_unix.c), so a conflicting test lock means another process uses the db.
_SHM_DMS = 128
_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


class BackupError(RuntimeError):
    """A backup or restore cannot be carried out (the message is Korean)."""


def _check(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"데이터베이스 무결성 검사 실패: {path} ({result[:200]})")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "_migrations" not in names:
            raise BackupError(f"이음 데이터베이스가 아닙니다 (_migrations 표가 없음): {path}")
    except sqlite3.DatabaseError as e:
        raise BackupError(f"SQLite 데이터베이스를 읽을 수 없습니다: {path} ({e})") from None
    finally:
        conn.close()


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, *, pause: float = 0.0) -> None:
    src.backup(dst, pages=PAGES_PER_STEP, sleep=pause)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(db_path: str | Path, output: str | Path) -> dict:
    """Copy the live database at `db_path` to `output` (atomically); returns counts for the report."""
    db_path, output = Path(db_path), Path(output)
    if not db_path.exists():
        raise BackupError(f"데이터베이스 파일이 없습니다: {db_path}")
    if output.resolve() == db_path.resolve():
        raise BackupError("백업 파일은 데이터베이스 파일과 달라야 합니다.")
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    t0 = time.perf_counter()
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        private_dir(output.parent)
        tmp.unlink(missing_ok=True)
        private_file(tmp)  # the copy holds what the database holds: owner-only from the first byte
        dst = sqlite3.connect(tmp)
        try:
            _copy(src, dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        finally:
            dst.close()
    except sqlite3.Error as e:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"백업 중 오류: {e}") from None
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"백업 파일을 쓸 수 없습니다: {output} ({e.strerror})") from None
    finally:
        src.close()
    try:
        _check(tmp)
        _fsync(tmp)
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"output": str(output), "bytes": output.stat().st_size, "seconds": round(time.perf_counter() - t0, 3),
            **_counts(output)}


def _counts(path: Path) -> dict:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table in ("inquiries", "outbox"):
            try:
                out[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                pass
        return out
    finally:
        conn.close()


def in_use(db_path: str | Path) -> bool:
    """True when another process has the database open (WAL) or holds a lock on it."""
    db_path = Path(db_path)
    shm = Path(str(db_path) + "-shm")
    if shm.exists():
        try:
            fd = os.open(shm, os.O_RDWR)
        except OSError:
            fd = None
        if fd is not None:
            try:
                # F_GETLK: would an exclusive lock on the DMS byte conflict with someone's lock?
                query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, _SHM_DMS, 1, 0)
                answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
                if struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK:
                    return True
            except OSError:
                pass
            finally:
                os.close(fd)
    if db_path.exists():
        conn = sqlite3.connect(db_path, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            return True  # locked by a writer
        finally:
            conn.close()
    return False


def restore(source: str | Path, db_path: str | Path, *, force: bool = False) -> dict:
    """Replace the database at `db_path` with the backup `source`; keeps the old one beside it."""
    source, db_path = Path(source), Path(db_path)
    if not source.exists():
        raise BackupError(f"백업 파일이 없습니다: {source}")
    _check(source)
    if db_path.exists() and in_use(db_path) and not force:
        raise BackupError("데이터베이스가 사용 중입니다 (이음이 실행 중일 수 있습니다). 이음을 멈춘 뒤 다시 "
                          "실행하거나, 덮어써도 된다면 --force를 붙이세요.")
    private_dir(db_path.parent)
    kept = None
    if db_path.exists():
        kept = db_path.with_name(f"{db_path.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
        backup(db_path, kept)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        private_file(db_path)
        dst = sqlite3.connect(db_path, timeout=30)
        try:
            dst.execute("PRAGMA busy_timeout = 30000")
            _copy(src, dst)  # through SQLite, so an open WAL and other connections stay consistent
            dst.execute("PRAGMA journal_mode = WAL")
        finally:
            dst.close()
    except sqlite3.Error as e:
        raise BackupError(f"복원 중 오류: {e}") from None
    finally:
        src.close()
    _check(db_path)
    return {"restored": str(db_path), "previous": str(kept) if kept else None, **_counts(db_path)}
