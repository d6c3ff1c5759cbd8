"""Running an evaluation: a cached store per corpus, configurations, every query, in order.

Each dataset gets a store of its own under
``<out>/stores/<name>-<hash>``, where the hash covers the corpus files' bytes,
the embedding model and the chunk settings: a rerun reopens the same store and
embeds nothing (ingest is incremental anyway), and a change to any of them
gets a fresh store instead of a silently stale one.

A configuration is a retriever mode and a generator (the assistant's own path:
guardrail check, retrieval of ``top_k`` chunks, generator: the same calls as
``Assistant.ask``, so answers are exactly what a user gets) or
the naive LangChain baseline (``baseline.py``). Each configuration gets a fresh
``Retriever`` so its query-vector cache starts cold and latencies are comparable.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from assistant.answering import Generator, refusal
from assistant.guardrails import QuestionError, check_question
from assistant.ingestion import PIPELINE_VERSION, Ingestor
from assistant.pipeline import Assistant, question_language
from assistant.retrieval import Retriever
from assistant.settings import Settings
from eval import baseline as naive
from eval.datasets import Dataset, Query
from eval.scoring import K, score_query, summarise

DEFAULT_AUDIENCE = "staff"


@dataclass(frozen=True)
class Config:
    """One way of answering: ``system`` is ``assistant`` or ``baseline``."""

    name: str
    system: str = "assistant"
    retriever: str = "hybrid"
    generator: str = "extractive"


BASELINE = Config("langchain naive", "baseline", "dense", "top-1 chunk")


def configurations(compare: bool, retriever: str = "hybrid", generator: str = "extractive") -> list[Config]:
    """The one configuration asked for, or with ``compare`` the comparison set
    (lexical, dense, hybrid with the extractive generator, the naive baseline;
    plus hybrid + LLM when the LLM generator was asked for)."""
    if not compare:
        return [Config(f"{retriever} + {generator}", "assistant", retriever, generator)]
    configs = [Config(f"{mode} + extractive", "assistant", mode, "extractive")
               for mode in ("lexical", "dense", "hybrid")]
    if generator == "llm":
        configs.append(Config("hybrid + llm", "assistant", "hybrid", "llm"))
    return configs + [BASELINE]


def store_name(dataset: Dataset, settings: Settings, extra: str = "") -> str:
    """``<name>-<10 hex>``: sha256 of the corpus bytes, embedding model and chunk settings."""
    h = hashlib.sha256(dataset.fingerprint().encode())
    h.update(f"\0{settings.embedding_model}\0{settings.chunk_tokens}\0{settings.chunk_overlap}"
             f"\0v{PIPELINE_VERSION}\0{extra}".encode())
    return f"{dataset.name}-{h.hexdigest()[:10]}"


@dataclass
class Evaluation:
    """Everything a run produced: what report.py turns into tables, JSON, a plot and a page."""

    dataset: Dataset
    settings: Settings
    runs: list[dict]  # one per configuration: {"config", "summary", "rows"}
    ingest: dict
    store_dir: Path
    started: str
    args: dict = dataclasses.field(default_factory=dict)
    code: dict = dataclasses.field(default_factory=dict)  # git commit at the start of the run


def code_version() -> dict:
    """The git commit of the project and whether assistant/ had uncommitted changes (numbers move with code)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "assistant"], cwd=root, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit, "assistant_dirty": bool(dirty)} if commit else {}


