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

Quoting verbatim means the answer can only say what a document says. What a
reader of the document never sees (HTML comments, link titles, zero-width
characters) and passages that address an AI ("ignore previous instructions"),
with the contacts planted beside them, are never quoted
(``guardrails.clean_lines``); a contact only such a passage gives is masked.
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
from assistant.guardrails import MASK, MASK_EN, clean_lines, has_contact, looks_like_injection, mask_unknown_contacts
from assistant.retrieval import Hit
from assistant.types import Chunk
from assistant.text import fold_diacritics, stopwords

_DATA = Path(__file__).parent / "data"
_WORD = re.compile(r"\w+", re.UNICODE)
_LIST_ITEM = re.compile(r"^\s*(?:[-•*+]|\d{1,2}[.)]|[a-zđ][)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ỹ0-9\"“(])")
MAX_UNIT_CHARS = 700
LONG_PARAGRAPH = 400  # longer paragraphs are quoted sentence by sentence
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
def _folded_stopwords() -> frozenset[str]:
    return frozenset(fold_diacritics(w) for w in stopwords())


def terms(text: str) -> tuple[list[str], list[str]]:
    """Content words (folded, stop words removed) and bigrams of adjacent content words.

    Stop words are recognised as written; only a text typed entirely without
    diacritics is matched against the folded list.
    """
    raw = _WORD.findall(text.lower())
    stop = stopwords() if any(ord(ch) > 127 for ch in text) else _folded_stopwords()
    words = [None if w in stop else fold_diacritics(w) for w in raw]
    content = [w for w in words if w]
    bigrams = [f"{a} {b}" for a, b in zip(words, words[1:]) if a and b]
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

    def __init__(self, min_coverage: dict[str, float] | None = None, max_units: int = 3):
        # Per question language: Vietnamese syllables overlap by chance more than English words do.
        self.min_coverage = {"vi": 0.55, "en": 0.25, **(min_coverage or {})}
        self.max_units = max_units

    def generate(self, question: str, hits: Sequence[Hit], language: str) -> Answer:
        started = time.perf_counter()
        units = self.rank(question, hits)
        threshold = self.min_coverage.get(language, max(self.min_coverage.values()))
        if not units or self.coverage(question, units[0]) < threshold:
            return refusal(question, language, self.name)
        best = units[0]
        chosen = [best]
        for unit in units[1:]:
            if len(chosen) == self.max_units or unit.score < 0.6 * best.score:
                break
            # Only the best unit's document and section: another procedure's deadline is not this one's.
            if (unit.hit.chunk.doc_id, unit.hit.chunk.section) != (best.hit.chunk.doc_id, best.hit.chunk.section):
                continue
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
            lines.append(f"- {_LIST_ITEM.sub('', unit.text, count=1)} [{numbers[cid]}]")  # no "- - "
        # Contacts are checked against what may be quoted: a contact that only a planted
        # (or hidden) passage gives is unknown, whichever unit it turns up in.
        sources = [clean_context(h) for h in hits]
        text = mask_unknown_contacts("\n".join(lines), sources, mask=MASK if language == "vi" else MASK_EN)
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
        subject_cache: dict[str, set[str]] = {}
        title_match: dict[str, float] = {}
        for unit, (words, bigrams) in zip(units, unit_terms):
            have = set(words) | set(bigrams)
            title = unit.hit.chunk.title
            if title not in subject_cache:
                t_words, t_bigrams = terms(title)
                subject_cache[title] = set(t_words) | set(t_bigrams)
            subject = subject_cache[title]
            if title not in title_match:  # how well this document's title names the question's subject
                found = sum(idf.get(t, math.log(1 + n)) * (1.5 if " " in t else 1.0) for t in q_all if t in subject)
                q_set = set(q_all)
                extra = [t for t in subject if " " not in t and t not in q_set]  # title words the question lacks
                precision = 1 - len(extra) / max(1, len([t for t in subject if " " not in t]))
                title_match[title] = 0.5 * found / q_weight + 0.5 * precision
            # Words that name the subject (already in the document's title) say little about
            # which unit answers: the asking words ("lệ phí", "thời hạn") decide.
            lexical = sum(
                idf[t] * (1.5 if " " in t else 1.0) * (0.3 if t in subject else 1.0) for t in q_all if t in have
            ) / q_weight
            folded_label = fold_diacritics(unit.label or unit.text[:80])
            folded = fold_diacritics(unit.text)
            intent = 0.0
            for i in asked:
                intent += 0.45 * bool(i.label.search(folded_label)) + 0.3 * bool(i.value.search(folded))
            prior = 1.0 / (1 + unit.hit_rank)
            named = 0.0
            if unit.label:  # the question names this field ("Cơ quan nào thực hiện" ~ "Cơ quan thực hiện:")
                label_words = set(terms(unit.label)[0])
                named = len(label_words & set(q_words)) / len(label_words) if label_words else 0.0
            # A deadline in a passage about something else is not the answer: what the question
            # asks for only counts in full where the unit (or its document) is about the subject.
            relevance = min(1.0, max(2 * lexical, title_match[title]))
            unit.score = (0.5 * lexical + intent / max(1, len(asked)) * (0.25 + 0.75 * relevance)
                          + 0.35 * prior + 0.3 * named + 0.4 * title_match[title])
        units.sort(key=lambda u: (-u.score, u.hit_rank))
        return units

    def coverage(self, question: str, unit: Unit) -> float:
        """Share of the question's content words and word pairs found in the unit or its chunk's title/section.

        Pairs matter: "kinh phí thí điểm" is not covered by a text that has "phí" and "điểm" apart.
        """
        words, bigrams = terms(question)
        asked = set(words) | set(bigrams)
        if not asked:
            return 0.0
        chunk = unit.hit.chunk
        have_words, have_bigrams = terms(" \n ".join((unit.label, unit.text, chunk.title, chunk.section)))
        have = set(have_words) | set(have_bigrams)
        return len(asked & have) / len(asked)


