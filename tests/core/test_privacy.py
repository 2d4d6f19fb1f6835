"""The personal-data guard and the subject-info cipher: detection, keys, key mismatch, and the property
that no generated personal number ever reaches a public field, an export, a channel message or the log."""
from __future__ import annotations

import io
import json
import logging
import os
import stat
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from bot.core.clock import SEOUL
from bot.inquiries.service import Invalid
from bot.cli.inquiries import file_line
from bot.core.messages import Incoming
from bot.infra.logs import RedactingHandlerFilter
from bot.core.privacy import Cipher, KeyError_, KeyMismatch, extract, find_personal_data, generate_key, load_key, mask
from handlers.router import dispatch

NOW = datetime(2022, 8, 29, 10, 0, tzinfo=SEOUL)


AGENTS = ("agent1",)  # the `make` fixture's agents in this module


# ---- the guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind", [
    ("주민번호 900101-1234567 입니다", "rrn"),
    ("9001011234567", "rrn"),
    ("주민등록번호는 211015-3000001이에요", "rrn"),  # issued after October 2020: no valid check digit
    ("201231 - 4123456", "rrn"),
    ("외국인 900101-5234567", "frn"),
    ("외국인등록번호 8506307123456", "frn"),
    ("010-1234-5678로 연락 주세요", "mobile"),
    ("01012345678", "mobile"),
    ("011 234 5678", "mobile"),
    ("010.1234.5678", "mobile"),
    ("사무실 02-123-4567", "phone"),
    ("031-1234-5678", "phone"),
    ("(02) 1234-5678", "phone"),
    ("070-1234-5678", "phone"),
    ("+82-10-1234-5678", "phone"),
    ("메일 hong.gildong@example.co.kr 으로", "email"),
])
def test_guard_finds_personal_data(text, kind):
    found = find_personal_data(text)
    assert [f.kind for f in found] == [kind]
    assert "[개인정보]" in mask(text)


@pytest.mark.parametrize("text", [
    "2022-08-31 18:00까지 보고", "접수번호 0000000011", "20220829", "금액 1,234,567원", "9월 6일 09:00 개통",
    "ERP > 인사", "처리여유기간 1458시간", "버전 1.2.3", "2022.08.31", "사업자번호 123-45-67890",
])
def test_guard_leaves_ordinary_text_alone(text):
    assert find_personal_data(text) == []


def test_extract_moves_every_piece():
    public, pieces = extract("홍길동 900101-1234567, 010-1234-5678")
    assert pieces == ["900101-1234567", "010-1234-5678"]
    assert "900101" not in public and "5678" not in public


def test_redacting_filter_masks_log_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "user sent %s", ("010-1234-5678",), None)
    RedactingHandlerFilter().filter(record)
    assert "010-1234-5678" not in record.getMessage()


# ---- the cipher and its key ----------------------------------------------------------------------


def test_key_file_is_generated_once_with_mode_0600(tmp_path):
    k1 = load_key(secret=None, directory=tmp_path)
    k2 = load_key(secret=None, directory=tmp_path)
    assert k1 == k2
    mode = stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode)
    assert mode == 0o600


def test_bad_key_file_is_refused_in_korean(tmp_path):
    (tmp_path / "secret.key").write_text("not a key")
    with pytest.raises(KeyError_, match="형식"):
        load_key(secret=None, directory=tmp_path)


def test_secret_key_from_settings_encrypts_roundtrip():
    c = Cipher(load_key(secret=generate_key(), directory=None))
    token = c.encrypt("900101-1234567")
    assert "900101" not in token
    assert c.decrypt(token) == "900101-1234567"


