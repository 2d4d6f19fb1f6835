"""The browsers the console tests drive: Debian's Chromium through Playwright (never a downloaded build), and
`Browser`, a cookie-keeping HTTP client for the tests that need no page scripts."""
from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
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


class Browser:
    """A cookie-keeping HTTP client that follows redirects (as a browser does)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=10) as r:
                return r.status, r.geturl(), r.read().decode("utf-8", "replace"), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.geturl(), e.read().decode("utf-8", "replace"), e.headers

    def sign_in(self, url: str):
        token = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["token"][0]
        return self.request("/console/signin", {"token": token})

    def csrf(self, path: str) -> str:
        return re.search(r'name="_csrf" value="([^"]+)"', self.request(path)[2]).group(1)
