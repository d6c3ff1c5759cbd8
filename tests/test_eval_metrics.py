"""Every evaluation metric against values computed by hand (no model, no store)."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import pytest

from eval import metrics as m
from eval.datasets import Query, load_dataset, read_qrels
from eval.scoring import failure_severity, score_query, summarise

LOG3 = math.log2(3)


# ---------------------------------------------------------------- document level


def test_unique_docs_keeps_first_occurrence_in_rank_order():
    assert m.unique_docs(["a", "a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_recall_at_k_with_multiple_gold_ids():
    ranked = ["x", "a", "y", "b", "z", "c"]
    gold = {"a": 1, "b": 1, "c": 1, "d": 1}
    assert m.recall_at_k(ranked, gold, 5) == pytest.approx(2 / 4)
    assert m.recall_at_k(ranked, gold, 10) == pytest.approx(3 / 4)
    assert m.recall_at_k(ranked, gold, 1) == 0.0


def test_zero_scores_in_qrels_are_not_gold():
    assert m.recall_at_k(["a", "b"], {"a": 1, "b": 0}, 1) == 1.0


def test_average_precision_divides_by_all_gold():
    # hits at ranks 1 and 3: (1/1 + 2/3) / 3 gold
    assert m.average_precision_at_k(["a", "x", "b"], {"a", "b", "c"}, 10) == pytest.approx((1 + 2 / 3) / 3)
    # a gold document past the cut-off does not count
    assert m.average_precision_at_k(["x", "a"], {"a"}, 1) == 0.0
    assert m.average_precision_at_k(["a"], {"a"}, 10) == 1.0


def test_ndcg_uses_graded_gains():
    gains = {"a": 2, "b": 1}
    dcg = 1 / math.log2(2) + 2 / LOG3  # b at rank 1, a at rank 2
    idcg = 2 / math.log2(2) + 1 / LOG3
    assert m.ndcg_at_k(["b", "a"], gains, 10) == pytest.approx(dcg / idcg)
    assert m.ndcg_at_k(["b", "a"], gains, 10) == pytest.approx(0.859719, abs=1e-6)
    assert m.ndcg_at_k(["a", "b"], gains, 10) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x", "y"], gains, 10) == 0.0


def test_ndcg_ties_in_gain_any_order_is_ideal():
    gains = {"a": 1, "b": 1}
    assert m.ndcg_at_k(["b", "a"], gains, 10) == pytest.approx(1.0)
    assert m.ndcg_at_k(["a", "b"], gains, 10) == pytest.approx(1.0)
    # one of two equal-gain docs, at rank 2: (1/log2 3) / (1 + 1/log2 3)
    assert m.ndcg_at_k(["x", "a"], gains, 10) == pytest.approx((1 / LOG3) / (1 + 1 / LOG3))


def test_ndcg_ideal_is_cut_at_k():
    gains = {"a": 1, "b": 1, "c": 1}
    assert m.ndcg_at_k(["a"], gains, 1) == pytest.approx(1.0)


def test_reciprocal_rank():
    assert m.reciprocal_rank_at_k(["x", "y", "a", "b"], {"a", "b"}, 10) == pytest.approx(1 / 3)
    assert m.reciprocal_rank_at_k(["x", "y"], {"a"}, 10) == 0.0
    assert m.reciprocal_rank_at_k(["x", "a"], {"a"}, 1) == 0.0


def test_ties_in_retrieval_are_resolved_by_the_given_rank_order():
    # two chunks with the same score arrive in the retriever's order; metrics read positions only
    assert m.reciprocal_rank_at_k(["x", "a"], {"a"}, 10) == 0.5
    assert m.reciprocal_rank_at_k(["a", "x"], {"a"}, 10) == 1.0


@pytest.mark.parametrize("metric", [m.recall_at_k, m.average_precision_at_k, m.reciprocal_rank_at_k])
def test_no_gold_is_undefined(metric):
    with pytest.raises(ValueError):
        metric(["a"], {}, 10)
    with pytest.raises(ValueError):
        m.ndcg_at_k(["a"], {}, 10)


# ---------------------------------------------------------------- answers


def test_normalise_nfc_case_spaces_and_punctuation():
    nfd = unicodedata.normalize("NFD", "Phí : 0 Đồng")
    assert nfd != "Phí : 0 Đồng"
    assert m.normalise(nfd) == "phí: 0 đồng"
    assert m.normalise("  10   ngày\n làm\tviệc  ") == "10 ngày làm việc"
    assert m.normalise("Luật Hộ tịch , số 60 .") == "luật hộ tịch, số 60."


def test_key_fact_matching_is_forgiving_of_form_only():
    answer = unicodedata.normalize("NFD", "Theo quy chế: trong 08  GIỜ làm việc ; phí : 0 Đồng")
    assert m.key_fact_present(answer, "08 giờ làm việc")
    assert m.key_fact_present(answer, "Phí: 0 đồng")
    assert m.key_fact_present(answer, "phí : 0 Đồng")
    assert not m.key_fact_present(answer, "8 giờ làm việc ngày")
    assert not m.key_fact_present(answer, "")


def test_key_facts_score_all_and_share():
    answer = "digital government and digital economy"
    facts = ["Digital government", "digital economy", "digital society"]
    assert m.key_facts_score(answer, facts) == (False, pytest.approx(2 / 3))
    assert m.key_facts_score(answer + ", digital  society", facts) == (True, 1.0)
    with pytest.raises(ValueError):
        m.key_facts_score(answer, [])


def test_exact_match_true_false():
    assert m.exact_match("Đúng. Theo Điều 32 ...", "Đúng", "true_false")
    assert m.exact_match("sai, vì ...", "Sai", "true_false")
    assert not m.exact_match("Theo các văn bản hiện có: ... Đúng", "Đúng", "true_false")
    assert not m.exact_match("Sai.", "Đúng", "true_false")
    assert m.exact_match("True: it applies", "Đúng", "true_false")


def test_exact_match_multiple_choice():
    choices = {"A": "Viên chức có 02 năm liên tiếp không hoàn thành nhiệm vụ", "B": "Viên chức ốm đau",
               "C": "Cả A và B đều đúng"}
    assert m.exact_match("Đáp án B: viên chức ốm đau", "B", "multiple_choice", choices)
    assert m.exact_match("(c) vì ...", "C", "multiple_choice", choices)
    assert m.exact_match("A.", "a", "multiple_choice", choices)
    # no leading letter: the one choice whose text the answer quotes
    assert m.exact_match("Theo luật: viên chức có 02  năm liên tiếp không hoàn thành nhiệm vụ.", "A",
                         "multiple_choice", choices)
    assert not m.exact_match("A fee is charged", "A", "multiple_choice", choices)  # the article "A" is no choice
    assert not m.exact_match("Không rõ", "A", "multiple_choice", choices)
    with pytest.raises(ValueError):
        m.exact_match("x", "y", "essay")


def test_token_f1():
    assert m.token_f1("the cat sat", "the cat sat on the mat") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m.token_f1("The CAT", "the cat") == 1.0
    assert m.token_f1("", "the cat") == 0.0
    assert m.token_f1("dog", "the cat") == 0.0
    # counts are clipped: "the the the" vs "the cat" -> overlap 1, P=1/3, R=1/2
    assert m.token_f1("the the the", "the cat") == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_citation_precision_and_recall():
    assert m.citation_precision(["a", "a", "x"], {"a": 1, "b": 1}) == pytest.approx(1 / 2)
    assert m.citation_recall(["a", "a", "x"], {"a": 1, "b": 1}) == pytest.approx(1 / 2)
    assert m.citation_precision([], {"a": 1}) is None
    assert m.citation_recall(["a"], {}) is None


def test_mean_and_percentile():
    assert m.mean([1, None, 0, True]) == pytest.approx(2 / 3)
    assert m.mean([None]) is None
    assert m.percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert m.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert m.percentile([7], 95) == 7
    assert m.percentile([], 50) is None


# ---------------------------------------------------------------- per query and summary


def test_duplicate_chunks_of_one_document_count_once():
    q = Query("q", "?", gold={"b": 1})
    s = score_query(q, ["a", "a", "a", "a", "a", "b"], "answer", ["b"], True)
    assert s["recall@5"] == 1.0  # b is the 2nd document, though the 6th chunk
    assert s["mrr@10"] == 0.5
    assert s["map@10"] == 0.5
    assert s["citation_precision"] == 1.0 and s["citation_recall"] == 1.0


def test_query_without_gold_is_left_out_of_retrieval_means():
    queries = [Query("q1", "?", gold={"a": 1}), Query("q2", "?", answerable=False)]
    scores = [score_query(queries[0], ["x", "a"], "ans", ["a"], True),
              score_query(queries[1], ["a"], "refusal", [], False)]
    assert scores[1]["recall@10"] is None and scores[1]["citation_precision"] is None
    summary = summarise(queries, scores, [10, 20], [30, 40])
    assert summary["with_gold"] == 1 and summary["without_gold"] == 1
    assert summary["mrr@10"] == 0.5 and summary["recall@5"] == 1.0
    assert summary["refusal_rate"] == 1.0 and summary["false_refusal_rate"] == 0.0
    assert summary["retrieval_ms_p50"] == 15 and summary["total_ms_p95"] == pytest.approx(39.5)


def test_summary_rates_and_denominators():
    queries = [
        Query("a1", "?", gold={"d1": 1}, key_facts=("10 ngày",)),
        Query("a2", "?", gold={"d2": 1}, key_facts=("5 days", "free")),
        Query("u1", "?", answerable=False),
        Query("u2", "?", answerable=False),
    ]
    scores = [
        score_query(queries[0], ["d1"], "trong 10  ngày làm việc", ["d1", "d9"], True),
        score_query(queries[1], ["d9"], "refused", [], False),
        score_query(queries[2], ["d1"], "an answer", ["d1"], True),
        score_query(queries[3], [], "refused", [], False),
    ]
    s = summarise(queries, scores, [1, 2, 3, 4], [1, 2, 3, 4])
    assert s["key_facts_all"] == 0.5 and s["key_fact_queries"] == 2
    assert s["key_facts_share"] == 0.5
    assert s["refusal_rate"] == 0.5 and s["false_refusal_rate"] == 0.5
    assert s["citation_precision"] == 0.5 and s["cited_queries"] == 1  # only a1: answered with gold
    assert s["answer_chars"] == pytest.approx((len("trong 10  ngày làm việc") + len("an answer")) / 2)
    assert s["exact_match"] is None and s["token_f1"] is None
    assert failure_severity(queries[1], scores[1]) == 2.0  # answerable, refused
    assert failure_severity(queries[2], scores[2]) == 2.0  # unanswerable, answered
    assert failure_severity(queries[0], scores[0]) == 0.0
    assert failure_severity(queries[3], scores[3]) == 0.0


def test_qrels_header_and_graded_scores(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\ta.md\t2\nq1\tb.md\t1\nq2\tc.md\t0\n", encoding="utf-8")
    assert read_qrels(path) == {"q1": {"a.md": 2, "b.md": 1}}


# ---------------------------------------------------------------- reading the sets

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _benchmark(name: str) -> Path:
    path = SHARED / "benchmarks" / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared benchmark data sits beside the project only on the team's machines")
    return path


def test_beir_folder_is_read_in_file_order_with_gold():
    ds = load_dataset(_benchmark("tthc"), limit=3)
    assert ds.corpus == [_benchmark("tthc") / "corpus.jsonl"]
    assert [q.id for q in ds.queries] == ["dev-tthc-1.013124-deadline", "dev-tthc-1.013124-fee",
                                          "dev-tthc-1.013124-agency"]
    assert ds.queries[0].gold == {"tthc-1.013124": 1} and ds.queries[0].key_facts == ("30 Ngày làm việc",)


def test_documents_folder_and_reference_answers():
    ds = load_dataset(_benchmark("gov-pdfs"), limit=1)
    assert ds.corpus == [_benchmark("gov-pdfs") / "documents"]
    assert ds.queries[0].gold == {"Home_Affairs.pdf": 1} and ds.queries[0].reference_answer


def test_statute_set_types_and_essay_answer_as_key_fact():
    ds = load_dataset(_benchmark("alqac2023"))
    kinds = {q.type for q in ds.queries}
    assert kinds == {"true_false", "multiple_choice", "essay"}
    essay = next(q for q in ds.queries if q.type == "essay")
    assert essay.key_facts == (essay.answer,)
    mc = next(q for q in ds.queries if q.type == "multiple_choice")
    assert set(mc.choices) == {"A", "B", "C", "D"}


def test_negatives_are_unanswerable_without_gold():
    ds = load_dataset(_benchmark("tthc"), limit=2, negatives=_benchmark("gov-pdfs") / "queries.jsonl",
                      negatives_limit=3)
    assert len(ds.queries) == 5
    negs = ds.queries[2:]
    assert all(q.id.startswith("neg:") and not q.answerable and not q.gold and not q.key_facts for q in negs)


def test_builtin_set_points_at_the_project_docs():
    ds = load_dataset(Path(__file__).resolve().parents[1] / "eval" / "builtin")
    assert ds.name == "builtin" and ds.corpus == [Path(__file__).resolve().parents[1] / "docs"]
    docs = ds.corpus[0]
    for q in ds.queries:
        for doc_id in q.gold:
            assert (docs / doc_id).is_file(), (q.id, doc_id)
