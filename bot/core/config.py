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


AGENTS_SDK_PREFIXES = ("CONNECTIONS__", "CONNECTIONSMAP", "AGENTAPPLICATION__")  # the SDK's documented variables


class ConfigError(ValueError):
    """A setting has a value the bot cannot use."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.replace(";", ",").split(",") if v.strip())


def _public_url(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
        raise ConfigError(f"IEUM_PUBLIC_URL은 http:// 또는 https://로 시작하는 주소여야 합니다: {value[:80]}")
    return value


def _days(value: str) -> int:
    if not value.strip():
        return 90
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise ConfigError(f"IEUM_GAPS_DAYS는 1에서 3650 사이의 일수여야 합니다: {value[:20]}")
    return days


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
    # the helpdesk console's address as agents' browsers reach it (sign-in links); None: http://127.0.0.1:PORT
    public_url: str | None = None
    gaps_days: int = 90  # how long declined questions are kept (IEUM_GAPS_DAYS)
    extra: dict = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ieum.db"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def console_url(self) -> str:
        """Where agents' browsers reach `ieum serve` (the default port of `ieum serve`)."""
        return self.public_url or "http://127.0.0.1:3000"

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
            public_url=_public_url(env.get("IEUM_PUBLIC_URL", "")),
            gaps_days=_days(env.get("IEUM_GAPS_DAYS", "")),
            # the surfaces' own settings, and the Microsoft Agents SDK's variables, which the Teams surface
            # hands to the SDK as a dict (`load_configuration_from_env(settings.extra)`)
            extra={k: v for k, v in env.items() if k.startswith(("IEUM_", "TEAMS_") + AGENTS_SDK_PREFIXES)},
        )
