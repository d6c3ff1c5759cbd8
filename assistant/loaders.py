"""Stage 1 of the pipeline: files -> ``Document``.

One small function per file type turns bytes into clean text (NFC, ``\\n`` line
endings, no control characters) and a title; ``load_file`` adds what all formats
share: ``doc_id`` (path relative to the ingest root), access level, language.
Every problem becomes one ``LoadError`` whose message is the single line
``"<path>: <what is wrong and what to do>"``, so ingest reports it and goes on.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import logging
import os
import re
import stat
import unicodedata
import warnings
import zipfile
from pathlib import Path
from typing import Iterator

import yaml

from assistant.text import detect_language, fold_diacritics  # re-exported: one definition for every stage
from assistant.types import ACCESS_LEVELS, Document, PageSpan

__all__ = ["SUPPORTED_SUFFIXES", "LoadError", "load_file", "detect_language", "fold_diacritics",
           "iter_source_files", "clean_text"]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".jsonl")
SIDECAR_SUFFIXES: tuple[str, ...] = (".meta.json", ".meta.yaml", ".meta.yml")
TITLE_MAX = 200
EMPTY = "empty file: nothing to index; add text to it or remove it"
ENCRYPTED = "encrypted PDF: needs a password; decrypt it (e.g. qpdf --decrypt) and ingest again"
_MB = 1024 * 1024

# Limits that keep one hostile or broken file from hanging ingest or exhausting memory
# (tests/test_fuzz_loaders.py throws truncated, corrupted, bomb and deeply nested files at them).
# Each refusal is a LoadError naming the limit.
PDF_MAX_PAGES = 5_000            # longer PDFs must be split
PDF_WORK_FLOOR = 8 * _MB         # page content (decompressed) any PDF may have ...
PDF_WORK_RATIO = 25              # ... or this many times the file's size, if more; see _PdfWork
DOCX_MAX_PARTS = 10_000          # zip members in one .docx (Word writes tens to hundreds)
DOCX_MAX_UNPACKED = 100 * _MB    # all members unpacked, or twice the file's size if more
HTML_MAX_TAGS = 500_000          # start tags: html.parser builds ~50k tags/s here
META_MAX_BYTES = 64 * 1024       # YAML front matter, and a .meta.json/.meta.yaml sidecar
YAML_MAX_ALIASES = 100           # '*name' references in one YAML text (alias / merge-key bombs)
YAML_MAX_DEPTH = 50              # nesting of YAML collections
YAML_MAX_PAIRS = 10_000          # mapping entries after '<<' merge keys are expanded
LANGUAGE_SAMPLE = 200_000        # characters of a document read to guess its language

# pypdf (and bs4's encoding guesser) log a warning for every quirk of a real-world file;
# what matters reaches the ingest report as a LoadError instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)
logging.getLogger("bs4.dammit").setLevel(logging.ERROR)


class LoadError(Exception):
    """One file could not be loaded; ``str(e)`` is the one line ``"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = _one_line(reason)
        super().__init__(" ".join(self.path.splitlines()) + ": " + self.reason)


# ---------------------------------------------------------------- text helpers

_NEWLINES = re.compile(r"\r\n?|[\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b\u00ad\ufeff]")
# Letters Vietnamese uses and other Latin-script languages (almost) never do.


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _cause(exc: BaseException) -> str:
    """A short one-line description of an exception raised by a parser."""
    message = _one_line(exc) or type(exc).__name__
    return message if len(message) <= 160 else message[:157] + "..."


def clean_text(text: str) -> str:
    """NFC, ``\\n`` line endings, no control characters or trailing spaces, at most 2 blank lines in a row."""
    text = unicodedata.normalize("NFC", _NEWLINES.sub("\n", text))
    text = "\n".join(line.rstrip(" \t") for line in _CONTROL.sub("", text).split("\n"))  # linear, unlike a regex
    return re.sub(r"\n{4,}", "\n\n\n", text).strip()


def _title(text: object) -> str:
    """A title on one line, NFC, at most ``TITLE_MAX`` characters ('' if none)."""
    return _one_line(unicodedata.normalize("NFC", "" if text is None else str(text)))[:TITLE_MAX]


def _first_line(text: str) -> str:
    return next((_title(line) for line in text.splitlines() if line.strip()), "")


# ---------------------------------------------------------------- one loader per file type
# Each returns (text, title or "", pages, fields); fields are front-matter keys.

