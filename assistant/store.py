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

Server mode (``chroma_host`` set): several processes, each with its own
``store_dir``, share one Chroma server, and the server is the source of truth.
Besides the chunk collection it holds ``<collection>__files``: one record per
ingested file (id = the manifest path; metadata = file_hash, chunk_count,
size, mtime, ingested_at; document = the JSON list of the file's chunk ids;
a dummy 1-dim vector). Each chunk's Chroma metadata also names its ``path``.
Each process's SQLite is a *mirror* of the server plus its private embedding
cache and intent logs.

A writer (``replace_file``/``remove_file``) upserts chunks first, commits
its SQLite, then publishes the file record, and deletes stale chunks last; so
a reader that sees a record always finds every chunk it lists, and never takes
a chunk of an older or unfinished version (it fetches exactly the listed ids).
Publishing is logged in ``unpublished`` inside the manifest transaction, so a
record the server never received (crash, server down) is published by the next
``sync``; until then nobody else sees the change and nothing is lost.

A reader brings its mirror in step with ``sync()``: list the file records,
and for each path whose file_hash differs from the local manifest fetch the
listed chunks (text, metadata, vectors) and rebuild that path's rows and FTS5
entries in one SQLite transaction (vectors go to the embedding cache); paths
gone from the server are dropped. ``sync`` runs when the store opens (before
``reconcile``, so an orphan that another process has since published is never
deleted) and before reads, at most every ``sync_seconds``. If the server is
unreachable, reads keep answering from the mirror: lexical search, chunks and
documents as of the last sync, ``dense_search`` returns [] (hybrid retrieval
becomes lexical-only) and ``counts()["vectors"]`` is None, with one logged
warning per outage; writes raise ``StoreError``. The next sync after the
server is back catches up, without reopening. Opening needs the server: it
raises ``StoreError`` naming host:port and how to start it. Rules: one writer
per file at a time, and a document is ingested under one path (chunk ids come
from doc ids, so the same document under two paths collides; the mirror then
keeps the first and logs a warning).

Faults, and what each one leaves (``tests/test_faults.py`` injects them for real):

- Killed at any point (``kill -9``, power loss): the intent log above; the
  next open reconciles, and a re-run completes the work.
- Disk full: a write the disk refuses (embedding cache, intent log, Chroma,
  manifest) raises ``StoreFullError`` (a ``StoreError``) naming the store
  folder, "no space left" and what to do: free space there, or move the folder
  to a bigger disk and point ASSISTANT_STORE_DIR at it, then run the same
  command again. SQLite rolls the transaction back, so the manifest keeps its
  last committed state; vectors Chroma took before failing are in ``pending``
  and are deleted by the first open that has room. Embedded Chroma names only
  the step that failed ("Failed to apply logs to the metadata segment"), so a
  Chroma failure while the store's disk has less than 1 MiB free counts as a
  full disk. A full store still opens and answers: the clean-up is put off
  (logged); if Chroma itself cannot open (it writes when it opens) the store
  opens without it, searching as a read-only one does (below), and each write
  first retries Chroma, then raises ``StoreFullError`` while there is still no
  room; if Chroma opens but cannot apply its log it refuses reads too, so
  ``dense_search`` returns [] (retrieval goes on lexically) and
  ``counts()["vectors"]`` is None, warned once. All recover once there is room,
  without reopening.
