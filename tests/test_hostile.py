"""Hostile input: random Unicode and edited buttons through every handler, malformed and forged requests at
the HTTP endpoint, attempts to read someone else's subject info, template and mrkdwn injection; and, after
all of it, no personal data in any log record.

Hypothesis example counts are modest (the suite runs on two cores); each test stays well under 20 s."""
from __future__ import annotations

import json
import logging
import time
import unicodedata
import urllib.parse
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fakes.harness import (AGENT, PERSONAL, SUBJECT, TRIAGE, Client, click, settings_for, submission,  # noqa: E402
                     table_counts, wait_until)
from fakes.slack import FakeSlack, event_body, message_event, payload_body, post, receipt_of, signature  # noqa: E402

from bot.core.messages import Incoming, Reply  # noqa: E402
from bot.core.privacy import normalize  # noqa: E402
from bot.http import ServerThread, mount_slack  # noqa: E402
from bot.services import build  # noqa: E402
from handlers.router import ACTIONS, COMMANDS, dispatch  # noqa: E402

OWNER, OTHER, OTHER_AGENT = "U100", "U666", "UAGENT2"

# ---- every log record of this module, unredacted, to check for personal data at the end ------------


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " | " + repr(record.exc_info[1])
        self.messages.append(f"{record.levelname} {record.name}: {text}")


CAPTURE = _Capture()


@pytest.fixture(scope="module", autouse=True)
def capture_logs():
    """Our own loggers unredacted at every level, and what the production log handler writes; checked for
    personal data when the module's tests are done (a leak fails the module's last test at teardown)."""
    import io

    from bot.infra.logs import setup as setup_logging

    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    written = io.StringIO()
    setup_logging("INFO", stream=written)  # the bot's own configuration (JSON lines, masked)
    for h in old_handlers:  # keep pytest's capture handlers
        root.addHandler(h)
    for name in ("bot", "handlers"):
        logging.getLogger(name).addHandler(CAPTURE)
        logging.getLogger(name).setLevel(logging.DEBUG)
    CAPTURE.written = written
    yield CAPTURE
    try:
        _assert_no_personal_data(CAPTURE)
    finally:
        _restore_logging(root, old_level, old_handlers)


def _assert_no_personal_data(capture) -> None:
    """After every test of this module, whatever the order: no record and no written line holds personal data."""
    leaked = [m for m in capture.messages if any(p in m for p in PERSONAL)]
    assert leaked == [], [m[:200] for m in leaked[:5]]
    lines = capture.written.getvalue().splitlines()
    assert all(json.loads(line)["level"] for line in lines)
    assert [line[:300] for line in lines if any(p in line for p in PERSONAL)] == []


def _restore_logging(root, old_level, old_handlers) -> None:
    for name in ("bot", "handlers"):
        logging.getLogger(name).removeHandler(CAPTURE)
        logging.getLogger(name).setLevel(logging.NOTSET)
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in old_handlers:
        root.addHandler(h)
    root.setLevel(old_level)


@contextmanager
def serving(tmp_path_factory, fake):
    data = tmp_path_factory.mktemp("hostile") / "data"
    services = build(settings_for(data, fake, agents=(AGENT, OTHER_AGENT)))
    server = ServerThread(services, host="127.0.0.1", port=0, mounts=[mount_slack]).start()
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
    from bot.http import SLACK_KEY

    for h in server.web_app[SLACK_KEY].client.retry_handlers:
        if hasattr(h, "interval_calculator"):
            h.interval_calculator = BackoffRetryIntervalCalculator(backoff_factor=0.01)
    try:
        yield services, server, Client(server.url)
    finally:
        server.stop()  # waits for the handlers still running, so none writes into the next test
        services.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, fake):
    with serving(tmp_path_factory, fake) as bot:
        yield bot


@pytest.fixture
def own_live(tmp_path_factory, fake):
    """A bot of the test's own: signed garbage is answered after its 200, by handlers that may still be
    writing when the next test counts rows."""
    with serving(tmp_path_factory, fake) as bot:
        yield bot


