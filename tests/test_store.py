"""Chroma and the SQLite manifest/lexical index stay in step, whatever happens."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.settings import Settings
from assistant.store import Store, StoreError, fts_query
from assistant.types import Chunk, content_hash, make_chunk_id

DIM = 8


def make_chunks(doc_id: str, texts: list[str], access: str = "public") -> list[Chunk]:
    chunks = []
    for i, text in enumerate(texts):
        base = Chunk(chunk_id="", doc_id=doc_id, index=i, text=text, title=doc_id, source=doc_id, access=access)
        chunks.append(Chunk(**{**base.__dict__, "chunk_id": make_chunk_id(doc_id, i, content_hash(base.embed_text))}))
    return chunks


def vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def chroma_ids(store: Store) -> set[str]:
    return set(store.collection.get(include=[])["ids"])


def manifest_ids(store: Store) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks")}


@pytest.fixture()
def store(settings):
    s = Store(settings, "test-model", DIM)
    yield s
    s.close()


def test_replace_then_replace_again_keeps_both_sides_equal(store):
    first = make_chunks("a.md", ["Điều 1. Phạm vi", "Điều 2. Đối tượng", "Điều 3. Thời hạn 05 ngày làm việc"])
    store.replace_file("/x/a.md", "h1", 10, 0.0, first, vectors(3))
    assert chroma_ids(store) == manifest_ids(store) == {c.chunk_id for c in first}
    changed = first[:2] + make_chunks("a.md", ["x", "y", "Điều 3. Thời hạn 10 ngày làm việc"])[2:]
    store.replace_file("/x/a.md", "h2", 10, 0.0, changed, vectors(3, 1))
    assert chroma_ids(store) == manifest_ids(store) == {c.chunk_id for c in changed}
    assert store.file_record("/x/a.md").file_hash == "h2"
    hits = [cid for cid, _ in store.lexical_search("10 ngày", 5)]
    assert hits[0] == changed[2].chunk_id
    assert first[2].chunk_id not in {cid for cid, _ in store.lexical_search("05 ngày", 5)}


def test_remove_file_removes_vectors_and_lexical_rows(store):
    chunks = make_chunks("b.md", ["lệ phí 50.000 đồng"])
    store.replace_file("/x/b.md", "h", 1, 0.0, chunks, vectors(1))
    assert store.remove_file("/x/b.md") == 1
    assert chroma_ids(store) == manifest_ids(store) == set()
    assert store.lexical_search("lệ phí", 5) == []
    assert store.file_record("/x/b.md") is None


def test_lexical_search_handles_diacritics_both_ways(store):
    chunks = make_chunks("c.md", ["Đăng ký khai sinh trực tuyến", "Bà con nông dân", "Ba ngày làm việc"])
    store.replace_file("/x/c.md", "h", 1, 0.0, chunks, vectors(3))
    # typed without accents, still found
    assert store.lexical_search("dang ky khai sinh", 3)[0][0] == chunks[0].chunk_id
    # with accents, the exact form ranks first: "bà" is not "ba"
    assert store.lexical_search("bà", 3)[0][0] == chunks[1].chunk_id
    assert store.lexical_search("ba ngày", 3)[0][0] == chunks[2].chunk_id


def test_lexical_query_syntax_is_never_interpreted(store):
    chunks = make_chunks("d.md", ['He said "NEAR" AND left (quickly) *'])
    store.replace_file("/x/d.md", "h", 1, 0.0, chunks, vectors(1))
    for q in ['"', "NEAR(", "AND OR NOT", "*", "col:x", "-", "'; DROP TABLE chunks; --"]:
        store.lexical_search(q, 3)  # no exception
    assert fts_query("   ") == ""


def test_access_filter_in_both_indexes(store):
    pub = make_chunks("pub.md", ["quy trình công khai"])
    internal = make_chunks("internal/note.md", ["quy trình nội bộ"], access="internal")
    store.replace_file("/x/pub.md", "h", 1, 0.0, pub, vectors(1))
    store.replace_file("/x/internal/note.md", "h", 1, 0.0, internal, vectors(1, 5))
    lex = {cid for cid, _ in store.lexical_search("quy trình", 10, access=["public"])}
    assert lex == {pub[0].chunk_id}
    dense = {cid for cid, _ in store.dense_search(vectors(1, 5)[0], 10, where={"access": {"$in": ["public"]}})}
    assert dense == {pub[0].chunk_id}


def test_crash_between_chroma_and_manifest_is_reconciled(settings):
    store = Store(settings, "test-model", DIM)
    chunks = make_chunks("e.md", ["một", "hai"])
    # Simulate a crash: vectors written to Chroma, manifest never committed.
    store._log_pending([c.chunk_id for c in chunks])
    store._chroma_upsert(chunks, vectors(2))
    store.db.close()
    reopened = Store(settings, "test-model", DIM)
    assert chroma_ids(reopened) == manifest_ids(reopened) == set()
    reopened.close()


def test_store_refuses_another_embedding_model(settings):
    Store(settings, "model-a", DIM).close()
    with pytest.raises(StoreError, match="ASSISTANT_EMBEDDING_MODEL"):
        Store(settings, "model-b", DIM)


def test_large_batches_are_split_for_chroma(settings):
    store = Store(settings, "test-model", DIM)
    store.max_batch = 100  # Chroma refuses ~5,400 at once; prove the batching path on a small scale
    chunks = make_chunks("big.jsonl", [f"đoạn {i}" for i in range(450)])
    store.replace_file("/x/big.jsonl", "h", 1, 0.0, chunks, vectors(450))
    assert store.collection.count() == 450 == len(manifest_ids(store))
    store.close()


def test_unwritable_store_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(Settings.from_env(env={}, store_dir=blocker / "store"), "m", DIM)
