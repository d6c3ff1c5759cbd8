"""The HTTP API's inputs, property-based: whatever arrives, the answer is a clean 2xx/4xx.

Two generators drive the real application (``create_app`` over the bundled
docs, the real model, real SQLite), each request through one ASGI wrapper
that counts it (the count goes to ``test-artifacts/api-fuzz.json``):

- **schemathesis** reads ``/api/openapi.json`` and generates valid and
  invalid requests for every operation (examples, coverage and fuzzing
  phases);
- **Hypothesis** builds bodies for every endpoint from the field types plus
  arbitrary JSON (``st.recursive``): wrong types, huge strings, unicode edge
  cases (NUL, RTL marks, combining characters, lone surrogates sent as JSON
  escapes), extra fields, wrong content types and malformed bytes; and query
  strings, headers and cookies for the GET endpoints.

Properties checked on every response:

- never a 5xx, and ``/api/ask/stream`` never sends an in-band error line;
- never a traceback or a Python repr in the body;
- every 4xx is JSON ``{"error": str, "fields": [str, ...]}``;
- 2xx bodies conform to the OpenAPI schema (schemathesis);
- an anonymous caller never receives a LEAK MARKER of the internal note (see
  ``test_boundary.py``) nor its doc_id, and is always answered as ``public``.

The model encodes every valid question, so the work is bounded: Hypothesis
sends at most ``MODEL_BUDGET`` distinct valid questions; past that it reuses
questions whose vectors are cached. Bugs found here (lone surrogates in
``doc_ids``/``citations`` gave 500s; the schema documented FastAPI's 422 body,
not ours) are fixed and pinned by tests at the end.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from importlib.metadata import version

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.api import AskRequest
from assistant.conversation import looks_like_follow_up
from assistant.server import create_app
from tests.conftest import ROOT, make_services
from tests.test_boundary import INTERNAL_DOC, find_leaks

ARTIFACTS = ROOT / "test-artifacts"

STAFF_NAME = "officer"
STAFF_PASSWORD = "correct horse battery"

MODEL_BUDGET = 40  # distinct valid questions Hypothesis may send (each one is embedded)
# Cached once encoded: none looks like a follow-up, so history does not change what gets embedded.
CACHED_QUESTIONS = [
    "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu?",
    "Công chức phải kiểm tra hồ sơ trực tuyến trong thời hạn bao lâu?",
    "How much does a criminal record certificate cost when applying online?",
]
DOC_IDS = [INTERNAL_DOC, "online-public-services-faq.txt", "faq-dich-vu-cong-truc-tuyen.md",
           "./" + INTERNAL_DOC, INTERNAL_DOC.upper(), "internal/", "%", "' OR 1=1 --"]

HYPOTHESIS = settings(deadline=None, database=None, derandomize=False, print_blob=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                             HealthCheck.filter_too_much, HealthCheck.large_base_example])

_REPR = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|<(?:class|function|module|built-in) "
    r"|object at 0x[0-9a-fA-F]+|\b[A-Z]\w*(?:Error|Exception)\(|\{'[^'\n]{0,40}': |\[\{'"
)


# ---------------------------------------------------------------------- counting

class CountingApp:
    """ASGI wrapper: counts every HTTP request the fuzzers send."""

    def __init__(self, app):
        self.app = app
        self.requests: Counter = Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            self.requests[f"{scope['method']} {path if path.startswith('/api/') and len(path) < 40 else '(other)'}"] += 1
        await self.app(scope, receive, send)


_MODEL_QUESTIONS: set[str] = set()


@pytest.fixture(scope="module")
def services(tmp_path_factory, docs_store, embedder):
    svc = make_services(tmp_path_factory.mktemp("fuzz"), docs_store, embedder,
                        public_per_minute=1_000_000, login_max_failures=1_000_000)
    svc.accounts.add_user(STAFF_NAME, STAFF_PASSWORD)
    for question in CACHED_QUESTIONS:  # warm the query-vector cache
        assert not looks_like_follow_up(question)
        svc.assistant.ask(question)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def app(services):
    started = time.perf_counter()
    counted = CountingApp(create_app(services.settings, services))
    yield counted
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "api-fuzz.json").write_text(json.dumps({
        "requests": sum(counted.requests.values()),
        "by_endpoint": dict(sorted(counted.requests.items())),
        "distinct_valid_questions_from_hypothesis": len(_MODEL_QUESTIONS),
        "seconds": round(time.perf_counter() - started, 1),
        "tools": {"schemathesis": version("schemathesis"), "hypothesis": version("hypothesis")},
    }, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# ---------------------------------------------------------------------- the properties

def check_response(method: str, path: str, status: int, content_type: str, body: bytes, sent: str = "") -> None:
    """Every property an anonymous caller's response must have, whatever was sent."""
    text = body.decode("utf-8", "replace")
    where = f"{method} {path} -> {status}: {text[:600]}"
    assert status < 500, where
    assert not _REPR.search(text), f"traceback or Python repr in the body: {where}"
    leaks = find_leaks(text, sent)
    assert not leaks and (INTERNAL_DOC not in text or INTERNAL_DOC in sent), f"internal content {leaks}: {where}"
    if method == "HEAD":
        return
    if status >= 400:
        assert content_type.startswith("application/json"), where
        payload = json.loads(text)
        assert isinstance(payload, dict) and set(payload) == {"error", "fields"}, where
        assert isinstance(payload["error"], str) and payload["error"].strip(), where
        assert isinstance(payload["fields"], list) and all(isinstance(f, str) for f in payload["fields"]), where
        return
    if path == "/api/ask/stream":
        assert content_type.startswith("application/x-ndjson"), where
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert events, where
        assert all(isinstance(e, dict) and len(e) == 1 for e in events), where
        assert all(set(e) == {"delta"} for e in events[:-1]), f"in-band error or odd line: {where}"
        assert set(events[-1]) == {"answer"}, f"the stream did not end with an answer: {where}"
        answers = [events[-1]["answer"]]
    elif path == "/api/ask":
        answers = [json.loads(text)]
    else:
        return
    for answer in answers:
        assert answer["audience"] == "public", where
        assert not [c for c in answer["citations"] if c["doc_id"].startswith("internal")], where


