"""The `ieum` command (the top layer: nothing in the bot imports it); `bot.cli.main:main` is the entry point."""
