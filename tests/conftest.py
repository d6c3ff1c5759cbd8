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
