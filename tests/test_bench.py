"""The benchmark suite runs end to end (numbers are printed by `assistant bench`, never asserted as timings)."""

from __future__ import annotations

import json
import shutil

from eval.perf import main as perf_main


def test_serve_benchmark_runs_against_a_real_server_and_reports_every_number(tmp_path, docs_store, monkeypatch,
                                                                              capsys):
    store = tmp_path / "store"
    shutil.copytree(docs_store, store)
    monkeypatch.setenv("ASSISTANT_STORE_DIR", str(store))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "serve.json"
    assert perf_main(["serve", "--clients", "2", "--seconds", "2", "--rounds", "2", "--json-out", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in ("startup_s", "rss_after_start_mb", "first_token_ms", "answer_ms", "answers_per_s", "error_rate",
                "concurrent_latency_ms", "rss_after_load_mb"):
        assert key in result, key
    assert result["store_chunks"] > 100 and result["answers"] > 0
    assert result["error_rate"] == 0.0
    assert "first_token_ms" in capsys.readouterr().out  # the table is printed


def test_soak_shortened_has_no_errors_and_bounded_memory_growth(tmp_path, docs_store, monkeypatch):
    """The full soak (5 minutes, 8 clients) is `assistant bench soak`; CI runs 20 s with 4 clients."""
    from eval.perf import bench_serve

    store = tmp_path / "store"
    shutil.copytree(docs_store, store)
    monkeypatch.setenv("ASSISTANT_STORE_DIR", str(store))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    result = bench_serve(None, "", clients=4, seconds=20, rounds=2, sample_s=4)
    assert result["answers"] > 0 and result["error_rate"] == 0.0
    assert len(result["rss_timeline_mb"]) >= 3
    assert result["rss_growth_mb"] < 150, result["rss_timeline_mb"]  # no leak: growth after warm-up is bounded
