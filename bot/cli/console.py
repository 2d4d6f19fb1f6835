"""`ieum console link USER [--minutes N]`: a one-time sign-in link to the helpdesk web console."""
from __future__ import annotations

import sys

EXIT_OK, EXIT_REFUSED = 0, 2


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("console", help="헬프데스크 웹 콘솔 (ieum serve의 /console)")
    sub = p.add_subparsers(dest="console_command", required=True)
    link = sub.add_parser("link", help="담당자용 일회용 로그인 링크 출력")
    link.add_argument("user", help="담당자 id (IEUM_AGENTS)")
    link.add_argument("--minutes", type=int, default=15, help="링크 유효 시간(분, 1–1440, 기본 15)")
    p.set_defaults(func=run)


def run(args) -> int:
    from bot.cli.common import build_services, words
    from handlers.console import signin_link

    if not 1 <= args.minutes <= 1440:
        print(words("console_minutes"), file=sys.stderr)
        return EXIT_REFUSED
    services = build_services(args)
    try:
        if not services.inquiries.is_agent(args.user):
            print(words("console_not_agent", user=args.user[:60]), file=sys.stderr)
            return EXIT_REFUSED
        print(signin_link(services, args.user, args.minutes))
        return EXIT_OK
    finally:
        services.close()
