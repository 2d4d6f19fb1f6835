"""The outbox: delivery keys, claims across connections, retries with backoff, expiry."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest

from bot.core.clock import SEOUL, FixedClock
from bot.core.messages import Choice, Field, Form, Reply
from bot.infra.outbox import MIGRATIONS, Outbox, from_json, to_json
from conftest import BOTH

STORES = BOTH
T0 = datetime(2022, 8, 29, 9, 0, tzinfo=SEOUL)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "ieum.db"


@pytest.fixture
def clock():
    return FixedClock(T0)


@pytest.fixture
def Store(open_store):
    """This module's stores: SQLite files or PostgreSQL schemas (conftest's `open_store`)."""
    return open_store


@pytest.fixture
def outbox(db_path, clock, Store):
    return Outbox(Store(db_path, migrations=[MIGRATIONS]), clock)


def test_reply_json_round_trip():
    form = Form(action="inquiry.submit", title="질의하기",
                fields=[Field("category", "업무분류", kind="select", options=[("a", "A"), ("b > c", "B")])],
                errors={"title": "제목을 입력하세요"})
    reply = Reply("안내", choices=[Choice("열기", "inquiry.open", "1", style="primary")], kind="notice",
                  data={"n": 1, "ids": ["x"]}, private=True, to_user="U1", form=form, key="k")
    back = from_json(to_json(reply))
    assert back == reply
    assert back.form.fields[0].options == [("a", "A"), ("b > c", "B")]


def test_a_key_is_sent_once(outbox):
    sent = []
    outbox.register_sender("slack", lambda target, reply: sent.append((target, reply.text, reply.key)))
    assert outbox.enqueue(Reply("하나"), key="k1", surface="slack", target="C1") is True
    assert outbox.enqueue(Reply("둘"), key="k1", surface="slack", target="C1") is False
    assert outbox.drain() == 1
    assert outbox.drain() == 0
    assert outbox.enqueue(Reply("셋"), key="k1", surface="slack", target="C1") is False  # even after sending
    assert outbox.drain() == 0
    assert sent == [("C1", "하나", "k1")]
    assert outbox.status("k1") == "sent"


def test_not_before_is_respected(outbox, clock):
    sent = []
    outbox.register_sender("console", lambda t, r: sent.append(r.text))
    outbox.enqueue(Reply("later"), key="k", surface="console", target="console", not_before=T0 + timedelta(hours=1))
    assert outbox.drain() == 0
    clock.advance(minutes=59, seconds=59)
    assert outbox.drain() == 0
    clock.advance(seconds=1)
    assert outbox.drain() == 1
    assert sent == ["later"]


def test_failing_sender_is_retried_with_backoff_then_succeeds(outbox, clock):
    calls = []

    def flaky(target, reply):
        calls.append(clock.now())
        if len(calls) < 3:
            raise ConnectionError("slack is down")

    outbox.register_sender("slack", flaky)
    outbox.enqueue(Reply("알림"), key="k", surface="slack", target="C1")
    assert outbox.drain() == 0
    row = outbox.get("k")
    assert row["status"] == "pending" and row["attempts"] == 1 and "ConnectionError" in row["last_error"]
    assert outbox.drain() == 0 and len(calls) == 1  # backing off: not retried at once
    clock.advance(seconds=30)
    assert outbox.drain() == 0 and len(calls) == 2
    clock.advance(seconds=59)
    assert outbox.drain() == 0 and len(calls) == 2  # the second backoff is 60 s
    clock.advance(seconds=1)
    assert outbox.drain() == 1 and len(calls) == 3
    assert outbox.get("k")["status"] == "sent"
    clock.advance(hours=2)
    assert outbox.drain() == 0 and len(calls) == 3


def test_bounded_attempts_end_as_failed(db_path, clock, Store):
    store = Store(db_path, migrations=[MIGRATIONS])
    outbox = Outbox(store, clock, max_attempts=3, backoff=1)

    def broken(target, reply):
        raise RuntimeError("no")

    outbox.register_sender("slack", broken)
    outbox.enqueue(Reply("x"), key="k", surface="slack", target="C")
    for _ in range(6):
        outbox.drain()
        clock.advance(minutes=1)
    row = outbox.get("k")
    assert row["status"] == "failed" and row["attempts"] == 3


def test_expired_items_are_recorded_not_sent(outbox, clock):
    sent = []
    outbox.enqueue(Reply("x"), key="k", surface="slack", target="C", expires_at=T0 + timedelta(hours=1))
    clock.advance(hours=2)
    outbox.register_sender("slack", lambda t, r: sent.append(r))
    assert outbox.drain() == 0
    assert outbox.status("k") == "expired" and sent == []


def test_items_for_surfaces_without_sender_wait(outbox):
    outbox.enqueue(Reply("x"), key="k", surface="teams", target="conv")
    outbox.register_sender("slack", lambda t, r: None)
    assert outbox.drain() == 0
    assert outbox.status("k") == "pending"


def test_skip_records_the_key(outbox):
    sent = []
    outbox.register_sender("slack", lambda t, r: sent.append(r))
    assert outbox.skip(None, key="k", surface="slack", target="C", note="missed") is True
    assert outbox.enqueue(Reply("x"), key="k", surface="slack", target="C") is False
    assert outbox.drain() == 0 and sent == []
    assert outbox.status("k") == "skipped"


def test_a_claim_abandoned_by_a_dead_process_is_retried_after_its_lease(db_path, clock, Store):
    store = Store(db_path, migrations=[MIGRATIONS])
    dead = Outbox(store, clock, lease=60)
    dead.enqueue(Reply("x"), key="k", surface="slack", target="C")
    assert dead._claim(dead.get("k")["id"], clock.now().timestamp(), time.time()) is not None  # then "crashes"
    sent = []
    alive = Outbox(Store(db_path, migrations=[MIGRATIONS]), clock, lease=60)
    alive.register_sender("slack", lambda t, r: sent.append(r.text))
    assert alive.drain() == 0  # still leased
    clock.advance(hours=5)  # leases run on real time: the campaign clock moving does not free it
    assert alive.drain() == 0
    # 61 real seconds later (the lease is rewound rather than the test sleeping)
    with store.transaction():
        store.conn.execute("UPDATE outbox SET lease_until = lease_until - 61 WHERE key='k'")
    assert alive.drain() == 1 and sent == ["x"]


def test_two_connections_draining_one_database_send_each_item_once(db_path, clock, Store):
    setup = Outbox(Store(db_path, migrations=[MIGRATIONS]), clock)
    keys = [f"k{i}" for i in range(60)]
    for k in keys:
        setup.enqueue(Reply(k), key=k, surface="slack", target="C")
    sent: list[str] = []
    lock = threading.Lock()

    def sender(target, reply):
        time.sleep(0.001)  # widen the window between claim and record
        with lock:
            sent.append(reply.text)

    workers = []
    for _ in range(4):
        ob = Outbox(Store(db_path, migrations=[MIGRATIONS]), clock)  # a separate connection each, like separate processes
        ob.register_sender("slack", sender)
        workers.append(ob)
    barrier = threading.Barrier(len(workers))

    def run(ob):
        barrier.wait()
        while ob.drain(limit=7):
            pass

    threads = [threading.Thread(target=run, args=(ob,)) for ob in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(sent) == sorted(keys)
    assert setup.counts() == {"sent": 60}


def test_sensitive_replies_are_sealed_then_wiped(outbox, clock):
    sent = []
    outbox.register_sender("slack", lambda t, r: sent.append(r))
    secret = Reply("대상자 정보: 010-2345-6789", private=True, to_user="U1", data={"sensitive": True})
    assert outbox.enqueue(secret, key="s1", surface="slack", target="user:U1") is True
    assert outbox.enqueue(Reply("공지"), key="p1", surface="slack", target="C1") is True
    stored = outbox.get("s1")["reply"]
    assert stored.startswith("sealed:") and "010-2345-6789" not in stored and "대상자" not in stored
    assert outbox.drain() == 2
    assert [r.text for r in sent] == ["대상자 정보: 010-2345-6789", "공지"]
    assert outbox.get("s1")["reply"] == "{}"
    assert from_json(outbox.get("p1")["reply"]).text == "공지"  # ordinary replies are kept as they were
    assert outbox.skip(secret, key="s2", surface="slack", target="user:U1") is True
    assert outbox.get("s2")["reply"] == "{}"


def test_prune_drops_long_finished_rows_only(outbox, clock):
    outbox.register_sender("slack", lambda t, r: None)
    outbox.enqueue(Reply("old"), key="old", surface="slack", target="C")
    outbox.enqueue(Reply("warn"), key="inquiry-warn:0000000001:overdue", surface="slack", target="U")
    outbox.skip(None, key="skipped", surface="slack", target="C")
    outbox.enqueue(Reply("waiting"), key="waiting", surface="teams", target="C")  # no sender: stays pending
    assert outbox.drain() == 2
    clock.advance(days=29)
    outbox.enqueue(Reply("recent"), key="recent", surface="slack", target="C")
    assert outbox.drain() == 1
    assert outbox.prune() == 0  # nothing is 30 days old yet
    clock.advance(days=2)
    assert outbox.prune() == 0  # at most once an hour
    assert outbox.prune(at_most_every=0) == 2
    assert outbox.status("old") is None and outbox.status("skipped") is None
    assert outbox.status("recent") == "sent" and outbox.status("waiting") == "pending"
    assert outbox.status("inquiry-warn:0000000001:overdue") == "sent"
