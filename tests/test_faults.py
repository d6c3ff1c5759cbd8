"""Faults injected for real: kill -9 mid-ingest, a full disk, a read-only store.

Nothing is mocked: the ``assistant ingest`` command runs in its own process and
is SIGKILLed; the store lives on a small tmpfs that a filler file fills up; the
tmpfs is remounted read-only. Mounting needs root: without it those tests skip
with the reason, unless ASSISTANT_REQUIRE_FAULTS=1 (CI), which makes them fail.
(The Chroma server going away is injected by tests/test_server_mode.py.)

Each test merges what it injected into test-artifacts/faults.json.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.chunking import Chunker
from assistant.ingestion import Ingestor
from assistant.loaders import iter_source_files, load_file
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Store, StoreError, StoreFullError, StoreReadOnlyError
from assistant.types import Chunk, content_hash, make_chunk_id
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "faults.json"
KILLS = int(os.environ.get("ASSISTANT_FAULT_KILLS", "8"))
SEED = 20240611


# ---------------------------------------------------------------------- helpers

def record(**values) -> None:
    """Merge ``values`` into test-artifacts/faults.json."""
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(ARTIFACTS.read_text())
    except (OSError, ValueError):
        data = {}
    data.update(values)
    ARTIFACTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


VI_TOPICS = [
    "cấp giấy phép xây dựng", "đăng ký khai sinh", "cấp bản sao trích lục", "đăng ký kết hôn", "cấp căn cước",
    "đăng ký thường trú", "cấp phiếu lý lịch tư pháp", "chuyển nhượng quyền sử dụng đất",
    "đăng ký kinh doanh hộ cá thể", "cấp giấy phép lái xe", "trợ cấp thất nghiệp", "bảo hiểm y tế học sinh",
]
EN_TOPICS = [
    "building permits", "birth registration", "business licences", "passport renewal", "driving licences",
    "unemployment benefit", "land transfer", "health insurance for students", "marriage registration",
    "criminal record certificates", "residence registration", "fishing permits",
]
VI_PLACES = [
    "Hà Nội", "Huế", "Đà Nẵng", "Cần Thơ", "Hải Phòng", "Quảng Ninh", "Lào Cai", "Bến Tre",
]
EN_PLACES = [
    "Cat Ba", "Da Lat", "Nha Trang", "Vinh", "Phu Quoc", "Sa Pa", "Hoi An", "Ha Long",
]
VI_LINES = [
    "Cán bộ tiếp nhận kiểm tra tính hợp lệ của hồ sơ.",
    "Trường hợp hồ sơ chưa đầy đủ, cán bộ hướng dẫn bổ sung một lần.",
    "Người nộp có thể theo dõi tiến độ trên cổng thông tin điện tử.",
    "Kết quả được trả qua dịch vụ bưu chính công ích nếu có yêu cầu.",
    "Bản sao có chứng thực được chấp nhận thay cho bản chính.",
]
EN_LINES = [
    "Officers check every form at the one-stop desk.", "Missing papers are requested once, in writing.",
    "Progress can be followed on the national public service portal.",
    "Results can be delivered by post on request.", "Certified copies are accepted instead of originals.",
]


def _vi_file(rng: random.Random, n: int) -> str:
    topic, place = rng.choice(VI_TOPICS), rng.choice(VI_PLACES)
    out = [f"# Hướng dẫn thủ tục {topic} tại {place} (số {n})", ""]
    for i in range(1, rng.randint(3, 6)):
        code = f"TT-{n:02d}{i}{rng.randint(100, 999)}"
        head = rng.choice(["Hồ sơ", "Thời hạn", "Lệ phí", "Nơi nộp", "Kết quả"])
        out += [f"## Điều {i}. {head} ({code})", "",
                f"Thời hạn giải quyết {topic} là {rng.randint(1, 30)} ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ "
                f"tại {place}. Lệ phí là {rng.randint(1, 500) * 1000:,} đồng, nộp tại bộ phận một cửa hoặc qua Cổng "
                f"Dịch vụ công quốc gia. Mã thủ tục {code} được ghi trên giấy hẹn trả kết quả. "
                + " ".join(rng.choice(VI_LINES) for _ in range(rng.randint(2, 5))), ""]
    return "\n".join(out)


def _en_file(rng: random.Random, n: int) -> str:
    topic, place = rng.choice(EN_TOPICS), rng.choice(EN_PLACES)
    out = [f"{topic.title()} in {place} (guide {n})", ""]
    for i in range(1, rng.randint(3, 6)):
        code = f"EN-{n:02d}{i}{rng.randint(100, 999)}"
        head = rng.choice(["Documents", "Processing time", "Fees", "Where to apply", "Results"])
        out += [f"Section {i}. {head}", "",
                f"Applications for {topic} in {place} are processed within {rng.randint(1, 30)} working days; the "
                f"fee is {rng.randint(1, 300) * 1000:,} dong and reference {code} is printed on the receipt. "
                + " ".join(rng.choice(EN_LINES) for _ in range(rng.randint(2, 5))), ""]
    return "\n".join(out)


def make_corpus(root: Path, files: int, seed: int = SEED, start: int = 0) -> Path:
    """``files`` small guides: two in three Vietnamese Markdown, one in three English text."""
    rng = random.Random(seed + start)
    for n in range(start, start + files):
        text, name = (_en_file(rng, n), f"en/guide-{n:02d}.txt") if n % 3 == 2 else \
            (_vi_file(rng, n), f"vi/thu-tuc-{n:02d}.md")
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def expected_ids(root: Path, settings: Settings) -> set[str]:
    chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap)
    return {c.chunk_id for f, r in iter_source_files([root]) for d in load_file(f, root=r) for c in chunker.split(d)}


def cli_env(store_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_STORE_DIR": str(store_dir), **extra})
    return env


def ingest_cmd(*paths: Path) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "ingest", *map(str, paths), "--json"]


def run_cli(paths: list[Path], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(ingest_cmd(*paths), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def open_store(store_dir: Path, embedder) -> Store:
    return Store(Settings.from_env(env={}, store_dir=store_dir), embedder.name, embedder.dimension)


def chroma_ids(store: Store) -> set[str]:
    return set(store.collection.get(include=[])["ids"])


def manifest_ids(store: Store) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks")}


def fts_rows(store: Store) -> set[tuple]:
    return set(store.db.execute(
        "SELECT c.chunk_id, f.body, f.folded FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid"))


def assert_consistent(store: Store) -> None:
    """Every visible chunk belongs to a file in the manifest; the lexical index matches the rows."""
    db = store.db
    assert db.execute("SELECT COUNT(*) FROM chunks WHERE path NOT IN (SELECT path FROM files)").fetchone()[0] == 0
    bad = db.execute("SELECT f.path FROM files f LEFT JOIN chunks c ON c.path = f.path GROUP BY f.path "
                     "HAVING COUNT(c.chunk_id) != MAX(f.chunk_count)").fetchall()
    assert not bad, f"files whose chunk rows do not match the manifest: {bad}"
    assert db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == db.execute(
        "SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert db.execute("SELECT COUNT(*) FROM chunks c LEFT JOIN chunks_fts f ON f.rowid = c.rowid "
                      "WHERE f.rowid IS NULL").fetchone()[0] == 0


def visible_paths(store: Store, hits) -> set[str]:
    ids = [h.chunk.chunk_id for h in hits]
    marks = ",".join("?" * len(ids))
    return {r[0] for r in store.db.execute(f"SELECT path FROM chunks WHERE chunk_id IN ({marks})", ids)}


def answers(store: Store, embedder, question: str) -> dict[str, list[str]]:
    """Top chunk ids for the question, lexically, densely and hybrid (staff see everything)."""
    retriever = Retriever(store, embedder)
    out = {}
    for mode in ("lexical", "dense", "hybrid"):
        hits = retriever.retrieve(question, audience="staff", k=5, mode=mode)
        manifest = {r[0] for r in store.db.execute("SELECT path FROM files")}
        assert visible_paths(store, hits) <= manifest, "a chunk of a file the manifest does not know was shown"
        out[mode] = [h.chunk.chunk_id for h in hits]
    return out


# ---------------------------------------------------------------------- a small tmpfs, mounted for real

def _mount_refused(reason: str):
    if os.environ.get("ASSISTANT_REQUIRE_FAULTS") == "1":
        pytest.fail(reason + " (ASSISTANT_REQUIRE_FAULTS=1)")
    pytest.skip(reason)


class Tmpfs:
    """``mount -t tmpfs`` at ``path``; ``read_only()``/``read_write()`` remount it; ``fill()`` leaves N bytes."""

    def __init__(self, path: Path, size: str):
        self.path = path
        self.size = size
        self.mounted = False

    def mount(self) -> None:
        if os.geteuid() != 0:
            _mount_refused("mounting a tmpfs (for the full-disk and read-only faults) needs root")
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            _mount_refused(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        self.mounted = True

    def _remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, capture_output=True)

    def read_only(self) -> None:
        self._remount("ro")

    def read_write(self) -> None:
        self._remount("rw")

    def fill(self, leave: int = 0) -> Path:
        """Fill the disk with a filler file, then shrink it so ``leave`` bytes stay free."""
        filler = self.path / "filler.bin"
        block = b"\0" * (1 << 16)
        with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to flush at close
            try:
                while True:
                    fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave:
            os.truncate(filler, max(0, filler.stat().st_size - leave))
        return filler

    def unmount(self) -> None:
        if not self.mounted:
            return
        if subprocess.run(["umount", str(self.path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)  # still open somewhere: detach
        self.mounted = False


@pytest.fixture()
def tmpfs(tmp_path):
    made: list[Tmpfs] = []

    def make(size: str, name: str = "mnt") -> Tmpfs:
        fs = Tmpfs(tmp_path / name, size)
        made.append(fs)
        fs.mount()
        return fs

    yield make
    for fs in made:
        fs.unmount()


def one_error_line(stderr: str) -> str:
    """The CLI's failure as a person sees it: one 'error:' line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


