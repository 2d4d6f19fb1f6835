"""Shared test fixtures."""
from __future__ import annotations

import pytest

from bot.config import DEFAULT_KNOWLEDGE


@pytest.fixture(scope="session")
def inquiry_knowledge(tmp_path_factory):
    """The real taxonomy, schedule, synonyms, policy and templates without the FAQ entries: building the
    answer engine over every entry for each test would dominate the inquiry tests' run time."""
    root = tmp_path_factory.mktemp("knowledge")
    for name in ("taxonomy.yaml", "schedule.yaml", "synonyms.yaml", "policy.yaml", "templates"):
        if (DEFAULT_KNOWLEDGE / name).exists():
            (root / name).symlink_to(DEFAULT_KNOWLEDGE / name)
    (root / "entries").mkdir()
    return root
