"""The `ieum` command (top layer: imported by nothing in the bot)."""
from bot.cli.main import main

__all__ = ["main"]
