"""Shared fixtures. Everything here is real: the real model, a real Chroma store,
a real SQLite file. Benchmarks under ../shared are used when present and the
tests that need them skip with the reason when they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

import assistant  # noqa: F401  (offline process set-up)
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BENCHMARKS = SHARED / "benchmarks"


def need_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test saying why."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared benchmark data sits beside the project only on the team's machines")
    return path


@pytest.fixture(scope="session")
def embedder():
    """The default model (multilingual-e5-small), loaded once for the whole run."""
    from assistant.embeddings import Embedder

    return Embedder()


@pytest.fixture()
def settings(tmp_path) -> Settings:
    return Settings.from_env(env={}, store_dir=tmp_path / "store", data_dir=tmp_path / "data")


# ---------------------------------------------------------------------- the served app

@pytest.fixture(scope="session")
def docs_store(tmp_path_factory, embedder) -> Path:
    """A store with the bundled docs/ ingested once (real model, real Chroma, real SQLite)."""
    from assistant.ingestion import Ingestor
    from assistant.store import Store

    folder = tmp_path_factory.mktemp("docs-store")
    settings = Settings.from_env(env={}, store_dir=folder / "store", data_dir=folder / "data")
    store = Store(settings, embedder.name, embedder.dimension)
    report = Ingestor(settings, embedder, store, progress=False).run([ROOT / "docs"])
    assert not report.failed, report.failed
    store.close()
    return folder / "store"


def make_services(tmp_path: Path, docs_store: Path, embedder, **overrides):
    """Services over a private copy of the docs store, with their own records and accounts files."""
    import shutil

    from assistant.pipeline import Assistant
    from assistant.services import Services

    store_dir = tmp_path / "store"
    shutil.copytree(docs_store, store_dir)
    values = {"data_dir": tmp_path / "data", "docs_dir": ROOT / "docs", **overrides}
    settings = Settings.from_env(env={}, store_dir=store_dir, **values)
    return Services.open(settings, Assistant(settings, embedder=embedder))


class LiveServer:
    """The real app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, services):
        import socket
        import threading

        import uvicorn

        from assistant.server import create_app

        self.services = services
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(services.settings, services), host="127.0.0.1", port=self.port,
                                log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.services.close()
