"""Performance benchmarks that print numbers (never timed tests).

    python -m eval.perf ingest PATH [--sample N] [--store DIR]
    python -m eval.perf serve [--url URL --token T] [--clients 8] [--seconds 30]
    python -m eval.perf query --sizes 1000,10000,50000 [--questions 200]
    python -m eval.perf soak [--minutes 5] [--clients 8]

``ingest``: how close the whole ingest pipeline (load, chunk, embed, write
Chroma and the lexical index, manifest) comes to the raw encode speed of the
same model on the same machine, measured in the same run:

1. load and chunk PATH exactly as ingest does, and time it;
2. raw ceiling: ``SentenceTransformer.encode`` on a deterministic sample of
   those chunk texts (with the passage prefix, same batch size), nothing else;
3. a full ``Ingestor.run`` into a fresh store.

``serve``: the web server as users meet it. Without ``--url`` it starts
``assistant serve`` on the current store (``ASSISTANT_*`` settings) on a free
loopback port and measures start-up (until ``/api/health`` answers) and the
server's resident memory; then, on the warm server:

1. time to first answer token: ``POST /api/ask/stream``, one question at a
   time, time until the first ``delta`` line arrives, and until the answer;
2. concurrency: ``--clients`` threads asking in a loop for ``--seconds``:
   answers per second, error rate, latency percentiles.

Questions are the built-in evaluation set's (``eval/builtin``), in turn.

``soak``: ``serve`` held for minutes, sampling the server's RSS every 15 s:
errors, latency, and memory growth after warm-up (``rss_growth_mb``).

``query``: how query latency and memory grow with the corpus. Stores of each
size are built from chunks (and their vectors) already ingested by the
evaluation harness for the shared benchmark corpora (``eval/out/stores/``:
ObliQA, TTHC, ALQAC; run ``assistant eval`` on them first): a sample for the
smaller sizes; for sizes beyond what exists, copies of real chunks under new
document ids, each vector nudged by small noise (σ 0.01, renormalised), so
both indexes grow as they would. For each size a fresh process opens the store
(as a server would), answers the benchmark questions (ObliQA and TTHC, mixed;
query-vector cache cleared per question), and reports retrieval-only and
retrieval + extractive latency percentiles and its peak RSS.

Each prints a table and writes JSON (``--json-out``).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import assistant  # noqa: F401
from assistant.chunking import Chunker
from assistant.ingestion import Ingestor, open_pipeline
from assistant.loaders import iter_source_files, load_file
from assistant.settings import Settings


def bench_ingest(path: Path, sample: int, store_dir: Path | None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-")) if store_dir is None else store_dir
    settings = Settings.from_env(store_dir=tmp)
    t0 = time.perf_counter()
    embedder, store = open_pipeline(settings)
    model_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap)
    chunks = [c for f, r in iter_source_files([path]) for d in load_file(f, root=r) for c in chunker.split(d)]
    load_chunk = time.perf_counter() - t0
    size_mb = sum(f.stat().st_size for f, _ in iter_source_files([path])) / 1e6

    texts = [c.embed_text for c in chunks]
    picked = random.Random(0).sample(texts, min(sample, len(texts)))
    embedder.encode_passages(picked[:8])  # warm-up
    t0 = time.perf_counter()
    embedder.encode_passages(picked)
    raw = len(picked) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    report = Ingestor(settings, embedder, store, progress=sys.stderr.isatty()).run([path])
    wall = time.perf_counter() - t0
    counts = store.counts()
    store.close()
    if store_dir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    ingest_rate = report.chunks / wall if wall else 0.0
    return {
        "path": str(path),
        "documents": counts["documents"],
        "chunks": report.chunks,
        "embedded": report.embedded,
        "size_mb": round(size_mb, 2),
        "model": embedder.name,
        "batch_size": settings.embed_batch_size,
        "model_load_s": round(model_load, 1),
        "load_and_chunk_s": round(load_chunk, 2),
        "raw_encode_sample": len(picked),
        "raw_encode_passages_per_s": round(raw, 2),
        "ingest_wall_s": round(wall, 1),
        "ingest_passages_per_s": round(ingest_rate, 2),
        "ingest_mb_per_s": round(size_mb / wall, 4) if wall else 0.0,
        "ratio_to_raw": round(ingest_rate / raw, 3) if raw else 0.0,
    }


def _percentiles(values: list[float]) -> dict:
    from eval.metrics import percentile

    out = {}
    for q in (50, 95, 99):
        value = percentile(values, q)
        out[f"p{q}"] = None if value is None else round(value, 1)
    return out


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc (Linux)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def _stream_once(client, url: str, question: str, headers: dict) -> tuple[float, float, bool]:
    """(ms to first delta, ms to the answer, grounded) for one streamed question."""
    t0 = time.perf_counter()
    first = None
    grounded = False
    with client.stream("POST", f"{url}/api/ask/stream", json={"question": question}, headers=headers) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line:
                continue
            item = json.loads(line)
            if first is None and ("delta" in item or "answer" in item):
                first = time.perf_counter() - t0
            if "answer" in item:
                grounded = item["answer"]["grounded"]
            if "error" in item:
                raise RuntimeError(item["error"])
    total = time.perf_counter() - t0
    return (first or total) * 1000, total * 1000, grounded


def bench_serve(url: str | None, token: str, clients: int, seconds: float, rounds: int,
                sample_s: float = 5.0) -> dict:
    import os
    import socket
    import subprocess
    import threading

    import httpx

    questions = [json.loads(line)["text"] for line in
                 (Path(__file__).parent / "builtin" / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line]
    result: dict = {}
    proc = None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "ASSISTANT_HOST": "127.0.0.1", "ASSISTANT_PORT": str(port),
               "ASSISTANT_PUBLIC_PER_MINUTE": "1000000"}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"assistant serve exited with {proc.returncode}; run it by hand to see why")
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t0 > 180:
                proc.kill()
                raise SystemExit("the server did not answer /api/health within 180 s")
            time.sleep(0.1)
        result["startup_s"] = round(time.perf_counter() - t0, 2)
        result["rss_after_start_mb"] = _rss_mb(proc.pid)
    try:
        with httpx.Client(timeout=60) as client:
            health = client.get(f"{url}/api/health").json()
            result["store_chunks"] = health["store"]["chunks"]
            result["mode"] = health["mode"]
            _stream_once(client, url, questions[0], headers)  # warm-up
            first, total = [], []
            for i in range(rounds):
                f, t, _ = _stream_once(client, url, questions[i % len(questions)], headers)
                first.append(f)
                total.append(t)
        result["sequential_questions"] = rounds
        result["first_token_ms"] = _percentiles(first)
        result["answer_ms"] = _percentiles(total)

        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.perf_counter() + seconds

        def worker(n: int) -> None:
            with httpx.Client(timeout=60) as client:
                i = n
                while time.perf_counter() < stop_at:
                    t0 = time.perf_counter()
                    try:
                        r = client.post(f"{url}/api/ask", json={"question": questions[i % len(questions)]},
                                        headers=headers)
                        ok = r.status_code == 200 and "answer" in r.json()
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        if ok:
                            latencies.append((time.perf_counter() - t0) * 1000)
                        else:
                            errors[0] += 1
                    i += clients

        timeline: list[tuple[float, float]] = []  # (seconds into the load, server RSS MB)

        def sample() -> None:
            while proc is not None and time.perf_counter() < stop_at:
                timeline.append((round(time.perf_counter() - t0, 1), _rss_mb(proc.pid)))
                time.sleep(sample_s)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
        threads.append(threading.Thread(target=sample, daemon=True))
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        done = len(latencies) + errors[0]
        result.update({
            "clients": clients,
            "duration_s": round(wall, 1),
            "answers": len(latencies),
            "answers_per_s": round(len(latencies) / wall, 2),
            "error_rate": round(errors[0] / done, 4) if done else 0.0,
            "concurrent_latency_ms": _percentiles(latencies),
        })
        if proc is not None:
            result["rss_after_load_mb"] = _rss_mb(proc.pid)
            result["rss_timeline_mb"] = timeline
            if timeline:
                # growth after the first sample (model and caches are warm by then)
                result["rss_growth_mb"] = round(result["rss_after_load_mb"] - timeline[0][1], 1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return result


_STORES = Path(__file__).parent / "out" / "stores"
_BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def _pool(sources: list[str]) -> list[tuple[dict, bytes]]:
    """(chunk row, vector bytes) from the harness's cached stores for these corpora."""
    import sqlite3

    rows: list[tuple[dict, bytes]] = []
    for name in sources:
        found = sorted(p for p in _STORES.glob(f"{name}-*") if not p.name.endswith("-langchain"))
        if not found:
            raise SystemExit(f"no cached store for {name} under {_STORES}: run `assistant eval "
                             f"../shared/benchmarks/{name}` once first")
        db = sqlite3.connect(found[-1] / "index.sqlite3")
        cols = ["chunk_id", "doc_id", "idx", "text", "title", "source", "section", "page", "page_end", "language",
                "access", "start", "hash"]
        for r in db.execute(f"SELECT {', '.join('c.' + c for c in cols)}, e.vector FROM chunks c "
                            f"JOIN embeddings e ON e.hash = c.hash ORDER BY c.rowid"):
            rows.append((dict(zip(cols, r[:-1])), r[-1]))
        db.close()
    return rows


