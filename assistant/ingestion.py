"""Ingest: walk the given files and folders and bring the store in step with them.

For each file: hash its bytes; if the manifest has the same hash, skip it
(nothing is read, chunked or embedded); otherwise load → chunk → embed the
chunks whose text the store has never embedded → replace the file's chunks.
A file that fails to load is reported on one line and its previously stored
chunks are kept. With ``prune``, files that were ingested from one of the given
folders but are gone from it are removed from the store.

Interrupting (Ctrl-C, kill) is safe at any point: each file is committed on
its own, computed embeddings are cached as they are made, and the store's
intent log cleans up half-written vectors, so the next run completes the work
without redoing it.

A store that cannot be written stops the run with ``StoreError`` (the CLI
prints it on one line and exits 2): a read-only store before anything is read
or embedded (``StoreReadOnlyError``; ``open_pipeline`` checks the folder before
loading the model), a full disk at the first write it refuses
(``StoreFullError``). Files finished before stay committed and answerable;
vectors already computed stay in the embedding cache when the disk had room
for them, and running the same command again once the store can be written
completes the rest.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from assistant.chunking import Chunker
from assistant.embeddings import Embedder
from assistant.loaders import SIDECAR_SUFFIXES, LoadError, iter_source_files, load_file
from assistant.settings import Settings
from assistant.store import Store, StoreError, ensure_writable
from assistant.types import Chunk, FileFailure, IngestReport

# Bump when loading or chunking changes what a file turns into: every file is
# then seen as changed (its unchanged chunk texts still come from the cache).
PIPELINE_VERSION = "1"


@dataclass
class _Progress:
    """tqdm bars when a person is watching; nothing when output is for a program."""

    enabled: bool

    def bar(self, total: int, desc: str, unit: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=not self.enabled, leave=False, file=sys.stderr)


class Ingestor:
    """Brings a ``Store`` in step with files on disk; see the module docstring."""

    def __init__(self, settings: Settings, embedder: Embedder, store: Store, progress: bool = True,
                 warn: Callable[[str], None] | None = None, tty_only: bool = True):
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap)
        self.progress = _Progress(progress and (sys.stderr.isatty() or not tty_only))  # the web UI tracks tqdm bars
        self.warn = warn or (lambda line: print(line, file=sys.stderr))
        self.fingerprint = f"v{PIPELINE_VERSION}:{settings.chunk_tokens}:{settings.chunk_overlap}"

    def run(self, paths: Sequence[Path], prune: bool = False) -> IngestReport:
        """Ingest ``paths``; raises ``StoreError`` when the store cannot be written (see the module docstring)."""
        self.store.check_writable()  # a read-only store fails here, before anything is loaded or embedded
        started = time.perf_counter()
        report = IngestReport()
        missing = [p for p in paths if not Path(p).exists()]
        for p in missing:
            report.failed.append(FileFailure(str(p), "no such file or folder"))
            self.warn(f"{p}: no such file or folder")
        sources = list(iter_source_files([Path(p) for p in paths if Path(p).exists()]))
        seen: set[str] = set()
        bar = self.progress.bar(len(sources), "files", "file")
        try:
            for file, root in sources:
                key = str(file.resolve())
                seen.add(key)
                bar.set_postfix_str(file.name[:30])
                self._ingest_one(file, root, key, report)
                bar.update(1)
        finally:
            bar.close()
            report.seconds = time.perf_counter() - started
        if prune:
            report.removed += self._prune([Path(p) for p in paths if Path(p).is_dir()], seen)
        report.seconds = time.perf_counter() - started
        return report

    # ------------------------------------------------------------------ one file

    def _ingest_one(self, file: Path, root: Path, key: str, report: IngestReport) -> None:
        try:
            stat = file.stat()
            limit = self.settings.max_file_mb * 1024 * 1024
            if stat.st_size > limit:  # refuse before reading (hashing) a huge file
                self._fail(report, file, f"{stat.st_size / 1048576:.1f} MB is over the {self.settings.max_file_mb:g} MB "
                                         f"size limit; split the file or raise ASSISTANT_MAX_FILE_MB")
                return
            file_hash = self._file_hash(file, root)
        except OSError as exc:
            self._fail(report, file, f"cannot read: {exc.strerror or exc}")
            return
        record = self.store.file_record(key)
        if record and record.file_hash == file_hash:
            report.unchanged += 1
            return
        try:
            documents = load_file(file, root=root, max_bytes=int(self.settings.max_file_mb * 1024 * 1024))
        except LoadError as exc:
            self._fail(report, file, exc.reason)
            return
        chunks = [c for doc in documents for c in self.chunker.split(doc)]
        if not chunks:
            self._fail(report, file, "no text to index after chunking")
            return
        vectors = self._embed(chunks, report, label=file.name)
        self.store.replace_file(key, file_hash, stat.st_size, stat.st_mtime, chunks, vectors)
        report.chunks += len(chunks)
        if record:
            report.updated += 1
        else:
            report.added += 1

    def _file_hash(self, file: Path, root: Path) -> str:
        """Hash of the bytes, the place (doc ids derive from it) and the pipeline."""
        h = hashlib.sha256()
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        for sidecar in (file.with_name(file.name + suffix) for suffix in SIDECAR_SUFFIXES):
            if sidecar.exists():
                h.update(sidecar.read_bytes())
        rel = os.path.relpath(file, root) if root != file else file.name
        h.update(f"\0{rel}\0{self.fingerprint}".encode())
        return h.hexdigest()

    def _fail(self, report: IngestReport, file: Path, reason: str) -> None:
        report.failed.append(FileFailure(str(file), reason))
        self.warn(f"{file}: {reason}")

    # ------------------------------------------------------------------ embedding

    def _embed(self, chunks: Sequence[Chunk], report: IngestReport, label: str) -> np.ndarray:
        """Vectors for chunks, embedding only texts the store has never seen."""
        hashes = [c.hash for c in chunks]
        known = self.store.cached_vectors(hashes)
        todo: dict[str, str] = {}
        for chunk, h in zip(chunks, hashes):
            if h not in known and h not in todo:
                todo[h] = chunk.embed_text
        if todo:
            group = self.settings.embed_batch_size * 8  # big calls let the model sort by length
            items = list(todo.items())
            bar = self.progress.bar(len(items), f"embedding {label[:24]}", "chunk")
            try:
                for start in range(0, len(items), group):
                    part = items[start : start + group]
                    vecs = self.embedder.encode_passages([text for _, text in part])
                    self.store.cache_vectors([h for h, _ in part], vecs)
                    known.update(zip((h for h, _ in part), vecs))
                    report.embedded += len(part)
                    bar.update(len(part))
            finally:
                bar.close()
        return np.stack([known[h] for h in hashes]).astype(np.float32)

    # ------------------------------------------------------------------ pruning

    def _prune(self, folders: Sequence[Path], seen: set[str]) -> int:
        removed = 0
        roots = [str(f.resolve()) + os.sep for f in folders]
        for path in self.store.file_paths():
            if path not in seen and any(path.startswith(r) for r in roots) and not Path(path).exists():
                self.store.remove_file(path)
                removed += 1
        return removed


def open_pipeline(settings: Settings) -> tuple[Embedder, Store]:
    """The model (loaded once) and the store it writes to.

    Raises ``StoreReadOnlyError`` for a store folder that cannot be written, before loading the model.
    """
    ensure_writable(Path(settings.store_dir))
    embedder = Embedder(settings.embedding_model, settings.cache_dir, settings.embed_batch_size)
    store = Store(settings, embedder.name, embedder.dimension)
    try:
        store.check_writable()  # e.g. a disk too full for Chroma to open
    except StoreError:
        store.close()
        raise
    return embedder, store
