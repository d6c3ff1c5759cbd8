"""Regression gate: the built-in set (eval/builtin over docs/) end to end.

Real model, real store in tmp_path, hybrid retrieval + extractive generator,
exactly what ``assistant eval eval/builtin --retriever hybrid`` runs. The
thresholds are today's measured quality minus a small margin (about one or two
questions), so a change that makes answers worse fails here; the measured value
sits next to each threshold (measured at commit ce6bc0a, 2026-11-22). Re-measure
and move them up when quality improves:

    assistant eval eval/builtin --compare
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings
from eval.datasets import load_dataset
from eval.runner import Config, evaluate

BUILTIN = Path(__file__).resolve().parents[1] / "eval" / "builtin"
HYBRID = Config("hybrid + extractive", "assistant", "hybrid", "extractive")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eval-gate")


@pytest.fixture(scope="module")
def settings(out) -> Settings:
    return Settings.from_env(env={}, store_dir=out / "unused", data_dir=out / "data")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(BUILTIN)


@pytest.fixture(scope="module")
def staff_eval(dataset, settings, out, embedder):
    return evaluate(dataset, settings, out, [HYBRID], progress=False, embedder=embedder, log=lambda _: None)


@pytest.fixture(scope="module")
def staff_run(staff_eval):
    return staff_eval.runs[0]


@pytest.fixture(scope="module")
def public_run(dataset, settings, out, embedder, staff_run):
    ev = evaluate(dataset, settings, out, [HYBRID], audience="public", progress=False, embedder=embedder,
                  log=lambda _: None)
    return ev.runs[0]


def test_builtin_set_is_what_the_gate_expects(dataset):
    s = {q.id: q for q in dataset.queries}
    assert len(dataset.queries) == 31
    assert sum(not q.answerable for q in dataset.queries) == 7
    assert all(q.gold for q in dataset.queries if q.answerable)
    assert s["s01"].audience == "staff" and s["s02"].audience == "staff"
    assert dataset.corpus[0] == (Path(__file__).resolve().parents[1] / "docs")


def test_the_harness_answers_exactly_as_ask_does(staff_eval, embedder):
    from assistant.pipeline import Assistant

    bot = Assistant(staff_eval.settings, embedder=embedder)
    rows = {r["id"]: r for r in staff_eval.runs[0]["rows"]}
    for qid in ("b01", "b14", "b17", "s02", "n01"):
        row = rows[qid]
        answer = bot.ask(row["question"], audience=row["audience"], mode="hybrid")
        assert answer.text == row["answer"], qid
        assert answer.grounded == row["grounded"], qid
        assert [c.doc_id for c in answer.citations] == [c["doc_id"] for c in row["citations"]], qid


def test_retrieval_quality(staff_run):
    s = staff_run["summary"]
    assert s["with_gold"] == 24 and s["without_gold"] == 7
    assert s["recall@5"] >= 0.85  # measured 0.910
    assert s["mrr@10"] >= 0.93  # measured 0.979 (23 of 24 queries find gold at rank 1, one at rank 2)
    assert s["ndcg@10"] >= 0.87  # measured 0.916


def test_answer_quality(staff_run):
    s = staff_run["summary"]
    assert s["key_facts_all"] >= 0.79  # measured 0.875 (21 of 24); two fewer is 0.792
    assert s["false_refusal_rate"] <= 0.09  # measured 0.000 (0 of 24); two refusals is 0.083
    assert s["citation_precision"] >= 0.90  # measured 1.000


def test_out_of_scope_questions_are_refused(staff_run):
    assert staff_run["summary"]["refusal_rate"] >= 0.85  # measured 1.000 (7 of 7); one miss is 0.857


def test_staff_questions_are_answered_from_the_internal_note(staff_run):
    rows = {r["id"]: r for r in staff_run["rows"]}
    for qid in ("s01", "s02"):
        assert rows[qid]["audience"] == "staff"
        assert rows[qid]["retrieved"][0].startswith("internal/")  # measured: rank 1 for both


def test_public_audience_never_sees_internal_documents(public_run):
    assert all(r["audience"] == "public" for r in public_run["rows"])
    for row in public_run["rows"]:
        assert not any(d.startswith("internal/") for d in row["retrieved"]), row["id"]
        assert not any(c["doc_id"].startswith("internal/") for c in row["citations"]), row["id"]
    rows = {r["id"]: r for r in public_run["rows"]}
    assert "1.250.000.000" not in rows["s02"]["answer"]
    assert "35 công chức" not in rows["s01"]["answer"]
