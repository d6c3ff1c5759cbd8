"""Feedback and hand-offs as the team relies on them: they survive a restart, the
file never holds a citizen's ID number, phone or e-mail, bad input is refused
with a message naming the field, and many server threads lose nothing.
Everything runs against a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from assistant.records import REASONS, Feedback, Handoff, Records, RecordsError

CCCD = "001203004567"
PHONE = "0912 345 678"
EMAIL = "nguyen.van.a@example.vn"
PII = f"Tôi là Nguyễn Văn A, CCCD {CCCD}, điện thoại {PHONE}, email {EMAIL}."


@pytest.fixture()
def db_path(tmp_path):
    return tmp_path / "nested" / "records.sqlite3"


@pytest.fixture()
def records(db_path):
    r = Records(db_path)
    yield r
    r.close()


def raw_rows(path) -> str:
    """Every row of every table, read with a connection of our own."""
    con = sqlite3.connect(path)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in con.execute(f"SELECT * FROM {t}"))
    finally:
        con.close()


def feedback(records: Records, **overrides) -> int:
    fields = dict(surface="public", rating=-1, question="Thủ tục đăng ký khai sinh?", answer="Nộp tờ khai.")
    return records.add_feedback(**{**fields, **overrides})


# ---------------------------------------------------------------------- feedback


def test_feedback_persists_across_reopening_the_file(db_path):
    first = Records(db_path)
    fid = first.add_feedback(
        surface="staff", rating=-1, question="Lệ phí khai sinh?", answer="Miễn lệ phí.",
        reasons=["inaccurate", "incomplete"], comment="Thiếu căn cứ.", citations=["Luật Hộ tịch 2014, Điều 11"],
        language="vi", user="lan.nt",
    )
    first.close()

    again = Records(db_path)
    try:
        [fb] = again.list_feedback()
    finally:
        again.close()
    assert fb.id == fid
    assert (fb.surface, fb.rating, fb.user, fb.language) == ("staff", -1, "lan.nt", "vi")
    assert (fb.question, fb.answer, fb.comment) == ("Lệ phí khai sinh?", "Miễn lệ phí.", "Thiếu căn cứ.")
    assert fb.reasons == ["inaccurate", "incomplete"]
    assert fb.citations == ["Luật Hộ tịch 2014, Điều 11"]
    assert fb.created > 0


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "records.sqlite3"
    Records(path).close()
    assert path.exists()


def test_list_feedback_is_newest_first_and_limited(records):
    ids = [feedback(records, question=f"câu hỏi {i}") for i in range(5)]
    listed = records.list_feedback(limit=3)
    assert [f.id for f in listed] == ids[::-1][:3]
    assert all(isinstance(f, Feedback) for f in listed)


def test_as_dict_is_json_ready(records):
    feedback(records, reasons=["not_relevant"], citations=["Nghị định 123/2015"])
    feedback_dict = records.list_feedback()[0].as_dict()
    assert json.loads(json.dumps(feedback_dict, ensure_ascii=False)) == feedback_dict
    assert feedback_dict["reasons"] == ["not_relevant"]
    records.add_handoff(surface="public", question="Cần gặp cán bộ")
    assert json.loads(json.dumps(records.list_handoffs()[0].as_dict()))["status"] == "open"


def test_pii_never_reaches_the_file(records, db_path):
    feedback(records, question=PII, answer=f"Gọi {PHONE} hoặc gửi {EMAIL}.", comment=PII, citations=["Điều 5"])
    hid = records.add_handoff(surface="public", question=PII)
    assert records.close_handoff(hid, by="lan.nt", note=f"Đã gọi lại số {PHONE}, CCCD {CCCD}")

    raw = raw_rows(db_path)
    for secret in (CCCD, PHONE, "0912345678", EMAIL):
        assert secret not in raw
    assert "[id-number]" in raw and "[phone]" in raw and "[email]" in raw
    assert "Nguyễn Văn A" in raw  # the rest of the text is kept

    fb = records.list_feedback()[0]
    assert CCCD not in fb.question and PHONE not in fb.answer and EMAIL not in fb.comment


def test_long_answer_is_cut_not_refused(records):
    feedback(records, answer="a" * 9000)
    assert len(records.list_feedback()[0].answer) == 8000


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"surface": "widget"}, "surface"),
        ({"rating": 0}, "rating"),
        ({"rating": 2}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": "1"}, "rating"),
        ({"reasons": ["wrong"]}, "reasons"),
        ({"reasons": "inaccurate"}, "reasons"),
        ({"question": "   "}, "question"),
        ({"question": ""}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"comment": "x" * 2001}, "comment"),
        ({"citations": [f"Điều {i}" for i in range(51)]}, "citations"),
        ({"citations": [1, 2]}, "citations"),
        ({"answer": 42}, "answer"),
    ],
)
def test_bad_feedback_is_refused_naming_the_field(records, overrides, field):
    with pytest.raises(RecordsError) as info:
        feedback(records, **overrides)
    assert str(info.value).startswith(f"{field}:")
    assert records.counts()["feedback"] == 0


def test_reason_error_lists_the_allowed_values(records):
    with pytest.raises(RecordsError) as info:
        feedback(records, reasons=["inaccurate", "rude"])
    message = str(info.value)
    assert "'rude'" in message and all(reason in message for reason in REASONS)


def test_limits_are_inclusive(records):
    feedback(records, question="x" * 2000, comment="y" * 2000, citations=[f"Điều {i}" for i in range(50)])
    assert records.counts()["feedback"] == 1


def test_concurrent_feedback_from_eight_threads_loses_nothing(records, db_path):
    per_thread, errors = 25, []

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                feedback(records, question=f"luồng {n} câu {i}", rating=1 if i % 2 else -1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    listed = records.list_feedback(limit=1000)
    assert len(listed) == 8 * per_thread == len({f.id for f in listed})
    assert {f.question for f in listed} == {f"luồng {n} câu {i}" for n in range(8) for i in range(per_thread)}
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 200
    con.close()


# ---------------------------------------------------------------------- hand-offs


def test_handoff_lifecycle_open_then_closed(records):
    first = records.add_handoff(surface="public", question="Tôi cần gặp cán bộ tư pháp", language="vi")
    second = records.add_handoff(surface="api", question="Need a human", language="en", user="client-7")

    open_now = records.list_handoffs()
    assert [h.id for h in open_now] == [second, first]  # newest first
    assert all(isinstance(h, Handoff) and h.status == "open" and h.closed_at is None for h in open_now)

    assert records.close_handoff(first, by="lan.nt", note="Đã gọi lại") is True
    assert records.close_handoff(first, by="lan.nt") is False  # already closed
    assert records.close_handoff(9999, by="lan.nt") is False  # no such hand-off

    assert [h.id for h in records.list_handoffs()] == [second]
    [closed] = records.list_handoffs("closed")
    assert (closed.id, closed.status, closed.closed_by, closed.note) == (first, "closed", "lan.nt", "Đã gọi lại")
    assert closed.closed_at is not None and closed.closed_at >= closed.created
    assert [h.id for h in records.list_handoffs(None)] == [second, first]


def test_handoff_input_is_checked(records):
    with pytest.raises(RecordsError, match="^question:"):
        records.add_handoff(surface="public", question=" ")
    with pytest.raises(RecordsError, match="^surface:"):
        records.add_handoff(surface="email", question="Xin chào")
    hid = records.add_handoff(surface="staff", question="Xin chào")
    with pytest.raises(RecordsError, match="^by:"):
        records.close_handoff(hid, by="  ")
    with pytest.raises(RecordsError, match="^note:"):
        records.close_handoff(hid, by="lan.nt", note="x" * 2001)
    with pytest.raises(RecordsError, match="^status:"):
        records.list_handoffs("pending")
    assert records.list_handoffs()[0].status == "open"


# ---------------------------------------------------------------------- counts


def test_counts(records):
    assert records.counts() == {
        "feedback": 0, "feedback_up": 0, "feedback_down": 0, "handoffs_open": 0, "handoffs_closed": 0,
    }
    for rating in (1, 1, -1):
        feedback(records, rating=rating)
    handoffs = [records.add_handoff(surface="public", question=f"q{i}") for i in range(3)]
    records.close_handoff(handoffs[0], by="admin")
    assert records.counts() == {
        "feedback": 3, "feedback_up": 2, "feedback_down": 1, "handoffs_open": 2, "handoffs_closed": 1,
    }


def test_records_and_accounts_share_one_file(db_path):
    from assistant.auth import Accounts

    records, accounts = Records(db_path), Accounts(db_path)
    try:
        accounts.add_user("lan.nt", "mật khẩu dài")
        feedback(records)
        assert accounts.users() == ["lan.nt"] and records.counts()["feedback"] == 1
    finally:
        records.close()
        accounts.close()
