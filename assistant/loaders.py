"""Stage 1 of the pipeline: files -> ``Document``.

One small function per file type turns bytes into clean text (NFC, ``\\n`` line
endings, no control characters) and a title; ``load_file`` adds what all formats
share: ``doc_id`` (path relative to the ingest root), access level, language.
Every problem becomes one ``LoadError`` whose message is the single line
``"<path>: <what is wrong and what to do>"``, so ingest reports it and goes on.
"""

from __future__ import annotations

import datetime
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
EMPTY = "empty file: nothing to index"
ENCRYPTED = "encrypted PDF: needs a password; decrypt it (e.g. qpdf --decrypt) and ingest again"
_MB = 1024 * 1024

# pypdf (and bs4's encoding guesser) log a warning for every quirk of a real-world file;
# what matters reaches the ingest report as a LoadError instead.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)
logging.getLogger("bs4.dammit").setLevel(logging.ERROR)


class LoadError(Exception):
    """One file could not be loaded; ``str(e)`` is the one line ``"{path}: {reason}"``."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = _one_line(reason)
        super().__init__(f"{self.path.replace(chr(10), ' ')}: {self.reason}")


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
    text = re.sub(r"[ \t]+\n", "\n", _CONTROL.sub("", text))
    return re.sub(r"\n{4,}", "\n\n\n", text).strip()


def _title(text: object) -> str:
    """A title on one line, NFC, at most ``TITLE_MAX`` characters ('' if none)."""
    return _one_line(unicodedata.normalize("NFC", "" if text is None else str(text)))[:TITLE_MAX]


def _first_line(text: str) -> str:
    return next((_title(line) for line in text.splitlines() if line.strip()), "")


# ---------------------------------------------------------------- one loader per file type
# Each returns (text, title or "", pages, fields); fields are front-matter keys.

def _load_pdf(path: Path, data: bytes) -> tuple[str, str, tuple[PageSpan, ...], dict]:
    """Text page by page, pages joined by a blank line; ``pages`` maps offsets to 1-based pages."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoadError(path, ENCRYPTED)
            raw_pages = [page.extract_text() or "" for page in reader.pages]
            meta_title = _title((reader.metadata or {}).get("/Title"))
    except LoadError:
        raise
    except DependencyError:  # AES needs the optional 'cryptography' package
        raise LoadError(path, ENCRYPTED + " (or pip install cryptography)") from None
    except Exception as exc:
        raise LoadError(path, f"not a readable PDF (corrupt or truncated): {_cause(exc)}") from exc
    pages = [(number, text) for number, text in enumerate(map(clean_text, raw_pages), start=1) if text]
    if not pages:  # (a PDF with no pages at all ends up here too)
        raise LoadError(path, "no extractable text (scanned images?); run OCR first")
    spans, offset = [], 0
    for number, page_text in pages:
        spans.append(PageSpan(offset, number))
        offset += len(page_text) + 2  # the "\n\n" between pages
    text = "\n\n".join(page_text for _, page_text in pages)
    return text, meta_title or _first_line(text), tuple(spans), {}


def _docx_heading_level(paragraph) -> int:
    """1-6 for 'Title' / 'Heading N' paragraph styles, else 0."""
    name = (paragraph.style.name or "") if paragraph.style is not None else ""
    match = re.match(r"heading\s*(\d)", name, re.IGNORECASE)
    return 1 if name.lower() == "title" else min(int(match.group(1)), 6) if match else 0


