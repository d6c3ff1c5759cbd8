"""From one answered query to its scores, and from all of them to one summary.

Pure functions over plain data (no model, no store), so the whole scoring path
is unit-tested. Which queries each mean is taken over:

- retrieval (Recall@5/10, MAP@10, nDCG@10, MRR@10): queries with gold ids;
  the others are counted in ``without_gold`` and left out;
- key facts: queries with key facts; exact match: ``true_false`` and
  ``multiple_choice`` queries; token F1: queries with a reference answer;
- citation precision / recall: answered (not refused) queries with gold ids;
- refusal rate: unanswerable queries refused; false-refusal rate: answerable
  queries refused (refused = ``Answer.grounded`` is False);
- answer chars: mean length of the answers that are not refusals.
"""

from __future__ import annotations

from typing import Sequence

from eval import metrics as m
from eval.datasets import Query

K = 10
RETRIEVAL_METRICS = ("recall@5", "recall@10", "map@10", "ndcg@10", "mrr@10")


def score_query(query: Query, retrieved: Sequence[str], answer: str, cited: Sequence[str],
                grounded: bool) -> dict:
    """Every per-query score; None where a score does not apply to this query.

    ``retrieved`` is the doc id of each retrieved chunk in rank order (duplicates allowed);
    ``cited`` the doc ids of the answer's citations.
    """
    docs = m.unique_docs(retrieved)
    gold = {d: g for d, g in query.gold.items() if g > 0}
    s: dict = {name: None for name in RETRIEVAL_METRICS}
    if gold:
        s["recall@5"] = m.recall_at_k(docs, gold, 5)
        s["recall@10"] = m.recall_at_k(docs, gold, K)
        s["map@10"] = m.average_precision_at_k(docs, gold, K)
        s["ndcg@10"] = m.ndcg_at_k(docs, gold, K)
        s["mrr@10"] = m.reciprocal_rank_at_k(docs, gold, K)
    s["refused"] = not grounded
    s["key_facts_all"] = s["key_facts_share"] = None
    s["key_facts_missing"] = []
    if query.key_facts:
        s["key_facts_all"], s["key_facts_share"] = m.key_facts_score(answer, query.key_facts)
        s["key_facts_missing"] = [f for f in query.key_facts if not m.key_fact_present(answer, f)]
    s["exact_match"] = (m.exact_match(answer, query.answer, query.type, query.choices)
                        if query.type in ("true_false", "multiple_choice") and query.answer else None)
    s["token_f1"] = m.token_f1(answer, query.reference_answer) if query.reference_answer else None
    answered_with_gold = grounded and bool(gold)
    s["citation_precision"] = m.citation_precision(cited, gold) if answered_with_gold else None
    s["citation_recall"] = m.citation_recall(cited, gold) if answered_with_gold else None
    s["answer_chars"] = len(answer) if grounded else None
    return s


def summarise(queries: Sequence[Query], scores: Sequence[dict], retrieval_ms: Sequence[float],
              total_ms: Sequence[float]) -> dict:
    """The means and counts of one configuration's run (see the module docstring for the denominators)."""
    answerable = [s for q, s in zip(queries, scores) if q.answerable]
    unanswerable = [s for q, s in zip(queries, scores) if not q.answerable]
    with_gold = [s for s in scores if s["recall@10"] is not None]
    out: dict = {
        "queries": len(scores),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "with_gold": len(with_gold),
        "without_gold": len(scores) - len(with_gold),
    }
    for name in RETRIEVAL_METRICS:
        out[name] = m.mean(s[name] for s in with_gold)
    for name in ("key_facts_all", "key_facts_share", "exact_match", "token_f1",
                 "citation_precision", "citation_recall", "answer_chars"):
        out[name] = m.mean(s[name] for s in scores)
    out["key_fact_queries"] = sum(s["key_facts_all"] is not None for s in scores)
    out["exact_match_queries"] = sum(s["exact_match"] is not None for s in scores)
    out["token_f1_queries"] = sum(s["token_f1"] is not None for s in scores)
    out["cited_queries"] = sum(s["citation_recall"] is not None for s in scores)
    out["refusal_rate"] = m.mean(s["refused"] for s in unanswerable)
    out["false_refusal_rate"] = m.mean(s["refused"] for s in answerable)
    out["retrieval_ms_p50"] = m.percentile(retrieval_ms, 50)
    out["retrieval_ms_p95"] = m.percentile(retrieval_ms, 95)
    out["total_ms_p50"] = m.percentile(total_ms, 50)
    out["total_ms_p95"] = m.percentile(total_ms, 95)
    return out


def failure_severity(query: Query, scores: dict) -> float:
    """How bad a query's outcome is, for listing the worst first (0 = no failure).

    Answerable: refused -> 2; else missing key facts -> 1 + share missing; else nothing
    relevant in the top 10 -> 0.5. Unanswerable and answered -> 2.
    """
    if not query.answerable:
        return 0.0 if scores["refused"] else 2.0
    if scores["refused"]:
        return 2.0
    if scores["key_facts_share"] is not None and scores["key_facts_share"] < 1:
        return 1.0 + (1 - scores["key_facts_share"])
    if scores["recall@10"] == 0:
        return 0.5
    return 0.0
