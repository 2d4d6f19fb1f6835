"""Issue 11, items 2, 3, 12, 13 and 15: the guard battery (every spelling followed through filing, the triage
card, thread relay, answers, FAQ promotion, suggestions, export, inquiry events and logs), request bodies
kept out of DEBUG logs, start-up failures, raw-byte Slack signatures, file modes and keys."""
from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.inquiries.service import Invalid
from bot.infra.logs import JsonFormatter, redact, setup as setup_logging
from bot.core.messages import Incoming
from bot.core.privacy import find_personal_data
from bot.http import ServerThread
from bot.services import build
from handlers.router import dispatch
from fakes.harness import AGENT, CATEGORY, SECRET, TRIAGE, Client, message_event, settings_for, submission
from fakes.slack import FakeSlack, signature

ROOT = Path(__file__).resolve().parent.parent
KEY = "cmVsaWFiaWxpdHktdGVzdC1rZXkuLi4uLi4uLi4uLi4="

# (spelling, kind): at least 40 ways people write resident, foreigner, phone and e-mail data.
SPELLINGS = [
    ("900101-1234567", "rrn"), ("9001011234567", "rrn"), ("900101.1234567", "rrn"), ("900101/1234567", "rrn"),
    ("900101_1234567", "rrn"), ("900101~1234567", "rrn"), ("900101ㅡ1234567", "rrn"), ("900101－1234567", "rrn"),
    ("９００１０１－１２３４５６７", "rrn"), ("900 101-1234 567", "rrn"), ("900101\u200b-1234567", "rrn"),
    ("9001\u200b011234567", "rrn"), ("900101 - 1234567", "rrn"), ("900101—1234567", "rrn"),
    ("211015-3000001", "rrn"), ("900101-5234567", "frn"), ("850630 7123456", "frn"),
    ("８５０６３０－６１２３４５６", "frn"),
    ("010-1234-5678", "mobile"), ("010 - 1234 - 5678", "mobile"), ("(010)1234-5678", "mobile"),
    ("010/1234/5678", "mobile"), ("010.1234.5678", "mobile"), ("０１０－１２３４－５６７８", "mobile"),
    ("010\u200b1234\u200b5678", "mobile"), ("01012345678", "mobile"), ("011 234 5678", "mobile"),
    ("010_1234_5678", "mobile"),
    ("+82 10 1234 5678", "phone"), ("+82-10-1234-5678", "phone"), ("+82 (0)10-1234-5678", "phone"),
    ("+８２ １０ １２３４ ５６７８", "phone"), ("02-123-4567", "phone"), ("(02) 1234-5678", "phone"),
    ("031)123-4567", "phone"), ("070-1234-5678", "phone"),
    ("hong@example.com", "email"), ("hong＠example.com", "email"), ("hong @ example.com", "email"),
    ("홍길동@example.com", "email"), ("hong@예시.한국", "email"), ("hong@도메인.com", "email"),
    ("hong.gil-dong+x@welfare.or.kr", "email"), ("hong(at)example.com", "email"),
    ("hong@xn--3e0b707e.xn--3e0b707e", "email"),
]

# Shapes deliberately left alone (bot/privacy.py says why for each).
NOT_PERSONAL = [
    "2022-08-31 18:00까지 보고", "접수번호 0000000011", "20220829", "금액 1,234,567원", "9월 6일 09:00 개통",
    "버전 1.2.3", "2022.08.31", "사업자번호 123-45-67890", "1234567890123", "생년월일 900101", "1234-5678",
    "900101-1******", "대표번호 1588-1234", "@홍길동 확인 부탁", "user@localhost", "hong at example dot com",
    "hong 골뱅이 example.com", "2022. 8. 31. 18:00", "12,345,678,901,234원", "2022-09-06 09:00 ~ 2022-09-30 18:00",
    "회의실 @ 본관.3층", "2022 08 29 10 00",
]


def forms(spelling: str) -> set[str]:
    """The spelling as typed, as normalised, and (for numbers) as bare digits: none may appear anywhere."""
    norm = "".join(c for c in unicodedata.normalize("NFKC", spelling) if unicodedata.category(c) != "Cf")
    out = {spelling, norm}
    digits = "".join(c for c in norm if c.isdigit())
    if "@" not in norm and "(at)" not in norm and len(digits) >= 9:
        out.add(digits)
    return out


