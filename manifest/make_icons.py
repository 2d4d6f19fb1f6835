"""Generate the Teams app icons (color.png 192x192, outline.png 32x32) with zlib/struct only.

    python manifest/make_icons.py
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(width: int, height: int, pixel) -> bytes:
    """An RGBA PNG; `pixel(x, y)` returns (r, g, b, a)."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _links(x: float, y: float, size: int) -> bool:
    """Two interlocking rings (이음, 'a joint'), in unit coordinates of the icon."""
    u, v = x / size, y / size
    for cx in (0.39, 0.61):
        d = ((u - cx) ** 2 + (v - 0.5) ** 2) ** 0.5
        if 0.15 <= d <= 0.22:
            return True
    return False


def color(x: int, y: int):
    return (255, 255, 255, 255) if _links(x + 0.5, y + 0.5, 192) else (0, 120, 138, 255)  # teal background


def outline(x: int, y: int):
    return (255, 255, 255, 255) if _links(x + 0.5, y + 0.5, 32) else (0, 0, 0, 0)  # white on transparent


if __name__ == "__main__":
    (HERE / "color.png").write_bytes(png(192, 192, color))
    (HERE / "outline.png").write_bytes(png(32, 32, outline))
