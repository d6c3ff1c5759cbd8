"""Tests for assistant.chunking: structure first, exact offsets, bounded size."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assistant  # noqa: F401  (provisions tiktoken offline before chunking is imported)
from assistant.chunking import Chunker, count_tokens
from assistant.types import Document, PageSpan, make_chunk_id

SHARED = Path(__file__).resolve().parents[2] / "shared"
ALQAC = SHARED / "benchmarks" / "alqac2023" / "corpus.jsonl"

SENTENCE_VI = (
    "Cơ quan có thẩm quyền tiếp nhận hồ sơ, kiểm tra tính hợp lệ và trả kết quả "
    "cho tổ chức, cá nhân theo đúng thời hạn quy định tại Luật này. "
)


def para(n: int) -> str:
    return (SENTENCE_VI * n).strip()


def law_text() -> str:
    """A small law: preamble, two chapters, six articles; Điều 5 needs splitting
    (about 700 tokens), and its clause 2 needs splitting at its points a), b)."""
    return "\n".join([
        "QUỐC HỘI",
        "Luật số 99/2024/QH15",
        "LUẬT THỬ NGHIỆM VỀ THỦ TỤC HÀNH CHÍNH",
        "Căn cứ Hiến pháp nước Cộng hòa xã hội chủ nghĩa Việt Nam; Quốc hội ban hành Luật thử nghiệm.",
        "",
        "Chương I",
        "QUY ĐỊNH CHUNG",
        "",
        "Điều 1. Phạm vi điều chỉnh",
        "Luật này quy định về thủ tục hành chính, trình tự tiếp nhận và giải quyết hồ sơ của tổ chức, cá nhân.",
        "",
        "Điều 2. Đối tượng áp dụng",
        "Luật này áp dụng đối với cơ quan nhà nước, tổ chức, cá nhân có liên quan đến thủ tục hành chính.",
        "Việc áp dụng Điều 5 của Luật này theo hướng dẫn của Chính phủ.",
        "",
        "Điều 3. Giải thích từ ngữ",
        "Trong Luật này, các từ ngữ dưới đây được hiểu như sau:",
        "1. Hồ sơ là tập hợp giấy tờ do tổ chức, cá nhân nộp cho cơ quan có thẩm quyền.",
        "2. Thời hạn giải quyết là khoảng thời gian tính từ ngày nhận đủ hồ sơ hợp lệ.",
        "",
        "Chương II",
        "TRÌNH TỰ, THỦ TỤC",
        "",
        "Điều 4. Hồ sơ đề nghị",
        "1. Hồ sơ gồm đơn đề nghị theo mẫu và bản sao giấy tờ tùy thân của người đề nghị.",
        "2. Hồ sơ được nộp trực tiếp, qua dịch vụ bưu chính hoặc trực tuyến.",
        "",
        "Điều 5. Thời hạn giải quyết",
        "1. " + para(3),
        "2. " + para(1),
        "a) " + para(3),
        "b) " + para(3),
        "3. " + para(2),
        "",
        "Điều 6. Hiệu lực thi hành",
        "Luật này có hiệu lực thi hành từ ngày 01 tháng 01 năm 2025 và áp dụng trên phạm vi cả nước.",
    ])


def make_doc(text: str, doc_id: str = "doc", **kw) -> Document:
    kw.setdefault("title", "Tài liệu thử")
    kw.setdefault("source", f"{doc_id}.txt")
    return Document(doc_id=doc_id, text=text, **kw)


def check_invariants(doc: Document, chunks, max_tokens: int) -> None:
    """What every chunking must satisfy, whatever the text."""
    for i, c in enumerate(chunks):
        assert c.index == i
        assert c.text and c.text == c.text.strip()
        assert doc.text[c.start: c.start + len(c.text)] == c.text
        assert count_tokens(c.text) <= max_tokens
        assert c.chunk_id == make_chunk_id(doc.doc_id, i, c.hash)
        assert (c.doc_id, c.title, c.source, c.access, c.language) == (
            doc.doc_id, doc.title, doc.source, doc.access, doc.language)
        assert c.page == doc.page_at(c.start) if doc.pages else c.page is None
        assert c.page_end == (doc.page_at(c.start + len(c.text) - 1) if doc.pages else None)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    # Coverage: outside the chunks there is only whitespace.
    covered = [False] * len(doc.text)
    for c in chunks:
        covered[c.start: c.start + len(c.text)] = [True] * len(c.text)
    lost = "".join(ch for ch, ok in zip(doc.text, covered) if not ok)
    assert not lost.strip(), f"text lost: {lost.strip()[:80]!r}"


HEADING_DIEU = re.compile(r"^Điều \d+\.", re.M)


# -- Vietnamese law --------------------------------------------------------


def test_law_each_article_starts_a_chunk_and_long_article_splits_at_clause():
    doc = make_doc(law_text())
    chunker = Chunker(max_tokens=380, overlap=40)
    assert count_tokens(law_text().split("Điều 5.")[1].split("Điều 6.")[0]) > 380  # precondition
    chunks = chunker.split(doc)
    check_invariants(doc, chunks, 380)

    for c in chunks:
        assert len(HEADING_DIEU.findall(c.text)) <= 1, c.text[:200]
    for n in range(1, 7):
        holders = [c for c in chunks if re.search(rf"^Điều {n}\.", c.text, re.M)]
        assert len(holders) == 1
        c = holders[0]
        # The article heading starts the chunk, after at most a bare chapter heading.
        before = c.text[: c.text.index(f"Điều {n}.")]
        assert not before.strip() or before.lstrip().startswith("Chương")
        assert f"Điều {n}." in c.section

    sections = [c.section for c in chunks]
    assert "Chương I > Điều 3. Giải thích từ ngữ" in sections
    assert "Chương II > Điều 4. Hồ sơ đề nghị" in sections
    assert not any("Điều 5 của" in s for s in sections)  # a reference in prose is no heading

    # The chapter heading is kept in the text of the chunk that follows it.
    first = next(c for c in chunks if "Điều 1." in c.text)
    assert first.text.startswith("Chương I\nQUY ĐỊNH CHUNG")

    # Điều 5 is split at its clauses; its pieces keep its section label.
    art5 = [c for c in chunks if c.section == "Chương II > Điều 5. Thời hạn giải quyết"]
    assert len(art5) >= 2
    assert art5[0].text.startswith("Điều 5. Thời hạn giải quyết\n1. ")
    assert [c.text[:3] for c in art5] == ["Điề", "2. ", "b) ", "3. "]
    # No piece starts in the middle of a line.
    for c in art5:
        assert c.start == 0 or doc.text[c.start - 1] == "\n"


def test_tiny_articles_are_never_merged():
    text = "Chương III\nĐIỀU KHOẢN THI HÀNH\nĐiều 7. Hiệu lực\nCó hiệu lực.\nĐiều 8. Bãi bỏ\nBãi bỏ Luật cũ."
    chunks = Chunker().split(make_doc(text))
    assert [c.section for c in chunks] == ["Chương III > Điều 7. Hiệu lực", "Chương III > Điều 8. Bãi bỏ"]
    assert chunks[0].text.startswith("Chương III")


def test_headings_are_recognised_in_their_usual_forms():
    text = "\n\n".join([
        "PHẦN THỨ NHẤT", "CHƯƠNG 2", "Mục 1. QUY ĐỊNH CHUNG",
        "## Điều 5: Thời hạn\n" + para(2),
        "**Điều 6.** Lệ phí\n" + para(2),
        "Điều 7 của Luật này không phải tiêu đề. " + para(1),
    ])
    chunks = Chunker().split(make_doc(text))
    sections = [c.section for c in chunks]
    assert sections == [
        "PHẦN THỨ NHẤT > CHƯƠNG 2 > Mục 1. QUY ĐỊNH CHUNG > Điều 5: Thời hạn",
        "PHẦN THỨ NHẤT > CHƯƠNG 2 > Mục 1. QUY ĐỊNH CHUNG > Điều 6. Lệ phí",
    ]
    assert "Điều 7 của Luật" in chunks[1].text


# -- English regulations and Markdown --------------------------------------

RULE_BODY = (
    "An Authorised Person must establish and maintain systems and controls that are "
    "appropriate to the nature, scale and complexity of its business and must keep them under review."
)


def test_english_part_section_rule():
    text = "\n".join([
        "PART 1", "Section 1.1 Application",
        "Rule 1.1.1", RULE_BODY,
        "Rule 1.1.2", RULE_BODY,
        "Section 3 of the Act applies to every Rule in this Part. " + RULE_BODY,
        "Part 3", "Section 3.2 Fees", "The annual fee is payable on 1 January. " + RULE_BODY,
        "Article 12", RULE_BODY,
    ])
    doc = make_doc(text, language="en")
    chunks = Chunker().split(doc)
    check_invariants(doc, chunks, 380)
    assert [c.section for c in chunks] == [
        "PART 1 > Section 1.1 Application > Rule 1.1.1",
        "PART 1 > Section 1.1 Application > Rule 1.1.2",
        "Part 3 > Section 3.2 Fees",
        "Part 3 > Article 12",
    ]
    assert chunks[0].text.startswith("PART 1\nSection 1.1 Application\nRule 1.1.1\n")
    assert "Section 3 of the Act" in chunks[1].text  # prose, not a heading


def test_markdown_headings_nest_and_small_siblings_share_a_chunk():
    long = para(3)
    text = "\n".join([
        "# Hướng dẫn", "",
        "## Thủ tục cấp bản sao", long, "",
        "### Hồ sơ", long, "",
        "## Lệ phí", long, "",
        "## Câu hỏi thường gặp",
        "### Nộp ở đâu?", "Tại bộ phận một cửa.",
        "### Mất bao lâu?", "Ba ngày làm việc.",
        "### Có mất phí không?", "Không mất phí.",
    ])
    doc = make_doc(text)
    chunks = Chunker().split(doc)
    check_invariants(doc, chunks, 380)
    assert [c.section for c in chunks] == [
        "Hướng dẫn > Thủ tục cấp bản sao",
        "Hướng dẫn > Thủ tục cấp bản sao > Hồ sơ",
        "Hướng dẫn > Lệ phí",
        "Hướng dẫn > Câu hỏi thường gặp",
    ]
    assert chunks[0].text.startswith("# Hướng dẫn\n\n## Thủ tục cấp bản sao\n")
    assert "Nộp ở đâu?" in chunks[3].text and "Không mất phí." in chunks[3].text


# -- size, offsets, pages ----------------------------------------------------


def test_long_prose_is_split_by_size_within_bounds():
    text = "\n\n".join(f"Đoạn {i}. " + para(4) for i in range(12))
    doc = make_doc(text)
    chunks = Chunker(max_tokens=120, overlap=20).split(doc)
    assert len(chunks) > 3
    assert all(c.section == "" for c in chunks)
    check_invariants(doc, chunks, 120)


def test_a_single_huge_line_falls_back_to_the_size_splitter():
    text = "Điều 1. Quy định\n" + "x" * 5000 + " " + "chữ " * 3000
    doc = make_doc(text)
    chunks = Chunker(max_tokens=100, overlap=10).split(doc)
    check_invariants(doc, chunks, 100)
    assert all(c.section == "Điều 1. Quy định" for c in chunks)


def test_pages_follow_chunk_offsets():
    pages = ["Điều 1. Một\n" + para(2), "Điều 2. Hai\n" + para(2), "Điều 3. Ba\n" + para(2)]
    text = "\n".join(pages)
    starts = [0, len(pages[0]) + 1, len(pages[0]) + len(pages[1]) + 2]
    doc = make_doc(text, pages=tuple(PageSpan(s, i + 1) for i, s in enumerate(starts)))
    chunks = Chunker().split(doc)
    check_invariants(doc, chunks, 380)
    assert [(c.page, c.page_end) for c in chunks] == [(1, 1), (2, 2), (3, 3)]
    assert all(c.page is None for c in Chunker().split(make_doc(text)))


def test_short_passage_is_one_whole_chunk():
    text = "  The AML Rulebook is made in recognition of the Federal AML Legislation.\n"
    doc = make_doc(text, doc_id="p1")
    [chunk] = Chunker().split(doc)
    assert chunk.text == text.strip() and chunk.start == 2 and chunk.section == ""
    check_invariants(doc, [chunk], 380)


def test_empty_text_gives_no_chunks():
    assert Chunker().split(make_doc("")) == []
    assert Chunker().split(make_doc(" \n\t\n")) == []


def test_ids_are_deterministic_and_local_to_a_change():
    chunker = Chunker()
    doc = make_doc(law_text())
    first = [c.chunk_id for c in chunker.split(doc)]
    assert first == [c.chunk_id for c in Chunker().split(doc)]
    assert len(set(first)) == len(first)
    changed = make_doc(law_text().replace("bản sao giấy tờ tùy thân", "bản chụp giấy tờ tùy thân"))
    second = [c.chunk_id for c in chunker.split(changed)]
    assert len(second) == len(first)
    differing = [i for i, (a, b) in enumerate(zip(first, second)) if a != b]
    assert len(differing) == 1
    assert "Điều 4." in chunker.split(changed)[differing[0]].text


def test_text_is_not_renormalised():
    nfc = unicodedata.normalize("NFC", law_text())
    chunks = Chunker().split(make_doc(nfc))
    assert all(unicodedata.is_normalized("NFC", c.text) for c in chunks)
    nfd = unicodedata.normalize("NFD", "Thời hạn giải quyết hồ sơ là mười lăm ngày.")
    [chunk] = Chunker().split(make_doc(nfd))
    assert chunk.text == nfd  # chunking never rewrites text; offsets stay valid


def test_many_short_passages_map_one_to_one():
    docs = [make_doc(f"Passage {i}: {RULE_BODY}", doc_id=f"p{i}") for i in range(2000)]
    chunker = Chunker()
    chunks = [chunker.split(d) for d in docs]
    assert all(len(cs) == 1 and cs[0].text == d.text for d, cs in zip(docs, chunks))


def test_count_tokens_is_cl100k():
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special-token text is plain text


@pytest.mark.parametrize("kwargs, name", [
    ({"max_tokens": 49}, "max_tokens"),
    ({"max_tokens": 100, "overlap": 50}, "overlap"),
    ({"overlap": -1}, "overlap"),
])
def test_bad_arguments_are_refused_early(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Chunker(**kwargs)


# -- property test -----------------------------------------------------------

FRAGMENTS = [
    "Điều 1. Phạm vi", "Chương II", "Mục 2", "Section 3.2 Fees", "Rule 1.1.1", "PART 2",
    "## Hướng dẫn", "# ", "1. ", "2) ", "a) ", "(b) ", "- ", "\n", "\n\n", " ", "\t",
    "Thời hạn giải quyết", "<|endoftext|>", "x" * 30, "ab ab ab ab ", "😀", "Điều 5 của",
]
ALPHABET = "abcxyzđươăâêôàảãáạ ĐƯ.,:;#()-\n\t0123456789😀\u00a0\u200e"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(ALPHABET, max_size=60)), max_size=80),
    overlap=st.integers(0, 24),
)
def test_property_offsets_bounds_and_coverage(parts, overlap):
    doc = make_doc("".join(parts))
    chunks = Chunker(max_tokens=50, overlap=overlap).split(doc)
    check_invariants(doc, chunks, 50)
    assert bool(chunks) == bool(doc.text.strip())


# -- real data -----------------------------------------------------------------


@pytest.mark.skipif(not ALQAC.exists(), reason=f"benchmark corpus not present at {ALQAC}")
def test_alqac_records_chunk_within_bounds():
    chunker = Chunker()
    with ALQAC.open(encoding="utf-8") as f:
        records = [json.loads(line) for _, line in zip(range(200), f)]
    for r in records:
        doc = Document(doc_id=r["_id"], title=r["title"], text=r["text"], source="alqac2023")
        chunks = chunker.split(doc)
        assert chunks or not doc.text.strip()
        check_invariants(doc, chunks, 380)
        if count_tokens(doc.text.strip()) <= 380 and len(HEADING_DIEU.findall(doc.text)) <= 1:
            assert len(chunks) == 1