def leaks(spelling: str, text: str) -> list[str]:
    return [f for f in forms(spelling) if f in text]


@pytest.mark.parametrize("spelling, kind", SPELLINGS)
def test_guard_finds_every_spelling(spelling, kind):
    text = f"연락처는 {spelling}입니다"
    found = find_personal_data(text)
    assert [f.kind for f in found] == [kind]
    assert not leaks(spelling, redact(text))


@pytest.mark.parametrize("text", NOT_PERSONAL)
def test_guard_leaves_ambiguous_shapes_alone(text):
    assert find_personal_data(text) == []


# ---- the battery: every spelling through every path ---------------------------------------------


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    fake = FakeSlack().start()
    services = build(settings_for(tmp_path_factory.mktemp("battery"), fake))
    server = ServerThread(services, host="127.0.0.1", port=0).start()
    yield services, server, fake, Client(server.url)
    server.stop()
    services.close()
    fake.stop()


def _first_post(adapter, receipt: str, dm: bool):
    """(channel, ts) of the inquiry's triage card, or of its receipt in the requester's DM."""
    key = f"inquiry-{receipt}-{'receipt' if dm else 'filed'}"
    deadline = time.monotonic() + 10
    while (found := adapter.posts.find(key)) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found, f"no {'DM' if dm else 'triage'} post for {receipt}"
    return found


@pytest.mark.parametrize("n, spelling", [(n, s) for n, (s, _) in enumerate(SPELLINGS)])
def test_guard_battery(desk, caplog, n, spelling):
    from bot.http import SLACK_KEY

    services, server, fake, slack = desk
    caplog.set_level(logging.INFO)
    user, title = f"UB{n:03d}", f"급여 명세서 출력 문의 {n}"
    start = len(fake.calls)

    def calls_text() -> str:
        return "\n".join(c.everything for c in fake.calls[start:])

    # filing: personal data in the content never files the inquiry; it goes back to the form's subject info
    status, body = slack.interact(submission(user, title=title, content=f"대상자 연락처 {spelling} 확인 부탁",
                                             view_id=f"VB{n}a"))
    assert status == 200
    assert services.inquiries.mine(user).total == 0  # (how the form comes back is issue 11 item 1's concern)
    status, body = slack.interact(submission(user, title=title, content="대상자 연락처 확인 부탁", subject=spelling,
                                             view_id=f"VB{n}b"))
    assert status == 200
    receipt = services.inquiries.mine(user).items[0].receipt
    # triage: the card the fake Slack received
    fake.wait_for(lambda f: [c for c in f.calls[start:] if c.get("channel") == TRIAGE and receipt in c.everything])
    adapter = server.web_app[SLACK_KEY]
    _, card_ts = _first_post(adapter, receipt, dm=False)
    dm, dm_ts = _first_post(adapter, receipt, dm=True)
    # thread relay, both ways
    services.inquiries.assign(receipt, AGENT)
    m = len(fake.calls)
    slack.event(message_event(f"확인했습니다. {spelling} 맞나요?", user=AGENT, channel=TRIAGE, thread_ts=card_ts))
    fake.wait_for(lambda f: [c for c in f.calls[m:] if c.method == "chat.postMessage" and c.get("channel") == dm])
    m = len(fake.calls)
    slack.event(message_event(f"네, {spelling} 입니다", user=user, channel=dm, thread_ts=dm_ts))
    fake.wait_for(lambda f: [c for c in f.calls[m:] if c.method == "chat.postMessage" and c.get("channel") == TRIAGE
                             and "thread_ts" in c.args and c.get("thread_ts") == card_ts])
    assert not leaks(spelling, calls_text())
    # answers and FAQ promotion refuse it
    with pytest.raises(Invalid):
        services.inquiries.answer(receipt, AGENT, f"{spelling}로 연락드렸습니다")
    services.inquiries.answer(receipt, AGENT, "급여 > 명세서 메뉴에서 출력하세요.")
    for kw in ({"answer": f"{spelling}로 문의하세요"}, {"title": f"{spelling} 문의"}):
        with pytest.raises(Invalid):
            services.inquiries.promote_to_faq(receipt, AGENT, **kw)
    entry = services.inquiries.promote_to_faq(receipt, AGENT, questions=[f"{spelling} 명세서", title])
    assert not leaks(spelling, json.dumps([entry.title, entry.answer, entry.questions], ensure_ascii=False))
    # suggestions while a title with it is typed
    (shown,) = dispatch(Incoming(user=user, action="inquiry.similar", value=f"{title} {spelling}"), services)
    assert not leaks(spelling, shown.text + json.dumps(shown.data, ensure_ascii=False, default=str))
    # export, stored public fields and the event log
    out = io.BytesIO()
    services.inquiries.export(out, "csv")
    stored = json.dumps([services.store.conn.execute(f"SELECT * FROM {t}").fetchall()
                         for t in ("inquiries", "inquiry_events", "inquiry_faq")], ensure_ascii=False, default=str)
    assert not leaks(spelling, out.getvalue().decode("utf-8-sig") + stored)
    # logs: what was logged, and what the masking formatter writes for a line holding it
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user wrote %s", (spelling,), None)
    assert not leaks(spelling, caplog.text + JsonFormatter().format(record))
    # the subject info still has it, for the requester and the assignee only
    assert services.inquiries.read_subject_info(receipt, user) == spelling


