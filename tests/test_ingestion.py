"""Ingest as a user runs it: incremental, idempotent, tolerant of bad files, resumable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.ingestion import Ingestor
from assistant.settings import Settings
from assistant.store import Store
from tests.conftest import ROOT

LAW = """# Quy chế thử nghiệm

Chương I. QUY ĐỊNH CHUNG

Điều 1. Phạm vi điều chỉnh
Quy chế này quy định việc tiếp nhận hồ sơ trực tuyến.

Điều 2. Thời hạn giải quyết
1. Thời hạn giải quyết là 05 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ.
2. Trường hợp hồ sơ chưa đầy đủ, cán bộ hướng dẫn bổ sung trong 01 ngày làm việc.
"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    write(root / "quy-che.md", LAW)
    write(root / "faq.txt", "Câu hỏi thường gặp\n\nLệ phí cấp bản sao trích lục là 8.000 đồng một bản.\n")
    write(root / "guide.html", "<html><head><title>Guide</title></head><body><h1>Online services</h1>"
                               "<p>Applications are processed within 3 working days.</p></body></html>")
    return root


def run(settings: Settings, embedder, paths, prune: bool = False):
    """One ingest run; returns the report, both indexes' ids, and the open store."""
    store = Store(settings, embedder.name, embedder.dimension)
    report = Ingestor(settings, embedder, store, progress=False, warn=lambda line: None).run(paths, prune=prune)
    state = {
        "chroma": set(store.collection.get(include=[])["ids"]),
        "manifest": {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks")},
    }
    return report, state, store


def test_second_run_embeds_nothing(settings, embedder, corpus):
    first, state1, store = run(settings, embedder, [corpus])
    store.close()
    assert (first.added, first.updated, first.unchanged, first.failed) == (3, 0, 0, [])
    assert first.embedded == first.chunks > 0
    assert state1["chroma"] == state1["manifest"]
    second, state2, store = run(settings, embedder, [corpus])
    store.close()
    assert (second.added, second.updated, second.unchanged, second.embedded, second.chunks) == (0, 0, 3, 0, 0)
    assert state2["manifest"] == state1["manifest"]


def test_changed_file_replaces_its_chunks(settings, embedder, corpus):
    run(settings, embedder, [corpus])[2].close()
    write(corpus / "faq.txt", "Câu hỏi thường gặp\n\nLệ phí cấp bản sao trích lục là 10.000 đồng một bản.\n")
    report, state, store = run(settings, embedder, [corpus])
    assert (report.updated, report.unchanged, report.added) == (1, 2, 0)
    assert report.embedded == 1  # only the changed chunk's text was new
    assert state["chroma"] == state["manifest"]
    texts = [c.text for c in store.get_chunks([cid for cid, _ in store.lexical_search("lệ phí", 5)]).values()]
    assert any("10.000" in t for t in texts) and not any("8.000" in t for t in texts)
    store.close()


def test_removed_file_goes_only_with_prune(settings, embedder, corpus):
    run(settings, embedder, [corpus])[2].close()
    (corpus / "guide.html").unlink()
    report, state, store = run(settings, embedder, [corpus])
    assert report.removed == 0 and store.counts()["documents"] == 3
    store.close()
    report, state, store = run(settings, embedder, [corpus], prune=True)
    assert report.removed == 1 and store.counts()["documents"] == 2
    assert state["chroma"] == state["manifest"]
    assert not any("guide.html" in cid for cid in state["manifest"])
    store.close()


def test_bad_inputs_are_reported_and_the_rest_is_ingested(tmp_path, embedder):
    from pypdf import PdfWriter

    root = tmp_path / "mixed"
    write(root / "good.md", "# Hướng dẫn\n\nNộp hồ sơ qua Cổng Dịch vụ công quốc gia.\n")
    write(root / "corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without end")
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    with open(root / "encrypted.pdf", "wb") as fh:
        writer.write(fh)
    blank = PdfWriter()
    blank.add_blank_page(width=200, height=200)
    with open(root / "empty.pdf", "wb") as fh:
        blank.write(fh)
    write(root / "zero.txt", b"")
    write(root / "binary.txt", bytes(range(256)) * 40)
    write(root / "picture.xyz", b"\x89PNG\r\n")
    write(root / "huge.txt", "chữ " * 4000)
    settings = Settings.from_env(env={}, store_dir=tmp_path / "store", max_file_mb=0.01)
    report, state, store = run(settings, embedder, [root])
    failed = {Path(f.path).name: f.error for f in report.failed}
    assert set(failed) == {"corrupt.pdf", "encrypted.pdf", "empty.pdf", "zero.txt", "binary.txt", "picture.xyz", "huge.txt"}
    assert "password" in failed["encrypted.pdf"]
    assert "unsupported" in failed["picture.xyz"]
    assert "limit" in failed["huge.txt"]
    assert all("\n" not in e for e in failed.values())
    assert report.added == 1 and store.counts()["documents"] == 1
    store.close()


def test_a_file_that_turns_bad_keeps_what_was_stored(settings, embedder, corpus):
    run(settings, embedder, [corpus])[2].close()
    write(corpus / "faq.txt", b"\x00\x01\x02binary now" * 100)
    report, state, store = run(settings, embedder, [corpus])
    assert [Path(f.path).name for f in report.failed] == ["faq.txt"]
    hits = store.get_chunks([cid for cid, _ in store.lexical_search("8.000 đồng", 3)])
    assert any("8.000" in c.text for c in hits.values()), "the old chunks are still served"
    store.close()


def test_access_levels_are_tagged_in_both_indexes(settings, embedder, tmp_path):
    root = tmp_path / "acc"
    write(root / "public.md", "# Công khai\n\nThông tin công khai cho người dân.\n")
    write(root / "internal" / "memo.md", "# Nội bộ\n\nGhi chú nội bộ về chỉ tiêu.\n")
    write(root / "front.md", "---\naccess: internal\n---\n# Ghi chú\n\nChỉ dành cho cán bộ.\n")
    write(root / "side.txt", "Kế hoạch nội bộ năm sau.\n")
    write(root / "side.txt.meta.json", json.dumps({"access": "internal"}))
    report, state, store = run(settings, embedder, [root])
    assert not report.failed
    access = dict(store.db.execute("SELECT doc_id, access FROM chunks"))
    assert access == {"public.md": "public", "internal/memo.md": "internal", "front.md": "internal", "side.txt": "internal"}
    metas = store.collection.get(include=["metadatas"])["metadatas"]
    assert {m["doc_id"]: m["access"] for m in metas} == access
    store.close()


# ---------------------------------------------------------------- the command line, as a user runs it

def cli(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "ingest.py"), *args], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=600, **kw)