@pytest.fixture(scope="module")
def private_inquiry(live):
    """A private inquiry of OWNER with subject info, assigned to AGENT."""
    services, _, _ = live
    i = services.inquiries.file(title="비공개 급여 문의", category="전체업무 > ERP > 급여", type="사용법문의",
                                requester=OWNER, public=False, content="급여 화면 문의", subject_info=SUBJECT)
    services.inquiries.assign(i.receipt, AGENT)
    return i.receipt


# ---- strategies -----------------------------------------------------------------------------------

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
CONTROLS = "".join(chr(c) for c in range(0, 32)) + "\x7f\u0085\u2028\u2029\u202e\u202d"
HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
JAMO = st.characters(min_codepoint=0x1100, max_codepoint=0x11FF)
MIXED = st.one_of(
    HANGUL, JAMO, st.sampled_from(ZERO_WIDTH + CONTROLS),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.sampled_from(list("{}%#<>&*_~`|!@:=-+\"'\\/")),
)

def _not_a_digit(ch: str) -> bool:
    # what the guard reads as a digit, or drops (zero-width, control), would glue a personal number to the
    # digits next to it: a longer, other number, which the guard deliberately leaves alone (bot/core/privacy.py)
    norm = normalize(ch)[0]
    return bool(norm) and not any(c.isdigit() for c in norm)


GLUE = MIXED.filter(_not_a_digit)
TOKENS = st.one_of(
    st.sampled_from(["{{", "}}", "{%", "%}", "<!channel>", "<!here>", "<@U1>", "&lt;", "&amp;", "\r\n"]),
    st.tuples(GLUE, st.sampled_from(["010-2345-6789", "800101-1234567"]), GLUE).map("".join))


def mixed_text(max_size: int = 60):
    return st.lists(st.one_of(MIXED, MIXED, MIXED, TOKENS), max_size=max_size).map("".join)
SEEDS = ["희망이음 접속 방법", "시스템 중단 기간이 언제예요", "내 질의", "질의하기", "도움말", "알림", "질의 목록",
         "800101-1234567", "{{ 7*7 }}", "{% raw %}", "<!channel>", "0000000001"]


@st.composite
def texts(draw) -> str:
    kind = draw(st.integers(0, 9))
    # A seed stays a word of its own (a space after it): a personal number glued to more digits is a longer,
    # different number, which the guard deliberately leaves alone (bot/core/privacy.py), while the leak check
    # below looks for the seed's digits as a substring.
    if kind == 0:
        return (draw(st.sampled_from(SEEDS)) + " ") * draw(st.integers(1, 40000 // 40))  # up to ~40,000 chars
    base = draw(mixed_text(60))
    if kind <= 3:
        base = draw(st.sampled_from(SEEDS)) + " " + base
    if kind == 4:
        base = unicodedata.normalize("NFD", draw(st.text(HANGUL, min_size=1, max_size=20)) + base)
    return base


def values(receipts: list[str]):
    return st.one_of(
        st.none(), texts(), st.sampled_from(receipts), st.integers(-10, 10 ** 12).map(str),
        st.sampled_from(receipts).map(lambda r: f"{r}:{5}"), st.sampled_from(receipts).map(lambda r: f"#{r}"),
        st.dictionaries(st.sampled_from(["q", "parent", "receipt", "a"]), st.one_of(texts(), st.sampled_from(receipts)),
                        max_size=3).map(lambda d: json.dumps(d, ensure_ascii=False)),
        st.sampled_from(["outage-period\n{{ 7*7 }}", "../../etc/passwd", "\x00", "null", "[]", "{", "-1", "1e9"]),
    )


FORM_KEYS = ["title", "category", "type", "urgent", "public", "guideline", "organization", "position", "content",
             "subject_info", "files", "answer", "questions", "complete"]
FORM_VALUES = st.one_of(st.none(), texts(), st.booleans(), st.integers(), st.lists(st.dictionaries(
    st.sampled_from(["id", "name", "size", "url"]), st.one_of(texts(), st.integers())), max_size=3),
    st.sampled_from(["전체업무 > ERP > 급여", "사용법문의", "ERP/급여"]))


@st.composite
def incomings(draw, receipts: list[str]) -> Incoming:
    action = draw(st.one_of(st.none(), st.sampled_from(sorted(ACTIONS)), texts()))
    form = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(FORM_KEYS), FORM_VALUES, max_size=8)))
    user = draw(st.sampled_from([OWNER, OTHER, AGENT, OTHER_AGENT, "", "U" + "9" * 30]))
    return Incoming(user=user, text=draw(texts()), action=action, value=draw(values(receipts)), form=form,
                    surface=draw(st.sampled_from(["slack", "teams", "console"])), direct=draw(st.booleans()),
                    thread=draw(st.one_of(st.none(), texts())), conversation=draw(st.sampled_from(["D100", "C1", ""])),
                    files=tuple(draw(st.lists(st.dictionaries(st.sampled_from(["id", "name", "url"]), texts()),
                                              max_size=2))))


