"""The HTTP API beside the pages: ask, stream, feedback, hand-off, health, login.

Bodies are pydantic models, so the OpenAPI schema (``/api/openapi.json``,
browsable at ``/api/docs``) documents every field and its limits. Errors are
JSON ``{"error": "...", "fields": [...]}`` with a 4xx status that says what to
fix; a server fault is a 500 with a generic message, never a stack trace.

Audience: ``audience="staff"`` is honoured only for a signed-in staff session
(``Authorization: Bearer <token>`` from ``POST /api/login``, or the staff
cookie). Anyone else is answered from public documents only, and the response
says ``"audience": "public"``. Public callers are rate-limited per address.
"""

from __future__ import annotations

import json
import logging
from typing import Iterator, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from assistant.answering import Answer
from assistant.auth import LoginError
from assistant.conversation import Turn
from assistant.guardrails import QuestionError, check_question
from assistant.records import REASONS, RecordsError
from assistant.services import SESSION_COOKIE, Services

log = logging.getLogger("assistant.api")


# ---------------------------------------------------------------------- bodies

class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: str = Field(description="What went wrong and how to fix it.")
    fields: list[str] = Field(default_factory=list, description="The request fields at fault, if any.")


def _encodable(values: list[str] | None) -> list[str] | None:
    """Reject strings that are not valid Unicode text (lone surrogates from JSON escapes)."""
    for value in values or []:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains characters that are not valid Unicode text") from None
    return values


class HistoryTurn(BaseModel):
    question: str = Field(max_length=4000, description="An earlier question of this conversation.")
    answer: str = Field("", max_length=20000, description="The assistant's answer to it (optional).")


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="The question, Vietnamese or English.")
    audience: Literal["public", "staff"] = Field(
        "public", description="`staff` also searches internal documents; needs a staff session, "
                              "otherwise the request is answered as `public`.")
    history: list[HistoryTurn] = Field(default_factory=list, max_length=20,
                                       description="Earlier turns, oldest first, for follow-up questions.")
    doc_ids: list[str] | None = Field(None, max_length=100, description="Only search these documents.")
    k: int | None = Field(None, ge=1, le=20, description="Chunks to draw the answer from.")

    @field_validator("doc_ids")
    @classmethod
    def _doc_ids_text(cls, value):
        return _encodable(value)


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field("", max_length=8000)
    rating: Literal[1, -1] = Field(description="1 = thumbs up, -1 = thumbs down.")
    reasons: list[Literal["inaccurate", "incomplete", "not_relevant"]] = Field(default_factory=list, max_length=3)
    comment: str = Field("", max_length=2000)
    citations: list[str] = Field(default_factory=list, max_length=50, description="Cited document ids.")
    language: Literal["vi", "en", ""] = ""

    @field_validator("citations")
    @classmethod
    def _citations_text(cls, value):
        return _encodable(value)

    @field_validator("rating", mode="before")
    @classmethod
    def _no_booleans(cls, value):
        if isinstance(value, bool):
            raise ValueError("use 1 (thumbs up) or -1 (thumbs down), not true/false")
        return value


class HandoffRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="The question to pass to an officer.")
    language: Literal["vi", "en", ""] = ""


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


# ---------------------------------------------------------------------- router

def _services(request: Request) -> Services:
    return request.app.state.services


def _error(status: int, message: str, fields: list[str] | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "fields": fields or []}, status_code=status, headers=headers)


def _caller(services: Services, request: Request) -> tuple[str, JSONResponse | None]:
    """The staff user ("" for the public), and the 429 when a public caller is over the limit."""
    user = services.staff_user(request) or ""
    if not user and (seconds := services.public_wait(request)):
        return user, _error(429, f"Too many requests: try again in {seconds} s "
                                 f"(limit {services.settings.public_per_minute} per minute).",
                            headers={"Retry-After": str(seconds)})
    return user, None


def _response(answer: Answer, audience: str) -> dict:
    body = answer.as_dict()
    body["audience"] = audience
    return body


def _prepare(body: AskRequest, request: Request, services: Services
             ) -> tuple[str, str, list[Turn]] | JSONResponse:
    """The audience actually granted, the caller and the history; or the 429 for a public caller."""
    user, limited = _caller(services, request)
    if limited:
        return limited
    audience = "staff" if body.audience == "staff" and user else "public"
    return audience, user, [Turn(h.question, h.answer) for h in body.history]


router = APIRouter(prefix="/api", tags=["assistant"], responses={
    400: {"model": ErrorBody, "description": "The body is not UTF-8 JSON."},
    401: {"model": ErrorBody, "description": "Staff sign-in required (or a wrong user name or password)."},
    422: {"model": ErrorBody, "description": "The request is invalid; `fields` names what to fix."},
    429: {"model": ErrorBody, "description": "Too many requests or sign-in attempts; see Retry-After."},
})


@router.post("/ask", summary="Ask a question; the same JSON as `assistant ask --json`, plus `audience`.")
def ask(body: AskRequest, request: Request, services: Services = Depends(_services)):
    prepared = _prepare(body, request, services)
    if isinstance(prepared, JSONResponse):
        return prepared
    audience, user, history = prepared
    try:
        answer = services.ask(body.question, audience=audience, surface="api", user=user,
                              history=history, k=body.k, doc_ids=body.doc_ids or None)
    except QuestionError as exc:
        return _error(422, str(exc), ["question"])
    return _response(answer, audience)