- Read-only folder (a read-only mount, or no write permission): the store
  opens for *reading*. Chroma's PersistentClient cannot open a read-only folder
  (it writes at open: "attempt to write a readonly database"), so Chroma is not
  opened at all: SQLite is opened read-only (``immutable=1`` after a clean
  close; ``mode=ro`` when a crash left a -wal file holding committed changes),
  nothing is reconciled, and ``dense_search`` is an exact cosine search over the
  vectors of the manifest's chunks, read from the embedding cache (every
  ingested chunk's vector is there); ``counts()["vectors"]`` counts those.
  ``read_only`` is True, and every write raises ``StoreReadOnlyError`` ("the
  store at … is read-only: …", saying what to do). An empty read-only folder
  (no index.sqlite3) and server mode (whose mirror must be written) raise that
  error at open instead. Nothing on disk changes, so after a remount
  read-write the store opens and answers as before.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from assistant.settings import Settings
from assistant.text import fold_diacritics, stopwords
from assistant.types import Chunk

SCHEMA_VERSION = "1"

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS unpublished (path TEXT PRIMARY KEY);
"""

_CHUNK_COLUMNS = (
    "chunk_id", "doc_id", "idx", "text", "title", "source", "section",
    "page", "page_end", "language", "access", "start", "hash",
)


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message says what to do."""


class StoreFullError(StoreError):
    """The disk that holds the store has no space left for a write."""


class StoreReadOnlyError(StoreError):
    """The store folder cannot be written (read-only mount or permissions); it can still be read."""


LOW_SPACE_BYTES = 1 << 20  # a Chroma failure with less free than this is taken as a full disk

_FULL_WORDS = ("database or disk is full", "no space left", "os error 28", "disk quota exceeded")
_READ_ONLY_WORDS = ("readonly database", "read-only file system", "os error 30")


def write_problem(root: Path) -> str | None:
    """Why the store folder ``root`` (when it exists) cannot be written, or None."""
    for path in (root, root / "index.sqlite3", root / "chroma"):
        if path.exists() and not os.access(path, os.W_OK):
            try:
                if os.statvfs(path).f_flag & os.ST_RDONLY:
                    return "it is on a read-only file system"
            except OSError:
                pass
            return f"{path} is not writable by this user"
    return None


def read_only_message(root: Path, reason: str) -> str:
    return (
        f"the store at {root} is read-only: {reason}. It can be searched but not changed; to ingest, make it "
        f"writable (remount it read-write, or fix its permissions) or set ASSISTANT_STORE_DIR to a writable "
        f"folder, then run the same command again."
    )


def ensure_writable(root: Path) -> None:
    """Raise ``StoreReadOnlyError`` if the existing store folder ``root`` cannot be written (cheap; no open)."""
    problem = write_problem(Path(root))
    if problem:
        raise StoreReadOnlyError(read_only_message(Path(root), problem))


def disk_trouble(exc: BaseException) -> str | None:
    """"full" or "read-only" when ``exc`` (or what caused it) is the disk refusing a write, else None."""
    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < 10:
        if isinstance(seen, OSError) and seen.errno is not None:
            if seen.errno in (errno.ENOSPC, errno.EDQUOT):
                return "full"
            if seen.errno == errno.EROFS:
                return "read-only"
        code = getattr(seen, "sqlite_errorcode", None)
        if isinstance(code, int):
            if code & 0xFF == sqlite3.SQLITE_FULL:
                return "full"
            if code & 0xFF == sqlite3.SQLITE_READONLY:
                return "read-only"
        text = str(seen).lower()
        if any(w in text for w in _FULL_WORDS):
            return "full"
        if any(w in text for w in _READ_ONLY_WORDS):
            return "read-only"
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return None


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
        self.server = bool(settings.chroma_host)  # server mode: see the module docstring
        self._last_sync = float("-inf")  # time.monotonic() of the last sync attempt
        self._size_checked = float("-inf")  # time.monotonic() of the last size check (see _large)
        self._is_large = False
        self._server_down = False  # an outage is logged once, not on every query
        self._warned: set[tuple[str, str]] = set()
        self._disk_warned = False  # a full disk refusing Chroma reads is logged once
        self.read_only = False  # see "Faults" in the module docstring
        self._read_only_reason = ""
        self._refusal: StoreError | None = None  # set when every write must fail with it (full or read-only)
        self._exact: tuple[list[str], np.ndarray, dict[str, np.ndarray]] | None = None  # dense index without Chroma
        self.client = None
        db_path = self.root / "index.sqlite3"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            problem = write_problem(self.root)
            if problem:
                self._open_read_only(db_path, problem)
            else:
                self.db = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_SCHEMA)
        except StoreError:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise self._disk_error(exc, "opening it") or StoreError(
                f"cannot open the store at {self.root}: {exc}") from exc
        self._check_meta()
        self.collection = None  # None: Chroma is not open; dense search is exact over cached vectors (see Faults)
        self.max_batch = 1000
        if self.read_only:
            return
        try:
            self.collection = self._open_chroma()
        except StoreFullError as exc:  # Chroma writes when it opens; answer without it until there is room
            self._refusal = exc  # logged by the first search that has to do without Chroma
            return
        self.max_batch = self._max_batch()
        if self.server:
            # before reconcile: what another process published is never an orphan
            self._put_off_if_disk_trouble(self.sync)
        self._put_off_if_disk_trouble(self.reconcile)

    def _open_read_only(self, db_path: Path, problem: str) -> None:
        """Open the SQLite side for reading only (see "Faults" in the module docstring)."""
        if self.server:
            raise StoreReadOnlyError(read_only_message(self.root, problem) + (
                " In server mode the store folder holds this process's mirror of the Chroma server and must "
                "be writable."))
        if not db_path.exists():
            raise StoreReadOnlyError(read_only_message(self.root, problem + ", and it holds no index yet"))
        self.read_only = True
        self._read_only_reason = problem
        self._refusal = StoreReadOnlyError(read_only_message(self.root, problem))
        wal = db_path.with_name(db_path.name + "-wal")
        dirty = wal.exists() and wal.stat().st_size > 0  # committed changes a crash left in the log
        uri = db_path.resolve().as_uri() + ("?mode=ro" if dirty else "?immutable=1")
        try:
            self.db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
            self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise StoreReadOnlyError(read_only_message(self.root, problem) + (
                f" Its index cannot be read as it is ({exc}): a crash left unfinished changes in "
                f"{wal.name}; open the store once while it is writable to finish them.")) from exc
        log.info("%s", read_only_message(self.root, problem))

    def _put_off_if_disk_trouble(self, step) -> None:
        """Run a maintenance step at open; a full or read-only disk puts it off instead of failing the open."""
        try:
            step()
        except (StoreFullError, StoreReadOnlyError) as exc:
            log.warning("put off until the store can be written: %s", exc)

    # ------------------------------------------------------------------ opening

    def _check_meta(self) -> None:
        try:
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.root}: {exc}") from exc
        wanted = {"schema": SCHEMA_VERSION, "embedding_model": self.model_name, "dimension": str(self.dimension)}
        if not meta:
            if self.read_only:
                raise StoreReadOnlyError(
                    read_only_message(self.root, self._read_only_reason + ", and it holds no index yet"))
            with self._writing("creating it"), self.db:
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
            return
        if meta.get("embedding_model") != self.model_name or meta.get("dimension") != str(self.dimension):
            raise StoreError(
                f"the store at {self.root} was built with embedding model "
                f"'{meta.get('embedding_model')}' ({meta.get('dimension')} dims), but "
                f"ASSISTANT_EMBEDDING_MODEL is '{self.model_name}'. Set it back, or use "
                f"another ASSISTANT_STORE_DIR and ingest again."
            )

    @property
    def server_address(self) -> str:
        return f"{self.settings.chroma_host}:{self.settings.chroma_port}"

    def _start_hint(self) -> str:
        return (
            f"Start it with: chroma run --path DIR --host {self.settings.chroma_host} "
            f"--port {self.settings.chroma_port} (DIR: where the server keeps its data), or unset "
            f"ASSISTANT_CHROMA_HOST to use the embedded store under {self.root}."
        )

    def _open_chroma(self):
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        collection_metadata = {"embedding_model": self.model_name}
        if self.server:
            collection_metadata["dimension"] = self.dimension
        try:
            if self.server:
                client = chromadb.HttpClient(
                    host=self.settings.chroma_host, port=self.settings.chroma_port, settings=chroma_settings
                )
            else:
                client = chromadb.PersistentClient(path=str(self.root / "chroma"), settings=chroma_settings)
            self.client = client
            collection = client.get_or_create_collection(
                self.settings.collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=collection_metadata,
            )
            if self.server:
                self.files = client.get_or_create_collection(
                    f"{self.settings.collection}__files",
                    embedding_function=None,
                    metadata={"file_records_of": self.settings.collection},
                )
        except Exception as exc:  # chromadb raises many types; all mean the same here
            if self.server:
                raise StoreError(
                    f"cannot open the Chroma server at {self.server_address}: {_sentence(exc)} {self._start_hint()}"
                ) from exc
            _forget_chroma_engine(str(self.root / "chroma"))
            raise self._disk_error(exc, "opening Chroma") or StoreError(
                f"cannot open the Chroma store at {self.root / 'chroma'}: {exc}") from exc
        if self.server:
            self._check_collection_meta(collection.metadata or {})
        return collection

    def _check_collection_meta(self, meta: dict) -> None:
        """In server mode the collection itself says which model filled it (set when it was created)."""
        model, dim = meta.get("embedding_model"), meta.get("dimension")
        if (model is not None and model != self.model_name) or (dim is not None and int(dim) != self.dimension):
            raise StoreError(
                f"the collection '{self.settings.collection}' on the Chroma server at {self.server_address} "
                f"was built with embedding model '{model}' ({dim if dim is not None else '?'} dims), but "
                f"ASSISTANT_EMBEDDING_MODEL is '{self.model_name}'. Set it back, or use another "
                f"ASSISTANT_COLLECTION and ingest again."
            )

    @contextlib.contextmanager
    def _remote(self, doing: str):
        """In server mode, any Chroma failure becomes a StoreError saying what was being done."""
        if not self.server:
            yield
            return
        try:
            yield
        except (StoreError, sqlite3.Error):  # a local SQLite error is not the server's
            raise
        except Exception as exc:
            hint = f" Is it running? {self._start_hint()}" if self._unreachable(exc) else ""
            raise StoreError(
                f"the Chroma server at {self.server_address} failed while {doing}: {_sentence(exc)}{hint}"
            ) from exc

    def _unreachable(self, exc: BaseException) -> bool:
        """True when ``exc`` means the server cannot be reached (not a bad request)."""
        import httpx

        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, (httpx.TransportError, ConnectionError)):
                return True
            seen = seen.__cause__ or seen.__context__
        try:
            self.client.heartbeat()
        except Exception:
            return True
        return False

    def _note_server_down(self, exc: BaseException) -> None:
        if not self._server_down:
            log.warning(
                "the Chroma server at %s is unreachable (%s): answering from the local mirror "
                "(lexical search only) until it is back", self.server_address, exc,
            )
        self._server_down = True

    # ------------------------------------------------------------------ disk faults

    def _disk_error(self, exc: BaseException, doing: str) -> StoreError | None:
        """A ``StoreError`` saying what to do when ``exc`` is the disk refusing a write; else None."""
        kind = disk_trouble(exc)
        if kind is None:
            problem = write_problem(self.root)  # remounted read-only or chmod-ed since we opened
            if problem:
                return StoreReadOnlyError(read_only_message(self.root, problem))
            if not self.server and self._low_space():  # embedded Chroma does not say why it failed
                kind = "full"
        if kind == "read-only":
            return StoreReadOnlyError(read_only_message(self.root, write_problem(self.root) or _sentence(exc)[:-1]))
        if kind == "full":
            free = self._free_bytes()
            room = f" ({free // 1024} KiB free)" if free is not None else ""
            return StoreFullError(
                f"no space left on the disk that holds the store at {self.root}{room}, while {doing}: "
                f"{_sentence(exc)} What was stored before is kept. Free some space on that disk, or move the "
                f"folder to a disk with more room and point ASSISTANT_STORE_DIR at it; then run the same "
                f"command again to finish."
            )
        return None

    def _free_bytes(self) -> int | None:
        try:
            return shutil.disk_usage(self.root).free
        except OSError:
            return None

    def _low_space(self) -> bool:
        free = self._free_bytes()
        return free is not None and free < LOW_SPACE_BYTES

    @contextlib.contextmanager
    def _writing(self, doing: str):
        """A write the disk refuses (full, read-only) becomes a StoreError that says what to do."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            err = self._disk_error(exc, doing)
            if err is None:
                raise
            raise err from exc

    def _check_writable(self) -> None:
        if isinstance(self._refusal, StoreFullError):
            self._retry_chroma()
        if self._refusal is not None:
            raise type(self._refusal)(str(self._refusal))

    def _retry_chroma(self) -> None:
        """Opened while the disk was full, without Chroma: open it now if there is room again."""
        try:
            collection = self._open_chroma()
        except StoreFullError as exc:
            self._refusal = exc
            return
        self.collection, self._refusal, self._exact = collection, None, None
        self.max_batch = self._max_batch()
        self._put_off_if_disk_trouble(self.reconcile)
        log.warning("the store at %s has room again: Chroma is open", self.root)

    @_locked
    def check_writable(self) -> None:
        """Raise ``StoreReadOnlyError``/``StoreFullError`` if this store cannot take writes: a read-only
        folder, or a disk that was full when it opened and still is (Chroma is retried first)."""
        self._check_writable()

    def _chroma_read_failed(self, exc: BaseException) -> bool:
        """True (logged once) when embedded Chroma refused a read because its disk is full."""
        if self.server or self._disk_error(exc, "reading vectors") is None:
            return False
        if not self._disk_warned:
            log.warning("Chroma cannot read the vectors of the store at %s while its disk is full (%s): "
                        "answering lexically until there is room", self.root, exc)
        self._disk_warned = True
        return True

    def _max_batch(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 5000))
        except Exception:
            return 1000

    def close(self) -> None:
        """Close SQLite and let go of the embedded Chroma client.

        Chroma keeps one engine per folder and process; it is stopped (its files
        closed) when the last ``Store`` of this process on the folder closes, so
        another process may write the folder and the next open here reads it afresh.
        """
        self.db.close()
        if self.client is not None and not self.server:
            with contextlib.suppress(Exception):
                self.client.close()

    # ------------------------------------------------------------------ manifest

    @_locked
    def file_record(self, path: str) -> FileRecord | None:
        row = self.db.execute("SELECT path, file_hash, chunk_count FROM files WHERE path = ?", (path,)).fetchone()
        return FileRecord(*row) if row else None

    @_locked
    def file_paths(self) -> list[str]:
        self._maybe_sync()
        return [r[0] for r in self.db.execute("SELECT path FROM files ORDER BY path")]

    @_locked
    def counts(self) -> dict:
        """Numbers a health check shows: files, documents, chunks (manifest and Chroma).

        In server mode ``vectors`` is None while the server cannot be reached, and
        in embedded mode while a full disk keeps Chroma from reading; in a
        read-only store it counts the chunks whose vector the cache holds.
        """
        self._maybe_sync()
        files = self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        docs, chunks = self.db.execute("SELECT COUNT(DISTINCT doc_id), COUNT(*) FROM chunks").fetchone()
        if self.collection is None:
            vectors = self.db.execute(
                "SELECT COUNT(*) FROM chunks c JOIN embeddings e ON e.hash = c.hash").fetchone()[0]
            return {"files": files, "documents": docs, "chunks": chunks, "vectors": vectors}
        try:
            vectors = self.collection.count()
        except Exception as exc:
            if self._chroma_read_failed(exc):
                vectors = None
            elif not (self.server and self._unreachable(exc)):
                raise
            else:
                self._note_server_down(exc)
                vectors = None
        return {"files": files, "documents": docs, "chunks": chunks, "vectors": vectors}

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
        self._check_writable()
        with self._writing("caching embeddings"), self.db:
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
        self._check_writable()
        with self._writing(f"writing the chunks of {path}"):
            self._replace_file(path, file_hash, size, mtime, chunks, vectors)

    def _replace_file(
        self, path: str, file_hash: str, size: int, mtime: float, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        new_ids = [c.chunk_id for c in chunks]
        old_ids = set(self._chunk_ids_of(path))
        if self.server:  # another process may have written this file since our last sync
            old_ids |= set(self._remote_chunk_ids(path))
        self._log_pending(new_ids)
        with self._remote("writing chunks"):
            self._chroma_upsert(chunks, vectors, path=path)
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
            if self.server:
                self.db.execute("INSERT OR REPLACE INTO unpublished VALUES (?)", (path,))
        if self.server:
            self._publish(path)  # chunks first, file record after, stale chunks deleted last
        with self._remote("deleting replaced chunks"):
            self._chroma_delete(stale)

    @_locked
    def remove_file(self, path: str) -> int:
        """Forget a file and all its chunks; returns how many chunks went."""
        self._check_writable()
        with self._writing(f"removing {path}"):
            return self._remove_file(path)

    def _remove_file(self, path: str) -> int:
        ids = self._chunk_ids_of(path)
        if self.server:
            ids = list(dict.fromkeys(ids + self._remote_chunk_ids(path)))
        with self.db:
            self._delete_rows(path)
            self.db.execute("DELETE FROM files WHERE path = ?", (path,))
            self.db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", ((i,) for i in ids))
            if self.server:
                self.db.execute("INSERT OR REPLACE INTO unpublished VALUES (?)", (path,))
        if self.server:
            self._publish(path)  # the record goes before its chunks do
        with self._remote("deleting chunks"):
            self._chroma_delete(ids)
        return len(ids)

    @_locked
    def reconcile(self) -> int:
        """Finish what a crash interrupted: drop Chroma vectors the manifest does not know.

        A no-op in a read-only store (its orphans, never shown, wait for a writable open).
        """
        if self.collection is None:
            return 0
        with self._writing("removing vectors an interrupted write left"):
            return self._reconcile()

    def _reconcile(self) -> int:
        pending = [r[0] for r in self.db.execute("SELECT chunk_id FROM pending")]
        if not pending:
            return 0
        known = set(self._existing_ids(pending))
        orphans = [i for i in pending if i not in known]
        if self.server and orphans:  # never delete what a published file record lists
            claimed = self._claimed_ids()
            orphans = [i for i in orphans if i not in claimed]
        with self._remote("removing vectors an interrupted write left"):
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

    def _chroma_upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, path: str | None = None) -> None:
        extra = {"path": path} if path is not None else {}  # lets a chunk be traced to its file
        for start in range(0, len(chunks), self.max_batch):
            part = chunks[start : start + self.max_batch]
            self.collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=np.asarray(vectors[start : start + self.max_batch], dtype=np.float32),
                metadatas=[{**c.metadata(), **extra} for c in part],
                documents=[c.text for c in part],
            )

    def _chroma_delete(self, ids: Sequence[str], log: bool = True) -> None:
        for start in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=list(ids[start : start + self.max_batch]))
        if ids and log:
            with self.db:
                self.db.executemany("DELETE FROM pending WHERE chunk_id = ?", ((i,) for i in ids))

    # ------------------------------------------------------------------ server mode: publish and sync

    def _publish(self, path: str) -> None:
        """Make the server's record of ``path`` match the local manifest (or delete it)."""
        row = self.db.execute(
            "SELECT file_hash, size, mtime, chunk_count, ingested_at FROM files WHERE path = ?", (path,)
        ).fetchone()
        with self._remote("publishing the file record"):
            if row:
                ids = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE path = ? ORDER BY rowid", (path,))]
                meta = {"file_hash": row[0], "size": int(row[1] or 0), "mtime": float(row[2] or 0.0),
                        "chunk_count": int(row[3]), "ingested_at": float(row[4])}
                self.files.upsert(ids=[path], embeddings=[[0.0]], metadatas=[meta], documents=[json.dumps(ids)])
            else:
                self.files.delete(ids=[path])
        with self.db:
            self.db.execute("DELETE FROM unpublished WHERE path = ?", (path,))

    def _remote_chunk_ids(self, path: str) -> list[str]:
        """The chunk ids the server's record of ``path`` lists ([] when there is none)."""
        with self._remote("reading the file record"):
            got = self.files.get(ids=[path], include=["documents"])
        return _id_list(got["documents"][0]) if got["ids"] else []

    def _claimed_ids(self) -> set[str]:
        with self._remote("reading the file records"):
            got = self.files.get(include=["documents"])
        return {i for doc in got["documents"] or [] for i in _id_list(doc)}

    def sync(self) -> int:
        """Server mode: bring the local mirror in step with the server; returns files changed locally.

        Raises ``StoreError`` when the server fails (reads call it through
        ``_maybe_sync``, which logs instead). A no-op returning 0 in embedded mode.
        """
        if not self.server:
            return 0
        with self._lock, self._writing("updating the local mirror"):
            self._last_sync = time.monotonic()
            for (path,) in self.db.execute("SELECT path FROM unpublished").fetchall():
                self._publish(path)  # our own change the server never got: push it before pulling
            with self._remote("listing the file records"):
                got = self.files.get(include=["metadatas"])
            remote = {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"] or [])}
            local = dict(self.db.execute("SELECT path, file_hash FROM files"))
            changed = 0
            for path, meta in remote.items():
                if local.get(path) != meta.get("file_hash"):
                    changed += self._pull(path)
            for path in sorted(local.keys() - remote.keys()):
                self._drop_local(path)
                changed += 1
            if self._server_down:
                log.warning("the Chroma server at %s is reachable again", self.server_address)
            self._server_down = False
            return changed

    def _maybe_sync(self) -> None:
        """Sync if ``sync_seconds`` have passed since the last attempt; never raises."""
        if not self.server:
            return
        interval = self.settings.sync_seconds
        if interval > 0 and time.monotonic() - self._last_sync < interval:
            return
        with self._lock:
            if interval > 0 and time.monotonic() - self._last_sync < interval:
                return  # another thread just did it
            try:
                self.sync()
            except Exception as exc:  # a query must not fail because the mirror could not be refreshed
                if not self._server_down:
                    log.warning("cannot sync with the Chroma server at %s, answering from the local mirror "
                                "and retrying later: %s", self.server_address, exc)
                self._server_down = True

    def _drop_local(self, path: str) -> None:
        with self.db:
            self._delete_rows(path)
            self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    def _pull(self, path: str) -> int:
        """Copy the server's current version of ``path`` into the mirror; 1 if done, 0 if put off."""
        with self._remote("reading the file record"):
            rec = self.files.get(ids=[path], include=["metadatas", "documents"])
        if not rec["ids"]:  # removed since the listing
            self._drop_local(path)
            return 1
        meta = rec["metadatas"][0] or {}
        ids = _id_list(rec["documents"][0])
        found: dict[str, tuple[Chunk, np.ndarray | None]] = {}
        for start in range(0, len(ids), self.max_batch):
            with self._remote("reading chunks"):
                got = self.collection.get(
                    ids=ids[start : start + self.max_batch], include=["documents", "metadatas", "embeddings"]
                )
            embeddings = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
            for cid, text, m, vec in zip(got["ids"], got["documents"], got["metadatas"], embeddings):
                m = m or {}
                if m.get("path", path) != path:  # the same chunk id written for another file
                    continue
                chunk = _meta_to_chunk(cid, text, m)
                if m.get("hash", chunk.hash) != chunk.hash:
                    continue
                found[cid] = (chunk, vec)
        missing = [i for i in ids if i not in found]
        if missing:  # a concurrent write, or a collision: keep the old version, retry next sync
            self._warn_once(path, meta.get("file_hash", ""),
                            f"{len(missing)} of {len(ids)} chunks listed for {path} are not on the Chroma server "
                            f"(or belong to another file); keeping the previous version and retrying")
            return 0
        chunks = [found[i][0] for i in ids]
        try:
            with self.db:
                self._delete_rows(path)
                self._insert_rows(path, chunks)
                self.db.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    (path, meta.get("file_hash", ""), meta.get("size"), meta.get("mtime"), len(chunks),
                     meta.get("ingested_at", time.time())),
                )
                self.db.executemany(
                    "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                    ((c.hash, np.asarray(v, dtype=np.float32).tobytes()) for c, v in (found[i] for i in ids)
                     if v is not None and len(v) == self.dimension),
                )
        except sqlite3.IntegrityError as exc:
            self._warn_once(path, meta.get("file_hash", ""),
                            f"cannot mirror {path}: its chunk ids are held by another file in this store ({exc}); "
                            f"ingest each document under one path only")
            return 0
        return 1

    def _warn_once(self, path: str, file_hash: str, message: str) -> None:
        if (path, file_hash) not in self._warned:
            self._warned.add((path, file_hash))
            log.warning("%s", message)

    # ------------------------------------------------------------------ reading

    @_locked
    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks the manifest knows, by id (unknown ids are left out)."""
        self._maybe_sync()
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
        self._maybe_sync()
        rows = self.db.execute(
            f"SELECT {', '.join(_CHUNK_COLUMNS)} FROM chunks WHERE doc_id = ? AND idx BETWEEN ? AND ? ORDER BY idx",
            (doc_id, index - span, index + span),
        )
        return [_row_to_chunk(r) for r in rows]

    @_locked
    def documents(self, access: Sequence[str] | None = None) -> list[DocumentInfo]:
        """Every indexed document (optionally only some access levels), by title."""
        self._maybe_sync()
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
        """(chunk_id, cosine similarity) for the k nearest vectors.

        In server mode, [] while the server cannot be reached (retrieval goes on lexically).
        """
        self._maybe_sync()
        if self.collection is None:
            if not self.read_only and not self._disk_warned:
                self._disk_warned = True
                log.warning("searching without Chroma (exact dense search over the cached vectors) until there "
                            "is room: %s", self._refusal)
            return self._exact_dense(vector, k, where)
        try:  # no count() first: it cost 17 ms at 50k chunks, and Chroma returns fewer when it has fewer
            res = self.collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=k,
                where=where or None,
                include=["distances"],
            )
        except Exception as exc:
            if self._chroma_read_failed(exc):
                return []
            if not (self.server and self._unreachable(exc)):
                if self.collection.count() == 0:  # an empty index may refuse queries
                    return []
                raise
            self._note_server_down(exc)
            return []
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    @_locked
    def _exact_dense(self, vector: np.ndarray, k: int, where: dict | None) -> list[tuple[str, float]]:
        """Without Chroma (read-only, or full at open): exact cosine search over the manifest chunks' cached vectors."""
        if self._exact is None:
            rows = self.db.execute(
                "SELECT c.chunk_id, c.doc_id, c.access, c.language, e.vector FROM chunks c "
                "JOIN embeddings e ON e.hash = c.hash ORDER BY c.rowid").fetchall()
            ids = [r[0] for r in rows]
            matrix = np.stack([np.frombuffer(r[4], dtype=np.float32) for r in rows]) if rows else \
                np.zeros((0, self.dimension), dtype=np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.where(norms == 0, 1.0, norms)
            fields = {name: np.array([r[i] or "" for r in rows], dtype=object)
                      for i, name in ((1, "doc_id"), (2, "access"), (3, "language"))}
            self._exact = (ids, matrix, fields)
        ids, matrix, fields = self._exact
        if not ids or k < 1:
            return []
        query = np.asarray(vector, dtype=np.float32)
        scores = matrix @ (query / (np.linalg.norm(query) or 1.0))
        if where:
            scores = np.where(_where_mask(where, fields), scores, -np.inf)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]

    LARGE = 5000  # chunks: from here on, stop words leave the lexical query (see fts_query)

    def _large(self) -> bool:
        """Is the index big enough that stop words' posting lists dominate lexical time? (cached 30 s)"""
        now = time.monotonic()
        if now - self._size_checked > 30:
            self._size_checked = now
            self._is_large = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] >= self.LARGE
        return self._is_large

    @_locked
    def allowed_ids(self, chunk_ids: Sequence[str], access: Sequence[str]) -> set[str]:
        """The ids among ``chunk_ids`` that the manifest knows with one of these access levels."""
        out: set[str] = set()
        for start in range(0, len(chunk_ids), 900):
            part = list(chunk_ids[start : start + 900])
            rows = self.db.execute(
                f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))}) "
                f"AND access IN ({','.join('?' * len(access))})", [*part, *access])
            out.update(r[0] for r in rows)
        return out

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
        self._maybe_sync()
        match = fts_query(query, drop_stopwords=self._large())
        if not match:
            return []
        sql = (
            "SELECT c.chunk_id, -bm25(chunks_fts, 1.0, 0.6) AS score FROM chunks_fts "
            "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ?"
        )
        params: list = [match]
        if doc_ids:
            # A document's rows are contiguous (written in one transaction), so a rowid range lets FTS5
            # skip the rest of the index: 2.5x faster at 10k chunks. (``rowid IN (subquery)`` ran one
            # full MATCH per row.) The doc_id test below keeps the result exact.
            marks = ",".join("?" * len(doc_ids))
            lo, hi = self.db.execute(f"SELECT MIN(rowid), MAX(rowid) FROM chunks WHERE doc_id IN ({marks})",
                                     list(doc_ids)).fetchone()
            if lo is None:
                return []
            sql += " AND chunks_fts.rowid BETWEEN ? AND ?"
            params += [lo, hi]
        for column, values in (("access", access), ("doc_id", doc_ids), ("language", [language] if language else None)):
            if values:
                sql += f" AND c.{column} IN ({','.join('?' * len(values))})"
                params += list(values)
        sql += " ORDER BY bm25(chunks_fts, 1.0, 0.6) LIMIT ?"
        params.append(k)
        return [(r[0], float(r[1])) for r in self.db.execute(sql, params)]


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, drop_stopwords: bool = False) -> str:
    """An FTS5 MATCH expression: every word, as written and folded, OR-ed.

    Words are quoted so FTS5 syntax in a question (AND, NEAR, *, quotes) is
    never interpreted. In a large index (``Store.LARGE`` chunks and more) stop
    words ("của", "là", "the") are left out: they match most rows, so scoring
    their posting lists dominated query time (150 → 43 ms per query at 50k
    chunks) while adding little to BM25 (ObliQA Recall@5 0.724 → 0.730). In a
    small index they stay: they cost nothing there and can still break a tie
    ("Trong 08 giờ …" for "trong thời hạn bao lâu"). A question made only of
    stop words keeps them all.
    """
    words = _WORD.findall(text.lower())
    if drop_stopwords:
        stop = stopwords()
        words = [w for w in words if w not in stop] or words
    terms: list[str] = []
    for word in words:
        folded = fold_diacritics(word)
        terms.append(f'body:"{word}"')
        terms.append(f'folded:"{folded}"')
    return " OR ".join(dict.fromkeys(terms))


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith((".", "?", "!")) else text + "."


