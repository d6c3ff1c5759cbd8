"""The ``eval`` command line, shared by ``assistant eval`` and ``python -m eval``.

``add_arguments`` fills a parser (the assistant CLI calls it for its ``eval``
sub-command); ``run`` does the work with already-read ``Settings``.
Exit codes: 0 done; 2 a bad dataset, option or setting.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path,
                        help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), a folder with documents/, "
                             "or one with dataset.json (e.g. eval/builtin)")
    parser.add_argument("--split", default="dev", help="qrels/<split>.tsv to score against (default: dev)")
    parser.add_argument("--retriever", choices=["hybrid", "dense", "lexical"], default="hybrid")
    parser.add_argument("--generator", choices=["extractive", "llm"], default="extractive",
                        help="llm needs ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N queries of the split, in file order")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for cached stores and reports (default: {DEFAULT_OUT})")
    parser.add_argument("--compare", action="store_true",
                        help="lexical, dense, hybrid (extractive) and a naive LangChain baseline in one table")
    parser.add_argument("--negatives", type=Path, default=None, metavar="OTHER_QUERIES_JSONL",
                        help="another set's queries.jsonl, asked as unanswerable (measures refusals)")
    parser.add_argument("--negatives-limit", type=int, default=None, metavar="N",
                        help="only the first N queries of --negatives")
    parser.add_argument("--audience", choices=["public", "staff"], default=None,
                        help="ask every query as this audience (default: the query's metadata.audience, else staff)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace, settings) -> int:
    from eval.datasets import DatasetError, load_dataset
    from eval.report import write
    from eval.runner import configurations, evaluate

    for name in ("limit", "negatives_limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be 1 or more", file=sys.stderr)
            return 2
    try:
        dataset = load_dataset(args.dataset, split=args.split, limit=args.limit, negatives=args.negatives,
                               negatives_limit=args.negatives_limit)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not dataset.queries:
        print(f"error: {args.dataset} has no queries in split {args.split!r}", file=sys.stderr)
        return 2
    from assistant.embeddings import ModelError
    from assistant.settings import SettingsError
    from assistant.store import StoreError

    configs = configurations(args.compare, args.retriever, args.generator)
    try:
        ev = evaluate(dataset, settings, args.out, configs, audience=args.audience, progress=not args.quiet)
    except (ModelError, StoreError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ev.args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
               if k not in ("command", "func")}
    write(ev, Path(args.out) / "runs" / run_name(args, dataset.name))
    return 0


def run_name(args: argparse.Namespace, dataset: str) -> str:
    """A folder name per kind of run, so a --limit or --negatives run does not overwrite a full one."""
    parts = [dataset, "compare" if args.compare else f"{args.retriever}-{args.generator}"]
    if args.split != "dev":
        parts.append(args.split)
    if args.limit:
        parts.append(f"limit{args.limit}")
    if args.negatives:
        neg = Path(args.negatives).resolve()
        parts.append(f"neg-{neg.name if neg.is_dir() else neg.parent.name}" + str(args.negatives_limit or ""))
    if args.audience:
        parts.append(args.audience)
    return "-".join(parts)


def main(argv: list[str] | None = None) -> int:
    """``python -m eval ...`` is ``assistant eval ...``: one place handles settings and Ctrl-C."""
    from assistant.cli import main as assistant_main

    return assistant_main(["eval", *(sys.argv[1:] if argv is None else argv)])
