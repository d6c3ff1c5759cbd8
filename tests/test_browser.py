"""The real pages in a real browser: headless Chromium (Debian's) driven by Playwright.

Each test starts the real app (real model, real Chroma store of docs/, real
SQLite records) under uvicorn on loopback and does what a user does: sign in,
ask, read the sources, rate the answer, upload a document, pass a question to
an officer. Screenshots go to ``test-artifacts/`` (kept by CI as artifacts).

Chromium comes from Debian (``apt-get install chromium``; Playwright's own
browser download cannot work offline). Without it these tests skip, unless
``ASSISTANT_REQUIRE_BROWSER=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer, make_services

CHROMIUM = Path(os.environ.get("ASSISTANT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct-horse-battery"
# The flags Debian's Chromium needs on a machine with no network and no screen.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

INTERNAL_Q = "Kinh phí thí điểm trợ lý ảo là bao nhiêu?"
PUBLIC_Q = "Phí cấp bản sao trích lục hộ tịch khi nộp trực tuyến là bao nhiêu?"
TIMEOUT = 60_000


def _need_browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium chromium-driver)"
        if os.environ.get("ASSISTANT_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _server(tmp_path, docs_store, embedder, **overrides) -> LiveServer:
    services = make_services(tmp_path, docs_store, embedder, **overrides)
    services.accounts.add_user("lan", PASSWORD)
    return LiveServer(services)


@pytest.fixture(scope="module")
def live(tmp_path_factory, docs_store, embedder):
    server = _server(tmp_path_factory.mktemp("live"), docs_store, embedder)
    yield server
    server.stop()


def _page(browser, locale="vi-VN"):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def _login(page, live, name="lan", password=PASSWORD):
    page.goto(f"{live.url}/staff/")
    assert "/login" in page.url  # no session: the workspace sends you to sign in
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#login")


def _staff_ready(page, name="lan"):
    """Signed in and the page has loaded (the user's name is shown only after load)."""
    page.wait_for_selector(f"#staff-user :text('{name}')")


def _public_ready(page, url):
    page.goto(f"{url}/public/")
    page.wait_for_function("(document.querySelector('#public-notice')?.innerText || '').length > 60")


def _ask(page, box: str, send: str, question: str):
    page.fill(f"{box} textarea", question)
    page.click(send)


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _rows(live, sql: str) -> list[tuple]:
    db = sqlite3.connect(Path(live.services.settings.data_dir) / "assistant.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# ---------------------------------------------------------------------- staff workspace

def test_staff_signs_in_asks_sees_cited_sources_and_gives_feedback(browser, live):
    page = _page(browser)
    _login(page, live)
    _staff_ready(page)

    _ask(page, "#staff-question", "#staff-send", INTERNAL_Q)
    page.wait_for_selector("#sources-panel .source-card")
    chat = page.inner_text("#staff-chat")
    assert "1.250.000.000" in chat  # staff see the internal note
    card = page.inner_text("#sources-panel .source-card")
    assert "[1]" in card and "internal/ghi-chu-noi-bo-trien-khai-tro-ly-ao.md" in card
    assert page.locator("#sources-panel mark").count() >= 1  # the quoted passage is highlighted
    assert "1.250.000.000" in page.inner_text("#sources-panel mark")
    assert "nguyên văn" in page.inner_text("#answer-note")  # extractive: said so

    page.click("#export-box")  # the answer with its citations, ready to copy or download
    export = page.input_value("#answer-export textarea")
    assert "1.250.000.000" in export and "[1]" in export and "ghi-chu-noi-bo" in export
    assert page.locator("#answer-download-link").is_visible()
    href = page.get_attribute("#answer-download-link", "href")
    assert "1.250.000.000" in page.request.get(f"{live.url}{href}").text()  # the download, with the session

    page.get_by_label("Chưa đầy đủ").check()
    page.fill("#staff-comment textarea", "Thiếu hạn mức từng hạng mục, gọi 0912 345 678")
    page.click("#staff-down")
    page.wait_for_selector("#staff-feedback-status :text('Cảm ơn')")
    _shot(page, "staff-answer.png")
    rows = _rows(live, "SELECT surface, rating, reasons, comment, user FROM feedback")
    assert rows[-1][:3] == ("staff", -1, '["incomplete"]')
    assert "0912" not in rows[-1][3] and rows[-1][4] == "lan"  # phone redacted before storage
    page.context.close()


def test_staff_sees_a_refusal_note_and_can_switch_to_english(browser, live):
    page = _page(browser)
    _login(page, live)
    _staff_ready(page)
    page.get_by_text("English", exact=True).click()
    page.wait_for_selector("#staff-send:text('Send')")
    assert "Sources" in page.inner_text("#sources-title")
    _ask(page, "#staff-question", "#staff-send", "Who won the football final?")
    page.wait_for_selector("#answer-note :text('did not')")
    assert page.locator("#sources-panel .source-card").count() == 0
    _shot(page, "staff-refusal-en.png")
    page.context.close()


def test_staff_filters_by_document(browser, live):
    page = _page(browser, locale="en-US")
    _login(page, live)
    _staff_ready(page)
    page.click("#filters")
    page.fill("#filter-from input, #filter-from textarea", "1999-13-40")
    _ask(page, "#staff-question", "#staff-send", PUBLIC_Q)
    page.wait_for_selector(":text('Not a date')")  # a bad date is named, not ignored
    page.fill("#filter-from input, #filter-from textarea", "2999-01-01")
    page.click("#staff-send")
    page.wait_for_selector("#answer-note :text('No document matches')")
    page.context.close()


def test_staff_uploads_a_document_asks_about_it_and_removes_it(browser, live, tmp_path):
    doc = tmp_path / "thong-bao-lich-tiep-dan.md"
    doc.write_text("# Thông báo lịch tiếp công dân\n\nLịch tiếp công dân định kỳ của Chủ tịch UBND xã Hòa Lạc "
                   "là ngày 15 hằng tháng, tại phòng tiếp dân số 2.\n", encoding="utf-8")
    page = _page(browser)
    _login(page, live)
    _staff_ready(page)
    page.click("#tab-docs-button")
    page.wait_for_selector("#docs-table")
    assert "quy-che-tiep-nhan-ho-so-truc-tuyen" in page.inner_text("#docs-table")
    page.set_input_files("#upload-files input[type=file]", str(doc))
    page.wait_for_timeout(500)
    page.click("#ingest-uploads")
    page.wait_for_selector("#docs-status :text('thêm 1')")
    assert "thong-bao-lich-tiep-dan" in page.inner_text("#docs-table")
    _shot(page, "staff-documents.png")

    page.click("#tab-ask-button")
    _ask(page, "#staff-question", "#staff-send", "Lịch tiếp công dân của Chủ tịch UBND xã Hòa Lạc là ngày nào?")
    page.wait_for_selector("#sources-panel .source-card")
    assert "ngày 15 hằng tháng" in page.inner_text("#staff-chat")

    page.click("#tab-docs-button")
    page.click("#remove-pick input")
    page.keyboard.type("thong-bao-lich")  # the list filters as you type; Enter takes the match
    page.keyboard.press("Enter")
    page.click("#remove-file")
    page.wait_for_selector("#docs-status :text('Đã gỡ')")
    assert "thong-bao-lich-tiep-dan" not in page.inner_text("#docs-table")
    uploads = Path(live.services.settings.data_dir) / "uploads"
    assert not list(uploads.rglob("thong-bao-lich-tiep-dan.md"))
    page.context.close()


def test_session_expires_and_login_is_throttled(browser, tmp_path, docs_store, embedder):
    server = _server(tmp_path, docs_store, embedder, session_hours=2 / 3600, login_max_failures=2)
    try:
        page = _page(browser)
        _login(page, server, password="wrong-password")
        page.wait_for_selector("#login-error")
        assert "Sai tên đăng nhập" in page.inner_text("#login-error")
        page.fill("#name", "lan")
        page.fill("#password", "wrong-again!")
        page.click("#login")
        page.fill("#name", "lan")
        page.fill("#password", PASSWORD)
        page.click("#login")
        assert "quá nhiều lần" in page.inner_text("#login-error")  # locked even with the right password
        _shot(page, "staff-login-throttled.png")
        page.context.close()

        other = make_services(tmp_path / "b", docs_store, embedder, session_hours=2 / 3600)
        other.accounts.add_user("lan", PASSWORD)
        second = LiveServer(other)
        try:
            page = _page(browser)
            _login(page, second)
            _staff_ready(page)
            time.sleep(2.5)
            page.goto(f"{second.url}/staff/")
            assert "/login" in page.url  # the session ran out: sign in again
            page.context.close()
        finally:
            second.stop()
    finally:
        server.stop()


# ---------------------------------------------------------------------- public widget

def test_public_widget_answers_with_sources_and_the_notice(browser, live):
    page = _page(browser)
    _public_ready(page, live.url)
    assert "văn bản chính thức" in page.inner_text("#public-notice")
    assert page.locator("input[type=file]").count() == 0  # no upload for citizens
    _ask(page, "#public-question", "#public-send", PUBLIC_Q)
    page.wait_for_selector("#public-chat :text('4.000 đồng')")
    page.click("#public-sources-box")
    page.wait_for_selector("#public-sources .source-card")  # filled when the answer is complete
    page.click("#public-feedback-box")
    page.get_by_label("Không chính xác").check()
    page.click("#public-down")
    page.wait_for_selector("#public-status :text('Cảm ơn')")
    _shot(page, "public-answer.png")
    assert _rows(live, "SELECT surface, rating, reasons FROM feedback WHERE surface='public'")[-1] == (
        "public", -1, '["inaccurate"]')
    page.context.close()


def test_public_widget_refuses_internal_content_and_hands_over_to_an_officer(browser, live):
    page = _page(browser)
    _public_ready(page, live.url)
    _ask(page, "#public-question", "#public-send", INTERNAL_Q + " Liên hệ tôi: 0987654321")
    page.wait_for_selector("#public-chat :text('không tìm thấy')")
    chat = page.inner_text("#public-chat")
    assert "1.250.000.000" not in chat and "ghi-chu-noi-bo" not in page.content()
    page.click("#public-handoff")
    page.wait_for_selector("#public-status :text('đã được chuyển')")
    _shot(page, "public-refusal-handoff.png")
    question, surface = _rows(live, "SELECT question, surface FROM handoffs ORDER BY id DESC LIMIT 1")[0]
    assert surface == "public" and "Kinh phí thí điểm" in question and "0987654321" not in question

    staff = _page(browser)  # the hand-off is waiting in the staff queue
    _login(staff, live)
    _staff_ready(staff)
    staff.click("#tab-queue-button")
    staff.wait_for_function("document.querySelector('#handoff-table').innerText.includes('Kinh phí thí điểm')")
    _shot(staff, "staff-queue.png")
    staff.context.close()
    page.context.close()


def test_public_widget_in_english_and_rate_limited(browser, tmp_path, docs_store, embedder):
    server = _server(tmp_path, docs_store, embedder, public_per_minute=2)
    try:
        page = _page(browser, locale="en-GB")
        _public_ready(page, server.url)
        page.wait_for_selector("#public-send:text('Send')")  # English from the browser's language
        for n in range(2):
            _ask(page, "#public-question", "#public-send", "How fast must the duty officer answer a hand-over?")
            page.wait_for_function("document.querySelectorAll('#public-chat .message-row, #public-chat "
                                   f"[data-testid=\"bot\"]').length >= {n + 1}")
            page.wait_for_timeout(1500)
        _ask(page, "#public-question", "#public-send", "What documents are needed?")
        page.wait_for_selector("#public-status :text('Too many requests')")
        _shot(page, "public-rate-limited.png")
        page.context.close()
    finally:
        server.stop()
