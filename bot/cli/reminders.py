"""`ieum schedule list|preview|simulate|set|tick`: the reminder campaign from the command line."""
from __future__ import annotations

import argparse
import json
import sys

from bot.cli.common import build_services, words
from bot.core.clock import BadTime, parse_time


def _services(args):
    return build_services(args)


def _milestone_name(services, mid: str) -> str:
    ms = services.kb.milestones.get(mid)
    return ms.name if ms else mid


def cmd_list(args) -> int:
    from bot.knowledge.templates import dday, kdate, kdatetime

    services = _services(args)
    try:
        reminders = services.reminders
        now = services.clock.now()
        start = None if args.all else now
        shown = 0
        for occ in reminders.occurrences(start):
            targets = ", ".join(f"{s}:{t}" for s, t in reminders.targets(occ)) or words("no_targets")
            label, shifted = occ.offset, ""
            if occ.at.date() != occ.planned.date():  # the real distance, and why it is not the rule's
                moment = services.kb.milestones[occ.milestone].moment
                label = dday(moment, occ.at) if moment and occ.offset.startswith("D") else occ.offset
                shifted = " " + words("holiday_shift", offset=occ.offset, planned=kdate(occ.planned))
            print(f"{occ.at.isoformat(timespec='minutes')}  {kdatetime(occ.at):<18} {occ.rule.id:<18} "
                  f"{label:<6} {_milestone_name(services, occ.milestone)}{shifted} → {targets}")
            shown += 1
        open_ones = [r for r in reminders.rules.rules
                     if r.milestone in services.kb.milestones and services.kb.milestones[r.milestone].moment is None]
        for r in open_ones:
            ms = services.kb.milestones[r.milestone]
            print(words("undated_rule", rule=r.id, name=ms.name, label=ms.label, milestone=ms.id))
        if not shown:
            print(_why_empty(reminders, now, args.all))
        return 0
    finally:
        services.close()


def _why_empty(reminders, now, everything: bool) -> str:
    """'Nothing planned' and why: the campaign is over (or not dated yet), and how to replay it."""
    past = [o.at for o in reminders.occurrences(None)]
    if everything or not past:
        return words("nothing_planned", undated=True, first=None)
    first, last = min(past), max(past)
    if last < now:
        return words("nothing_planned", undated=False, first=first, last=last, now=now)
    return words("nothing_planned", undated=False, first=None)


def cmd_preview(args) -> int:
    services = _services(args)
    try:
        reminders = services.reminders
        rule = reminders.rules.rule(args.rule)
        if rule is None:
            print(words("unknown_rule", rule=args.rule, rules=[r.id for r in reminders.rules.rules]), file=sys.stderr)
            return 2
        from bot.reminders.service import Occurrence, occurrences

        occs = occurrences(rule, services.kb)
        if args.at:
            at = parse_time(args.at)
            occ = next((o for o in occs if o.at == at), None) or Occurrence(rule, at, at, _nearest_offset(occs, at))
        elif occs:
            occ = occs[0]
        else:
            print(words("rule_undated", rule=rule.id), file=sys.stderr)
            return 1
        print(reminders.render(occ).text)
        return 0
    except BadTime as e:
        print(str(e), file=sys.stderr)
        return 2
    finally:
        services.close()


def _nearest_offset(occs, at) -> str:
    after = [o for o in occs if o.at >= at]
    return after[0].offset if after else (occs[-1].offset if occs else "")


def cmd_simulate(args) -> int:
    services = _services(args)
    try:
        start = parse_time(args.from_) if args.from_ else None
        end = parse_time(args.to) if args.to else None
        sends = services.reminders.plan(start, end)
        for s in sends:
            if args.json:
                print(json.dumps(s.as_dict(), ensure_ascii=False))
            else:
                print(f"── {s.occurrence.at.isoformat(timespec='minutes')} {s.occurrence.rule.id} → {s.surface}:{s.target}")
                print(s.reply.text)
                print()
        if not args.json:
            print(words("simulated", n=len(sends)), file=sys.stderr)
        return 0
    except BadTime as e:
        print(str(e), file=sys.stderr)
        return 2
    finally:
        services.close()


def cmd_set(args) -> int:
    from bot.reminders.service import ReminderError, set_milestone

    services = _services(args)
    try:
        ms = set_milestone(services, args.milestone, args.date, by=args.by or "cli")
        print(words("milestone_set", name=ms.name, when=ms.when))
        return 0
    except ReminderError as e:
        print(words("error", message=e), file=sys.stderr)
        return 2
    finally:
        services.close()


def cmd_tick(args) -> int:
    from bot.infra.scheduler import tick

    services = _services(args)
    try:
        print(json.dumps(tick(services), ensure_ascii=False))
        return 0
    finally:
        services.close()


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("schedule", help="scheduled reminders (list, preview, simulate, set)")
    sub = p.add_subparsers(dest="schedule_command", required=True)
    ls = sub.add_parser("list", help="what will be sent, when, to whom")
    ls.add_argument("--all", action="store_true", help="include past sends")
    ls.set_defaults(func=cmd_list)
    pv = sub.add_parser("preview", help="the rendered message of a rule")
    pv.add_argument("rule")
    pv.add_argument("--at", help="send time, e.g. 2022-08-29T09:00+09:00")
    pv.set_defaults(func=cmd_preview)
    sim = sub.add_parser("simulate", help="every send between two times, in order")
    sim.add_argument("--from", dest="from_", help="start (inclusive)")
    sim.add_argument("--to", help="end (exclusive)")
    sim.add_argument("--json", action="store_true", help='JSON lines {"at","rule","milestone","target","text"}')
    sim.set_defaults(func=cmd_simulate)
    st = sub.add_parser("set", help="set an open milestone's date (e.g. phase2_reporting 2022-09-19)")
    st.add_argument("milestone")
    st.add_argument("date", help="YYYY-MM-DD or an ISO date-time")
    st.add_argument("--by", help="who set it (recorded)")
    st.set_defaults(func=cmd_set)
    tk = sub.add_parser("tick", help="enqueue due reminders and send what is due, once")
    tk.set_defaults(func=cmd_tick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ieum")
    parser.add_argument("--knowledge")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
