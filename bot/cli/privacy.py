"""`ieum privacy verify|report|purge|subject|attachment`: the access records, the monthly review, destruction (파기).

The work is bot.inquiries.records' and bot.inquiries.protection's; this module parses and prints.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bot.cli.common import build_services, operator, words
from bot.infra.store import private_file
from bot.inquiries.records import RecordError
from bot.inquiries.service import InquiryError

EXIT_OK, EXIT_FAIL, EXIT_REFUSED = 0, 1, 2


def cmd_verify(args, services) -> int:
    checked, broken = services.privacy.records.verify()
    if broken is None:
        print(words("records_intact", checked=checked))
        return EXIT_OK
    print(words("records_broken", id=broken.id, reason=broken.reason, checked=checked))
    return EXIT_FAIL


def cmd_report(args, services) -> int:
    privacy = services.privacy
    try:
        review = privacy.ack(args.month, args.ack, args.note or "") if args.ack else privacy.review(args.month)
    except RecordError as e:
        print(str(e), file=sys.stderr)
        return EXIT_REFUSED
    if args.csv:
        Path(args.csv).write_text(review.csv(), encoding="utf-8")
    print(services.templates.render("privacy_report", r=review, csv=args.csv, policy=privacy.policy).strip())
    return EXIT_OK


def cmd_purge(args, services) -> int:
    result = services.privacy.purge()
    print(services.templates.render("privacy_purge", result=result, at=services.clock.now(),
                                    days=services.privacy.policy.destroy_after_days).strip())
    return EXIT_OK


def cmd_subject(args, services) -> int:
    """The terminal's view of one inquiry's subject info (requester or assignee only; recorded)."""
    try:
        text = services.inquiries.read_subject_info(args.receipt, operator(args, services), where="CLI")
    except InquiryError as e:
        print(str(e), file=sys.stderr)
        return EXIT_REFUSED
    print(text)
    return EXIT_OK


def cmd_attachment(args, services) -> int:
    """The terminal's download of one attachment (the requester's own, or the assignee's with a reason; recorded)."""
    try:
        name, body = services.inquiries.read_attachment(args.receipt, args.index - 1, operator(args, services),
                                                        where="CLI", download=True, reason=args.reason or "")
    except (InquiryError, RecordError) as e:
        print(str(e), file=sys.stderr)
        return EXIT_REFUSED
    out = Path(args.out) if args.out else Path(Path(name).name)
    private_file(out)  # owner-only from the first byte, like the data directory
    out.write_bytes(body)
    print(words("attachment_saved", output=out, size=len(body)))
    return EXIT_OK


COMMANDS = {"verify": cmd_verify, "report": cmd_report, "purge": cmd_purge, "subject": cmd_subject,
            "attachment": cmd_attachment}


def cmd_privacy(args) -> int:
    services = build_services(args)
    try:
        return COMMANDS[args.privacy_command](args, services)
    finally:
        services.close()


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("privacy", help="개인정보 보호: 접속기록 점검, 월간 점검 보고, 파기")
    sub = p.add_subparsers(dest="privacy_command", required=True)
    sub.add_parser("verify", help="접속기록의 해시 체인 검증 (처음 어긋난 기록을 알려 줌)")
    r = sub.add_parser("report", help="한 달의 접속기록 점검 보고 (요약과 CSV)")
    r.add_argument("--month", required=True, help="YYYY-MM (예: 2022-09)")
    r.add_argument("--csv", help="CSV로도 저장할 파일")
    r.add_argument("--ack", metavar="OFFICER", help="개인정보 보호책임자의 계정: 이 점검을 확인했다고 기록")
    r.add_argument("--note", help="확인 의견 (--ack와 함께)")
    sub.add_parser("purge", help="보유기간이 지난 대상자 정보·첨부파일 파기 (봇의 시계 IEUM_NOW 기준)")
    s = sub.add_parser("subject", help="대상자 정보 보기 (요청자·담당자만, 접속기록에 남음)")
    s.add_argument("receipt")
    s.add_argument("--by", help="보는 사람의 계정 (기본: IEUM_USER 또는 로그인 계정)")
    a = sub.add_parser("attachment", help="첨부파일 내려받기 (요청자 본인·담당자만, 접속기록에 다운로드로 남음)")
    a.add_argument("receipt")
    a.add_argument("index", type=int, help="첨부파일 번호 (1부터)")
    a.add_argument("--out", help="저장할 파일 (기본: 첨부파일 이름)")
    a.add_argument("--reason", help="내려받는 사유 (담당자는 필수, 요청자 본인은 생략 가능)")
    a.add_argument("--by", help="내려받는 사람의 계정 (기본: IEUM_USER 또는 로그인 계정)")
    p.set_defaults(func=cmd_privacy)
