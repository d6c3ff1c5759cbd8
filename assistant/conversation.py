"""Follow-up questions become standalone questions before retrieval.

"And how much does it cost?" means nothing to a search index; after "How
long does birth registration take?" it means "how much does birth
registration cost?". With an LLM configured, the LLM rewrites it (prompt in
``prompts/rewrite.txt``); otherwise a deterministic rule does: a question that
looks like a follow-up (short, opens with a connective, or points back with
"it", "đó", "thủ tục này") gets the subject of the previous question appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from assistant.extractive import intents, stopwords
from assistant.text import fold_diacritics

# Folded openings and references that mark a follow-up.
_FOLLOW_UP = re.compile(
    r"^(con|va|vay|the|the con|con ve|nhu vay|roi|and|what about|how about|also|then|so)\b"
    r"|\b(no|do|nay|ay|thu tuc (nay|do|tren)|ho so (nay|do)|van ban (nay|do)|it|this|that|they|them|those|these)\b"
)
_SUBJECT_DROP = re.compile(r"[?.!]+$")


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str = ""


def looks_like_follow_up(question: str) -> bool:
    folded = fold_diacritics(question).strip()
    return len(folded.split()) <= 4 or bool(_FOLLOW_UP.search(folded))


def subject_of(question: str) -> str:
    """The question without what it asks for: its subject ('đăng ký khai sinh').

    Cue spans are found on the folded text, which has the same length as the
    original for Vietnamese and English, so they can be cut from the original.
    """
    text = _SUBJECT_DROP.sub("", question.strip())
    folded = fold_diacritics(text)
    if len(folded) != len(text):
        return text
    keep = [True] * len(text)
    for intent in intents():
        for match in intent.question.finditer(folded):
            for i in range(*match.span()):
                keep[i] = False
    words = "".join(ch if k else " " for ch, k in zip(text, keep)).split()
    while words and words[0].lower() in stopwords():
        words.pop(0)
    while words and words[-1].lower() in stopwords():
        words.pop()
    return " ".join(words) or text


def standalone_question(question: str, history: Sequence[Turn], llm=None) -> str:
    """The question rewritten to stand alone, using the conversation so far."""
    if not history:
        return question
    if llm is not None:
        from assistant.llm import rewrite_with_llm

        return rewrite_with_llm(llm, question, history) or question
    if not looks_like_follow_up(question):
        return question
    previous = history[-1].question
    return f"{question.rstrip()} ({subject_of(previous)})"