def build_sized_store(size: int, pool: list[tuple[dict, bytes]], folder: Path) -> dict:
    """A store of exactly ``size`` chunks from the pool (sampled, or copied with nudged vectors)."""
    import numpy as np

    from assistant.store import Store
    from assistant.types import Chunk, make_chunk_id

    rng = np.random.default_rng(0)
    picked = random.Random(0).sample(range(len(pool)), size) if size <= len(pool) else \
        [i % len(pool) for i in range(size)]
    settings = Settings.from_env(store_dir=folder)
    store = Store(settings, "multilingual-e5-small", 384)  # the vectors come from stores built with it
    files: dict[str, list[tuple[Chunk, np.ndarray]]] = {}
    for n, i in enumerate(picked):
        row, blob = pool[i]
        copy = n // len(pool) if size > len(pool) else 0
        vec = np.frombuffer(blob, dtype=np.float32).copy()
        doc_id = row["doc_id"] if copy == 0 else f"copy{copy}/{row['doc_id']}"
        if copy:
            vec = vec + rng.normal(0, 0.01, vec.shape).astype(np.float32)
            vec /= np.linalg.norm(vec)
        chunk = Chunk(chunk_id=make_chunk_id(doc_id, row["idx"], row["hash"]), doc_id=doc_id, index=row["idx"],
                      text=row["text"], title=row["title"] or "", source=row["source"] or "",
                      section=row["section"] or "", page=row["page"], page_end=row["page_end"],
                      language=row["language"] or "", access=row["access"], start=row["start"] or 0)
        files.setdefault(f"bench://part-{n // 500}", []).append((chunk, vec))  # 500 chunks a "file"
    t0 = time.perf_counter()
    for path, items in files.items():
        store.replace_file(path, path, 0, 0.0, [c for c, _ in items], np.stack([v for _, v in items]))
    built = time.perf_counter() - t0
    counts = store.counts()
    store.close()
    return {"chunks": counts["chunks"], "vectors": counts["vectors"], "build_s": round(built, 1)}