def evaluate(dataset: Dataset, settings: Settings, out: Path, configs: Sequence[Config],
             audience: str | None = None, progress: bool = True, k: int = K,
             log: Callable[[str], None] | None = None, chat_model=None, embedder=None) -> Evaluation:
    """Ingest (cached), then run every configuration over every query and score it.

    ``embedder`` (optional) is an already loaded ``Embedder`` to reuse, e.g. the tests' one.
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    code = code_version()
    store_dir = Path(out) / "stores" / store_name(dataset, settings)
    settings = dataclasses.replace(settings, store_dir=store_dir, data_dir=Path(out) / "data", generator="extractive")
    settings.check()
    bot = Assistant(settings, embedder=embedder)
    # Generators are wired by Assistant itself (same thresholds as `assistant ask`), sharing model and store.
    generators = {"extractive": bot.generator}
    if any(c.generator == "llm" for c in configs):
        llm_settings = dataclasses.replace(settings, generator="llm")
        llm_settings.check()
        generators["llm"] = Assistant(llm_settings, embedder=bot.embedder, store=bot.store,
                                      chat_model=chat_model).generator
    ingest = ingest_corpus(bot, dataset, progress, log)
    bot.embedder.encode_queries(["warm-up"])  # the first call pays one-off costs; keep them out of latency
    runs = []
    for config in configs:
        log(f"{config.name}: {len(dataset.queries)} queries")
        began = time.perf_counter()
        if config.system == "baseline":
            run, build = run_baseline(bot, dataset, config, out, progress, k, log)
            ingest["baseline"] = build
        else:
            run = run_assistant(bot, generators[config.generator], dataset, config, audience, progress, k)
        runs.append(run)
        log(f"{config.name}: done in {time.perf_counter() - began:.0f} s")
    bot.store.close()
    return Evaluation(dataset, settings, runs, ingest, store_dir, started, code=code)


def ingest_corpus(bot: Assistant, dataset: Dataset, progress: bool, log) -> dict:
    """Bring the dataset's store in step with its corpus; remember the first (cold) ingest's cost."""
    marker = Path(bot.settings.store_dir) / "eval-first-ingest.json"
    log(f"ingest: {', '.join(map(str, dataset.corpus))} -> {bot.settings.store_dir}")
    report = Ingestor(bot.settings, bot.embedder, bot.store, progress=progress).run(dataset.corpus, prune=True)
    counts = bot.store.counts()
    if report.failed:
        log(f"ingest: {len(report.failed)} file(s) failed: " + "; ".join(f.error for f in report.failed[:3]))
    if report.embedded and not marker.exists():
        marker.write_text(json.dumps({"seconds": round(report.seconds, 1), "embedded": report.embedded}))
    first = json.loads(marker.read_text()) if marker.exists() else {}
    return {
        "seconds": round(report.seconds, 2),
        "embedded": report.embedded,
        "chunks": counts["chunks"],
        "documents": counts["documents"],
        "failed": [f.error for f in report.failed],
        "first_ingest_seconds": first.get("seconds", round(report.seconds, 2)),
    }


def _bar(items, progress: bool, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="q", leave=False, file=sys.stderr,
                disable=not (progress and sys.stderr.isatty()))


def _row(query: Query, audience: str, retrieved: list[str], answer: str, citations: list[dict],
         grounded: bool, retrieval_ms: float, total_ms: float, error: str = "") -> dict:
    cited = [c["doc_id"] for c in citations]
    row = {
        "id": query.id, "question": query.text, "lang": query.lang, "type": query.type,
        "audience": audience, "answerable": query.answerable, "negative": query.negative,
        "gold": query.gold, "key_facts": list(query.key_facts),
        "retrieved": list(dict.fromkeys(retrieved))[:K], "answer": answer, "citations": citations,
        "grounded": grounded, "scores": score_query(query, retrieved, answer, cited, grounded),
        "latency_ms": {"retrieval": round(retrieval_ms, 1), "total": round(total_ms, 1)},
    }
    if error:
        row["error"] = error
    return row


def _finish(config: Config, dataset: Dataset, rows: list[dict]) -> dict:
    summary = summarise(dataset.queries, [r["scores"] for r in rows],
                        [r["latency_ms"]["retrieval"] for r in rows], [r["latency_ms"]["total"] for r in rows])
    return {"config": dataclasses.asdict(config), "summary": summary, "rows": rows}


def run_assistant(bot: Assistant, generator: Generator, dataset: Dataset, config: Config, audience: str | None,
                  progress: bool, k: int = K) -> dict:
    """The assistant's path for every query: check, retrieve top k, answer from the first top_k hits."""
    retriever = Retriever(bot.store, bot.embedder)  # cold query cache for this configuration
    top_k = bot.settings.top_k
    rows = []
    for query in _bar(dataset.queries, progress, config.name):
        who = audience or query.audience or DEFAULT_AUDIENCE
        started = time.perf_counter()
        try:
            question = check_question(query.text, bot.settings.max_question_chars)
        except QuestionError as exc:
            ms = (time.perf_counter() - started) * 1000
            rows.append(_row(query, who, [], str(exc), [], False, ms, ms, error="question refused by guardrail"))
            continue
        hits = retriever.retrieve(question, audience=who, k=top_k, mode=config.retriever)  # as ask() does
        retrieved_at = time.perf_counter()
        language = question_language(question)
        if hits:
            answer = generator.generate(question, hits, language)
        else:
            answer = refusal(question, language, generator.name)
        done = time.perf_counter()
        # The ranking scored at k=10: a second, untimed call (its query vector comes from the cache).
        # Not hits[:top_k] of one k=10 call: the retriever's per-document probe makes the top
        # of a k=10 list differ from a k=top_k list, and answers must be exactly what ask() gives.
        ranked = retriever.retrieve(question, audience=who, k=k, mode=config.retriever)
        citations = [{"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "section": c.section, "page": c.page}
                     for c in answer.citations]
        rows.append(_row(query, who, [h.chunk.doc_id for h in ranked], answer.text, citations, answer.grounded,
                         (retrieved_at - started) * 1000, (done - started) * 1000))
    return _finish(config, dataset, rows)


def run_baseline(bot: Assistant, dataset: Dataset, config: Config, out: Path, progress: bool, k: int,
                 log) -> tuple[dict, dict]:
    """The naive LangChain baseline over the same corpus (its own cached Chroma folder)."""
    folder = Path(out) / "stores" / (store_name(dataset, bot.settings, extra="langchain-naive") + "-langchain")
    log(f"baseline store: {folder}")
    base = naive.NaiveBaseline(folder, bot.embedder.model, progress=progress and sys.stderr.isatty(),
                               max_file_mb=bot.settings.max_file_mb)
    build = base.build(dataset.corpus)
    marker = folder / "eval-first-build.json"
    if build.embedded and not marker.exists():
        marker.write_text(json.dumps({"seconds": round(build.seconds, 1), "embedded": build.embedded}))
    first = json.loads(marker.read_text()) if marker.exists() else {}
    base.search("warm-up", k=1)
    rows = []
    for query in _bar(dataset.queries, progress, config.name):
        started = time.perf_counter()
        hits = base.search(query.text, k=k)
        retrieved_at = time.perf_counter()
        top = hits[0] if hits else None
        answer = top.text if top else ""
        citations = [{"n": 1, "doc_id": top.doc_id, "chunk_id": "", "section": "", "page": None}] if top else []
        done = time.perf_counter()
        rows.append(_row(query, "n/a (no access rule)", [h.doc_id for h in hits], answer, citations, top is not None,
                         (retrieved_at - started) * 1000, (done - started) * 1000))
    build_info = {"seconds": round(build.seconds, 2), "chunks": build.chunks, "embedded": build.embedded,
                  "first_build_seconds": first.get("seconds", round(build.seconds, 2)), "folder": str(folder)}
    return _finish(config, dataset, rows), build_info
