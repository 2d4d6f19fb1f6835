"""Reminder rules: Seoul send times, the holiday shift, audiences, overrides, phrases, templates, CLI."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import holidays
import pytest

from bot import services as services_mod
from bot.core.clock import SEOUL, FixedClock
from bot.core.config import Settings
from bot.core.messages import Incoming
from bot.knowledge.phrases import relative_phrase, rules_path
from bot.reminders.service import Occurrence, ReminderError, Rule, apply_overrides, check_rules, load_rules, occurrences, parse_offset, set_milestone, shift_to_business_day
from bot.infra.store import Store
from bot.knowledge.templates import kdatetime
from handlers.router import dispatch


from conftest import BOTH

STORES = BOTH


@pytest.fixture(autouse=True)
def _store_of_the_run(open_store, monkeypatch):
    """`Store` in this module opens the run's store (conftest's `open_store`: SQLite, or PostgreSQL)."""
    monkeypatch.setitem(globals(), "Store", open_store)


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=SEOUL)


def make(tmp_path, when="2022-08-15T00:00", **extra):
    settings = Settings(data_dir=tmp_path, extra=extra)
    return services_mod.build(settings, clock=FixedClock(at(when)), store=Store(tmp_path / "ieum.db"))


@pytest.fixture
def services(tmp_path):
    s = make(tmp_path)
    yield s
    s.close()


EXPECTED = [
    ("2022-08-23T09:00", "cms_before"), ("2022-08-23T09:00", "report_cutoff"),
    ("2022-08-24T09:00", "data_entry_close"),
    ("2022-08-26T09:00", "cms_before"), ("2022-08-26T09:00", "data_entry_close"),  # D-3 on Sat/Sun → Fri
    ("2022-08-26T09:00", "report_cutoff"),
    ("2022-08-29T09:00", "cms_before"), ("2022-08-29T09:00", "report_cutoff"),
    ("2022-08-30T09:00", "data_entry_close"), ("2022-08-30T09:00", "report_cutoff"),
    ("2022-08-31T09:00", "data_entry_close"), ("2022-08-31T15:00", "data_entry_close"),  # 3 hours before 18:00
    ("2022-09-01T09:00", "outage_status"), ("2022-09-02T09:00", "outage_status"),
    ("2022-09-05T09:00", "launch"), ("2022-09-05T09:00", "outage_status"),
    ("2022-09-06T09:00", "launch"), ("2022-09-06T10:00", "launch_digest"),
    ("2022-09-13T10:00", "launch_digest"), ("2022-09-20T10:00", "launch_digest"),
    ("2022-09-23T09:00", "deadline_0930"), ("2022-09-27T09:00", "deadline_0930"),
    ("2022-09-29T09:00", "deadline_0930"), ("2022-09-30T09:00", "deadline_0930"),
]


def test_each_rule_fires_at_the_right_seoul_time(services):
    got = [(o.at, o.rule.id) for o in services.reminders.occurrences()]
    assert got == [(at(t), r) for t, r in EXPECTED]
    for when, _ in got:
        assert when.utcoffset() == timedelta(hours=9)
    # "N hours before" is the exact instant; whole-day offsets use the rule's hour (09:00 by default)
    close = [o for o in services.reminders.occurrences() if o.rule.id == "data_entry_close"]
    assert [o.offset for o in close] == ["D-7", "D-3", "D-1", "D-day", "-3h"]


def test_nothing_lands_on_a_weekend_or_holiday(services):
    kr = holidays.country_holidays("KR")
    for o in services.reminders.occurrences():
        assert o.at.weekday() < 5 and o.at.date() not in kr, o


def test_holiday_shift_moves_to_the_previous_business_day():
    # 추석 2022-09-09 (Fri) .. 09-12 (Mon, substitute holiday)
    for d in ("2022-09-09", "2022-09-10", "2022-09-11", "2022-09-12"):
        assert shift_to_business_day(at(d + "T09:00")) == at("2022-09-08T09:00")
    assert shift_to_business_day(at("2022-09-13T09:00")) == at("2022-09-13T09:00")
    assert shift_to_business_day(at("2022-08-15T15:00")) == at("2022-08-12T15:00")  # 광복절 (Mon)


def test_an_admin_set_milestone_is_persisted_and_reminders_follow(tmp_path):
    s = make(tmp_path)
    assert [o for o in s.reminders.occurrences() if o.rule.id == "phase2_open"] == []  # "9월 중": nothing yet
    set_milestone(s, "phase2_reporting", "2022-09-13", by="admin")
    occ = [o for o in s.reminders.occurrences() if o.rule.id == "phase2_open"]
    # D-1 is 9/12 (substitute holiday for 추석) → moved to Thursday 9/8; D-day 9/13 stays.
    assert [(o.at, o.offset) for o in occ] == [(at("2022-09-08T09:00"), "D-1"), (at("2022-09-13T09:00"), "D-day")]
    assert "9월 13일(화)" in s.reminders.render(occ[0]).text
    assert s.kb.milestones["phase2_reporting"].when == "9월 13일(화)"
    s.close()
    # a new process on the same database sees the override
    s2 = make(tmp_path)
    assert s2.kb.milestones["phase2_reporting"].date == date(2022, 9, 13)
    s2.close()


def test_an_override_made_by_another_process_is_picked_up(tmp_path):
    bot = make(tmp_path)
    admin = make(tmp_path)
    set_milestone(admin, "phase2_reporting", "2022-09-19T14:00")
    assert bot.kb.milestones["phase2_reporting"].moment is None
    assert apply_overrides(bot) == 1
    assert bot.kb.milestones["phase2_reporting"].at == at("2022-09-19T14:00")
    with pytest.raises(ReminderError):
        set_milestone(admin, "outage", "2022-09-01")  # windows are not set this way
    with pytest.raises(ReminderError):
        set_milestone(admin, "nope", "2022-09-01")
    with pytest.raises(ReminderError):
        set_milestone(admin, "phase2_reporting", "9월 말")


def test_templates_render_for_every_milestone(services):
    kb = services.kb
    for mid, ms in kb.milestones.items():
        for template in ("reminder_deadline", "reminder_launch", "reminder_digest"):
            rule = Rule(id=f"t_{mid}", milestone=mid, template=template, offsets=["D-1"], todo=["할 일"],
                        entries=["launch-date"])
            when = ms.moment - timedelta(days=1) if ms.moment else at("2022-09-01T09:00")
            text = services.reminders.render(Occurrence(rule, when, when, "D-1")).text
            assert text.strip() and "{{" not in text and "Undefined" not in text, (mid, template)
            if template == "reminder_deadline":
                assert ms.name in text and ms.when in text
    outage = kb.milestones["outage"]
    rule = services.reminders.rules.rule("outage_status")
    text = services.reminders.render(occurrences(rule, kb)[0]).text
    assert text.startswith("🛠 시스템 중단 2일차, 9월 6일(화) 09:00 개통")
    assert kdatetime(outage.start) == "8월 31일(수) 18:00"


def test_messages_say_the_date_the_korean_way_and_what_to_do(services):
    plan = services.reminders.plan(at("2022-08-31T00:00"), at("2022-09-01T00:00"))
    texts = [s.reply.text for s in plan]
    assert "오늘입니다 (D-day) — 8월 31일(수) 18:00" in texts[0]
    assert texts[1].startswith("⏰ [사회복지시설정보시스템 자료입력 마감] 3시간 남았습니다 — 8월 31일(수) 18:00")
    assert "해야 할 일" in texts[1]
    assert plan[0].reply.data["entries"]  # linked FAQ entries travel as data too
    d3 = services.reminders.plan(at("2022-08-26T00:00"), at("2022-08-27T00:00"))
    assert any("D-5 — 8월 31일(수) 18:00" in s.reply.text for s in d3)  # counted from the real send day
    digest = services.reminders.plan(at("2022-09-06T10:00"), at("2022-09-06T10:01"))[0].reply.text
    assert "9월 30일(금) (D-24)" in digest and "9월 중" in digest


@pytest.mark.parametrize("now, outage, launch", [
    ("2022-08-29T10:00", "중단까지 D-2", "개통까지 D-8, 8일 남음"),
    ("2022-08-31T12:00", "중단까지 D-day (오늘 18:00)", "개통까지 D-6, 6일 남음"),
    ("2022-09-02T10:00", "현재 중단 기간입니다 (9월 6일(화) 09:00 개통, D-4, 4일 남음)",
     "지금은 시스템 중단 기간이라 아직 사용할 수 없습니다, 개통까지 D-4, 4일 남음"),
    ("2022-09-07T10:00", "이미 개통되었습니다", "이미 개통되었습니다 (개통 D+1)"),
])
def test_time_aware_phrases_before_during_and_after_the_outage(services, now, outage, launch):
    services.clock.set(at(now))
    assert relative_phrase("outage", services) == outage
    assert relative_phrase("launch", services) == launch
    # available to every template as relative('…')
    assert services.templates.env.from_string("{{ relative('outage') }}").render() == outage


def test_phrase_for_an_open_milestone_and_unknown_ids(services):
    assert relative_phrase("phase2_reporting", services) == "2차 시군구 보고 개시: 9월 중 예정"
    assert relative_phrase("nope", services) == ""


def test_subscription_command_toggles(services):
    def say(text, action=None, value=None):
        return dispatch(Incoming(user="U1", text=text, surface="slack", action=action, value=value), services)[0]

    r = say("알림")
    assert r.data["subscribed"] is True and "알림을 받습니다" in r.text and r.private
    assert services.reminders.is_subscribed("slack", "U1")
    r = say("알림 끄기")
    assert r.data["subscribed"] is False and not services.reminders.is_subscribed("slack", "U1")
    r = say("알림끄기")
    assert r.data["subscribed"] is False
    r = say("", action="reminders.toggle", value="on")
    assert r.data["subscribed"] is True
    r = say("알림")  # toggles back off
    assert r.data["subscribed"] is False


def test_subscribers_get_sends_after_they_subscribed(tmp_path):
    s = make(tmp_path, when="2022-08-25T12:00", IEUM_REMINDER_CHANNELS="slack:C_NOTICE, teams:19:abc")
    s.reminders.subscribe("slack", "U7")
    plan = s.reminders.plan(at("2022-08-23T00:00"), at("2022-08-27T00:00"))
    before = {x.target for x in plan if x.occurrence.at < at("2022-08-25T12:00")}
    after = {x.target for x in plan if x.occurrence.at > at("2022-08-25T12:00")}
    assert before == {"C_NOTICE", "19:abc"}
    assert after == {"C_NOTICE", "19:abc", "U7"}
    s.close()


def test_check_rules_accepts_the_shipped_rules_and_names_problems(services, tmp_path):
    assert check_rules(services.kb, load_rules(rules_path(services.kb))) == []
    bad = tmp_path / "reminders.yaml"
    bad.write_text(
        "rules:\n"
        "  - {id: a, milestone: nope, template: reminder_deadline, offsets: [D-1]}\n"
        "  - {id: b, milestone: launch, template: missing_template, offsets: [D-1], entries: [no-such-entry]}\n"
        "  - {id: b, milestone: launch, template: reminder_deadline, offsets: [soon]}\n"
        "  - {id: c, milestone: launch, kind: daily, template: reminder_deadline, audience: [everyone]}\n",
        encoding="utf-8")
    problems = check_rules(services.kb, load_rules(bad))
    text = "\n".join(problems)
    assert "nope" in text and "missing_template" in text and "no-such-entry" in text
    assert "soon" in text and "daily" in text and "everyone" in text
    assert all(p.startswith(str(bad)) or p.startswith("reminders.yaml") for p in problems)


def test_parse_offset():
    assert parse_offset("D-7") == ("day", -7)
    assert parse_offset("D-day") == ("day", 0)
    assert parse_offset("D+0") == ("day", 0)
    assert parse_offset("D+14") == ("day", 14)
    assert parse_offset("-3h") == ("hour", -3)
    with pytest.raises(ReminderError):
        parse_offset("tomorrow")


def test_a_missed_send_goes_out_late_within_grace_else_is_skipped(tmp_path):
    s = make(tmp_path, when="2022-08-23T14:00")  # 5 hours after 09:00, grace 6h
    counts = s.reminders.materialize()
    assert counts == {"enqueued": 2, "skipped": 0}
    s.clock.set(at("2022-08-24T15:30"))  # 6.5 hours after the 8/24 09:00 send
    counts = s.reminders.materialize()
    assert counts == {"enqueued": 0, "skipped": 1}
    key = "reminder:data_entry_close:2022-08-24T09:00+09:00:console:console"
    assert s.outbox.status(key) == "skipped"
    assert s.reminders.materialize() == {"enqueued": 0, "skipped": 0}
    s.close()


class _Inquiries:
    """A stand-in with the shape reminders read (bot/inquiries.py is built separately)."""

    def __init__(self, items):
        self.items = items

    def open_for_reminders(self):
        return self.items


def test_inquiry_warnings_at_75_percent_and_overdue_in_business_hours(tmp_path):
    s = make(tmp_path, when="2022-09-07T09:00")
    s.outbox.register_sender("slack", lambda t, r: None)
    s.inquiries = _Inquiries([{
        "receipt": "0000000011", "assignee": "U_AGENT", "surface": "slack", "title": "권한 문의",
        "created_at": at("2022-09-07T09:00"), "due_at": at("2022-09-08T09:00"),  # 9 business hours
    }])
    assert s.reminders.inquiry_warnings() == 0
    s.clock.set(at("2022-09-07T15:45"))  # 6h45m = 75% of 9 business hours
    assert s.reminders.inquiry_warnings() == 1
    assert s.reminders.inquiry_warnings() == 0  # once
    row = s.outbox.get("inquiry-warn:0000000011:75")
    assert row["target"] == "U_AGENT" and "75%" in row["reply"]
    s.clock.set(at("2022-09-08T08:00"))  # overdue? not yet; also outside business hours
    assert s.reminders.inquiry_warnings() == 0
    s.clock.set(at("2022-09-09T10:00"))  # overdue but 추석: business hours only
    assert s.reminders.inquiry_warnings() == 0
    s.clock.set(at("2022-09-13T09:00"))
    assert s.reminders.inquiry_warnings() == 1
    assert s.outbox.status("inquiry-warn:0000000011:overdue") == "pending"
    s.close()


def test_inquiry_warnings_follow_the_inquiries_business_hours_policy(tmp_path):
    from datetime import time

    from bot.infra.businesshours import BusinessCalendar, Policy

    s = make(tmp_path, when="2022-09-07T09:30")
    s.outbox.register_sender("slack", lambda t, r: None)
    stand_in = _Inquiries([{
        "receipt": "0000000012", "assignee": "U_AGENT", "surface": "slack", "title": "권한 문의",
        "created_at": at("2022-09-06T10:00"), "due_at": at("2022-09-07T09:00"),
    }])
    stand_in.calendar = BusinessCalendar(Policy(start=time(10, 0), end=time(17, 0)))
    s.inquiries = stand_in
    assert s.reminders.calendar() is stand_in.calendar
    assert s.reminders.inquiry_warnings() == 0  # 09:30 is before this policy's opening
    s.clock.set(at("2022-09-07T10:00"))
    assert s.reminders.inquiry_warnings() == 1
    assert s.outbox.status("inquiry-warn:0000000012:overdue") == "pending"
    s.close()


def test_cli_simulate_lists_the_whole_campaign(tmp_path, monkeypatch, capsys):
    from bot.cli.main import main

    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IEUM_NOW", raising=False)
    monkeypatch.delenv("IEUM_REMINDER_CHANNELS", raising=False)
    assert main(["schedule", "simulate", "--from", "2022-08-15T00:00+09:00", "--to", "2022-10-01T00:00+09:00",
                 "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(EXPECTED)
    assert [(x["at"], x["rule"]) for x in lines] == [(at(t).isoformat(), r) for t, r in EXPECTED]
    assert set(lines[0]) == {"at", "rule", "milestone", "target", "text"}
    kr = holidays.country_holidays("KR")
    assert all(datetime.fromisoformat(x["at"]).weekday() < 5 for x in lines)
    assert all(datetime.fromisoformat(x["at"]).date() not in kr for x in lines)

    assert main(["schedule", "set", "phase2_reporting", "2022-09-19"]) == 0
    capsys.readouterr()
    assert main(["schedule", "simulate", "--from", "2022-09-16T00:00", "--to", "2022-09-20T00:00", "--json"]) == 0
    rules = [json.loads(line)["rule"] for line in capsys.readouterr().out.splitlines()]
    assert rules == ["phase2_open", "phase2_open"]  # D-1 (Sun 9/18 → Fri 9/16) and D-day

    assert main(["schedule", "preview", "data_entry_close", "--at", "2022-08-31T15:00+09:00"]) == 0
    assert "3시간 남았습니다" in capsys.readouterr().out
    assert main(["schedule", "list", "--all"]) == 0
    out = capsys.readouterr().out
    assert "휴일 → 앞당김" in out and "deadline_0930" in out


def test_template_global_without_services_for_kb_check(services):
    from bot.knowledge.base import Entry
    from bot.knowledge.phrases import install_template_globals
    from bot.knowledge.templates import Templates

    templates = Templates(services.kb, FixedClock(at("2022-09-01T10:00")))
    install_template_globals(templates)
    entry = Entry(id="t", title="중단", answer="{{ relative('outage') }} / {{ relative('launch') }}")
    assert templates.render_answer(entry, strict=True) == (
        "현재 중단 기간입니다 (9월 6일(화) 09:00 개통, D-5, 5일 남음) / "
        "지금은 시스템 중단 기간이라 아직 사용할 수 없습니다, 개통까지 D-5, 5일 남음")
