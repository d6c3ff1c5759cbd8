"""The audit log: who asked what (redacted) and which documents the answer cited, kept for a set time."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.records import DAY, Records, RecordsError
from assistant.server import create_app
from tests.conftest import make_services

PASSWORD = "audit-password-1"
FEE_Q = "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu? Tôi là 001203004567, gọi 0912 345 678"


def _raw(path: Path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT surface, user, audience, question, cited, grounded FROM audit ORDER BY id").fetchall()
    finally:
        db.close()


def test_an_audit_row_is_redacted_before_it_is_stored(tmp_path):
    records = Records(tmp_path / "a.sqlite3")
    records.add_audit(surface="public", audience="public", question="CCCD 001203004567, email an@example.com",
                      cited=["b.md", "a.md", "a.md"], grounded=True, latency_ms=12.5, language="vi")
    (row,) = _raw(tmp_path / "a.sqlite3")
    assert "001203004567" not in row[3] and "an@example.com" not in row[3]
    assert row[4] == '["a.md", "b.md"]'  # each cited document once
    with pytest.raises(RecordsError, match="audience"):
        records.add_audit(surface="api", audience="root", question="q", cited=[], grounded=False, latency_ms=1)


def test_retention_deletes_old_rows_but_keeps_open_handoffs(tmp_path):
    records = Records(tmp_path / "r.sqlite3")
    records.add_audit(surface="api", audience="public", question="old", cited=[], grounded=False, latency_ms=1)
    records.add_feedback(surface="api", rating=1, question="old")
    open_id = records.add_handoff(surface="public", question="waiting")
    closed_id = records.add_handoff(surface="public", question="handled")
    records.close_handoff(closed_id, by="lan")
    later = time.time() + 40 * DAY
    assert records.purge(audit_days=30, feedback_days=30, now=later) == {"audit": 1, "feedback": 1, "handoffs": 1}
    assert records.list_audit() == [] and records.list_feedback() == []
    assert [h.id for h in records.list_handoffs(None)] == [open_id]  # a citizen still waits for this one
    assert records.purge(audit_days=30, feedback_days=30) == {"audit": 0, "feedback": 0, "handoffs": 0}


@pytest.fixture(scope="module")
def services(tmp_path_factory, docs_store, embedder):
    svc = make_services(tmp_path_factory.mktemp("audit"), docs_store, embedder, public_per_minute=1000)
    svc.accounts.add_user("lan", PASSWORD)
    yield svc
    svc.close()


def test_every_question_through_the_api_is_audited_with_who_and_what_was_cited(services):
    client = TestClient(create_app(services.settings, services))
    db = Path(services.settings.data_dir) / "assistant.sqlite3"
    before = len(_raw(db))
    assert client.post("/api/ask", json={"question": FEE_Q}).status_code == 200
    token = client.post("/api/login", json={"name": "lan", "password": PASSWORD}).json()["token"]
    staff = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/ask", json={"question": "Kinh phí thí điểm trợ lý ảo là bao nhiêu?",
                                         "audience": "staff"}, headers=staff).status_code == 200
    with client.stream("POST", "/api/ask/stream", json={"question": "Who won the football final?"}) as resp:
        assert resp.status_code == 200 and list(resp.iter_lines())
    rows = _raw(db)[before:]
    assert len(rows) == 3
    public, internal, refused = rows
    assert public[:3] == ("api", "", "public") and public[5] == 1
    assert "001203004567" not in public[3] and "0912" not in public[3]  # redacted before storage
    assert "huong-dan-thu-tuc-ho-tich" in public[4]
    assert internal[:3] == ("api", "lan", "staff") and "internal/ghi-chu-noi-bo-trien-khai-tro-ly-ao.md" in internal[4]
    assert refused[4] == "[]" and refused[5] == 0

    assert client.get("/api/audit").status_code == 401  # staff only
    listed = client.get("/api/audit", headers=staff).json()
    assert listed[0]["question"] == "Who won the football final?" and listed[1]["user"] == "lan"


def test_old_rows_are_purged_when_the_server_starts(tmp_path, docs_store, embedder):
    svc = make_services(tmp_path, docs_store, embedder)
    svc.records.add_audit(surface="api", audience="public", question="q", cited=[], grounded=False, latency_ms=1)
    db = Path(svc.settings.data_dir) / "assistant.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE audit SET created = created - ?", (400 * DAY,))  # older than the 365-day default
    svc.close()
    reopened = make_services(tmp_path / "again", docs_store, embedder, data_dir=tmp_path / "data")
    assert reopened.records.list_audit() == []
    reopened.close()
