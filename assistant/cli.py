"""The ``assistant`` command: one sub-command per job.

    assistant ingest PATH... [--prune] [--json]   bring the store in step with files

Exit codes: 0 all went well; 1 some files failed (the rest were ingested);
2 the command or a setting is wrong; 130 interrupted (rerun to finish).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import assistant  # noqa: F401  (prepares an offline process before heavy imports)
from assistant.settings import Settings, SettingsError


def _settings_epilog() -> str:
    rows = "\n".join(f"  {name} (default {default})" for name, default, _ in Settings.documented())
    return "settings (environment variables):\n" + rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="A retrieval-augmented assistant for government documents, with citations.",
        epilog=_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="index files and folders into the store")
    ing.add_argument("paths", nargs="+", type=Path, help="files or folders (pdf, docx, html, md, txt, jsonl)")
    ing.add_argument("--prune", action="store_true", help="remove documents whose files are gone from the folders")
    ing.add_argument("--json", action="store_true", help="print the report as JSON (no progress bars)")
    ing.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _COMMANDS[args.command](args, settings)
    except KeyboardInterrupt:
        print("interrupted: what was finished is kept; run the same command again to complete it.", file=sys.stderr)
        return 130


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.embeddings import ModelError
    from assistant.ingestion import Ingestor, open_pipeline
    from assistant.store import StoreError

    try:
        embedder, store = open_pipeline(settings)
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ingestor = Ingestor(settings, embedder, store, progress=not (args.json or args.quiet))
    report = ingestor.run(args.paths, prune=args.prune)
    counts = store.counts()
    if args.json:
        print(json.dumps({**report.as_dict(), "store": counts}, ensure_ascii=False))
    else:
        print(
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"removed {report.removed}, failed {len(report.failed)}; "
            f"{report.chunks} chunks written, {report.embedded} embedded, in {report.seconds:.1f} s. "
            f"Store: {counts['documents']} documents, {counts['chunks']} chunks."
        )
    return 1 if report.failed else 0


_COMMANDS = {"ingest": _ingest}


if __name__ == "__main__":
    sys.exit(main())
