"""Shared fixtures: a fresh database, fresh services, and a fixed clock."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot.clock import SEOUL, FixedClock
from bot.config import Settings
from bot.knowledge import load_knowledge
from bot.store import Store


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


@pytest.fixture
def fresh_db(tmp_path):
    store = Store(tmp_path / "ieum.db")
    yield store
    store.close()


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, agents=("agent1", "agent2"), secret_key=None)


@pytest.fixture
def services(settings, clock, fresh_kb):
    from bot.services import build

    s = build(settings, clock=clock, kb=fresh_kb)
    yield s
    s.close()


@pytest.fixture(scope="session")
def inquiry_knowledge(tmp_path_factory):
    """The real taxonomy, schedule, synonyms, policy and templates without the FAQ entries (building the
    engine over every entry for each inquiry test would dominate their run time)."""
    from bot.config import DEFAULT_KNOWLEDGE

    root = tmp_path_factory.mktemp("knowledge")
    for name in ("taxonomy.yaml", "schedule.yaml", "synonyms.yaml", "policy.yaml", "templates"):
        if (DEFAULT_KNOWLEDGE / name).exists():
            (root / name).symlink_to(DEFAULT_KNOWLEDGE / name)
    (root / "entries").mkdir()
    return root
