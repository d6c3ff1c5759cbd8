"""Answer: retrieved hits in, an answer with checked citations out.

Two generators share one interface (``Generator.generate``):

- ``extractive.ExtractiveGenerator`` (default, no LLM): quotes the sentences
  and list items of the retrieved chunks that answer the question.
- ``llm.LLMGenerator``: any OpenAI-compatible chat endpoint through LangChain.

Either way, citations are *checked, not trusted* (``check_citations``): every
``[n]`` must name a retrieved chunk, and a sentence must share enough content
words with what it cites, or it is dropped. When the evidence does not answer
the question, the assistant refuses and says whom to ask (``refusal``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable, Iterator, Protocol, Sequence

from assistant.guardrails import looks_like_injection, strip_invisible
from assistant.retrieval import Hit
from assistant.text import fold_diacritics, stopwords

_CITE = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer, with everything needed to check it."""

    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    section: str
    snippet: str
    score: float
    chunk_id: str

    def as_dict(self) -> dict:
        return asdict(self)

    def label(self) -> str:
        """Where to look: 'Title, page 3, Điều 5'."""
        title = self.title or self.doc_id
        parts = [title]
        if self.page:
            parts.append(f"p. {self.page}")
        section = self.section
        head, _, rest = section.partition(" > ")
        if rest and (head[:40] == title[:40] or _similar(head, title)):  # the path repeats the title
            section = rest
        if section and section != title:
            parts.append(section)
        return ", ".join(parts)


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation]
    grounded: bool
    mode: str
    language: str
    latency_ms: float = 0.0
    question: str = ""
    flagged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "answer": self.text,
            "citations": [c.as_dict() for c in self.citations],
            "grounded": self.grounded,
            "mode": self.mode,
            "language": self.language,
            "latency_ms": round(self.latency_ms, 1),
        }


class Generator(Protocol):
    """Turns a question and its hits into an ``Answer``."""

    name: str

    def generate(self, question: str, hits: Sequence[Hit], language: str) -> Answer: ...

    def stream(self, question: str, hits: Sequence[Hit], language: str) -> Iterator[str | Answer]:
        """Text pieces as they are made, then the final, checked ``Answer``."""
        ...


def citation_for(n: int, hit: Hit, snippet: str | None = None) -> Citation:
    """The citation of a hit; a title or section heading that addresses an AI is not shown."""
    c = hit.chunk
    title, section = strip_invisible(c.title), strip_invisible(c.section)
    section = " > ".join(part for part in section.split(" > ") if not looks_like_injection(part))
    if looks_like_injection(title):
        title = c.doc_id
    return Citation(
        n=n, doc_id=c.doc_id, title=title, source=c.source, page=c.page, section=section,
        snippet=(snippet or c.text)[:600], score=round(hit.score, 4), chunk_id=c.chunk_id,
    )


def _similar(a: str, b: str) -> bool:
    """Two headings that share most of their words (a title and the document's own H1)."""
    wa, wb = content_words(a), content_words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.6


# ---------------------------------------------------------------------- citation checking

_WORD = re.compile(r"\w+", re.UNICODE)


# A number standing on its own ("2.000.000", "05", "12,5"); digits inside a word ("QH13", "hunter2") are the word's.
_NUMBER = re.compile(r"(?<![^\W\d_])\d+(?:[.,]\d+)*(?![^\W\d_])")


def content_words(text: str) -> set[str]:
    """Folded words of two or more characters, and numbers: what a claim is made of.

    A number is one token however it is grouped ("2.000.000" is 2000000, not 2
    and 000): a fee of 2.000.000 đồng is not supported by a source that has
    "200.000" and "Bước 2".
    """
    folded = fold_diacritics(text)
    numbers = {re.sub(r"[.,]", "", n) for n in _NUMBER.findall(folded)}
    return {w for w in _WORD.findall(_NUMBER.sub(" ", folded)) if len(w) > 1} | numbers


@lru_cache(maxsize=1)
def _folded_stopwords() -> frozenset[str]:
    return frozenset(fold_diacritics(w) for w in stopwords())


