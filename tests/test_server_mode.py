"""Server mode: several assistant processes share one Chroma server, and what one
ingests the others find, through the lexical index as well as the vectors.

Everything is real: a ``chroma run`` server on loopback (started here), the
multilingual-e5-small model, and one SQLite mirror per simulated process (each
``Store`` has its own ``store_dir``). One test runs ``assistant ingest`` in a
separate OS process. Each test uses its own collection on the shared server;
the outage test starts, stops and restarts a server of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from assistant.ingestion import Ingestor
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Store, StoreError
from tests.conftest import ROOT

CHROMA = Path(sys.executable).with_name("chroma")

FEES = "thu-tuc/le-phi-xay-dung.md"
FEES_TEXT = """# Lệ phí cấp giấy phép xây dựng

Mã thủ tục: XD-7731

Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ là 75.000 đồng, nộp tại bộ phận một cửa.
"""
FEES_CHANGED = """# Lệ phí cấp giấy phép xây dựng

Mã thủ tục: XD-7731

Từ năm nay lệ phí được miễn hoàn toàn khi nộp hồ sơ trực tuyến qua cổng dịch vụ công.
"""
OLD_Q = "riêng một cửa"  # words only the first version of FEES has
NEW_Q = "miễn trực tuyến cổng"  # words only the second version has
FERRY = "guides/ferry-timetable.md"
FERRY_TEXT = """# Ferry timetable to Cat Ba island

The first ferry leaves Gia Luan pier at 06:30 and the last one at 17:00; tickets cost 80,000 dong.
"""
BUDGET = "internal/du-toan.md"
BUDGET_TEXT = """# Dự toán ngân sách nội bộ quý ba

Kinh phí sửa chữa trụ sở được duyệt 1,2 tỷ đồng, chỉ lưu hành nội bộ, mã hồ sơ NB-4410.
"""


# ---------------------------------------------------------------------- a real Chroma server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """``chroma run`` on 127.0.0.1 as a child process, with its data under ``path``."""

    def __init__(self, path: Path, port: int | None = None):
        self.path = path
        self.port = port or free_port()
        self.log = path.parent / f"{path.name}-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        import chromadb

        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                    settings=chromadb.Settings(anonymized_telemetry=False)).heartbeat()
                return
            except Exception:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                pytest.fail(f"the Chroma server did not come up on port {self.port} within {timeout:.0f} s:\n{tail}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None


def _need_chroma() -> None:
    if CHROMA.exists():
        return
    reason = f"no `chroma` executable next to the Python in use ({CHROMA}); install chromadb in this venv"
    if os.environ.get("ASSISTANT_REQUIRE_CHROMA_SERVER") == "1":
        pytest.fail(reason + " (ASSISTANT_REQUIRE_CHROMA_SERVER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_chroma()
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture()
def collection() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def server_settings(tmp_path: Path, name: str, port: int, collection: str, **overrides) -> Settings:
    return Settings.from_env(
        env={}, store_dir=tmp_path / name / "store", data_dir=tmp_path / name / "data",
        chroma_host="127.0.0.1", chroma_port=port, collection=collection, **{"sync_seconds": 0, **overrides},
    )


def open_store(tmp_path: Path, name: str, port: int, collection: str, embedder, **overrides) -> Store:
    """One simulated assistant process: its own store_dir, the shared server."""
    return Store(server_settings(tmp_path, name, port, collection, **overrides), embedder.name, embedder.dimension)


def write(folder: Path, rel: str, text: str) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ingest(store: Store, embedder, folder: Path, prune: bool = False):
    report = Ingestor(store.settings, embedder, store, progress=False).run([folder], prune=prune)
    assert not report.failed, report.failed
    return report


def rows(store: Store) -> set[tuple]:
    """What a store's SQLite side holds, chunk by chunk."""
    return set(store.db.execute("SELECT chunk_id, path, doc_id, idx, text, title, access, hash FROM chunks"))


def files(store: Store) -> set[tuple]:
    return set(store.db.execute("SELECT path, file_hash, chunk_count FROM files"))


