"""The ``assistant`` command: one sub-command per job.

    assistant ingest PATH... [--prune] [--json]   bring the store in step with files
    assistant ask "QUESTION" [--audience public|staff] [--json] [--k N]
    assistant eval DATASET_DIR [--compare] [--limit N] ...   score on a benchmark set (eval/)
    assistant serve [--ingest PATH]...            staff workspace, public widget and HTTP API
    assistant users add|passwd|remove|list [NAME] staff accounts (password read from the terminal or stdin)
    assistant bench ingest|query|serve ...        performance benchmarks (eval/perf.py)

Exit codes: 0 all went well; 1 some files failed (the rest were ingested);
2 the command, a setting or the store is wrong (e.g. its disk is full or it is
read-only; what was finished is kept); 130 interrupted (rerun to finish).
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

    ask = sub.add_parser("ask", help="answer a question from the indexed documents, with citations")
    ask.add_argument("question", help="the question, in Vietnamese or English")
    ask.add_argument("--audience", choices=["public", "staff"], default="staff",
                     help="public sees public documents only; staff also sees internal ones (default: staff)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--k", type=int, default=None, help="chunks to draw the answer from (ASSISTANT_TOP_K)")
    ask.add_argument("--retriever", choices=["hybrid", "dense", "lexical"], default="hybrid")
    ask.add_argument("--history", action="append", default=[], metavar="QUESTION",
                     help="an earlier question of the conversation (repeat for several, oldest first)")

    srv = sub.add_parser("serve", help="serve the staff workspace, the public widget and the HTTP API")
    srv.add_argument("--ingest", action="append", default=[], type=Path, metavar="PATH",
                     help="bring these files or folders into the store first (with --prune); repeatable")
    srv.add_argument("--host", default=None, help="listen address (ASSISTANT_HOST)")
    srv.add_argument("--port", type=int, default=None, help="listen port (ASSISTANT_PORT)")

    usr = sub.add_parser("users", help="manage staff accounts (stored hashed in data_dir)")
    usr.add_argument("action", choices=["add", "passwd", "remove", "list"])
    usr.add_argument("name", nargs="?", help="user name: lower-case letters, digits, . _ -")

    bench = sub.add_parser("bench", help="performance benchmarks: ingest, query (by corpus size), serve",
                           add_help=False)
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="see: assistant bench --help")

    from eval.cli import add_arguments as add_eval_arguments  # argparse only: cheap to import

    ev = sub.add_parser("eval", help="score the assistant on a benchmark set (see eval/)")
    add_eval_arguments(ev)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # its own parser, flags included
        from eval.perf import main as perf_main

        return perf_main(argv[1:] or ["--help"])
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
    try:
        report = ingestor.run(args.paths, prune=args.prune)
    except StoreError as exc:  # disk full, read-only, Chroma server away: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
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


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.conversation import Turn
    from assistant.embeddings import ModelError
    from assistant.guardrails import QuestionError
    from assistant.pipeline import Assistant
    from assistant.store import StoreError

    try:
        bot = Assistant(settings)
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bot.store.counts()["chunks"] == 0:
        print(f"error: the store at {settings.store_dir} is empty; run: assistant ingest docs/", file=sys.stderr)
        return 2
    history = [Turn(q) for q in args.history]
    try:
        if args.json:
            answer = bot.ask(args.question, audience=args.audience, history=history, k=args.k, mode=args.retriever)
            print(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2))
            return 0
        answer = None
        for piece in bot.stream(args.question, audience=args.audience, history=history, k=args.k,
                                mode=args.retriever):
            if isinstance(piece, str):
                print(piece, end="", flush=True)
            else:
                answer = piece
    except QuestionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    if answer and answer.citations:
        print()
        for c in answer.citations:
            print(f"[{c.n}] {c.label()} — {c.source}")
    if answer and not answer.grounded:
        print("(no grounded answer: the documents do not cover this question)")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from assistant.embeddings import ModelError
    from assistant.store import StoreError

    if args.host or args.port:
        try:
            settings = dataclasses.replace(settings, host=args.host or settings.host, port=args.port or settings.port)
            settings.check()
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from assistant.server import serve

    try:
        serve(settings, ingest=args.ingest)
    except (ModelError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _users(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from assistant.auth import AccountError, Accounts
    from assistant.services import DB_NAME

    accounts = Accounts(Path(settings.data_dir) / DB_NAME)
    if args.action == "list":
        print("\n".join(accounts.users()))
        return 0
    if not args.name:
        print(f"error: give a user name: assistant users {args.action} NAME", file=sys.stderr)
        return 2
    try:
        if args.action == "remove":
            if not accounts.remove_user(args.name):
                print(f"error: no user {args.name!r}", file=sys.stderr)
                return 2
            print(f"removed {args.name}")
            return 0
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                print("error: the two passwords differ", file=sys.stderr)
                return 2
        else:
            password = sys.stdin.readline().rstrip("\n")
        (accounts.add_user if args.action == "add" else accounts.set_password)(args.name, password)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'added' if args.action == 'add' else 'password changed for'} {args.name}")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.cli import run

    return run(args, settings)


_COMMANDS = {"ingest": _ingest, "ask": _ask, "eval": _eval, "serve": _serve, "users": _users}


if __name__ == "__main__":
    sys.exit(main())
