"""Writing up an evaluation: a Markdown table, results.json, a PNG plot and an HTML page.

The table is what a person reads first; ``results.json`` keeps every query's
question, gold, retrieved ids, answer, citations and scores so each failure can
be read one by one; ``report.html`` shows the table, the plot and the worst
failures of the main configuration.
"""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path
from typing import Callable

from eval.runner import Evaluation
from eval.scoring import failure_severity

WORST = 15

# (header, summary key, kind): kind "r" = a rate 0-1, "n" = a number, "ms" = two latencies
COLUMNS: list[tuple[str, str, str]] = [
    ("R@5", "recall@5", "r"),
    ("R@10", "recall@10", "r"),
    ("MAP@10", "map@10", "r"),
    ("nDCG@10", "ndcg@10", "r"),
    ("MRR@10", "mrr@10", "r"),
    ("key facts all", "key_facts_all", "r"),
    ("key facts share", "key_facts_share", "r"),
    ("EM (TF/MC)", "exact_match", "r"),
    ("token F1", "token_f1", "r"),
    ("cite P", "citation_precision", "r"),
    ("cite R", "citation_recall", "r"),
    ("refusal (unans.)", "refusal_rate", "r"),
    ("false refusal", "false_refusal_rate", "r"),
    ("answer chars", "answer_chars", "n"),
    ("retrieval ms p50/p95", "retrieval_ms", "ms"),
    ("total ms p50/p95", "total_ms", "ms"),
]
PLOTTED = ["recall@5", "ndcg@10", "mrr@10", "key_facts_all", "citation_precision", "refusal_rate",
           "false_refusal_rate"]


def _cell(summary: dict, key: str, kind: str) -> str:
    if kind == "ms":
        p50, p95 = summary.get(f"{key}_p50"), summary.get(f"{key}_p95")
        return "–" if p50 is None else f"{p50:.0f} / {p95:.0f}"
    value = summary.get(key)
    if value is None:
        return "–"
    return f"{value:.3f}" if kind == "r" else f"{value:.0f}"


def _columns(ev: Evaluation) -> list[tuple[str, str, str]]:
    """The columns that have a value for at least one configuration."""
    return [c for c in COLUMNS if any(_cell(r["summary"], c[1], c[2]) != "–" for r in ev.runs)]


def table_rows(ev: Evaluation) -> tuple[list[str], list[list[str]]]:
    cols = _columns(ev)
    header = ["configuration"] + [c[0] for c in cols]
    rows = [[r["config"]["name"]] + [_cell(r["summary"], key, kind) for _, key, kind in cols] for r in ev.runs]
    return header, rows


def markdown_table(ev: Evaluation) -> str:
    header, rows = table_rows(ev)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def notes(ev: Evaluation) -> list[str]:
    """What the means are taken over, and the ingest cost, in a few lines under the table."""
    s = ev.runs[0]["summary"]
    ing = ev.ingest
    out = [
        f"dataset {ev.dataset.name} (split {ev.dataset.split}): {s['queries']} queries "
        f"({s['answerable']} answerable, {s['unanswerable']} unanswerable"
        + (f", of which {sum(q.negative for q in ev.dataset.queries)} borrowed with --negatives" if any(
            q.negative for q in ev.dataset.queries) else "") + ")",
        f"retrieval means over {s['with_gold']} queries with gold ids ({s['without_gold']} without gold excluded); "
        f"document level, k=10",
    ]
    if s["key_fact_queries"]:
        out.append(f"key facts over {s['key_fact_queries']} queries; 'all' = every key fact in the answer")
    if s["exact_match_queries"]:
        out.append(f"exact match over {s['exact_match_queries']} true/false + multiple-choice queries "
                   "(the extractive generator quotes evidence and gives no verdict, so expect it low)")
    if s["token_f1_queries"]:
        out.append(f"token F1 against reference answers over {s['token_f1_queries']} queries")
    out.append("citation P/R over answered (not refused) queries with gold; answer chars over answered queries")
    out.append(f"ingest (assistant store): {ing['chunks']} chunks from {ing['documents']} documents; "
               f"first (cold) ingest {ing['first_ingest_seconds']:.1f} s; this run {ing['seconds']:.1f} s, "
               f"{ing['embedded']} embedded")
    if "baseline" in ing:
        b = ing["baseline"]
        out.append(f"ingest (naive baseline): {b['chunks']} chunks (1000 chars, 200 overlap); first build "
                   f"{b['first_build_seconds']:.1f} s; this run {b['seconds']:.1f} s, {b['embedded']} embedded")
    out.append("latency: wall-clock per query on a shared 2-core CPU; noisy when other jobs run")
    if ev.code:
        out.append(f"code: commit {ev.code['commit']}"
                   + (" with uncommitted changes in assistant/" if ev.code["assistant_dirty"] else ""))
    return out


def main_run(ev: Evaluation) -> dict:
    """The configuration whose failures are listed: hybrid + extractive when present, else the first."""
    for run in ev.runs:
        if run["config"]["system"] == "assistant" and run["config"]["retriever"] == "hybrid":
            return run
    return ev.runs[0]


