"""`ieum backup` / `ieum restore` / `ieum db copy` on PostgreSQL.

Backup is `pg_dump` of the bot's schema (the one the URL's connections use, `public` by default) in
pg_dump's custom format: a consistent snapshot taken while the bots keep running, written beside OUTPUT
and renamed into place (owner-only, like the SQLite backups). Restore is `pg_restore --clean --if-exists
--single-transaction` of such a dump into the database of the URL (the same schema name must exist there,
as `public` always does): all or nothing, refused while other sessions are connected unless `--force`,
then migrated to the current schema. A whole-cluster backup (pg_basebackup, WAL archiving) is the DBA's
and works as for any database; these commands are what the bot itself supports and tests.

`copy_sqlite()` moves an SQLite deployment into an empty PostgreSQL database: every table, row for row
(subject info and sealed outbox payloads stay the ciphertext they are; no key is needed or used), then
the identity sequences are moved past the copied ids and the counts compared table by table.

The key (IEUM_SECRET_KEY or secret.key) is never in a dump: keep it separately, as with SQLite.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bot.infra.backup import BackupError, backup as sqlite_backup
from bot.infra.pgstore import PgStore, redact
from bot.infra.store import Migrations, Store, private_dir, private_file


def _tool(name: str) -> str:
    """pg_dump / pg_restore: on PATH, else the newest of Debian's versioned directories."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[-3]))
    if not versions:
        raise BackupError(f"{name}이(가) 없습니다. PostgreSQL 클라이언트(Debian: postgresql-client)를 설치하세요.")
    return versions[-1]


def _run(args: list[str], what: str) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        # pg tools name the server and the object, never row contents
        raise BackupError(f"{what} 실패: {done.stderr.strip()[-500:]}")
    return done


def _scalar(conn, sql: str, args=None):
    """The one value of a one-row query (psycopg's rows are Optional)."""
    row = (conn.execute(sql, args) if args is not None else conn.execute(sql)).fetchone()
    return row[0] if row else None


def _schema_and_counts(url: str) -> tuple[str, dict]:
    with psycopg.connect(url, autocommit=True) as c:
        schema = _scalar(c, "SELECT current_schema()")
        counts = {}
        for table in ("inquiries", "outbox"):
            try:
                counts[table] = _scalar(c, f"SELECT count(*) FROM {table}")
            except psycopg.Error:
                pass
    return schema, counts


def backup(url: str, output: str | Path) -> dict:
    """`pg_dump` the bot's schema at `url` into `output` (atomically); returns counts for the report."""
    output = Path(output)
    t0 = time.perf_counter()
    try:
        schema, counts = _schema_and_counts(url)
    except psycopg.Error as e:
        raise BackupError(f"PostgreSQL에 연결할 수 없습니다: {redact(url)} ({type(e).__name__})") from None
    private_dir(output.parent)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    private_file(tmp)
    try:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}",
              f"--file={tmp}", f"--dbname={url}"], "pg_dump")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return {"output": str(output), "bytes": output.stat().st_size, "seconds": round(time.perf_counter() - t0, 3),
            **counts}


def dump_key_check(source: str | Path) -> str | None:
    """The key check token inside a dump (None: nothing encrypted in it), read without restoring it."""
    text = _run([_tool("pg_restore"), "--data-only", "--table=inquiry_meta", "--file=-", str(source)],
                "pg_restore").stdout
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if name == "key_check" and value:
            return value
    return None


def is_dump(path: str | Path) -> bool:
    """Whether `path` is a pg_dump custom-format file (it starts with PGDMP)."""
    try:
        with open(path, "rb") as f:
            return f.read(5) == b"PGDMP"
    except OSError:
        return False


def restore(source: str | Path, url: str, *, migrations: list[Migrations], force: bool = False) -> dict:
    """Replace the bot's tables at `url` with the dump `source`, in one transaction, then migrate."""
    source = Path(source)
    if not is_dump(source):
        raise BackupError(f"pg_dump(custom 형식) 백업 파일이 아닙니다: {source}")
    with psycopg.connect(url, autocommit=True) as c:
        others = _scalar(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid != pg_backend_pid()")
        if others and not force:
            raise BackupError(f"데이터베이스에 다른 연결이 {others}개 있습니다 (이음이 실행 중일 수 있습니다). 모든 "
                              "이음 프로세스를 멈춘 뒤 다시 실행하거나, 덮어써도 된다면 --force를 붙이세요.")
        try:  # the trigram indexes need it (inquiries_007); without the privilege pg_restore says so
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error:
            pass
    # the schema itself is not ours to drop (extensions live in it): its objects are replaced, it stays
    toc = _run([_tool("pg_restore"), "--list", str(source)], "pg_restore").stdout
    keep = Path(tempfile.mkdtemp(prefix="ieum-restore-")) / "toc"
    try:
        keep.write_text("".join(line + "\n" for line in toc.splitlines() if " SCHEMA " not in line))
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction", "--no-owner",
              "--no-privileges", f"--use-list={keep}", f"--dbname={url}", str(source)], "pg_restore")
    finally:
        shutil.rmtree(keep.parent, ignore_errors=True)
    store = PgStore(url, migrations=migrations)  # a dump of an older version: brought up to date
    store.close()
    return {"restored": redact(url), "previous": None, **_schema_and_counts(url)[1]}


def copy_sqlite(source: str | Path, url: str, *, migrations: list[Migrations]) -> dict[str, tuple[int, int]]:
    """Copy every table of the SQLite database `source` into the empty PostgreSQL database at `url`;
    returns {table: (rows in source, rows in target)}. Raises BackupError when the counts differ."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"SQLite 데이터베이스 파일이 없습니다: {source}")
    with tempfile.TemporaryDirectory(prefix="ieum-copy-") as tmp:
        # a snapshot of the source (it may be in use), brought to the current schema there, not in place
        snap = Path(tmp) / "ieum.db"
        sqlite_backup(source, snap)
        src = Store(snap, migrations=migrations)
        dst = PgStore(url, migrations=migrations)
        try:
            return _copy_tables(src, dst)
        finally:
            src.close()
            dst.close()


def _copy_tables(src: Store, dst: PgStore) -> dict[str, tuple[int, int]]:
    tables = [r[0] for r in src.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_migrations'"
        " ORDER BY rowid")]  # creation order: a referenced table before the tables that refer to it
    seeded = {"inquiry_counter": "DELETE FROM inquiry_counter"}  # rows a migration put there: the source's win
    with dst.pool.connection() as conn, conn.transaction():
        for table in tables:
            if table in seeded:
                conn.execute(seeded[table])
            elif _scalar(conn, f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise BackupError(f"대상 데이터베이스의 {table} 표가 비어 있지 않습니다. 빈 데이터베이스로 옮기세요.")
        for table in tables:
            cols = [r[1] for r in src.conn.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(f'"{c}"' for c in cols)
            with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in src.conn.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
        identity = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                                " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall()
        for table, column in identity:  # identity columns continue after the copied ids
            conn.execute(f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                         f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)", [table, column])
        counts = {t: (_scalar(src.conn, f"SELECT count(*) FROM {t}"), _scalar(conn, f"SELECT count(*) FROM {t}"))
                  for t in tables}
        wrong = {t: c for t, c in counts.items() if c[0] != c[1]}
        if wrong:  # raising rolls the whole copy back
            raise BackupError(f"옮긴 행 수가 다릅니다: {wrong}")
    return counts
