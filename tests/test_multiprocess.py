"""Two and three `ieum serve` processes on one PostgreSQL database (issue 15), behind the fake Slack: events
and form submissions spread over the processes and retried on another, one process killed -9 mid-run,
reminders due while all of them tick, processes starting at once, and one with another key. Counted: every
event answered once, every form filed once with sequential receipts, every delivery key sent once."""
from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.privacy import Cipher, check_secret
from fakes.harness import (AGENT, SUBJECT, TRIAGE, BotProcess, Client, message_event, submission,
                           wait_until)
from fakes.slack import receipt_of

CIPHER = Cipher(check_secret("cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4="))


def rows(url: str, sql: str, args=()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute(sql, args or None).fetchall()


def start_at_once(bots: list[BotProcess]) -> list[BotProcess]:
    """Start every process at the same moment (their migrations race), each waited for until healthy."""
    errors: list[BaseException] = []

    def start(bot):
        try:
            bot.start(timeout=60)
        except BaseException as e:  # reported below, on the test's thread
            errors.append(e)

    threads = [threading.Thread(target=start, args=(b,)) for b in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for b in bots:
            b.stop()
        raise errors[0]
    return bots


@pytest.fixture
def database(pg):
    return pg.fresh_database()


@pytest.fixture
def bots(tmp_path, fake, database):
    """`bots(n, **env)`: n processes on the test's database, each with its own data directory (as on
    separate hosts) and the same key; all stopped at the end."""
    started: list[BotProcess] = []

    def make(n: int, launcher=None, **env) -> list[BotProcess]:
        new = [BotProcess(tmp_path / f"data{len(started) + k}", fake, tmp_path / f"bot{len(started) + k}.log",
                          launcher=launcher, IEUM_DATABASE_URL=database, **env) for k in range(n)]
        started.extend(new)
        return start_at_once(new)

    fake.reset()
    yield make
    for b in started:
        b.stop()


def test_processes_starting_at_once_apply_each_migration_once(bots, database):
    from bot.services import MIGRATIONS

    bots(3)
    applied = Counter(name for (name,) in rows(database, "SELECT name FROM _migrations"))
    assert set(applied) == {name for m in MIGRATIONS for name, _ in m.steps}
    assert max(applied.values()) == 1


def test_events_and_forms_over_three_processes_are_handled_once_even_with_one_killed(bots, database, fake):
    procs = bots(3)
    clients = [Client(b.url) for b in procs]
    forms = [submission(f"U{500 + k}", title=f"다중 처리 질의 {k}", content=f"내용 {k}",
                        subject=SUBJECT if k % 2 else "", view_id=f"VM{k}") for k in range(18)]

    def send(k: int, client_index: list[int]) -> None:
        # the event and the form reach one process, and Slack's retry (or a double click) another, at once
        ev = message_event("시스템 중단 기간", user=f"U{500 + k}", channel=f"D{500 + k}", ts=f"1700000{k:03d}.000100")
        threads = [threading.Thread(target=lambda c=c, r=r: clients[c].event(ev, event_id=f"EvM{k}", retry=r))
                   for r, c in enumerate(client_index)]
        threads += [threading.Thread(target=lambda c=c: clients[c].interact(forms[k])) for c in client_index]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def answered() -> Counter:
        return Counter(c.get("thread_ts") for c in fake.of("chat.postMessage") if str(c.get("channel", "")).startswith(
            "D5") and str(c.get("thread_ts", "")).startswith("1700000"))

    for k in range(9):
        send(k, [k % 3, (k + 1) % 3])
    # (an event acknowledged by a process that dies before answering is lost with it, as with one process:
    # Slack does not retry what was acknowledged; so the kill comes once those answers are out)
    wait_until(lambda: len(answered()) >= 9, timeout=30)
    procs[2].kill9()  # mid-run: triage cards it had claimed or was sending are taken over by the others
    for k in range(9, 18):
        send(k, [k % 2, (k + 1) % 2])
    for k in range(0, 9, 3):  # forms the killed process had taken, submitted again to the living ones
        clients[k % 2].interact(forms[k])

    # every form filed once, receipts 1..18 without a gap, subject info encrypted with the shared key
    ids = [n for (n,) in rows(database, "SELECT id FROM inquiries ORDER BY id")]
    assert ids == list(range(1, 19))
    assert rows(database, "SELECT value FROM inquiry_counter")[0][0] == 18
    assert Counter(s for (s,) in rows(database, "SELECT submission_id FROM inquiries")) == Counter(
        f"slack:VM{k}" for k in range(18))
    tokens = [t for (t,) in rows(database, "SELECT token FROM inquiry_subjects")]
    assert len(tokens) == 9 and all(CIPHER.can_decrypt(t) and "800101" not in t for t in tokens)
    # every delivery sent once (the killed process's lease on a row it held is taken back after the lease)
    wait_until(lambda: all(s == "sent" for (s,) in rows(
        database, "SELECT status FROM outbox WHERE key LIKE 'inquiry-%-filed'")) and len(rows(
        database, "SELECT 1 FROM outbox WHERE key LIKE 'inquiry-%-filed'")) == 18, timeout=60)
    fake.quiet(1.0)
    cards = Counter(receipt_of(c) for c in fake.of("chat.postMessage")
                    if c.get("channel") == TRIAGE and c.get("blocks"))
    assert len(cards) == 18 and max(cards.values()) == 1, cards
    # every event answered once, whichever process got it and its retry
    answers = answered()
    assert set(answers) == {f"1700000{k:03d}.000100" for k in range(18)}
    assert max(answers.values()) == 1, answers


def test_reminders_due_while_three_processes_tick_are_sent_once(bots, fake):
    # two reminders are due at 8/23 09:00 (tests/infra/test_scheduler.py); three schedulers tick every second
    bots(3, IEUM_NOW="2022-08-23T09:01:00+09:00", IEUM_REMINDER_CHANNELS="slack:C_NOTICE")
    wait_until(lambda: len([c for c in fake.of("chat.postMessage") if c.get("channel") == "C_NOTICE"]) >= 2,
               timeout=30)
    time.sleep(3)  # three more ticks of each process: nothing more may go out
    notices = [c["text"] for c in fake.of("chat.postMessage") if c.get("channel") == "C_NOTICE"]
    assert len(notices) == 2, notices
    assert sum("CMS 출금신청 불가 기간" in t for t in notices) == 1


def test_simultaneous_claims_on_two_processes_one_wins(bots, database, fake):
    procs = bots(2)
    clients = [Client(b.url) for b in procs]
    for k in range(6):
        status, body = clients[k % 2].interact(submission(f"U{700 + k}", title=f"맡기 시험 {k}", view_id=f"VC{k}"))
        assert status == 200, body
    from fakes.harness import click

    for n in range(1, 7):
        receipt = f"{n:010d}"
        barrier = threading.Barrier(2)

        def claim(c: Client) -> None:
            barrier.wait()
            c.interact(click(AGENT, "triage.assign", receipt, channel=TRIAGE))

        threads = [threading.Thread(target=claim, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    def assigned() -> dict:
        return dict(rows(database, "SELECT inquiry_id, count(*) FROM inquiry_events WHERE kind = 'assigned' "
                                   "GROUP BY inquiry_id"))

    wait_until(lambda: len(assigned()) == 6, timeout=20)  # a click is acknowledged before it is handled
    fake.quiet(0.5)
    assert assigned() == {n: 1 for n in range(1, 7)}
    lost = [c for c in fake.of("chat.postEphemeral") + fake.of("chat.postMessage") if "이미" in str(c.get("text", ""))]
    assert len(lost) >= 1  # the losers were told (each claim pair has one)


def test_a_process_with_another_key_refuses_to_start(bots, tmp_path, fake, database):
    bots(1)
    other = BotProcess(tmp_path / "other", fake, tmp_path / "other.log", IEUM_DATABASE_URL=database,
                       IEUM_SECRET_KEY="YW5vdGhlci1rZXktbm90LXRoZS1zaGFyZWQtb25lISE=")
    with pytest.raises(AssertionError, match="bot exited"):
        other.start(timeout=30)
    assert other.proc.returncode == 2
    assert "암호화 키" in other.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def connector():
    """The fake Bot Connector (tests/fakes/teams.py): its OpenID metadata signs the activities' tokens."""
    from fakes.teams import FakeTeams

    f = FakeTeams().start()
    yield f
    f.stop()


def test_teams_activities_over_two_processes_and_retried_on_the_other_are_answered_once(bots, connector):
    from fakes.teams import APP_ID, message, post

    connector.reset()
    procs = bots(2, launcher=PROJECT_ROOT / "tests" / "fakes" / "teams_serve.py",
                 IEUM_TEAMS_OPENID_METADATA=connector.metadata_url,
                 CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID=APP_ID,
                 CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET="not-used",
                 CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID="tenant-0001")
    urls = [b.url + "/api/messages" for b in procs]
    replies: Counter = Counter()
    lock = threading.Lock()

    def deliver(url: str, body: dict) -> None:
        status, data = post(url, body, token=connector.token())
        assert status == 200, (status, data)
        answered = [a for a in (data or {}).get("activities", []) if a.get("type") == "message"]
        with lock:
            replies[body["id"]] += bool(answered)

    activities = [message("시스템 중단 기간", service_url=connector.url, conversation=f"a:dm-mp{k}", user=f"mp{k}",
                          deliveryMode="expectReplies") for k in range(12)]
    for k, body in enumerate(activities):
        if k % 2:  # the activity and Teams' retry reach the two processes at once
            threads = [threading.Thread(target=deliver, args=(urls[(k + r) % 2], body)) for r in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:  # the retry comes once the first process has answered
            deliver(urls[k % 2], body)
            deliver(urls[(k + 1) % 2], body)
    assert replies == Counter({a["id"]: 1 for a in activities}), replies
    assert not [c for c in connector.calls if c.conversation.startswith("a:dm-mp")]  # nothing sent twice aside
