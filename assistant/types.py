"""The small, frozen types handed from one stage to the next.

    loaders  -> Document
    chunking -> Chunk
    ingestion-> IngestReport
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Access = Literal["public", "internal"]
ACCESS_LEVELS: tuple[str, ...] = ("public", "internal")


def content_hash(text: str) -> str:
    """Stable hash of a text; equal text is never embedded or stored twice."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PageSpan:
    """Text from ``start`` (a character offset into ``Document.text``) is on ``page``."""

    start: int
    page: int


@dataclass(frozen=True)
class Document:
    """One document's text, NFC-normalised, with what we know about it.

    ``doc_id`` is what citations and benchmark gold ids refer to: the path
    relative to the folder given to ingest, or a JSONL record's ``_id``.
    ``pages`` is empty except for paged formats (PDF), where it maps character
    offsets to 1-based page numbers.
    """

    doc_id: str
    title: str
    text: str
    source: str
    access: Access = "public"
    language: str = "vi"
    pages: tuple[PageSpan, ...] = ()
    metadata: dict = field(default_factory=dict, hash=False, compare=False)

    def page_at(self, offset: int) -> int | None:
        """The page holding character ``offset``, or None for unpaged formats."""
        page = None
        for span in self.pages:
            if span.start > offset:
                break
            page = span.page
        return page


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document, with everything a citation needs.

    ``text`` is what a user is shown; ``embed_text`` (title and section path
    prepended) is what gets embedded and indexed, so that a clause that never
    names its law still matches a question about that law.
    """

    chunk_id: str
    doc_id: str
    index: int
    text: str
    title: str
    source: str
    section: str = ""
    page: int | None = None
    page_end: int | None = None
    language: str = "vi"
    access: Access = "public"
    start: int = 0

    @property
    def embed_text(self) -> str:
        head = " — ".join(part for part in (self.title, self.section) if part)
        return f"{head}\n{self.text}" if head else self.text

    @property
    def hash(self) -> str:
        return content_hash(self.embed_text)

    def metadata(self) -> dict:
        """Flat metadata for Chroma (no None values allowed there)."""
        meta = {
            "doc_id": self.doc_id,
            "index": self.index,
            "title": self.title,
            "source": self.source,
            "section": self.section,
            "language": self.language,
            "access": self.access,
            "hash": self.hash,
            "start": self.start,
        }
        if self.page is not None:
            meta["page"] = self.page
            meta["page_end"] = self.page_end if self.page_end is not None else self.page
        return meta


def make_chunk_id(doc_id: str, index: int, text_hash: str) -> str:
    """Deterministic id: the same text at the same place always gets the same id."""
    return f"{doc_id}#{index}:{text_hash[:12]}"


@dataclass
class FileFailure:
    path: str
    error: str


@dataclass
class IngestReport:
    """What one ingest run did; ``--json`` prints exactly these keys."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "chunks": self.chunks,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
        }
