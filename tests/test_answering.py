"""Grounded answers with checked citations, from the extractive generator, through ``Assistant``.

A real store (real model, Chroma, SQLite) is built once for the module from the
shared corpus in ``test_retrieval``; the citation checker is tested on its own.
"""

from __future__ import annotations

import re

import pytest

from assistant.answering import REFUSAL, Answer, check_citations, split_sentences, supports
from assistant.pipeline import Assistant, question_language
from tests.test_retrieval import (
    HELP_DESK, KET_HON, KHAI_SINH, LICENCE_PDF, PASSPORT, QUY_CHE, build_store,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    b = build_store(tmp_path_factory.mktemp("answering"), embedder,
                    [KHAI_SINH, KET_HON, QUY_CHE, PASSPORT, LICENCE_PDF, HELP_DESK])
    yield b
    b.store.close()


@pytest.fixture(scope="module")
def bot(built) -> Assistant:
    return built.assistant()


def cited_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def citation_quoting(answer: Answer, phrase: str):
    """The citation of the answer line that contains ``phrase``."""
    for line in answer.text.splitlines():
        if phrase in line:
            n = cited_numbers(line)[0]
            return next(c for c in answer.citations if c.n == n)
    raise AssertionError(f"{phrase!r} is not in the answer:\n{answer.text}")


# ---------------------------------------------------------------------- extractive answers

def test_vietnamese_deadline_question_is_answered_from_the_right_procedure(bot):
    answer = bot.ask("Thời hạn giải quyết thủ tục đăng ký khai sinh là bao lâu?")
    assert answer.grounded and answer.mode == "extractive" and answer.language == "vi"
    assert "05 ngày làm việc" in answer.text
    assert answer.text.startswith("Theo các văn bản hiện có:")
    citation = citation_quoting(answer, "05 ngày làm việc")
    assert citation.doc_id == KHAI_SINH
    assert citation.title == "Thủ tục đăng ký khai sinh"
    assert citation.section == "Thủ tục đăng ký khai sinh"
    assert "05 ngày làm việc" in citation.snippet


@pytest.mark.parametrize("question,right,wrong", [
    ("Thời hạn giải quyết thủ tục đăng ký khai sinh là bao lâu?", "05 ngày làm việc", "03 ngày làm việc"),
    ("How long does a business licence take?", "10 working days", "03 ngày làm việc"),
])
def test_deadline_answer_does_not_state_another_procedures_deadline(bot, question, right, wrong):
    answer = bot.ask(question)
    assert right in answer.text
    assert wrong not in answer.text


def test_fee_and_documents_questions_quote_the_matching_lines(bot):
    fee = bot.ask("Lệ phí đăng ký khai sinh là bao nhiêu?")
    assert citation_quoting(fee, "50.000 đồng").doc_id == KHAI_SINH
    docs = bot.ask("Cần những giấy tờ gì để đăng ký khai sinh?")
    assert "Tờ khai đăng ký khai sinh" in docs.text and "Bản sao giấy chứng sinh" in docs.text
    assert citation_quoting(docs, "Bản sao giấy chứng sinh").doc_id == KHAI_SINH
    basis = bot.ask("Căn cứ pháp lý của thủ tục đăng ký khai sinh là gì?")
    assert citation_quoting(basis, "60/2014/QH13").doc_id == KHAI_SINH


def test_english_question_gets_an_english_answer(bot):
    answer = bot.ask("How long does passport renewal take?")
    assert answer.grounded and answer.language == "en"
    assert answer.text.startswith("According to the documents:")
    assert citation_quoting(answer, "8 working days").doc_id == PASSPORT


@pytest.mark.parametrize("question", [
    "Thời hạn giải quyết thủ tục đăng ký khai sinh là bao lâu?",
    "Cần những giấy tờ gì để đăng ký kết hôn?",
    "How long does passport renewal take?",
    "Cán bộ kiểm tra hồ sơ trong bao lâu?",
])
def test_every_citation_mark_has_its_citation_and_every_citation_is_used(bot, built, question):
    answer = bot.ask(question)
    assert answer.grounded
    marks = cited_numbers(answer.text)
    numbers = [c.n for c in answer.citations]
    assert marks and set(marks) == set(numbers)
    assert numbers == list(range(1, len(numbers) + 1))
    # Every quoted line says what the chunk it cites says.
    by_n = {c.n: c for c in answer.citations}
    for line in answer.text.splitlines()[1:]:
        n = cited_numbers(line)[0]
        quoted = re.sub(r"^- |\s*\[\d+\]$", "", line)
        chunk = built.store.get_chunks([by_n[n].chunk_id])[by_n[n].chunk_id]
        assert supports(quoted, chunk.text)


@pytest.mark.parametrize("question,language", [
    ("Who won the football final?", "en"),
    ("Đội nào đã vô địch trận chung kết bóng đá năm nay?", "vi"),
])
def test_out_of_scope_question_is_refused_in_its_language(bot, question, language):
    answer = bot.ask(question)
    assert answer.grounded is False
    assert answer.language == language
    assert answer.text == REFUSAL[language]
    assert answer.citations == []


def test_citation_fields_are_filled(bot, built):
    answer = bot.ask("How long does passport renewal take?")
    c = citation_quoting(answer, "8 working days")
    assert c.title == "Passport renewal guide"
    assert c.source == str(built.root / PASSPORT)
    assert c.page is None  # not a paged format
    assert c.section == "Passport renewal guide"
    assert "8 working days" in c.snippet
    assert 0 < c.score < 1
    assert c.chunk_id.startswith(PASSPORT + "#")
    assert c.label() == "Passport renewal guide"  # a section equal to the title is not repeated


def test_pdf_citation_carries_title_and_page(bot, built):
    answer = bot.ask("How many working days does a business licence application take?")
    c = citation_quoting(answer, "10 working days")
    assert c.doc_id == LICENCE_PDF and c.title == "Business licence guide"
    assert c.source == str(built.root / LICENCE_PDF)
    assert c.page in (1, 2) and "p. " in c.label()


def test_a_line_quoted_from_a_neighbouring_chunk_cites_that_chunks_page_and_article(built):
    from assistant.extractive import ExtractiveGenerator

    # The retrieved chunk is Article 1 (page 1); the 10-day line is in its neighbour, Article 2 (page 2).
    hits = built.retriever().retrieve("shops and restaurants in the city", k=1, doc_ids=[LICENCE_PDF])
    assert hits[0].chunk.page == 1 and [c.page for c in hits[0].context] == [1, 2]
    answer = ExtractiveGenerator().generate(
        "How many working days does a business licence application take?", hits, "en")
    c = citation_quoting(answer, "10 working days")
    assert c.page == 2
    assert c.section == "Article 2. Processing time"


def test_a_help_desk_number_in_the_documents_is_quoted_as_written(bot):
    answer = bot.ask("Số điện thoại tổng đài hỗ trợ dịch vụ công là gì?")
    assert "1900 0000" in answer.text
    assert citation_quoting(answer, "1900 0000").doc_id == HELP_DESK


# ---------------------------------------------------------------------- the pipeline

def test_ask_reports_mode_language_and_latency(bot):
    answer = bot.ask("Lệ phí đăng ký khai sinh là bao nhiêu?")
    assert answer.mode == "extractive"
    assert answer.latency_ms > 0
    assert answer.question == "Lệ phí đăng ký khai sinh là bao nhiêu?"
    assert bot.health()["mode"] == "extractive"


@pytest.mark.parametrize("question,language", [
    ("Thời hạn giải quyết thủ tục đăng ký khai sinh là bao lâu?", "vi"),
    ("thu tuc dang ky khai sinh mat bao lau", "vi"),
    ("le phi dang ky ket hon la bao nhieu", "vi"),
    ("How long does passport renewal take?", "en"),
    ("What documents do I need to renew a passport?", "en"),
])
def test_question_language_is_detected(question, language):
    assert question_language(question) == language


def test_unaccented_vietnamese_question_gets_a_vietnamese_answer(bot):
    answer = bot.ask("thu tuc dang ky khai sinh mat bao lau")
    assert answer.language == "vi" and answer.text.startswith("Theo các văn bản hiện có:")
    assert "05 ngày làm việc" in answer.text


def test_as_dict_has_exactly_the_documented_keys(bot):
    d = bot.ask("Lệ phí đăng ký khai sinh là bao nhiêu?").as_dict()
    assert set(d) == {"answer", "citations", "grounded", "mode", "language", "latency_ms"}
    assert d["citations"] and set(d["citations"][0]) == {
        "n", "doc_id", "title", "source", "page", "section", "snippet", "score", "chunk_id",
    }
    assert d["grounded"] is True and d["mode"] == "extractive" and d["language"] == "vi"
    assert isinstance(d["latency_ms"], float) and d["latency_ms"] > 0
    refused = bot.ask("Who won the football final?").as_dict()
    assert refused["citations"] == [] and refused["grounded"] is False


def test_stream_yields_the_answer_text_then_the_answer(bot):
    pieces = list(bot.stream("Lệ phí đăng ký khai sinh là bao nhiêu?"))
    *texts, answer = pieces
    assert isinstance(answer, Answer) and texts and all(isinstance(t, str) for t in texts)
    assert "".join(texts).strip() == answer.text
    assert answer.latency_ms > 0


def test_bad_questions_are_refused_before_retrieval(bot):
    from assistant.guardrails import QuestionError

    with pytest.raises(QuestionError):
        bot.ask("   ")
    with pytest.raises(QuestionError, match="1000"):
        bot.ask("x" * 1001)


# ---------------------------------------------------------------------- citation checking

SOURCES = {
    1: "Thời hạn giải quyết: 05 ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ.",
    2: "Lệ phí: 50.000 đồng.",
}


def test_supported_sentence_is_kept_with_its_citation():
    text, dropped, used = check_citations("Thời hạn giải quyết là 05 ngày làm việc [1].", SOURCES)
    assert text == "Thời hạn giải quyết là 05 ngày làm việc [1]."
    assert dropped == [] and used == {1}


def test_sentence_citing_a_source_that_was_not_retrieved_is_dropped():
    text, dropped, used = check_citations(
        "Thời hạn giải quyết là 05 ngày làm việc [1]. Lệ phí là 50.000 đồng [9].", SOURCES)
    assert text == "Thời hạn giải quyết là 05 ngày làm việc [1]."
    assert dropped == ["Lệ phí là 50.000 đồng [9]."]
    assert used == {1}


def test_a_citation_to_nothing_is_stripped_from_a_sentence_whose_other_citation_holds():
    text, _, used = check_citations("Lệ phí là 50.000 đồng [2][9].", SOURCES)
    assert "[9]" not in text and "[2]" in text and used == {2}


def test_sentence_whose_numbers_are_not_in_its_source_is_dropped():
    text, dropped, used = check_citations("Thời hạn giải quyết là 15 ngày làm việc [1].", SOURCES)
    assert text == "" and used == set()
    assert dropped == ["Thời hạn giải quyết là 15 ngày làm việc [1]."]
    # Right number, wrong source: the fee is not in source 1.
    assert check_citations("Lệ phí là 50.000 đồng [1].", SOURCES)[2] == set()


def test_sentence_citing_a_source_about_something_else_is_dropped():
    assert not supports("Người dân phải nộp bản sao giấy khai sinh có chứng thực", SOURCES[1])
    text, dropped, _ = check_citations("Người dân phải nộp bản sao giấy khai sinh có chứng thực [1].", SOURCES)
    assert text == "" and len(dropped) == 1


def test_uncited_sentence_is_dropped_but_a_short_lead_in_is_kept():
    text, dropped, used = check_citations(
        "Theo văn bản:\nThời hạn giải quyết là 05 ngày làm việc [1].\nBạn nên nộp hồ sơ sớm để tránh trễ hạn.",
        SOURCES)
    assert text.splitlines() == ["Theo văn bản:", "Thời hạn giải quyết là 05 ngày làm việc [1]."]
    assert dropped == ["Bạn nên nộp hồ sơ sớm để tránh trễ hạn."]
    assert used == {1}


def test_supports_needs_every_number_and_half_the_words():
    assert supports("Lệ phí là 50.000 đồng", SOURCES[2])
    assert supports("le phi 50.000 dong", SOURCES[2])  # typed without accents
    assert not supports("Lệ phí là 60.000 đồng", SOURCES[2])
    assert not supports("Lệ phí cấp giấy phép kinh doanh vận tải hàng hóa 50.000 đồng", SOURCES[2])


def test_sentences_are_split_with_their_citations():
    assert split_sentences("Một câu [1]. Câu hai [2].\n- Mục ba [1]") == ["Một câu [1].", "Câu hai [2].",
                                                                         "- Mục ba [1]"]
