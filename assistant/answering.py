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
from typing import Iterator, Protocol, Sequence

from assistant.retrieval import Hit
from assistant.text import fold_diacritics

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
    c = hit.chunk
    return Citation(
        n=n, doc_id=c.doc_id, title=c.title, source=c.source, page=c.page, section=c.section,
        snippet=(snippet or c.text)[:600], score=round(hit.score, 4), chunk_id=c.chunk_id,
    )


def _similar(a: str, b: str) -> bool:
    """Two headings that share most of their words (a title and the document's own H1)."""
    wa, wb = content_words(a), content_words(b)
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.6


# ---------------------------------------------------------------------- citation checking

_WORD = re.compile(r"\w+", re.UNICODE)


def content_words(text: str) -> set[str]:
    """Folded words of two or more characters, numbers kept: what a claim is made of."""
    return {w for w in _WORD.findall(fold_diacritics(text)) if len(w) > 1 or w.isdigit()}


def supports(sentence: str, source: str, threshold: float = 0.5) -> bool:
    """Does ``source`` contain enough of the sentence's content words (and all its numbers)?"""
    claim = content_words(_CITE.sub(" ", sentence))
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
        pieces += [p.strip() for p in re.split(r"(?<=[.!?])\s+(?=[A-ZÀ-Ỹ\[\-•*])", line) if p.strip()]
    return pieces


def check_citations(text: str, sources: dict[int, str]) -> tuple[str, list[str], set[int]]:
    """Keep sentences whose citations exist and support them.

    Returns (checked text, dropped sentences, the citation numbers used).
    A sentence with no citation is dropped unless it is a short connective
    line (a heading or lead-in of a few words, ending in ':').
    """
    kept: list[str] = []
    dropped: list[str] = []
    used: set[int] = set()
    for sentence in split_sentences(text):
        nums = [int(n) for n in _CITE.findall(sentence)]
        if not nums:
            if sentence.endswith(":") and len(sentence.split()) <= 12:
                kept.append(sentence)
            else:
                dropped.append(sentence)
            continue
        valid = [n for n in nums if n in sources]
        if not valid or not any(supports(sentence, sources[n]) for n in valid):
            dropped.append(sentence)
            continue
        for n in set(nums) - set(valid):  # strip citations to chunks that were never retrieved
            sentence = sentence.replace(f"[{n}]", "")
        kept.append(sentence)
        used.update(valid)
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