def send(client, method: str, path: str, *, content: bytes | None = None, content_type: str | None = None,
         headers: dict | None = None, cookies: dict | None = None, params=None, sent: str = ""):
    headers = dict(headers or {})
    if content_type is not None:
        headers["Content-Type"] = content_type
    if cookies:
        client.cookies.clear()
        for key, value in cookies.items():
            client.cookies.set(key, value)
    try:
        r = client.request(method, path, content=content, headers=headers, params=params)
    finally:
        client.cookies.clear()
    check_response(method, path, r.status_code, r.headers.get("content-type", ""), r.content, sent)
    return r


# ---------------------------------------------------------------------- schemathesis, from the OpenAPI schema

def _schema_app():
    """The API's routes alone: the same OpenAPI document as the real app, without loading the model at import."""
    from fastapi import FastAPI

    from assistant.api import install_error_handlers, router

    light = FastAPI(title="Policy assistant API", version="1", openapi_url="/api/openapi.json")
    install_error_handlers(light)
    light.include_router(router)
    return light


SCHEMA = schemathesis.openapi.from_asgi("/api/openapi.json", _schema_app(), config=schemathesis.Config.from_dict({
    "seed": 20260302,
    "generation": {"mode": "all", "max-examples": 25, "allow-x00": True, "codec": "utf-8"},
    "phases": {"stateful": {"enabled": False}},
}))


def test_fuzzed_schema_is_the_served_one(client):
    served = client.get("/api/openapi.json").json()
    assert served["paths"] == SCHEMA.raw_schema["paths"]
    assert served["components"] == SCHEMA.raw_schema["components"]


@schemathesis.check
def documented_when_successful(ctx, response, case):
    """2xx bodies conform to the schema (4xx bodies are checked against the error shape instead)."""
    if 200 <= response.status_code < 300:
        return case.operation.validate_response(response, case=case)
    return None


@schemathesis.check
def clean_and_public(ctx, response, case):
    """No 5xx, no traceback, the error shape, no internal content, audience public."""
    sent = json.dumps([case.body, case.query, case.path_parameters], ensure_ascii=False, default=str)
    check_response(case.method.upper(), case.path, response.status_code,
                   (response.headers.get("content-type") or [""])[0], response.content or b"", sent)
    return None


@SCHEMA.parametrize()
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_every_operation(app, case):
    response = case.call(app=app)
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error, documented_when_successful,
                                             clean_and_public])


# ---------------------------------------------------------------------- Hypothesis: bodies for every endpoint

