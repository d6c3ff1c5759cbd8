"""What the web surfaces share: one ``Assistant``, the records, the accounts, the limits.

``Services.open(settings)`` is called once per server process: the model is
loaded once, then the HTTP API (``api.py``), the staff workspace
(``ui/staff.py``) and the public widget (``ui/public.py``) all use the same
objects. Who is asking is decided here, once: a request is *staff* only with a
valid session (cookie from the login page, or ``Authorization: Bearer`` from
``POST /api/login``); anything else is the public audience, whatever it asks for.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from assistant.answering import Answer
from assistant.conversation import Turn

from assistant.auth import Accounts
from assistant.ingestion import Ingestor
from assistant.loaders import SUPPORTED_SUFFIXES
from assistant.pipeline import Assistant
from assistant.ratelimit import RateLimiter
from assistant.records import Records
from assistant.settings import Settings
from assistant.types import IngestReport

log = logging.getLogger("assistant.services")

SESSION_COOKIE = "assistant_session"
DB_NAME = "assistant.sqlite3"


class UploadError(ValueError):
    """An uploaded file cannot be taken; the message names it and says why."""


@dataclass
class Services:
    settings: Settings
    assistant: Assistant
    records: Records
    accounts: Accounts
    public_limiter: RateLimiter
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    _purged_at: float = 0.0
    _exports: dict = field(default_factory=dict)  # token -> (user, markdown, created)

    @classmethod
    def open(cls, settings: Settings, assistant: Assistant | None = None) -> "Services":
        db = Path(settings.data_dir) / DB_NAME
        services = cls(
            settings=settings,
            assistant=assistant or Assistant(settings),
            records=Records(db),
            accounts=Accounts(db, session_ttl_s=settings.session_hours * 3600,
                              max_failures=settings.login_max_failures),
            public_limiter=RateLimiter(settings.public_per_minute),
        )
        services.purge()
        return services

    # ------------------------------------------------------------------ asking (audited)

    def ask_stream(self, question: str, *, audience: str, surface: str, user: str = "",
                   history: Sequence[Turn] = (), doc_ids: Sequence[str] | None = None,
                   k: int | None = None) -> Iterator[str | Answer]:
        """``Assistant.stream``, with one audit row per answered question (who, what, which documents)."""
        for piece in self.assistant.stream(question, audience=audience, history=history, k=k, doc_ids=doc_ids):
            if isinstance(piece, Answer):
                self._audit(piece, surface, audience, user)
            yield piece

    def ask(self, question: str, **kwargs) -> Answer:
        answer = None
        for piece in self.ask_stream(question, **kwargs):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def _audit(self, answer: Answer, surface: str, audience: str, user: str) -> None:
        try:
            self.records.add_audit(surface=surface, audience=audience, user=user, question=answer.question,
                                   cited=[c.doc_id for c in answer.citations], grounded=answer.grounded,
                                   latency_ms=answer.latency_ms, language=answer.language)
        except Exception:  # noqa: BLE001 — the citizen still gets the answer; the failure is logged loudly
            log.exception("could not write the audit row")
        if time.time() - self._purged_at > 3600:
            self.purge()

    # ------------------------------------------------------------------ exports (staff)

    def keep_export(self, user: str, markdown: str) -> str:
        """Hold an answer's Markdown for its user to download; returns an unguessable token.

        Kept in memory, never in a file: Gradio's file cache is shared by every mounted page,
        so a file there could be fetched through the public page by whoever learns its path.
        """
        import secrets

        with self.ingest_lock:
            if len(self._exports) >= 500:  # oldest out
                for old in sorted(self._exports, key=lambda k: self._exports[k][2])[:100]:
                    del self._exports[old]
            token = secrets.token_urlsafe(24)
            self._exports[token] = (user, markdown, time.time())
        return token

    def export_for(self, token: str, user: str | None) -> str | None:
        """The Markdown behind ``token``, only for the staff user who made it, for 8 hours."""
        item = self._exports.get(token)
        if not item or not user or item[0] != user or time.time() - item[2] > 8 * 3600:
            return None
        return item[1]

    def purge(self) -> dict:
        """Apply the retention settings now (also on start and at most hourly while serving)."""
        self._purged_at = time.time()
        return self.records.purge(self.settings.audit_days, self.settings.feedback_days)

    # ------------------------------------------------------------------ who is asking

    @staticmethod
    def session_tokens(request) -> list[str]:
        """The session tokens a request carries: the workspace's cookie and an ``Authorization: Bearer``."""
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        return [t for t in (request.cookies.get(SESSION_COOKIE), bearer) if t]

    def staff_user(self, request) -> str | None:
        """The signed-in staff user of a Starlette/FastAPI request, or None."""
        for token in self.session_tokens(request):
            if user := self.accounts.session_user(token):
                return user
        return None

    def public_wait(self, request) -> int:
        """0 if a public caller may go on (and is counted), else whole seconds to wait.

        One budget per client address, shared by the widget and the API.
        """
        wait = self.public_limiter.check(self.client_key(request))
        return max(1, int(wait + 0.999)) if wait else 0

    @staticmethod
    def client_key(request) -> str:
        """The client's address: what the public rate limit counts by."""
        client = getattr(request, "client", None)
        host = getattr(client, "host", None) if client else None
        return host or "unknown"

    # ------------------------------------------------------------------ filters

    def doc_ids_for(self, audience: str, doc_ids: Sequence[str] | None = None,
                    updated_from: dt.date | None = None, updated_to: dt.date | None = None) -> list[str] | None:
        """Document ids to search, from a document list and a date range; None = no restriction.

        An empty list means nothing matches (the caller should say so rather than search everything).
        """
        if not doc_ids and not updated_from and not updated_to:
            return None
        access = ["public"] if audience == "public" else None
        chosen = set(doc_ids or [])
        out = []
        for doc in self.assistant.store.documents(access):
            day = dt.date.fromtimestamp(doc.modified) if doc.modified else None
            if chosen and doc.doc_id not in chosen:
                continue
            if updated_from and (day is None or day < updated_from):
                continue
            if updated_to and (day is None or day > updated_to):
                continue
            out.append(doc.doc_id)
        return out

    # ------------------------------------------------------------------ documents (staff)

    @property
    def uploads_dir(self) -> Path:
        return Path(self.settings.data_dir) / "uploads"

    def save_upload(self, temp_path: str | Path, name: str, access: str = "public") -> Path:
        """Copy an uploaded file under ``data_dir/uploads/<access>/``; checks type and size first."""
        if access not in ("public", "internal"):
            raise UploadError(f"access must be 'public' or 'internal', got {access!r}")
        clean = re.sub(r"[^\w.\-]+", "_", Path(name).name).strip("._") or "upload"
        suffix = Path(clean).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UploadError(f"{name}: unsupported file type '{suffix or '(none)'}'; "
                              f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
        size = Path(temp_path).stat().st_size
        if size > self.settings.max_file_mb * 1024 * 1024:
            raise UploadError(f"{name}: {size / 1048576:.1f} MB is over the {self.settings.max_file_mb:g} MB "
                              f"limit (ASSISTANT_MAX_FILE_MB)")
        target = self.uploads_dir / access / clean
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name("." + target.name + ".part")
        shutil.copyfile(temp_path, partial)
        partial.replace(target)
        return target

    def ingest(self, paths: Sequence[Path], prune: bool = False) -> IngestReport:
        """Ingest with the serving model and store; one ingest at a time, with tqdm bars for the UI."""
        with self.ingest_lock:
            ingestor = Ingestor(self.settings, self.assistant.embedder, self.assistant.store,
                                progress=True, warn=lambda line: None, tty_only=False)
            return ingestor.run([Path(p) for p in paths], prune=prune)

    def reingest_all(self) -> IngestReport:
        """The documents folder and the uploads, with files gone from them removed."""
        folders = [p for p in (Path(self.settings.docs_dir), self.uploads_dir) if p.is_dir()]
        return self.ingest(folders, prune=True)

    def remove_path(self, path: str) -> int:
        """Take one file out of the index (an uploaded copy is deleted too); returns chunks removed."""
        with self.ingest_lock:
            record = self.assistant.store.file_record(path)
            if record is None:
                return 0
            removed = self.assistant.store.remove_file(path)
            file = Path(path)
            if self.uploads_dir.resolve() in file.resolve().parents and file.exists():
                file.unlink()
            return removed

    def close(self) -> None:
        self.records.close()
        self.accounts.close()
