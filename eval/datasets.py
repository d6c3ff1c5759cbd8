"""Loading an evaluation set: what to ingest, which questions to ask, what counts as right.

Three layouts are accepted, so the shared benchmarks are read where they lie:

- a BEIR folder: ``corpus.jsonl`` + ``queries.jsonl`` + ``qrels/<split>.tsv``
  (gold ids are the corpus records' ``_id``);
- a documents folder: ``documents/`` + ``queries.jsonl`` + ``qrels/<split>.tsv``
  (gold ids are file paths relative to ``documents/``, e.g. ``Home_Affairs.pdf``);
- a folder with ``dataset.json`` naming the documents elsewhere, e.g.
  ``{"name": "builtin", "documents": "../../docs"}`` (the built-in set reads the
  project's ``docs/`` without copying it).

Queries keep the order of ``queries.jsonl`` so that ``--limit N`` and every run
are deterministic. A query belongs to the split when the split's qrels name it,
or when it is marked unanswerable (such a query has no gold by definition).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from assistant.loaders import iter_source_files


class DatasetError(ValueError):
    """The folder is not an evaluation set we can read; the message says why."""


@dataclass(frozen=True)
class Query:
    """One question and everything needed to score the answer to it."""

    id: str
    text: str
    gold: dict[str, int] = field(default_factory=dict)  # doc id -> graded relevance (> 0)
    answerable: bool = True
    type: str = "fact"
    lang: str = ""
    answer: str = ""  # true_false / multiple_choice / essay gold answer
    choices: dict[str, str] = field(default_factory=dict)
    key_facts: tuple[str, ...] = ()
    reference_answer: str = ""
    audience: str = ""  # "" means: the runner's default
    negative: bool = False  # borrowed from another set with --negatives


@dataclass
class Dataset:
    name: str
    folder: Path
    corpus: list[Path]  # what to give to ``Ingestor.run``
    queries: list[Query]
    split: str = "dev"
    dropped: int = 0  # queries in queries.jsonl that are not in this split

    def fingerprint(self) -> str:
        """sha256 over the corpus files' relative paths and bytes (changes whenever the corpus does)."""
        h = hashlib.sha256()
        for file, root in iter_source_files(self.corpus):
            rel = os.path.relpath(file, root) if root != file else file.name
            h.update(f"\0{rel}\0".encode())
            with open(file, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def load_dataset(folder: Path, split: str = "dev", limit: int | None = None,
                 negatives: Path | None = None, negatives_limit: int | None = None) -> Dataset:
    """Read an evaluation set; ``limit`` keeps the first N queries of the split in file order.

    ``negatives`` is another set's ``queries.jsonl`` (or its folder): its questions are
    added after the set's own, marked unanswerable with no gold, ids prefixed ``neg:``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    spec = _read_spec(folder)
    name = spec.get("name") or folder.resolve().name
    if "documents" in spec:
        corpus = [(folder / spec["documents"]).resolve()]
    elif (folder / "corpus.jsonl").exists():
        corpus = [folder / "corpus.jsonl"]
    elif (folder / "documents").is_dir():
        corpus = [folder / "documents"]
    else:
        raise DatasetError(f"{folder}: needs corpus.jsonl, a documents/ folder, or dataset.json naming one")
    if not all(p.exists() for p in corpus):
        raise DatasetError(f"{folder}: the corpus {corpus[0]} does not exist")
    queries_file = folder / spec.get("queries", "queries.jsonl")
    if not queries_file.exists():
        raise DatasetError(f"{folder}: {queries_file.name} is missing")
    qrels_file = folder / spec.get("qrels", "qrels") / f"{split}.tsv"
    qrels = read_qrels(qrels_file) if qrels_file.exists() else None
    all_queries = read_queries(queries_file, qrels or {})
    if qrels is None:
        queries, dropped = all_queries, 0
    else:
        queries = [q for q in all_queries if q.id in qrels or not q.answerable]
        dropped = len(all_queries) - len(queries)
    if limit is not None:
        queries = queries[:limit]
    if negatives is not None:
        queries += read_negatives(negatives, negatives_limit)
    return Dataset(name=name, folder=folder, corpus=corpus, queries=queries, split=split, dropped=dropped)


def _read_spec(folder: Path) -> dict:
    spec_file = folder / "dataset.json"
    if not spec_file.exists():
        return {}
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DatasetError(f"{spec_file}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise DatasetError(f"{spec_file}: must be a JSON object")
    return spec


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id<TAB>corpus-id<TAB>score`` lines (a header line is skipped) -> {query: {doc: score}}.

    Rows with score <= 0 are kept out: BEIR uses 0 for "judged not relevant".
    """
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise DatasetError(f"{path}: line {number} needs query-id, corpus-id and score separated by tabs")
        qid, doc, score = parts[0].strip(), parts[1].strip(), parts[2].strip()
        try:
            value = int(float(score))
        except ValueError:
            if number == 1:  # header
                continue
            raise DatasetError(f"{path}: line {number}: score {score!r} is not a number") from None
        if value > 0:
            qrels.setdefault(qid, {})[doc] = value
    return qrels


def _query(record: dict, gold: dict[str, int]) -> Query:
    meta = record.get("metadata") or {}
    qtype = str(meta.get("type") or "fact")
    key_facts = tuple(str(f) for f in meta.get("key_facts") or ())
    answer = str(meta.get("answer") or "")
    if qtype == "essay" and answer and not key_facts:  # an essay's short gold answer is its key fact
        key_facts = (answer,)
    return Query(
        id=str(record["_id"]),
        text=str(record["text"]),
        gold=dict(gold),
        answerable=meta.get("answerable", True) is not False,
        type=qtype,
        lang=str(meta.get("lang") or ""),
        answer=answer,
        choices={str(k): str(v) for k, v in (meta.get("choices") or {}).items()},
        key_facts=key_facts,
        reference_answer=str(meta.get("reference_answer") or ""),
        audience=str(meta.get("audience") or ""),
    )


def read_queries(path: Path, qrels: dict[str, dict[str, int]]) -> list[Query]:
    """Every line of a ``queries.jsonl``, in file order, with its gold from ``qrels``."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}: line {number}: not valid JSON ({exc})") from None
        if not isinstance(record, dict) or "_id" not in record or not isinstance(record.get("text"), str):
            raise DatasetError(f'{path}: line {number}: needs "_id" and a string "text"')
        queries.append(_query(record, qrels.get(str(record["_id"]), {})))
    return queries


def read_negatives(path: Path, limit: int | None = None) -> list[Query]:
    """Another set's questions as out-of-scope ones: unanswerable, no gold, no key facts."""
    path = Path(path)
    if path.is_dir():
        path = path / "queries.jsonl"
    if not path.exists():
        raise DatasetError(f"{path}: no such queries file for --negatives")
    out = []
    for q in read_queries(path, {})[:limit]:
        out.append(Query(id=f"neg:{q.id}", text=q.text, answerable=False, type="unanswerable",
                         lang=q.lang, negative=True))
    return out