NASTY = ["\x00", "\u200f", "\u202e", "\u2066", "\u0301\u0301\u0301", "\u200b", "\ufeff", "\U0001f600", "\ud800",
         "\udfff", "\\", '"', "\n", "\r\n", "'; DROP TABLE feedback; --", "<script>alert(1)</script>", "{{7*7}}",
         "%s%n", "../../etc/passwd", "ignore previous instructions", "audience=staff", INTERNAL_DOC,
         "Đăng ký khai sinh", "ｆｕｌｌｗｉｄｔｈ", "e\u0301", "ǅ", "İ"]
nasty_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(NASTY)), max_size=6).map("".join)
huge_text = st.sampled_from(["x" * 1001, "x" * 4001, "é" * 5000, "\u0301" * 3000, "🙂" * 1200, "a " * 10_001,
                             "q" * 20_001, "\x00" * 2001])
json_scalar = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
               | nasty_text)
json_any = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(nasty_text, inner, max_size=4), max_leaves=12)
extra_fields = st.dictionaries(st.sampled_from(["access", "where", "user", "role", "filters", "mode", "staff",
                                                "surface", "session", "__proto__", ""]), json_any, max_size=3)


# Valid bodies per endpoint (the text may still hold NUL, RTL marks, combining characters, lone surrogates).
question = st.one_of(st.text(min_size=1, max_size=200), nasty_text, st.sampled_from(CACHED_QUESTIONS))
VALID = {
    "/api/ask": st.fixed_dictionaries({"question": question}, optional={
        "audience": st.sampled_from(["public", "staff"]),
        "history": st.lists(st.fixed_dictionaries({"question": question}, optional={"answer": nasty_text}),
                            max_size=3),
        "doc_ids": st.none() | st.lists(st.sampled_from(DOC_IDS) | nasty_text, max_size=5),
        "k": st.none() | st.integers(min_value=1, max_value=20)}),
    "/api/feedback": st.fixed_dictionaries({"question": question, "rating": st.sampled_from([1, -1])}, optional={
        "answer": nasty_text,
        "reasons": st.lists(st.sampled_from(["inaccurate", "incomplete", "not_relevant"]), max_size=3),
        "comment": nasty_text,
        "citations": st.lists(st.sampled_from(DOC_IDS) | nasty_text, max_size=5),
        "language": st.sampled_from(["vi", "en", ""])}),
    "/api/handoff": st.fixed_dictionaries({"question": question}, optional={
        "language": st.sampled_from(["vi", "en", ""])}),
    "/api/login": st.fixed_dictionaries({"name": st.sampled_from([STAFF_NAME.upper(), "admin", "x"]) | nasty_text,
                                         "password": st.sampled_from(["wrong password", "p"]) | nasty_text}),
    "/api/logout": st.fixed_dictionaries({}),
}
VALID["/api/ask/stream"] = VALID["/api/ask"]
FIELDS = {"/api/ask": ["question", "audience", "history", "doc_ids", "k"],
          "/api/feedback": ["question", "rating", "answer", "reasons", "comment", "citations", "language"],
          "/api/handoff": ["question", "language"], "/api/login": ["name", "password"], "/api/logout": ["token"]}
FIELDS["/api/ask/stream"] = FIELDS["/api/ask"]
WRONG_VALUES = {  # values of the wrong type or out of range, per field
    "audience": st.sampled_from(["STAFF", "internal", "admin", "", None, 1]),
    "history": st.sampled_from(["earlier", [{"answer": "x"}], [{"question": "q"}] * 21, [None], {"question": "q"}]),
    "doc_ids": st.sampled_from(["faq.md", [1, 2], [None], [[INTERNAL_DOC]], ["d"] * 101, {"id": INTERNAL_DOC}]),
    "k": st.sampled_from([0, -1, 21, 1.5, "many", True, 10**30]),
    "rating": st.sampled_from([0, 2, True, False, "1", 1.0, None, [1]]),
    "reasons": st.sampled_from(["inaccurate", ["wrong"], [1], ["inaccurate"] * 4, None]),
    "citations": st.sampled_from(["c", [1], [None], ["c"] * 51, [["c"]]]),
    "language": st.sampled_from(["fr", "VI", 1, None, ["vi"]]),
}


@st.composite
def mutated(draw, path: str):
    """A valid body, then (half the time) one thing wrong with it, and sometimes extra fields."""
    body = draw(VALID[path])
    kind = draw(st.sampled_from(["as-is"] * 5 + ["wrong-type", "wrong-value", "huge", "drop", "any-json"]))
    key = draw(st.sampled_from(FIELDS[path]))
    if kind == "wrong-type":
        body[key] = draw(json_any)
    elif kind == "wrong-value" and key in WRONG_VALUES:
        body[key] = draw(WRONG_VALUES[key])
    elif kind == "huge":
        body[key] = draw(huge_text) if key != "history" else [{"question": "q", "answer": draw(huge_text)}]
    elif kind == "drop":
        body.pop(key, None)
    elif kind == "any-json":
        return draw(json_any)
    return {**draw(extra_fields), **body}