def _forget_chroma_engine(path: str) -> None:
    """Drop the engine Chroma cached for ``path`` when opening it failed.

    chromadb caches one engine per folder *before* starting it and keeps it when
    the start fails (e.g. on a full disk), so every later open in this process
    would get the broken one ("'RustBindingsAPI' object has no attribute
    'bindings'") even once there is room again.
    """
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        if SharedSystemClient._identifier_to_refcount.get(path, 0) > 0:
            return  # a live client of this process uses it: not ours to drop
        system = SharedSystemClient._identifier_to_system.pop(path, None)
        if system is not None:
            with contextlib.suppress(Exception):
                system.stop()


def _where_mask(where: dict, fields: dict[str, np.ndarray]) -> np.ndarray:
    """The rows a Chroma ``where`` filter keeps ($and/$or; $eq/$ne/$in/$nin or a plain value), on ``fields``."""
    size = len(next(iter(fields.values())))
    mask = np.ones(size, dtype=bool)
    for key, cond in where.items():
        if key in ("$and", "$or"):
            parts = [_where_mask(c, fields) for c in cond]
            if parts:
                mask &= np.logical_and.reduce(parts) if key == "$and" else np.logical_or.reduce(parts)
            continue
        if key not in fields:
            raise ValueError(f"a read-only store filters dense search on {sorted(fields)} only, not {key!r}")
        column = fields[key]
        ops = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, value in ops.items():
            if op == "$eq":
                mask &= column == value
            elif op == "$ne":
                mask &= column != value
            elif op in ("$in", "$nin"):
                hit = np.isin(column, list(value))
                mask &= hit if op == "$in" else ~hit
            else:
                raise ValueError(f"unsupported filter operator {op!r} in a read-only store")
    return mask