# ---- item 3: request bodies never logged -------------------------------------------------------------


def test_debug_logging_never_writes_the_subject_info_an_assignee_opens(desk, caplog):
    from fakes.harness import click

    services, server, fake, slack = desk
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream, json_lines=True)
    try:
        caplog.set_level(logging.DEBUG)
        subject = "김영희 대상자, 생년 1990, 메모 특이사항 없음"  # not a number: masking cannot save it
        i = services.inquiries.file(title="급여 대상자 확인", category=CATEGORY, type="사용법문의", requester="UDBG",
                                    content="확인 부탁", subject_info=subject)
        services.inquiries.assign(i.receipt, AGENT)
        start = len(fake.calls)
        assert slack.interact(click(AGENT, "inquiry.subject", i.receipt, channel=TRIAGE))[0] == 200
        fake.wait_for(lambda f: [c for c in f.calls[start:] if "김영희" in c.everything])
        fake.quiet(0.3)
    finally:
        setup_logging("WARNING", stream=io.StringIO())
    written = stream.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    assert "김영희" not in written and "특이사항" not in written


# ---- item 13: raw bytes are verified before decoding ---------------------------------------------------


def _post_bytes(url: str, body: bytes, headers: dict) -> int:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_bad_bytes_are_401_unsigned_and_400_signed_never_500(desk):
    import hashlib
    import hmac

    _, server, _, slack = desk
    bad = b'{"type": "event_callback", "event": {"text": "\xff\xfe\xc3"}}'
    ts = str(int(time.time()))
    assert _post_bytes(slack.url, bad, {"Content-Type": "application/json"}) == 401
    assert _post_bytes(slack.url, b"{}", {"Content-Type": "application/json; charset=x-bogus"}) == 401
    assert _post_bytes(slack.url, bad, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                                        "X-Slack-Signature": "v0=00"}) == 401
    digest = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + bad, hashlib.sha256).hexdigest()
    assert _post_bytes(slack.url, bad, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                                        "X-Slack-Signature": f"v0={digest}"}) == 400
    body = '{"type": "url_verification", "challenge": "x"}'
    assert _post_bytes(slack.url, body.encode(), {"Content-Type": "application/json; charset=x-bogus",
                                                  "X-Slack-Request-Timestamp": ts,
                                                  "X-Slack-Signature": signature(body, ts)}) == 400


# ---- items 12 and 15: start-up failures, file modes, keys ----------------------------------------------


