"""What every subcommand shares: the settings (honouring --knowledge) and the services built from them."""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.core.config import Settings
from bot.core.dates import kdate
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


@functools.lru_cache(maxsize=1)
def _words_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                               undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["kdate"] = kdate
    return env


def words(word: str, **data) -> str:
    """One of the command's own sentences, by name (`bot/cli/templates/cli_words.j2`)."""
    return _words_env().get_template("cli_words.j2").render(word=word, **data).strip()


def build_services(args):
    """Services for a command, honouring --knowledge."""
    return build(_settings(args))


def operator(args, services) -> str:
    """Who runs this command, for the access records: --by, else IEUM_USER, else the system account."""
    import os
    import pwd

    return (getattr(args, "by", None) or services.settings.extra.get("IEUM_USER")
            or pwd.getpwuid(os.getuid()).pw_name)
