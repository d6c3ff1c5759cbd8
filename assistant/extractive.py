"""The default generator: answers by quoting the documents, no LLM needed.

How it works, in three steps:

1. **Units.** The text of each hit (and its neighbouring chunks) is cut into
   units a person would quote: a sentence, a line, a "Label:" line with the
   list items under it (``Thành phần hồ sơ:`` + its documents), a FAQ question
   with its answer, a table row.
2. **Scores.** A unit scores for the question's words it contains (IDF
   weighted, Vietnamese syllable bigrams count extra), for matching what the
   question asks for (a deadline, a fee, documents, legal basis, agency, level,
   date: ``data/intents.tsv``), and for coming from a higher-ranked chunk.
3. **Answer.** The best units, at most three, are quoted verbatim, each with
   its citation. When even the best unit covers too little of the question,
   the generator refuses rather than guess.

Quoting verbatim means the answer can only say what a document says; passages
that address an AI ("ignore previous instructions") are never quoted.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from assistant.answering import Answer, Citation, citation_for, refusal
from assistant.guardrails import looks_like_injection, mask_unknown_contacts
from assistant.retrieval import Hit
from assistant.text import fold_diacritics

_DATA = Path(__file__).parent / "data"
_WORD = re.compile(r"\w+", re.UNICODE)
_LIST_ITEM = re.compile(r"^\s*(?:[-•*+]|\d{1,2}[.)]|[a-zđ][)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ỹ0-9\"“(])")
MAX_UNIT_CHARS = 700
MAX_ITEMS = 8

LEAD = {"vi": "Theo các văn bản hiện có:", "en": "According to the documents:"}


@dataclass(frozen=True)
class Intent:
    name: str
    question: re.Pattern
    label: re.Pattern
    value: re.Pattern


@lru_cache(maxsize=1)
def intents() -> tuple[Intent, ...]:
    """What a question can ask for, read from ``data/intents.tsv`` (folded regexes)."""
    out = []
    for line in (_DATA / "intents.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, question, label, value = line.split("\t")
        out.append(Intent(name, re.compile(question), re.compile(label), re.compile(value)))
    return tuple(out)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    words = (_DATA / "stopwords.txt").read_text(encoding="utf-8").split()
    return frozenset(fold_diacritics(w) for w in words if not w.startswith("#"))


def terms(text: str) -> tuple[list[str], list[str]]:
    """Content words (folded, no stop words) and the bigrams of all words."""
    words = _WORD.findall(fold_diacritics(text))
    content = [w for w in words if w not in stopwords()]
    bigrams = [f"{a} {b}" for a, b in zip(words, words[1:]) if not (a in stopwords() and b in stopwords())]
    return content, bigrams


@dataclass
class Unit:
    text: str
    hit_rank: int
    hit: Hit
    label: str = ""
    score: float = 0.0


class ExtractiveGenerator:
    """Quote the units that answer the question; refuse when none does."""

    name = "extractive"

    def __init__(self, min_coverage: float = 0.5, max_units: int = 3):
        self.min_coverage = min_coverage
        self.max_units = max_units

    def generate(self, question: str, hits: Sequence[Hit], language: str) -> Answer:
        started = time.perf_counter()
        units = self.rank(question, hits)
        if not units or self.coverage(question, units[0]) < self.min_coverage:
            return refusal(question, language, self.name)
        chosen = [units[0]]
        for unit in units[1:]:
            if len(chosen) == self.max_units or unit.score < 0.6 * units[0].score:
                break
            if not any(unit.text in c.text or c.text in unit.text for c in chosen):
                chosen.append(unit)
        citations: list[Citation] = []
        lines = [LEAD.get(language, LEAD["en"])]
        numbers: dict[str, int] = {}
        for unit in chosen:
            cid = unit.hit.chunk.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                citations.append(citation_for(numbers[cid], unit.hit, snippet=unit.text))
            lines.append(f"- {unit.text} [{numbers[cid]}]")
        sources = [c.text for h in hits for c in h.context]
        text = mask_unknown_contacts("\n".join(lines), sources)
        return Answer(text, citations, True, self.name, language, (time.perf_counter() - started) * 1000, question)

    def stream(self, question: str, hits: Sequence[Hit], language: str) -> Iterator[str | Answer]:
        answer = self.generate(question, hits, language)
        for line in answer.text.splitlines(keepends=True):
            yield line
        yield answer

    # ------------------------------------------------------------------ scoring

    def rank(self, question: str, hits: Sequence[Hit]) -> list[Unit]:
        """Every quotable unit of the hits, best first."""
        units = _dedupe(u for rank, hit in enumerate(hits) for u in split_units(hit, rank))
        if not units:
            return []
        q_words, q_bigrams = terms(question)
        asked = [i for i in intents() if i.question.search(fold_diacritics(question))]
        unit_terms = [terms(u.label + " " + u.text) for u in units]
        n = len(units)
        df: dict[str, int] = {}
        for words, bigrams in unit_terms:
            for t in set(words) | set(bigrams):
                df[t] = df.get(t, 0) + 1
        idf = {t: math.log(1 + n / (1 + c)) + 0.1 for t, c in df.items()}
        q_all = list(dict.fromkeys(q_words)) + list(dict.fromkeys(q_bigrams))
        q_weight = sum(idf.get(t, math.log(1 + n)) * (1.5 if " " in t else 1.0) for t in q_all) or 1.0
        for unit, (words, bigrams) in zip(units, unit_terms):
            have = set(words) | set(bigrams)
            lexical = sum(idf[t] * (1.5 if " " in t else 1.0) for t in q_all if t in have) / q_weight
            folded_label = fold_diacritics(unit.label or unit.text[:80])
            folded = fold_diacritics(unit.text)
            intent = 0.0
            for i in asked:
                intent += 0.45 * bool(i.label.search(folded_label)) + 0.3 * bool(i.value.search(folded))
            prior = 1.0 / (1 + unit.hit_rank)
            unit.score = 0.5 * lexical + intent / max(1, len(asked)) + 0.35 * prior
        units.sort(key=lambda u: (-u.score, u.hit_rank))
        return units

    def coverage(self, question: str, unit: Unit) -> float:
        """Share of the question's content words found in the unit or its chunk's title and section."""
        words, _ = terms(question)
        if not words:
            return 0.0
        chunk = unit.hit.chunk
        have = set(terms(" ".join((unit.label, unit.text, chunk.title, chunk.section)))[0])
        return sum(w in have for w in set(words)) / len(set(words))


def split_units(hit: Hit, rank: int) -> list[Unit]:
    """Cut the hit's text (with neighbours) into quotable units."""
    units: list[Unit] = []
    for chunk in hit.context:
        lines = [ln.rstrip() for ln in chunk.text.splitlines()]
        i = 0
        while i < len(lines):
            line = _HEADING.sub("", lines[i]).strip()
            i += 1
            if not line or looks_like_injection(line):
                continue
            if line.endswith(":") and i < len(lines) and _LIST_ITEM.match(lines[i] or ""):
                items = []
                while i < len(lines) and (_LIST_ITEM.match(lines[i]) or not lines[i].strip()):
                    if lines[i].strip() and not looks_like_injection(lines[i]):
                        items.append(lines[i].strip())
                    i += 1
                shown = items[:MAX_ITEMS] + (["…"] if len(items) > MAX_ITEMS else [])
                units.append(Unit(_clip(line + " " + " ".join(shown)), rank, hit, label=line))
                continue
            if line.endswith("?") and i < len(lines) and lines[i].strip():  # FAQ: question + its answer
                answer = _HEADING.sub("", lines[i]).strip()
                i += 1
                if not looks_like_injection(answer):
                    units.append(Unit(_clip(line + " " + answer), rank, hit, label=line))
                continue
            label = line.split(":", 1)[0] if ":" in line[:80] else ""
            if len(line) <= MAX_UNIT_CHARS:
                units.append(Unit(line, rank, hit, label=label))
            else:
                for sentence in _SENTENCE_END.split(line):
                    if sentence.strip() and not looks_like_injection(sentence):
                        units.append(Unit(_clip(sentence.strip()), rank, hit))
    return units


def _clip(text: str) -> str:
    return text if len(text) <= MAX_UNIT_CHARS else text[: MAX_UNIT_CHARS - 1].rsplit(" ", 1)[0] + " …"


def _dedupe(units) -> list[Unit]:
    seen: dict[str, Unit] = {}
    for u in units:
        if u.text not in seen or u.hit_rank < seen[u.text].hit_rank:
            seen[u.text] = u
    return list(seen.values())
