"""`ieum serve` whose Teams adapter takes its outbound token from the fake connector (FakeConnections)
instead of Microsoft Entra, which the test machine cannot reach: `python tests/fakes/teams_serve.py --port N`.
Everything else (the inbound JWT validation against IEUM_TEAMS_OPENID_METADATA, the store, the handlers) is
the real `ieum serve`."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `fakes` on the path, as under pytest

from bot import http  # noqa: E402
from bot.cli.main import main  # noqa: E402
from fakes.teams import FakeConnections  # noqa: E402

if __name__ == "__main__":
    http.MOUNTS[http.MOUNTS.index(http.mount_teams)] = functools.partial(http.mount_teams,
                                                                        connections=FakeConnections())
    sys.exit(main(["serve", *sys.argv[1:]]))