def merged_context(hit: Hit) -> list[tuple[str, Chunk]]:
    """The hit and its neighbours as contiguous text, overlap removed: (line, chunk it is in).

    Size-split chunks overlap; using their offsets in the document, each
    neighbour contributes only the text past the end of the one before, so a
    "Label:" line at the end of one chunk meets its list items in the next.
    """
    lines: list[tuple[str, Chunk]] = []
    end = -1
    for chunk in hit.context:
        text = chunk.text
        if end > chunk.start:
            cut = end - chunk.start
            text = text[cut:] if cut < len(text) else ""
            if lines and text and not text.startswith("\n"):  # the cut fell inside a line: finish that line
                first, _, text = text.partition("\n")
                lines[-1] = (lines[-1][0] + first, lines[-1][1])
        end = max(end, chunk.start + len(chunk.text))
        lines += [(ln.rstrip(), chunk) for ln in text.split("\n")]
    return _unwrap(lines)


def clean_lines_of(hit: Hit) -> list[tuple[str, Chunk]]:
    """``merged_context`` without hidden or planted text (``guardrails.clean_lines``)."""
    lines = merged_context(hit)
    cleaned = clean_lines([line for line, _ in lines])
    return [(text, chunk) for (_, chunk), text in zip(lines, cleaned) if text is not None]


def clean_context(hit: Hit) -> str:
    """The hit and its neighbours as a reader may be shown them: nothing hidden, nothing planted."""
    return "\n".join(line for line, _ in clean_lines_of(hit))


def _unwrap(lines: list[tuple[str, Chunk]]) -> list[tuple[str, Chunk]]:
    """Join hard-wrapped lines (PDF text) back into their sentence."""
    out: list[tuple[str, Chunk]] = []
    for line, chunk in lines:
        stripped = line.strip()
        if (
            out and stripped and out[-1][0].strip()
            and not _HEADING.match(line) and not _LIST_ITEM.match(line) and "|" not in stripped
            and not out[-1][0].rstrip().endswith((".", ":", ";", "?", "!"))
            and (stripped[0].islower() or (len(out[-1][0]) > 60 and ":" not in stripped[:40]))
        ):
            out[-1] = (out[-1][0].rstrip() + " " + stripped, out[-1][1])
        else:
            out.append((line, chunk))
    return out


def split_units(hit: Hit, rank: int) -> list[Unit]:
    """Cut the hit's text (with neighbours) into quotable units; headings become labels only."""
    units: list[Unit] = []
    lines = clean_lines_of(hit)
    i = 0
    while i < len(lines):
        raw, chunk = lines[i]
        i += 1
        line = raw.strip()
        if not line:
            continue
        src = hit if chunk.chunk_id == hit.chunk.chunk_id else Hit(chunk, hit.score)
        heading = bool(_HEADING.match(raw))
        if heading:
            line = _HEADING.sub("", raw).strip()
            following = next((ln for ln, _ in lines[i:] if ln.strip()), "")
            if not _LIST_ITEM.match(following):
                continue  # a heading is a label, not an answer
        if line.endswith(":") or heading:  # "Label:" or a heading, with the list under it
            items = []
            j = i
            while j < len(lines) and (_LIST_ITEM.match(lines[j][0]) or not lines[j][0].strip()):
                if lines[j][0].strip() and not looks_like_injection(lines[j][0]):
                    items.append(lines[j][0].strip())
                j += 1
                if items and j < len(lines) and not lines[j][0].strip():
                    break
            if items:
                shown = items[:MAX_ITEMS] + (["…"] if len(items) > MAX_ITEMS else [])
                units.append(Unit(_clip(line + " " + " ".join(shown)), rank, src, label=line))
                i = j
            continue  # a label with nothing under it is not an answer
        if line.endswith("?") and i < len(lines) and lines[i][0].strip():  # FAQ: question + its answer
            answer = lines[i][0].strip()
            i += 1
            if not looks_like_injection(answer):
                units.append(Unit(_clip(line + " " + answer), rank, src, label=line))
            continue
        label = line.split(":", 1)[0] if ":" in line[:80] else ""
        planted = looks_like_injection(line)
        if len(line) <= LONG_PARAGRAPH and not planted:
            units.append(Unit(line, rank, src, label=label))
            continue
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.strip()
            # Beside an injection, contact details are planted too: quote neither.
            if sentence and not looks_like_injection(sentence) and not (planted and has_contact(sentence)):
                units.append(Unit(_clip(sentence), rank, src, label=label))
    return units


def _clip(text: str) -> str:
    return text if len(text) <= MAX_UNIT_CHARS else text[: MAX_UNIT_CHARS - 1].rsplit(" ", 1)[0] + " …"


def _dedupe(units) -> list[Unit]:
    seen: dict[str, Unit] = {}
    for u in units:
        if u.text not in seen or u.hit_rank < seen[u.text].hit_rank:
            seen[u.text] = u
    return list(seen.values())