def _subject_reaches(reply: Reply, user: str) -> bool:
    blob = json.dumps([reply.text, [c.value for c in reply.choices], reply.data,
                       reply.form and [f.initial for f in reply.form.fields]], ensure_ascii=False, default=str)
    return any(p in blob for p in PERSONAL)


# ---- every handler ---------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_handler_survives_random_input(live, private_inquiry, data):
    services, _, _ = live
    incoming = data.draw(incomings([private_inquiry, "0000000002", "9999999999"]))
    replies = dispatch(incoming, services)
    assert isinstance(replies, list) and all(isinstance(r, Reply) for r in replies)
    for r in replies:
        assert isinstance(r.text, str)
        # subject info reaches nobody but the requester and the assignee, and never a channel
        # (personal data the user typed themself may come back to them: only the stored subject info counts)
        if _subject_reaches(r, incoming.user) and not any(p in repr(incoming) for p in PERSONAL):
            assert incoming.user in (OWNER, AGENT), (incoming, r)
            assert r.private and r.to_conversation is None, r
        assert "49" not in r.text or "{{ 7*7 }}" not in (incoming.text + str(incoming.value) + str(incoming.form))


def test_typed_commands_with_noise(live):
    services, _, _ = live
    for word in list(COMMANDS)[:20]:
        for noise in ("\u200b", "\ufeff", " \u00a0", "\u3000", "!?"):
            replies = dispatch(Incoming(user=OWNER, text=noise + word + noise, surface="slack"), services)
            assert replies and all(isinstance(r.text, str) and r.text.strip() for r in replies)


# ---- someone else's subject info -------------------------------------------------------------------


def test_nobody_else_reads_subject_info_through_any_surface(live, fake, private_inquiry):
    services, _, client = live
    n0 = len(fake.calls)
    receipt = private_inquiry
    attempts = [
        click(OTHER, "inquiry.subject", receipt), click(OTHER, "inquiry.subject", f"#{receipt}"),
        click(OTHER, "inquiry.subject", str(int(receipt))), click(OTHER, "inquiry.subject", receipt + "\n"),
        click(OTHER, "inquiry.view", receipt), click(OTHER, "inquiry.reinquire", receipt),
        click(OTHER, "inquiry.rate", f"{receipt}:5"), click(OTHER, "inquiry.recommend", receipt),
        click(OTHER, "triage.assign", receipt), click(OTHER, "triage.answer", receipt),
        click(OTHER, "triage.promote", receipt), click(OTHER, "triage.start", receipt),
        click(OTHER_AGENT, "inquiry.subject", receipt),  # an agent, but not the assignee
        click(OTHER, "inquiry.open", receipt), click(OTHER, "inquiry.mine", OWNER),
        click(OTHER, "answer.show", f"inquiry-{receipt}"),
    ]
    # guessed receipt numbers
    attempts += [click(OTHER, "inquiry.subject", f"{n:010d}") for n in range(0, 12)]
    attempts += [click(OTHER, "inquiry.view", f"{n:010d}") for n in range(0, 6)]
    # a forged re-inquiry submission that names the private inquiry as its parent
    attempts.append(submission(OTHER, title="재질의 위장", content="내용", state=json.dumps({"parent": receipt}),
                               view_id="VFORGE"))
    for p in attempts:
        status, _ = client.interact(p)
        assert status == 200
    # the typed and the slash-command ways too
    for text in (receipt, f"{receipt} 대상자 정보", "내 질의", "질의 목록"):
        assert client.ask(text, user=OTHER)[0] == 200
        assert client.command(text, user=OTHER, response_url=f"{fake.url}/response/other")[0] == 200
    # the refusals are done after the 200s: wait for one on record, then for the calls to settle
    wait_until(lambda: any(r["reader"] == OTHER and not r["allowed"] for r in services.inquiries.subject_reads(receipt)),
               timeout=20)
    fake.quiet(0.5)
    leaked = [c for c in fake.calls[n0:] if any(p in c.everything for p in PERSONAL)]
    assert leaked == [], [c.method for c in leaked]
    reads = services.inquiries.subject_reads(receipt)
    assert reads and all(not r["allowed"] for r in reads if r["reader"] != OWNER and r["reader"] != AGENT)
    assert any(r["reader"] == OTHER and not r["allowed"] for r in reads)
    # no inquiry was filed as a re-inquiry of someone else's
    rows = services.store.conn.execute("SELECT count(*) FROM inquiries WHERE parent_id IS NOT NULL").fetchone()[0]
    assert rows == 0
    # the owner can, privately
    n1 = len(fake.calls)
    client.interact(click(OWNER, "inquiry.subject", receipt))
    # waits by condition: a loaded machine may take longer than the default 5 s to drain what went before
    got = fake.wait_for(lambda f: [c for c in f.calls[n1:] if "800101-1234567" in c.everything], timeout=20)
    assert all(c.method in ("chat.postEphemeral", "response_url") or str(c.get("channel", "")).startswith("D")
               for c in got)