def _load_docx(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Paragraphs and tables in order; headings become '# ' lines, table rows 'a | b' lines."""
    import docx
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise LoadError(path, "not a readable DOCX file (not a zip package; an old .doc? save it as .docx)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(path, f"not a readable DOCX file: {_cause(exc)}") from exc
    blocks, first_heading = [], ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):  # a merged cell is listed once per grid column: keep it once
            rows = (" | ".join({c._tc: _one_line(c.text) for c in row.cells}.values()) for row in item.rows)
            blocks.append("\n".join(row for row in rows if row.strip(" |")))
        elif level := _docx_heading_level(item):
            if heading := _one_line(item.text):
                first_heading = first_heading or _title(heading)
                blocks.append("#" * level + " " + heading)
        else:
            blocks.append(item.text.strip())
    text = clean_text("\n\n".join(block for block in blocks if block))
    return text, _title(document.core_properties.title) or first_heading or _first_line(text), (), {}


_HTML_DROP = ["script", "style", "nav", "header", "footer", "noscript", "template", "svg", "head", "title"]
_HTML_BLOCKS = ["p", "div", "section", "article", "main", "aside", "blockquote", "pre", "ul", "ol", "dl",
                "dt", "dd", "table", "caption", "figure", "figcaption", "address", "form", "hr"]


def _load_html(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Visible text: Markdown-style headings, '- ' list items, 'a | b' table rows, blank-line paragraphs."""
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(data, "html.parser")  # honours <meta charset>, else guesses the encoding
    page_title = _title(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    first_h1 = soup.find("h1")
    h1_title = _title(first_h1.get_text(" ")) if first_h1 else ""
    for string in list(soup.find_all(string=True)):  # source line breaks are just spaces
        if type(string) is NavigableString and string.find_parent("pre") is None:
            string.replace_with(re.sub(r"\s+", " ", string))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for heading in reversed(soup.find_all(re.compile(r"^h[1-6]$"))):  # innermost first: all still attached
        heading.string = "#" * int(heading.name[1]) + " " + _one_line(heading.get_text(" "))
    for tag in soup.find_all([*_HTML_BLOCKS, "h1", "h2", "h3", "h4", "h5", "h6"]):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    for row in reversed(soup.find_all("tr")):
        cells = [_one_line(cell.get_text(" ")) for cell in row.find_all(["td", "th"], recursive=False)]
        row.string = " | ".join(cells) if cells else _one_line(row.get_text(" "))
        row.insert_before("\n")
    for item in soup.find_all("li"):
        item.insert(0, "- ")
        item.insert_before("\n")
    text = "\n".join(line.strip() for line in soup.get_text().split("\n"))
    text = re.sub(r"^-\n+", "- ", re.sub(r"\n{3,}", "\n\n", text), flags=re.MULTILINE)  # <li><p>…
    return clean_text(text), page_title or h1_title, (), {}


def _decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (BOM allowed; UTF-16 with a BOM too), else cp1258, else latin-1 — if it is text at all.

    Binary means a NUL byte or more than 10% control bytes in the first 8 KB.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    head = data[:8192]
    if b"\x00" in head or sum(1 for b in head if (b < 32 and b not in b"\t\n\r\f") or b == 127) > len(head) / 10:
        raise LoadError(path, "looks like a binary file, not text (wrong extension?)")
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _load_txt(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    text = clean_text(_decode_text(path, data))
    return text, _first_line(text), (), {}


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)


def _load_markdown(path: Path, data: bytes) -> tuple[str, str, tuple, dict]:
    """Markdown as text; YAML front matter is removed from the text and returned as fields."""
    text, fields = clean_text(_decode_text(path, data)), {}
    if match := _FRONT_MATTER.match(text):
        try:
            parsed = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise LoadError(path, f"front matter is not valid YAML ({_cause(exc)}); fix it or remove it") from None
        if parsed is None or isinstance(parsed, dict):  # otherwise the '---' was a rule, not front matter
            fields, text = parsed or {}, text[match.end():].strip()
    heading = re.search(r"^# +(.+?)[ #]*$", text, re.MULTILINE)
    return text, _title(heading.group(1)) if heading else "", (), fields


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
                                  f"{max_bytes / _MB:.3g} MB (ASSISTANT_MAX_FILE_MB)")
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or _cause(exc)}") from None