def _ieum(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IEUM_"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _assert_one_korean_line(r: subprocess.CompletedProcess) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert any("\uac00" <= c <= "\ud7a3" for c in lines[0])


@pytest.mark.parametrize("command", [["run"], ["chat"], ["serve", "--port", "0"], ["inquiries", "list"],
                                     ["backup", "out.db"]])
def test_start_up_failures_exit_2_with_one_korean_line_and_write_nothing(tmp_path, command):
    other_key = "b3RoZXIta2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLi4="
    # a data directory that is a file
    (tmp_path / "afile").write_text("x")
    r = _ieum(command, {"IEUM_DATA_DIR": str(tmp_path / "afile"), "IEUM_SECRET_KEY": KEY}, tmp_path)
    _assert_one_korean_line(r)
    assert "디렉터리" in r.stderr and (tmp_path / "afile").read_text() == "x"
    # a database file that is not a database
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "ieum.db").write_bytes(b"not a database" * 100)
    r = _ieum(command, {"IEUM_DATA_DIR": str(junk), "IEUM_SECRET_KEY": KEY}, tmp_path)
    _assert_one_korean_line(r)
    assert "SQLite" in r.stderr and _tree(junk) == {"ieum.db": b"not a database" * 100}
    # a database encrypted with another key: a wrong key, and no key at all (no fresh secret.key written)
    data = tmp_path / "data"
    s = build(settings_for(data, type("F", (), {"api_url": None})(), slack_bot_token=None, secret_key=KEY))
    s.inquiries.file(title="제목", category=CATEGORY, type="사용법문의", requester="u1", subject_info="비밀")
    s.close()
    before = _tree(data)
    for env in ({"IEUM_SECRET_KEY": other_key}, {}):
        r = _ieum(command, {"IEUM_DATA_DIR": str(data), **env}, tmp_path)
        _assert_one_korean_line(r)
        assert "키" in r.stderr
        assert not (data / "secret.key").exists()
        assert {k: v for k, v in _tree(data).items() if k == "ieum.db"} == {"ieum.db": before["ieum.db"]}
    assert not (tmp_path / "out.db").exists()


def test_a_weak_secret_key_is_refused_and_keygen_makes_one(tmp_path):
    for weak in ("1", "my passphrase", "x" * 44):
        r = _ieum(["inquiries", "list"], {"IEUM_DATA_DIR": str(tmp_path / "d"), "IEUM_SECRET_KEY": weak}, tmp_path)
        _assert_one_korean_line(r)
        assert "ieum keygen" in r.stderr and not (tmp_path / "d").exists()
    r = _ieum(["keygen"], {}, tmp_path)
    assert r.returncode == 0
    key = r.stdout.strip()
    r = _ieum(["inquiries", "list"], {"IEUM_DATA_DIR": str(tmp_path / "d"), "IEUM_SECRET_KEY": key}, tmp_path)
    assert r.returncode == 0, r.stderr


def test_database_wal_and_backup_are_private(tmp_path):
    data = tmp_path / "data"
    s = build(settings_for(data, type("F", (), {"api_url": None})(), slack_bot_token=None, secret_key=KEY))
    try:
        s.inquiries.file(title="제목", category=CATEGORY, type="사용법문의", requester="u1", subject_info="비밀")
        mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
        assert mode(data) == 0o700
        files = [data / "ieum.db", data / "ieum.db-wal", data / "ieum.db-shm"]
        assert all(p.exists() for p in files)
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        r = _ieum(["backup", str(tmp_path / "b" / "backup.db")], {"IEUM_DATA_DIR": str(data), "IEUM_SECRET_KEY": KEY},
                  tmp_path)
        assert r.returncode == 0, r.stderr
        assert mode(tmp_path / "b" / "backup.db") == 0o600
    finally:
        s.close()


# ---- item 14: attachments ------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n" + b"0" * 100


@pytest.fixture
def filing(tmp_path):
    s = build(settings_for(tmp_path / "data", type("F", (), {"api_url": None})(), slack_bot_token=None,
                           secret_key=KEY))
    yield s
    s.close()


def _file_with(s, *attachments, requester="u1"):
    return s.inquiries.file(title="첨부 확인", category=CATEGORY, type="사용법문의", requester=requester,
                            content="첨부를 봐 주세요", attachments=list(attachments))


