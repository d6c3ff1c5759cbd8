"""Scoring functions: pure, small, each with its exact definition.

Retrieval is scored at DOCUMENT level: a ranked list of chunks becomes a ranked
list of doc ids by keeping the first occurrence of each document
(``unique_docs``), because benchmark gold ids name documents (a statute
article, a procedure record, a PDF), not our chunks. The definitions follow
trec_eval / pytrec_eval (what BEIR reports), so numbers are comparable.

Answers are scored on text after ``normalise`` (NFC, lower case, white space
collapsed, no space before punctuation), as the benchmarks' README asks:
forgiving of form, not of substance.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Iterable, Mapping, Sequence

# ---------------------------------------------------------------------- retrieval


def unique_docs(doc_ids: Iterable[str]) -> list[str]:
    """Doc ids in rank order, each kept at its first (best) occurrence only."""
    return list(dict.fromkeys(doc_ids))


def _relevant(gold: Mapping[str, float] | Iterable[str]) -> set[str]:
    if isinstance(gold, Mapping):
        return {d for d, g in gold.items() if g > 0}
    return set(gold)


def recall_at_k(ranked: Sequence[str], gold: Mapping[str, float] | Iterable[str], k: int) -> float:
    """|gold ∩ ranked[:k]| / |gold|: the share of the relevant documents found in the top k.

    ``ranked`` must already be unique doc ids (see ``unique_docs``). Raises on empty gold:
    a query with no gold has no recall and is left out of the means by the caller.
    """
    rel = _relevant(gold)
    if not rel:
        raise ValueError("recall is undefined without gold ids")
    return len(rel & set(ranked[:k])) / len(rel)


def average_precision_at_k(ranked: Sequence[str], gold: Mapping[str, float] | Iterable[str], k: int) -> float:
    """AP@k = (1 / |gold|) · Σ_{i ≤ k, ranked[i] ∈ gold} precision@i  (trec_eval ``map_cut``).

    precision@i = (relevant documents among ranked[:i]) / i. The divisor is the number of
    relevant documents, not min(|gold|, k): a query with 12 gold documents cannot reach 1.0 at k=10.
    MAP@k is the mean of AP@k over the queries with gold.
    """
    rel = _relevant(gold)
    if not rel:
        raise ValueError("average precision is undefined without gold ids")
    hits, total = 0, 0.0
    for i, doc in enumerate(ranked[:k], start=1):
        if doc in rel:
            hits += 1
            total += hits / i
    return total / len(rel)


def ndcg_at_k(ranked: Sequence[str], gains: Mapping[str, float], k: int) -> float:
    """nDCG@k with graded gains (trec_eval ``ndcg_cut``): DCG@k / IDCG@k.

    DCG@k = Σ_{i=1..k} gain(ranked[i]) / log2(i + 1), where gain is the qrels score
    (0 for documents not in qrels). IDCG@k is the DCG of the gold documents sorted by
    gain, highest first. Equal gains give the same IDCG whichever order they take.
    """
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    if not ideal:
        raise ValueError("nDCG is undefined without gold ids")
    dcg = sum(gains.get(doc, 0) / math.log2(i + 1) for i, doc in enumerate(ranked[:k], start=1)
              if gains.get(doc, 0) > 0)
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg


def reciprocal_rank_at_k(ranked: Sequence[str], gold: Mapping[str, float] | Iterable[str], k: int) -> float:
    """1 / rank of the first relevant document within the top k, 0 when there is none. MRR@k is its mean."""
    rel = _relevant(gold)
    if not rel:
        raise ValueError("reciprocal rank is undefined without gold ids")
    for i, doc in enumerate(ranked[:k], start=1):
        if doc in rel:
            return 1.0 / i
    return 0.0


# ---------------------------------------------------------------------- answers

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Unicode NFC, lower case, white space runs -> one space, stripped, and no white
    space before a punctuation character (any Unicode category P*: "Phí : 0" -> "phí: 0")."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text).lower()).strip()
    out: list[str] = []
    for ch in text:
        if out and out[-1] == " " and unicodedata.category(ch).startswith("P"):
            out.pop()
        out.append(ch)
    return "".join(out)


def key_fact_present(answer: str, fact: str) -> bool:
    """True when ``normalise(fact)`` is a substring of ``normalise(answer)`` (an empty fact is never present)."""
    needle = normalise(fact)
    return bool(needle) and needle in normalise(answer)


def key_facts_score(answer: str, facts: Sequence[str]) -> tuple[bool, float]:
    """(all facts present, share of the facts present) for a non-empty list of key facts."""
    if not facts:
        raise ValueError("no key facts to score")
    present = [key_fact_present(answer, f) for f in facts]
    return all(present), sum(present) / len(present)


_VERDICTS = {
    "đúng": "true", "sai": "false", "true": "true", "false": "false",
    "yes": "true", "no": "false", "có": "true", "không": "false",
}
_LEADING_WORD = re.compile(r"^\W*(\w+)")
_CHOICE = re.compile(
    r"^\W*(?:(?:đáp án|phương án|answer|option|choice)\W*\(?([a-z])\b"  # "Đáp án B", "Answer: (b)"
    r"|\(?([a-z])(?:[).:]|$))"  # "B.", "(b)", "c:" or the letter alone
)


def predicted_verdict(answer: str) -> str | None:
    """'true' / 'false' when the answer's first word is a verdict (Đúng, Sai, True, False, Yes, No, Có, Không)."""
    m = _LEADING_WORD.match(normalise(answer))
    return _VERDICTS.get(m.group(1)) if m else None


