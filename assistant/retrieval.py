"""Retrieve: a question in, the best chunks out, never past the audience's access.

Hybrid search: dense candidates from Chroma and lexical candidates from the
FTS5 index are fused by reciprocal rank fusion (RRF: a chunk's score is the sum
over both lists of 1 / (60 + rank)), which needs no score calibration between
the two. Known Vietnamese abbreviations in the question are expanded first
(``data/acronyms.tsv``). Each hit carries its neighbouring chunks, so an answer
that runs over a chunk boundary is read whole.

The access rule lives here, not in the interface: ``audience="public"`` puts
``access = public`` into both searches *and* re-checks every chunk read back,
so no wording, filter or id can bring an internal chunk to a public caller.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from assistant.embeddings import Embedder
from assistant.store import Store
from assistant.types import Chunk

Audience = Literal["public", "staff"]
Mode = Literal["hybrid", "dense", "lexical"]
AUDIENCE_ACCESS: dict[str, tuple[str, ...]] = {"public": ("public",), "staff": ("public", "internal")}
RRF_K = 60
_ACRONYMS_FILE = Path(__file__).parent / "data" / "acronyms.tsv"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk, its fused score, and where each search ranked it."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    neighbours: tuple[Chunk, ...] = field(default=(), compare=False)

    @property
    def context(self) -> list[Chunk]:
        """The hit and its neighbours in document order."""
        return sorted({c.chunk_id: c for c in (*self.neighbours, self.chunk)}.values(), key=lambda c: c.index)


@lru_cache(maxsize=1)
def acronyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in _ACRONYMS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            short, _, long = line.partition("\t")
            table[short.strip()] = long.strip()
    return table


def expand_acronyms(question: str) -> str:
    """Append the expansion of every known abbreviation the question uses."""
    found = [long for short, long in acronyms().items() if re.search(rf"(?<!\w){re.escape(short)}(?!\w)", question)]
    return question + (" (" + "; ".join(found) + ")" if found else "")


class Retriever:
    """Hybrid retrieval over one ``Store`` with the access rule built in."""

    def __init__(self, store: Store, embedder: Embedder, candidates: int = 40, query_cache: int = 512):
        if candidates < 1:
            raise ValueError("candidates must be 1 or more")
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache

    def retrieve(
        self,
        question: str,
        audience: Audience = "public",
        k: int = 6,
        mode: Mode = "hybrid",
        doc_ids: Sequence[str] | None = None,
        language: str | None = None,
        neighbours: int = 1,
        probe_docs: int = 4,
    ) -> list[Hit]:
        """The k best hits for the audience, then chunks probed inside the top documents.

        Because of the probe, ``retrieve(k=10)[:6]`` is not ``retrieve(k=6)``:
        to reproduce what ``Assistant.ask`` answers from, ask for ``k=top_k``.
        """
        if audience not in AUDIENCE_ACCESS:
            raise ValueError(f"audience must be one of {sorted(AUDIENCE_ACCESS)}, got {audience!r}")
        if mode not in ("hybrid", "dense", "lexical"):
            raise ValueError(f"mode must be hybrid, dense or lexical, got {mode!r}")
        if k < 1:
            raise ValueError("k must be 1 or more")
        allowed = AUDIENCE_ACCESS[audience]
        query = expand_acronyms(question)
        pool = max(self.candidates, k * 3)
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self._dense(self._query_vector(query), pool, allowed, doc_ids, language)
        if mode in ("hybrid", "lexical"):
            lexical = self.store.lexical_search(query, pool, access=allowed, doc_ids=doc_ids, language=language)
        fused = rrf([[cid for cid, _ in dense], [cid for cid, _ in lexical]])
        top = [cid for cid, _ in fused[: k * 2]]
        chunks = self.store.get_chunks(top)  # only what the manifest knows
        dense_rank = {cid: i + 1 for i, (cid, _) in enumerate(dense)}
        dense_score = dict(dense)
        lex_rank = {cid: i + 1 for i, (cid, _) in enumerate(lexical)}
        hits: list[Hit] = []
        for cid, score in fused:
            chunk = chunks.get(cid)
            if chunk is None or chunk.access not in allowed:  # defence in depth
                continue
            hood = self._neighbours(chunk, allowed, neighbours)
            hits.append(Hit(chunk, score, dense_rank.get(cid), lex_rank.get(cid), dense_score.get(cid), hood))
            if len(hits) == k:
                break
        if probe_docs and mode != "dense":
            hits = self._probe(query, hits, allowed, probe_docs, neighbours)
        return hits

    def _dense(self, vector: np.ndarray, pool: int, allowed: Sequence[str], doc_ids, language) -> list[tuple[str, float]]:
        """Nearest chunks the audience may see.

        Chroma applies a metadata filter by scanning metadata: 61 ms per query
        at 10k chunks against 3 ms unfiltered (``eval/perf.py query``). So when
        the access level is the only filter, search unfiltered with room to
        spare and keep the ids the manifest says are allowed; only when too few
        remain does Chroma filter. Staff see every level: no filter at all.
        """
        if doc_ids or language:
            return self.store.dense_search(vector, pool, where=_where(allowed, doc_ids, language))
        if set(allowed) >= set(AUDIENCE_ACCESS["staff"]):
            return self.store.dense_search(vector, pool)
        found = self.store.dense_search(vector, pool * 3)
        ok = self.store.allowed_ids([cid for cid, _ in found], allowed)
        kept = [(cid, score) for cid, score in found if cid in ok]
        if len(kept) >= pool or len(found) < pool * 3:  # enough, or the whole collection was searched
            return kept[:pool]
        return self.store.dense_search(vector, pool, where=_where(allowed, None, None))

    def _probe(self, query: str, hits: list[Hit], allowed, docs: int, neighbours: int) -> list[Hit]:
        """Look inside the best documents for the part the question asks about.

        The top documents are usually right, but in a long record the chunk
        holding the asked-for field (legal basis, fee, ...) may rank below
        others of the same record. A lexical search restricted to each of the
        top documents brings that chunk in, placed right after its document's
        best hit.
        """
        seen = {h.chunk.chunk_id for h in hits}
        top_docs = list(dict.fromkeys(h.chunk.doc_id for h in hits))[:docs]
        out = list(hits)
        for doc_id in top_docs:
            found = self.store.lexical_search(query, 2, access=allowed, doc_ids=[doc_id])
            new = [cid for cid, _ in found if cid not in seen]
            if not new:
                continue
            chunks = self.store.get_chunks(new)
            at = next(i for i, h in enumerate(out) if h.chunk.doc_id == doc_id) + 1
            for cid in new:
                chunk = chunks.get(cid)
                if chunk is None or chunk.access not in allowed:
                    continue
                hood = self._neighbours(chunk, allowed, neighbours)
                out.insert(at, Hit(chunk, out[at - 1].score, None, None, None, hood))
                seen.add(cid)
                at += 1
        return out

    def _neighbours(self, chunk: Chunk, allowed, span: int) -> tuple[Chunk, ...]:
        """The chunks around ``chunk`` that the audience may see (none when span is 0)."""
        if not span:
            return ()
        return tuple(c for c in self.store.neighbours(chunk.doc_id, chunk.index, span) if c.access in allowed)

    def _query_vector(self, text: str) -> np.ndarray:
        """Embed a question once; repeated questions come from a small LRU cache."""
        vec = self._cache.get(text)
        if vec is None:
            vec = self.embedder.encode_queries([text])[0]
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return vec


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: score(id) = Σ over lists of 1 / (k + rank), rank from 1.

    Ties are broken by first appearance (earlier lists first), so the order is
    deterministic.
    """
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    order: dict[str, int] = {}
    for cid in (cid for ranking in rankings for cid in ranking):
        order.setdefault(cid, len(order))
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def _where(allowed: Sequence[str], doc_ids: Sequence[str] | None, language: str | None) -> dict:
    clauses: list[dict] = [{"access": {"$in": list(allowed)}}]
    if doc_ids:
        clauses.append({"doc_id": {"$in": list(doc_ids)}})
    if language:
        clauses.append({"language": language})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
