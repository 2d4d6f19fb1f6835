"""The browser the browser tests drive: Debian's Chromium through Playwright, never a downloaded build."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("IEUM_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]


def browser_missing() -> str | None:
    """Why no browser test can run here (for pytest.skip), or None."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed ({CHROMIUM}); apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    return None