# ---- injection ---------------------------------------------------------------------------------------


def test_feedback_keeps_no_personal_data(live):
    services, _, _ = live
    dispatch(Incoming(user=OWNER, action="feedback.no", value="outage-period\n제 번호 010-2345-6789 로 연락 주세요",
                      surface="slack"), services)
    rows = services.store.conn.execute("SELECT query FROM answer_feedback").fetchall()
    assert rows and not any(p in q for (q,) in rows for p in PERSONAL)


def test_template_and_mrkdwn_injection(live, fake):
    services, _, client = live
    n0 = len(fake.calls)
    evil_title = "{{ 7*7 }} <!channel> {% for x in range(3) %}X{% endfor %} *굵게* <http://evil.example|클릭>"
    client.ask("{{ 7*7 }} {{ config }} <!channel> 시스템 중단 기간", user="U200")
    status, body = client.interact(submission("U200", title=evil_title[:100], content="{{ ''.__class__ }} <!here>",
                                              view_id="VINJ"))
    assert status == 200 and "errors" not in body
    card = fake.wait_for(lambda f: [c for c in f.calls[n0:] if c.method == "chat.postMessage"
                                    and c.get("channel") == TRIAGE])[0]
    receipt = receipt_of(card)
    services.inquiries.answer(receipt, AGENT, "답변: {{ 7*7 }} {% if true %}Y{% endif %} <!everyone>")
    services.inquiries.promote_to_faq(receipt, AGENT)
    client.ask("{{ 7*7 }} <!channel> {% for x in range(3) %}X{% endfor %}", user="U200")
    client.interact(click("U200", "inquiry.view", receipt))
    fake.quiet(0.5)
    calls = fake.calls[n0:]
    assert calls
    for c in calls:
        rendered = [str(c.get("text") or "")] + [b["text"]["text"] for b in (c.get("blocks") or [])
                                                   if isinstance(b.get("text"), dict)]
        for t in rendered:
            assert "<!channel>" not in t and "<!here>" not in t and "<!everyone>" not in t, t
            assert "<http://evil" not in t
            assert " 49 " not in f" {t} " and "XXX" not in t
    assert any("{{ 7*7 }}" in str(c.get("text") or "") for c in calls)
    # the promoted FAQ answers with the agent's text as written, not evaluated
    result = services.engine.answer(evil_title[:40])
    if result.best and result.best.entry_id == f"inquiry-{receipt}":
        assert "{{ 7*7 }}" in services.templates.render_answer(result.best.entry)


# ---- the HTTP endpoint --------------------------------------------------------------------------------

CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data",
                 "application/xml", "", "application/json; charset=latin-1"]


@st.composite
def bodies(draw) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(mixed_text(200))
    if kind == 1:
        return json.dumps(draw(st.recursive(st.none() | st.booleans() | st.integers() | mixed_text(20),
                                            lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                                st.sampled_from(["type", "event", "event_id", "payload", "user",
                                                                 "actions", "view", "challenge", "command"]), c,
                                                max_size=4), max_leaves=10)), ensure_ascii=False)
    if kind == 2:  # an event with random fields
        ev = {"type": draw(st.sampled_from(["message", "app_mention", "reaction_added", "app_home_opened", "x"])),
              "user": draw(st.one_of(st.none(), st.text(max_size=12))), "text": draw(st.one_of(st.none(), texts())),
              "channel": draw(st.one_of(st.none(), st.sampled_from(["D1", "C1", "", "G1"]))),
              "ts": draw(st.one_of(st.none(), st.text(max_size=20))),
              "thread_ts": draw(st.one_of(st.none(), st.text(max_size=20))),
              "item": draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["type", "channel", "ts"]),
                                                               st.text(max_size=10))))}
        return event_body(ev)
    if kind == 3:  # an interactivity payload with random structure
        payload = draw(st.dictionaries(st.sampled_from(["type", "user", "actions", "view", "container", "trigger_id",
                                                        "message", "channel"]),
                                       st.one_of(st.text(max_size=20), st.sampled_from(
                                           ["block_actions", "view_submission", "shortcut", "message_action"]),
                                                 st.lists(st.dictionaries(st.sampled_from(
                                                     ["action_id", "value", "type", "block_id"]), st.text(max_size=30)),
                                                     max_size=2)), max_size=6))
        return payload_body(payload)
    if kind == 4:
        return "payload=" + urllib.parse.quote(draw(mixed_text(100)))
    if kind == 5:
        return urllib.parse.urlencode(draw(st.dictionaries(st.sampled_from(
            ["command", "text", "user_id", "channel_id", "trigger_id", "response_url", "ssl_check"]),
            mixed_text(30), max_size=6)))
    return ""


# one bot for all the examples (function_scoped_fixture), stopped when the test ends
@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=bodies(), ctype=st.sampled_from(CONTENT_TYPES))
def test_signed_garbage_never_causes_a_500(own_live, body, ctype):
    _, _, client = own_live
    ts = int(time.time())
    headers = {"Content-Type": ctype, "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature(body, ts)}
    status, _ = post(client.url, body, headers)
    assert status < 500


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), ctype=st.sampled_from(CONTENT_TYPES), how=st.sampled_from(
    ["none", "wrong-secret", "stale", "future", "garbled", "other-body", "no-timestamp", "bad-timestamp"]))
