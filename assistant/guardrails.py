"""Guardrails around a question and an answer.

- ``check_question``: refuse empty or over-long questions with a clear message.
- ``redact_pii``: Vietnamese ID numbers (CCCD 12 digits, CMND 9), phone
  numbers, e-mails are replaced before anything is logged or stored.
- ``mask_unknown_contacts``: a phone number, e-mail or URL in generated text
  that appears in none of the cited sources is masked: the assistant must never
  invent a contact a citizen would then call.
- ``looks_like_injection``: retrieved text that addresses an AI ("ignore
  previous instructions", "bỏ qua các hướng dẫn") is data, never an instruction;
  generators use this to keep such sentences out of answers.
"""

from __future__ import annotations

import re
from typing import Iterable

from assistant.text import fold_diacritics

MASK = "[đã ẩn]"
MASK_EN = "[hidden]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# Vietnamese phone numbers: 0xx xxx xxxx, +84 …, hotlines 1800/1900 xxxx(xx); spaces, dots or dashes allowed.
_PHONE = re.compile(
    r"(?<![\w.])(?:\+84|0084|0)(?:[\s.-]?\d){8,10}(?![\w])"
    r"|(?<![\w.])1[89]00(?:[\s.-]?\d){4,6}(?![\w])"
)
_CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")  # citizen identity card
_CMND = re.compile(r"(?<!\d)\d{9}(?!\d)")  # old identity card

_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?)"
    r"|disregard (?:all |the )?(?:previous|above|prior) "
    r"|system prompt|you are now|act as (?:an?|the) |new instructions?:"
    r"|bo qua (?:tat ca |moi |cac )?(?:huong dan|chi dan|yeu cau)(?: truoc)?"
    r"|lenh he thong|tu bay gio ban la",
)


class QuestionError(ValueError):
    """The question cannot be taken; the message is safe to show to a user."""


def check_question(question: str, max_chars: int) -> str:
    """The question, stripped; raises ``QuestionError`` when empty or too long."""
    text = (question or "").strip()
    if not text:
        raise QuestionError("Please type a question. / Vui lòng nhập câu hỏi.")
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text)} characters long; the limit is {max_chars}. Please shorten it. / "
            f"Câu hỏi dài {len(text)} ký tự, vượt giới hạn {max_chars}. Vui lòng rút gọn."
        )
    return text


def redact_pii(text: str) -> str:
    """Replace e-mails, phone numbers and ID numbers with placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    text = _CCCD.sub("[id-number]", text)
    return _CMND.sub("[id-number]", text)


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# A number as written in a document: digits with spaces, dots, dashes or brackets between
# them ("(028) 3829 1234", "0912.345.678"), but not across words or slashes.
_NUMBER = re.compile(r"\+?\d(?:[\s.()-]{0,3}\d)*")


def _phone_digits(s: str) -> str:
    """Digits of a phone number, +84 / 0084 written as the national 0."""
    digits = _digits(s)
    if digits.startswith("0084"):
        return "0" + digits[4:]
    if digits.startswith("84") and s.lstrip().startswith("+"):
        return "0" + digits[2:]
    return digits


def mask_unknown_contacts(text: str, sources: Iterable[str], mask: str = MASK) -> str:
    """Mask phones, e-mails and URLs that none of ``sources`` contains.

    A phone number is known when one number written in a source holds its
    digits (+84 and 0 count as the same prefix); digits gathered from several
    numbers (a date and a fee) do not make a phone number known.
    """
    corpus = "\n".join(sources)
    corpus_lower = corpus.lower()
    known_numbers = {_phone_digits(m.group(0)) for m in _NUMBER.finditer(corpus)}

    def keep_if_known(match: re.Match, digits: bool = False) -> str:
        value = match.group(0)
        if digits:
            wanted = _phone_digits(value)
            return value if wanted and any(wanted in number for number in known_numbers) else mask
        return value if value.lower().rstrip(".,;") in corpus_lower else mask

    text = _URL.sub(keep_if_known, text)
    text = _EMAIL.sub(keep_if_known, text)
    return _PHONE.sub(lambda m: keep_if_known(m, digits=True), text)


def looks_like_injection(text: str) -> bool:
    """True when a passage speaks to an AI model instead of to a reader."""
    return bool(_INJECTION.search(fold_diacritics(text)))


def has_contact(text: str) -> bool:
    """True when the text holds a phone number, an e-mail or a URL."""
    return bool(_PHONE.search(text) or _EMAIL.search(text) or _URL.search(text))
