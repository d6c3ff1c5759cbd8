"""The persisted store: Chroma for dense vectors, SQLite beside it for the rest.

Layout under ``store_dir``::

    chroma/          Chroma PersistentClient (or a Chroma server, see settings)
    index.sqlite3    manifest of files, chunk rows, FTS5 lexical index,
                     embedding cache and a write-ahead intent log

Why SQLite FTS5 for the lexical side: local Chroma has no sparse index, and
FTS5 gives a persisted BM25 inverted index that is updated row by row inside
the *same transaction* as the manifest, so the lexical index and the manifest
can never disagree; queries read posting lists instead of scanning documents.
Each chunk is indexed twice: as written (``body``, diacritics kept, so "bà"
and "ba" stay apart) and folded (``folded``: no diacritics, đ→d), so a question
typed without accents still matches. bm25() weights the exact column higher.

Keeping Chroma and SQLite in step without a shared transaction: chunk ids are
deterministic, so writes are idempotent. Every Chroma write is first recorded
in ``pending`` (committed), then done, then the manifest commits and clears
it. Whatever a crash leaves in ``pending`` is reconciled on the next open:
ids the manifest does not know are deleted from Chroma. Readers only trust
chunks the manifest knows, so an orphan vector is never shown to anyone.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from assistant.settings import Settings
from assistant.text import fold_diacritics
from assistant.types import Chunk

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, file_hash TEXT NOT NULL, size INTEGER, mtime REAL,
    chunk_count INTEGER NOT NULL, ingested_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, path TEXT NOT NULL,
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL, title TEXT,
    source TEXT, section TEXT, page INTEGER, page_end INTEGER, language TEXT,
    access TEXT NOT NULL, start INTEGER, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, idx);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    body, folded, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS embeddings (hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pending (chunk_id TEXT PRIMARY KEY);
"""

