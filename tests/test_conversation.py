"""Follow-up questions: "Còn lệ phí thì sao?" after a question about birth
registration is answered about birth registration."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.conversation import Turn, looks_like_follow_up, standalone_question, subject_of
from tests.test_retrieval import KET_HON, KHAI_SINH, PASSPORT, build_store

DEADLINE_Q = "Thời hạn giải quyết thủ tục đăng ký khai sinh là bao lâu?"
HISTORY = [Turn(DEADLINE_Q, "Theo các văn bản hiện có:\n- Thời hạn giải quyết: 05 ngày làm việc. [1]")]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    b = build_store(tmp_path_factory.mktemp("conversation"), embedder, [KHAI_SINH, KET_HON, PASSPORT])
    yield b
    b.store.close()


# ---------------------------------------------------------------------- the rule (no LLM)

@pytest.mark.parametrize("follow_up", ["Còn lệ phí thì sao?", "Lệ phí?", "Thủ tục này cần giấy tờ gì?",
                                       "Vậy hồ sơ gồm những gì?", "con le phi thi sao"])
def test_follow_up_gets_the_subject_of_the_previous_question(follow_up):
    rewritten = standalone_question(follow_up, HISTORY)
    assert "đăng ký khai sinh" in rewritten
    assert rewritten.startswith(follow_up.rstrip())  # what was asked is kept as typed


def test_the_subject_leaves_out_what_was_asked_for():
    subject = subject_of(DEADLINE_Q)
    assert "đăng ký khai sinh" in subject
    assert "thời hạn" not in subject.lower() and "bao lâu" not in subject


def test_english_follow_up_gets_the_english_subject():
    rewritten = standalone_question("And how much does it cost?", [Turn("How long does passport renewal take?")])
    assert "passport renewal" in rewritten


@pytest.mark.parametrize("question", [
    "Lệ phí đăng ký kết hôn là bao nhiêu tiền?",
    "Cần những giấy tờ gì để đăng ký kết hôn?",
    "How much does passport renewal cost?",
])
def test_a_self_contained_question_is_unchanged(question):
    assert not looks_like_follow_up(question)
    assert standalone_question(question, HISTORY) == question


def test_without_history_the_question_is_unchanged():
    assert standalone_question("Còn lệ phí thì sao?", []) == "Còn lệ phí thì sao?"


# ---------------------------------------------------------------------- with an LLM

def test_with_a_chat_model_its_rewrite_is_used():
    model = FakeListChatModel(responses=["Lệ phí đăng ký khai sinh là bao nhiêu?\n(viết lại từ câu hỏi trước)"])
    assert standalone_question("Còn lệ phí thì sao?", HISTORY, llm=model) == "Lệ phí đăng ký khai sinh là bao nhiêu?"


def test_an_empty_rewrite_falls_back_to_the_question():
    model = FakeListChatModel(responses=["   "])
    assert standalone_question("Còn lệ phí thì sao?", HISTORY, llm=model) == "Còn lệ phí thì sao?"


# ---------------------------------------------------------------------- through the assistant

def test_follow_up_is_answered_about_the_earlier_subject(built):
    bot = built.assistant()
    first = bot.ask(DEADLINE_Q)
    assert "05 ngày làm việc" in first.text
    answer = bot.ask("Còn lệ phí thì sao?", history=[Turn(DEADLINE_Q, first.text)])
    assert answer.grounded and answer.language == "vi"
    assert "50.000 đồng" in answer.text
    assert answer.citations[0].doc_id == KHAI_SINH
    assert answer.question == "Còn lệ phí thì sao?"  # the user's words are what is recorded


def test_follow_up_with_a_chat_model_uses_its_rewrite_for_retrieval(built):
    # One scripted reply for the rewrite, one for the answer.
    model = GenericFakeChatModel(messages=iter([
        AIMessage("Lệ phí đăng ký kết hôn là bao nhiêu?"),
        AIMessage("Lệ phí đăng ký kết hôn là 30.000 đồng [1]."),
    ]))
    bot = built.assistant(chat_model=model)
    answer = bot.ask("Còn kết hôn thì sao?", history=[Turn(DEADLINE_Q, "05 ngày làm việc")])
    assert answer.mode == "llm" and answer.grounded
    assert answer.text == "Lệ phí đăng ký kết hôn là 30.000 đồng [1]."
    assert answer.citations[0].doc_id == KET_HON
