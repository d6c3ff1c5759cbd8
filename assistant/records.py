"""Feedback on answers, hand-offs to a human and the audit log, kept in a real SQLite file.

Why: a thumbs-down with its reasons is how the team learns which answers are
wrong, and a hand-off is a promise that a civil servant will look at a
question the assistant could not answer. Both must survive a restart, so they
live in SQLite (WAL mode, so the staff page can read while the public widget
writes). The web server calls from many threads; one connection is shared,
and every use of it holds ``self._lock``.

Citizens type personal data into questions (ID numbers, phone numbers,
e-mails). Every free-text field goes through ``redact_pii`` *before* it is
stored, so the file never holds it. Input is checked at the door: a
``RecordsError`` names the field and says how to fix it, and its message is
safe to show to a user.

The audit log answers "who asked what, and which documents did the answer
cite": one row per question (surface, user or ``anonymous``, audience, the
redacted question, cited document ids, grounded or refused, latency). Rows
older than the retention settings (``ASSISTANT_AUDIT_DAYS``,
``ASSISTANT_FEEDBACK_DAYS``) are deleted by ``purge``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from assistant.guardrails import redact_pii

REASONS = ("inaccurate", "incomplete", "not_relevant")
SURFACES = ("staff", "public", "api")
STATUSES = ("open", "closed")

MAX_QUESTION = 2000
MAX_ANSWER = 8000  # longer answers are cut, not refused: the user did nothing wrong
MAX_COMMENT = 2000
MAX_NOTE = 2000
MAX_CITATIONS = 50
MAX_CITATION = 500  # one citation label, cut silently
MAX_LANGUAGE = 16  # cut silently
MAX_USER = 128  # cut silently

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, surface TEXT NOT NULL,
    user TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (1, -1)), reasons TEXT NOT NULL,
    comment TEXT NOT NULL, citations TEXT NOT NULL, language TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS handoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, surface TEXT NOT NULL,
    user TEXT NOT NULL, question TEXT NOT NULL, language TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')), note TEXT NOT NULL,
    closed_by TEXT NOT NULL, closed_at REAL);
CREATE INDEX IF NOT EXISTS handoffs_status ON handoffs(status, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, surface TEXT NOT NULL,
    user TEXT NOT NULL, audience TEXT NOT NULL, question TEXT NOT NULL, cited TEXT NOT NULL,
    grounded INTEGER NOT NULL, latency_ms REAL NOT NULL, language TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_created ON audit(created);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback(created);
"""

_FEEDBACK_COLUMNS = "id, created, surface, user, question, answer, rating, reasons, comment, citations, language"
_HANDOFF_COLUMNS = "id, created, surface, user, question, language, status, note, closed_by, closed_at"
_AUDIT_COLUMNS = "id, created, surface, user, audience, question, cited, grounded, latency_ms, language"
DAY = 86400.0


@dataclass(frozen=True)
class AuditEntry:
    id: int
    created: float
    surface: str
    user: str  # "" for an anonymous (public) caller
    audience: str
    question: str  # redacted
    cited: list[str]  # document ids
    grounded: bool
    latency_ms: float
    language: str

    def as_dict(self) -> dict:
        return asdict(self)


class RecordsError(ValueError):
    """Bad input to a record; the message names the field and is safe to show a user."""


@dataclass(frozen=True)
class Feedback:
    id: int
    created: float
    surface: str
    user: str
    question: str
    answer: str
    rating: int  # +1 thumbs up, -1 thumbs down
    reasons: list[str]
    comment: str
    citations: list[str]
    language: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Handoff:
    id: int
    created: float
    surface: str
    user: str
    question: str
    language: str
    status: str  # "open" | "closed"
    note: str
    closed_by: str
    closed_at: float | None

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- checks


