"""`ieum inquiries list|show|assign|answer|export|file` for the helpdesk and for scripts.

Nothing printed here ever contains subject info (대상자 정보): `list --json` and `show --json` carry only
a `has_subject_info` flag, exports have the seed's list columns only.
"""
from __future__ import annotations

import argparse
import json
import sys

from bot.cli.common import words
from bot.inquiries.service import PERIODS, STATUSES, EXPORT_HEADINGS, InquiryError

EXIT_OK, EXIT_FAIL, EXIT_REFUSED = 0, 1, 2


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("inquiries", help="질의하기: list, show, assign, answer, export, file")
    sub = p.add_subparsers(dest="inquiries_command", required=True)

    def filters(sp):
        sp.add_argument("--status", choices=STATUSES, help="진행상태")
        sp.add_argument("--category", help="업무분류 (예: '전체업무 > ERP > 인사' 또는 'ERP/인사'; 하위 분류 포함)")
        sp.add_argument("--type", help="질의구분")
        sp.add_argument("--urgent", action="store_const", const=True, default=None, help="긴급만")
        sp.add_argument("--text", help="제목·질의내용 검색어")
        sp.add_argument("--period", choices=list(PERIODS), help="접수기간")
        sp.add_argument("--requester", help="요청자 id")
        sp.add_argument("--assignee", help="담당자 id")

    ls = sub.add_parser("list", help="질의 목록 (최신순)")
    filters(ls)
    ls.add_argument("--page", type=int, default=1)
    ls.add_argument("--per-page", type=int, default=20)
    ls.add_argument("--json", action="store_true", help="JSON lines (대상자 정보 제외)")

    sh = sub.add_parser("show", help="질의 한 건과 이력")
    sh.add_argument("receipt")
    sh.add_argument("--json", action="store_true")

    asg = sub.add_parser("assign", help="담당자 지정 (이미 다른 담당자가 있으면 거부)")
    asg.add_argument("receipt")
    asg.add_argument("agent")
    asg.add_argument("--force", action="store_true", help="다른 담당자에게서 넘겨받기")

    ans = sub.add_parser("answer", help="답변 등록 (기본: 조치완료)")
    ans.add_argument("receipt")
    ans.add_argument("--agent", required=True)
    ans.add_argument("--text", help="답변 (없으면 표준입력)")
    ans.add_argument("--no-complete", action="store_true", help="조치중으로 두기")

    ex = sub.add_parser("export", help="필터한 목록을 CSV/Excel로 (대상자 정보 제외)")
    filters(ex)
    ex.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    ex.add_argument("--output", required=True)
    ex.add_argument("--reason", help="내려받는 사유 (필수: 개인을 식별할 수 있는 목록이므로 접속기록에 남습니다)")
    ex.add_argument("--by", help="내려받는 사람의 계정 (기본: IEUM_USER 또는 로그인 계정)")
    ex.add_argument("--with-content", action="store_true",
                    help="질의내용·답변·담당자·완료일시·처리시간 포함 (개인정보는 가림, 대상자 정보는 제외)")

    fl = sub.add_parser("file", help="표준입력의 JSON lines로 질의 등록")
    fl.add_argument("--json", action="store_true", required=True,
                    help="한 줄에 하나: title, category, type, urgent, public, requester, organization, "
                         "position, content, subject_info")
    p.set_defaults(func=run)


def _filters(args) -> dict:
    return {k: getattr(args, k) for k in ("status", "category", "type", "urgent", "text", "period", "requester",
                                          "assignee") if getattr(args, k, None) is not None}


def _err(message: str) -> None:
    print(words("error", message=message), file=sys.stderr)


def run(args) -> int:
    from bot.core.privacy import KeyMismatch
    from bot.services import build

    try:
        services = build()
    except KeyMismatch as e:
        _err(str(e))
        return EXIT_REFUSED
    try:
        return COMMANDS[args.inquiries_command](args, services)
    except InquiryError as e:
        _err(str(e))
        return EXIT_FAIL
    finally:
        services.close()


def _check_agent(services, agent: str) -> bool:
    if not services.inquiries.is_agent(agent):  # the same rule as in chat
        _err(words("not_agent", agent=agent))
        return False
    return True


def cmd_list(args, services) -> int:
    inq = services.inquiries
    page = inq.list(page=args.page, per_page=args.per_page, **_filters(args))
    now = services.clock.now()
    if args.json:
        for i in page.items:
            d = i.public_dict()
            d["remaining"] = inq.remaining_label(i, now)
            print(json.dumps(d, ensure_ascii=False))
        return EXIT_OK
    print("\t".join(EXPORT_HEADINGS))
    for row in inq.export_rows(page.items):
        print("\t".join(str(v) for v in row))
    print(words("list_total", total=page.total, capped=page.capped, page=page.page, pages=page.pages))
    return EXIT_OK