# ---------------------------------------------------------------------- 1. kill -9, again and again

def _progress(store_dir: Path) -> int:
    """How much an ingest has committed (cached vectors + files); -1 while there is no readable index."""
    db = store_dir / "index.sqlite3"
    if not db.exists():
        return -1
    try:
        con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT (SELECT COUNT(*) FROM embeddings) + (SELECT COUNT(*) FROM files)").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _a_stored_phrase(store: Store, rng: random.Random) -> str:
    texts = [r[0] for r in store.db.execute("SELECT text FROM chunks ORDER BY rowid")]
    return " ".join(rng.choice(texts).split()[:10]) if texts else "thủ tục"


def test_kill_9_repeatedly_then_resume_converges(tmp_path, embedder):
    """SIGKILL ``assistant ingest`` at random points of its work; after every kill the store opens,
    counts, answers lexically and densely, and shows nothing the manifest does not hold; then one
    uninterrupted run converges to exactly what a clean ingest into a fresh store holds."""
    started = time.monotonic()
    corpus = make_corpus(tmp_path / "corpus", 42)
    store_dir = tmp_path / "store"
    env = cli_env(store_dir, ASSISTANT_EMBED_BATCH_SIZE="4")  # 32 passages per embedding call: kills lose less
    rng = random.Random(SEED)
    kills, runs, kill_points, run_seconds = 0, 0, [], []
    questions = ["lệ phí cấp giấy phép xây dựng", "thoi han dang ky khai sinh",
                 "passport renewal fee Da Lat"]
    while kills < KILLS and runs < KILLS + 8:
        before = _progress(store_dir)
        proc = subprocess.Popen(ingest_cmd(corpus), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        runs += 1
        run_started = time.monotonic()
        try:
            # Wait until this run has committed something (it is past start-up and working), then a
            # random extra moment, so the kill lands mid-work: embedding, caching, Chroma, manifest.
            deadline = time.monotonic() + 180
            while proc.poll() is None and _progress(store_dir) <= before and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                kill_points.append(_progress(store_dir))
            _, err = proc.communicate(timeout=60)
            run_seconds.append(round(time.monotonic() - run_started, 1))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != -signal.SIGKILL:
            assert proc.returncode == 0, err
            break  # it finished before the kill: nothing left to interrupt

        store = open_store(store_dir, embedder)  # opens and reconciles what the kill interrupted
        try:
            counts = store.counts()
            assert_consistent(store)
            assert chroma_ids(store) == manifest_ids(store), "Chroma and the manifest disagree after reconcile"
            assert counts["vectors"] == counts["chunks"]
            assert store.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
            for question in (questions[kills % len(questions)], _a_stored_phrase(store, rng)):
                found = answers(store, embedder, question)  # lexical and dense answer, from the manifest only
            if counts["chunks"]:  # the last question is words of a stored chunk: every search finds something
                assert found["lexical"] and found["dense"] and found["hybrid"]
        finally:
            store.close()

    assert kills >= min(KILLS, 6), f"only {kills} kills landed mid-work in {runs} runs: make the corpus larger"
    final_started = time.monotonic()
    final = run_cli([corpus], env)
    final_seconds = time.monotonic() - final_started
    assert final.returncode == 0, final.stderr
    assert json.loads(final.stdout)["failed"] == []

    # A clean, uninterrupted ingest of the same corpus into a fresh store: the reference.
    clean_settings = Settings.from_env(env={}, store_dir=tmp_path / "clean")
    clean = Store(clean_settings, embedder.name, embedder.dimension)
    clean_started = time.monotonic()
    report = Ingestor(clean_settings, embedder, clean, progress=False, warn=lambda line: None).run([corpus])
    clean_seconds = time.monotonic() - clean_started
    assert not report.failed
    store = open_store(store_dir, embedder)
    try:
        want = expected_ids(corpus, clean_settings)
        assert manifest_ids(store) == manifest_ids(clean) == want
        assert chroma_ids(store) == chroma_ids(clean) == want
        assert store.counts() == clean.counts() == {
            "files": 42, "documents": 42, "chunks": len(want), "vectors": len(want)}
        assert fts_rows(store) == fts_rows(clean)
        assert set(store.db.execute("SELECT path, file_hash, chunk_count FROM files")) == set(
            clean.db.execute("SELECT path, file_hash, chunk_count FROM files"))
        assert store.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
        assert_consistent(store)
    finally:
        store.close()
        clean.close()
    record(kills=kills, kill_runs=runs, kill_progress_at_kill=kill_points, kill_corpus_chunks=len(want),
           kill_run_seconds=run_seconds, kill_final_run_seconds=round(final_seconds, 1),
           kill_clean_ingest_seconds=round(clean_seconds, 1), kill_test_seconds=round(time.monotonic() - started, 1))


# ---------------------------------------------------------------------- 2. a full disk

DIM = 8


def small_chunks(doc_id: str, n: int, size: int) -> list[Chunk]:
    rng = random.Random(doc_id)
    out = []
    for i in range(n):
        text = f"Điều {i}. " + " ".join(rng.choice(VI_LINES) for _ in range(size // 50))
        base = Chunk(chunk_id="", doc_id=doc_id, index=i, text=text, title=doc_id, source=doc_id)
        out.append(Chunk(**{**base.__dict__, "chunk_id": make_chunk_id(doc_id, i, content_hash(base.embed_text))}))
    return out


def unit_vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def full_message(exc: BaseException, store_dir: Path) -> str:
    text = str(exc)
    assert "no space left" in text.lower() and str(store_dir) in text, text
    assert "ASSISTANT_STORE_DIR" in text and "free" in text.lower(), text
    return text


def test_disk_full_in_sqlite_and_in_chroma_rolls_back_and_recovers(tmpfs):
    """Store level: the disk refuses SQLite's write, then Chroma's (the intent log still fits); each
    is a StoreFullError saying what to do, the manifest keeps its committed state, a full store
    opens and answers, and once space is freed the intent log removes what Chroma took."""
    fs = tmpfs("4m")
    settings = Settings.from_env(env={}, store_dir=fs.path / "store")
    store = Store(settings, "test-model", DIM)
    kept = small_chunks("kept.md", 5, 300)
    store.cache_vectors([c.hash for c in kept], unit_vectors(5, 1))
    store.replace_file("/docs/kept.md", "h-kept", 1, 0.0, kept, unit_vectors(5, 1))

    def state():
        return manifest_ids(store), fts_rows(store), set(store.db.execute("SELECT path, file_hash FROM files"))

    before = state()
    filler = fs.fill(leave=96 * 1024)

    # SQLite's turn: 4.6 MB of embeddings cannot fit; the transaction rolls back whole.
    with pytest.raises(StoreFullError) as raised:
        store.cache_vectors([f"h{i}" for i in range(3000)], np.ones((3000, 384), dtype=np.float32))
    text = full_message(raised.value, settings.store_dir)
    assert "database or disk is full" in text, text
    assert store.cached_vectors(["h0", "h2999"]) == {}

    # Chroma's turn: the intent log reuses the pages SQLite already holds; Chroma needs new room.
    big = small_chunks("big.md", 400, 1500)
    with pytest.raises(StoreFullError) as raised:
        store.replace_file("/docs/big.md", "h-big", 1, 0.0, big, unit_vectors(400, 2))
    full_message(raised.value, settings.store_dir)
    assert state() == before
    assert store.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 400  # the intent, kept for later
    assert store.lexical_search("Điều 1", 5)  # the manifest side still answers
    store.close()

    # A full store opens (Chroma cannot: it writes at open) and answers; writes say why they cannot.
    store = Store(settings, "test-model", DIM)
    assert state() == before
    assert store.counts() == {"files": 1, "documents": 1, "chunks": 5, "vectors": 5}
    assert store.dense_search(unit_vectors(1, 1)[0], 1)[0][0] == kept[0].chunk_id
    with pytest.raises(StoreFullError, match="no space left"):
        store.replace_file("/docs/big.md", "h-big", 1, 0.0, big[:1], unit_vectors(1, 2))

    filler.unlink()  # space is back: the same Store takes writes again (it retries Chroma, then reconciles)
    small = big[:20]
    store.replace_file("/docs/big.md", "h-big", 1, 0.0, small, unit_vectors(20, 2))
    assert store.collection is not None
    assert chroma_ids(store) == manifest_ids(store) == before[0] | {c.chunk_id for c in small}
    assert store.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0  # big.md's other vectors: gone
    assert store.dense_search(unit_vectors(1, 2)[0], 1)[0][0] == small[0].chunk_id
    store.close()
    store = Store(settings, "test-model", DIM)
    assert chroma_ids(store) == manifest_ids(store) == before[0] | {c.chunk_id for c in small}
    assert store.counts() == {"files": 2, "documents": 2, "chunks": 25, "vectors": 25}
    store.close()
    record(disk_full_store_faults=3)


def test_a_store_that_fills_its_own_disk_fails_cleanly_whichever_write_it_is(tmpfs):
    """No filler: the store's own writes fill the disk, so the refusal comes wherever it comes
    (SQLite, Chroma's log, or Chroma applying its log); it is always a StoreFullError, every file
    the manifest holds is whole, and after space is freed nothing Chroma took is left over."""
    fs = tmpfs("3m")
    room = fs.path / "reserve.bin"
    room.write_bytes(b"\1" * (512 * 1024))  # given back at the end, as a person would free space
    settings = Settings.from_env(env={}, store_dir=fs.path / "store")
    store = Store(settings, "test-model", DIM)
    written = 0
    with pytest.raises(StoreFullError) as raised:
        for n in range(200):
            chunks = small_chunks(f"f{n}.md", 40, 600)
            store.cache_vectors([c.hash for c in chunks], unit_vectors(40, n))
            store.replace_file(f"/docs/f{n}.md", f"h{n}", 1, 0.0, chunks, unit_vectors(40, n))
            written += 1
    full_message(raised.value, settings.store_dir)
    assert written >= 1
    assert_consistent(store)
    assert store.counts()["files"] == written
    store.close()
    room.unlink()
    store = Store(settings, "test-model", DIM)
    assert store.counts() == {"files": written, "documents": written, "chunks": 40 * written, "vectors": 40 * written}
    assert chroma_ids(store) == manifest_ids(store)
    hit = store.dense_search(unit_vectors(40, 0)[3], 1)[0][0]
    assert hit == small_chunks("f0.md", 40, 600)[3].chunk_id
    store.close()
    record(disk_full_self_filled_faults=1, disk_full_self_filled_message=str(raised.value)[:600])


def test_disk_full_during_cli_ingest_keeps_what_was_stored(tmpfs, tmp_path, embedder):
    """The command line on a full disk: one clear error line, exit 2; what was ingested before stays
    whole and answerable; after space is freed the same command completes."""
    fs = tmpfs("6m")
    store_dir = fs.path / "store"
    first = make_corpus(tmp_path / "corpus", 4)
    settings = Settings.from_env(env={}, store_dir=store_dir)
    store = Store(settings, embedder.name, embedder.dimension)
    assert not Ingestor(settings, embedder, store, progress=False).run([first]).failed
    question = "lệ phí cấp giấy phép"
    before_ids, before_counts = manifest_ids(store), store.counts()
    before_answers = answers(store, embedder, question)
    store.close()

    make_corpus(first, 8, start=4)  # 8 more files: far more than the room left
    env = cli_env(store_dir)
    filler = fs.fill(leave=64 * 1024)
    failed = run_cli([first], env)
    assert failed.returncode == 2, (failed.returncode, failed.stderr)
    line = one_error_line(failed.stderr)
    full_message(line, store_dir)
    assert failed.stdout == "" and len([x for x in failed.stderr.splitlines() if x.strip()]) == 1, failed.stderr

    again = run_cli([first], env)  # still full: the same one line, whatever step refuses first
    assert again.returncode == 2
    assert "no space left" in one_error_line(again.stderr)
    assert len([line for line in again.stderr.splitlines() if line.strip()]) == 1, again.stderr

    # Still full: the store opens and answers what it held before (lexically at least).
    store = Store(settings, embedder.name, embedder.dimension)
    assert before_ids <= manifest_ids(store)
    assert_consistent(store)
    assert answers(store, embedder, question)["lexical"]
    store.close()

    filler.unlink()
    store = Store(settings, embedder.name, embedder.dimension)
    assert before_ids <= manifest_ids(store)
    assert chroma_ids(store) == manifest_ids(store)  # what Chroma took for unfinished files is gone
    assert_consistent(store)
    after = answers(store, embedder, question)
    assert set(before_answers["lexical"]) & set(after["lexical"]) and after["dense"]
    store.close()

    store = Store(settings, embedder.name, embedder.dimension)  # the same ingest again completes it
    report = Ingestor(settings, embedder, store, progress=False).run([first])
    assert not report.failed and report.added + report.unchanged == 12 and report.unchanged >= 4
    want = expected_ids(first, settings)
    assert manifest_ids(store) == chroma_ids(store) == want
    assert store.counts()["files"] == 12 and before_counts["files"] == 4
    store.close()
    record(disk_full_cli_faults=2)


# ---------------------------------------------------------------------- 3. a read-only store

def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_read_only_store_answers_and_refuses_writes_clearly(tmpfs, tmp_path, embedder):
    """On a read-only mount the store opens for reading (SQLite read-only, exact dense search over
    the cached vectors), gives the same answers, and refuses every write with a clear error; after
    a remount read-write it opens and answers as before."""
    fs = tmpfs("24m")
    store_dir = fs.path / "store"
    corpus = make_corpus(tmp_path / "corpus", 8)
    settings = Settings.from_env(env={}, store_dir=store_dir)
    store = Store(settings, embedder.name, embedder.dimension)
    assert not Ingestor(settings, embedder, store, progress=False).run([corpus]).failed
    questions = ["thời hạn giải quyết hồ sơ", "fee reference receipt", "le phi mot cua"]
    before = {q: answers(store, embedder, q) for q in questions}
    counts = store.counts()
    vector = embedder.encode_queries(["đăng ký thường trú"])[0]
    dense_before = store.dense_search(vector, 5)
    store.close()
    assert not (store_dir / "index.sqlite3-wal").exists()  # a clean close: read-only opens it immutable

    empty = fs.path / "empty"
    empty.mkdir()
    fs.read_only()
    digest = tree_digest(store_dir)

    store = Store(settings, embedder.name, embedder.dimension)
    try:
        assert store.read_only and store.collection is None
        assert store.counts() == counts
        for q in questions:
            got = answers(store, embedder, q)
            assert got["lexical"] == before[q]["lexical"]
            assert got["dense"][:3] == before[q]["dense"][:3]  # exact search vs Chroma's: same neighbours
            assert got["hybrid"][:3] == before[q]["hybrid"][:3]
        dense = store.dense_search(vector, 5)
        assert [i for i, _ in dense] == [i for i, _ in dense_before]
        assert np.allclose([s for _, s in dense], [s for _, s in dense_before], atol=1e-4)
        public = store.dense_search(vector, 5, where={"$and": [{"access": {"$in": ["public"]}},
                                                                {"language": "vi"}]})
        assert public and all(c.access == "public" and c.language == "vi"
                              for c in store.get_chunks([i for i, _ in public]).values())
        assert Retriever(store, embedder).retrieve(questions[0], audience="public")

        with pytest.raises(StoreReadOnlyError, match=f"the store at {store_dir} is read-only: "):
            store.replace_file("/x.md", "h", 1, 0.0, [], np.zeros((0, embedder.dimension)))
        with pytest.raises(StoreReadOnlyError, match="read-only file system"):
            store.remove_file(next(iter(store.file_paths())))
        with pytest.raises(StoreReadOnlyError, match="ASSISTANT_STORE_DIR"):
            Ingestor(settings, embedder, store, progress=False).run([corpus])
        assert store.counts() == counts
    finally:
        store.close()

    failed = run_cli([corpus], cli_env(store_dir))  # fails before the model is even loaded
    assert failed.returncode == 2
    line = one_error_line(failed.stderr)
    assert f"the store at {store_dir} is read-only: it is on a read-only file system" in line, line

    with pytest.raises(StoreReadOnlyError, match="holds no index yet"):
        Store(Settings.from_env(env={}, store_dir=empty), embedder.name, embedder.dimension)
    server = Settings.from_env(env={}, store_dir=store_dir, chroma_host="127.0.0.1", chroma_port=9)
    with pytest.raises(StoreReadOnlyError, match="server mode"):
        Store(server, embedder.name, embedder.dimension)
    assert tree_digest(store_dir) == digest  # nothing changed on disk

    fs.read_write()
    store = Store(settings, embedder.name, embedder.dimension)
    try:
        assert not store.read_only
        assert store.counts() == counts and chroma_ids(store) == manifest_ids(store)
        for q in questions:
            assert answers(store, embedder, q) == before[q]
    finally:
        store.close()
    record(read_only_faults=1)


def test_read_only_store_left_by_a_crash_reads_its_write_ahead_log(tmpfs, tmp_path, embedder):
    """A store whose last writer was killed keeps committed changes in index.sqlite3-wal; read-only,
    it is opened with mode=ro so those changes are read, not ignored."""
    fs = tmpfs("16m")
    store_dir = fs.path / "store"
    corpus = make_corpus(tmp_path / "corpus", 3)
    settings = Settings.from_env(env={}, store_dir=store_dir)
    store = Store(settings, embedder.name, embedder.dimension)
    assert not Ingestor(settings, embedder, store, progress=False).run([corpus]).failed
    counts = store.counts()
    store.close()
    # A writer commits, then dies before it can checkpoint: the change lives only in the -wal file.
    crash = ("import os, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute('PRAGMA journal_mode=WAL');"
             "db.execute(\"UPDATE files SET ingested_at = 12345.0\"); db.commit(); os._exit(0)")
    subprocess.run([sys.executable, "-c", crash, str(store_dir / "index.sqlite3")], check=True)
    assert (store_dir / "index.sqlite3-wal").stat().st_size > 0
    fs.read_only()
    store = Store(settings, embedder.name, embedder.dimension)
    try:
        assert store.read_only
        assert {d.ingested for d in store.documents()} == {12345.0}
        assert store.counts() == counts
        assert answers(store, embedder, "thời hạn giải quyết")["dense"]
    finally:
        store.close()
    fs.read_write()
    store = Store(settings, embedder.name, embedder.dimension)
    try:
        assert {d.ingested for d in store.documents()} == {12345.0} and store.counts() == counts
    finally:
        store.close()
    record(read_only_crash_faults=1)


def test_store_errors_are_store_errors():
    assert issubclass(StoreFullError, StoreError) and issubclass(StoreReadOnlyError, StoreError)
