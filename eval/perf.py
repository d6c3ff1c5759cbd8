"""Performance benchmarks that print numbers (never timed tests).

    python -m eval.perf ingest PATH [--sample N] [--store DIR]

``ingest``: how close the whole ingest pipeline (load, chunk, embed, write
Chroma and the lexical index, manifest) comes to the raw encode speed of the
same model on the same machine, measured in the same run:

1. load and chunk PATH exactly as ingest does, and time it;
2. raw ceiling: ``SentenceTransformer.encode`` on a deterministic sample of
   those chunk texts (with the passage prefix, same batch size), nothing else;
3. a full ``Ingestor.run`` into a fresh store.

It prints a table and writes JSON (``--json-out``).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.perf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    ing = sub.add_parser("ingest", help="ingest throughput against the raw encode ceiling")
    ing.add_argument("path", type=Path)
    ing.add_argument("--sample", type=int, default=1000, help="chunks encoded for the raw ceiling")
    ing.add_argument("--store", type=Path, default=None, help="keep the store here (default: a temp folder)")
    ing.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = bench_ingest(args.path, args.sample, args.store)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