def _text(field: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordsError(f"{field}: expected text, got {type(value).__name__}. Send it as a string.")
    return value.strip()


def _surface(value: object) -> str:
    if value not in SURFACES:
        raise RecordsError(f"surface: {value!r} is not known; use one of {', '.join(SURFACES)}.")
    return value  # type: ignore[return-value]


def _question(value: object) -> str:
    text = _text("question", value)
    if not text:
        raise RecordsError("question: it is empty. Include the question that was asked.")
    if len(text) > MAX_QUESTION:
        raise RecordsError(f"question: {len(text)} characters; the limit is {MAX_QUESTION}. Shorten it.")
    return redact_pii(text)


def _bounded(field: str, value: object, limit: int) -> str:
    text = _text(field, value)
    if len(text) > limit:
        raise RecordsError(f"{field}: {len(text)} characters; the limit is {limit}. Shorten it.")
    return redact_pii(text)


def _rating(value: object) -> int:
    # bool is an int in Python; True would silently mean +1, so it is refused.
    if isinstance(value, bool) or not isinstance(value, int) or value not in (1, -1):
        raise RecordsError(f"rating: {value!r} is not allowed; use 1 (thumbs up) or -1 (thumbs down).")
    return value


def _strings(field: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise RecordsError(f"{field}: expected a list of strings, got {type(value).__name__}.")
    if not all(isinstance(v, str) for v in value):
        raise RecordsError(f"{field}: every item must be a string.")
    return [v.strip() for v in value]


def _reasons(value: object) -> list[str]:
    reasons = list(dict.fromkeys(r for r in _strings("reasons", value) if r))
    wrong = [r for r in reasons if r not in REASONS]
    if wrong:
        raise RecordsError(
            f"reasons: {', '.join(repr(r) for r in wrong)} not allowed; use any of {', '.join(REASONS)}."
        )
    return reasons


def _citations(value: object) -> list[str]:
    citations = [c[:MAX_CITATION] for c in _strings("citations", value) if c]
    if len(citations) > MAX_CITATIONS:
        raise RecordsError(f"citations: {len(citations)} items; the limit is {MAX_CITATIONS}. Send fewer.")
    return citations


def _limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RecordsError(f"limit: {value!r} is not allowed; use a whole number of at least 1.")
    return value


# ---------------------------------------------------------------------- store


def open_db(path: Path, schema: str) -> sqlite3.Connection:
    """A WAL-mode connection the web server's threads share (callers hold a lock), schema applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class Records:
    """Feedback and hand-offs in one SQLite file; safe to call from many threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_db(self.path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ feedback

    def add_feedback(
        self,
        *,
        surface: str,
        rating: int,
        question: str,
        answer: str = "",
        reasons: Sequence[str] = (),
        comment: str = "",
        citations: Sequence[str] = (),
        language: str = "",
        user: str = "",
    ) -> int:
        """Store one thumbs up/down; returns its id. PII is redacted first."""
        row = (
            time.time(),
            _surface(surface),
            _text("user", user)[:MAX_USER],
            _question(question),
            redact_pii(_text("answer", answer)[:MAX_ANSWER]),
            _rating(rating),
            json.dumps(_reasons(reasons)),
            _bounded("comment", comment, MAX_COMMENT),
            json.dumps(_citations(citations), ensure_ascii=False),
            _text("language", language)[:MAX_LANGUAGE],
        )
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO feedback (created, surface, user, question, answer, rating, reasons, comment,"
                " citations, language) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid)

    def list_feedback(self, limit: int = 200) -> list[Feedback]:
        """The newest ``limit`` feedback records, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_FEEDBACK_COLUMNS} FROM feedback ORDER BY id DESC LIMIT ?", (_limit(limit),)
            ).fetchall()
        return [
            Feedback(
                id=r[0], created=r[1], surface=r[2], user=r[3], question=r[4], answer=r[5], rating=r[6],
                reasons=json.loads(r[7]), comment=r[8], citations=json.loads(r[9]), language=r[10],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ hand-offs

    def add_handoff(self, *, surface: str, question: str, language: str = "", user: str = "") -> int:
        """Open a hand-off to a human; returns its id. PII is redacted first."""
        row = (
            time.time(),
            _surface(surface),
            _text("user", user)[:MAX_USER],
            _question(question),
            _text("language", language)[:MAX_LANGUAGE],
        )
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO handoffs (created, surface, user, question, language, status, note, closed_by,"
                " closed_at) VALUES (?, ?, ?, ?, ?, 'open', '', '', NULL)",
                row,
            )
            return int(cur.lastrowid)

    def list_handoffs(self, status: str | None = "open", limit: int = 200) -> list[Handoff]:
        """Hand-offs with this status (``None``: all), newest first."""
        if status is not None and status not in STATUSES:
            raise RecordsError(f"status: {status!r} is not known; use one of {', '.join(STATUSES)}, or None for all.")
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_HANDOFF_COLUMNS} FROM handoffs {where} ORDER BY id DESC LIMIT ?", (*args, _limit(limit))
            ).fetchall()
        return [Handoff(*r) for r in rows]

    def close_handoff(self, handoff_id: int, by: str, note: str = "") -> bool:
        """Close an open hand-off; False when there is no open hand-off with that id."""
        if isinstance(handoff_id, bool) or not isinstance(handoff_id, int):
            raise RecordsError(f"handoff_id: {handoff_id!r} is not a hand-off id; use the whole number shown in the list.")
        closer = _text("by", by)[:MAX_USER]
        if not closer:
            raise RecordsError("by: it is empty. Say which staff member closes the hand-off.")
        text = _bounded("note", note, MAX_NOTE)
        with self._lock, self._db:
            cur = self._db.execute(
                "UPDATE handoffs SET status = 'closed', note = ?, closed_by = ?, closed_at = ?"
                " WHERE id = ? AND status = 'open'",
                (text, closer, time.time(), handoff_id),
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------ audit

    def add_audit(self, *, surface: str, audience: str, question: str, cited: Sequence[str], grounded: bool,
                  latency_ms: float, language: str = "", user: str = "") -> int:
        """Record one question: who, which audience, the redacted question, the documents cited."""
        if audience not in ("public", "staff"):
            raise RecordsError(f"audience: {audience!r} is not known; use public or staff.")
        row = (
            time.time(), _surface(surface), _text("user", user)[:MAX_USER], audience,
            redact_pii(_text("question", question))[:MAX_QUESTION],
            json.dumps(sorted(set(_citations(list(cited)))), ensure_ascii=False),
            1 if grounded else 0, float(latency_ms), _text("language", language)[:MAX_LANGUAGE],
        )
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO audit (created, surface, user, audience, question, cited, grounded, latency_ms, language)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid)

    def list_audit(self, limit: int = 200, user: str | None = None) -> list[AuditEntry]:
        """Audit rows, newest first (optionally one user's: ``""`` for anonymous)."""
        where, args = ("WHERE user = ?", (user,)) if user is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit {where} ORDER BY id DESC LIMIT ?", (*args, _limit(limit))
            ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), bool(r[7]), r[8], r[9])
                for r in rows]

    def purge(self, audit_days: float, feedback_days: float, now: float | None = None) -> dict:
        """Delete audit rows older than ``audit_days`` and feedback and closed hand-offs older than
        ``feedback_days`` (open hand-offs are kept until handled); returns how many went."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            audit = self._db.execute("DELETE FROM audit WHERE created < ?", (now - audit_days * DAY,)).rowcount
            feedback = self._db.execute("DELETE FROM feedback WHERE created < ?",
                                        (now - feedback_days * DAY,)).rowcount
            handoffs = self._db.execute("DELETE FROM handoffs WHERE status = 'closed' AND created < ?",
                                        (now - feedback_days * DAY,)).rowcount
        return {"audit": audit, "feedback": feedback, "handoffs": handoffs}

    # ------------------------------------------------------------------ summary

    def counts(self) -> dict:
        """Numbers the staff dashboard shows."""
        with self._lock:
            total, up, down = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(rating = 1), 0), COALESCE(SUM(rating = -1), 0) FROM feedback"
            ).fetchone()
            by_status = dict(self._db.execute("SELECT status, COUNT(*) FROM handoffs GROUP BY status"))
        return {
            "feedback": total,
            "feedback_up": up,
            "feedback_down": down,
            "handoffs_open": by_status.get("open", 0),
            "handoffs_closed": by_status.get("closed", 0),
        }
