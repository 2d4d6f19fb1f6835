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


def end(pid: int, fd: int, timeout: float = 30) -> int:
    """Ctrl-D at the prompt; the exit status. A Ctrl-D that lands while the line discipline is still
    canonical (a notice has just redrawn the prompt, before readline took the terminal) reaches readline as a
    NUL and is lost, so it is pressed again until the program ends; killed and failed after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.write(fd, b"\x04")
        except OSError:
            pass  # the terminal is already gone: the program ended
        until = time.monotonic() + 2
        while time.monotonic() < until:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.WEXITSTATUS(status)
            time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"the program did not end on Ctrl-D within {timeout} s")
