"""The HTTP API and the web guards, end to end, against the real application.

Everything is real: ``create_app`` over the bundled ``docs/`` in a real
Chroma + SQLite store (a private copy per ``Services``), the real model, real
SQLite records and accounts. Most tests share one module-scoped ``Services``
and ``TestClient`` (its public rate limit is raised so they don't trip it);
the rate-limit and lockout tests get their own ``Services`` so their counters
disturb nothing else, and a few tests go over real loopback HTTP through
``LiveServer`` with ``httpx`` (streaming read line by line, concurrent asks).

What users rely on, and what is checked here:

- ``POST /api/ask`` answers with the same JSON as ``assistant ask --json`` plus
  ``audience``; out-of-scope questions are refused in the asker's language.
- Nobody without a staff session can reach internal documents, whatever they
  send (``audience``, ``doc_ids``, forged cookies or bearer tokens).
- Bad input is a 422 JSON ``{"error", "fields"}`` naming the field, never a
  stack trace; ``/api/ask/stream`` rejects a bad question before streaming.
- Feedback and hand-offs are stored in SQLite with personal data redacted and
  are listed for staff only.
- Login, lockout, logout; the public rate limit; OpenAPI; the ``/staff`` guard
  and the ``/login`` form.
"""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.answering import REFUSAL, Answer
from assistant.auth import WRONG_CREDENTIALS
from assistant.server import create_app
from assistant.services import DB_NAME, SESSION_COOKIE
from tests.conftest import LiveServer, make_services

STAFF_NAME = "officer"
STAFF_PASSWORD = "correct horse battery"

PUBLIC_Q = "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu?"
PUBLIC_FACT = "4.000 đồng"
INTERNAL_Q = "Kinh phí thí điểm trợ lý ảo là bao nhiêu?"
INTERNAL_FACT = "1.250.000.000"
INTERNAL_DOC = "internal/ghi-chu-noi-bo-trien-khai-tro-ly-ao.md"
OUT_OF_SCOPE_EN = "Who won the football final?"
OUT_OF_SCOPE_VI = "Đội nào đã vô địch trận chung kết bóng đá năm nay?"

CCCD = "001203004567"
PHONE = "0912 345 678"
EMAIL = "an.nguyen@example.com"
PII_TEXT = f"Tôi là An, CCCD {CCCD}, điện thoại {PHONE}, e-mail {EMAIL}."

ANSWER_KEYS = set(Answer("", [], False, "extractive", "vi").as_dict()) | {"audience"}
CITATION_KEYS = {"doc_id", "title", "page", "section", "snippet"}

# Answerable questions over docs/ with a fact each answer must quote (eval/builtin).
KNOWN = [
    ("Công chức phải kiểm tra hồ sơ trực tuyến trong thời hạn bao lâu?", "08 giờ làm việc"),
    ("Hồ sơ trực tuyến thiếu giấy tờ thì người dân có bao lâu để bổ sung?", "10 ngày làm việc"),
    (PUBLIC_Q, PUBLIC_FACT),
    ("Cơ quan nào thực hiện đăng ký khai sinh?", "Ủy ban nhân dân cấp xã"),
    ("Hồ sơ xử lý phản ánh, kiến nghị được lưu trữ trong bao lâu?", "05 năm"),
    ("Chương trình Chuyển đổi số quốc gia được phê duyệt bằng quyết định nào?", "749/QĐ-TTg"),
    ("Thời hạn giải quyết thủ tục xác nhận thông tin về cư trú là bao lâu?", "01 ngày làm việc"),
    ("How much does a criminal record certificate cost when applying online?", "VND 100,000"),
]


# ---------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def services(tmp_path_factory, docs_store, embedder):
    """One Services for most tests; the public limit is high so only the rate-limit tests meet it."""
    svc = make_services(tmp_path_factory.mktemp("api"), docs_store, embedder, public_per_minute=100_000)
    svc.accounts.add_user(STAFF_NAME, STAFF_PASSWORD)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def app(services):
    return create_app(services.settings, services)