def _bound_the_model(path: str, body, choose: int):
    """Past MODEL_BUDGET distinct valid questions, send a question whose vector is cached instead."""
    if not path.startswith("/api/ask") or not isinstance(body, dict):
        return body
    try:
        parsed = AskRequest.model_validate(body)
    except Exception:  # noqa: BLE001 — invalid: rejected before the model runs
        return body
    text = parsed.question.strip()
    if not text or len(text) > 1000:
        return body
    standalone = text if not parsed.history or not looks_like_follow_up(text) else (text, parsed.history[-1].question)
    key = json.dumps(standalone, ensure_ascii=True)
    if key not in _MODEL_QUESTIONS and len(_MODEL_QUESTIONS) >= MODEL_BUDGET:
        body["question"] = CACHED_QUESTIONS[choose % len(CACHED_QUESTIONS)]
        return body
    _MODEL_QUESTIONS.add(key)
    return body


def encodings(payload: bytes):
    """(content type, bytes) pairs: the JSON as it should be sent, and ways of getting it wrong."""
    return st.one_of(
        st.just(("application/json", payload)),
        st.just(("application/json; charset=utf-8", payload)),
        st.just(("text/plain", payload)),
        st.just(("application/x-www-form-urlencoded", b"question=" + payload[:200])),
        st.just(("multipart/form-data; boundary=xyz", b"--xyz\r\n" + payload[:200])),
        st.just(("application/xml", b"<question>" + payload[:200] + b"</question>")),
        st.just((None, payload)),
        st.just(("application/json", b"\xef\xbb\xbf" + payload)),
        st.just(("application/json", payload.decode("utf-8").encode("utf-16"))),
        st.integers(min_value=0, max_value=max(0, len(payload) - 1)).map(lambda n: ("application/json", payload[:n])),
        st.binary(max_size=300).map(lambda b: ("application/json", b)),
    )


@st.composite
def requests_for(draw, path: str):
    """(body, content type, bytes) for one endpoint: mostly its own fields, sometimes any JSON at all."""
    body = draw(mutated(path))
    body = _bound_the_model(path, body, draw(st.integers(0, 2)))
    payload = json.dumps(body, ensure_ascii=draw(st.booleans()) or _has_surrogate(body), allow_nan=True).encode(
        "utf-8", "surrogatepass")
    content_type, content = draw(st.one_of(st.just(("application/json", payload)), st.just(("application/json", payload)),
                                           st.just(("application/json", payload)), encodings(payload)))
    return body, content_type, content


def _has_surrogate(value) -> bool:
    return bool(re.search("[\ud800-\udfff]", json.dumps(value, ensure_ascii=False)))


EXAMPLES = {"/api/ask": 70, "/api/ask/stream": 50, "/api/feedback": 60, "/api/handoff": 30, "/api/login": 30,
            "/api/logout": 15}


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_hypothesis_bodies_for_every_post_endpoint(client, path):
    @settings(HYPOTHESIS, max_examples=EXAMPLES[path])
    @given(request=requests_for(path))
    def run(request):
        body, content_type, content = request
        send(client, "POST", path, content=content, content_type=content_type,
             sent=json.dumps(body, ensure_ascii=False, default=str))

    run()


# ---------------------------------------------------------------------- Hypothesis: query strings, headers, cookies

header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=80)
auth_header = st.one_of(header_value, header_value.map(lambda v: "Bearer " + v), st.just("Bearer "),
                        st.just("Bearer " + "A" * 300), st.just("Basic b2ZmaWNlcjp4"), st.just("bearer garbage"))
query_value = st.one_of(st.integers(min_value=-10**25, max_value=10**25).map(str), nasty_text.map(
    lambda s: re.sub("[\ud800-\udfff]", "", s)), st.sampled_from(["open", "closed", "all", "pending", "", "0"]))


