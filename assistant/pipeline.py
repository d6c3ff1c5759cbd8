"""``Assistant``: the one way to ask a question.

It wires the stages once (the model is loaded once per process) and is what
the CLI, the HTTP API, the UI and the evaluation harness all call::

    question -> guardrails -> conversation (standalone) -> retrieval -> generator -> Answer
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import Iterator, Sequence

from assistant.answering import Answer, Generator, refusal
from assistant.conversation import Turn, standalone_question
from assistant.embeddings import Embedder
from assistant.extractive import ExtractiveGenerator
from assistant.guardrails import check_question, redact_pii
from assistant.retrieval import AUDIENCE_ACCESS, Audience, Hit, Mode, Retriever
from assistant.settings import Settings
from assistant.store import Store
from assistant.text import detect_language

log = logging.getLogger("assistant")

# Vietnamese typed without diacritics still reads as Vietnamese.
_UNACCENTED_VI = re.compile(
    r"\b(la gi|bao nhieu|bao lau|o dau|nhu the nao|the nao|thu tuc|ho so|giay to|khong|duoc|can|cho toi|xin hoi)\b"
)


def question_language(question: str) -> str:
    lang = detect_language(question)
    if lang == "en" and _UNACCENTED_VI.search(question.lower()):
        return "vi"
    return lang


class Assistant:
    """Retrieval plus a generator, behind one ``ask``."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None,
                 generator: Generator | None = None, chat_model=None):
        self.settings = settings
        self.embedder = embedder or Embedder(settings.embedding_model, settings.cache_dir, settings.embed_batch_size)
        self.store = store or Store(settings, self.embedder.name, self.embedder.dimension)
        self.retriever = Retriever(self.store, self.embedder)
        self.chat_model = chat_model
        if chat_model is None and settings.generator == "llm":
            from assistant.llm import chat_model as make_chat_model

            self.chat_model = make_chat_model(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                                              timeout=settings.llm_timeout)
        if generator is None:
            if self.chat_model is not None:
                from assistant.llm import LLMGenerator

                generator = LLMGenerator(self.chat_model)
            else:
                generator = ExtractiveGenerator(min_coverage={"vi": settings.min_coverage_vi, "en": settings.min_coverage_en})
        self.generator = generator

    # ------------------------------------------------------------------ asking

    def retrieve(self, question: str, audience: Audience = "public", k: int | None = None, mode: Mode = "hybrid",
                 doc_ids: Sequence[str] | None = None, language: str | None = None) -> list[Hit]:
        return self.retriever.retrieve(question, audience=audience, k=k or self.settings.top_k, mode=mode,
                                       doc_ids=doc_ids, language=language)

    def ask(self, question: str, audience: Audience = "public", history: Sequence[Turn] = (), k: int | None = None,
            mode: Mode = "hybrid", doc_ids: Sequence[str] | None = None) -> Answer:
        """A checked, cited answer, or an honest refusal. Raises ``QuestionError`` for bad questions."""
        answer = None
        for piece in self.stream(question, audience, history, k, mode, doc_ids):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(self, question: str, audience: Audience = "public", history: Sequence[Turn] = (),
               k: int | None = None, mode: Mode = "hybrid", doc_ids: Sequence[str] | None = None
               ) -> Iterator[str | Answer]:
        """Text pieces as they come, then the final ``Answer`` (with latency)."""
        started = time.perf_counter()
        if audience not in AUDIENCE_ACCESS:
            raise ValueError(f"audience must be 'public' or 'staff', got {audience!r}")
        question = check_question(question, self.settings.max_question_chars)
        language = question_language(question)
        standalone = standalone_question(question, history, llm=self.chat_model)
        hits = self.retrieve(standalone, audience=audience, k=k, mode=mode, doc_ids=doc_ids)
        answer: Answer | None = None
        if not hits:
            answer = refusal(question, language, self.generator.name)
            yield answer.text
        else:
            for piece in self.generator.stream(standalone, hits, language):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    yield piece
        assert answer is not None
        answer = replace(answer, question=question, latency_ms=(time.perf_counter() - started) * 1000)
        log.info("ask audience=%s grounded=%s cited=%s q=%r", audience, answer.grounded,
                 [c.doc_id for c in answer.citations], redact_pii(question))
        yield answer

    def health(self) -> dict:
        return {"store": self.store.counts(), "model": self.embedder.name, "mode": self.generator.name}