@pytest.fixture(scope="module")
def client(app):
    """The shared client; it never signs in with the form, so it never holds a session cookie."""
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def browser(app):
    """A fresh client with its own cookie jar (for the /login form and cookie sessions)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def token(client) -> str:
    r = client.post("/api/login", json={"name": STAFF_NAME, "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(r: httpx.Response, status: int, field: str | None = None) -> dict:
    """A JSON error of the documented shape; ``field`` (if given) is named in ``fields``."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text and 'File "' not in r.text
    body = r.json()
    assert set(body) == {"error", "fields"}
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["fields"], list)
    if field is not None:
        assert any(f == field or f.startswith(field + ".") for f in body["fields"]), body
    return body


def internal_cited(body: dict) -> list[str]:
    return [c["doc_id"] for c in body["citations"] if c["doc_id"].startswith("internal/")]


def assert_public_only(body: dict) -> None:
    assert body["audience"] == "public"
    assert internal_cited(body) == []
    assert INTERNAL_FACT not in body["answer"]


def raw_row(services, table: str, row_id: int) -> tuple:
    """The row as SQLite holds it, read through a separate connection."""
    db = sqlite3.connect(Path(services.settings.data_dir) / DB_NAME)
    try:
        row = db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    finally:
        db.close()
    assert row is not None, f"{table} row {row_id} is not in the SQLite file"
    return row


def assert_redacted(row: tuple) -> None:
    text = " ".join(str(v) for v in row)
    for secret in (CCCD, PHONE, PHONE.replace(" ", ""), EMAIL):
        assert secret not in text, f"{secret!r} stored in clear: {row}"


# ---------------------------------------------------------------------- POST /api/ask

def test_ask_answers_with_the_cli_json_plus_audience(client, services):
    r = client.post("/api/ask", json={"question": PUBLIC_Q})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == ANSWER_KEYS
    assert body["audience"] == "public"
    assert body["grounded"] is True
    assert body["mode"] == "extractive"
    assert body["language"] == "vi"
    assert isinstance(body["latency_ms"], (int, float)) and body["latency_ms"] >= 0
    assert PUBLIC_FACT in body["answer"]
    assert body["citations"]
    for c in body["citations"]:
        assert CITATION_KEYS <= set(c)
        assert c["doc_id"] and c["title"] and c["snippet"]
        assert c["page"] is None or isinstance(c["page"], int)
        assert isinstance(c["section"], str)
    assert internal_cited(body) == []
    # The same answer the CLI (`assistant ask --json`) prints, apart from timing.
    cli = services.assistant.ask(PUBLIC_Q).as_dict()
    assert {k: v for k, v in body.items() if k not in ("latency_ms", "audience")} == \
           {k: v for k, v in cli.items() if k != "latency_ms"}


@pytest.mark.parametrize("question,language", [(OUT_OF_SCOPE_EN, "en"), (OUT_OF_SCOPE_VI, "vi")])
def test_out_of_scope_question_is_refused_in_the_askers_language(client, question, language):
    r = client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grounded"] is False
    assert body["citations"] == []
    assert body["language"] == language
    assert body["answer"] == REFUSAL[language]


def test_follow_up_with_history_is_answered(client):
    r = client.post("/api/ask", json={
        "question": "Còn khi nộp trực tuyến thì sao?",
        "history": [{"question": "Phí cấp bản sao trích lục hộ tịch là bao nhiêu?", "answer": ""}],
        "k": 6,
    })
    assert r.status_code == 200, r.text
    assert set(r.json()) == ANSWER_KEYS


def test_doc_ids_restrict_the_search_to_those_documents(client):
    r = client.post("/api/ask", json={"question": PUBLIC_Q, "doc_ids": ["online-public-services-faq.txt"]})
    assert r.status_code == 200, r.text
    assert {c["doc_id"] for c in r.json()["citations"]} <= {"online-public-services-faq.txt"}


# ---------------------------------------------------------------------- audience

def test_anonymous_staff_audience_is_answered_as_public(client):
    r = client.post("/api/ask", json={"question": INTERNAL_Q, "audience": "staff"})
    assert r.status_code == 200, r.text
    assert_public_only(r.json())