def test_attachment_bytes_are_stored_encrypted_backed_up_and_shown_to_requester_and_assignee_only(tmp_path, filing):
    from bot.infra.backup import backup
    from bot.inquiries.service import Forbidden, read_local_file

    path = tmp_path / "명세서.pdf"
    path.write_bytes(PDF + b"UNIQUE-ATTACHMENT-BYTES")
    i = _file_with(filing, read_local_file(str(path)))
    assert [a.name for a in filing.inquiries.get(i.receipt).attachments] == ["명세서.pdf"]
    path.unlink()  # the client's file is gone: the inquiry keeps its own copy
    assert filing.inquiries.read_attachment(i.receipt, 0, "u1") == ("명세서.pdf", PDF + b"UNIQUE-ATTACHMENT-BYTES")
    with pytest.raises(Forbidden):
        filing.inquiries.read_attachment(i.receipt, 0, "someone")
    filing.inquiries.assign(i.receipt, AGENT)
    assert filing.inquiries.read_attachment(i.receipt, 0, AGENT)[1].endswith(b"UNIQUE-ATTACHMENT-BYTES")
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("ieum.db*"))
    assert b"UNIQUE-ATTACHMENT-BYTES" not in raw  # encrypted at rest
    backup(filing.settings.db_path, tmp_path / "b.db")
    restored = build(settings_for(tmp_path / "data2", type("F", (), {"api_url": None})(), slack_bot_token=None,
                                  secret_key=KEY))
    restored.close()
    (tmp_path / "data2" / "ieum.db").write_bytes((tmp_path / "b.db").read_bytes())
    restored = build(settings_for(tmp_path / "data2", type("F", (), {"api_url": None})(), slack_bot_token=None,
                                  secret_key=KEY))
    try:
        assert restored.inquiries.read_attachment(i.receipt, 0, "u1")[1].endswith(b"UNIQUE-ATTACHMENT-BYTES")
    finally:
        restored.close()


def test_attachment_names_are_sanitised_and_types_checked_by_content(tmp_path, filing):
    from bot.inquiries.service import read_local_file

    i = _file_with(filing, {"name": "../../etc/passwd.pdf", "data": PDF}, {"name": "a.exe\x00.pdf", "data": PDF})
    assert [a.name for a in filing.inquiries.get(i.receipt).attachments] == ["passwd.pdf", "a.exe.pdf"]
    for bad in ({"name": "a.exe\x00.pdf", "data": b"MZ\x90\x00" + b"0" * 100},
                {"name": "사진.jpg", "data": PDF},
                {"name": "문서.hwp", "data": b"plain text"}):
        with pytest.raises(Invalid) as e:
            _file_with(filing, bad)
        assert "형식이 아닙니다" in e.value.errors["files"]
    assert _file_with(filing, {"name": "사진.png", "data": b"\x89PNG\r\n\x1a\n" + b"0" * 10})
    with pytest.raises(Exception) as e:
        read_local_file(str(tmp_path / "없는파일.pdf"))
    assert "찾을 수 없습니다" in str(e.value)
    big = tmp_path / "big.pdf"
    with open(big, "wb") as f:
        f.write(PDF)
        f.truncate(20 * 1024 * 1024 + 1)
    with pytest.raises(Exception) as e:
        read_local_file(str(big))
    assert "20MB" in str(e.value)


def test_the_terminal_refuses_a_path_that_does_not_exist(tmp_path):
    data = tmp_path / "data"
    # title, category, type, urgent, public, guideline, organisation, position, content (ended by an empty line), subject info, files
    answers = "\n".join(["질의하기", "첨부 확인", "1", "1", "아니요", "예", "아니요", "", "", "내용입니다", "", "",
                         str(tmp_path / "없는파일.pdf"), "취소"]) + "\n"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IEUM_"))}
    r = subprocess.run([sys.executable, "-m", "bot.cli", "chat"], cwd=tmp_path, input=answers, text=True,
                       capture_output=True, timeout=120,
                       env={**base, "PYTHONPATH": str(ROOT), "IEUM_DATA_DIR": str(data), "IEUM_SECRET_KEY": KEY})
    assert "첨부파일을 찾을 수 없습니다: 없는파일.pdf" in r.stdout, r.stdout[-2000:]
    assert "Traceback" not in r.stderr