def _pdf_page_count(reader) -> tuple[int, int]:
    """(leaves of the page tree, branches met again), walked without trusting it.

    Stops once past ``PDF_MAX_PAGES``. A branch reached twice (shared or cyclic /Kids)
    counts each time, as pypdf would list it, so a tree that would make pypdf list
    millions of pages is stopped here after a few thousand steps.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    try:
        stack = [reader.trailer["/Root"].get_object()["/Pages"]]
    except Exception:  # no page tree where it should be: pypdf recovers what it can
        return 0, 0
    pages = steps = repeats = 0
    seen: set[int] = set()
    while stack and pages <= PDF_MAX_PAGES and steps <= 4 * PDF_MAX_PAGES:
        steps += 1
        try:
            ref = stack.pop()
            node = ref.get_object()
            kids = node.get("/Kids") if isinstance(node, DictionaryObject) else None
            kids = kids.get_object() if kids is not None else None
        except Exception:
            continue
        if isinstance(kids, ArrayObject):
            if isinstance(ref, IndirectObject):
                repeats += ref.idnum in seen
                seen.add(ref.idnum)
            stack.extend(reversed(kids))
        elif isinstance(node, DictionaryObject) and node:
            pages += 1
    return (pages if steps <= 4 * PDF_MAX_PAGES else max(pages, PDF_MAX_PAGES + 1)), repeats


# ``/Name Do`` draws the XObject called Name (a form can hold text, and draw other forms).
_PDF_DO = re.compile(rb"/([^\x00\t\n\f\r /\[\]()<>{}%]+)[\x00\t\n\f\r ]*Do(?![^\x00\t\n\f\r /\[\]()<>{}%])")
_PDF_HEX = re.compile(rb"<([0-9A-Fa-f\s]{5,})>")  # a /ToUnicode code or target, e.g. <0066 0066 0069>


class _PdfWork:
    """Bounds the work of extracting a PDF's text, before pypdf does it.

    pypdf re-parses a page's content stream, and every form XObject each time the page
    draws it, and a font may map one byte to up to 256 characters. Each page is charged
    its decompressed content x the widest glyph mapping of its fonts, plus, per ``Do``,
    the cost of the form drawn; fonts and forms are also charged once for decompressing
    them. The total may not pass ``max(PDF_WORK_FLOOR, PDF_WORK_RATIO x file size)``:
    ordinary PDFs use a small fraction of that; compression bombs, a huge content stream
    shared by thousands of pages, or forms drawing forms thousands of times do not fit.
    """

    def __init__(self, path: Path, size: int):
        self.path, self.limit, self.spent = path, max(PDF_WORK_FLOOR, PDF_WORK_RATIO * size), 0
        self.forms: dict[int, int] = {}
        self.fonts: dict[int, int] = {}

    def charge(self, amount: int, page: int) -> None:
        self.spent += amount
        if self.spent > self.limit:
            raise LoadError(self.path, f"page {page}: the PDF's content unpacks to over {self.limit / _MB:.0f} MB "
                                       "of drawing instructions (a compression bomb or a damaged file); "
                                       "re-save it (e.g. print it to a new PDF) and ingest again")

    def data(self, obj, page: int) -> bytes:
        """A stream's decompressed bytes (pypdf keeps them for the extraction); b"" if it is broken."""
        from pypdf.errors import LimitReachedError
        from pypdf.generic import StreamObject

        try:
            obj = obj.get_object() if obj is not None else None
            data = obj.get_data() if isinstance(obj, StreamObject) else b""
        except (LimitReachedError, MemoryError):
            raise
        except Exception:  # a damaged stream: pypdf's text extraction copes with it as it always did
            return b""
        return data if isinstance(data, bytes) else str(data).encode("utf-8", "replace")

    def page(self, page, number: int) -> None:
        """Charge one page; raise LoadError once the file is over its budget."""
        from pypdf.generic import ArrayObject

        contents = page.get("/Contents")
        contents = contents.get_object() if contents is not None else None
        parts = list(contents) if isinstance(contents, ArrayObject) else [contents]
        data = b"".join(self.data(part, number) for part in parts)
        self.charge(len(data), number)
        self.charge(self.drawing(data, page.get("/Resources"), number, 0), number)

    def drawing(self, data: bytes, resources, number: int, depth: int) -> int:
        """Cost of running content ``data`` with ``resources``: text expansion and forms drawn."""
        from pypdf.generic import DictionaryObject

        if depth > 32:
            raise LoadError(self.path, f"page {number}: forms drawn inside forms more than 32 deep (damaged or "
                                       "hostile); re-save it (e.g. print it to a new PDF) and ingest again")
        resources = resources.get_object() if resources is not None else None
        if not isinstance(resources, DictionaryObject):
            return 0
        cost = len(data) * (self.expansion(resources.get("/Font"), number) - 1)
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else None
        if not isinstance(xobjects, DictionaryObject) or not data:
            return cost
        calls: dict[bytes, int] = {}
        for name in _PDF_DO.findall(data):
            calls[name] = calls.get(name, 0) + 1
        forms = {}
        for key, value in list(xobjects.items()):
            form = value.get_object()
            if isinstance(form, DictionaryObject) and form.get("/Subtype") == "/Form":
                forms[str(key)] = self.form(form, number, depth)
        widest = max(forms.values(), default=0)
        for name, count in calls.items():
            cost += count * forms.get("/" + name.decode("latin-1"), widest)
        return cost

    def form(self, form, number: int, depth: int) -> int:
        key = id(form)
        if key not in self.forms:
            self.forms[key] = 0  # a form drawing itself is skipped by pypdf: costs nothing more
            data = self.data(form, number)
            self.charge(len(data), number)
            self.forms[key] = len(data) + self.drawing(data, form.get("/Resources"), number, depth + 1)
        return self.forms[key]

    def expansion(self, fonts, number: int) -> int:
        """The most characters one code maps to in these fonts' /ToUnicode maps (at least 1)."""
        from pypdf.generic import DictionaryObject

        fonts = fonts.get_object() if fonts is not None else None
        widest = 1
        if isinstance(fonts, DictionaryObject):
            for value in list(fonts.values()):
                font = value.get_object()
                if not isinstance(font, DictionaryObject):
                    continue
                if id(font) not in self.fonts:
                    cmap = self.data(font.get("/ToUnicode"), number)
                    self.charge(len(cmap), number)
                    longest = max((len(m) - sum(m.count(c) for c in b" \t\r\n\f\0") for m in _PDF_HEX.findall(cmap)),
                                  default=4)
                    self.fonts[id(font)] = max(1, longest // 4)  # 4 hex digits per UTF-16 unit
                widest = max(widest, self.fonts[id(font)])
        return widest


def _load_pdf(path: Path, data: bytes) -> tuple[str, str, tuple[PageSpan, ...], dict]:
    """Text page by page, pages joined by a blank line; ``pages`` maps offsets to 1-based pages."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoadError(path, ENCRYPTED)
            count, repeats = _pdf_page_count(reader)
            if count > PDF_MAX_PAGES and repeats:
                raise LoadError(path, f"PDF page tree lists branches more than once, over {PDF_MAX_PAGES:,} pages "
                                      "(damaged or hostile); re-save it (e.g. print it to a new PDF) and ingest again")
            if count > PDF_MAX_PAGES:
                raise LoadError(path, f"PDF has more than {PDF_MAX_PAGES:,} pages (the limit); "
                                      "split it into smaller PDFs and ingest those")
            work, raw_pages = _PdfWork(path, len(data)), []
            for number, page in enumerate(reader.pages, start=1):
                try:
                    work.page(page, number)
                except (LoadError, LimitReachedError, MemoryError):
                    raise
                except Exception:  # damage the budget cannot follow: pypdf's extraction meets it as before
                    pass
                raw_pages.append(page.extract_text() or "")
            meta_title = _title((reader.metadata or {}).get("/Title"))
    except LoadError:
        raise
    except DependencyError:  # AES needs the optional 'cryptography' package
        raise LoadError(path, ENCRYPTED + " (or pip install cryptography)") from None
    except LimitReachedError as exc:  # pypdf's own bounds (stream sizes, object counts, ...)
        raise LoadError(path, f"PDF goes past a safety limit ({_cause(exc)}): a compression bomb or a damaged "
                              "file; re-save it (e.g. print it to a new PDF) and ingest again") from None
    except Exception as exc:
        raise LoadError(path, f"not a readable PDF (corrupt or truncated): {_cause(exc)}; "
                              "re-save or re-download it") from exc
    pages = [(number, text) for number, text in enumerate(map(clean_text, raw_pages), start=1) if text]
    if not pages:  # (a PDF with no pages at all ends up here too)
        raise LoadError(path, "no extractable text (scanned images?); run OCR first")
    spans, offset = [], 0
    for number, page_text in pages:
        spans.append(PageSpan(offset, number))
        offset += len(page_text) + 2  # the "\n\n" between pages
    text = "\n\n".join(page_text for _, page_text in pages)
    return text, meta_title or _first_line(text), tuple(spans), {}


def _heading_level(style_name: str) -> int:
    """1-6 for 'Title' / 'Heading N' paragraph styles, else 0."""
    match = re.match(r"heading\s*(\d)", style_name, re.IGNORECASE)
    return 1 if style_name.lower() == "title" else min(int(match.group(1)), 6) if match else 0


def _docx_package(path: Path, data: bytes) -> bytes:
    """The package re-zipped uncompressed from what its members really hold, within the limits.

    Checked before python-docx sees it: zip member count, compression method and the
    unpacked size, which is read in chunks and cut at each member's declared size, so a
    zip bomb, even one whose headers lie about sizes, costs at most the limit.
    """
    if data.count(b"PK\x01\x02") > DOCX_MAX_PARTS:  # central directory entries, counted before zipfile lists them
        raise LoadError(path, f"not a usable DOCX file: more than {DOCX_MAX_PARTS:,} parts in the package "
                              "(a zip bomb?); open it in Word and save it again")
    limit = max(DOCX_MAX_UNPACKED, 2 * len(data))
    too_big = (f"not a usable DOCX file: it unpacks to more than {limit / _MB:.0f} MB (a zip bomb?); "
               "open it in Word and save it again, without embedded files")
    members: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
            if sum(info.file_size for info in infos) > limit:
                raise LoadError(path, too_big)
            for info in infos:
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise LoadError(path, f"not a usable DOCX file: part {info.filename[:80]!r} uses a compression "
                                          "method Word never writes; open it in Word and save it again")
                if info.flag_bits & 0x1:
                    raise LoadError(path, "encrypted DOCX: remove the password in Word and ingest again")
                chunks = []
                with package.open(info) as member:  # stops at the declared size, checks the CRC
                    while chunk := member.read(1 << 16):
                        chunks.append(chunk)
                members[info.filename] = b"".join(chunks)
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(path, f"not a readable DOCX file: {_cause(exc)}; open it in Word and save it again") from exc
    clean = io.BytesIO()
    with zipfile.ZipFile(clean, "w", zipfile.ZIP_STORED) as package:
        for name, content in members.items():
            package.writestr(name, content)
    return clean.getvalue()


def _docx_table_lines(table) -> list[str]:
    """One 'a | b' line per row; a merged cell once per row (its text repeats down a vertical merge).

    Walks the XML itself rather than ``row.cells``, which expands every grid column a
    cell spans (a gridSpan of 10^9 is a memory bomb) and resolves vertical merges by
    recursion (thousands of merged rows overflow the stack).
    """
    from docx.table import _Cell

    lines, above = [], {}
    for tr in table._tbl.tr_lst:
        offset, here, cells = int(getattr(tr, "grid_before", 0) or 0), {}, {}
        for tc in tr.tc_lst:
            origin = above.get(offset, tc) if tc.vMerge == "continue" else tc
            here[offset] = origin
            cells.setdefault(origin, None)
            offset += max(1, int(tc.grid_span or 1))
        above = here
        row = " | ".join(_one_line(_Cell(tc, table).text) for tc in cells)
        if row.strip(" |"):
            lines.append(row)
    return lines


def _load_docx(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Paragraphs and tables in order; headings become '# ' lines, table rows 'a | b' lines."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LoadError(path, "not a readable DOCX file (not a zip package; an old .doc? save it as .docx)")
    package = _docx_package(path, data)
    try:
        document = docx.Document(io.BytesIO(package))
        # Style names looked up once: paragraph.style searches all styles for every paragraph.
        styles = document.styles
        names: dict[str, str] = {}
        for style in styles.element.style_lst:
            if style.type == WD_STYLE_TYPE.PARAGRAPH and style.styleId is not None:
                names.setdefault(style.styleId, style.name_val or "")
        default = styles.default(WD_STYLE_TYPE.PARAGRAPH)
        default_name = (default.name or "") if default is not None else ""
        blocks, first_heading = [], ""
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.append("\n".join(_docx_table_lines(item)))
            elif level := _heading_level(names.get(item._p.style, default_name) if item._p.style else default_name):
                if heading := _one_line(item.text):
                    first_heading = first_heading or _title(heading)
                    blocks.append("#" * level + " " + heading)
            else:
                blocks.append(item.text.strip())
        core_title = document.core_properties.title
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(path, f"not a readable DOCX file: {_cause(exc)}; open it in Word and save it again") from exc
    text = clean_text("\n\n".join(block for block in blocks if block))
    return text, _title(core_title) or first_heading or _first_line(text), (), {}


_HTML_DROP = frozenset(["script", "style", "nav", "header", "footer", "noscript", "template", "svg", "head", "title"])
_HTML_BLOCKS = frozenset(["p", "div", "section", "article", "main", "aside", "blockquote", "pre", "ul", "ol", "dl",
                          "dt", "dd", "table", "caption", "figure", "figcaption", "address", "form", "hr",
                          "h1", "h2", "h3", "h4", "h5", "h6"])
_HTML_HEADINGS = {f"h{n}": "#" * n for n in range(1, 7)}
_HTML_START_TAG = re.compile(rb"<\x00?[A-Za-z]")  # UTF-16 too
_SPACES = re.compile(r"\s+")
_CELL = object()   # in a row being collapsed: the boundary between two of its cells
_BAR = object()    # in a row inside a collapsed heading or row: ' | ' between cells (one token)
_END = object()

# Entering an element can start several things its exit must finish.
_CAPTURE, _PRE, _BLOCK, _HEADING, _ROW, _NESTED_HEADING, _DISCARD = 1, 2, 4, 8, 16, 32, 64


def _html_text(soup) -> tuple[str, str]:
    """The visible text of a parsed page, and the text of its first <h1>.

    One pass over the tree with an explicit stack: linear time whatever the nesting
    (a page of 100,000 nested <div>s, or of 50,000 sibling <p>s, which made the
    bs4 tree edits this replaces take minutes). Gives exactly what they gave:
    Markdown-style headings, '- ' list items, 'a | b' table rows, blank-line paragraphs;
    script/style/nav/header/footer/... dropped.
    A heading or table row becomes one line: whatever it holds is collapsed into it.
    """
    from bs4 import CData, NavigableString, Tag

    out: list[str] = []       # the page's text pieces
    line: list | None = None  # the heading or row being collapsed into one line
    headings = 0              # headings open inside it: a row inside a heading stays plain text
    pre = 0                   # open <pre>: their text keeps its spacing
    h1: list[str] | None = None
    h1_title: str | None = None
    stack: list = [(iter(soup.contents), None, 0, None)]
    while stack:
        children, tag, flags, saved = stack[-1]
        node = next(children, _END)
        if node is _END:
            stack.pop()
            if flags & _DISCARD:
                line = saved
            if flags & _CAPTURE:
                h1_title, h1 = _title(" ".join(h1)), None
            if flags & _PRE:
                pre -= 1
            if flags & _NESTED_HEADING:
                headings -= 1
            if flags & _HEADING:
                out += ["\n\n", _HTML_HEADINGS[tag.name] + " " + _one_line(" ".join(line)), "\n\n"]
                line, headings = None, 0
            elif flags & _ROW:
                cells, cell = [], []
                for piece in line:
                    if piece is _CELL:
                        cells.append(_one_line(" ".join(cell)))
                        cell = []
                    else:
                        cell.append(piece)
                cells.append(_one_line(" ".join(cell)))
                out += ["\n", " | ".join(cells)]  # one "cell" when the row has no <td>/<th> of its own
                line = None
            elif flags & _BLOCK:
                out.append("\n\n")
            continue
        if node is _CELL or node is _BAR:
            line.append(node if node is _CELL else "|")
            continue
        if type(node) is tuple:  # a row's child that is not a cell: not in the row, but may hold the first <h1>
            stack.append((iter(node), None, _DISCARD, line))
            line = []
            continue
        if isinstance(node, NavigableString):
            kind = type(node)
            if kind is not NavigableString and kind is not CData:  # comments, doctype, <rt> ...
                continue
            if h1 is not None:
                h1.append(node)
            if line is not None:
                line.append(node)
            else:
                out.append(node if pre or kind is CData else _SPACES.sub(" ", node))
            continue
        if not isinstance(node, Tag) or node.name in _HTML_DROP:
            continue
        name, flags = node.name, 0
        if name == "br":
            if line is None:
                out.append("\n")
            continue
        if name == "h1" and h1 is None and h1_title is None:
            h1, flags = [], _CAPTURE
        contents = node.contents
        if line is None:
            if name in _HTML_HEADINGS:
                line, headings, flags = [], 1, flags | _HEADING
            elif name == "tr":
                line, headings, flags = [], 0, flags | _ROW
                contents = _row_cells(node, _CELL)
            else:
                if name in _HTML_BLOCKS:
                    out.append("\n\n")
                    flags |= _BLOCK
                if name == "li":
                    out += ["\n", "- "]
                if name == "pre":
                    pre, flags = pre + 1, flags | _PRE
        elif name in _HTML_HEADINGS:
            line.append(_HTML_HEADINGS[name])
            headings, flags = headings + 1, flags | _NESTED_HEADING
        elif name == "tr" and not headings:
            contents = _row_cells(node, _BAR)
        stack.append((iter(contents), node, flags, None))
    return "".join(out), h1_title or ""


def _row_cells(row, separator) -> list:
    """A row's own <td>/<th> children with ``separator`` between them (all its children if it has none).

    Its other child tags come as 1-tuples: their text is not part of the row.
    """
    from bs4 import Tag

    if not any(getattr(child, "name", None) in ("td", "th") for child in row.contents):
        return row.contents
    spaced, first = [], True
    for child in row.contents:
        if getattr(child, "name", None) in ("td", "th"):
            spaced += [child] if first else [separator, child]
            first = False
        elif isinstance(child, Tag):
            spaced.append((child,))
    return spaced


# html.parser (before Python 3.13.4) searches to the end of the page again for every
# construct it cannot finish: 50,000 unclosed '<a', '</' or '<!--' took minutes. A '<'
# after the last '>' is written as '&lt;' first (it was text anyway), and the parser
# below knows where the last comment and marked-section ends are, so it gives up on an
# unclosed '<!--' or '<![' at once instead of searching.
_COMMENT_END_REVERSED = re.compile(r">\s*--")      # '--\s*>' read backwards
_MARKED_END_REVERSED = re.compile(r">\s*]\s*]")   # ']\s*]\s*>', the end of <![CDATA[ ... ]]>
_IF_END_REVERSED = re.compile(r">\s*]")            # ']\s*>', the end of <![if ...]>
_MARKED_ENDS = {"temp": _MARKED_END_REVERSED, "cdata": _MARKED_END_REVERSED, "ignore": _MARKED_END_REVERSED,
                "include": _MARKED_END_REVERSED, "rcdata": _MARKED_END_REVERSED,
                "if": _IF_END_REVERSED, "else": _IF_END_REVERSED, "endif": _IF_END_REVERSED}


def _defused_tail(markup: str) -> str:
    """``markup`` with every '<' after the last '>' written as '&lt;', keeping the text html.parser made of it.

    (html.parser keeps an unfinished tag, '</', '<!' or '<?' as raw text up to the next '<',
    so that stretch is escaped whole, '&' too; after the last '<', or a '<' before anything
    else, the text is read as usual.)
    """
    tail = markup.rfind(">") + 1
    if "<" not in markup[tail:]:
        return markup
    first, *rest = markup[tail:].split("<")
    return markup[:tail] + first + "".join(
        "&lt;" + (part.replace("&", "&amp;") if n < len(rest) - 1 and part[:1].isascii()
                  and (part[:1].isalpha() or part[:1] in "/!?") else part)
        for n, part in enumerate(rest))


@functools.cache
def _html_builder():
    """A bs4 'html.parser' tree builder whose parser fails fast on unclosed comments and marked sections."""
    from bs4.builder import HTMLParserTreeBuilder
    from bs4.builder._htmlparser import BeautifulSoupHTMLParser

    class Parser(BeautifulSoupHTMLParser):
        _ends: tuple = (None, {})

        def _last_end(self, pattern) -> int:
            """Where the last match of ``pattern`` (reversed) starts in the unparsed data, -1 if none."""
            data, found = self._ends
            if data is not self.rawdata:
                data, found = self.rawdata, {}
                self._ends = (data, found)
            if pattern not in found:
                match = pattern.search(data[::-1])
                found[pattern] = len(data) - match.end() if match else -1
            return found[pattern]

        def parse_comment(self, i, report=1):
            if self._last_end(_COMMENT_END_REVERSED) < i + 4:
                return -1  # what the search to the end would find
            return super().parse_comment(i, report)

        def parse_marked_section(self, i, report=1):
            name = re.match(r"[a-zA-Z][-_.a-zA-Z0-9]*", self.rawdata[i + 3:i + 64])
            pattern = _MARKED_ENDS.get(name.group().lower()) if name else None
            if pattern is None or self._last_end(pattern) < i + 3:
                return -1  # unclosed, or a keyword html.parser rejects (it would give up on the page): text
            return super().parse_marked_section(i, report)

    class Builder(HTMLParserTreeBuilder):
        def feed(self, markup, *args, **kwargs):
            return super().feed(markup, _parser_class=Parser)

    try:  # bs4 >= 4.13 lets the builder choose its parser class
        import inspect

        if "_parser_class" not in inspect.signature(HTMLParserTreeBuilder.feed).parameters:
            return None
    except (TypeError, ValueError):
        return None
    return Builder


def _load_html(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Visible text: Markdown-style headings, '- ' list items, 'a | b' table rows, blank-line paragraphs."""
    from bs4 import BeautifulSoup
    from bs4.dammit import UnicodeDammit

    if data.count(b"<") > HTML_MAX_TAGS and _HTML_START_TAG.subn(b"", data)[1] > HTML_MAX_TAGS:
        raise LoadError(path, f"HTML page has more than {HTML_MAX_TAGS:,} tags, too many to parse in reasonable "
                              "time; split it into smaller pages or save it as text")
    markup = UnicodeDammit(data, is_html=True).unicode_markup  # what BeautifulSoup does: <meta charset>, else a guess
    if markup is None:
        raise LoadError(path, "HTML in an encoding that cannot be recognised; save it as UTF-8")
    builder = _html_builder()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            markup = _defused_tail(markup)
            soup = BeautifulSoup(markup, builder=builder()) if builder else BeautifulSoup(markup, "html.parser")
    except RecursionError:
        raise LoadError(path, "HTML is nested too deeply to parse; simplify the page or save it as text") from None
    except Exception as exc:
        if type(exc).__name__ != "ParserRejectedMarkup":
            raise
        raise LoadError(path, f"HTML that the parser rejects ({_cause(exc)}); fix the markup or save it as text") from None
    page_title = _title(soup.title.get_text(" ")) if soup.title else ""
    text, h1_title = _html_text(soup)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"^-\n+", "- ", re.sub(r"\n{3,}", "\n\n", text), flags=re.MULTILINE)  # <li><p>…
    return clean_text(text), page_title or h1_title, (), {}


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_BINARY = "looks like a binary file, not text (wrong extension?); rename it to its real type or remove it"