def _questions(n: int) -> list[str]:
    out: list[str] = []
    for name in ("obliqa", "tthc"):
        path = _BENCH / name / "queries.jsonl"
        if not path.exists():
            raise SystemExit(f"{path} is absent: the query benchmark needs ../shared/benchmarks")
        lines = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line]
        out += random.Random(1).sample(lines, min(n // 2, len(lines)))
    return out


def query_worker(store_dir: Path, questions: list[str]) -> dict:
    """In a fresh process: open the store as a server would, time retrieval and answers, report peak RSS."""
    import resource

    from assistant.pipeline import Assistant

    settings = Settings.from_env(store_dir=store_dir)
    t0 = time.perf_counter()
    bot = Assistant(settings)
    open_s = time.perf_counter() - t0
    bot.ask(questions[0])  # warm-up
    retrieval, answer = [], []
    for q in questions:
        bot.retriever._cache.clear()  # every question pays for its embedding
        t0 = time.perf_counter()
        bot.retrieve(q)
        retrieval.append((time.perf_counter() - t0) * 1000)
        bot.retriever._cache.clear()  # every question pays for its embedding
        t0 = time.perf_counter()
        bot.ask(q)
        answer.append((time.perf_counter() - t0) * 1000)
    return {"open_s": round(open_s, 1), "questions": len(questions), "retrieval_ms": _percentiles(retrieval),
            "answer_ms": _percentiles(answer), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def bench_query(sizes: list[int], n_questions: int, keep: Path | None) -> dict:
    import subprocess

    pool = _pool(["obliqa", "tthc", "alqac2023"])
    questions = _questions(n_questions)
    root = keep or Path(tempfile.mkdtemp(prefix="bench-sizes-"))
    qfile = root / "questions.json"
    root.mkdir(parents=True, exist_ok=True)
    qfile.write_text(json.dumps(questions, ensure_ascii=False))
    result: dict = {"pool_chunks": len(pool), "sizes": {}}
    for size in sizes:
        folder = root / f"store-{size}"
        if not (folder / "index.sqlite3").exists():
            print(f"building a store of {size} chunks…", file=sys.stderr)
            built = build_sized_store(size, pool, folder)
        else:
            built = {"reused": True}
        print(f"querying the {size}-chunk store…", file=sys.stderr)
        out = subprocess.run([sys.executable, "-m", "eval.perf", "query-worker", str(folder), str(qfile)],
                             capture_output=True, text=True, check=True)
        result["sizes"][str(size)] = {**built, **json.loads(out.stdout.strip().splitlines()[-1])}
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.perf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    ing = sub.add_parser("ingest", help="ingest throughput against the raw encode ceiling")
    ing.add_argument("path", type=Path)
    ing.add_argument("--sample", type=int, default=1000, help="chunks encoded for the raw ceiling")
    ing.add_argument("--store", type=Path, default=None, help="keep the store here (default: a temp folder)")
    ing.add_argument("--json-out", type=Path, default=None)
    srv = sub.add_parser("serve", help="start-up, memory, time to first token and concurrency of the server")
    srv.add_argument("--url", default=None, help="a running server (default: start one on the current store)")
    srv.add_argument("--token", default="", help="a staff bearer token (a public caller is rate-limited)")
    srv.add_argument("--clients", type=int, default=8)
    srv.add_argument("--seconds", type=float, default=30.0)
    srv.add_argument("--rounds", type=int, default=31, help="sequential streamed questions for first-token time")
    srv.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    srv.add_argument("--json-out", type=Path, default=None)
    soak = sub.add_parser("soak", help="the serve benchmark for minutes: errors, latency and memory growth")
    soak.add_argument("--minutes", type=float, default=5.0)
    soak.add_argument("--clients", type=int, default=8)
    soak.add_argument("--json-out", type=Path, default=None)
    qry = sub.add_parser("query", help="query latency and peak RSS at several corpus sizes")
    qry.add_argument("--sizes", default="1000,10000,50000")
    qry.add_argument("--questions", type=int, default=200)
    qry.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the built stores here")
    qry.add_argument("--json-out", type=Path, default=None)
    wrk = sub.add_parser("query-worker")  # internal: one size, in its own process
    wrk.add_argument("store", type=Path)
    wrk.add_argument("questions", type=Path)
    args = parser.parse_args(argv)
    if args.bench == "soak":
        result = bench_serve(None, "", args.clients, args.minutes * 60, rounds=5, sample_s=15.0)
        _print_and_save(result, args.json_out)
        return 0
    if args.bench == "query-worker":
        print(json.dumps(query_worker(args.store, json.loads(args.questions.read_text(encoding="utf-8")))))
        return 0
    if args.bench == "query":
        result = bench_query([int(x) for x in args.sizes.split(",")], args.questions, args.keep)
    elif args.bench == "serve":
        result = bench_serve(args.url, args.token, args.clients, args.seconds, args.rounds, args.sample_every)
    else:
        result = bench_ingest(args.path, args.sample, args.store)
    _print_and_save(result, args.json_out)
    return 0


def _print_and_save(result: dict, json_out: Path | None) -> None:
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if json_out:
        json_out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
