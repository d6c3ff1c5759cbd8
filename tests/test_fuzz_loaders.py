"""Bad input, systematically: every loader, and a real ingest, fed broken and hostile files.

Inputs: valid seeds of every format (PDF written by pypdf and the bundled handbook PDF,
DOCX made by python-docx and the bundled one, HTML, Markdown with front matter, TXT,
BEIR JSONL), then
  * truncated at random points, corrupted (byte flips, insertions, deletions, repeats),
    stored under the wrong extension, re-encoded (UTF-16/32 with and without BOM,
    Latin-1, CP1258, invalid UTF-8, NUL bytes, mixed newlines), given garbage sidecars
    (Hypothesis, in this process);
  * hand-made nasty files: zip bombs (honest and with lying headers), PDFs claiming or
    holding thousands of pages, compression bombs in content streams, forms drawn
    thousands of times, font text-expansion bombs, 100k-deep HTML, 10k-deep JSON,
    YAML billion-laughs and merge-key bombs, huge tables, regex-backtracking bait,
    files over the size limit, a FIFO ... (run in a child process with an address-space
    limit and a timeout, so a regression fails the test instead of the machine).

Properties, for every file:
  * ``load_file`` returns documents or raises ``LoadError``, nothing else; the error is
    one line "<path>: <reason>", the reason says what to do (it has a '; <action>' or a
    'must'), and never is the catch-all "could not read this ... file" (an unclassified
    parser failure) nor a traceback;
  * at most ``BOUND_SECONDS`` (10 s) wall time and ``BOUND_RSS_MB`` (300 MB) peak-RSS
    growth per file (peak RSS is reset before each file through /proc/self/clear_refs);
  * through ``Ingestor.run``: one failure line per bad file, every good file ingested and
    found by lexical search, and a good file overwritten with garbage keeps its chunks.

The number of distinct bad inputs tried goes to test-artifacts/fuzz-loaders.json.
Hypothesis runs derandomized (the same inputs every run, so CI does not flake); more,
and new, inputs: FUZZ_LOADERS_SCALE=10 FUZZ_LOADERS_RANDOM=1. Coverage-guided
fuzzing of the same properties: tests/fuzz/atheris_loaders.py.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import unicodedata
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # when run as the worker script
    sys.path.insert(0, str(ROOT))

from assistant.loaders import SUPPORTED_SUFFIXES, LoadError, load_file  # noqa: E402

BOUND_SECONDS = 10.0     # wall time per file, on this slow shared 2-core box
BOUND_RSS_MB = 300.0     # peak RSS growth per file
HARD_STOP_SECONDS = 60   # in-process: a hang is cut here and reported (the bound above still fails it)
MAX_BYTES = 50 * 1024 * 1024  # ASSISTANT_MAX_FILE_MB's default
ARTIFACT = ROOT / "test-artifacts" / "fuzz-loaders.json"
_MB = 1024 * 1024

SCALE = float(os.environ.get("FUZZ_LOADERS_SCALE", "1"))
FUZZ = settings(deadline=None, derandomize=not os.environ.get("FUZZ_LOADERS_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


# ---------------------------------------------------------------- what was tried (for the closing note)

TRIED: dict[str, dict[str, str]] = {}   # family -> {input digest: outcome}


def _remember(family: str, suffix: str, data: bytes, sidecar: bytes | None, outcome: str) -> None:
    digest = hashlib.sha256(suffix.encode() + b"\0" + data + b"\0" + (sidecar or b"")).hexdigest()
    TRIED.setdefault(family, {})[digest] = outcome


# ---------------------------------------------------------------- measuring one load

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM (peak RSS) to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Hung(BaseException):  # not an Exception: load_file's catch-all must not swallow it
    pass


def _on_alarm(signum, frame):
    raise _Hung(f"still running after {HARD_STOP_SECONDS} s")


def measured_load(path: Path, root: Path, max_bytes: int | None = MAX_BYTES):
    """(documents or LoadError, seconds, peak RSS growth in MB); a hang is cut at HARD_STOP_SECONDS."""
    resettable = _reset_peak()
    before = _status_kb("VmRSS")
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HARD_STOP_SECONDS)
    started = time.perf_counter()
    try:
        result = load_file(path, root, max_bytes)
    except LoadError as exc:
        result = exc
    except _Hung as exc:
        pytest.fail(f"{path.name}: load_file hung ({exc})")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM") if resettable else _status_kb("VmRSS")
    return result, seconds, (peak - before) / 1024


def check_reason(path: Path, message: str, reason: str) -> None:
    """A LoadError as a person reads it in the ingest report."""
    assert message == f"{path}: {reason}", message
    assert reason.strip() and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message and len(reason) <= 600, message
    assert "could not read this" not in reason, f"unclassified parser failure: {message}"
    assert "; " in reason or " must " in reason, f"does not say what to do: {message}"


def check_documents(path: Path, docs) -> None:
    assert isinstance(docs, list) and docs, path
    for doc in docs:
        assert doc.text and unicodedata.is_normalized("NFC", doc.text), path
        assert "\x00" not in doc.text and "\r" not in doc.text, path
        assert "\n" not in doc.title and len(doc.title) <= 200, path
        assert doc.access in ("public", "internal")


def check_one(path: Path, root: Path, family: str, max_bytes: int | None = MAX_BYTES,
              sidecar: bytes | None = None) -> object:
    """Load one generated file and assert every property; returns the documents or the LoadError."""
    data = path.read_bytes() if path.is_file() else b""
    result, seconds, rss_mb = measured_load(path, root, max_bytes)
    if isinstance(result, LoadError):
        check_reason(path, str(result), result.reason)
        assert result.path == str(path)
        outcome = "refused"
    else:
        check_documents(path, result)
        outcome = "loaded"
    assert seconds <= BOUND_SECONDS, f"{path.name}: {seconds:.1f} s (bound {BOUND_SECONDS} s)"
    assert rss_mb <= BOUND_RSS_MB, f"{path.name}: RSS grew {rss_mb:.0f} MB (bound {BOUND_RSS_MB} MB)"
    _remember(family, path.suffix, data, sidecar, outcome)
    return result


# ---------------------------------------------------------------- valid seeds

HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Hướng dẫn thủ tục</title></head>
<body><nav>menu</nav><h1>Thủ tục đăng ký khai sinh</h1><p>Hồ sơ gồm tờ khai và giấy chứng sinh.</p>
<ul><li>Bước 1: nộp hồ sơ</li><li>Bước 2: nhận kết quả</li></ul>
<table><tr><th>Lệ phí</th><th>Thời hạn</th></tr><tr><td>0 đồng</td><td>1 ngày</td></tr></table>
<pre>  giữ   nguyên  </pre></body></html>"""

