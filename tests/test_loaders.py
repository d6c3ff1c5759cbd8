"""Tests for assistant.loaders: every fixture is a real file made in tmp_path with the real libraries."""

from __future__ import annotations

import io
import json
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import loaders
from assistant.loaders import (
    SUPPORTED_SUFFIXES,
    LoadError,
    detect_language,
    fold_diacritics,
    iter_source_files,
    load_file,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
GOV_PDFS = SHARED / "benchmarks" / "gov-pdfs" / "documents"


# ---------------------------------------------------------------- fixture builders

def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text object per page (lines split on '\\n')."""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    n = len(pages)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, text in enumerate(pages):
        shows = " ".join(f"({esc(line)}) Tj T*" for line in text.split("\n")) if text else ""
        ops = f"BT /F1 12 Tf 14 TL 72 720 Td {shows} ET" if text else ""
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(ops.encode('latin-1'))} >>\nstream\n{ops}\nendstream")
    if title is not None:
        objects.append(f"<< /Title ({esc(title)}) >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    info = f" /Info {len(objects)} 0 R" if title is not None else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def load_one(path: Path, root: Path | None = None):
    docs = load_file(path, root)
    assert len(docs) == 1
    return docs[0]


def assert_one_line_error(excinfo, path: Path, *phrases: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert excinfo.value.path == str(path)
    for phrase in phrases:
        assert phrase in message


# ---------------------------------------------------------------- PDF

def test_pdf_keeps_page_numbers(tmp_path):
    pages = ["Annual report\nIntroduction text", "Second page body", "The fee schedule is on page three"]
    path = write(tmp_path / "reports" / "annual.pdf", make_pdf(pages, title="Annual Report 2024"))
    doc = load_one(path, tmp_path)
    assert doc.doc_id == "reports/annual.pdf"
    assert doc.title == "Annual Report 2024"
    assert doc.source == str(path)
    assert [span.page for span in doc.pages] == [1, 2, 3]
    assert [span.start for span in doc.pages] == sorted(span.start for span in doc.pages)
    offset = doc.text.index("fee schedule")
    assert doc.page_at(offset) == 3
    assert doc.page_at(doc.text.index("Second page")) == 2
    assert doc.page_at(0) == 1
    for span, page_text in zip(doc.pages, pages):
        assert doc.text[span.start:].startswith(page_text.split("\n")[0])
    assert doc.language == "en"


def test_pdf_title_falls_back_to_first_line_and_skips_blank_pages(tmp_path):
    path = write(tmp_path / "memo.pdf", make_pdf(["Memo on leave", "", "Last page"]))
    doc = load_one(path)
    assert doc.doc_id == "memo.pdf"
    assert doc.title == "Memo on leave"
    assert [span.page for span in doc.pages] == [1, 3]
    assert doc.page_at(doc.text.index("Last page")) == 3


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path):
    path = write(tmp_path / "open.pdf", encrypt_pdf(make_pdf(["Readable secret text"]), ""))
    assert "Readable secret text" in load_one(path).text


def test_pdf_encrypted_with_password_fails_clearly(tmp_path):
    path = write(tmp_path / "locked.pdf", encrypt_pdf(make_pdf(["Hidden"]), "s3cret"))
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "encrypted PDF: needs a password", "qpdf --decrypt")


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.4\nthis is not really a pdf at all\n%%EOF\n",
        make_pdf(["Some text here", "more"])[:150],
        b"<html>not a pdf</html>",
    ],
    ids=["garbage", "truncated", "wrong-format"],
)
def test_pdf_corrupt_fails_clearly(tmp_path, content):
    path = write(tmp_path / "broken.pdf", content)
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "not a readable PDF (corrupt or truncated): ")


def test_pdf_quirks_are_recovered_quietly(tmp_path, caplog, capsys, recwarn):
    import re

    quirky = re.sub(rb"startxref\n\d+", b"startxref\n12", make_pdf(["Recovered text"]))  # wrong xref pointer
    path = write(tmp_path / "quirky.pdf", quirky)
    with caplog.at_level("DEBUG"):
        assert "Recovered text" in load_one(path).text
    assert not [r for r in caplog.records if r.name.startswith("pypdf") and r.levelno >= 30]
    assert capsys.readouterr().err == ""
    assert not [w for w in recwarn if "pypdf" in str(w.filename)]


def test_pdf_without_text_asks_for_ocr(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = write(tmp_path / "scan.pdf", buffer.getvalue())
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "no extractable text (scanned images?); run OCR first")


@pytest.mark.skipif(not GOV_PDFS.is_dir(), reason=f"benchmark PDFs not present at {GOV_PDFS} (../shared absent)")
def test_real_government_pdf():
    path = GOV_PDFS / "Home_Affairs.pdf"
    doc = load_one(path, GOV_PDFS)
    assert doc.doc_id == "Home_Affairs.pdf"  # the qrels corpus-id
    assert doc.title.startswith("Policy documents")
    numbers = [span.page for span in doc.pages]
    assert len(numbers) >= 10
    assert numbers == sorted(set(numbers))
    assert [s.start for s in doc.pages] == sorted(s.start for s in doc.pages)
    offset = doc.text.index("Page 3 of 16")
    assert doc.page_at(offset) == 3
    assert doc.language == "en"
    assert unicodedata.is_normalized("NFC", doc.text)


# ---------------------------------------------------------------- DOCX

def test_docx_headings_paragraphs_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Quy định nghỉ phép", level=1)
    document.add_paragraph("Nhân viên được nghỉ 12 ngày mỗi năm.")
    document.add_heading("Thủ tục", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Loại", "Số ngày"
    table.cell(1, 0).text, table.cell(1, 1).text = "Phép năm", "12"
    document.add_paragraph("Đoạn cuối.")
    path = tmp_path / "leave.docx"
    document.save(path)

    doc = load_one(path, tmp_path)
    assert doc.title == "Quy định nghỉ phép"
    lines = doc.text.split("\n")
    assert "# Quy định nghỉ phép" in lines
    assert "## Thủ tục" in lines
    assert "Loại | Số ngày" in lines and "Phép năm | 12" in lines
    assert lines.index("Loại | Số ngày") + 1 == lines.index("Phép năm | 12")
    assert doc.text.index("Thủ tục") < doc.text.index("Phép năm") < doc.text.index("Đoạn cuối")
    assert doc.language == "vi"


def test_docx_merged_cells_appear_once(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Merged header"
    table.cell(0, 2).text = "Other"
    for i, value in enumerate(["0", "0", "x"]):
        table.cell(1, i).text = value
    path = tmp_path / "merged.docx"
    document.save(path)
    assert load_one(path).text == "Merged header | Other\n0 | 0 | x"


def test_docx_title_from_core_properties(tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Official Title"
    document.add_paragraph("Body text.")
    path = tmp_path / "titled.docx"
    document.save(path)
    assert load_one(path).title == "Official Title"


def test_docx_not_a_zip(tmp_path):
    path = write(tmp_path / "old.docx", b"\xd0\xcf\x11\xe0 this is an old Word .doc file" * 10)
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "not a readable DOCX file")


# ---------------------------------------------------------------- HTML

def test_html_structure(tmp_path):
    html = """<!DOCTYPE html><html><head><title>Dịch vụ công</title>
    <style>body {color: red}</style><script>var secret = 1;</script></head>
    <body><header>Site banner</header><nav><a href="/">Home</a></nav>
    <h1>Thủ tục</h1><p>Đoạn một
      tiếp tục.</p><p>Second<br>line</p>
    <h3>Steps</h3><ul><li>First step</li><li>Second <b>step</b></li></ul>
    <table><tr><th>Fee</th><th>Days</th></tr><tr><td>0</td><td>5</td></tr></table>
    <!-- a comment --><footer>Copyright</footer></body></html>"""
    path = write(tmp_path / "page.html", html)
    doc = load_one(path)
    assert doc.title == "Dịch vụ công"
    for gone in ("Site banner", "Home", "secret", "color", "Copyright", "a comment"):
        assert gone not in doc.text
    lines = doc.text.split("\n")
    assert "# Thủ tục" in lines
    assert "### Steps" in lines
    assert "Đoạn một tiếp tục." in lines
    assert "Second\nline" in doc.text
    assert lines[lines.index("- First step") + 1] == "- Second step"
    assert lines[lines.index("Fee | Days") + 1] == "0 | 5"
    assert "\n\n" in doc.text  # paragraphs separated by blank lines


def test_html_odd_nesting(tmp_path):
    html = ("<ul><li><p>Item in a paragraph</p></li><li>Plain item</li></ul>"
            "<table><tr><td>outer<table><tr><td>inner</td><td>cell</td></tr></table></td></tr></table>"
            "<h2>Heading <h3>inside</h3></h2><tr><tr>rows</tr></tr>")
    doc = load_one(write(tmp_path / "odd.html", html))
    lines = doc.text.split("\n")
    assert "- Item in a paragraph" in lines and "- Plain item" in lines
    assert "outer inner | cell" in lines
    assert "rows" in doc.text


def test_html_title_falls_back_to_h1(tmp_path):
    path = write(tmp_path / "frag.htm", "<h1>Heading One</h1><p>text</p>")
    assert load_one(path).title == "Heading One"


# ---------------------------------------------------------------- Markdown / text

def test_markdown_front_matter_removed_and_honoured(tmp_path):
    md = "---\ntitle: Quy chế nội bộ\naccess: internal\nlang: vi\ndoc_id: qc-01\nowner: HR\ndate: 2024-01-02\n---\n# Heading\n\nBody text only.\n"
    path = write(tmp_path / "qc.md", md)
    doc = load_one(path, tmp_path)
    assert doc.doc_id == "qc-01"
    assert doc.title == "Quy chế nội bộ"
    assert doc.access == "internal"
    assert doc.language == "vi"  # from front matter, although the body is English
    assert doc.text.startswith("# Heading")
    assert "access:" not in doc.text and "---" not in doc.text
    assert doc.metadata == {"owner": "HR", "date": "2024-01-02"}


def test_markdown_title_from_heading_else_stem(tmp_path):
    assert load_one(write(tmp_path / "a.md", "Intro\n\n# Real Title #\n\ntext")).title == "Real Title"
    assert load_one(write(tmp_path / "no-heading.markdown", "just text")).title == "no-heading"


def test_markdown_bad_front_matter(tmp_path):
    path = write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nbody\n")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "front matter is not valid YAML")


def test_markdown_bad_access_value(tmp_path):
    path = write(tmp_path / "bad.md", "---\naccess: secret\n---\nbody\n")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "access must be 'public' or 'internal', got 'secret'")


def test_text_is_nfc_and_cleaned(tmp_path):
    nfd = unicodedata.normalize("NFD", "Đăng ký khai sinh\r\nHồ sơ gồm:\x07\x1b tờ khai\r\n\r\n\r\n\r\n\r\n\r\nCuối\t.")
    path = write(tmp_path / "nfd.txt", "\ufeff" + nfd)
    doc = load_one(path)
    assert unicodedata.is_normalized("NFC", doc.text) and unicodedata.is_normalized("NFC", doc.title)
    assert doc.title == "Đăng ký khai sinh"
    assert doc.text == "Đăng ký khai sinh\nHồ sơ gồm: tờ khai\n\n\nCuối\t."
    assert doc.language == "vi"


def test_nfd_title_in_front_matter_and_docx(tmp_path):
    title = unicodedata.normalize("NFD", "Thông tư hướng dẫn")
    doc = load_one(write(tmp_path / "t.md", f"---\ntitle: {title}\n---\nbody"))
    assert doc.title == unicodedata.normalize("NFC", title)


def test_text_legacy_encoding(tmp_path):
    path = write(tmp_path / "legacy.txt", "Café crème – naïve".encode("cp1258"))
    assert load_one(path).text == "Café crème – naïve"


@pytest.mark.parametrize("name", ["image.txt", "archive.md"])
def test_binary_content_with_text_extension(tmp_path, name):
    path = write(tmp_path / name, bytes(range(256)) * 4)
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "looks like a binary file, not text (wrong extension?)")


# ---------------------------------------------------------------- JSONL

def test_jsonl_records(tmp_path):
    records = [
        {"_id": "Luật Phòng, chống ma túy@1", "title": "Luật - Điều 1", "text": "Phạm vi điều chỉnh của luật này.",
         "metadata": {"law": "Luật Phòng, chống ma túy"}},
        {"_id": "e563ad09-df80", "title": "", "text": "Jurisdiction of the regulator.", "metadata": {"lang": "en"}},
        {"_id": "vi-tagged", "text": "plain ascii", "metadata": {"language": "vi"}},
    ]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records[:2]) + "\n\n   \n" + json.dumps(records[2]) + "\n"
    path = write(tmp_path / "corpus.jsonl", body)
    docs = load_file(path, tmp_path)
    assert [d.doc_id for d in docs] == [r["_id"] for r in records]
    assert [d.title for d in docs] == ["Luật - Điều 1", "e563ad09-df80", "vi-tagged"]
    assert [d.language for d in docs] == ["vi", "en", "vi"]
    assert docs[0].metadata == {"law": "Luật Phòng, chống ma túy"}
    assert {d.source for d in docs} == {str(path)}
    assert all(d.access == "public" and d.pages == () for d in docs)


def test_jsonl_nfd_text_becomes_nfc_but_id_is_kept(tmp_path):
    nfd_id = unicodedata.normalize("NFD", "Điều 5")
    path = write(tmp_path / "c.jsonl", json.dumps({"_id": nfd_id, "text": nfd_id + " văn\x00 bản\r\n"}) + "\n")
    doc = load_one(path)
    assert doc.doc_id == nfd_id
    assert doc.text == "Điều 5 văn bản"
    assert unicodedata.is_normalized("NFC", doc.text) and unicodedata.is_normalized("NFC", doc.title)


def test_jsonl_line_numbers_ignore_unicode_line_separators(tmp_path):
    first = json.dumps({"_id": "a", "text": "one\u2028two\x85three"}, ensure_ascii=False)
    path = write(tmp_path / "c.jsonl", first + "\r\n" + "{broken\r\n")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "line 2: not valid JSON")
    path.write_text(first + "\n", encoding="utf-8")
    assert load_one(path).text == "one\ntwo\nthree"


@pytest.mark.parametrize(
    "bad_line",
    ['{"_id": "x", "text": "unterminated', '{"title": "no id", "text": "t"}', '{"_id": "no-text"}', "[1, 2]", '{"_id": "", "text": "empty id"}', '{"_id": "c", "text": "t", "metadata": [1]}',
     '{"_id": "a", "text": "duplicate"}'],
    ids=["invalid-json", "no-id", "no-text", "not-object", "empty-id", "bad-metadata", "duplicate-id"],
)
def test_jsonl_bad_line_is_named(tmp_path, bad_line):
    good = json.dumps({"_id": "a", "text": "fine"})
    path = write(tmp_path / "corpus.jsonl", f"{good}\n\n{bad_line}\n{good.replace('a', 'b')}\n")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "line 3")


# ---------------------------------------------------------------- ids and access

def test_doc_id_relative_to_root(tmp_path):
    path = write(tmp_path / "a" / "b" / "note.txt", "hello")
    assert load_one(path, tmp_path).doc_id == "a/b/note.txt"
    assert load_one(path, tmp_path / "a").doc_id == "b/note.txt"
    assert load_one(path).doc_id == "note.txt"
    assert load_one(path, path).doc_id == "note.txt"


def test_internal_folder_makes_documents_internal(tmp_path):
    internal = write(tmp_path / "Internal" / "hr" / "note.md", "# Note\n\nsalary bands")
    public = write(tmp_path / "public" / "note.md", "# Note\n\nopening hours")
    assert load_one(internal, tmp_path).access == "internal"
    assert load_one(public, tmp_path).access == "public"
    jsonl = write(tmp_path / "internal" / "c.jsonl", json.dumps({"_id": "1", "text": "x"}) + "\n")
    assert load_one(jsonl, tmp_path).access == "internal"


def test_internal_only_counts_folders_below_root(tmp_path):
    path = write(tmp_path / "internal" / "docs" / "n.txt", "text")
    assert load_one(path, tmp_path / "internal" / "docs").access == "public"


@pytest.mark.parametrize(
    "sidecar_name,sidecar_text",
    [("report.pdf.meta.json", json.dumps({"access": "internal", "title": "Báo cáo", "language": "vi", "owner": "Finance"})),
     ("report.pdf.meta.yaml", "access: internal\ntitle: Báo cáo\nlanguage: vi\nowner: Finance\n")],
)
def test_sidecar_gives_access_title_language(tmp_path, sidecar_name, sidecar_text):
    path = write(tmp_path / "report.pdf", make_pdf(["Quarterly figures in English"]))
    write(tmp_path / sidecar_name, sidecar_text)
    doc = load_one(path, tmp_path)
    assert (doc.access, doc.title, doc.language) == ("internal", "Báo cáo", "vi")
    assert doc.metadata == {"owner": "Finance"}


def test_sidecar_problems_fail_clearly(tmp_path):
    path = write(tmp_path / "n.txt", "text")
    write(tmp_path / "n.txt.meta.json", '{"access": "confidential"}')
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "access must be 'public' or 'internal', got 'confidential'")
    write(tmp_path / "n.txt.meta.json", "{not json")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "n.txt.meta.json")


# ---------------------------------------------------------------- bad inputs, one line each

def test_zero_byte_and_whitespace_files_are_empty(tmp_path):
    for name, content in [("zero.pdf", b""), ("zero.txt", b""), ("blank.md", b"  \n\t\n"), ("empty.html", b"<html><script>x</script></html>"),
                          ("blank.jsonl", b"\n\n")]:
        path = write(tmp_path / name, content)
        with pytest.raises(LoadError) as excinfo:
            load_file(path)
        assert_one_line_error(excinfo, path, "empty file: nothing to index")


def test_unsupported_type(tmp_path):
    path = write(tmp_path / "sheet.xyz", "data")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "unsupported file type '.xyz'; supported: .pdf, .docx", ".jsonl")


def test_over_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path / "big.txt", "x" * 300_000)

    def no_reading(self):
        raise AssertionError("read before the size check")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(LoadError) as excinfo:
        load_file(path, max_bytes=100_000)
    assert_one_line_error(excinfo, path, "file is 0.3 MB, over the limit of", "MB (ASSISTANT_MAX_FILE_MB)")


def test_unreadable_paths(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(LoadError) as excinfo:
        load_file(missing)
    assert_one_line_error(excinfo, missing, "No such file")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    with pytest.raises(LoadError) as excinfo:
        load_file(folder)
    assert_one_line_error(excinfo, folder, "directory")


def test_unexpected_parser_error_becomes_load_error(tmp_path, monkeypatch):
    def explode(path, data):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(loaders._LOADERS, ".txt", explode)
    path = write(tmp_path / "x.txt", "hello")
    with pytest.raises(LoadError) as excinfo:
        load_file(path)
    assert_one_line_error(excinfo, path, "RuntimeError", "boom second line")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(SUPPORTED_SUFFIXES), content=st.binary(max_size=2000))
def test_any_bytes_give_documents_or_load_error(suffix, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f{suffix}"
        path.write_bytes(content)
        try:
            docs = load_file(path, Path(folder))
        except LoadError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
        else:
            assert docs and all(d.text and unicodedata.is_normalized("NFC", d.text) for d in docs)


# ---------------------------------------------------------------- language, folding, walking

@pytest.mark.parametrize(
    "text,expected",
    [
        ("Đăng ký khai sinh cho trẻ em", "vi"),
        ("Thủ tục cấp giấy phép lái xe", "vi"),
        (unicodedata.normalize("NFD", "Luật này quy định về phòng, chống ma túy"), "vi"),
        ("The applicant must submit the form within 30 days.", "en"),
        ("Minister visited Hồ Chí Minh City to discuss the new visa rules for travellers and workers.", "en"),
        ("Café au lait", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


def test_fold_diacritics():
    assert fold_diacritics("Đăng ký khai sinh") == "dang ky khai sinh"
    assert fold_diacritics(unicodedata.normalize("NFD", "Hồ sơ ĐƯỢC trả")) == "ho so duoc tra"
    assert fold_diacritics("Café") == "cafe"


def test_iter_source_files(tmp_path):
    for name in ["b.md", "a.pdf", "a.pdf.meta.json", "n.txt.meta.yaml", "z/deep.txt", "m/x.xyz",
                 ".hidden.md", ".git/config.txt", "m/.cache/skip.txt"]:
        write(tmp_path / "docs" / name, "x")
    single = write(tmp_path / "single.txt", "x")
    found = list(iter_source_files([tmp_path / "docs", single, tmp_path / "docs" / "b.md", tmp_path / "nope.txt"]))
    docs = tmp_path / "docs"
    assert found == [
        (docs / "a.pdf", docs), (docs / "b.md", docs), (docs / "m" / "x.xyz", docs), (docs / "z" / "deep.txt", docs),
        (single, single), (tmp_path / "nope.txt", tmp_path / "nope.txt"),
    ]
    assert found == list(iter_source_files([tmp_path / "docs", single, tmp_path / "nope.txt"]))
