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
