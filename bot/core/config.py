"""Settings from the environment (and a `.env` file), read and validated once at start-up."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dotenv import load_dotenv

from bot.core.clock import Clock, parse_time

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KNOWLEDGE = PROJECT_ROOT / "knowledge"


class ConfigError(ValueError):
    """A setting has a value the bot cannot use."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.replace(";", ",").split(",") if v.strip())


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    knowledge: Path = DEFAULT_KNOWLEDGE
    extra_knowledge: tuple[Path, ...] = ()  # plain FAQ files (.jsonl/.csv/.xlsx) given by IEUM_KNOWLEDGE
    secret_key: str | None = None
    agents: tuple[str, ...] = ()
    now: datetime | None = None
    log_level: str = "INFO"
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_triage_channel: str | None = None
    slack_api_url: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ieum.db"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    def clock(self) -> Clock:
        return Clock(self.now)

    @classmethod
    def from_env(cls, env: dict | None = None, *, dotenv: bool = True) -> "Settings":
        if env is None:
            if dotenv:
                load_dotenv(Path.cwd() / ".env", override=False)
            env = dict(os.environ)
        now = None
        if env.get("IEUM_NOW"):
            try:
                now = parse_time(env["IEUM_NOW"])
            except ValueError as e:
                raise ConfigError(f"IEUM_NOW: {e}") from None
        secret_key = env.get("IEUM_SECRET_KEY") or None
        if secret_key:
            from .privacy import KeyError_, check_secret

            try:
                check_secret(secret_key)
            except KeyError_ as e:
                raise ConfigError(str(e)) from None
        knowledge = DEFAULT_KNOWLEDGE
        extra: tuple[Path, ...] = ()
        if env.get("IEUM_KNOWLEDGE"):
            paths = tuple(Path(p) for p in _split(env["IEUM_KNOWLEDGE"]))
            dirs = [p for p in paths if p.is_dir()]
            files = tuple(p for p in paths if not p.is_dir())
            # Plain FAQ files alone are the whole knowledge base: the bundled W4C pack does not come along.
            knowledge, extra = (dirs[0], files) if dirs else (files[0], files[1:]) if files else (knowledge, ())
        return cls(
            data_dir=Path(env.get("IEUM_DATA_DIR") or "data"),
            knowledge=knowledge,
            extra_knowledge=extra,
            secret_key=secret_key,
            agents=_split(env.get("IEUM_AGENTS", "")),
            now=now,
            log_level=env.get("IEUM_LOG_LEVEL", "INFO").upper(),
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_triage_channel=env.get("SLACK_TRIAGE_CHANNEL") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            extra={k: v for k, v in env.items() if k.startswith(("IEUM_", "CONNECTIONS__", "TEAMS_"))},
        )