def _read_sidecar(path: Path) -> dict:
    """Fields from ``<file name>.meta.json`` / ``.meta.yaml`` next to the file ({} if there is none)."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        if not sidecar.is_file():
            continue
        try:
            raw = sidecar.read_text(encoding="utf-8-sig")
            fields = json.loads(raw) if suffix == ".meta.json" else yaml.safe_load(raw)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise LoadError(path, f"sidecar {sidecar.name} is unreadable ({_cause(exc)}); fix it or remove it") from None
        if not isinstance(fields, dict):
            raise LoadError(path, f'sidecar {sidecar.name} must hold a mapping such as {{"access": "internal"}}')
        return fields
    return {}


def _access(path: Path, *values: object) -> str:
    """'internal' if any source says so (None = says nothing); other values are errors."""
    levels = {str(v).strip().lower(): v for v in values if v is not None}
    for level, value in levels.items():
        if level not in ACCESS_LEVELS:
            raise LoadError(path, f"access must be 'public' or 'internal', got {value!r}")
    return "internal" if "internal" in levels else "public"


def _language(*sources: dict) -> str | None:
    """The first ``language`` / ``lang`` given by front matter, a sidecar or record metadata."""
    values = (source.get("language") or source.get("lang") for source in sources)
    return next((str(v).strip().lower() for v in values if v), None)


def _plain(fields: dict) -> dict:
    """Extra front-matter/sidecar keys as JSON-safe metadata (scalars; dates as ISO text)."""
    honoured = {"title", "access", "language", "lang", "doc_id"}
    return {str(k): v.isoformat() if isinstance(v, datetime.date) else v for k, v in fields.items()
            if k not in honoured and isinstance(v, (str, int, float, bool, datetime.date))}


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
    data = _read_bytes(path, max_bytes)
    if not data.strip():
        raise LoadError(path, EMPTY)
    sidecar = _read_sidecar(path)
    relative = _relative(path, root)
    in_internal = any(part.lower() == "internal" for part in relative.parts[:-1])
    access = _access(path, "internal" if in_internal else None, sidecar.get("access"))
    try:
        if suffix == ".jsonl":
            return _load_jsonl(path, data, access, _language(sidecar))
        text, title, pages, fields = _LOADERS[suffix](path, data)
    except LoadError:
        raise
    except Exception as exc:  # a parser bug or a strange file must not stop ingest
        raise LoadError(path, f"could not read this {suffix} file: {type(exc).__name__}: {_cause(exc)}") from exc
    if not text:
        raise LoadError(path, EMPTY)
    doc_id = sidecar.get("doc_id") or fields.get("doc_id") or relative.as_posix()
    return [Document(
        doc_id=unicodedata.normalize("NFC", str(doc_id)),
        title=_title(sidecar.get("title")) or _title(fields.get("title")) or title or _title(path.stem),
        text=text,
        source=str(path),
        access=_access(path, access, fields.get("access")),
        language=_language(sidecar, fields) or detect_language(text),
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
        except ValueError as exc:
            raise LoadError(path, f"line {number}: not valid JSON ({_cause(exc)})") from None
        if not isinstance(record, dict) or record.get("_id") in (None, "") or not isinstance(record.get("text"), str):
            raise LoadError(path, f'line {number}: each line must be an object with "_id" and a string "text"')
        doc_id, metadata = str(record["_id"]), record.get("metadata") or {}
        if doc_id in first_seen:
            raise LoadError(path, f"line {number}: duplicate _id {doc_id!r} (first on line {first_seen[doc_id]})")
        if not isinstance(metadata, dict):
            raise LoadError(path, f'line {number}: "metadata" must be an object')
        first_seen[doc_id] = number
        if text := clean_text(record["text"]):  # a record with no text has nothing to retrieve
            documents.append(Document(
                doc_id=doc_id,
                title=_title(record.get("title")) or _title(doc_id),
                text=text,
                source=str(path),
                access=_access(path, access, metadata.get("access")),
                language=_language(metadata) or language or detect_language(text),
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