def _controls(text: str | bytes) -> int:
    """Control characters other than tab, newline, CR and form feed."""
    codes = text if isinstance(text, bytes) else map(ord, text)
    return sum(1 for c in codes if (c < 32 and c not in (9, 10, 12, 13)) or c == 127)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes fall on one side only, as in text saved as UTF-16 without a BOM."""
    even, odd = head[0::2], head[1::2]
    for zeros, others, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if len(head) >= 4 and zeros.count(0) >= 0.3 * len(zeros) and others.count(0) <= 0.01 * len(others):
            return codec
    return None


def _decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (BOM allowed; UTF-16/32 with a BOM, UTF-16 without), else cp1258, else latin-1 — if it is text at all.

    Binary means a NUL byte (outside UTF-16/32) or more than 10% control bytes in the first 8 KB.
    """
    codec = next((codec for bom, codec in _BOMS if data.startswith(bom)), None)
    body = data[len(next(bom for bom, c in _BOMS if c == codec)):] if codec else data
    if codec is None and b"\x00" in data[:8192]:
        codec = _utf16_without_bom(data[:8192])
        if codec is None:
            raise LoadError(path, _BINARY)
    if codec:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError as exc:
            raise LoadError(path, f"not valid {codec.upper()} text ({_cause(exc)}); save it as UTF-8") from None
        if "\x00" in text[:4096] or _controls(text[:4096]) > len(text[:4096]) / 10:
            raise LoadError(path, _BINARY)
        return text
    head = data[:8192]
    if _controls(head) > len(head) / 10:
        raise LoadError(path, _BINARY)
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _load_txt(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    text = clean_text(_decode_text(path, data))
    return text, _first_line(text), (), {}


class _MetaLimit(yaml.YAMLError):
    """YAML that parses, but would cost too much to use; str() is the reason."""


class _BoundedYamlLoader(yaml.SafeLoader):
    """``yaml.safe_load`` with bounds: aliases (billion-laughs), nesting, and entries after '<<' merges.

    Aliases are shared, not copied, when loaded, but anything that walks the result
    (str(), a merge key) pays for every path through them.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = self._depth = self._pairs = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > YAML_MAX_ALIASES:
                raise _MetaLimit(f"more than {YAML_MAX_ALIASES} aliases (*name)")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > YAML_MAX_DEPTH:
                raise _MetaLimit(f"nested more than {YAML_MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def flatten_mapping(self, node):
        super().flatten_mapping(node)
        self._pairs += len(node.value)
        if self._pairs > YAML_MAX_PAIRS:
            raise _MetaLimit(f"more than {YAML_MAX_PAIRS:,} entries once '<<' merges are expanded")


def _load_meta(text: str, kind: str) -> object:
    """Parse front matter or a sidecar (``kind`` 'yaml' or 'json') within ``META_MAX_BYTES``."""
    if len(text.encode("utf-8", "surrogatepass")) > META_MAX_BYTES:
        raise _MetaLimit(f"over {META_MAX_BYTES // 1024} KB")
    try:
        if kind == "json":
            return json.loads(text)
        loader = _BoundedYamlLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except RecursionError:
        raise _MetaLimit("nested too deeply") from None


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_MD_HEADING = re.compile(r"^# .+$", re.MULTILINE)  # linear; '^# +(.+?)[ #]*$' was quadratic on '# a # # # …x'


def _markdown_title(text: str) -> str:
    """The first '# Title' line's text, without the closing '#'s (same as '^# +(.+?)[ #]*$')."""
    if not (match := _MD_HEADING.search(text)):
        return ""
    rest = match.group()[1:].lstrip(" ")
    return _title(rest.rstrip(" #") or rest[:1])


def _load_markdown(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Markdown as text; YAML front matter is removed from the text and returned as fields."""
    text, fields = clean_text(_decode_text(path, data)), {}
    if match := _FRONT_MATTER.match(text):
        try:
            parsed = _load_meta(match.group(1), "yaml")
        except _MetaLimit as exc:
            raise LoadError(path, f"front matter is too large or complex ({exc}); simplify it or remove it") from None
        except yaml.YAMLError as exc:
            raise LoadError(path, f"front matter is not valid YAML ({_cause(exc)}); fix it or remove it") from None
        if parsed is None or isinstance(parsed, dict):  # otherwise the '---' was a rule, not front matter
            fields, text = parsed or {}, text[match.end():].strip()
    return text, _markdown_title(text), (), fields


_LOADERS = {".pdf": _load_pdf, ".docx": _load_docx, ".html": _load_html, ".htm": _load_html,
            ".md": _load_markdown, ".markdown": _load_markdown, ".txt": _load_txt}


# ---------------------------------------------------------------- what every format shares

def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    """The file's bytes; size and file kind are checked before anything is read."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory")
        if not stat.S_ISREG(info.st_mode):  # reading a pipe or device could block forever
            raise OSError(0, "not a regular file (a pipe or device?)")
        if max_bytes is not None and info.st_size > max_bytes:
            raise LoadError(path, f"file is {info.st_size / _MB:.1f} MB, over the limit of "
                                  f"{max_bytes / _MB:.3g} MB (ASSISTANT_MAX_FILE_MB); split it or raise the limit")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or _cause(exc)}; check that it is a regular "
                              "file that ingest may read") from None


