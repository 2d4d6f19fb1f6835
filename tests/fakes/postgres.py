"""A real PostgreSQL server for the test run: Debian's binaries, a temporary directory, a free port.

initdb and postgres refuse to run as root, and the suite runs as root in CI, so the server runs as an
unprivileged user (`nobody`, through runuser) in a directory it owns; as any other user it runs as that
user. `PostgresServer.start()` returns None with the reason in `.problem` when no server can be started
(no binaries, no way to drop privileges): the tests that need one skip with that reason.

Each test gets its own schema (`fresh_url()`: a `search_path` in the URL's options), so one server serves
the whole session; the directory is removed when it stops.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self):
        self.problem: str | None = None
        self.dir: Path | None = None
        self.port = 0
        self.bin = _bin_dir()
        self._as: list[str] = []

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)

    def start(self) -> "PostgresServer | None":
        if self.bin is None or not (self.bin / "initdb").exists():
            self.problem = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
            return None
        self.dir = Path(tempfile.mkdtemp(prefix="ieum-pg-"))
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                self.problem = "running as root without runuser: cannot start PostgreSQL as another user"
                return None
            user = pwd.getpwnam("nobody")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = [runuser, "-u", "nobody", "--"]
        data = self.dir / "data"
        init = self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "ieum", "-A", "trust", "-E", "UTF8",
                         "--locale=C.UTF-8", "--no-sync")
        if init.returncode != 0:
            self.problem = f"initdb failed: {init.stderr.strip()[-300:]}"
            return None
        for _ in range(5):  # a port taken between choosing and binding: choose again
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400")
            started = self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                str(self.dir / "server.log"), "-w", "-t", "60", "start")
            if started.returncode == 0:
                break
        else:
            self.problem = f"PostgreSQL did not start: {started.stderr.strip()[-300:]}"
            return None
        # a run stopped from outside (CI's timeout, `timeout`, Ctrl-C) must not leave the server behind: the
        # suite turns SIGTERM into an exit (tests/conftest.py), and exits run this
        atexit.register(self.stop)
        import psycopg

        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as c:
            c.execute("CREATE DATABASE ieum")
        return self

    def admin_url(self, db: str = "ieum") -> str:
        return f"postgresql://ieum@127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """A URL whose connections work in a new, empty schema of their own."""
        import psycopg

        schema = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url(), autocommit=True) as c:
            c.execute(f"CREATE SCHEMA {schema}")
        return f"{self.admin_url()}?options={quote(f'-csearch_path={schema}')}"

    def fresh_database(self) -> str:
        """A URL of a new, empty database (for what works on whole databases: several processes, pg_dump)."""
        import psycopg

        name = "d_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.admin_url(name)

    def stop(self) -> None:
        if self.dir is None:
            return
        if self.bin is not None and (self.dir / "data" / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
