"""The LLM generator: any OpenAI-compatible chat endpoint, through LangChain.

vLLM, Ollama, llama.cpp's server and hosted APIs all speak the same chat API;
``ChatOpenAI`` with a ``base_url`` reaches each of them. The prompts live in
``prompts/`` (one per language). The model sees the hits as numbered excerpts
framed as data, is told to cite them as ``[n]``, and its output is then
checked (``answering.check_citations``): sentences that cite nothing or cite
something that does not support them are dropped, and unknown contact details
are masked. If nothing survives, the answer is a refusal.

What a reader of a document never sees (HTML comments, link titles, invisible
characters) and sentences that address an AI ("ignore previous instructions"),
with the contacts planted beside them, are left out of what the model reads
*and* of what its sentences are checked against (``guardrails.clean_lines``),
so a model that obeys a planted instruction cannot cite it as support. Its
output is screened as well: a sentence that itself addresses an AI or repeats
this assistant's own instructions (``prompts/``) is dropped, whatever it cites,
and a contact that no clean source gives is masked.
Streaming shows only checked text: each sentence is checked as soon as it is
complete, so the pieces a caller prints are the final answer's sentences.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.answering import Answer, check_citations, citation_for, is_lead_in, refusal, split_sentences
from assistant.extractive import clean_context
from assistant.guardrails import (
    MASK, MASK_EN, clean_text, looks_like_injection, mask_unknown_contacts, strip_invisible,
)
from assistant.retrieval import Hit
from assistant.text import fold_diacritics

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
NOT_ENOUGH = ("KHÔNG_ĐỦ_THÔNG_TIN", "NOT_ENOUGH_INFORMATION")


def says_not_enough(raw: str) -> bool:
    """The model's "cannot answer" line: the marker on a line of its own (punctuation and
    emphasis aside), as the prompt asks. The marker quoted inside a sentence (a model
    repeating its rules because a document told it to) is not the model giving up."""
    for line in raw.splitlines():
        bare = re.sub(r"\[\d{1,2}\]", "", line).strip().strip("*_`\"'.:!() ")
        if bare in NOT_ENOUGH:
            return True
    return False


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
    """The text of a hit and its neighbours, without hidden text or passages that address an AI."""
    return clean_context(hit)


_SHINGLE = 6  # words: a sentence sharing this many consecutive words with a prompt repeats it


def _shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", fold_diacritics(text))
    return {" ".join(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


@lru_cache(maxsize=1)
def _prompt_shingles() -> frozenset[str]:
    found: set[str] = set()
    for path in sorted(PROMPTS.glob("*.txt")):
        found |= _shingles(path.read_text(encoding="utf-8"))
    return frozenset(found)


def leaks_prompt(sentence: str, sources: Sequence[str] = ()) -> bool:
    """True when the sentence repeats this assistant's own instructions (``prompts/``).

    Six consecutive words of a prompt are enough; words the sources themselves
    say do not count.
    """
    return unsafe(sources, injections=False)(sentence)


def unsafe(sources: Sequence[str], injections: bool = True):
    """A test for sentences of the model's answer that are dropped whatever they cite: those
    that address an AI or repeat this assistant's instructions (see ``leaks_prompt``)."""
    said = set().union(*(_shingles(s) for s in sources)) if sources else set()

    def test(sentence: str) -> bool:
        if injections and looks_like_injection(sentence):
            return True
        return bool((_shingles(sentence) & _prompt_shingles()) - said)

    return test


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
        reject = unsafe(list(sources.values()))
        raw = ""
        pending = ""  # the end of ``raw`` not yet cut into complete sentences
        stopped = False  # the model said it cannot answer: nothing more is shown
        shown = False
        for chunk in self.model.stream(build_messages(question, hits, language)):
            text = chunk.content if isinstance(chunk.content, str) else ""
            if not text:
                continue
            raw += text
            pending += text
            parts = split_sentences(pending)  # only the unfinished end is cut again: linear, not quadratic
            if len(parts) < 2:
                continue
            complete, rest = parts[:-1], pending.rfind(parts[-1])
            while complete and is_lead_in(complete[-1]):  # a lead-in is shown only with the sentence after it
                rest = pending.rfind(complete[-1], 0, rest)
                complete = complete[:-1]
            pending = pending[rest:]
            stopped = stopped or says_not_enough("\n".join(complete))
            if complete and not stopped:
                for piece in self._checked(complete, sources, language, reject):
                    shown = True
                    yield piece
        answer = self.finish(question, raw, hits, language, started)
        if answer.grounded:
            if not stopped:
                yield from self._checked(split_sentences(pending), sources, language, reject)
        else:
            yield ("\n" if shown else "") + answer.text
        yield answer

    @staticmethod
    def _checked(sentences: Sequence[str], sources: dict[int, str], language: str, reject) -> Iterator[str]:
        """The sentences that pass every check, masked, one piece per line."""
        text = strip_invisible("\n".join(sentences))
        kept, _, _ = check_citations(text, sources, reject=reject)
        for line in kept.splitlines():
            yield _mask(line, sources, language) + "\n"

    def finish(self, question: str, raw: str, hits: Sequence[Hit], language: str, started: float) -> Answer:
        """Check citations and contacts in the model's text; refuse if nothing holds."""
        if says_not_enough(raw):
            return refusal(question, language, self.name)
        sources = _sources(hits)
        text, dropped, used = check_citations(strip_invisible(raw), sources, reject=unsafe(list(sources.values())))
        if not used:
            return refusal(question, language, self.name)
        text = _mask(text, sources, language)
        # The snippet a citation shows is the clean evidence, never the raw chunk.
        citations = [citation_for(n, hits[n - 1], snippet=_snippet(hits[n - 1])) for n in sorted(used)]
        return Answer(text, citations, True, self.name, language, (time.perf_counter() - started) * 1000,
                      question, flagged=dropped)


def _sources(hits: Sequence[Hit]) -> dict[int, str]:
    """What each citation number may be checked against: the evidence the model was shown."""
    return {n: evidence(hit) for n, hit in enumerate(hits, start=1)}


def _snippet(hit: Hit) -> str:
    """The cited chunk's own text, cleaned like the evidence."""
    return clean_text(hit.chunk.text) or evidence(hit)


def _mask(text: str, sources: dict[int, str], language: str) -> str:
    return mask_unknown_contacts(text, sources.values(), mask=MASK if language == "vi" else MASK_EN)


def rewrite_with_llm(model: BaseChatModel, question: str, history) -> str:
    """A standalone version of a follow-up question, written by the model."""
    lines = [f"User: {t.question}\nAssistant: {t.answer[:300]}" for t in history[-4:]]
    prompt = load_prompt("rewrite.txt").format(history="\n".join(lines), question=question)
    reply = model.invoke([HumanMessage(content=prompt)])
    text = reply.content.strip() if isinstance(reply.content, str) else ""
    return text.splitlines()[0].strip() if text else ""