def _read_sidecar(path: Path) -> dict:
    """Fields from ``<file name>.meta.json`` / ``.meta.yaml`` next to the file ({} if there is none)."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        if not sidecar.is_file():
            continue
        try:
            if sidecar.stat().st_size > META_MAX_BYTES:
                raise _MetaLimit(f"over {META_MAX_BYTES // 1024} KB")
            raw = sidecar.read_bytes().decode("utf-8-sig")
            fields = _load_meta(raw, "json" if suffix == ".meta.json" else "yaml")
        except _MetaLimit as exc:
            raise LoadError(path, f"sidecar {sidecar.name} is too large or complex ({exc}); simplify it or remove it") from None
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise LoadError(path, f"sidecar {sidecar.name} is unreadable ({_cause(exc)}); fix it or remove it") from None
        if not isinstance(fields, dict):
            raise LoadError(path, f'sidecar {sidecar.name} must hold a mapping such as {{"access": "internal"}}')
        return _checked(path, fields, f"sidecar {sidecar.name}")
    return {}


_SCALARS = (str, int, float, bool, datetime.date)
_HONOURED = ("title", "access", "language", "lang", "doc_id")


def _checked(path: Path, fields: dict, where: str, keys: tuple[str, ...] = _HONOURED) -> dict:
    """``fields``, once the keys we use are known to be single values (not lists, mappings, alias bombs)."""
    for key in keys:
        value = fields.get(key)
        if value is not None and not isinstance(value, _SCALARS):
            raise LoadError(path, f"{where}: {key!r} must be a single value, not a {type(value).__name__}; fix it")
    return fields


def _access(path: Path, *values: object) -> str:
    """'internal' if any source says so (None = says nothing); other values are errors."""
    levels = {str(v).strip().lower(): v for v in values if v is not None}
    for level, value in levels.items():
        if level not in ACCESS_LEVELS:
            raise LoadError(path, f"access must be 'public' or 'internal', got {_cause(repr(value))}")
    return "internal" if "internal" in levels else "public"


def _language(*sources: dict) -> str | None:
    """The first ``language`` / ``lang`` given by front matter, a sidecar or record metadata."""
    values = (source.get("language") or source.get("lang") for source in sources)
    return next((str(v).strip().lower() for v in values if v), None)


def _plain(fields: dict) -> dict:
    """Extra front-matter/sidecar keys as JSON-safe metadata (scalars; dates as ISO text)."""
    return {str(k): v.isoformat() if isinstance(v, datetime.date) else v for k, v in fields.items()
            if k not in _HONOURED and isinstance(v, _SCALARS)}


def _relative(path: Path, root: Path | None) -> Path:
    """``path`` relative to ``root``; just the file name when that is not possible."""
    for p, r in ((path, root), (path.resolve(), root.resolve())) if root is not None else ():
        if p.is_relative_to(r) and p != r:
            return p.relative_to(r)
    return Path(path.name)


def load_file(path: Path, root: Path | None = None, max_bytes: int | None = None) -> list[Document]:
    """Load one file into Documents: one, or one per record for a ``.jsonl`` corpus.

    ``root`` is the folder given to ingest (``doc_id`` is the path relative to it);
    ``max_bytes`` is the size limit, ``ASSISTANT_MAX_FILE_MB`` * 1024 * 1024.
    Raises ``LoadError`` — and nothing else — for any file that cannot be used.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "(no extension)"
        raise LoadError(path, f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        return _load(path, suffix, root, max_bytes)
    except LoadError:
        raise
    except Exception as exc:  # a parser bug or a strange file must not stop ingest
        raise LoadError(path, f"could not read this {suffix} file ({type(exc).__name__}: {_cause(exc)}); check that "
                              "it opens in its usual program, or save it in another supported format") from exc


def _load(path: Path, suffix: str, root: Path | None, max_bytes: int | None) -> list[Document]:
    data = _read_bytes(path, max_bytes)
    if not data.strip():
        raise LoadError(path, EMPTY)
    sidecar = _read_sidecar(path)
    relative = _relative(path, root)
    in_internal = any(part.lower() == "internal" for part in relative.parts[:-1])
    access = _access(path, "internal" if in_internal else None, sidecar.get("access"))
    if suffix == ".jsonl":
        return _load_jsonl(path, data, access, _language(sidecar))
    text, title, pages, fields = _LOADERS[suffix](path, data)
    fields = _checked(path, fields, "front matter")
    if not text:
        raise LoadError(path, EMPTY)
    doc_id = sidecar.get("doc_id") or fields.get("doc_id") or relative.as_posix()
    return [Document(
        doc_id=unicodedata.normalize("NFC", str(doc_id)),
        title=_title(sidecar.get("title")) or _title(fields.get("title")) or title or _title(path.stem),
        text=text,
        source=str(path),
        access=_access(path, access, fields.get("access")),
        language=_language(sidecar, fields) or detect_language(text[:LANGUAGE_SAMPLE]),
        pages=pages,
        metadata={**_plain(fields), **_plain(sidecar)},
    )]


def _load_jsonl(path: Path, data: bytes, access: str, language: str | None) -> list[Document]:
    """A BEIR corpus: one ``{"_id", "title", "text", "metadata"}`` object per line; ids kept exactly."""
    try:
        lines = data.decode("utf-8-sig").split("\n")  # not splitlines(): JSON strings may hold U+2028
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not valid UTF-8 ({_cause(exc)}); save the JSONL file as UTF-8") from None
    documents, first_seen = [], {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except RecursionError:
            raise LoadError(path, f"line {number}: JSON nested too deeply to read; flatten the record") from None
        except ValueError as exc:
            raise LoadError(path, f"line {number}: not valid JSON ({_cause(exc)}); fix or remove that line") from None
        if not isinstance(record, dict) or record.get("_id") in (None, "") or not isinstance(record.get("text"), str):
            raise LoadError(path, f'line {number}: each line must be an object with "_id" and a string "text"')
        doc_id, metadata = str(record["_id"]), record.get("metadata") or {}
        if doc_id in first_seen:
            raise LoadError(path, f"line {number}: duplicate _id {_cause(repr(doc_id))} (first on line "
                                  f"{first_seen[doc_id]}); give each record its own _id")
        if not isinstance(metadata, dict):
            raise LoadError(path, f'line {number}: "metadata" must be an object')
        _checked(path, metadata, f"line {number}: metadata", ("access", "language", "lang"))
        first_seen[doc_id] = number
        if text := clean_text(record["text"]):  # a record with no text has nothing to retrieve
            documents.append(Document(
                doc_id=doc_id,
                title=_title(record.get("title")) or _title(doc_id),
                text=text,
                source=str(path),
                access=_access(path, access, metadata.get("access")),
                language=_language(metadata) or language or detect_language(text[:LANGUAGE_SAMPLE]),
                metadata=metadata,
            ))
    if not documents:
        raise LoadError(path, EMPTY)
    return documents


def iter_source_files(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """``(file, root)`` for every file under ``paths``, each folder's files in sorted path order.

    Skips hidden files/folders and sidecars; yields unsupported and missing files so
    that ingest reports them. A file given directly is its own root (doc_id = name).
    """
    seen: set[Path] = set()
    for given in map(Path, paths):
        if given.is_dir():
            found = []
            for folder, dirs, files in os.walk(given):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [Path(folder, f) for f in files
                          if not f.startswith(".") and not f.lower().endswith(SIDECAR_SUFFIXES)]
            pairs = [(f, given) for f in sorted(found, key=lambda f: f.relative_to(given).parts)]
        else:
            pairs = [] if given.name.lower().endswith(SIDECAR_SUFFIXES) else [(given, given)]
        for file, root in pairs:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                yield file, root
