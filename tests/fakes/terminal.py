"""A terminal the console tests drive through a pty: read what the bot prints until a given text shows."""
from __future__ import annotations

import os
import select
import time


def read_until(fd, needle: str, timeout: float = 30) -> str:
    """What the pty at `fd` printed until `needle` (or `timeout` seconds, or its end), decoded."""
    buf = b""
    end = time.monotonic() + timeout
    while needle.encode() not in buf and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf.decode("utf-8", errors="replace")
