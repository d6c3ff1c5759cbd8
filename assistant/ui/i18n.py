"""Vietnamese and English text of the web pages, in one table.

The language is chosen from the browser (``Accept-Language``), a ``?lang=``
parameter, or the toggle on each page. ``t(key, lang)`` falls back to
Vietnamese, the language of the documents, for a key missing in English.
"""

from __future__ import annotations

LANGS = ("vi", "en")
LANG_CHOICES = [("Tiếng Việt", "vi"), ("English", "en")]

TEXT: dict[str, dict[str, str]] = {
    "staff_title": {"vi": "Trợ lý văn bản — Không gian làm việc của cán bộ",
                    "en": "Policy assistant — staff workspace"},
    "public_title": {"vi": "Hỏi đáp thủ tục hành chính", "en": "Ask about public services"},
    "signed_in_as": {"vi": "Đăng nhập: **{user}** · [Đăng xuất](/logout)",
                     "en": "Signed in as **{user}** · [Sign out](/logout)"},
    "tab_ask": {"vi": "Hỏi đáp", "en": "Ask"},
    "tab_docs": {"vi": "Tài liệu", "en": "Documents"},
    "tab_queue": {"vi": "Phản hồi & chuyển cán bộ", "en": "Feedback & hand-offs"},
    "question": {"vi": "Câu hỏi", "en": "Question"},
    "question_ph": {"vi": "Ví dụ: Lệ phí cấp bản sao trích lục hộ tịch là bao nhiêu?",
                    "en": "e.g. How long does the duty officer have to answer a hand-over?"},
    "send": {"vi": "Gửi", "en": "Send"},
    "new_chat": {"vi": "Cuộc hỏi mới", "en": "New conversation"},
    "chat": {"vi": "Hội thoại", "en": "Conversation"},
    "sources": {"vi": "Nguồn trích dẫn", "en": "Sources"},
    "no_sources": {"vi": "Chưa có nguồn: hãy đặt câu hỏi.", "en": "No sources yet: ask a question."},
    "filters": {"vi": "Bộ lọc", "en": "Filters"},
    "filter_docs": {"vi": "Chỉ tìm trong các tài liệu", "en": "Only search these documents"},
    "date_from": {"vi": "Cập nhật từ ngày (YYYY-MM-DD)", "en": "Updated from (YYYY-MM-DD)"},
    "date_to": {"vi": "Đến ngày (YYYY-MM-DD)", "en": "Updated until (YYYY-MM-DD)"},
    "bad_date": {"vi": "Ngày không hợp lệ: {value}. Dùng dạng YYYY-MM-DD, ví dụ 2026-01-31.",
                 "en": "Not a date: {value}. Use YYYY-MM-DD, e.g. 2026-01-31."},
    "no_docs_match": {"vi": "Không có tài liệu nào khớp bộ lọc; hãy nới rộng bộ lọc.",
                      "en": "No document matches the filters; widen them."},
    "note_extractive": {"vi": "Câu trả lời trích nguyên văn từ văn bản (không dùng mô hình ngôn ngữ). Hãy kiểm tra nguồn trước khi sử dụng.",
                        "en": "This answer quotes the documents word for word (no language model). Check the sources before relying on it."},
    "note_llm": {"vi": "Câu trả lời do mô hình ngôn ngữ viết từ các nguồn bên cạnh; mỗi câu đã được đối chiếu với nguồn.",
                 "en": "A language model wrote this answer from the sources beside it; each sentence was checked against them."},
    "note_refused": {"vi": "Trợ lý không tìm thấy căn cứ trong tài liệu nên không trả lời. Hãy chuyển câu hỏi cho cán bộ phụ trách.",
                     "en": "The documents do not answer this, so the assistant did not. Pass the question to the officer in charge."},
    "export": {"vi": "Câu trả lời kèm trích dẫn (sao chép hoặc tải về)", "en": "Answer with citations (copy or download)"},
    "download": {"vi": "Tải về (.md)", "en": "Download (.md)"},
    "feedback": {"vi": "Câu trả lời này có hữu ích không?", "en": "Was this answer useful?"},
    "thumbs_up": {"vi": "Hữu ích", "en": "Useful"},
    "thumbs_down": {"vi": "Chưa tốt", "en": "Not good"},
    "reasons": {"vi": "Lý do", "en": "Reasons"},
    "reason_inaccurate": {"vi": "Không chính xác", "en": "Inaccurate"},
    "reason_incomplete": {"vi": "Chưa đầy đủ", "en": "Incomplete"},
    "reason_not_relevant": {"vi": "Không liên quan", "en": "Not relevant"},
    "comment": {"vi": "Góp ý thêm (không ghi thông tin cá nhân)", "en": "Anything else? (no personal details, please)"},
    "feedback_thanks": {"vi": "Cảm ơn, phản hồi đã được ghi nhận (số {id}).",
                        "en": "Thank you, your feedback is recorded (no. {id})."},
    "feedback_nothing": {"vi": "Chưa có câu trả lời nào để đánh giá.", "en": "There is no answer to rate yet."},
    "handoff": {"vi": "Chuyển cán bộ", "en": "Talk to an officer"},
    "handoff_done": {"vi": "Câu hỏi của bạn đã được chuyển cho cán bộ (số {id}). Cán bộ sẽ liên hệ qua kênh tiếp nhận chính thức.",
                     "en": "Your question was passed to an officer (no. {id}). They will follow up through the official channels."},
    "handoff_nothing": {"vi": "Hãy đặt câu hỏi trước, rồi bấm “Chuyển cán bộ”.",
                        "en": "Ask your question first, then press “Talk to an officer”."},
    "public_notice": {"vi": "Câu trả lời được trích từ văn bản chính thức công khai và có thể cần kiểm tra lại với cơ quan có thẩm quyền. Không nhập số CCCD, số điện thoại hay thông tin cá nhân.",
                      "en": "Answers are taken from official public documents and may need checking with the competent office. Do not type ID numbers, phone numbers or other personal details."},
    "rate_limited": {"vi": "Bạn gửi quá nhanh. Vui lòng thử lại sau {seconds} giây.",
                     "en": "Too many requests. Please try again in {seconds} seconds."},
    "error": {"vi": "Xin lỗi, đã có lỗi khi xử lý câu hỏi. Vui lòng thử lại hoặc bấm “Chuyển cán bộ”.",
              "en": "Sorry, something went wrong. Please try again or press “Talk to an officer”."},
    "docs_indexed": {"vi": "Tài liệu đã lập chỉ mục", "en": "Indexed documents"},
    "upload": {"vi": "Tải lên tài liệu (PDF, DOCX, HTML, MD, TXT)", "en": "Upload documents (PDF, DOCX, HTML, MD, TXT)"},
    "upload_access": {"vi": "Phạm vi", "en": "Access"},
    "access_public": {"vi": "Công khai", "en": "Public"},
    "access_internal": {"vi": "Nội bộ", "en": "Internal"},
    "ingest_uploads": {"vi": "Lập chỉ mục tệp đã tải lên", "en": "Index the uploaded files"},
    "reingest": {"vi": "Lập chỉ mục lại toàn bộ", "en": "Re-ingest everything"},
    "remove": {"vi": "Gỡ khỏi chỉ mục", "en": "Remove from the index"},
    "remove_pick": {"vi": "Tệp cần gỡ", "en": "File to remove"},
    "refresh": {"vi": "Làm mới", "en": "Refresh"},
    "removed": {"vi": "Đã gỡ {path} ({chunks} đoạn).", "en": "Removed {path} ({chunks} chunks)."},
    "nothing_uploaded": {"vi": "Chưa chọn tệp nào.", "en": "No file chosen."},
    "ingest_report": {"vi": "Xong trong {seconds:.1f} giây: thêm {added}, cập nhật {updated}, không đổi {unchanged}, gỡ {removed}, {chunks} đoạn mới. {failed}",
                      "en": "Done in {seconds:.1f} s: {added} added, {updated} updated, {unchanged} unchanged, {removed} removed, {chunks} new chunks. {failed}"},
    "ingest_failed": {"vi": "Lỗi: {items}", "en": "Failed: {items}"},
    "queue_feedback": {"vi": "Phản hồi gần đây", "en": "Recent feedback"},
    "queue_handoffs": {"vi": "Câu hỏi chờ cán bộ", "en": "Questions waiting for an officer"},
    "close_handoff": {"vi": "Đánh dấu đã xử lý", "en": "Mark as handled"},
    "handoff_id": {"vi": "Số yêu cầu", "en": "Request no."},
    "handoff_note": {"vi": "Ghi chú xử lý", "en": "Note"},
    "closed": {"vi": "Đã đóng yêu cầu số {id}.", "en": "Closed request no. {id}."},
    "not_found": {"vi": "Không có yêu cầu đang mở số {id}.", "en": "No open request no. {id}."},
    "language": {"vi": "Ngôn ngữ", "en": "Language"},
    "login_title": {"vi": "Đăng nhập cán bộ", "en": "Staff sign-in"},
    "login_user": {"vi": "Tên đăng nhập", "en": "User name"},
    "login_password": {"vi": "Mật khẩu", "en": "Password"},
    "login_button": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_public": {"vi": "Người dân: dùng trang hỏi đáp công khai", "en": "Citizens: use the public question page"},
}


def t(key: str, lang: str, **values) -> str:
    entry = TEXT[key]
    text = entry.get(lang) or entry["vi"]
    return text.format(**values) if values else text


def pick_language(accept_language: str | None, requested: str | None = None) -> str:
    """``?lang=`` wins; else the first of vi/en in the browser's Accept-Language; else Vietnamese."""
    if requested in LANGS:
        return requested
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "vi"