def cmd_show(args, services) -> int:
    inq = services.inquiries
    i = inq.get(args.receipt, events=True)
    if args.json:
        d = i.public_dict()
        d["remaining"] = inq.remaining_label(i)
        d["events"] = [e.__dict__ for e in i.events]
        print(json.dumps(d, ensure_ascii=False))
        return EXIT_OK
    print(services.templates.render("inquiry_detail", i=i.public_dict(), remaining=inq.remaining_label(i)))
    print()
    print(services.templates.render("inquiry_history", events=i.events))
    return EXIT_OK


def cmd_assign(args, services) -> int:
    if not _check_agent(services, args.agent):
        return EXIT_FAIL
    i = services.inquiries.assign(args.receipt, args.agent, force=args.force)
    print(words("assigned", receipt=i.receipt, assignee=i.assignee, status=i.status))
    return EXIT_OK


def cmd_answer(args, services) -> int:
    """The answer goes through the triage handler a chat click runs: the triage card is updated and the
    requester is told on the surface they used, through the outbox (a serving bot polls it every few
    seconds, `IEUM_OUTBOX_POLL_SECONDS`)."""
    from bot.core.messages import Incoming
    from handlers.delivery import act

    if not _check_agent(services, args.agent):
        return EXIT_FAIL
    text = args.text if args.text is not None else sys.stdin.read()
    i = services.inquiries.get(args.receipt)
    incoming = Incoming(user=args.agent, surface="cli", action="triage.answer.submit", value=i.receipt,
                        form={"answer": text, "complete": not args.no_complete})
    replies = act(services, incoming, source=i.source)
    errors = [m for r in replies if r.form is not None for m in r.form.errors.values()]
    if errors:
        _err(" ".join(errors))
        return EXIT_REFUSED
    refused = [r.text for r in replies if r.kind == "error"]
    if refused:
        print("\n".join(refused), file=sys.stderr)
        return EXIT_FAIL
    i = services.inquiries.get(i.receipt)
    print(f"{i.receipt}\t{i.status}")
    return EXIT_OK


def cmd_export(args, services) -> int:
    # The list names requesters and their organisations: an 출력 of personal data, refused without a reason.
    from bot.cli.common import operator
    from bot.inquiries.records import RecordError

    try:
        services.privacy.records.record(handler=operator(args, services), place="CLI", action="출력",
                                        reason=args.reason or "", detail=f"질의 목록 내보내기 ({args.format})")
    except RecordError as e:
        _err(str(e) + " (--reason)")
        return EXIT_REFUSED
    n = services.inquiries.export(args.output, args.format, with_content=args.with_content, **_filters(args))
    print(words("exported", n=n, output=args.output), file=sys.stderr)
    return EXIT_OK


FILE_FIELDS = ("title", "category", "type", "urgent", "public", "requester", "organization", "position",
               "content", "subject_info")


def file_line(services, line: str) -> str:
    """File one JSON line; returns the receipt number or raises InquiryError with the Korean reason."""
    try:
        data = json.loads(line)
    except ValueError:
        raise InquiryError(words("file_bad_json")) from None
    if not isinstance(data, dict):
        raise InquiryError(words("file_not_object"))
    unknown = sorted(k for k in data if k not in FILE_FIELDS and k not in ("requester_name", "attachments"))
    if unknown:
        raise InquiryError(words("file_unknown_fields", fields=", ".join(unknown)[:80]))
    for k in ("title", "category", "type", "requester", "organization", "position", "content", "subject_info"):
        if data.get(k) is not None and not isinstance(data[k], str):
            raise InquiryError(words("file_not_text", field=k))
    for k in ("urgent", "public"):
        if data.get(k) is not None and not isinstance(data[k], (bool, int, str)):
            raise InquiryError(words("file_not_bool", field=k))
    i = services.inquiries.file(
        title=data.get("title") or "", category=data.get("category") or "", type=data.get("type") or "",
        urgent=data.get("urgent", False), public=data.get("public", True), requester=data.get("requester") or "",
        requester_name=data.get("requester_name") or "", organization=data.get("organization") or "",
        position=data.get("position") or "", content=data.get("content") or "",
        subject_info=data.get("subject_info") or "", attachments=data.get("attachments") or [], source="import")
    return i.receipt


def cmd_file(args, services) -> int:
    refused = 0
    stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    for n, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        try:
            print(file_line(services, line), flush=True)
        except InquiryError as e:
            refused += 1
            print(words("file_refused", line=n, message=e), flush=True)
    return EXIT_REFUSED if refused else EXIT_OK


COMMANDS = {"list": cmd_list, "show": cmd_show, "assign": cmd_assign, "answer": cmd_answer,
            "export": cmd_export, "file": cmd_file}


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m bot.inquiries_cli inquiries list`), the same as `ieum inquiries …`."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    parser = argparse.ArgumentParser(prog="ieum")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
