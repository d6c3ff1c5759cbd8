"""The LLM generator: any OpenAI-compatible chat endpoint, through LangChain.

vLLM, Ollama, llama.cpp's server and hosted APIs all speak the same chat API;
``ChatOpenAI`` with a ``base_url`` reaches each of them. The prompts live in
``prompts/`` (one per language). The model sees the hits as numbered excerpts
framed as data, is told to cite them as ``[n]``, and its output is then
checked (``answering.check_citations``): sentences that cite nothing or cite
something that does not support them are dropped, and unknown contact details
are masked. If nothing survives, the answer is a refusal.

Lines of a document that address an AI ("ignore previous instructions") are
left out of what the model reads *and* of what its sentences are checked
against, so a model that obeys a planted instruction cannot cite it as support.
Streaming shows only checked text: each sentence is checked as soon as it is
complete, so the pieces a caller prints are the final answer's sentences.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.answering import Answer, check_citations, citation_for, refusal, split_sentences
from assistant.guardrails import MASK, MASK_EN, looks_like_injection, mask_unknown_contacts
from assistant.retrieval import Hit

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
NOT_ENOUGH = ("KHÔNG_ĐỦ_THÔNG_TIN", "NOT_ENOUGH_INFORMATION")


def load_prompt(name: str) -> str:
    path = PROMPTS / name
    if not path.exists():
        raise FileNotFoundError(f"prompt file {path} is missing; it ships with the project in prompts/")
    return path.read_text(encoding="utf-8")


def chat_model(base_url: str, model: str, api_key: str, temperature: float = 0.0, timeout: float = 60.0):
    """A LangChain chat model for an OpenAI-compatible endpoint."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=base_url, model=model, api_key=api_key or "not-needed",
                      temperature=temperature, timeout=timeout, max_retries=1)


def evidence(hit: Hit) -> str:
    """The text of a hit and its neighbours, without the lines that address an AI."""
    return "\n".join(line for ch in hit.context for line in ch.text.splitlines() if not looks_like_injection(line))


def build_messages(question: str, hits: Sequence[Hit], language: str) -> list:
    """System prompt for the language, then the numbered context and the question."""
    blocks = []
    for n, hit in enumerate(hits, start=1):
        c = hit.chunk
        where = ", ".join(x for x in (c.title, f"p. {c.page}" if c.page else "", c.section) if x)
        blocks.append(f"[{n}] ({where})\n{evidence(hit)}")
    system = load_prompt("answer_vi.txt" if language == "vi" else "answer_en.txt")
    user = load_prompt("context.txt").format(context="\n\n".join(blocks), question=question)
    return [SystemMessage(content=system), HumanMessage(content=user)]


class LLMGenerator:
    """Answers written by a chat model, kept only where the citations hold."""

    name = "llm"

    def __init__(self, model: BaseChatModel):
        self.model = model

    def generate(self, question: str, hits: Sequence[Hit], language: str) -> Answer:
        answer = None
        for piece in self.stream(question, hits, language):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None
        return answer

    def stream(self, question: str, hits: Sequence[Hit], language: str) -> Iterator[str | Answer]:
        """Checked sentences as the model completes them, then the checked ``Answer``.

        Raw model text is never yielded: a sentence is shown only once it is
        complete and has passed the same checks as the final answer.
        """
        started = time.perf_counter()
        if not hits:
            answer = refusal(question, language, self.name)
            yield answer.text
            yield answer
            return
        sources = _sources(hits)
        raw = ""
        done = 0  # sentences of ``raw`` already checked (the last one may still grow)
        shown = False
        for chunk in self.model.stream(build_messages(question, hits, language)):
            text = chunk.content if isinstance(chunk.content, str) else ""
            if not text:
                continue
            raw += text
            if any(marker in raw for marker in NOT_ENOUGH):
                continue
            complete = split_sentences(raw)[:-1]
            for piece in self._checked(complete[done:], sources, language):
                shown = True
                yield piece
            done = max(done, len(complete))
        answer = self.finish(question, raw, hits, language, started)
        if answer.grounded:
            yield from self._checked(split_sentences(raw)[done:], sources, language)
        else:
            yield ("\n" if shown else "") + answer.text
        yield answer

    @staticmethod
    def _checked(sentences: Sequence[str], sources: dict[int, str], language: str) -> Iterator[str]:
        for sentence in sentences:
            kept, _, _ = check_citations(sentence, sources)
            if kept:
                yield _mask(kept, sources, language) + "\n"

    def finish(self, question: str, raw: str, hits: Sequence[Hit], language: str, started: float) -> Answer:
        """Check citations and contacts in the model's text; refuse if nothing holds."""
        if any(marker in raw for marker in NOT_ENOUGH):
            return refusal(question, language, self.name)
        sources = _sources(hits)
        text, dropped, used = check_citations(raw, sources)
        if not used:
            return refusal(question, language, self.name)
        text = _mask(text, sources, language)
        citations = [citation_for(n, hits[n - 1]) for n in sorted(used)]
        return Answer(text, citations, True, self.name, language, (time.perf_counter() - started) * 1000,
                      question, flagged=dropped)


def _sources(hits: Sequence[Hit]) -> dict[int, str]:
    """What each citation number may be checked against: the evidence the model was shown."""
    return {n: evidence(hit) for n, hit in enumerate(hits, start=1)}


def _mask(text: str, sources: dict[int, str], language: str) -> str:
    return mask_unknown_contacts(text, sources.values(), mask=MASK if language == "vi" else MASK_EN)


def rewrite_with_llm(model: BaseChatModel, question: str, history) -> str:
    """A standalone version of a follow-up question, written by the model."""
    lines = [f"User: {t.question}\nAssistant: {t.answer[:300]}" for t in history[-4:]]
    prompt = load_prompt("rewrite.txt").format(history="\n".join(lines), question=question)
    reply = model.invoke([HumanMessage(content=prompt)])
    text = reply.content.strip() if isinstance(reply.content, str) else ""
    return text.splitlines()[0].strip() if text else ""