MARKDOWN = """---
title: Quy chế tiếp nhận hồ sơ
access: public
lang: vi
owner: Văn phòng
---
# Quy chế tiếp nhận hồ sơ

Điều 1. Hồ sơ được tiếp nhận trực tuyến qua Cổng Dịch vụ công.

| Bước | Việc | Thời hạn |
|------|------|----------|
| 1 | Tiếp nhận | 1 ngày |
"""

TEXT = "Thủ tục cấp bản sao trích lục\n\nLệ phí là 8.000 đồng một bản.\nThời hạn giải quyết: trong ngày.\n"

JSONL = "\n".join(json.dumps(r, ensure_ascii=False) for r in [
    {"_id": "r1", "title": "Điều 1", "text": "Phạm vi điều chỉnh của luật này.", "metadata": {"lang": "vi"}},
    {"_id": "r2", "title": "Article 2", "text": "Applications are processed in 3 days.", "metadata": {}},
    {"_id": "r3", "text": "Hồ sơ nộp trực tuyến."},
]) + "\n"


def _pdf_with_pypdf() -> bytes:
    """A text PDF written by pypdf's PdfWriter, content streams Flate-compressed."""
    from pypdf import PdfReader, PdfWriter

    from tests.test_loaders import make_pdf

    raw = make_pdf(["Civil service handbook\nChapter one: leave rules", "Page two: the fee is 8,000 VND"],
                   title="Fuzz seed PDF")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    for page in writer.pages:
        page.compress_content_streams()
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _docx_made() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Quy trình xử lý"
    document.add_heading("Quy trình xử lý phản ánh", level=1)
    document.add_paragraph("Bước 1: tiếp nhận phản ánh, kiến nghị.")
    table = document.add_table(rows=3, cols=3)
    for i in range(3):
        for j in range(3):
            table.cell(i, j).text = f"ô {i}{j}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(1, 2).merge(table.cell(2, 2))
    document.add_heading("Thời hạn", level=2)
    document.add_paragraph("Trả lời trong 10 ngày làm việc.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@functools.cache
def seeds() -> dict[str, tuple[str, bytes]]:
    """name -> (suffix, valid bytes)."""
    found = {
        "pdf-pypdf": (".pdf", _pdf_with_pypdf()),
        "pdf-handbook": (".pdf", (ROOT / "docs" / "civil-servant-handbook-ai-assistant.pdf").read_bytes()),
        "docx-made": (".docx", _docx_made()),
        "html": (".html", HTML.encode("utf-8")),
        "md": (".md", MARKDOWN.encode("utf-8")),
        "txt": (".txt", TEXT.encode("utf-8")),
        "jsonl": (".jsonl", JSONL.encode("utf-8")),
    }
    for path in sorted((ROOT / "docs").glob("*.docx"))[:1]:
        found["docx-docs"] = (".docx", path.read_bytes())
    return found


SEED_NAMES = ["pdf-pypdf", "pdf-handbook", "docx-made", "docx-docs", "html", "md", "txt", "jsonl"]
TEXT_SEEDS = {"html": HTML, "md": MARKDOWN, "txt": TEXT, "jsonl": JSONL}


def seed(name: str) -> tuple[str, bytes]:
    found = seeds()
    return found[name] if name in found else found["docx-made"]


_COUNTER = iter(range(10**9))


def write_case(folder: Path, name: str, suffix: str, data: bytes, sidecar: tuple[str, bytes] | None = None) -> Path:
    path = folder / f"{next(_COUNTER):05d}-{name}{suffix}"
    path.write_bytes(data)
    if sidecar is not None:
        path.with_name(path.name + sidecar[0]).write_bytes(sidecar[1])
    return path


def cleanup(path: Path) -> None:
    for p in (path, *(path.with_name(path.name + s) for s in (".meta.json", ".meta.yaml", ".meta.yml"))):
        p.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_seeds_are_valid(fuzz_dir):
    """The starting points load: every failure below comes from the damage done to them."""
    assert set(SEED_NAMES) <= set(seeds()) | {"docx-docs"}
    for name, (suffix, data) in seeds().items():
        path = write_case(fuzz_dir, name, suffix, data)
        result, seconds, _ = measured_load(path, fuzz_dir)
        assert not isinstance(result, LoadError), result
        check_documents(path, result)
        cleanup(path)


# ---------------------------------------------------------------- damage

def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, payload in edits:
        if not out:
            out += payload
            continue
        at = where % len(out)
        if kind == "flip":
            out[at] ^= payload[0] or 0xFF
        elif kind == "insert":
            out[at:at] = payload
        elif kind == "delete":
            del out[at:at + 1 + payload[0] * 4]
        elif kind == "repeat":
            out[at:at] = bytes(out[at:at + 1 + payload[0] * 8]) * (1 + payload[-1] % 8)
        elif kind == "zero":
            out[at:at + len(payload)] = bytes(len(out[at:at + len(payload)]))
    return bytes(out)


EDITS = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "repeat", "zero"]),
                           st.integers(0, 2**32), st.binary(min_size=1, max_size=24)), min_size=1, max_size=8)