def claim_words(sentence: str) -> set[str]:
    """The content words of a sentence without its citation marks and stop words ("the", "is", "là").

    Stop words are recognised as written ("bạn" is one, "bản" is not); only a text
    typed without diacritics is matched against the folded list.
    """
    text = _CITE.sub(" ", sentence)
    stop = stopwords() if any(ord(ch) > 127 for ch in text) else _folded_stopwords()
    return content_words(_WORD.sub(lambda m: " " if m.group(0).lower() in stop else m.group(0), text))


def supports(sentence: str, source: str, threshold: float = 0.5) -> bool:
    """Does ``source`` contain enough of the sentence's content words (and all its numbers)?

    Stop words do not count: "The admin password is X" is not half supported by
    any English text because it has "the" and "is".
    """
    claim = claim_words(sentence)
    if not claim:
        return True
    have = content_words(source)
    numbers = {w for w in claim if w.isdigit()}
    if numbers - have:
        return False
    return len(claim & have) / len(claim) >= threshold


def split_sentences(text: str) -> list[str]:
    """Sentences and list lines; keeps citation marks with their sentence."""
    pieces: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = _SENTENCE_END.split(line)  # text, its end (punctuation and citations), text, ...
        joined = ["".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]
        pieces += [p.strip() for p in joined if p.strip()]
    return pieces


# The end of a sentence: its punctuation and the citation marks after it ("đồng. [3]" is one
# sentence, not a sentence and a bare "[3]"), then the space before the next one.
_SENTENCE_END = re.compile(r"([.!?](?:\s*\[\d{1,2}\])*)\s+(?=[A-ZÀ-Ỹ\-•*]|\[(?!\d{1,2}\]))")


def is_lead_in(sentence: str) -> bool:
    """A connective line with no citation: a few words ending in ':', no number ("Theo văn bản:")."""
    return (sentence.endswith(":") and len(sentence.split()) <= 12 and not re.search(r"\d", sentence)
            and not _CITE.search(sentence))


def check_citations(text: str, sources: dict[int, str],
                    reject: Callable[[str], bool] | None = None) -> tuple[str, list[str], set[int]]:
    """Keep sentences whose citations exist and support them.

    Returns (checked text, dropped sentences, the citation numbers used).
    A sentence with no citation is dropped unless it is a short connective
    line (a heading or lead-in of a few words, ending in ':', no number) that a
    kept sentence follows at once; a citation with nothing else ("[3]" on its own) is dropped.
    ``reject``: sentences it returns True for are dropped whatever they cite.
    """
    kept: list[str] = []
    dropped: list[str] = []
    used: set[int] = set()
    leads: list[str] = []  # lead-ins waiting for the sentence after them
    for sentence in split_sentences(text):
        nums = [int(n) for n in _CITE.findall(sentence)]
        if nums and (reject is None or not reject(sentence)):
            valid = [n for n in nums if n in sources]
            if valid and claim_words(sentence) and any(supports(sentence, sources[n]) for n in valid):
                for n in set(nums) - set(valid):  # strip citations to chunks that were never retrieved
                    sentence = sentence.replace(f"[{n}]", "")
                kept += leads + [sentence]
                leads = []
                used.update(valid)
                continue
        elif not nums and is_lead_in(sentence) and (reject is None or not reject(sentence)):
            leads.append(sentence)
            continue
        dropped += leads + [sentence]  # with the sentence, the lead-ins before it go
        leads = []
    dropped += leads
    return "\n".join(kept), dropped, used


# ---------------------------------------------------------------------- refusals

REFUSAL = {
    "vi": (
        "Tôi không tìm thấy thông tin trả lời câu hỏi này trong các văn bản hiện có, nên không thể trả lời "
        "chính xác. Vui lòng liên hệ cán bộ tiếp nhận hồ sơ tại Bộ phận Một cửa, hoặc chọn \"Chuyển cán bộ\" "
        "để được hỗ trợ trực tiếp."
    ),
    "en": (
        "I could not find this in the available documents, so I cannot give a reliable answer. Please "
        "contact an officer at the one-stop service desk, or choose \"Talk to an officer\" to be helped "
        "directly."
    ),
}


def refusal(question: str, language: str, mode: str) -> Answer:
    """The honest answer when the documents do not answer the question."""
    return Answer(
        text=REFUSAL.get(language, REFUSAL["en"]), citations=[], grounded=False, mode=mode,
        language=language, question=question,
    )