def test_a_slack_file_over_20_mb_is_refused(desk):
    services, server, fake, slack = desk
    payload = submission("UBIGFILE", title="첨부 확인 문의", content="첨부를 봐 주세요", view_id="VBIG")
    payload["view"]["state"]["values"]["files"] = {"files": {"type": "file_input", "files": [
        {"id": "F1", "name": "scan.pdf", "filetype": "pdf", "size": 21 * 1024 * 1024,
         "url_private": "https://files.slack.com/F1"}]}}
    status, body = slack.interact(payload)
    assert status == 200
    assert services.inquiries.mine("UBIGFILE").total == 0


def test_other_readers_of_a_public_inquiry_do_not_see_its_attachments(filing):
    i = _file_with(filing, {"name": "명세서.pdf", "data": PDF})
    assert [a.name for a in filing.inquiries.view(i.receipt, "u1").attachments] == ["명세서.pdf"]
    assert filing.inquiries.view(i.receipt, "someone").attachments == []
    (shown,) = dispatch(Incoming(user="someone", action="inquiry.view", value=i.receipt), filing)
    assert "명세서.pdf" not in shown.text
    (own,) = dispatch(Incoming(user="u1", action="inquiry.view", value=i.receipt), filing)
    assert "명세서.pdf" in own.text


def _slack_file(desk, user: str, view_id: str, name: str, data: bytes):
    """Submit the inquiry modal with one file the fake Slack serves at its url_private; wait until the bot has
    fetched it and kept or dropped it (after the ack)."""
    services, server, fake, slack = desk
    file_id = f"F{view_id}"
    payload = submission(user, title="첨부 확인 문의", content="첨부를 봐 주세요", view_id=view_id)
    payload["view"]["state"]["values"]["files"] = {"files": {"type": "file_input", "files": [
        {"id": file_id, "name": name, "filetype": "pdf", "size": 1000, "url_private": fake.add_file(file_id, data)}]}}
    status, _ = slack.interact(payload)
    assert status == 200
    inquiry = services.inquiries._submitted(f"slack:{view_id}", user)
    assert inquiry is not None
    fake.wait_for(lambda f: not services.inquiries.pending_files(inquiry.receipt), timeout=20)
    return inquiry.receipt


def test_a_slack_pdf_is_fetched_with_the_bot_token_and_stored_encrypted(desk):
    services, server, fake, slack = desk
    data = PDF + b"SLACK-UNIQUE-ATTACHMENT-BYTES"
    receipt = _slack_file(desk, "USLACKPDF", "VPDF", "명세서.pdf", data)
    assert "Bearer xoxb-test" in fake.file_reads
    assert [a.name for a in services.inquiries.get(receipt).attachments] == ["명세서.pdf"]
    assert services.inquiries.read_attachment(receipt, 0, "USLACKPDF") == ("명세서.pdf", data)
    services.inquiries.assign(receipt, AGENT)
    assert services.inquiries.read_attachment(receipt, 0, AGENT)[1] == data
    db = Path(services.settings.db_path)
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"SLACK-UNIQUE-ATTACHMENT-BYTES" not in raw  # only ciphertext at rest


@pytest.mark.parametrize("user, view_id, data, reason", [
    ("USLACKEXE", "VEXE", b"MZ\x90\x00" + b"\x00" * 200, "형식이 아닙니다"),
    ("USLACKBIG", "VHUGE", PDF + b"0" * (20 * 1024 * 1024), "MB까지"),
])
def test_a_slack_file_that_fails_the_check_is_dropped_and_the_requester_told(desk, user, view_id, data, reason):
    from bot.inquiries.service import NotFound

    services, server, fake, slack = desk
    receipt = _slack_file(desk, user, view_id, "scan.pdf", data)
    assert services.inquiries.get(receipt).attachments == []
    with pytest.raises(NotFound):
        services.inquiries.read_attachment(receipt, 0, user)
    told = fake.wait_for(lambda f: [c for c in f.calls if c.method == "chat.postMessage"
                                    and "질의에서 뺐습니다" in c.everything and receipt in c.everything])
    assert reason in told[0].everything
