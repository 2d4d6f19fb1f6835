"""What every subcommand shares: the settings (honouring --knowledge) and the services built from them."""
from __future__ import annotations

from pathlib import Path

from bot.core.config import Settings
from bot.services import build


def _settings(args) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "knowledge", None):
        path = Path(args.knowledge)
        settings = _replace(settings, knowledge=path, extra_knowledge=())
    return settings


def _replace(settings: Settings, **changes) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)


def build_services(args):
    """Services for a command, honouring --knowledge."""
    return build(_settings(args))


def operator(args, services) -> str:
    """Who runs this command, for the access records: --by, else IEUM_USER, else the system account."""
    import os
    import pwd

    return (getattr(args, "by", None) or services.settings.extra.get("IEUM_USER")
            or pwd.getpwuid(os.getuid()).pw_name)