def _id_list(document: str | None) -> list[str]:
    """The chunk ids a file record lists (its document is a JSON list)."""
    try:
        ids = json.loads(document or "[]")
    except ValueError:
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []


def _meta_to_chunk(chunk_id: str, text: str | None, m: dict) -> Chunk:
    """A chunk rebuilt from what Chroma holds (``Chunk.metadata()`` plus the document)."""
    return Chunk(
        chunk_id=chunk_id, doc_id=str(m.get("doc_id", "")), index=int(m.get("index", 0)), text=text or "",
        title=m.get("title") or "", source=m.get("source") or "", section=m.get("section") or "",
        page=m.get("page"), page_end=m.get("page_end"), language=m.get("language") or "",
        access=m.get("access") or "internal",  # unknown access is never shown to the public
        start=int(m.get("start") or 0),
    )


def _row_to_chunk(row: Sequence) -> Chunk:
    d = dict(zip(_CHUNK_COLUMNS, row))
    return Chunk(
        chunk_id=d["chunk_id"], doc_id=d["doc_id"], index=d["idx"], text=d["text"], title=d["title"] or "",
        source=d["source"] or "", section=d["section"] or "", page=d["page"], page_end=d["page_end"],
        language=d["language"] or "", access=d["access"], start=d["start"] or 0,
    )

