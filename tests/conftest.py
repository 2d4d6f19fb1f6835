"""Shared fixtures, defined once: knowledge bases, services, a fixed clock, and the loopback fakes."""
from __future__ import annotations

import os
import signal
import sys
from datetime import datetime

import pytest
from hypothesis import settings as hypothesis_settings

# CI reruns exactly the examples developers ran (a failure there is then reproducible by `CI=1 make test`).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

from bot.core.clock import SEOUL, FixedClock
from bot.core.config import Settings
from bot.knowledge.base import load_knowledge
from bot.infra.store import Store
from bot.services import build
from fakes.postgres import PostgresServer
from fakes.slack import FakeSlack

# SIGTERM (a timeout stopping the run) becomes an ordinary exit, so exit handlers stop what the run started
# (the PostgreSQL server of tests/fakes/postgres.py) instead of leaving it running.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

# A test module that sets `STORES = BOTH` runs its tests that use `store_kind` (through `open_store`,
# `make` or `services`) on SQLite and on a real PostgreSQL server.
BOTH = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc):
    stores = getattr(metafunc.module, "STORES", None)
    if metafunc.definition.get_closest_marker("sqlite_only"):
        stores = None  # it checks something only SQLite has (a file, a PRAGMA, its error classes)
    if stores and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", stores)


@pytest.fixture(scope="session")
def pg():
    """One PostgreSQL server for the session (tests/fakes/postgres.py); skips when none can be started."""
    server = PostgresServer()
    try:
        if server.start() is None:
            pytest.skip(f"no PostgreSQL server for the store tests: {server.problem}")
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_kind():
    return "sqlite"


@pytest.fixture
def open_store(store_kind, request):
    """`open_store(path, migrations=…)`: the store of the test database named `path`: that SQLite file, or
    on PostgreSQL a schema of its own per path (the same path opens the same schema again)."""
    from bot.infra.pgstore import PgStore

    urls: dict[str, str] = {}
    opened: list = []

    def open_(path, *, migrations=(), migrate=True):
        if store_kind == "sqlite":
            store = Store(path, migrations=migrations, migrate=migrate)
        else:
            if str(path) not in urls:
                urls[str(path)] = request.getfixturevalue("pg").fresh_url()
            store = PgStore(urls[str(path)], migrations=migrations, migrate=migrate)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def kb():
    """The shipped knowledge base, loaded once (tests must not mutate it; use `fresh_kb`)."""
    return load_knowledge()


@pytest.fixture
def fresh_kb():
    return load_knowledge()


@pytest.fixture
def clock():
    return FixedClock(datetime(2022, 8, 29, 10, 0, tzinfo=SEOUL))


# A small knowledge base for the adapter tests: the shipped schedule, taxonomy and templates with three
# entries of its own, so that what a test expects does not move when knowledge/ is edited.
SMALL_ENTRIES = """
- id: outage-period
  title: 시스템 중단 기간
  questions:
    - 시스템 중단 기간이 언제예요
    - 시스템 중단 기간
  answer: |
    시스템 중단 기간에는 W4C를 사용할 수 없습니다.
- id: login
  title: 희망이음 접속 방법
  questions:
    - 희망이음 접속 방법
    - 희망이음 로그인은 어떻게 해요
  answer: |
    희망이음은 인증서로 로그인합니다.
- id: login-error
  title: 희망이음 접속 오류
  questions:
    - 희망이음 접속 오류
    - 희망이음 접속이 안돼요
  answer: |
    브라우저 캐시를 지우고 다시 접속해 보세요.
"""


@pytest.fixture
def knowledge(tmp_path):
    """A knowledge directory holding SMALL_ENTRIES."""
    import shutil

    from bot.core.config import DEFAULT_KNOWLEDGE

    root = tmp_path / "knowledge"
    shutil.copytree(DEFAULT_KNOWLEDGE, root, ignore=shutil.ignore_patterns("entries", "synonyms.yaml"))
    (root / "entries").mkdir()
    (root / "entries" / "test.yaml").write_text(SMALL_ENTRIES, encoding="utf-8")
    return root


INQUIRY_NOW = datetime(2022, 8, 29, 10, 0, tzinfo=SEOUL)


@pytest.fixture
def make(inquiry_knowledge, request, open_store):
    """Services over a data directory: the small inquiry knowledge base, a clock fixed at INQUIRY_NOW, and
    the test module's AGENTS (agent1 and agent2 unless it sets its own)."""
    default_agents = getattr(request.module, "AGENTS", ("agent1", "agent2"))

    def make(data_dir, *, secret: str | None = "dGVzdC1zZWNyZXQuLi4uLi4uLi4uLi4uLi4uLi4uLi4=", agents=default_agents):
        settings = Settings(data_dir=data_dir, secret_key=secret, agents=agents, knowledge=inquiry_knowledge)
        return build(settings, clock=FixedClock(INQUIRY_NOW), store=open_store(data_dir / "ieum.db"))

    return make


@pytest.fixture
def services(tmp_path, make):
    """The inquiry services of `make` over a fresh data directory."""
    s = make(tmp_path)
    yield s
    s.close()


@pytest.fixture
def kb_services(tmp_path, clock, fresh_kb):
    """Services over the shipped knowledge base (every FAQ entry), no secret key."""
    s = build(Settings(data_dir=tmp_path, agents=("agent1", "agent2"), secret_key=None), clock=clock, kb=fresh_kb)
    yield s
    s.close()


@pytest.fixture(scope="module")
def fake(request):
    """One loopback fake per test module: the module's FAKE class (FakeTeams, FaultySlack …), else FakeSlack."""
    f = getattr(request.module, "FAKE", FakeSlack)().start()
    yield f
    f.stop()


@pytest.fixture(scope="session")
def inquiry_knowledge(tmp_path_factory):
    """The real taxonomy, schedule, synonyms, policy, reminders and templates without the FAQ entries (building the
    engine over every entry for each inquiry test would dominate their run time)."""
    from bot.core.config import DEFAULT_KNOWLEDGE

    root = tmp_path_factory.mktemp("knowledge")
    for name in ("taxonomy.yaml", "schedule.yaml", "synonyms.yaml", "policy.yaml", "reminders.yaml", "templates"):
        if (DEFAULT_KNOWLEDGE / name).exists():
            (root / name).symlink_to(DEFAULT_KNOWLEDGE / name)
    (root / "entries").mkdir()
    return root


def clone_inquiries(store, up_to: int) -> None:
    """Copies of inquiry 1 as inquiries 2..`up_to` (straight in SQL: filing ten thousand would take minutes),
    for the list's capped count."""
    cols = [d[0] for d in store.conn.execute("SELECT * FROM inquiries WHERE id = 1").description]
    rest = [c for c in cols if c not in ("id", "submission_id")]
    with store.transaction():
        store.conn.execute(
            f"WITH RECURSIVE n(k) AS (SELECT 2 UNION ALL SELECT k + 1 FROM n WHERE k < ?) INSERT INTO inquiries "
            f"(id, {', '.join(rest)}) SELECT n.k, {', '.join(rest)} FROM n, inquiries WHERE inquiries.id = 1",
            [up_to])
        store.conn.execute("UPDATE inquiry_counter SET value = ? WHERE name = 'receipt'", [up_to])
