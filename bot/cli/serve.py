"""`ieum serve`: the HTTP server (bot.http) from the command line."""
from __future__ import annotations

from bot.cli.common import _settings


def cmd_serve(args) -> int:
    from bot.http import main

    return main(_settings(args), host=args.host, port=args.port)


def register_cli(subparsers) -> None:
    if "serve" in getattr(subparsers, "choices", {}):
        return
    serve = subparsers.add_parser("serve", help="the HTTP server: Slack /slack/events (or Socket Mode) and /healthz")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="0.0.0.0")
    serve.set_defaults(func=cmd_serve)