def test_unsigned_forged_and_stale_requests_are_refused_and_write_nothing(live, body, ctype, how):
    services, _, client = live
    before = table_counts(services.store.path)
    now = int(time.time())
    headers = {"Content-Type": ctype}
    if how == "wrong-secret":
        headers.update({"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": signature(body, now, "nope")})
    elif how in ("stale", "future"):
        ts = now - 60 * 6 if how == "stale" else now + 60 * 6
        headers.update({"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature(body, ts)})
    elif how == "garbled":
        headers.update({"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "0" * 64})
    elif how == "other-body":
        headers.update({"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": signature(body + " ", now)})
    elif how == "no-timestamp":
        headers.update({"X-Slack-Signature": signature(body, now)})
    elif how == "bad-timestamp":
        headers.update({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signature(body, "soon")})
    status, _ = post(client.url, body, headers)
    assert status == 401
    assert table_counts(services.store.path) == before


def test_a_replayed_request_is_answered_once(live, fake):
    services, _, client = live
    body = event_body(message_event("희망이음 접속 방법", user="U300", channel="D300"), event_id="EvReplay1")
    ts = int(time.time())
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(ts),
               "X-Slack-Signature": signature(body, ts)}
    n0 = len(fake.calls)
    for _ in range(5):
        assert post(client.url, body, headers)[0] == 200
    # the first answer of a process may take a second (the memory's vectors are built on first use)
    fake.wait_for(lambda f: [c for c in f.calls[n0:] if c.method == "chat.postMessage" and c.get("channel") == "D300"],
                  timeout=10)
    fake.quiet(0.4)
    answers = [c for c in fake.calls[n0:] if c.method == "chat.postMessage" and c.get("channel") == "D300"]
    assert len(answers) == 1
    # the same bytes replayed after the 5-minute window are refused
    old = ts - 301
    stale = {**headers, "X-Slack-Request-Timestamp": str(old), "X-Slack-Signature": signature(body, old)}
    assert post(client.url, body, stale)[0] == 401


def test_oversized_body_is_refused_without_a_500(live):
    _, _, client = live
    body = json.dumps({"type": "event_callback", "event": {"type": "message", "text": "가" * (5 * 1024 * 1024)}})
    ts = int(time.time())
    try:
        status, _ = post(client.url, body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": str(ts),
                                            "X-Slack-Signature": signature(body, ts)})
    except (ConnectionError, OSError):
        return  # the server closed the connection on an oversized body: also fine
    assert status in (401, 413)


# ---- the Teams endpoint ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def teams_fake():
    from fakes.teams import FakeTeams

    f = FakeTeams().start()
    yield f
    f.stop()


def _teams_bot(data, fake, *, anonymous: bool):
    import functools

    from fakes.teams import FakeConnections

    from bot.surfaces.teams import adapter as teams
    from bot.core.config import DEFAULT_KNOWLEDGE, Settings

    if anonymous:
        env, connections = {teams.ENV_ANONYMOUS: "1"}, None
    else:
        from fakes.teams import APP_ID, TENANT

        env = {teams.ENV_CLIENT_ID: APP_ID, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": TENANT,
               teams.ENV_METADATA: fake.metadata_url}
        connections = FakeConnections()
    services = build(Settings(data_dir=data, knowledge=DEFAULT_KNOWLEDGE, agents=(AGENT,), secret_key="aG9zdGlsZS10ZWFtcy1rZXkuLi4uLi4uLi4uLi4uLi4=",
                              extra={**env, "TEAMS_TRIAGE_CHANNEL": "19:triage@thread.tacv2"}))
    server = ServerThread(services, host="127.0.0.1", port=0,
                          mounts=[functools.partial(teams.mount, connections=connections)]).start()
    return services, server


@pytest.fixture(scope="module")
def teams_live(tmp_path_factory, teams_fake):
    made = {name: _teams_bot(tmp_path_factory.mktemp(f"teams-{name}") / "data", teams_fake, anonymous=anon)
            for name, anon in (("anonymous", True), ("auth", False))}
    yield made
    for services, server in made.values():
        server.stop()
        services.close()


ACTIVITY_KEYS = ["type", "id", "name", "text", "value", "from", "recipient", "conversation", "serviceUrl",
                 "channelId", "replyToId", "entities", "channelData", "deliveryMode", "membersAdded", "attachments"]


@st.composite
def activities(draw, service_url: str):
    """Activity JSON from plausible to malformed: real shapes with random fields, or random structure."""
    from fakes.teams import activity, card_action, message

    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(mixed_text(100))  # not JSON at all
    if kind == 1:
        return json.dumps(draw(st.recursive(
            st.none() | st.booleans() | st.integers() | mixed_text(20),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(ACTIVITY_KEYS), c, max_size=5),
            max_leaves=12)), ensure_ascii=False)
    url = draw(st.sampled_from([service_url, "http://127.0.0.1:1/", "", "not a url"]))
    if kind == 2:
        body = message(draw(texts()), service_url=url, deliveryMode=draw(st.sampled_from(["expectReplies", "normal"])))
    elif kind == 3:
        data = draw(st.dictionaries(st.sampled_from(["ieum", "v", "ieum_form", "s", "k", "n", *FORM_KEYS]),
                                    FORM_VALUES, max_size=6))
        body = card_action({"verb": draw(st.one_of(st.none(), st.sampled_from(sorted(ACTIONS)), texts())),
                            "data": data}, reply_to=draw(st.one_of(st.none(), st.text(max_size=20))), service_url=url)
    else:
        body = activity(draw(st.sampled_from(["message", "invoke", "conversationUpdate", "event", "typing", "", "x"])),
                        service_url=url)
    for key in draw(st.lists(st.sampled_from(ACTIVITY_KEYS), max_size=3)):  # then break a few fields
        body[key] = draw(st.one_of(st.none(), st.integers(), texts(), st.lists(st.none(), max_size=2),
                                   st.dictionaries(st.sampled_from(["id", "name", "conversationType"]),
                                                   st.one_of(st.none(), st.text(max_size=10)), max_size=2)))
    return json.dumps(body, ensure_ascii=False)


def _post_raw(url: str, body: str, headers: dict) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body.encode("utf-8", "surrogatepass"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_teams_garbage_activities_never_cause_a_500(teams_live, teams_fake, data):
    from bot.surfaces.teams import adapter as teams

    services, server = teams_live["anonymous"]
    body = data.draw(activities(teams_fake.url))
    ctype = data.draw(st.sampled_from(["application/json", "text/plain", "", "application/json; charset=utf-8"]))
    before = table_counts(services.store.path)
    status = _post_raw(server.url + teams.ROUTE, body, {"Content-Type": ctype})
    assert status < 500, (status, body[:300])
    if status >= 400:  # refused: nothing of it kept
        assert table_counts(services.store.path) == before


@pytest.mark.parametrize("key, value", [("recipient", None), ("from", None), ("conversation", {}),
                                        ("recipient", {"id": 7})])
def test_teams_an_unaddressed_activity_is_refused_not_a_501(teams_live, teams_fake, key, value):
    """Found by the property above under another seed: the SDK cannot answer an invoke whose `recipient` is
    null (its reply needs the conversation reference), so the turn ended in a 501. Any activity that does not
    name its sender, recipient and conversation (each with a string id) is refused before a turn runs."""
    from bot.surfaces.teams import adapter as teams
    from fakes.teams import card_action

    services, server = teams_live["anonymous"]
    body = card_action({"verb": "inquiry.mine", "data": {}}, service_url=teams_fake.url)
    body[key] = value
    before = table_counts(services.store.path)
    assert _post_raw(server.url + teams.ROUTE, json.dumps(body), {"Content-Type": "application/json"}) == 400
    assert table_counts(services.store.path) == before


@pytest.mark.parametrize("body", ['{"channelId": ""}',
                                  '{"type": "message", "channelId": "", "text": "800101-1234567"}'])
def test_teams_activities_the_sdk_cannot_read_are_400(teams_live, body):
    """Found by the test above: the SDK raises TypeError (not a ValidationError) for an empty channelId,
    which was a 500; and it logs the whole invalid activity at ERROR (checked by the last test here)."""
    from bot.surfaces.teams import adapter as teams

    services, server = teams_live["anonymous"]
    before = table_counts(services.store.path)
    assert _post_raw(server.url + teams.ROUTE, body, {"Content-Type": "application/json"}) == 400
    assert table_counts(services.store.path) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_teams_requests_without_a_valid_token_are_refused_and_write_nothing(teams_live, teams_fake, data):
    from bot.surfaces.teams import adapter as teams

    services, server = teams_live["auth"]
    body = data.draw(activities(teams_fake.url))
    how = data.draw(st.sampled_from(["none", "garbage", "basic", "unsigned", "other-key", "expired", "wrong-aud"]))
    headers = {"Content-Type": "application/json"}
    if how != "none":
        import time as _time

        import jwt

        now = int(_time.time())
        token = {"garbage": "not-a-jwt", "basic": None,
                 "unsigned": "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.",  # alg "none"
                 "other-key": jwt.encode({"aud": "x"}, "secret", algorithm="HS256"),
                 "expired": teams_fake.token(exp=now - 3600, nbf=now - 7200),
                 "wrong-aud": teams_fake.token(aud="someone-else")}[how]
        headers["Authorization"] = "Basic dXNlcjpwYXNz" if how == "basic" else f"Bearer {token}"
    before = table_counts(services.store.path)
    assert _post_raw(server.url + teams.ROUTE, body, headers) == 401
    assert table_counts(services.store.path) == before