def test_subject_info_is_encrypted_at_rest(tmp_path, make):
    s = make(tmp_path)
    s.inquiries.file(title="대상자 자료 누락", category="ERP > 인사", type="자료확인", requester="u1",
                     subject_info="홍길동 900101-1234567")
    s.close()
    raw = (tmp_path / "ieum.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("ieum.db-*"))
    assert "900101-1234567".encode() not in raw
    assert "홍길동".encode() not in raw


def _outbox_dump(s) -> str:
    return json.dumps(s.store.conn.execute("SELECT * FROM outbox").fetchall(), ensure_ascii=False)


def _raw_db(tmp_path) -> bytes:
    return (tmp_path / "ieum.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("ieum.db-*"))


@pytest.mark.parametrize("outcome", ["sent", "expired", "failed"])
def test_subject_info_delivered_out_of_band_never_sits_in_the_outbox_in_plain_text(tmp_path, outcome, make):
    from datetime import timedelta

    s = make(tmp_path)
    i = s.inquiries.file(title="대상자 자료 누락", category="ERP > 인사", type="자료확인", requester="u1",
                         subject_info="홍길동 900101-1234567")
    reply = dispatch(Incoming(user="u1", action="inquiry.subject", value=i.receipt), s)[0]
    assert "900101-1234567" in reply.text and reply.data["sensitive"] is True
    # what an adapter does with a reply it cannot show in place
    s.outbox.enqueue(reply, key="slack:evt:0", surface="slack", target="user:u1",
                     expires_at=NOW + timedelta(minutes=5))
    for secret in ("900101-1234567", "홍길동"):
        assert secret not in _outbox_dump(s)
        assert secret.encode() not in _raw_db(tmp_path)
    delivered = []
    if outcome == "sent":
        s.outbox.register_sender("slack", lambda target, r: delivered.append((target, r.text)))
    else:
        def broken(target, r):
            raise RuntimeError("unreachable")

        s.outbox.register_sender("slack", broken)
        s.outbox.max_attempts = 1 if outcome == "failed" else 8
    if outcome == "expired":
        s.clock.set(NOW + timedelta(minutes=10))
    s.outbox.drain()
    row = s.outbox.get("slack:evt:0")
    assert row["status"] == outcome and row["reply"] == "{}"
    if outcome == "sent":
        assert delivered == [("user:u1", reply.text)]  # the reader still gets it, decrypted
    s.close()
    for secret in ("900101-1234567", "홍길동"):
        assert secret.encode() not in _raw_db(tmp_path)


def test_wrong_key_refuses_to_start(tmp_path, make):
    s = make(tmp_path, secret="Zmlyc3Qta2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    s.inquiries.file(title="제목", category="ERP > 인사", type="자료확인", requester="u1", subject_info="비밀")
    s.close()
    with pytest.raises(KeyMismatch) as e:
        make(tmp_path, secret="c2Vjb25kLWtleS4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    assert "암호화 키" in str(e.value) and "비밀" not in str(e.value)
    make(tmp_path, secret="Zmlyc3Qta2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=").close()  # the right key still works


def test_lost_key_file_refuses_to_start(tmp_path, make):
    make(tmp_path, secret=None).close()  # generates secret.key and a check row
    (tmp_path / "secret.key").unlink()
    with pytest.raises(KeyMismatch):
        make(tmp_path, secret=None)


def test_cli_reports_key_mismatch_in_korean(tmp_path, monkeypatch, capsys, make, inquiry_knowledge):
    from bot.cli.inquiries import main

    make(tmp_path, secret="Zmlyc3Qta2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=").close()
    monkeypatch.setenv("IEUM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IEUM_KNOWLEDGE", str(inquiry_knowledge))
    monkeypatch.setenv("IEUM_SECRET_KEY", "b3RoZXIta2V5Li4uLi4uLi4uLi4uLi4uLi4uLi4uLi4=")
    assert main(["inquiries", "list"]) == 2
    assert "암호화 키" in capsys.readouterr().err


# ---- the property: personal numbers never reach public places ------------------------------------

_yy = st.integers(0, 99).map(lambda n: f"{n:02d}")
_mm = st.integers(1, 12).map(lambda n: f"{n:02d}")
_dd = st.integers(1, 28).map(lambda n: f"{n:02d}")
_rrn = st.tuples(_yy, _mm, _dd, st.sampled_from("1234567890"), st.integers(0, 999999), st.booleans()).map(
    lambda t: f"{t[0]}{t[1]}{t[2]}{'-' if t[5] else ''}{t[3]}{t[4]:06d}")
_mobile = st.tuples(st.sampled_from(["010", "011", "016", "017", "019"]), st.integers(1000, 9999),
                    st.integers(0, 9999), st.sampled_from(["-", "", " "])).map(
    lambda t: f"{t[0]}{t[3]}{t[1]}{t[3]}{t[2]:04d}")
_landline = st.tuples(st.sampled_from(["02", "031", "051", "064", "070"]), st.integers(200, 9999),
                      st.integers(0, 9999)).map(lambda t: f"{t[0]}-{t[1]}-{t[2]:04d}")
_email = st.tuples(st.from_regex(r"[a-z][a-z0-9._]{1,10}", fullmatch=True),
                   st.sampled_from(["example.com", "gmail.com", "korea.kr", "welfare.or.kr"])).map(
    lambda t: f"{t[0]}@{t[1]}")
personal = st.one_of(_rrn, _mobile, _landline, _email)
korean = st.text(alphabet="가나다라마바사아자차카타파하 인사카드누락 확인요청", min_size=0, max_size=15)


@pytest.fixture
def prop_services(tmp_path, make):
    s = make(tmp_path)
    yield s
    s.close()


def _public_texts(s) -> str:
    rows = s.store.conn.execute("SELECT * FROM inquiries").fetchall()
    events = s.store.conn.execute("SELECT * FROM inquiry_events").fetchall()
    subjects = s.store.conn.execute("SELECT token FROM inquiry_subjects").fetchall()
    return json.dumps([rows, events, subjects], ensure_ascii=False, default=str)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pn=personal, before=korean, after=korean, where=st.sampled_from(["title", "content"]))
def test_personal_numbers_never_reach_public_places(prop_services, caplog, pn, before, after, where):
    s = prop_services
    caplog.set_level(logging.DEBUG)
    assert find_personal_data(pn), pn
    text = f"{before} {pn} {after}".strip()
    fields = {"title": "대상자 자료 확인", "category": "ERP > 인사", "type": "자료확인", "content": "내용"}
    fields[where] = text[:100]
    # 1. The service refuses it, and its message does not repeat it.
    with pytest.raises(Invalid) as e:
        s.inquiries.file(requester="u1", **fields)
    assert pn not in str(e.value)
    # 2. The CLI import refuses it the same way.
    with pytest.raises(Invalid) as e:
        file_line(s, json.dumps({**fields, "requester": "u1"}, ensure_ascii=False))
    assert pn not in str(e.value)
    # 3. The chat form moves it into the subject info; confirming files it there.
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value="{}", form=fields), s)
    form = replies[0].form
    assert form is not None and form.errors
    initial = {f.name: f.initial for f in form.fields}
    assert pn not in initial["title"] and pn not in initial["content"] and pn in initial["subject_info"]
    replies = dispatch(Incoming(user="u1", action="inquiry.submit", value=form.state, form=initial), s)
    receipt = replies[0].data["receipt"]
    for r in replies:
        assert pn not in r.text
    assert pn not in _public_texts(s)
    assert pn not in json.dumps(s.inquiries.get(receipt).public_dict(), ensure_ascii=False)
    out = io.BytesIO()
    s.inquiries.export(out, "csv")
    assert pn not in out.getvalue().decode("utf-8-sig")
    # The subject info still has it, for the requester only.
    assert pn in s.inquiries.read_subject_info(receipt, "u1")
    triage = dispatch(Incoming(user="agent1", action="triage.assign", value=receipt), s)
    assert all(pn not in r.text for r in triage)
    assert pn not in caplog.text