@router.post("/ask/stream", summary="Ask, streaming: NDJSON lines {\"delta\": text} then {\"answer\": {...}}.")
def ask_stream(body: AskRequest, request: Request, services: Services = Depends(_services)):
    prepared = _prepare(body, request, services)
    if isinstance(prepared, JSONResponse):
        return prepared
    audience, user, history = prepared
    try:  # check the question before the 200 goes out
        check_question(body.question, services.settings.max_question_chars)
    except QuestionError as exc:
        return _error(422, str(exc), ["question"])

    def lines() -> Iterator[str]:
        try:
            for piece in services.ask_stream(body.question, audience=audience, surface="api", user=user,
                                             history=history, k=body.k, doc_ids=body.doc_ids or None):
                if isinstance(piece, Answer):
                    yield json.dumps({"answer": _response(piece, audience)}, ensure_ascii=False) + "\n"
                else:
                    yield json.dumps({"delta": piece}, ensure_ascii=False) + "\n"
        except Exception:  # noqa: BLE001 — the stream has started; say so in-band
            log.exception("stream failed")
            yield json.dumps({"error": "internal error; please retry"}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/feedback", status_code=201, summary="Thumbs up/down with reasons on an answer.")
def feedback(body: FeedbackRequest, request: Request, services: Services = Depends(_services)):
    user, limited = _caller(services, request)
    if limited:
        return limited
    try:
        fid = services.records.add_feedback(
            surface="api", rating=body.rating, question=body.question, answer=body.answer,
            reasons=body.reasons, comment=body.comment, citations=body.citations,
            language=body.language, user=user)
    except RecordsError as exc:
        return _error(422, str(exc), [str(exc).split(":")[0]])
    return {"id": fid}


@router.post("/handoff", status_code=201, summary="Pass a question to a human officer.")
def handoff(body: HandoffRequest, request: Request, services: Services = Depends(_services)):
    user, limited = _caller(services, request)
    if limited:
        return limited
    try:
        hid = services.records.add_handoff(surface="api", question=body.question, language=body.language,
                                           user=user)
    except RecordsError as exc:
        return _error(422, str(exc), [str(exc).split(":")[0]])
    return {"id": hid}


@router.get("/health", summary="Store counts, embedding model and answer mode.")
def health(services: Services = Depends(_services)):
    return {"status": "ok", **services.assistant.health()}


@router.post("/login", summary="Staff sign-in: returns a bearer token for the staff endpoints.")
def login(body: LoginRequest, request: Request, services: Services = Depends(_services)):
    try:
        token = services.accounts.login(body.name, body.password, client=services.client_key(request))
    except LoginError as exc:
        return _error(429 if exc.throttled else 401, str(exc))
    return {"token": token, "token_type": "bearer", "expires_in": int(services.settings.session_hours * 3600)}


@router.post("/logout", summary="End a staff session (bearer token or cookie).")
def logout(request: Request, services: Services = Depends(_services)):
    for token in services.session_tokens(request):
        services.accounts.logout(token)
    response = JSONResponse({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _require_staff(request: Request, services: Services = Depends(_services)) -> str:
    user = services.staff_user(request)
    if not user:
        raise HTTPException(401, "staff sign-in required: POST /api/login, then send Authorization: Bearer <token>")
    return user


@router.get("/feedback", summary="Recent feedback (staff only).")
def list_feedback(limit: int = 200, user: str = Depends(_require_staff), services: Services = Depends(_services)):
    return [f.as_dict() for f in services.records.list_feedback(limit=max(1, min(limit, 1000)))]


@router.get("/handoffs", summary="Hand-offs waiting for an officer (staff only).")
def list_handoffs(status: Literal["open", "closed", "all"] = "open", user: str = Depends(_require_staff),
                  services: Services = Depends(_services)):
    return [h.as_dict() for h in services.records.list_handoffs(None if status == "all" else status)]


@router.get("/audit", summary="The audit log: who asked what (redacted), which documents were cited (staff only).")
def list_audit(limit: int = 200, user: str = Depends(_require_staff), services: Services = Depends(_services)):
    return [a.as_dict() for a in services.records.list_audit(limit=max(1, min(limit, 1000)))]


# ---------------------------------------------------------------------- errors

def install_error_handlers(app: FastAPI) -> None:
    """Clear 4xx JSON for bad requests; a generic 500 for anything else."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        fields, messages = [], []
        for err in exc.errors():
            if err.get("type") == "json_invalid":  # the location is a byte offset, not a field
                fields.append("body")
                messages.append(f"body: not valid JSON ({err.get('ctx', {}).get('error', 'decode error')})")
                continue
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query")]
            name = ".".join(loc) or "body"
            fields.append(name)
            messages.append(f"{name}: {err.get('msg', 'invalid')}")
        return _error(422, "Invalid request: " + "; ".join(messages), fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "Internal error; the request was not completed. Please retry or contact the administrator.")
