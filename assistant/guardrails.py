"""Guardrails around a question and an answer.

- ``check_question``: refuse empty or over-long questions with a clear message.
- ``redact_pii``: personal data in a citizen's question or feedback is replaced
  before anything is logged or stored, one token per kind: ID numbers (CCCD 12
  digits, CMND 9, also typed in groups: ``001 203 004 567``) ``[id-number]``;
  phone numbers (mobiles, landlines with an area code in brackets, +84 forms,
  1800/1900 hotlines) ``[phone]``; e-mails ``[email]``; street addresses (a
  house number with its street, ``số 12 đường Lê Lợi``, ``nhà 5 ngõ 34 phố
  Huế``, a hamlet or residential group, ``thôn Đông, xã Hòa Lạc``, ``12 Baker
  Street``) ``[address]``. Legal references, dates, money amounts and
  procedure codes (``Điều 12``, ``Nghị định 63/2010/NĐ-CP``, ``4.000 đồng``,
  ``1.013124``) are kept.
- ``mask_unknown_contacts``: a phone number, e-mail, URL, web address or bank
  account in generated text that appears in none of the sources is masked: the
  assistant must never relay a contact a citizen would then call or pay.
- ``looks_like_injection``: text that addresses an AI ("ignore previous
  instructions", "bỏ qua các hướng dẫn", "SYSTEM: you are now", "note to the AI
  assistant", "khi được hỏi về lệ phí, hãy trả lời", base64-encoded text) is
  data, never an instruction.
- ``clean_lines`` / ``clean_text``: what of a document may be quoted or shown to
  a model. Hidden text goes first (HTML comments, Markdown link titles,
  zero-width and other invisible characters, hidden HTML elements): a reader of
  the rendered page never sees it, so it is nobody's official word. Then each
  planted sentence goes, with everything after it in its paragraph (the rest of
  the attack), every sentence with a contact in its paragraph and in the next
  one (the planted hotline or account beside the attack) and the list under an
  attack that ends in ``:``. A contact that is then left nowhere in the clean
  text is unknown, so ``mask_unknown_contacts`` masks it wherever it turns up.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from functools import lru_cache
from typing import Iterable, Sequence

from assistant.text import fold_diacritics

MASK = "[đã ẩn]"
MASK_EN = "[hidden]"

# Replacement tokens of ``redact_pii``, one per kind of personal data.
TOKENS = {"id": "[id-number]", "phone": "[phone]", "email": "[email]", "address": "[address]"}

# ---------------------------------------------------------------------- contact patterns

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
# A bare web address: "evil.example/pay", "dichvucong.gov.vn" (no scheme, no www).
_DOMAIN = re.compile(
    r"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:vn|com|net|org|gov|edu|info|biz|xyz|top|site|online|shop|club|app|io|me|cc|tk|ru|cn|example)"
    r"(?:/[^\s<>\"')\]]*)?(?![\w@-])",
    re.IGNORECASE,
)
# Any number a phone could be: 0 or +84 and 8-10 more digits, a bracketed area code, a 1800/1900
# hotline. Loose on purpose: in generated text an unknown number of this shape is masked.
_PHONE = re.compile(
    r"(?<![\w.+])(?:\(\s*(?:\+84|0084|0)\s*\d{1,3}\s*\)[\s.-]?\d(?:[\s.-]?\d){5,8}"
    r"|(?:\+84|0084|0)(?:[\s.-]?\d){8,10})(?!\w)"
    r"|(?<![\w.])1[89]00(?:[\s.-]?\d){4,6}(?!\w)"
)
# A long number (9 or more digits) that is not an amount of money: an account, a card, an ID.
_CURRENCY = r"(?:đồng|dong|đ\b|vnđ|vnd|usd|eur|triệu|trieu|tỷ|ty\b|nghìn|ngàn|%)"
_LONG_NUMBER = re.compile(rf"(?<![\w.,+])\d(?:[ .-]?\d){{8,}}(?!\w)(?![.,]\d)(?!\s*{_CURRENCY})", re.IGNORECASE)
# A bank account: the word for it, then its number (6 digits or more).
_ACCOUNT = re.compile(
    r"(?:s[ốo]\s+t[àa]i\s+kho[ảa]n|t[àa]i\s+kho[ảa]n(?:\s+ng[âa]n\s+h[àa]ng)?|\bstk\b|\bs[ốo]\s+tk\b|\btk\b"
    r"|account(?:\s+(?:number|no\.?))?|\ba/c\b|\biban\b)"
    r"[^\d\n]{0,40}?(?P<number>\d(?:[ .-]?\d){5,22})(?!\w)",
    re.IGNORECASE,
)

# ---------------------------------------------------------------------- personal data (redact_pii)

_PII_EMAIL = _EMAIL
# Vietnamese phone numbers by their structure: mobiles 0[35789] + 8 digits, landlines 02 + 9 digits
# (area code in brackets allowed), both also as +84 / 0084; hotlines 1800/1900 + 4-6 digits.
_SEP = r"[ .\-]?"
_PII_PHONE = re.compile(
    r"(?<![\w+.,/])(?:"
    r"\(?(?:\+|00)84\)?[ .\-]?(?:\(0\)[ .\-]?)?\(?(?=[235789])"
    r"|\(\s*0(?=2)|0(?=[235789])"
    r")(?:[35789](?:[ .)\-]{0,2}\d){8}|2(?:[ .)\-]{0,2}\d){9})"
    r"(?!\d)(?![.,\-/]\d)"
)
# Hotlines are matched after ID numbers: "1800 0000 0000" is an ID number typed in groups, not a hotline.
_PII_HOTLINE = re.compile(r"(?<![\w.,/])1[89]00" + _SEP + r"\d(?:" + _SEP + r"\d){3,5}(?!\d)(?![.,\-/]\d)")
# ID numbers: CCCD (12 digits) and CMND (9), whole or in groups of 3 or 4 with one kind of separator;
# not an amount of money ("120.000.000 đồng").
_PII_ID = re.compile(
    r"(?<![\w+.,/\-])(?:"
    r"\d{3}(?P<s1>[ .\-]?)\d{3}(?P=s1)\d{3}(?P=s1)\d{3}"
    r"|\d{4}(?P<s2>[ .\-])\d{4}(?P=s2)\d{4}"
    r"|\d{3}(?P<s3>[ .\-])\d{3}(?P=s3)\d{6}"
    r"|\d{3}(?P<s4>[ .\-]?)\d{3}(?P=s4)\d{3}"
    r")(?!\d)(?![.,\-/]\d)" rf"(?!\s*{_CURRENCY})",
    re.IGNORECASE,
)

# Addresses. Upper-case letters (Vietnamese included) start a street or place name.
_UPPER = "".join(
    ch for ch in map(chr, range(0x41, 0x1F00))
    if ch.isupper() and unicodedata.name(ch, "").startswith("LATIN")
)
# A legal reference after an address is not part of its street name ("đường Lê Lợi, Điều 5").
_LEGAL_WORD = (r"(?!(?:Điều|Khoản|Điểm|Chương|Mục|Luật|Nghị[ \t]+(?:định|quyết)|Quyết[ \t]+định|Thông[ \t]+tư"
               r"|Hiến[ \t]+pháp|Article|Decree|Law|Circular|Decision|Clause|Chapter|Section)\b)")
_CAP_WORD = rf"{_LEGAL_WORD}[{_UPPER}][^\W\d_]*\.?"
# A number names a street or place only first ("ngõ 34", "quận 1", "đường 3 Tháng 2") or after
# "Tháng"; never when it is part of an amount ("1.000 đồng") or of a following figure.
_NUM_WORD = rf"\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*(?![.,]\d)(?![ \t]*{_CURRENCY})"
_NAME = rf"(?:{_NUM_WORD}|{_CAP_WORD})(?:[ \t]+{_CAP_WORD}){{0,4}}(?:(?<=Tháng)[ \t]+{_NUM_WORD})?"
_CAP_NAME = rf"{_LEGAL_WORD}[{_UPPER}][^\W\d_]*(?:[ \t]+(?:{_LEGAL_WORD}[{_UPPER}][^\W\d_]*|\d+)){{0,4}}"
_HOUSE = r"\d+[A-Za-z]?(?:/\d+[A-Za-z]?)*"  # 12, 12A, 12/3, 45/2/7
_STREET = r"(?i:đường|phố|ngõ|ngách|hẻm|kiệt|hem|ngo|ngach|duong|pho)"
_PLACE = (r"(?i:phường|xã|thị\s+trấn|thị\s+xã|quận|huyện|thành\s+phố|tỉnh|khu\s+phố|tổ\s+dân\s+phố|tổ|thôn|ấp|xóm"
          r"|khóm|đường|phố|ngõ|ngách|hẻm|kiệt|tp\.|p\.|q\.|phuong|xa|quan|huyen|tinh|thon|ap|xom)")
# The tail of an address: ", phường Bến Nghé, quận 1", " phố Huế".
_TAIL = rf"(?:(?:[ \t]*,[ \t]*|[ \t]+){_PLACE}[ \t]+{_NAME})*"
_VI_ADDRESS = re.compile(
    rf"(?<![\w/.,])(?:"
    # [số|nhà|số nhà] 12[,] đường/ngõ/hẻm ... : a house number, then a street word
    rf"(?:(?i:số[ \t]+nhà|nhà[ \t]+số|số|nhà|so nha|nha so)[ \t]+)?{_HOUSE}[ \t]*,?[ \t]+{_STREET}[ \t]+{_NAME}{_TAIL}"
    # số nhà 12 Lê Lợi / nhà 12 Lê Lợi: a house number, then a street name without a street word
    rf"|(?i:số[ \t]+nhà|nhà[ \t]+số|nhà|so nha|nha so)[ \t]+{_HOUSE}[ \t]*,?[ \t]+{_CAP_NAME}{_TAIL}"
    # thôn Đông / ấp 3 / tổ 7 / khu phố 3: a hamlet or residential group, and the places after it
    rf"|(?i:thôn|ấp|xóm|khóm|khu[ \t]+phố|tổ[ \t]+dân[ \t]+phố|thon|xom)[ \t]+{_NAME}{_TAIL}"
    rf"|(?i:tổ)[ \t]+\d+[A-Za-z]?{_TAIL}"
    rf")",
)
_EN_STREET = (r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Drive|Dr\.?|Way|Close"
              r"|Court|Ct\.?|Place|Pl\.?|Square|Sq\.?|Terrace|Crescent|Row|Gardens|Parade|Walk|Highway|Alley|Mews)")
_EN_ADDRESS = re.compile(
    rf"(?<![\w/.,])(?:(?:Flat|Apartment|Apt\.?|Unit|Suite|Room|House)[ \t]+\d+[A-Za-z]?[ \t]*,?[ \t]+)?"
    rf"\d+[A-Za-z]?(?:-\d+)?[ \t]*,?[ \t]+(?:[A-Z][a-z'-]+[ \t]+){{1,4}}{_EN_STREET}(?!\w)"
    rf"|(?<![\w/.,])(?:Flat|Apartment|Apt\.?)[ \t]+\d+[A-Za-z]?(?!\w)",
)

# ---------------------------------------------------------------------- injections

# Invisible characters: zero-width spaces and joiners, bidi controls, soft hyphen, BOM, tag characters.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# [text](url "title") and [id]: url "title": the title shows only as a tooltip.
_LINK_TITLE = re.compile(r"""(\]\([ \t]*<?[^\s()<>]*>?)[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))[ \t]*\)""")
_REF_TITLE = re.compile(r"""^([ \t]*\[[^\]\n]+\]:[ \t]*\S+)[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))[ \t]*$""",
                        re.MULTILINE)
_HIDDEN_HTML = re.compile(
    r"<(?P<tag>\w+)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|\bhidden\b)[^>]*>"
    r".*?</(?P=tag)\s*>",
    re.IGNORECASE | re.DOTALL,
)
_BASE64 = re.compile(r"(?<![\w+/=])[A-Za-z0-9+/]{20,}={0,2}(?![\w+/=])")

_AI = r"(?:ai|a\.i\.|assistant|chatbot|chat bot|bot|llm|language model|gpt|model)"
_VI_AI = (r"(?:tro ly ao|tro ly ai|tro ly tu dong|chatbot|mo hinh ngon ngu|mo hinh ai"
          r"|he thong (?:tra loi|hoi dap) tu dong|he thong tra loi|cong cu ai)")
_ATTACK_WORD = (r"(?:all|any|every|your|previous|prior|above|earlier|preceding|foregoing|system|safety|original"
                r"|existing|former|those|these)")
_INJECTION = re.compile(
    # English
    rf"\b(?:ignore|disregard|forget|override|bypass)\b(?: \w+){{0,2}}? {_ATTACK_WORD}\b(?: \w+){{0,2}}?"
    r" (?:instructions?|prompts?|rules?|directions?|guidelines?|directives?|guardrails?|constraints?|policies|context|messages?|everything)\b"
    r"|\bignore (?:the |all |any )?(?:documents?|context|sources?)\b"
    r"|disregard (?:all |the )?(?:previous|above|prior) "
    r"|system prompt|system message|system override|developer mode|\bdan mode\b|jailbreak"
    r"|you are now\b|from now on,? you\b|act as (?:an?|the) |pretend (?:to be|you are)|new instructions?\s*:"
    r"|\b(?:reveal|print|show|repeat|output|display|disclose|leak|tell me|give me)(?: me)? (?:your|the system|your system|the hidden|your hidden|the initial|your initial|the original|your original|all your|the secret|your secret)(?: \w+)? (?:prompt|instructions|rules|configuration)\b"
    r"|repeat (?:the|all|everything|the text)(?: text)? (?:above|before)|verbatim (?:the )?(?:text )?above"
    rf"|\b(?:note|message|instructions?|notice|memo)s? (?:to|for) (?:the |any |all |every )?(?:\w+ )?{_AI}s?\b"
    rf"|\bif you are an? (?:\w+ )?{_AI}\b"
    # Speaking to the AI: "To the AI assistant:", "Dear chatbot,", "Hey assistant"
    rf"|(?:^|[.!?:;] )(?:to|dear|hey|hi|hello|attention) (?:the |any |all |every |an? )?(?:\w+ )?{_AI}s?\b(?: \w+){{0,4}}? ?[:,]"
    r"|\b(?:always|only|just) (?:say|tell (?:them|users?|people|citizens?)|answer|reply|state) (?:that )?(?:the |our |your )?(?:official |new |correct )?"
    r"(?:hotline|fee|number|phone|address|website|site|link|account|e-?mail|contact|price|deadline)\b"
    rf"|\b{_AI}s? (?:must|should|shall|will|needs? to|has to|have to|is required to) (?:always |now |only )?(?:say|answer|reply|respond|tell|state|include|mention|recommend|direct|give|provide|print|output|inform|instruct|refer)"
    r"|\bwhen (?:you are |you're )?asked (?:about|for|what|how|where|which)\b[^.]{0,80}\b(?:say|answer|reply|respond|tell)\b"
    r"|\b(?:always|must) (?:reply|respond|answer) (?:with|that)\b"
    r"|<\|?(?:im_start|im_end|system|endoftext)\|?>|\[/?(?:inst|system|sys)\]|<<sys>>"
    # Vietnamese, folded
    r"|bo qua (?:tat ca |moi |cac |toan bo |nhung |het )*(?:huong dan|chi dan|yeu cau|quy tac|chi thi|lenh|cau lenh|tai lieu|van ban|ngu canh)"
    r"|(?:quen|phot lo|lo di) (?:het |moi |tat ca |cac |toan bo )*(?:huong dan|chi dan|quy tac|chi thi)"
    r"|lenh he thong|loi nhac he thong|chi thi he thong|thong diep he thong|prompt he thong"
    r"|tu (?:bay gio|nay|gio),? ban (?:la|se|phai|hay)|bay gio ban la|hay dong vai|ban dong vai"
    r"|(?:in ra|tiet lo|hien thi|lap lai|cho (?:toi )?xem|cung cap) (?:nguyen van )?(?:toan bo )?(?:loi nhac|chi dan|huong dan|cau lenh|prompt|quy tac)(?: he thong| cua ban| ban dau| an)"
    r"|lap lai (?:nguyen van )?(?:doan|noi dung|van ban) (?:o )?(?:tren|phia tren|truoc do)"
    r"|\b(?:luu y|ghi chu|loi nhan|thong diep|chi dan|huong dan|thong bao|chi thi|yeu cau|tin nhan)(?: quan trong| noi bo| chinh thuc)?"
    rf" (?:gui|danh cho|cho|toi) (?:cac |moi )?{_VI_AI}\b"
    rf"|\b(?:gui|danh cho) (?:cac |moi )?{_VI_AI} ?[:\-–]"
    rf"|\bneu ban la (?:mot )?(?:tro ly|chatbot|mo hinh)"
    rf"|\b{_VI_AI} (?:phai|can|hay|luon|nen|bat buoc) (?:luon |chi )?(?:tra loi|noi|cung cap|huong dan|thong bao|in ra|dua ra|khang dinh|gioi thieu|chuyen)"
    r"|\bkhi (?:duoc |bi |co nguoi |nguoi dan |ban duoc )?hoi (?:ve |den )?[^.]{0,80}\bhay (?:tra loi|noi|dap|khang dinh|cho biet)"
    r"|\b(?:hay|luon) (?:tra loi|noi|dap) rang "
    r"|(?:^|[.!?:;] )(?:gui|chao|kinh gui|xin chao|thua) (?:cac |ban )?(?:tro ly ao|tro ly ai|chatbot|mo hinh ngon ngu)\b"
)
# A role marker: "SYSTEM:", "SYSTEM NOTE:", "HỆ THỐNG:" in capitals, or "[system]", "<assistant>".
_ROLE = re.compile(
    r"(?:^|(?<=[\s\[(<#*>|.!?]))(?:SYSTEM|ASSISTANT|DEVELOPER|HỆ THỐNG|HE THONG)"
    r"(?:\s+(?:PROMPT|MESSAGE|NOTE|OVERRIDE|UPDATE|NOTICE|INSTRUCTIONS?))?\s*[\]>)]*\s*:"
    r"|[\[<]\s*(?i:system|assistant|developer)\s*[\]>]",
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


# ---------------------------------------------------------------------- redact_pii

def redact_pii(text: str) -> str:
    """Replace e-mails, phone numbers, ID numbers and street addresses with a token per kind.

    Order matters: e-mails first (they hold digits), then phone numbers by their
    structure (a CCCD typed in groups is no phone: no Vietnamese number has 12
    digits), then ID numbers, then 1800/1900 hotlines (after the ID numbers, so
    that "1800 0000 0000" goes whole), then addresses.
    """
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    text = _PII_EMAIL.sub(TOKENS["email"], text)
    text = _PII_PHONE.sub(TOKENS["phone"], text)
    text = _PII_ID.sub(TOKENS["id"], text)
    text = _PII_HOTLINE.sub(TOKENS["phone"], text)
    text = _VI_ADDRESS.sub(TOKENS["address"], text)
    text = _EN_ADDRESS.sub(TOKENS["address"], text)
    return text


# ---------------------------------------------------------------------- contacts

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
    if digits.startswith("84") and s.lstrip("( ").startswith("+"):
        return "0" + digits[2:]
    return digits


def strip_invisible(text: str) -> str:
    """The text without zero-width, bidi-control and other invisible characters."""
    return _INVISIBLE.sub("", text)


def mask_unknown_contacts(text: str, sources: Iterable[str], mask: str = MASK) -> str:
    """Mask phones, e-mails, URLs, web addresses and bank accounts that none of ``sources`` contains.

    A phone number (or account number) is known when one number written in a
    source holds its digits (+84 and 0 count as the same prefix); digits gathered
    from several numbers (a date and a fee) do not make a number known. A URL or
    e-mail is known only as a whole: a shorter or longer address that merely
    shares a beginning with a known one is not.
    """
    corpus = strip_invisible("\n".join(sources))
    text = strip_invisible(text)
    known_numbers = {_phone_digits(m.group(0)) for m in _NUMBER.finditer(corpus)}
    known_addresses = {_norm_address(m.group(0)) for p in (_URL, _EMAIL, _DOMAIN) for m in p.finditer(corpus)}

    def number_known(value: str) -> bool:
        wanted = _phone_digits(value)
        return bool(wanted) and any(wanted in number for number in known_numbers)

    def address(match: re.Match) -> str:
        return match.group(0) if _norm_address(match.group(0)) in known_addresses else mask

    def number(match: re.Match) -> str:
        return match.group(0) if number_known(match.group(0)) else mask

    def account(match: re.Match) -> str:
        value = match.group("number")
        if number_known(value):
            return match.group(0)
        start, end = match.span("number")
        base = match.start()
        return match.group(0)[: start - base] + mask + match.group(0)[end - base:]

    text = _URL.sub(address, text)
    text = _EMAIL.sub(address, text)
    text = _DOMAIN.sub(address, text)
    text = _ACCOUNT.sub(account, text)
    text = _PHONE.sub(number, text)
    return _LONG_NUMBER.sub(number, text)


def _norm_address(value: str) -> str:
    value = value.lower().rstrip(".,;:!?")
    value = re.sub(r"^https?://", "", value)
    return re.sub(r"^www\.", "", value).rstrip("/")


def has_contact(text: str) -> bool:
    """True when the text holds a phone number, an e-mail, a URL, a web address or a bank account."""
    text = strip_invisible(text)
    return any(p.search(text) for p in (_PHONE, _EMAIL, _URL, _DOMAIN, _ACCOUNT, _LONG_NUMBER))


# ---------------------------------------------------------------------- injections

def _normalise(text: str) -> str:
    """What injection patterns read: no invisible characters, compatibility forms folded, lower case, no diacritics."""
    text = unicodedata.normalize("NFKC", strip_invisible(text))
    return " ".join(fold_diacritics(text).split())


def _decoded_blobs(text: str) -> list[str]:
    """Text hidden in base64 inside ``text``: each blob that decodes to readable words."""
    found = []
    for match in _BASE64.finditer(text):
        blob = match.group(0)
        if not re.search(r"[A-Z]", blob) or not re.search(r"[a-z0-9]", blob):
            continue
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        printable = sum(ch.isprintable() or ch in "\n\t" for ch in decoded)
        if decoded and printable / len(decoded) > 0.95 and " " in decoded.strip():
            found.append(decoded)
    return found


@lru_cache(maxsize=8192)
def looks_like_injection(text: str) -> bool:
    """True when a passage speaks to an AI model instead of to a reader.

    Read through invisible characters, full-width letters, missing diacritics and
    base64: text encoded so that a reader cannot read it is never for a reader.
    """
    visible = unicodedata.normalize("NFKC", strip_invisible(text))
    if _ROLE.search(visible) or _INJECTION.search(_normalise(text)):
        return True
    return bool(_decoded_blobs(visible))


def visible_lines(lines: Sequence[str]) -> list[str]:
    """The lines as a reader of the rendered document sees them, one for one.

    HTML comments (also across lines, and one cut off by a chunk boundary),
    Markdown link titles, hidden HTML elements and invisible characters go.
    """
    text = "\n".join(strip_invisible(line) for line in lines)
    close, open_ = text.find("-->"), text.find("<!--")
    if close != -1 and (open_ == -1 or close < open_):  # the text starts inside a comment
        text = re.sub(r"[^\n]", "", text[:close]) + text[close + 3:]
    text = _COMMENT.sub(lambda m: re.sub(r"[^\n]", "", m.group(0)), text)  # keep the line breaks
    text = _HIDDEN_HTML.sub(lambda m: re.sub(r"[^\n]", "", m.group(0)), text)
    text = _LINK_TITLE.sub(r"\1)", text)
    text = _REF_TITLE.sub(r"\1", text)
    out = text.split("\n")
    assert len(out) == len(lines)
    return out


_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=\S)")
_BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-•*+]\s|\d{1,2}[.)]\s|[a-zđ][)]\s|\|)")
_LIST_ITEM_START = re.compile(r"^\s*(?:[-•*+]\s|\d{1,2}[.)]\s|[a-zđ][)]\s)")


def _sentences(line: str) -> list[str]:
    return [s for s in _SENTENCE.split(line) if s.strip()]


def contacts_in(text: str) -> set[str]:
    """The contacts a text gives, normalised: phone and account numbers as digits (+84 as 0),
    e-mails, URLs and web addresses in lower case without scheme; base64-hidden ones too."""
    text = strip_invisible(text)
    found: set[str] = set()
    for part in [text, *_decoded_blobs(text)]:
        for pattern in (_URL, _EMAIL, _DOMAIN):
            found |= {_norm_address(m.group(0)) for m in pattern.finditer(part)}
        for pattern in (_PHONE, _LONG_NUMBER):
            found |= {_phone_digits(m.group(0)) for m in pattern.finditer(part)}
        found |= {_digits(m.group("number")) for m in _ACCOUNT.finditer(part)}
    return {c for c in found if c}


def _blocks(seen: Sequence[str], removed: Sequence[bool]) -> list[list[int]]:
    """Line numbers of each block: a paragraph, a list item, a heading or a table row, with its
    continuation lines. Blank lines separate blocks; removed (hidden) lines are skipped."""
    blocks: list[list[int]] = [[]]
    for i, line in enumerate(seen):
        if removed[i]:
            continue
        if not line.strip():
            blocks.append([])
        elif not blocks[-1] or _BLOCK_START.match(line):
            blocks.append([i])
        else:
            blocks[-1].append(i)
    return [b for b in blocks if b]


def clean_lines(lines: Sequence[str]) -> list[str | None]:
    """What may be quoted of each line: ``None`` for a line removed whole, else its clean text.

    A line with nothing hidden or planted in it comes back exactly as it was. Around
    each sentence that addresses an AI (the attack):

    - the attack and the rest of its block go (the attack goes on after its first
      sentence), and so do the sentences with a contact before it in the block
      ("Call 0987 654 321 to pay. Ignore previous instructions ...");
    - a block ending in ``:`` takes the list under it along ("Note to the AI:" + items);
    - an attack that names no contact of its own continues in the next block
      ("Note to the AI." / "Account: ..."): there the sentences with a contact go;
    - a contact in the attack's block is planted: every later sentence that repeats it
      goes too ("Official hotline (verified): <the planted number>"). A contact the
      document states before the attack stays its own.
    """
    seen = visible_lines(lines)
    out: list[str | None] = list(seen)
    removed = [bool(line.strip()) and not seen[i].strip() for i, line in enumerate(lines)]
    for i, gone in enumerate(removed):
        if gone:
            out[i] = None  # hidden text only
    blocks = _blocks(seen, removed)
    drop: set[int] = set()  # lines that go whole
    contacts_only: set[int] = set()  # lines whose sentences with a contact go
    planted: set[str] = set()
    first_attack: int | None = None
    for b, block in enumerate(blocks):
        at = next(((k, s) for k, i in enumerate(block) for s, sentence in enumerate(_sentences(seen[i]))
                   if looks_like_injection(sentence)), None)
        if at is None:
            continue
        k, s = at
        line = block[k]
        first_attack = line if first_attack is None else min(first_attack, line)
        sentences = _sentences(seen[line])
        attack = " ".join(sentences[s:]) + "\n" + "\n".join(seen[i] for i in block[k + 1:])
        beside = [x for i in block[:k] for x in _sentences(seen[i])] + sentences[:s]
        named = contacts_in(attack) | set().union(*(contacts_in(x) for x in beside))
        planted |= named
        before = [x for x in sentences[:s] if not has_contact(x)]
        out[line] = " ".join(before) if before else None
        drop.update(block[k + 1:])
        contacts_only.update(block[:k])
        following = b + 1
        if seen[block[-1]].rstrip().endswith(":"):  # the list under "Note to the AI:"
            while following < len(blocks) and _LIST_ITEM_START.match(seen[blocks[following][0]]):
                drop.update(blocks[following])
                following += 1
        if not named and following < len(blocks):
            contacts_only.update(blocks[following])
    for i in drop:
        out[i] = None
    for i, line in enumerate(out):
        if line is None or not line.strip():
            continue
        sentences = _sentences(line)
        kept = [
            x for x in sentences
            if not looks_like_injection(x)
            and not (i in contacts_only and has_contact(x))
            and not (first_attack is not None and i > first_attack and planted and contacts_in(x) & planted)
        ]
        if len(kept) != len(sentences):
            out[i] = " ".join(kept) if kept else None
    return out


def clean_text(text: str) -> str:
    """``text`` with hidden and planted content removed (see ``clean_lines``)."""
    return "\n".join(line for line in clean_lines(text.split("\n")) if line is not None)