@settings(FUZZ, max_examples=examples(400))
@given(name=st.sampled_from(SEED_NAMES), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files(fuzz_dir, name, cut):
    suffix, data = seed(name)
    path = write_case(fuzz_dir, "trunc-" + name, suffix, data[:int(len(data) * cut)])
    try:
        result = check_one(path, fuzz_dir, "truncated")
        if int(len(data) * cut) == 0:
            assert isinstance(result, LoadError) and "empty file" in result.reason
        if suffix == ".docx":  # a zip's directory is at its very end
            assert isinstance(result, LoadError)
    finally:
        cleanup(path)


@settings(FUZZ, max_examples=examples(800))
@given(name=st.sampled_from(SEED_NAMES), edits=EDITS)
def test_corrupted_files(fuzz_dir, name, edits):
    suffix, data = seed(name)
    path = write_case(fuzz_dir, "corrupt-" + name, suffix, mutate(data, edits))
    try:
        check_one(path, fuzz_dir, "corrupted")
    finally:
        cleanup(path)


ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1258",
             "invalid-utf8", "nul-bytes", "mixed-newlines", "utf-8-bom-twice", "lone-surrogates"]


def encode(text: str, how: str, where: int) -> bytes:
    if how == "cp1258":  # Vietnamese legacy code page: base letters (â ê ô ă ơ ư đ) + tone marks
        out = bytearray()
        for char in text:
            marks = unicodedata.normalize("NFD", char)
            tries = [(char, "")] + [(unicodedata.normalize("NFC", marks[0] + mark), marks[1:].replace(mark, ""))
                                    for mark in marks[1:]] + [(marks, "")]
            for base, rest in tries:
                try:
                    out += base.encode("cp1258") + rest.encode("cp1258")
                    break
                except UnicodeEncodeError:
                    continue
            else:
                out += b"?"
        return bytes(out)
    if how == "latin-1":
        return text.encode("latin-1", errors="replace")
    if how == "invalid-utf8":
        raw = text.encode("utf-8")
        at = where % (len(raw) + 1)
        return raw[:at] + b"\xff\xc3(\xe2\x82" + raw[at:]
    if how == "nul-bytes":
        raw = text.encode("utf-8")
        at = where % (len(raw) + 1)
        return raw[:at] + b"\x00" * (1 + where % 5) + raw[at:]
    if how == "mixed-newlines":
        parts = text.split("\n")
        seps = ["\r\n", "\r", "\n", "\u2028", "\x85", "\f"]
        return "".join(p + seps[(where + i) % len(seps)] for i, p in enumerate(parts)).encode("utf-8")
    if how == "utf-8-bom-twice":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode("utf-8")
    if how == "lone-surrogates":
        return b"\xff\xfe" + text.encode("utf-16-le") + b"\x00\xd8A\x00"  # a high surrogate with no low one
    return text.encode(how)


# Encodings a text file must be read in, not refused: the words come back.
WORDS = {"html": "đăng ký khai sinh", "md": "Cổng Dịch vụ công", "txt": "trích lục", "jsonl": "Phạm vi điều chỉnh"}
READABLE = {"utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1258", "mixed-newlines"}


@settings(FUZZ, max_examples=examples(300))
@given(name=st.sampled_from(sorted(TEXT_SEEDS)), how=st.sampled_from(ENCODINGS), where=st.integers(0, 10**6),
       suffix=st.sampled_from([None, ".txt", ".md", ".html", ".jsonl"]))
def test_wrongly_encoded_files(fuzz_dir, name, how, where, suffix):
    text = TEXT_SEEDS[name]
    suffix = suffix or seed(name)[0]
    path = write_case(fuzz_dir, f"enc-{how}-{name}", suffix, encode(text, how, where))
    try:
        result = check_one(path, fuzz_dir, "wrongly-encoded")
        if suffix in (".txt", ".md") and how in READABLE:  # read, not refused, and the words come back
            assert not isinstance(result, LoadError), result
            body = "\n".join(d.text + "\n" + d.title for d in result)
            assert WORDS[name] in body, (how, body[:300])
    finally:
        cleanup(path)


def _zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in files.items():
            package.writestr(name, content)
    return buffer.getvalue()


def mislabelled_contents() -> dict[str, bytes]:
    found = {name: data for name, (_, data) in seeds().items()}
    found.update({
        "random-binary": random.Random(5).randbytes(3000),
        "png": b"\x89PNG\r\n\x1a\n" + random.Random(6).randbytes(500),
        "plain-zip": _zip_of({"a.txt": b"hello", "b/c.xml": b"<x/>"}),
        "ole-doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
        "gzip": __import__("gzip").compress(TEXT.encode()),
        "jsonl-not-json": b"this is not json\n{broken\n",
        "json-array": b"[1, 2, 3]\n",
        "sqlite": b"SQLite format 3\x00" + bytes(200),
    })
    return found


BINARIES = {"random-binary", "png", "plain-zip", "ole-doc", "gzip", "sqlite", "docx-made", "docx-docs",
            "pdf-pypdf", "pdf-handbook"}


@settings(FUZZ, max_examples=examples(150))
@given(content=st.sampled_from(sorted(mislabelled_contents())), suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_mislabelled_files(fuzz_dir, content, suffix):
    data = mislabelled_contents()[content]
    if content in seeds() and seeds()[content][0] == suffix:
        suffix = ".docx" if suffix != ".docx" else ".pdf"  # only wrong labels here
    path = write_case(fuzz_dir, f"label-{content}", suffix, data)
    try:
        result = check_one(path, fuzz_dir, "mislabelled")
        if suffix in (".pdf", ".docx", ".jsonl") or (suffix in (".txt", ".md", ".markdown") and content in BINARIES):
            assert isinstance(result, LoadError), (content, suffix)
    finally:
        cleanup(path)


SIDECAR_GARBAGE = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"- a\n- b\n", b"42", b"null", b"{", b"access: [internal]", b"title: {a: 1}",
                     b"access: secret", b'{"access": ["internal"]}', b'{"title": {"x": 1}}', b"\xff\xfe\x00",
                     b"a: &x [1]\nb: [*x, *x]\naccess: *x", b"!!python/object:os.system {}", b"- *undefined",
                     b'{"doc_id": [1, 2]}', b"lang: {vi: 1}", b"[[[[[[[[[[", b"\x00\x00\x00"]),
)