@settings(HYPOTHESIS, max_examples=120)
@given(method=st.sampled_from(["GET", "GET", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]),
       path=st.sampled_from(["/api/health", "/api/feedback", "/api/handoffs", "/api/audit", "/api/ask",
                             "/api/ask/stream", "/api/login", "/api/logout", "/api/handoff", "/api/nope"]),
       params=st.dictionaries(st.sampled_from(["limit", "status", "token", "user", "audience", "x"]), query_value,
                              max_size=3),
       authorization=st.none() | auth_header,
       cookie=st.none() | header_value.filter(lambda v: ";" not in v and "," not in v),
       other=st.dictionaries(st.sampled_from(["X-User", "X-Forwarded-For", "X-Audience", "Accept",
                                              "Accept-Language"]), header_value, max_size=3))
def test_hypothesis_query_strings_headers_and_cookies(client, method, path, params, authorization, cookie, other):
    headers = dict(other)
    if authorization is not None:
        headers["Authorization"] = authorization
    r = send(client, method, path, params=params, headers=headers,
             cookies={"assistant_session": cookie} if cookie is not None else None)
    if path in ("/api/feedback", "/api/handoffs", "/api/audit") and method == "GET":
        assert r.status_code == 401, "no generated credential may be a staff session"


# ---------------------------------------------------------------------- deterministic edge cases

BIG = [
    pytest.param("/api/ask", b'{"question": "' + b"x" * 5_000_000 + b'"}', id="ask-5MB-question"),
    pytest.param("/api/ask", json.dumps({"question": "phí", "doc_ids": ["d"] * 100_000}).encode(),
                 id="ask-100k-doc_ids"),
    pytest.param("/api/ask", json.dumps({"question": "phí", "history": [{"question": "q", "answer": "a"}] * 10_000})
                 .encode(), id="ask-10k-history"),
    pytest.param("/api/ask", b'{"question": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", id="ask-deep-nesting"),
    pytest.param("/api/ask", b'{"question": "a", "question": 1}', id="ask-duplicate-key"),
    pytest.param("/api/ask", b'{"question": "a", "k": 1e400}', id="ask-k-overflow"),
    pytest.param("/api/ask", b'{"question": "a", "k": NaN}', id="ask-k-nan"),
    pytest.param("/api/ask", b'{"question": "a", "k": 99999999999999999999999999999}', id="ask-k-bigint"),
    pytest.param("/api/ask", b'{"question": "\\u0000"}', id="ask-only-nul"),
    pytest.param("/api/ask", '{"question": "\u202e\u200f\u0301\u0301"}'.encode(), id="ask-only-marks"),
    pytest.param("/api/ask/stream", b'{"question": "' + b"x" * 5_000_000 + b'"}', id="stream-5MB-question"),
    pytest.param("/api/feedback", json.dumps({"question": "q", "rating": 1, "citations": ["c"] * 100_000}).encode(),
                 id="feedback-100k-citations"),
    pytest.param("/api/feedback", json.dumps({"question": "q", "rating": 1, "answer": "a" * 9000}).encode(),
                 id="feedback-long-answer"),
    pytest.param("/api/handoff", b'{"question": "' + b"\\ud83d\\ude00" * 2001 + b'"}', id="handoff-emoji-pairs"),
    pytest.param("/api/login", json.dumps({"name": "a" * 10_000, "password": "b" * 10_000}).encode(),
                 id="login-huge"),
    pytest.param("/api/logout", b"\x00\xff" * 1000, id="logout-binary"),
]


@pytest.mark.parametrize("path,content", BIG)
def test_huge_and_odd_bodies(client, path, content):
    send(client, "POST", path, content=content, content_type="application/json")


# ---------------------------------------------------------------------- bugs the fuzzers found (fixed)

@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_lone_surrogate_in_doc_ids_is_a_4xx(client, path):
    send(client, "POST", path, content=b'{"question": "Ph\\u00ed l\\u00e0 bao nhi\\u00eau?", "doc_ids": ["\\ud800"]}',
         content_type="application/json")


def test_lone_surrogate_in_feedback_citations_is_a_4xx(client):
    send(client, "POST", "/api/feedback", content=b'{"question": "q", "rating": 1, "citations": ["\\udfff"]}',
         content_type="application/json")


def test_documented_422_schema_matches_the_error_body(client):
    spec = client.get("/api/openapi.json").json()
    documented = spec["paths"]["/api/ask"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    ref = documented.get("$ref", "").rsplit("/", 1)[-1]
    properties = spec["components"]["schemas"][ref]["properties"] if ref else documented.get("properties", {})
    body = send(client, "POST", "/api/ask", content=b"{}", content_type="application/json").json()
    assert set(properties) == set(body)