def worst_failures(ev: Evaluation, run: dict, n: int = WORST) -> list[dict]:
    """The n rows with the highest ``failure_severity`` (ties keep file order)."""
    scored = [(failure_severity(q, r["scores"]), i, r) for i, (q, r) in enumerate(zip(ev.dataset.queries, run["rows"]))]
    return [r for sev, _, r in sorted(scored, key=lambda t: (-t[0], t[1])) if sev > 0][:n]


def results_json(ev: Evaluation) -> dict:
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(ev.settings).items()
                if k not in ("llm_api_key",)}
    return {
        "dataset": {"name": ev.dataset.name, "folder": str(ev.dataset.folder), "split": ev.dataset.split,
                    "corpus": [str(p) for p in ev.dataset.corpus], "queries": len(ev.dataset.queries),
                    "not_in_split": ev.dataset.dropped},
        "started": ev.started,
        "code": ev.code,
        "args": ev.args,
        "settings": settings,
        "store": str(ev.store_dir),
        "ingest": ev.ingest,
        "configurations": [{"config": r["config"], "summary": r["summary"]} for r in ev.runs],
        "rows": {r["config"]["name"]: r["rows"] for r in ev.runs},
    }


def plot(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["config"]["name"] for r in ev.runs]
    metrics = [k for k in PLOTTED if any(r["summary"].get(k) is not None for r in ev.runs)]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / max(1, len(names))
    for i, run in enumerate(ev.runs):
        values = [run["summary"].get(k) or 0 for k in metrics]
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, values, width, label=names[i])
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(metrics))])
    ax.set_xticklabels(metrics, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{ev.dataset.name}: quality (higher is better, except false refusal)")
    ax.legend(fontsize=8)
    p50 = [r["summary"].get("total_ms_p50") or 0 for r in ev.runs]
    p95 = [r["summary"].get("total_ms_p95") or 0 for r in ev.runs]
    ax2.bar(range(len(names)), p95, color="#bbbbbb", label="p95")
    ax2.bar(range(len(names)), p50, color="#4477aa", label="p50")
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax2.set_title("latency per query (ms)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _failure_html(row: dict) -> str:
    e = html.escape
    s = row["scores"]
    what = []
    if not row["answerable"]:
        what.append("unanswerable, but answered")
    elif s["refused"]:
        what.append("answerable, but refused")
    if s["key_facts_missing"]:
        what.append("missing: " + ", ".join(f"«{e(f)}»" for f in s["key_facts_missing"]))
    if s["recall@10"] == 0:
        what.append("no gold document in the top 10")
    cites = ", ".join(e(c["doc_id"]) for c in row["citations"]) or "none"
    answer = row["answer"] if len(row["answer"]) <= 1200 else row["answer"][:1200] + " …"
    return (f"<div class='f'><h3>{e(row['id'])}: {e(row['question'])}</h3>"
            f"<p class='why'>{'; '.join(what)}</p>"
            f"<p><b>gold:</b> {e(', '.join(row['gold']) or 'none')} &nbsp; <b>retrieved:</b> "
            f"{e(', '.join(row['retrieved'][:5]))}</p>"
            f"<pre>{e(answer)}</pre><p><b>cited:</b> {cites}</p></div>")


def _knobs(ev: Evaluation) -> str:
    """The settings that move the numbers: model, chunking, top_k and any refusal threshold."""
    values = dataclasses.asdict(ev.settings)
    keys = ["embedding_model", "chunk_tokens", "chunk_overlap", "top_k"] + sorted(
        k for k in values if "coverage" in k or "threshold" in k)
    return " · ".join(f"{k} {values[k]}" for k in keys if k in values)


def html_page(ev: Evaluation, plot_name: str) -> str:
    e = html.escape
    header, rows = table_rows(ev)
    table = ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
             + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>")
    run = main_run(ev)
    failures = worst_failures(ev, run)
    body = "\n".join(_failure_html(r) for r in failures) or "<p>No failures.</p>"
    note = "".join(f"<li>{e(n)}</li>" for n in notes(ev))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation: {e(ev.dataset.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1300px; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: 8px; }}
.f {{ border-top: 1px solid #ddd; margin-top: 1em; }} .why {{ color: #a00; }}
</style></head><body>
<h1>Evaluation: {e(ev.dataset.name)}</h1>
<p>{e(ev.started)} · store {e(str(ev.store_dir))} · {e(_knobs(ev))}</p>
{table}
<ul>{note}</ul>
<img src="{e(plot_name)}" alt="comparison plot" style="max-width:100%">
<h2>The {len(failures)} worst failures of “{e(run['config']['name'])}”</h2>
{body}
</body></html>
"""


def write(ev: Evaluation, folder: Path, echo: Callable[[str], None] = print) -> dict[str, Path]:
    """Print the table and notes; write results.json, plot.png, report.html; print their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    echo(markdown_table(ev))
    echo("")
    for line in notes(ev):
        echo(f"- {line}")
    paths = {"results": folder / "results.json", "plot": folder / "plot.png", "html": folder / "report.html"}
    paths["results"].write_text(json.dumps(results_json(ev), ensure_ascii=False, indent=1), encoding="utf-8")
    plot(ev, paths["plot"])
    paths["html"].write_text(html_page(ev, paths["plot"].name), encoding="utf-8")
    echo("")
    for name, path in paths.items():
        echo(f"{name}: {path}")
    return paths
