"""The naive LangChain baseline: what a tutorial gives you, to measure what the design adds.

Same loaded ``Document``s as the assistant (``assistant.loaders``), but then the
textbook path: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``,
a ``langchain_chroma.Chroma`` store, the same embedding model *without* the e5
``query:`` / ``passage:`` prefixes, ``similarity_search(question, k=10)``, no
lexical search, no fusion, no access rule. Without an LLM, the "answer" such a
user shows is the top chunk's text, cited as that chunk's document.

The store is persisted in its own folder and filled resumably: chunk ids are
deterministic, so a rerun only embeds the chunks not stored yet.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from langchain_core.embeddings import Embeddings

from assistant.loaders import LoadError, iter_source_files, load_file

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
BATCH = 256  # chunks per embed-and-write call; far below Chroma's ~5,400 records per call
COLLECTION = "naive_baseline"


class PlainEmbeddings(Embeddings):
    """A sentence-transformers model as LangChain ``Embeddings``, with no e5 prefixes (the naive use)."""

    def __init__(self, model, batch_size: int = 8):
        self.model = model
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(list(texts), normalize_embeddings=True, batch_size=self.batch_size,
                                 show_progress_bar=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@dataclass
class BuildReport:
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BaselineHit:
    doc_id: str
    text: str


class NaiveBaseline:
    """Build (or reopen) the baseline store for a corpus and search it."""

    def __init__(self, folder: Path, model, progress: bool = False, max_file_mb: float = 50.0):
        import chromadb
        from langchain_chroma import Chroma

        self.folder = Path(folder)
        self.progress = progress
        self.max_bytes = int(max_file_mb * 1024 * 1024)
        self.embeddings = PlainEmbeddings(model)
        client = chromadb.PersistentClient(path=str(self.folder),
                                           settings=chromadb.Settings(anonymized_telemetry=False))
        self.db = Chroma(collection_name=COLLECTION, embedding_function=self.embeddings, client=client)

    def build(self, corpus: Sequence[Path]) -> BuildReport:
        """Split every document and store the chunks not stored yet; returns counts and time."""
        from langchain_core.documents import Document as LCDocument
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        from tqdm import tqdm

        started = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        pieces: list[tuple[str, LCDocument]] = []
        for file, root in iter_source_files(list(corpus)):
            try:
                documents = load_file(file, root=root, max_bytes=self.max_bytes)
            except LoadError as exc:
                print(f"baseline: {exc}", file=sys.stderr)
                continue
            for doc in documents:
                for i, text in enumerate(splitter.split_text(doc.text)):
                    cid = f"{doc.doc_id}#{i}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
                    pieces.append((cid, LCDocument(page_content=text, metadata={"doc_id": doc.doc_id})))
        report = BuildReport(chunks=len(pieces))
        collection = self.db._collection  # only to ask which ids exist: langchain_chroma has no public call
        bar = tqdm(total=len(pieces), desc="baseline chunks", unit="chunk", leave=False, file=sys.stderr,
                   disable=not self.progress)
        try:
            for start in range(0, len(pieces), BATCH):
                part = pieces[start:start + BATCH]
                have = set(collection.get(ids=[cid for cid, _ in part], include=[])["ids"])
                todo = [(cid, d) for cid, d in part if cid not in have]
                if todo:
                    self.db.add_documents([d for _, d in todo], ids=[cid for cid, _ in todo])
                    report.embedded += len(todo)
                bar.update(len(part))
        finally:
            bar.close()
        report.seconds = time.perf_counter() - started
        return report

    def search(self, question: str, k: int = 10) -> list[BaselineHit]:
        return [BaselineHit(d.metadata.get("doc_id", ""), d.page_content)
                for d in self.db.similarity_search(question, k=k)]