def cli_env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_STORE_DIR": str(tmp_path / "store"), **extra})
    return env


def test_cli_json_report_and_exit_codes(tmp_path, corpus):
    env = cli_env(tmp_path)
    first = cli([str(corpus), "--json"], env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {"added", "updated", "unchanged", "removed", "failed", "chunks"} <= set(report)
    assert report["added"] == 3 and report["failed"] == []
    write(corpus / "broken.pdf", b"not a pdf at all")
    second = cli([str(corpus), "--json"], env)
    assert second.returncode == 1
    report = json.loads(second.stdout)
    assert report["unchanged"] == 3 and [Path(f["path"]).name for f in report["failed"]] == ["broken.pdf"]
    assert second.stderr.count("broken.pdf") == 1 and "Traceback" not in second.stderr


def test_kill_at_random_points_then_resume_converges(tmp_path):
    """kill -9 an ingest several times; the store always opens and the last run completes it."""
    root = tmp_path / "many"
    rng = random.Random(7)
    for f in range(24):
        paras = [f"Điều {i}. Nội dung số {f}-{i}: thủ tục {rng.randint(1, 10**6)} trong {i} ngày làm việc."
                 for i in range(1, 16)]
        write(root / f"doc{f:02d}.md", "\n\n".join(paras))
    env = cli_env(tmp_path, ASSISTANT_EMBEDDING_MODEL="all-minilm-l6-v2", ASSISTANT_EMBED_BATCH_SIZE="4")
    settings = Settings.from_env(env=env)
    kills = 0
    for delay in (7.0, 9.0, 11.0):
        proc = subprocess.Popen([sys.executable, str(ROOT / "ingest.py"), str(root), "--json"], env=env,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        store = Store(settings, "all-minilm-l6-v2", 384)  # opens, reconciles, answers
        store.lexical_search("thủ tục", 3)
        store.close()
    final = cli([str(root), "--json"], env)
    assert final.returncode == 0, final.stderr
    assert kills >= 1, "the ingest finished before any kill: make the corpus larger"

    # Same state as one uninterrupted run: every chunk the pipeline makes, nothing else.
    from assistant.chunking import Chunker
    from assistant.loaders import iter_source_files, load_file

    chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap)
    expected = {c.chunk_id for f, r in iter_source_files([root]) for d in load_file(f, root=r) for c in chunker.split(d)}
    store = Store(settings, "all-minilm-l6-v2", 384)
    assert {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks")} == expected
    assert set(store.collection.get(include=[])["ids"]) == expected
    assert store.counts()["files"] == 24
    assert store.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
    store.close()


def test_ctrl_c_exits_cleanly_with_a_hint(tmp_path, corpus):
    env = cli_env(tmp_path, ASSISTANT_EMBEDDING_MODEL="all-minilm-l6-v2")
    proc = subprocess.Popen([sys.executable, str(ROOT / "ingest.py"), str(corpus)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("ingest finished before Ctrl-C arrived")
    assert proc.returncode == 130, err
    assert "run the same command again" in err and "Traceback" not in err


def test_pdf_pages_survive_ingest(tmp_path, embedder):
    """A known phrase of a real government PDF lands in a chunk that cites the right page."""
    from tests.conftest import need_shared

    docs = need_shared("benchmarks", "gov-pdfs", "documents")
    settings = Settings.from_env(env={}, store_dir=tmp_path / "store")
    report, state, store = run(settings, embedder, [docs / "Singapore_Labour_Force.pdf"])
    assert not report.failed
    hits = store.get_chunks([cid for cid, _ in store.lexical_search("seniors share workers Land Transport", 5)])
    spans = [(c.page, c.page_end) for c in hits.values() if "Land Transport & Supporting Services" in c.text]
    # The phrase is on physical page 6 (its printed label is "|07|"); citations use physical pages.
    assert spans and all(first <= 6 <= last for first, last in spans), spans
    assert all(c.doc_id == "Singapore_Labour_Force.pdf" for c in hits.values())
    store.close()