def lexical_docs(store: Store, query: str, **kw) -> set[str]:
    ids = [cid for cid, _ in store.lexical_search(query, 10, **kw)]
    return {c.doc_id for c in store.get_chunks(ids).values()}


def dense_top(store: Store, embedder, query: str) -> str | None:
    found = store.dense_search(embedder.encode_queries([query])[0], 5)
    if not found:
        return None
    chunks = store.get_chunks([found[0][0]])
    return chunks[found[0][0]].doc_id if chunks else f"unknown:{found[0][0]}"


@pytest.fixture()
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    write(folder, FEES, FEES_TEXT)
    write(folder, FERRY, FERRY_TEXT)
    write(folder, BUDGET, BUDGET_TEXT)
    return folder


# ---------------------------------------------------------------------- two stores, one server

def test_ingest_through_a_is_found_by_b_lexically_and_densely(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    b = open_store(tmp_path, "b", server.port, collection, embedder)  # open before anything is ingested
    assert b.counts()["chunks"] == 0
    ingest(a, embedder, docs)

    assert lexical_docs(b, "XD-7731") == {FEES}
    assert lexical_docs(b, "ferry Gia Luan pier") == {FERRY}
    assert lexical_docs(b, "rieng mot cua") == {FEES}  # typed without accents: the folded column
    assert dense_top(b, embedder, "Xin giấy phép xây dựng nhà ở mất bao nhiêu tiền?") == FEES
    assert dense_top(b, embedder, "When does the boat to Cat Ba leave?") == FERRY

    assert rows(b) == rows(a) and files(b) == files(a)  # the mirror holds exactly what the writer holds
    ids = [r[0] for r in rows(a)]
    assert b.get_chunks(ids) == a.get_chunks(ids)
    assert b.counts() == a.counts() == {"files": 3, "documents": 3, "chunks": len(ids), "vectors": len(ids)}
    assert [d.doc_id for d in b.documents()] == [d.doc_id for d in a.documents()]
    # the vectors came along into B's embedding cache: B re-ingesting the same texts embeds nothing
    assert len(b.cached_vectors([r[7] for r in rows(a)])) == len(ids)
    assert b.sync() == 0  # nothing new
    a.close()
    b.close()


def test_changed_and_removed_files_reach_b(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    b = open_store(tmp_path, "b", server.port, collection, embedder)
    ingest(a, embedder, docs)
    assert lexical_docs(b, OLD_Q) == {FEES}
    old_ids = {r[0] for r in rows(b) if r[2] == FEES}

    write(docs, FEES, FEES_CHANGED)
    assert ingest(a, embedder, docs).updated == 1
    assert lexical_docs(b, NEW_Q) == {FEES}
    assert not lexical_docs(b, OLD_Q)  # the old text is gone from B's lexical index
    changed = [cid for cid in old_ids if cid not in {r[0] for r in rows(a)}]
    assert changed and not b.get_chunks(changed)
    assert rows(b) == rows(a)
    assert b.counts() == a.counts() and b.counts()["vectors"] == b.counts()["chunks"]  # no stale vector left

    (docs / FERRY).unlink()
    assert ingest(a, embedder, docs, prune=True).removed == 1
    assert not lexical_docs(b, "ferry Gia Luan pier")
    assert dense_top(b, embedder, "When does the boat to Cat Ba leave?") != FERRY
    assert FERRY not in {d.doc_id for d in b.documents()}

    budget_path = next(p for p, _, _ in files(a) if p.endswith("du-toan.md"))
    assert a.remove_file(budget_path) > 0  # the staff workspace's "remove" path
    assert not lexical_docs(b, "NB-4410")
    assert rows(b) == rows(a) and b.counts() == a.counts() == {**a.counts(), "files": 1}
    a.close()
    b.close()


def test_a_fresh_store_dir_opened_later_gets_everything(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    ingest(a, embedder, docs)
    write(docs, FEES, FEES_CHANGED)
    ingest(a, embedder, docs)  # a second version, so C must take the current one only
    c = open_store(tmp_path, "c", server.port, collection, embedder, sync_seconds=60)  # synced on open
    assert rows(c) == rows(a) and files(c) == files(a) and c.counts() == a.counts()
    assert lexical_docs(c, "NB-4410") == {BUDGET} and not lexical_docs(c, OLD_Q)
    assert dense_top(c, embedder, "When does the boat to Cat Ba leave?") == FERRY
    # and C is a full writer: re-ingesting the same folder finds every file unchanged
    assert ingest(c, embedder, docs).unchanged == 3
    a.close()
    c.close()


def test_sync_interval_holds_changes_back_until_sync(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    ingest(a, embedder, docs)
    b = open_store(tmp_path, "b", server.port, collection, embedder, sync_seconds=60)
    assert lexical_docs(b, "XD-7731") == {FEES}
    write(docs, "thu-tuc/cap-so-nha.md", "# Cấp số nhà\n\nCấp biển số nhà mới, mã thủ tục SN-2208, trong 03 ngày.\n")
    ingest(a, embedder, docs)
    assert not lexical_docs(b, "SN-2208")  # within the interval: served from the mirror as it was
    assert b.counts()["files"] == 3
    assert b.sync() == 1
    assert lexical_docs(b, "SN-2208") == {"thu-tuc/cap-so-nha.md"}
    a.close()
    b.close()


def test_access_rule_still_holds_for_the_mirror(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    ingest(a, embedder, docs)
    b = open_store(tmp_path, "b", server.port, collection, embedder)
    retriever = Retriever(b, embedder)
    question = "Dự toán kinh phí sửa chữa trụ sở NB-4410 là bao nhiêu?"
    for mode in ("hybrid", "dense", "lexical"):
        public = retriever.retrieve(question, audience="public", mode=mode)
        assert public and all(h.chunk.access == "public" for h in public)
        assert all(c.access == "public" for h in public for c in h.context)
        assert BUDGET not in {h.chunk.doc_id for h in public}
    staff = retriever.retrieve(question, audience="staff")
    assert staff[0].chunk.doc_id == BUDGET and staff[0].chunk.access == "internal"
    a.close()
    b.close()


def test_another_embedding_model_is_refused_by_the_collection(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    a.close()
    # a fresh store_dir, so only the server's collection can tell
    settings = server_settings(tmp_path, "other", server.port, collection)
    with pytest.raises(StoreError, match="ASSISTANT_EMBEDDING_MODEL") as err:
        Store(settings, "some-other-model", embedder.dimension)
    assert collection in str(err.value) and f"127.0.0.1:{server.port}" in str(err.value)


def test_no_server_on_the_port_is_a_clear_store_error(tmp_path, collection, embedder):
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError) as err:
        open_store(tmp_path, "lonely", port, collection, embedder)
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "chroma run --path" in message and f"--port {port}" in message


def test_settings_sync_seconds_is_checked():
    from assistant.settings import SettingsError

    assert Settings.from_env(env={"ASSISTANT_SYNC_SECONDS": "0"}).sync_seconds == 0
    with pytest.raises(SettingsError, match="ASSISTANT_SYNC_SECONDS"):
        Settings.from_env(env={"ASSISTANT_SYNC_SECONDS": "-1"})


# ---------------------------------------------------------------------- two real processes

def test_ingest_in_another_os_process_is_found_here(tmp_path, server, collection, embedder, docs):
    env = {
        **os.environ,
        "ASSISTANT_CHROMA_HOST": "127.0.0.1",
        "ASSISTANT_CHROMA_PORT": str(server.port),
        "ASSISTANT_COLLECTION": collection,
        "ASSISTANT_STORE_DIR": str(tmp_path / "writer" / "store"),
        "ASSISTANT_DATA_DIR": str(tmp_path / "writer" / "data"),
    }
    here = open_store(tmp_path, "reader", server.port, collection, embedder)  # up before the writer runs
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(docs), "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["added"] == 3 and report["store"]["chunks"] == report["store"]["vectors"] > 0

    retriever = Retriever(here, embedder)
    lexical = retriever.retrieve("mã thủ tục XD-7731", audience="public", mode="lexical")
    assert lexical and lexical[0].chunk.doc_id == FEES
    dense = retriever.retrieve("How much is a ferry ticket to Cat Ba?", audience="public", mode="dense")
    assert dense and dense[0].chunk.doc_id == FERRY
    assert here.counts() == {k: v for k, v in report["store"].items()}
    here.close()


# ---------------------------------------------------------------------- the server goes away

def test_server_stopped_then_restarted(tmp_path, embedder, docs, collection):
    _need_chroma()
    srv = ChromaServer(tmp_path / "own-server")
    srv.start()
    try:
        a = open_store(tmp_path, "a", srv.port, collection, embedder)
        ingest(a, embedder, docs)
        b = open_store(tmp_path, "b", srv.port, collection, embedder)
        before = b.counts()
        srv.stop()

        # B keeps answering from its mirror: lexical search, chunks and documents as of the last sync
        assert lexical_docs(b, "XD-7731") == {FEES}
        assert dense_top(b, embedder, "giấy phép xây dựng") is None  # dense: [] while the server is away
        hits = Retriever(b, embedder).retrieve("lệ phí giấy phép xây dựng XD-7731", audience="public")
        assert hits and hits[0].chunk.doc_id == FEES and hits[0].dense_rank is None
        assert b.counts() == {**before, "vectors": None}
        assert len(b.documents()) == 3
        with pytest.raises(StoreError, match=f"127.0.0.1:{srv.port}"):
            b.sync()  # an explicit sync says why it cannot
        write(docs, "thu-tuc/cap-so-nha.md", "# Cấp số nhà\n\nCấp biển số nhà mới, mã thủ tục SN-2208.\n")
        with pytest.raises(StoreError, match="chroma run"):
            ingest(a, embedder, docs)  # writes need the server
        assert "thu-tuc/cap-so-nha.md" not in {d.doc_id for d in a.documents()}  # nothing half-done

        srv.start()  # same path, same port: B recovers without being reopened
        assert dense_top(b, embedder, "giấy phép xây dựng") == FEES
        assert b.counts() == before
        ingest(a, embedder, docs)
        assert lexical_docs(b, "SN-2208") == {"thu-tuc/cap-so-nha.md"}
        assert rows(b) == rows(a) and b.counts() == a.counts()
        a.close()
        b.close()
    finally:
        srv.stop()


class _FailingUpserts:
    """The file-record collection, but upserts fail as if the server had just gone away."""

    def __init__(self, inner):
        self.inner = inner
        self.fail = True

    def upsert(self, **kw):
        if self.fail:
            raise httpx.ConnectError("connection refused (simulated)")
        return self.inner.upsert(**kw)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_record_the_server_never_got_is_published_by_the_next_sync(tmp_path, server, collection, embedder, docs):
    a = open_store(tmp_path, "a", server.port, collection, embedder)
    ingest(a, embedder, docs)
    b = open_store(tmp_path, "b", server.port, collection, embedder)
    a.files = _FailingUpserts(a.files)
    write(docs, FEES, FEES_CHANGED)
    with pytest.raises(StoreError):
        ingest(a, embedder, docs)  # chunks and A's manifest written, the file record not
    assert lexical_docs(a, NEW_Q) == {FEES}
    # B still sees the published version, whole: the old chunks are only deleted after publishing
    assert lexical_docs(b, OLD_Q) == {FEES} and not lexical_docs(b, NEW_Q)
    old_ids = [r[0] for r in rows(b) if r[2] == FEES]
    assert len(b.get_chunks(old_ids)) == len(old_ids)

    a.files.fail = False
    a.sync()  # A publishes what it owed first (a reopen would do the same)
    a.reconcile()
    assert lexical_docs(b, NEW_Q) == {FEES} and not lexical_docs(b, OLD_Q)
    assert rows(b) == rows(a)
    assert a.collection.count() == a.counts()["chunks"]  # the replaced chunks' vectors are gone too
    a.close()
    b.close()