def predicted_choice(answer: str, choices: Mapping[str, str]) -> str | None:
    """The choice letter an answer gives: a leading letter ("B", "(B)", "Đáp án B:"), else the one
    choice whose normalised text the answer contains (None when zero or several do)."""
    letters = {k.lower() for k in choices}
    m = _CHOICE.match(normalise(answer))
    letter = m and (m.group(1) or m.group(2))
    if letter and letter in letters:
        return letter
    contained = [k.lower() for k, text in choices.items() if normalise(text) and normalise(text) in normalise(answer)]
    return contained[0] if len(contained) == 1 else None


def exact_match(answer: str, gold: str, qtype: str, choices: Mapping[str, str] | None = None) -> bool:
    """Does the answer give the gold verdict (``true_false``) or the gold letter (``multiple_choice``)?

    The prediction is read from the answer by ``predicted_verdict`` / ``predicted_choice``
    and compared with the normalised gold ("Đúng" -> true, "A" -> a). An answer that
    quotes evidence without a verdict scores False.
    """
    if qtype == "true_false":
        want = _VERDICTS.get(normalise(gold))
        return want is not None and predicted_verdict(answer) == want
    if qtype == "multiple_choice":
        return predicted_choice(answer, choices or {}) == normalise(gold)
    raise ValueError(f"exact match is defined for true_false and multiple_choice, not {qtype!r}")


def tokens(text: str) -> list[str]:
    """Word tokens (``\\w+``) of the normalised text."""
    return re.findall(r"\w+", normalise(text))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1: overlap = Σ_t min(count_pred(t), count_ref(t));
    P = overlap / |pred|, R = overlap / |ref|, F1 = 2PR / (P + R); 0 when either side is empty."""
    pred, ref = tokens(prediction), tokens(reference)
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not overlap:
        return 0.0
    p, r = overlap / len(pred), overlap / len(ref)
    return 2 * p * r / (p + r)


# ---------------------------------------------------------------------- citations


def citation_precision(cited: Iterable[str], gold: Mapping[str, float] | Iterable[str]) -> float | None:
    """Share of the distinct cited doc ids that are gold; None when nothing is cited."""
    cited_set, rel = set(cited), _relevant(gold)
    return len(cited_set & rel) / len(cited_set) if cited_set else None


def citation_recall(cited: Iterable[str], gold: Mapping[str, float] | Iterable[str]) -> float | None:
    """Share of the gold doc ids that are cited; None when there is no gold."""
    rel = _relevant(gold)
    return len(rel & set(cited)) / len(rel) if rel else None


# ---------------------------------------------------------------------- summaries


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Arithmetic mean of the values that are not None; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
