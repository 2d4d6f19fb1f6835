"""Build the Teams app package (a zip of manifest.json and the two icons) for sideloading.

    python manifest/package.py <MICROSOFT_APP_ID> [out.zip]

The app id (the bot's Entra app registration, CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID) replaces
the placeholder in both `id` and `bots[0].botId`.
"""
from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def build(app_id: str, out: Path) -> Path:
    if not GUID.match(app_id):
        raise SystemExit(f"앱 ID는 GUID 형식이어야 합니다: {app_id!r}")
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        z.write(HERE / "color.png", "color.png")
        z.write(HERE / "outline.png", "outline.png")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    path = build(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else Path("ieum-teams.zip"))
    print(path)