_CHUNK_COLUMNS = (
    "chunk_id", "doc_id", "idx", "text", "title", "source", "section",
    "page", "page_end", "language", "access", "start", "hash",
)


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message says what to do."""


@dataclass(frozen=True)
class FileRecord:
    path: str
    file_hash: str
    chunk_count: int


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, as the staff workspace lists it."""

    doc_id: str
    title: str
    path: str
    access: str
    language: str
    chunks: int
    modified: float  # the file's modification time (seconds since the epoch)
    ingested: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _locked(method):
    """One thread at a time on the SQLite connection (the server shares one Store)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """Chroma collection + SQLite manifest/lexical index, changed together.

    One ``Store`` per process; it is the only module that touches either.
    """

    def __init__(self, settings: Settings, model_name: str, dimension: int):
        self.settings = settings
        self.model_name = model_name
        self.dimension = dimension
        self.root = Path(settings.store_dir)
        self._lock = threading.RLock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.root / "index.sqlite3", timeout=30, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store at {self.root}: {exc}") from exc
        self._check_meta()
        self.collection = self._open_chroma()
        self.max_batch = self._max_batch()
        self.reconcile()

    # ------------------------------------------------------------------ opening

    def _check_meta(self) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        wanted = {"schema": SCHEMA_VERSION, "embedding_model": self.model_name, "dimension": str(self.dimension)}
        if not meta:
            with self.db:
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
            return
        if meta.get("embedding_model") != self.model_name or meta.get("dimension") != str(self.dimension):
            raise StoreError(
                f"the store at {self.root} was built with embedding model "
                f"'{meta.get('embedding_model')}' ({meta.get('dimension')} dims), but "
                f"ASSISTANT_EMBEDDING_MODEL is '{self.model_name}'. Set it back, or use "
                f"another ASSISTANT_STORE_DIR and ingest again."
            )

    def _open_chroma(self):
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        try:
            if self.settings.chroma_host:
                client = chromadb.HttpClient(
                    host=self.settings.chroma_host, port=self.settings.chroma_port, settings=chroma_settings
                )
            else:
                client = chromadb.PersistentClient(path=str(self.root / "chroma"), settings=chroma_settings)
            self.client = client
            return client.get_or_create_collection(
                self.settings.collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": self.model_name},
            )
        except Exception as exc:  # chromadb raises many types; all mean the same here
            where = (
                f"the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}"
                if self.settings.chroma_host
                else f"the Chroma store at {self.root / 'chroma'}"
            )
            raise StoreError(f"cannot open {where}: {exc}") from exc

    def _max_batch(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 5000))
        except Exception:
            return 1000

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ manifest

    @_locked
    def file_record(self, path: str) -> FileRecord | None:
        row = self.db.execute("SELECT path, file_hash, chunk_count FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    @_locked
    def file_paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM files ORDER BY path")]

    @_locked
    def counts(self) -> dict:
        """Numbers a health check shows: files, documents, chunks (manifest and Chroma)."""
        files = self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        docs, chunks = self.db.execute("SELECT COUNT(DISTINCT doc_id), COUNT(*) FROM chunks").fetchone()
        return {"files": files, "documents": docs, "chunks": chunks, "vectors": self.collection.count()}

    # ------------------------------------------------------------------ embedding cache

    @_locked
    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these content hashes (by this store's model)."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 900):
            part = unique[start : start + 900]
            marks = ",".join("?" * len(part))
            for h, blob in self.db.execute(f"SELECT hash, vector FROM embeddings WHERE hash IN ({marks})", part):
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    @_locked
    def cache_vectors(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Remember vectors by content hash, committed at once so a crash keeps them."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?)",
                ((h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors)),
            )

    # ------------------------------------------------------------------ writing

    @_locked
    def replace_file(
        self, path: str, file_hash: str, size: int, mtime: float, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Make the store hold exactly ``chunks`` for the file at ``path``."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is needed")
        new_ids = [c.chunk_id for c in chunks]
        old_ids = set(self._chunk_ids_of(path))
        self._log_pending(new_ids)
        self._chroma_upsert(chunks, vectors)
        stale = sorted(old_ids - set(new_ids))
        with self.db:  # one transaction: chunk rows, lexical index, manifest
            self._delete_rows(path)
            self._insert_rows(path, chunks)
            self.db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (path, file_hash, size, mtime, len(chunks), time.time()),
            )
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", ((i,) for i in stale))
            self.db.executemany("DELETE FROM pending WHERE chunk_id = ?", ((i,) for i in new_ids))
        self._chroma_delete(stale)

    @_locked
    def remove_file(self, path: str) -> int:
        """Forget a file and all its chunks; returns how many chunks went."""
        ids = self._chunk_ids_of(path)
        with self.db:
            self._delete_rows(path)
            self.db.execute("DELETE FROM files WHERE path = ?", (path,))
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", ((i,) for i in ids))
        self._chroma_delete(ids)
        return len(ids)

    @_locked
    def reconcile(self) -> int:
        """Finish what a crash interrupted: drop Chroma vectors the manifest does not know."""
        pending = [r[0] for r in self.db.execute("SELECT chunk_id FROM pending")]
        if not pending:
            return 0
        known = set(self._existing_ids(pending))
        orphans = [i for i in pending if i not in known]
        self._chroma_delete(orphans, log=False)
        with self.db:
            self.db.execute("DELETE FROM pending")
        return len(orphans)

    def _chunk_ids_of(self, path: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE path = ?", (path,))]

    def _existing_ids(self, ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(ids), 900):
            part = list(ids[start : start + 900])
            marks = ",".join("?" * len(part))
            out += [r[0] for r in self.db.execute(f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({marks})", part)]
        return out

    def _log_pending(self, ids: Iterable[str]) -> None:
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", ((i,) for i in ids))

    def _delete_rows(self, path: str) -> None:
        self.db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE path = ?)", (path,))
        self.db.execute("DELETE FROM chunks WHERE path = ?", (path,))

    def _insert_rows(self, path: str, chunks: Sequence[Chunk]) -> None:
        for c in chunks:
            cur = self.db.execute(
                f"INSERT INTO chunks (path, {', '.join(_CHUNK_COLUMNS)}) VALUES (?{', ?' * len(_CHUNK_COLUMNS)})",
                (path, c.chunk_id, c.doc_id, c.index, c.text, c.title, c.source, c.section,
                 c.page, c.page_end, c.language, c.access, c.start, c.hash),
            )
            indexed = c.embed_text
            self.db.execute(
                "INSERT INTO chunks_fts (rowid, body, folded) VALUES (?, ?, ?)",
                (cur.lastrowid, indexed, fold_diacritics(indexed)),
            )

    def _chroma_upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), self.max_batch):
            part = chunks[start : start + self.max_batch]
            self.collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=np.asarray(vectors[start : start + self.max_batch], dtype=np.float32),
                metadatas=[c.metadata() for c in part],
                documents=[c.text for c in part],
            )

    def _chroma_delete(self, ids: Sequence[str], log: bool = True) -> None:
        for start in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=list(ids[start : start + self.max_batch]))
        if ids and log:
            with self.db:
                self.db.executemany("DELETE FROM pending WHERE chunk_id = ?", ((i,) for i in ids))

    # ------------------------------------------------------------------ reading

    @_locked
    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks the manifest knows, by id (unknown ids are left out)."""
        out: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), 900):
            part = list(chunk_ids[start : start + 900])
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT {', '.join(_CHUNK_COLUMNS)} FROM chunks WHERE chunk_id IN ({marks})", part
            )
            for row in rows:
                out[row[0]] = _row_to_chunk(row)
        return out

    @_locked
    def neighbours(self, doc_id: str, index: int, span: int = 1) -> list[Chunk]:
        """The chunks around ``index`` in the same document, in order."""
        rows = self.db.execute(
            f"SELECT {', '.join(_CHUNK_COLUMNS)} FROM chunks WHERE doc_id = ? AND idx BETWEEN ? AND ? ORDER BY idx",
            (doc_id, index - span, index + span),
        )
        return [_row_to_chunk(r) for r in rows]

    @_locked
    def documents(self, access: Sequence[str] | None = None) -> list[DocumentInfo]:
        """Every indexed document (optionally only some access levels), by title."""
        sql = (
            "SELECT c.doc_id, MIN(c.title), c.path, MIN(c.access), MIN(c.language), COUNT(*), f.mtime, f.ingested_at "
            "FROM chunks c JOIN files f ON f.path = c.path"
        )
        params: list = []
        if access:
            sql += f" WHERE c.access IN ({','.join('?' * len(access))})"
            params += list(access)
        sql += " GROUP BY c.doc_id, c.path ORDER BY MIN(c.title), c.doc_id"
        return [DocumentInfo(r[0], r[1] or r[0], r[2], r[3], r[4] or "", r[5], r[6] or 0.0, r[7] or 0.0)
                for r in self.db.execute(sql, params)]

    def dense_search(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) for the k nearest vectors."""
        count = self.collection.count()
        if count == 0:
            return []
        res = self.collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(k, count),
            where=where or None,
            include=["distances"],
        )
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    @_locked
    def lexical_search(
        self,
        query: str,
        k: int,
        access: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        language: str | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score, higher is better) from the FTS5 index."""
        match = fts_query(query)
        if not match:
            return []
        sql = (
            "SELECT c.chunk_id, -bm25(chunks_fts, 1.0, 0.6) AS score FROM chunks_fts "
            "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ?"
        )
        params: list = [match]
        for column, values in (("access", access), ("doc_id", doc_ids), ("language", [language] if language else None)):
            if values:
                sql += f" AND c.{column} IN ({','.join('?' * len(values))})"
                params += list(values)
        sql += " ORDER BY bm25(chunks_fts, 1.0, 0.6) LIMIT ?"
        params.append(k)
        return [(r[0], float(r[1])) for r in self.db.execute(sql, params)]


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression: every word, as written and folded, OR-ed.

    Words are quoted so FTS5 syntax in a question (AND, NEAR, *, quotes) is
    never interpreted.
    """
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        folded = fold_diacritics(word)
        terms.append(f'body:"{word}"')
        terms.append(f'folded:"{folded}"')
    return " OR ".join(dict.fromkeys(terms))


def _row_to_chunk(row: Sequence) -> Chunk:
    d = dict(zip(_CHUNK_COLUMNS, row))
    return Chunk(
        chunk_id=d["chunk_id"], doc_id=d["doc_id"], index=d["idx"], text=d["text"], title=d["title"] or "",
        source=d["source"] or "", section=d["section"] or "", page=d["page"], page_end=d["page_end"],
        language=d["language"] or "", access=d["access"], start=d["start"] or 0,
    )