def test_anonymous_caller_cannot_reach_internal_document_by_doc_id(client):
    for audience in ("public", "staff"):
        r = client.post("/api/ask", json={"question": INTERNAL_Q, "audience": audience, "doc_ids": [INTERNAL_DOC]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert_public_only(body)
        assert body["grounded"] is False


@pytest.mark.parametrize("how", ["cookie", "bearer", "bearer-empty", "basic"])
def test_forged_credentials_are_answered_as_public(app, how):
    with TestClient(app) as c:
        headers = {}
        if how == "cookie":
            c.cookies.set(SESSION_COOKIE, "garbage")
        elif how == "bearer":
            headers = {"Authorization": "Bearer garbage"}
        elif how == "bearer-empty":
            headers = {"Authorization": "Bearer "}
        else:
            headers = {"Authorization": f"Basic {STAFF_NAME}:{STAFF_PASSWORD}"}
        r = c.post("/api/ask", json={"question": INTERNAL_Q, "audience": "staff"}, headers=headers)
        assert r.status_code == 200, r.text
        assert_public_only(r.json())


def test_staff_session_with_staff_audience_gets_internal_answer(client, token):
    r = client.post("/api/ask", json={"question": INTERNAL_Q, "audience": "staff"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audience"] == "staff"
    assert body["grounded"] is True
    assert INTERNAL_FACT in body["answer"]
    assert INTERNAL_DOC in {c["doc_id"] for c in body["citations"]}


def test_staff_session_without_asking_for_staff_is_answered_as_public(client, token):
    r = client.post("/api/ask", json={"question": INTERNAL_Q}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert_public_only(r.json())


def test_staff_cookie_from_login_form_also_opens_staff_audience(browser):
    r = browser.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    r = browser.post("/api/ask", json={"question": INTERNAL_Q, "audience": "staff"})
    assert r.status_code == 200, r.text
    assert r.json()["audience"] == "staff"
    assert INTERNAL_FACT in r.json()["answer"]


# ---------------------------------------------------------------------- validation

@pytest.mark.parametrize("payload,field", [
    pytest.param({"question": ""}, "question", id="empty-question"),
    pytest.param({"question": "   \n\t "}, "question", id="blank-question"),
    pytest.param({"question": "a" * 1001}, "question", id="over-max_question_chars"),
    pytest.param({"question": "a" * 4001}, "question", id="over-4000"),
    pytest.param({"question": 42}, "question", id="question-not-a-string"),
    pytest.param({}, "question", id="missing-question"),
    pytest.param({"question": PUBLIC_Q, "audience": "admin"}, "audience", id="unknown-audience"),
    pytest.param({"question": PUBLIC_Q, "k": 0}, "k", id="k-0"),
    pytest.param({"question": PUBLIC_Q, "k": 21}, "k", id="k-21"),
    pytest.param({"question": PUBLIC_Q, "k": "many"}, "k", id="k-not-a-number"),
    pytest.param({"question": PUBLIC_Q, "history": "earlier"}, "history", id="history-not-a-list"),
    pytest.param({"question": PUBLIC_Q, "history": [{"answer": "x"}]}, "history", id="history-turn-without-question"),
    pytest.param({"question": PUBLIC_Q, "doc_ids": "faq.md"}, "doc_ids", id="doc_ids-not-a-list"),
    pytest.param([PUBLIC_Q], "body", id="body-is-a-list"),
    pytest.param(PUBLIC_Q, "body", id="body-is-a-string"),
])
def test_bad_ask_is_422_naming_the_field(client, payload, field):
    assert_error(client.post("/api/ask", json=payload), 422, field)


def test_question_over_the_configured_limit_gets_the_guardrail_message(client, services):
    limit = services.settings.max_question_chars
    body = assert_error(client.post("/api/ask", json={"question": "x" * (limit + 1)}), 422, "question")
    assert body["fields"] == ["question"]
    assert f"the limit is {limit}" in body["error"]
    assert "Vui lòng rút gọn" in body["error"]


def test_question_over_4000_is_refused_by_the_schema(client):
    body = assert_error(client.post("/api/ask", json={"question": "x" * 4001}), 422, "question")
    assert "4000" in body["error"]


@pytest.mark.parametrize("raw", [b'{"question": "thi', b"{question: 1}", b'{"question": "a",}', b""],
                         ids=["truncated", "unquoted-key", "trailing-comma", "empty"])
def test_malformed_json_body_is_422_not_500(client, raw):
    r = client.post("/api/ask", content=raw, headers={"Content-Type": "application/json"})
    body = assert_error(r, 422)
    assert "JSON" in body["error"] or "required" in body["error"]


def test_body_that_is_not_utf8_is_a_4xx_json_error(client):
    r = client.post("/api/ask", content=b'{"question": "thi\xe1u"}', headers={"Content-Type": "application/json"})
    assert_error(r, 400)


def test_missing_body_is_422(client):
    assert_error(client.post("/api/ask"), 422)


def test_wrong_method_and_unknown_path_are_json(client):
    assert_error(client.get("/api/ask"), 405)
    body = assert_error(client.get("/api/nope"), 404)
    assert body["fields"] == []


# ---------------------------------------------------------------------- POST /api/ask/stream

def ndjson(lines) -> list[dict]:
    return [json.loads(line) for line in lines if line.strip()]


def test_stream_sends_deltas_then_the_final_answer(client):
    with client.stream("POST", "/api/ask/stream", json={"question": PUBLIC_Q}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        events = ndjson(r.iter_lines())
    assert len(events) >= 2
    assert all(set(e) == {"delta"} for e in events[:-1])
    assert isinstance(events[0]["delta"], str)
    final = events[-1]
    assert set(final) == {"answer"}
    answer = final["answer"]
    assert set(answer) == ANSWER_KEYS
    assert answer["audience"] == "public" and answer["grounded"] is True
    assert PUBLIC_FACT in answer["answer"]
    assert answer["citations"] and all(CITATION_KEYS <= set(c) for c in answer["citations"])


def test_stream_never_leaks_internal_text_to_anonymous_staff_audience(client):
    with client.stream("POST", "/api/ask/stream", json={"question": INTERNAL_Q, "audience": "staff"}) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    assert INTERNAL_FACT not in "".join(lines)
    assert_public_only(ndjson(lines)[-1]["answer"])


def test_stream_gives_staff_the_internal_answer(client, token):
    with client.stream("POST", "/api/ask/stream", json={"question": INTERNAL_Q, "audience": "staff"},
                       headers=bearer(token)) as r:
        assert r.status_code == 200
        events = ndjson(r.iter_lines())
    answer = events[-1]["answer"]
    assert answer["audience"] == "staff" and INTERNAL_FACT in answer["answer"]


@pytest.mark.parametrize("payload,field", [
    ({"question": "   "}, "question"),
    ({"question": "a" * 1001}, "question"),
    ({"question": ""}, "question"),
    ({"question": PUBLIC_Q, "k": 0}, "k"),
])
def test_stream_rejects_bad_question_with_json_before_streaming(client, payload, field):
    r = client.post("/api/ask/stream", json=payload)
    assert_error(r, 422, field)
    assert "ndjson" not in r.headers["content-type"]


# ---------------------------------------------------------------------- feedback

def test_feedback_is_stored_in_sqlite_with_personal_data_redacted(client, services, token):
    r = client.post("/api/feedback", json={
        "question": f"{PUBLIC_Q} {PII_TEXT}", "answer": f"Trả lời cho {EMAIL}", "rating": -1,
        "reasons": ["inaccurate", "incomplete"], "comment": f"Gọi lại cho tôi: {PII_TEXT}",
        "citations": ["faq-dich-vu-cong-truc-tuyen.md"], "language": "vi",
    })
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert isinstance(fid, int) and fid > 0
    row = raw_row(services, "feedback", fid)
    assert_redacted(row)
    text = " ".join(str(v) for v in row)
    assert "[id-number]" in text and "[phone]" in text and "[email]" in text
    listed = client.get("/api/feedback", headers=bearer(token)).json()
    mine = next(f for f in listed if f["id"] == fid)
    assert mine["rating"] == -1 and mine["surface"] == "api" and mine["user"] == ""
    assert mine["reasons"] == ["inaccurate", "incomplete"]
    assert mine["citations"] == ["faq-dich-vu-cong-truc-tuyen.md"]
    assert PUBLIC_Q in mine["question"]
    assert_redacted(tuple(mine.values()))


def test_feedback_from_staff_records_the_user(client, token):
    r = client.post("/api/feedback", json={"question": PUBLIC_Q, "rating": 1}, headers=bearer(token))
    assert r.status_code == 201, r.text
    listed = client.get("/api/feedback", headers=bearer(token)).json()
    assert next(f for f in listed if f["id"] == r.json()["id"])["user"] == STAFF_NAME


@pytest.mark.parametrize("change,field", [
    pytest.param({"rating": 0}, "rating", id="rating-0"),
    pytest.param({"rating": 2}, "rating", id="rating-2"),
    pytest.param({"rating": "up"}, "rating", id="rating-up"),
    pytest.param({"rating": None}, "rating", id="rating-null"),
    pytest.param({"reasons": ["wrong"]}, "reasons", id="unknown-reason"),
    pytest.param({"reasons": "inaccurate"}, "reasons", id="reasons-not-a-list"),
    pytest.param({"question": ""}, "question", id="empty-question"),
    pytest.param({"comment": "c" * 2001}, "comment", id="comment-too-long"),
    pytest.param({"language": "fr"}, "language", id="unknown-language"),
])
def test_bad_feedback_is_422_naming_the_field(client, change, field):
    assert_error(client.post("/api/feedback", json={"question": PUBLIC_Q, "rating": 1, **change}), 422, field)


def test_feedback_without_rating_is_422(client):
    assert_error(client.post("/api/feedback", json={"question": PUBLIC_Q}), 422, "rating")


# ---------------------------------------------------------------------- hand-offs

def test_handoff_is_listed_for_staff_with_personal_data_redacted(client, services, token):
    r = client.post("/api/handoff", json={"question": f"Xin cán bộ gọi lại. {PII_TEXT}", "language": "vi"})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    assert isinstance(hid, int) and hid > 0
    assert_redacted(raw_row(services, "handoffs", hid))
    r = client.get("/api/handoffs", headers=bearer(token))
    assert r.status_code == 200, r.text
    mine = next(h for h in r.json() if h["id"] == hid)
    assert mine["status"] == "open" and mine["surface"] == "api" and mine["language"] == "vi"
    assert "Xin cán bộ gọi lại" in mine["question"]
    assert_redacted(tuple(mine.values()))
    assert hid in [h["id"] for h in client.get("/api/handoffs?status=all", headers=bearer(token)).json()]
    assert hid not in [h["id"] for h in client.get("/api/handoffs?status=closed", headers=bearer(token)).json()]


@pytest.mark.parametrize("payload,field", [
    ({}, "question"), ({"question": ""}, "question"), ({"question": "q" * 2001}, "question"),
    ({"question": PUBLIC_Q, "language": "de"}, "language"),
])
def test_bad_handoff_is_422_naming_the_field(client, payload, field):
    assert_error(client.post("/api/handoff", json=payload), 422, field)


def test_handoff_list_rejects_unknown_status(client, token):
    assert_error(client.get("/api/handoffs?status=pending", headers=bearer(token)), 422, "status")


# ---------------------------------------------------------------------- health

def test_health_reports_store_model_and_mode(client, services):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    store = body["store"]
    assert store["documents"] == 9
    assert store["chunks"] > 100
    assert store["vectors"] == store["chunks"]
    assert body["model"] == services.assistant.embedder.name and body["model"]
    assert body["mode"] == "extractive"


# ---------------------------------------------------------------------- login / logout

def test_login_returns_a_bearer_token(client, services):
    r = client.post("/api/login", json={"name": STAFF_NAME.upper(), "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == int(services.settings.session_hours * 3600)
    assert services.accounts.session_user(body["token"]) == STAFF_NAME


@pytest.mark.parametrize("name,password", [(STAFF_NAME, "wrong password"), ("nobody", STAFF_PASSWORD)])
def test_bad_login_is_401_with_the_same_generic_message(client, name, password):
    body = assert_error(client.post("/api/login", json={"name": name, "password": password}), 401)
    assert body["error"] == WRONG_CREDENTIALS


@pytest.mark.parametrize("payload,field", [({"name": "", "password": "x"}, "name"), ({"name": STAFF_NAME}, "password")])
def test_login_with_missing_fields_is_422(client, payload, field):
    assert_error(client.post("/api/login", json=payload), 422, field)


def test_logout_ends_the_session(client):
    tok = client.post("/api/login", json={"name": STAFF_NAME, "password": STAFF_PASSWORD}).json()["token"]
    assert client.get("/api/feedback", headers=bearer(tok)).status_code == 200
    r = client.post("/api/logout", headers=bearer(tok))
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert_error(client.get("/api/feedback", headers=bearer(tok)), 401)
    r = client.post("/api/ask", json={"question": INTERNAL_Q, "audience": "staff"}, headers=bearer(tok))
    assert_public_only(r.json())
    # Logging out again, or without any token, is harmless.
    assert client.post("/api/logout", headers=bearer(tok)).status_code == 200
    assert client.post("/api/logout").status_code == 200


def test_repeated_failures_lock_login_even_for_the_right_password(tmp_path, docs_store, embedder):
    svc = make_services(tmp_path, docs_store, embedder, login_max_failures=2)
    svc.accounts.add_user(STAFF_NAME, STAFF_PASSWORD)
    try:
        with TestClient(create_app(svc.settings, svc)) as c:
            for _ in range(2):
                body = assert_error(c.post("/api/login", json={"name": STAFF_NAME, "password": "nope-nope"}), 401)
                assert body["error"] == WRONG_CREDENTIALS
            body = assert_error(c.post("/api/login", json={"name": STAFF_NAME, "password": STAFF_PASSWORD}), 429)
            assert "Too many failed attempts" in body["error"]
            # The sign-in form is locked too.
            r = c.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD}, follow_redirects=False)
            assert r.status_code == 429
            assert SESSION_COOKIE not in r.cookies
    finally:
        svc.close()


# ---------------------------------------------------------------------- staff-only lists

@pytest.mark.parametrize("path", ["/api/feedback", "/api/handoffs"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer garbage"}, {"Authorization": "Token abc"}],
                         ids=["no-token", "bad-token", "wrong-scheme"])
def test_staff_lists_need_a_staff_session(client, path, headers):
    body = assert_error(client.get(path, headers=headers), 401)
    assert "sign-in" in body["error"]


@pytest.mark.parametrize("path", ["/api/feedback", "/api/handoffs", "/api/feedback?limit=0", "/api/feedback?limit=5000"])
def test_staff_lists_answer_staff(client, token, path):
    r = client.get(path, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)


def test_feedback_list_rejects_non_numeric_limit(client, token):
    assert_error(client.get("/api/feedback?limit=all", headers=bearer(token)), 422, "limit")


# ---------------------------------------------------------------------- rate limit

def test_public_rate_limit_says_when_to_retry_and_spares_staff(tmp_path, docs_store, embedder):
    svc = make_services(tmp_path, docs_store, embedder, public_per_minute=3)
    svc.accounts.add_user(STAFF_NAME, STAFF_PASSWORD)
    try:
        with TestClient(create_app(svc.settings, svc)) as c:
            for _ in range(3):
                assert c.post("/api/ask", json={"question": PUBLIC_Q}).status_code == 200
            r = c.post("/api/ask", json={"question": PUBLIC_Q})
            body = assert_error(r, 429)
            retry = int(r.headers["Retry-After"])
            assert 1 <= retry <= 60
            assert "Too many requests" in body["error"] and "3 per minute" in body["error"]
            assert f"{retry} s" in body["error"]
            # The same budget covers streaming, feedback and hand-offs from that client.
            assert_error(c.post("/api/ask/stream", json={"question": PUBLIC_Q}), 429)
            assert_error(c.post("/api/feedback", json={"question": PUBLIC_Q, "rating": 1}), 429)
            assert_error(c.post("/api/handoff", json={"question": PUBLIC_Q}), 429)
            # Health is not a question: never limited.
            assert c.get("/api/health").status_code == 200
            # A signed-in officer is not limited.
            tok = c.post("/api/login", json={"name": STAFF_NAME, "password": STAFF_PASSWORD}).json()["token"]
            for _ in range(4):
                r = c.post("/api/ask", json={"question": PUBLIC_Q}, headers=bearer(tok))
                assert r.status_code == 200, r.text
            assert c.post("/api/feedback", json={"question": PUBLIC_Q, "rating": 1},
                          headers=bearer(tok)).status_code == 201
            # A forged token does not escape the limit.
            assert_error(c.post("/api/ask", json={"question": PUBLIC_Q}, headers=bearer("garbage")), 429)
    finally:
        svc.close()


# ---------------------------------------------------------------------- OpenAPI

def test_openapi_documents_every_endpoint(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/ask", "/api/ask/stream", "/api/feedback", "/api/handoff", "/api/handoffs",
                 "/api/health", "/api/login", "/api/logout"):
        assert path in paths, path
    assert "post" in paths["/api/ask"] and "get" in paths["/api/health"]
    schemas = r.json()["components"]["schemas"]
    k = schemas["AskRequest"]["properties"]["k"]
    assert {"minimum": 1, "maximum": 20}.items() <= next(a for a in k["anyOf"] if a.get("type") == "integer").items()
    # Pages are not part of the API schema.
    assert not any(p.startswith(("/staff", "/public", "/login")) for p in paths)


def test_api_docs_page_is_served(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert "/api/openapi.json" in r.text


# ---------------------------------------------------------------------- /staff guard and /login form

@pytest.mark.parametrize("path", ["/staff/", "/staff"])
def test_staff_page_without_session_redirects_browser_to_login(browser, path):
    r = browser.get(path, headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/staff")


@pytest.mark.parametrize("method,path", [
    ("GET", "/staff/config"),
    ("POST", "/staff/gradio_api/queue/join"),
    ("GET", "/staff/gradio_api/info"),
    ("GET", "/staff/"),  # not asking for HTML: no redirect, a plain 401
])
def test_staff_non_html_requests_without_session_are_401(browser, method, path):
    r = browser.request(method, path, json={} if method == "POST" else None, follow_redirects=False)
    assert_error(r, 401)


def test_staff_with_forged_cookie_is_still_refused(browser):
    browser.cookies.set(SESSION_COOKIE, "garbage")
    assert_error(browser.get("/staff/config"), 401)
    r = browser.get("/staff/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303


def test_login_form_wrong_password_is_401_page(browser):
    r = browser.post("/login", data={"name": STAFF_NAME, "password": "not the password", "lang": "en"},
                     follow_redirects=False)
    assert r.status_code == 401
    assert "text/html" in r.headers["content-type"]
    assert 'id="login-error"' in r.text and "Wrong user name or password" in r.text
    assert SESSION_COOKIE not in r.cookies


def test_login_form_signs_in_and_opens_the_staff_page(browser):
    r = browser.get("/login")
    assert r.status_code == 200 and 'name="password"' in r.text
    r = browser.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/"
    assert r.cookies.get(SESSION_COOKIE)
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    r = browser.get("/staff/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert browser.get("/staff/config").status_code == 200
    # /logout ends the cookie session.
    r = browser.get("/logout", follow_redirects=False)
    assert r.status_code == 303
    r = browser.get("/staff/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize("next_url", ["//evil.example/", "https://evil.example/", "javascript:alert(1)",
                                      "/\\evil.example/", "/\t/evil.example/"])
def test_login_form_never_redirects_off_site(browser, next_url):
    r = browser.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD, "next": next_url},
                     follow_redirects=False)
    assert r.status_code == 303
    location = r.headers["location"]
    # Only a path on this site: browsers read "/\\host" and "/<tab>/host" as "//host".
    assert location.startswith("/") and not location.startswith("//")
    assert "\\" not in location and "\t" not in location
    assert httpx.URL(location).host == ""


def test_login_form_keeps_a_local_next_page(browser):
    r = browser.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD, "next": "/staff/?tab=docs"},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/?tab=docs"


def test_public_page_needs_no_session(browser):
    r = browser.get("/public/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 200


# ---------------------------------------------------------------------- real loopback HTTP

@pytest.fixture(scope="module")
def live(tmp_path_factory, docs_store, embedder):
    svc = make_services(tmp_path_factory.mktemp("live"), docs_store, embedder, public_per_minute=1000)
    server = LiveServer(svc)
    yield server
    server.stop()


def test_live_health_over_loopback(live):
    r = httpx.get(f"{live.url}/api/health", timeout=30)
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["store"]["documents"] == 9


def test_live_stream_is_read_line_by_line(live):
    events = []
    with httpx.stream("POST", f"{live.url}/api/ask/stream", json={"question": PUBLIC_Q}, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line.strip():
                events.append(json.loads(line))
    assert len(events) >= 2 and "delta" in events[0]
    assert all(set(e) == {"delta"} for e in events[:-1])
    answer = events[-1]["answer"]
    assert answer["grounded"] is True and PUBLIC_FACT in answer["answer"] and answer["citations"]


def test_live_bad_question_is_422_over_loopback(live):
    r = httpx.post(f"{live.url}/api/ask/stream", json={"question": ""}, timeout=30)
    assert_error(r, 422, "question")
    r = httpx.post(f"{live.url}/api/ask", content=b"{not json", headers={"Content-Type": "application/json"},
                   timeout=30)
    assert_error(r, 422)


def test_live_eight_concurrent_asks_all_answer_grounded(live):
    """Eight different questions at once: each gets its own answer, the same as asked alone."""
    alone = {q: live.services.assistant.ask(q).as_dict() for q, _ in KNOWN}

    def ask(item):
        question, fact = item
        return question, fact, httpx.post(f"{live.url}/api/ask", json={"question": question}, timeout=120)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, KNOWN))
    assert len(results) == 8
    for question, fact, r in results:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["grounded"] is True, body
        assert fact in body["answer"], (fact, body["answer"])
        assert body["citations"] and internal_cited(body) == []
        assert body["answer"] == alone[question]["answer"]
        assert body["citations"] == alone[question]["citations"]


# ---------------------------------------------------------------------- bugs found while writing these tests, now fixed

@pytest.mark.parametrize("path,payload", [
    ("/api/feedback", {"question": "   ", "rating": 1}),
    ("/api/handoff", {"question": "   "}),
])
def test_blank_question_in_feedback_or_handoff_names_the_field(client, path, payload):
    assert_error(client.post(path, json=payload), 422, "question")


def test_feedback_rating_true_is_refused(client):
    assert_error(client.post("/api/feedback", json={"question": PUBLIC_Q, "rating": True}), 422, "rating")


def test_malformed_json_names_the_body_not_a_byte_offset(client):
    r = client.post("/api/ask", content=b'{"question": "thi', headers={"Content-Type": "application/json"})
    assert assert_error(r, 422)["fields"] == ["body"]


def test_valid_bearer_wins_over_a_stale_cookie(app, token):
    with TestClient(app) as c:
        c.cookies.set(SESSION_COOKIE, "expired-or-forged")
        assert c.get("/api/feedback", headers=bearer(token)).status_code == 200


def test_api_logout_ends_a_cookie_session(browser):
    r = browser.post("/login", data={"name": STAFF_NAME, "password": STAFF_PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    assert browser.post("/api/logout").json() == {"ok": True}
    assert_error(browser.get("/api/feedback"), 401)