@settings(FUZZ, max_examples=examples(250))
@given(kind=st.sampled_from([".meta.json", ".meta.yaml", ".meta.yml"]), garbage=SIDECAR_GARBAGE,
       name=st.sampled_from(["txt", "md", "pdf-pypdf", "jsonl"]))
def test_garbage_sidecars(fuzz_dir, kind, garbage, name):
    suffix, data = seed(name)
    path = write_case(fuzz_dir, f"sidecar-{name}", suffix, data, sidecar=(kind, garbage))
    try:
        check_one(path, fuzz_dir, "garbage-sidecar", sidecar=garbage)
    finally:
        cleanup(path)


# ---------------------------------------------------------------- hand-made nasty files

def raw_zip(members: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip written by hand: (name, method, stored payload, crc, declared uncompressed size) each."""
    out, central = bytearray(), bytearray()
    for name, method, payload, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), size, len(encoded), 0)
        out += encoded + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(payload), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def docx_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {info.filename: package.read(info) for info in package.infolist()}


def flate_bomb(head: bytes, unpacked_mb: int) -> bytes:
    """A zlib (PDF /FlateDecode) stream of ``head`` and then ``unpacked_mb`` MB of spaces, made in well under 1 s."""
    chunk = b" " * _MB
    c = zlib.compressobj(9)
    block = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    repeat = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()[:-4]  # the Adler-32 of what this compressor saw: replaced by that of the whole
    check = zlib.adler32(head)
    for _ in range(unpacked_mb):
        check = zlib.adler32(chunk, check)
    return block + repeat * unpacked_mb + end + struct.pack(">I", check)


def docx_bomb(unpacked_mb: int, declared: int | None = None) -> bytes:
    """A DOCX whose document.xml inflates to ``unpacked_mb`` MB (built in ~0.3 s: one block, repeated).

    With ``declared``, the headers claim only that many bytes (and the CRC of them).
    """
    members = docx_members(_docx_made())
    xml = members.pop("word/document.xml")
    head, tail = xml.split(b"<w:body>", 1)
    head += b"<w:body>"
    chunk = b"<w:p><w:r><w:t>bomb text bomb text</w:t></w:r></w:p>" * 20000  # ~1 MB
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)  # the dictionary is reset: every copy is the same
    last = c.compress(tail) + c.flush()
    copies = unpacked_mb * _MB // len(chunk)
    payload = first + block * copies + last
    crc = zlib.crc32(head)
    for _ in range(copies):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + copies * len(chunk) + len(tail)
    if declared is not None:
        crc, size = zlib.crc32((head + chunk * 2)[:declared]), declared
    entries = [(n, 8, _deflate(d), zlib.crc32(d), len(d)) for n, d in members.items()]
    entries.insert(1, ("word/document.xml", 8, payload, crc, size))
    return raw_zip(entries)


def docx_with(body: bytes | None = None, replace: dict[str, bytes] | None = None, extra: int = 0) -> bytes:
    """The seed DOCX with its body (or whole members) replaced, plus ``extra`` empty members."""
    members = docx_members(_docx_made())
    if body is not None:
        xml = members["word/document.xml"]
        head, rest = xml.split(b"<w:body>", 1)
        members["word/document.xml"] = head + b"<w:body>" + body + b"<w:sectPr/></w:body></w:document>"
    members.update(replace or {})
    entries = [(n, 8, _deflate(d), zlib.crc32(d), len(d)) for n, d in members.items()]
    entries += [(f"customXml/x{i}.bin", 0, b"", 0, 0) for i in range(extra)]
    return raw_zip(entries)


def docx_bzip2() -> bytes:
    members = docx_members(_docx_made())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in members.items():
            package.writestr(name, content, compress_type=zipfile.ZIP_BZIP2 if name == "word/document.xml"
                             else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies (object 1 is the catalog)."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, flate: bool = True, extra: bytes = b"") -> bytes:
    if flate:
        data, extra = zlib.compress(data, 9), extra + b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
HELLO = b"BT /F1 12 Tf 72 720 Td (Hello from a hostile PDF) Tj ET"


def page(contents: int, xobjects: bytes = b"", parent: int = 2) -> bytes:
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> %s >> "
            b"/Contents %d 0 R >>" % (parent, xobjects, contents))


def pdf_pages(count: int, content: bytes) -> bytes:
    """``count`` pages all drawing the same (shared) content stream (object 4)."""
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(count))
    return pdf([CATALOG, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count), FONT, stream(content)]
               + [page(4)] * count)


def pdf_one_page(content: bytes, flate: bool = True) -> bytes:
    return pdf([CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, page(5), stream(content, flate)])


def pdf_tree_dag(levels: int, fanout: int) -> bytes:
    """A page tree whose every level lists the next one ``fanout`` times: fanout**levels pages from a few objects."""
    objects = [CATALOG, b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", FONT, page(5, parent=6), stream(HELLO)]
    for i in range(levels):
        kid = 7 + i if i < levels - 1 else 4
        objects.append(b"<< /Type /Pages /Kids [%s] /Count 1 >>" % b" ".join([b"%d 0 R" % kid] * fanout))
    return pdf(objects)


def pdf_forms(draws: int, form_mb: float, nested: int = 0) -> bytes:
    """A page drawing a form ``draws`` times; with ``nested``, forms drawing the next form 10 times each."""
    res = b"/Resources << /Font << /F1 3 0 R >> %s >>"
    objects = [CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT,
               page(5, b"/XObject << /Fm0 6 0 R >>"), stream(b"/Fm0 Do " * draws)]
    for level in range(nested + 1):
        inner = b"/XObject << /Fm0 %d 0 R >>" % (7 + level) if level < nested else b""
        body = b"/Fm0 Do " * 10 if level < nested else b"BT /F1 12 Tf 72 720 Td (" + b"a" * int(form_mb * _MB) + b") Tj ET"
        objects.append(stream(body, True, b" /Type /XObject /Subtype /Form /BBox [0 0 612 792] " + res % inner))
    return pdf(objects)


def pdf_text_expansion(chars_per_code: int, codes: int) -> bytes:
    """A font whose /ToUnicode maps byte 'a' to ``chars_per_code`` characters, shown ``codes`` times."""
    target = b"".join(b"%04X" % (0x41 + i % 26) for i in range(chars_per_code))
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00> <FF> "
            b"endcodespacerange\n1 beginbfchar\n<61> <" + target + b">\nendbfchar\nendcmap end end")
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>"
    return pdf([CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", font, page(5),
                stream(b"BT /F1 12 Tf 72 720 Td (" + b"a" * codes + b") Tj ET"), stream(cmap)])


def pdf_reference_chain(length: int) -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R /Chain 6 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               FONT, page(5), stream(HELLO)]
    objects += [b"%d 0 R" % (7 + i) for i in range(length)] + [b"null"]
    return pdf(objects)


def yaml_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines)


def yaml_merge_bomb(levels: int = 8) -> str:
    lines = ["m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8, k8: 9, k9: 10}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i}\n  <<: [{', '.join([f'*m{i - 1}'] * 10)}]\n  own{i}: x")
    return "\n".join(lines)


def nasty_cases(folder: Path) -> list[dict]:
    """Each: name, path, expect ('error' | 'ok' | 'either'), and words the reason must contain."""
    cases = []

    def add(name: str, suffix: str, data: bytes | None, expect: str, phrase: str = "",
            sidecar: tuple[str, bytes] | None = None, max_bytes: int | None = MAX_BYTES):
        path = folder / f"{name}{suffix}"
        if data is not None:
            path.write_bytes(data)
        if sidecar is not None:
            path.with_name(path.name + sidecar[0]).write_bytes(sidecar[1])
        cases.append({"name": name, "path": str(path), "root": str(folder), "expect": expect, "phrase": phrase,
                      "max_bytes": max_bytes})

    good_text = TEXT.encode()
    # -- over the size limit: refused from the file size alone (a sparse file: nothing to read)
    for suffix in (".pdf", ".docx", ".txt"):
        with open(folder / f"huge-200mb-{suffix[1:]}{suffix}", "wb") as fh:
            fh.truncate(200 * _MB)
        add(f"huge-200mb-{suffix[1:]}", suffix, None, "error", "over the limit")
    add("just-over-limit", ".md", b"# t\n\n" + b"x" * 4096, "error", "over the limit", max_bytes=4000)
    fifo = folder / "fifo.txt"
    os.mkfifo(fifo)
    add("fifo", ".txt", None, "error", "not a regular file")
    for suffix in SUPPORTED_SUFFIXES:
        add(f"zero-byte-{suffix[1:]}", suffix, b"", "error", "empty file")
    add("whitespace-only", ".txt", b" \t\r\n \x0c\n", "error", "empty file")
    # -- DOCX
    add("docx-zip-bomb-400mb", ".docx", docx_bomb(400), "error", "unpacks to more than")
    add("docx-zip-bomb-lying-sizes", ".docx", docx_bomb(400, declared=4096), "error", "DOCX")
    add("docx-20k-parts", ".docx", docx_with(extra=20_000), "error", "parts")
    add("docx-bzip2-member", ".docx", docx_bzip2(), "error", "compression method")
    add("docx-gridspan-billion", ".docx", docx_with(
        b"<w:tbl><w:tblGrid><w:gridCol/></w:tblGrid><w:tr><w:tc><w:tcPr><w:gridSpan w:val=\"1000000000\"/></w:tcPr>"
        b"<w:p><w:r><w:t>wide cell</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>next</w:t></w:r></w:p></w:tc>"
        b"</w:tr></w:tbl>"), "ok")
    rows = b"".join(b"<w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc><w:tc><w:p><w:r><w:t>row %d</w:t></w:r>"
                    b"</w:p></w:tc></w:tr>" % i for i in range(3000))
    add("docx-vmerge-3000-rows", ".docx", docx_with(
        b"<w:tbl><w:tr><w:tc><w:tcPr><w:vMerge w:val=\"restart\"/></w:tcPr><w:p><w:r><w:t>merged</w:t></w:r></w:p>"
        b"</w:tc><w:tc><w:p><w:r><w:t>top</w:t></w:r></w:p></w:tc></w:tr>" + rows + b"</w:tbl>"), "ok")
    add("docx-xml-nested-100k", ".docx", docx_with(b"<w:p>" + b"<w:r>" * 100_000 + b"</w:r>" * 100_000 + b"</w:p>"),
        "either")
    entity_bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                   + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                              for i in range(1, 10))
                   + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                     b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    add("docx-xml-entity-bomb", ".docx", docx_with(replace={"word/document.xml": entity_bomb}), "either")
    styles = b"".join(b'<w:style w:type="paragraph" w:styleId="S%d"><w:name w:val="Style %d"/></w:style>' % (i, i)
                      for i in range(20_000))
    members = docx_members(_docx_made())
    add("docx-20k-styles-20k-paragraphs", ".docx", docx_with(
        b"".join(b'<w:p><w:pPr><w:pStyle w:val="S%d"/></w:pPr><w:r><w:t>para %d</w:t></w:r></w:p>' % (i, i)
                 for i in range(20_000)),
        replace={"word/styles.xml": members["word/styles.xml"].replace(b"</w:styles>", styles + b"</w:styles>")}),
        "ok")
    add("pdf-named-docx", ".docx", seed("pdf-pypdf")[1], "error", "not a zip package")
    # -- PDF
    add("pdf-claims-9999999-pages", ".pdf", pdf([CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 9999999 >>", FONT,
                                                  page(5), stream(HELLO)]), "ok")
    add("pdf-page-tree-dag-10e8", ".pdf", pdf_tree_dag(8, 10), "error", "5,000 pages")
    add("pdf-page-tree-cycle", ".pdf", pdf([CATALOG, b"<< /Type /Pages /Kids [2 0 R 4 0 R] /Count 2 >>", FONT,
                                             page(5), stream(HELLO)]), "either")
    add("pdf-6000-pages", ".pdf", pdf_pages(6000, HELLO), "error", "5,000 pages")
    bomb = flate_bomb(HELLO, 300)
    add("pdf-content-bomb-300mb", ".pdf", pdf([CATALOG, b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", FONT, page(5),
                                                b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
                                                % (len(bomb), bomb)]), "error", "PDF")
    add("pdf-one-string-60mb", ".pdf", pdf_one_page(b"BT /F1 12 Tf 72 720 Td (" + b"a" * (60 * _MB) + b") Tj ET"),
        "error", "unpacks to over")
    add("pdf-200-pages-share-1mb-content", ".pdf",
        pdf_pages(200, b"BT /F1 12 Tf 72 720 Td (" + b"a" * _MB + b") Tj ET"), "error", "unpacks to over")
    add("pdf-form-drawn-2000-times", ".pdf", pdf_forms(2000, 1), "error", "unpacks to over")
    add("pdf-forms-nested-10-deep", ".pdf", pdf_forms(10, 0.001, nested=10), "error", "unpacks to over")
    add("pdf-tounicode-expansion", ".pdf", pdf_text_expansion(250, 100_000), "error", "unpacks to over")
    add("pdf-nested-arrays-object", ".pdf", pdf([b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 100_000
                                                  + b"]" * 100_000 + b" >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                                                  FONT, page(5), stream(HELLO)]), "either")
    add("pdf-nested-arrays-content", ".pdf", pdf_one_page(HELLO + b" " + b"[" * 100_000 + b"]" * 100_000), "either")
    add("pdf-nested-dicts-content", ".pdf", pdf_one_page(HELLO + b" " + b"<<" * 50_000 + b">>" * 50_000), "either")
    add("pdf-reference-chain-100k", ".pdf", pdf_reference_chain(100_000), "either")
    add("zip-named-pdf", ".pdf", _zip_of({"a.txt": b"x"}), "error", "not a readable PDF")
    # -- HTML
    add("html-100k-nested-div", ".html", b"<div>" * 100_000 + b"deep text" + b"</div>" * 100_000, "ok")
    add("html-50k-paragraphs", ".html", b"<p>para text</p>" * 50_000, "ok")
    add("html-1m-tags", ".html", b"<b>" * 1_000_000 + b"x", "error", "tags")
    add("html-5000-nested-tables", ".html", b"<table><tr><td>cell" * 5000 + b"</td></tr></table>" * 5000, "ok")
    add("html-20k-nested-headings", ".html", b"<h2>head " * 20_000 + b"</h2>" * 20_000, "ok")
    add("html-20k-unclosed-li-p", ".html", b"<ul>" + b"<li><p>item text" * 20_000, "ok")
    add("html-named-md", ".md", HTML.encode(), "ok")
    # html.parser searches to the end of the page for each of these (quadratic before Python 3.13.4)
    for name, chunk, count in [("unclosed-comments", b"<!--", 50_000), ("unclosed-comments-gt", b"<!-- a > ", 50_000),
                               ("end-tag-opens", b"</", 100_000), ("start-tag-opens", b"<a", 100_000),
                               ("pi-opens", b"<?", 100_000), ("marked-section-opens", b"<![", 100_000),
                               ("cdata-opens-gt", b"<![CDATA[ > ", 50_000), ("quote-opens", b"<a x='", 100_000),
                               ("script-comment-opens", b"<script>" + b"<!-- " * 50_000 + b"</script><p>after", 1)]:
        add(f"html-{name}", ".html", b"<p>start</p>" + chunk * count, "either")
    # -- JSONL
    add("jsonl-10k-deep", ".jsonl", b'{"_id": "x", "text": "t", "metadata": {"m": ' + b"[" * 10_000 + b"]" * 10_000
        + b"}}\n", "error", "nested too deeply")
    add("jsonl-not-json", ".jsonl", b"plain text, not JSON\n", "error", "not valid JSON")
    add("jsonl-50k-records", ".jsonl", b"".join(b'{"_id": "%d", "text": "record %d"}\n' % (i, i)
                                                for i in range(50_000)), "ok")
    add("jsonl-utf16", ".jsonl", JSONL.encode("utf-16"), "error", "UTF-8")
    # -- Markdown / YAML front matter / sidecars
    laughs = yaml_laughs()
    add("md-billion-laughs-title", ".md", f"---\n{laughs}\ntitle: *a8\n---\n# Body\n\ntext\n".encode(), "error",
        "single value")
    add("md-billion-laughs-unused", ".md", f"---\n{laughs}\nlol: *a8\n---\n# Body\n\ntext\n".encode(), "ok")
    add("md-many-aliases", ".md", ("---\na: &a x\nb: [" + ", ".join(["*a"] * 500) + "]\n---\nbody\n").encode(),
        "error", "aliases")
    add("md-merge-key-bomb", ".md", f"---\n{yaml_merge_bomb()}\n---\nbody\n".encode(), "error", "merges")
    add("md-yaml-10k-deep", ".md", b"---\nx: " + b"[" * 10_000 + b"]" * 10_000 + b"\n---\nbody\n", "error",
        "nested more than")
    add("md-front-matter-1mb", ".md", b"---\n" + b"k: v\n" * 250_000 + b"---\nbody\n", "error", "over 64 KB")
    table = "| " + " | ".join(f"c{i}" for i in range(12)) + " |\n|" + "---|" * 12 + "\n"
    table += "".join("| " + " | ".join(f"r{r}c{c}" for c in range(12)) + " |\n" for r in range(20_000))
    add("md-huge-table", ".md", f"# Bảng\n\n{table}".encode(), "ok")
    add("md-heading-backtracking", ".md", b"# a" + b" #" * 200_000 + b"x\n\nbody\n", "ok")
    add("txt-2mb-space-run", ".txt", b"a" + b" " * (2 * _MB) + b"b\n", "ok")
    add("txt-1m-short-lines", ".txt", b"d\xc3\xb2ng\r\n" * 1_000_000, "ok")
    add("sidecar-billion-laughs-access", ".txt", good_text, "error", "single value",
        sidecar=(".meta.yaml", f"{laughs}\naccess: *a8\n".encode()))
    add("sidecar-10mb", ".txt", good_text, "error", "over 64 KB", sidecar=(".meta.json", b" " * (10 * _MB) + b"{}"))
    add("sidecar-json-30k-deep", ".txt", good_text, "error", "nested too deeply",
        sidecar=(".meta.json", b"[" * 30_000 + b"]" * 30_000))
    add("sidecar-binary", ".txt", good_text, "error", "sidecar", sidecar=(".meta.yaml", bytes(range(256)) * 4))
    add("binary-named-txt", ".txt", random.Random(9).randbytes(5000), "error", "binary")
    return cases


WORKER_LIMIT_MB = 1536  # address space the child may add beyond what its imports take


def _worker(manifest: str) -> None:
    """Child process: load each case with the address space capped; one JSON line per step, flushed."""
    import resource

    import bs4  # noqa: F401  (imports are not part of any case's cost)
    import docx  # noqa: F401
    import pypdf  # noqa: F401

    resource.setrlimit(resource.RLIMIT_AS, ((_status_kb("VmSize") * 1024) + WORKER_LIMIT_MB * _MB,
                                            resource.RLIM_INFINITY))
    for case in json.loads(Path(manifest).read_text()):
        print(json.dumps({"start": case["name"]}), flush=True)
        _reset_peak()
        before = _status_kb("VmRSS")
        started = time.perf_counter()
        try:
            docs = load_file(Path(case["path"]), Path(case["root"]), case["max_bytes"])
            result = {"documents": len(docs), "chars": sum(len(d.text) for d in docs),
                      "bad_documents": [d.doc_id for d in docs if not d.text or "\x00" in d.text][:3]}
        except LoadError as exc:
            result = {"error": str(exc), "reason": exc.reason, "error_path": exc.path}
        except BaseException as exc:  # noqa: BLE001 - exactly what must not happen
            result = {"crash": f"{type(exc).__name__}: {exc}"[:500]}
        result.update(seconds=time.perf_counter() - started, rss_mb=(_status_kb("VmHWM") - before) / 1024)
        print(json.dumps({"done": case["name"], **result}), flush=True)


def test_nasty_files_in_a_capped_child_process(tmp_path):
    cases = nasty_cases(tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(cases))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        run = subprocess.run([sys.executable, __file__, "--fuzz-worker", str(manifest)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=240)
        stdout, crashed = run.stdout, run.returncode != 0 and run.stderr[-2000:]
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        crashed = "timed out"
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    done = {line["done"]: line for line in lines if "done" in line}
    started = [line["start"] for line in lines if "start" in line]
    unfinished = [name for name in started if name not in done]
    assert not unfinished and not crashed, f"worker died in {unfinished} ({crashed})"
    problems = []
    for case in cases:
        got, name = done.get(case["name"]), case["name"]
        if got is None:
            problems.append(f"{name}: never run")
            continue
        path = Path(case["path"])
        if "crash" in got:
            problems.append(f"{name}: raised {got['crash']}")
        elif "error" in got:
            try:
                check_reason(path, got["error"], got["reason"])
                assert got["error_path"] == str(path)
            except AssertionError as exc:
                problems.append(f"{name}: {exc}")
            if case["expect"] == "ok":
                problems.append(f"{name}: refused ({got['reason']}) but should load")
            if case["phrase"] and case["phrase"] not in got["reason"]:
                problems.append(f"{name}: reason lacks {case['phrase']!r}: {got['reason']}")
        else:
            if case["expect"] == "error":
                problems.append(f"{name}: loaded {got['documents']} documents but should be refused")
            if got["bad_documents"]:
                problems.append(f"{name}: documents with bad text {got['bad_documents']}")
        if got["seconds"] > BOUND_SECONDS:
            problems.append(f"{name}: {got['seconds']:.1f} s (bound {BOUND_SECONDS} s)")
        if got["rss_mb"] > BOUND_RSS_MB:
            problems.append(f"{name}: RSS grew {got['rss_mb']:.0f} MB (bound {BOUND_RSS_MB} MB)")
        if case["name"].startswith("huge-") and (got["seconds"] > 0.5 or got["rss_mb"] > 20):
            problems.append(f"{name}: an over-limit file was read ({got['seconds']:.2f} s, {got['rss_mb']:.0f} MB)")
        outcome = "refused" if "error" in got else "loaded"
        _remember("hand-made", path.suffix, f"{name}:{path.stat().st_size if path.is_file() else 0}".encode(), None,
                  outcome)
    NASTY_REPORT[:] = [{"name": n, **{k: v for k, v in done.get(n, {}).items() if k != "done"}}
                       for n in (c["name"] for c in cases)]
    assert not problems, "\n".join(problems)


NASTY_REPORT: list[dict] = []


# ---------------------------------------------------------------- through a real ingest

GOOD = {
    "good-guide.md": "# Hướng dẫn nộp hồ sơ\n\nMã kiểm tra zebulonquokka: nộp hồ sơ qua Cổng Dịch vụ công.\n",
    "good-fees.txt": "Lệ phí\n\nMã kiểm tra xylophanthus: lệ phí cấp bản sao là 8.000 đồng.\n",
    "good-page.html": "<html><head><title>Trang</title></head><body><h1>Thời hạn</h1>"
                      "<p>Mã kiểm tra quintessorbit: giải quyết trong 3 ngày.</p></body></html>",
}
MARKERS = {"good-guide.md": "zebulonquokka", "good-fees.txt": "xylophanthus", "good-page.html": "quintessorbit"}


def bad_batch(folder: Path) -> list[str]:
    """~30 bad files (generated damage that load_file refuses, plus hand-made ones); their names."""
    rng = random.Random(20240611)
    names: list[str] = []

    def put(name: str, data: bytes, sidecar: tuple[str, bytes] | None = None) -> None:
        path = folder / name
        path.write_bytes(data)
        if sidecar:
            path.with_name(path.name + sidecar[0]).write_bytes(sidecar[1])
        try:
            load_file(path, folder, 2 * _MB)
        except LoadError:
            names.append(name)
            _remember("ingest-batch", path.suffix, data, sidecar[1] if sidecar else None, "refused")
            return
        cleanup(path)  # this piece of damage happened to leave a readable file: not a bad file

    attempts = 0
    while len(names) < 20 and attempts < 200:
        attempts += 1
        seed_name = rng.choice(SEED_NAMES)
        suffix, data = seed(seed_name)
        if rng.random() < 0.5:
            put(f"bad-trunc-{attempts}-{seed_name}{suffix}", data[:rng.randrange(len(data))])
        else:
            edits = [(rng.choice(["flip", "insert", "delete", "repeat", "zero"]), rng.randrange(2**32),
                      rng.randbytes(rng.randint(1, 24))) for _ in range(rng.randint(1, 8))]
            put(f"bad-corrupt-{attempts}-{seed_name}{suffix}", mutate(data, edits))
    put("bad-zero.pdf", b"")
    put("bad-binary.txt", rng.randbytes(4000))
    put("bad-pdf-as.docx", seed("pdf-pypdf")[1])
    put("bad-zip-as.pdf", _zip_of({"a.txt": b"x"}))
    put("bad-not-json.jsonl", b"not json at all\n")
    put("bad-utf16.jsonl", JSONL.encode("utf-16"))
    put("bad-sidecar.txt", TEXT.encode(), sidecar=(".meta.json", b"{not json"))
    put("bad-zip-bomb.docx", docx_bomb(120))
    put("bad-laughs.md", f"---\n{yaml_laughs()}\ntitle: *a8\n---\nbody\n".encode())
    put("bad-deep.jsonl", b'{"_id": "x", "text": ' + b"[" * 5000 + b"]" * 5000 + b"}\n")
    with open(folder / "bad-huge.txt", "wb") as fh:
        fh.truncate(3 * _MB)  # over the 2 MB limit of this ingest
    put_huge = folder / "bad-huge.txt"
    assert put_huge.stat().st_size > 2 * _MB
    names.append("bad-huge.txt")
    return names


def test_ingest_reports_each_bad_file_once_and_keeps_the_good(tmp_path, embedder):
    from assistant.ingestion import Ingestor
    from assistant.settings import Settings
    from assistant.store import Store

    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
    bad = bad_batch(folder)
    assert len(bad) >= 25, bad
    settings = Settings.from_env(env={}, store_dir=tmp_path / "store", data_dir=tmp_path / "data", max_file_mb=2)

    def run():
        store = Store(settings, embedder.name, embedder.dimension)
        started = time.perf_counter()
        report = Ingestor(settings, embedder, store, progress=False, warn=lambda line: None).run([folder])
        return report, store, time.perf_counter() - started

    def found(store, name: str) -> bool:
        hits = store.get_chunks([cid for cid, _ in store.lexical_search(MARKERS[name], 3)])
        return any(c.doc_id == name and MARKERS[name] in c.text for c in hits.values())

    report, store, seconds = run()
    failed = Counter(Path(f.path).name for f in report.failed)
    assert failed == Counter(bad), (set(failed) ^ set(bad), [n for n, c in failed.items() if c > 1])
    for failure in report.failed:
        check_reason(Path(failure.path), f"{failure.path}: {failure.error}", failure.error)
    assert report.added == len(GOOD), report
    assert all(found(store, name) for name in GOOD)
    store.close()

    # A good file turns into garbage: reported, and what was stored for it still answers.
    (folder / "good-fees.txt").write_bytes(b"\x00\x01\x02garbage" * 500)
    report, store, _ = run()
    failed = Counter(Path(f.path).name for f in report.failed)
    assert failed == Counter(bad + ["good-fees.txt"])
    assert report.unchanged == len(GOOD) - 1 and report.added == 0
    assert all(found(store, name) for name in GOOD), "the old chunks of good-fees.txt are still served"
    store.close()
    _remember("ingest-batch", ".txt", (folder / "good-fees.txt").read_bytes(), None, "refused")
    INGEST_REPORT.update(bad_files=len(bad), first_run_seconds=round(seconds, 1))


INGEST_REPORT: dict = {}


# ---------------------------------------------------------------- the number for the closing note

def test_write_fuzz_report():
    """Last in the file: how many distinct bad inputs were tried, to test-artifacts/fuzz-loaders.json."""
    families = {family: {"distinct": len(seen), **Counter(seen.values())} for family, seen in sorted(TRIED.items())}
    digests = set().union(*(seen.keys() for seen in TRIED.values())) if TRIED else set()
    report = {
        "distinct_bad_inputs": len(digests),
        "by_family": families,
        "bounds": {"seconds_per_file": BOUND_SECONDS, "rss_growth_mb_per_file": BOUND_RSS_MB},
        "hypothesis": {"scale": SCALE, "derandomized": not os.environ.get("FUZZ_LOADERS_RANDOM")},
        "hand_made": NASTY_REPORT,
        "ingest": INGEST_REPORT,
    }
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nfuzz-loaders: {len(digests)} distinct bad inputs tried -> {ARTIFACT}")
    assert len(digests) > 0


if __name__ == "__main__" and sys.argv[1:2] == ["--fuzz-worker"]:
    _worker(sys.argv[2])
