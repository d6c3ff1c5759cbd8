"""The staff workspace (Gradio, behind the login page): ask, check sources, manage documents, see the queue.

Three tabs:

- **Ask**: streaming chat over public *and* internal documents; beside each
  answer a sources panel with every citation (document, page, article, the
  quoted passage marked in its chunk); filters by document and by the date the
  document was last updated; a visible note when the answer is extractive or
  refused; the answer with its citations as Markdown to copy or download;
  thumbs up/down with reasons and a comment.
- **Documents**: what is indexed; upload files (same loaders and size limit as
  ``assistant ingest``), re-ingest everything, remove a file; with progress.
- **Feedback & hand-offs**: recent feedback and the questions citizens passed
  to an officer, which staff mark as handled.

Every handler re-checks the session (``_user``): the page is never usable
without a valid staff login, even if the mount's own check were bypassed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import gradio as gr

from assistant.answering import Answer
from assistant.conversation import Turn
from assistant.guardrails import QuestionError
from assistant.loaders import SUPPORTED_SUFFIXES
from assistant.services import Services, UploadError
from assistant.store import StoreError
from assistant.ui.i18n import LANG_CHOICES, pick_language, t
from assistant.ui.common import reason_choices, record_feedback
from assistant.ui.render import chat_text, export_markdown, note_for, sources_html

log = logging.getLogger("assistant.ui")

DOC_HEADERS = {"vi": ["Tài liệu", "Mã", "Phạm vi", "Ngôn ngữ", "Số đoạn", "Cập nhật", "Tệp"],
               "en": ["Document", "Id", "Access", "Language", "Chunks", "Updated", "File"]}
FEEDBACK_HEADERS = {"vi": ["Số", "Thời gian", "Nơi gửi", "Đánh giá", "Lý do", "Câu hỏi", "Góp ý"],
                    "en": ["No.", "Time", "From", "Rating", "Reasons", "Question", "Comment"]}
HANDOFF_HEADERS = {"vi": ["Số", "Thời gian", "Nơi gửi", "Ngôn ngữ", "Câu hỏi", "Trạng thái"],
                   "en": ["No.", "Time", "From", "Language", "Question", "Status"]}


def _user(services: Services, request: gr.Request) -> str:
    user = services.staff_user(request)
    if not user:
        raise gr.Error("Phiên đăng nhập đã hết hạn. / Your session has expired: sign in again at /login.")
    return user


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def _date(value: str, lang: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise gr.Error(t("bad_date", lang, value=value)) from None


def build_staff(services: Services) -> gr.Blocks:
    store = services.assistant.store

    def doc_rows(docs) -> list[list]:
        return [[d.title, d.doc_id, d.access, d.language, d.chunks, _when(d.modified), d.path] for d in docs]

    def doc_choices(docs) -> list[tuple[str, str]]:
        first: dict[str, tuple[str, str]] = {}  # a document ingested under two paths is listed once
        for d in docs:
            first.setdefault(d.doc_id, (f"{d.title} ({d.access})", d.doc_id))
        return list(first.values())

    def feedback_rows(lang: str) -> list[list]:
        return [[f.id, _when(f.created), f.surface, t("thumbs_up" if f.rating > 0 else "thumbs_down", lang), ", ".join(f.reasons),
                 f.question, f.comment] for f in services.records.list_feedback(limit=200)]

    def handoff_rows() -> list[list]:
        return [[h.id, _when(h.created), h.surface, h.language, h.question, h.status]
                for h in services.records.list_handoffs("open")]

    def tables(lang: str):
        docs = store.documents()  # read once for the table and the filter
        return (
            gr.update(value=doc_rows(docs), headers=DOC_HEADERS[lang]),
            gr.update(choices=store.file_paths(), value=None),
            gr.update(choices=doc_choices(docs)),
            gr.update(value=feedback_rows(lang), headers=FEEDBACK_HEADERS[lang]),
            gr.update(value=handoff_rows(), headers=HANDOFF_HEADERS[lang]),
        )

    with gr.Blocks(title="Trợ lý văn bản — cán bộ / Policy assistant — staff", analytics_enabled=False) as page:
        lang = gr.State("vi")
        turns = gr.State([])
        last = gr.State(None)

        with gr.Row(equal_height=True):
            title_md = gr.Markdown(elem_id="staff-title")
            user_md = gr.Markdown(elem_id="staff-user")
            lang_radio = gr.Radio(LANG_CHOICES, value="vi", show_label=False, elem_id="lang-toggle", scale=0,
                                  min_width=220)

        with gr.Tabs():
            with gr.Tab("Hỏi đáp", id="ask", elem_id="tab-ask") as tab_ask:
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(elem_id="staff-chat", height=420, show_label=False,
                                          feedback_options=None)
                        note = gr.Markdown(elem_id="answer-note")
                        with gr.Row():
                            question = gr.Textbox(elem_id="staff-question", show_label=False, scale=6,
                                                  max_lines=4, autofocus=True)
                            send = gr.Button("Gửi", variant="primary", elem_id="staff-send", scale=1, min_width=80)
                            new = gr.Button("Cuộc hỏi mới", elem_id="staff-new", scale=1, min_width=80)
                        with gr.Accordion("Bộ lọc", open=False, elem_id="filters") as filters:
                            doc_filter = gr.Dropdown(multiselect=True, choices=[], elem_id="filter-docs")
                            with gr.Row():
                                date_from = gr.Textbox(elem_id="filter-from", max_lines=1)
                                date_to = gr.Textbox(elem_id="filter-to", max_lines=1)
                        with gr.Group(elem_id="feedback-box"):
                            fb_title = gr.Markdown()
                            with gr.Row():
                                up = gr.Button("👍", elem_id="staff-up", size="sm")
                                down = gr.Button("👎", elem_id="staff-down", size="sm")
                            reasons = gr.CheckboxGroup(choices=reason_choices("vi"), elem_id="staff-reasons")
                            comment = gr.Textbox(elem_id="staff-comment", max_lines=3)
                            fb_status = gr.Markdown(elem_id="staff-feedback-status")
                        with gr.Accordion("Xuất", open=False, elem_id="export-box") as export_box:
                            export = gr.Textbox(elem_id="answer-export", lines=8, buttons=["copy"],
                                                interactive=False, show_label=False)
                            download = gr.HTML(elem_id="answer-download")
                    with gr.Column(scale=2):
                        sources_title = gr.Markdown(elem_id="sources-title")
                        sources = gr.HTML(elem_id="sources-panel")

            with gr.Tab("Tài liệu", id="docs", elem_id="tab-docs") as tab_docs:
                docs_title = gr.Markdown()
                docs_table = gr.Dataframe(elem_id="docs-table", interactive=False, wrap=True)
                with gr.Row():
                    upload = gr.File(file_count="multiple", file_types=list(SUPPORTED_SUFFIXES),
                                     elem_id="upload-files", scale=3)
                    with gr.Column(scale=2):
                        upload_access = gr.Radio(elem_id="upload-access", value="public")
                        ingest_btn = gr.Button(variant="primary", elem_id="ingest-uploads")
                        reingest_btn = gr.Button(elem_id="reingest-all")
                with gr.Row():
                    remove_pick = gr.Dropdown(choices=[], elem_id="remove-pick", scale=4)
                    remove_btn = gr.Button(variant="stop", elem_id="remove-file", scale=1)
                docs_status = gr.Markdown(elem_id="docs-status")

            with gr.Tab("Phản hồi", id="queue", elem_id="tab-queue") as tab_queue:
                refresh = gr.Button(elem_id="queue-refresh", size="sm")
                handoffs_title = gr.Markdown()
                handoff_table = gr.Dataframe(elem_id="handoff-table", interactive=False, wrap=True)
                with gr.Row():
                    handoff_id = gr.Number(precision=0, elem_id="handoff-id", minimum=1)
                    handoff_note = gr.Textbox(elem_id="handoff-note", max_lines=2)
                    close_btn = gr.Button(elem_id="handoff-close")
                queue_status = gr.Markdown(elem_id="queue-status")
                feedback_title = gr.Markdown()
                feedback_table = gr.Dataframe(elem_id="feedback-table", interactive=False, wrap=True)

        # ------------------------------------------------------------ language

        def relabel(code: str, user: str):
            return (
                code,
                f"## {t('staff_title', code)}",
                t("signed_in_as", code, user=user),
                gr.update(label=t("question", code), placeholder=t("question_ph", code)),
                gr.update(value=t("send", code)),
                gr.update(value=t("new_chat", code)),
                gr.update(label=t("filters", code)),
                gr.update(label=t("filter_docs", code)),
                gr.update(label=t("date_from", code)),
                gr.update(label=t("date_to", code)),
                f"**{t('feedback', code)}**",
                gr.update(value=t("thumbs_up", code)),
                gr.update(value=t("thumbs_down", code)),
                gr.update(label=t("reasons", code), choices=reason_choices(code)),
                gr.update(label=t("comment", code)),
                gr.update(label=t("export", code)),
                gr.skip(),
                f"### {t('sources', code)}",
                gr.update(label=t("tab_ask", code)),
                gr.update(label=t("tab_docs", code)),
                gr.update(label=t("tab_queue", code)),
                f"### {t('docs_indexed', code)}",
                gr.update(label=t("upload", code)),
                gr.update(label=t("upload_access", code),
                          choices=[(t("access_public", code), "public"), (t("access_internal", code), "internal")]),
                gr.update(value=t("ingest_uploads", code)),
                gr.update(value=t("reingest", code)),
                gr.update(label=t("remove_pick", code)),
                gr.update(value=t("remove", code)),
                gr.update(value=t("refresh", code)),
                f"### {t('queue_handoffs', code)}",
                gr.update(label=t("handoff_id", code)),
                gr.update(label=t("handoff_note", code)),
                gr.update(value=t("close_handoff", code)),
                f"### {t('queue_feedback', code)}",
            )

        label_outputs = [lang, title_md, user_md, question, send, new, filters, doc_filter, date_from, date_to,
                         fb_title, up, down, reasons, comment, export_box, download, sources_title, tab_ask,
                         tab_docs, tab_queue, docs_title, upload, upload_access, ingest_btn, reingest_btn,
                         remove_pick, remove_btn, refresh, handoffs_title, handoff_id, handoff_note, close_btn,
                         feedback_title]
        table_outputs = [docs_table, remove_pick, doc_filter, feedback_table, handoff_table]

        def on_load(request: gr.Request):
            user = _user(services, request)
            code = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
            return (gr.update(value=code), *relabel(code, user), sources_html(None, {}, code), *tables(code))

        page.load(on_load, None, [lang_radio, *label_outputs, sources, *table_outputs])

        def on_lang(code: str, answer: Answer | None, request: gr.Request):
            user = _user(services, request)
            html = sources_html(answer, _chunks(answer), code)
            return (*relabel(code, user), html, note_for(answer, code) if answer else "", *tables(code))

        lang_radio.change(on_lang, [lang_radio, last], [*label_outputs, sources, note, *table_outputs])

        # ------------------------------------------------------------ asking

        def _chunks(answer: Answer | None):
            return store.get_chunks([c.chunk_id for c in answer.citations]) if answer and answer.citations else {}

        def ask(text: str, history: list, past: list, code: str, docs: list, d_from: str, d_to: str,
                request: gr.Request):
            user = _user(services, request)
            text = (text or "").strip()
            if not text:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("question_ph", code), gr.skip(), gr.skip(), gr.skip()
                return
            ids = services.doc_ids_for("staff", docs, _date(d_from, code), _date(d_to, code))
            if ids is not None and not ids:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("no_docs_match", code), gr.skip(), gr.skip(), gr.skip()
                return
            history = list(history or []) + [{"role": "user", "content": text}, {"role": "assistant", "content": "…"}]
            yield history, "", gr.skip(), None, sources_html(None, {}, code), "", "", "", ""
            answer, streamed = None, ""
            try:
                for piece in services.ask_stream(text, audience="staff", surface="staff", user=user,
                                                 history=[Turn(*p) for p in past], doc_ids=ids):
                    if isinstance(piece, Answer):
                        answer = piece
                    else:
                        streamed += piece
                        history[-1] = {"role": "assistant", "content": streamed}
                        yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            except QuestionError as exc:
                history = history[:-2]
                yield history, text, gr.skip(), None, gr.skip(), f"{exc}", "", gr.skip(), ""
                return
            except Exception:  # noqa: BLE001 — a fault must not leave the page stuck
                log.exception("staff ask failed")
                history[-1] = {"role": "assistant", "content": t("error", code)}
                yield history, gr.skip(), gr.skip(), None, gr.skip(), t("error", code), "", gr.skip(), ""
                return
            assert answer is not None
            history[-1] = {"role": "assistant", "content": chat_text(answer, code, note=False)}
            md = export_markdown(answer, code)
            link = (f'<a id="answer-download-link" href="/export/{services.keep_export(user, md)}" '
                    f'download="answer.md">{t("download", code)}</a>')
            past = (list(past or []) + [(answer.question, answer.text)])[-6:]
            yield (history, "", past, answer, sources_html(answer, _chunks(answer), code), note_for(answer, code),
                   md, link, "")

        ask_outputs = [chat, question, turns, last, sources, note, export, download, fb_status]
        for trigger in (send.click, question.submit):
            trigger(ask, [question, chat, turns, lang, doc_filter, date_from, date_to], ask_outputs)

        def new_chat(code: str):
            return [], [], None, sources_html(None, {}, code), "", "", "", ""

        new.click(new_chat, [lang], [chat, turns, last, sources, note, export, download, fb_status])

        # ------------------------------------------------------------ feedback

        def rate(rating: int):
            def handler(answer: Answer | None, chosen: list, text: str, code: str, request: gr.Request):
                user = _user(services, request)
                message = record_feedback(services, "staff", answer, rating, chosen, text, code, user)
                return message, [], ""
            return handler

        up.click(rate(1), [last, reasons, comment, lang], [fb_status, reasons, comment])
        down.click(rate(-1), [last, reasons, comment, lang], [fb_status, reasons, comment])

        # ------------------------------------------------------------ documents

        def report_text(report, code: str) -> str:
            failed = (t("ingest_failed", code, items="; ".join(f"{Path(f.path).name}: {f.error}" for f in report.failed))
                      if report.failed else "")
            return t("ingest_report", code, seconds=report.seconds, added=report.added, updated=report.updated,
                     unchanged=report.unchanged, removed=report.removed, chunks=report.chunks, failed=failed)

        def ingest_uploads(files, access: str, code: str, request: gr.Request,
                           progress=gr.Progress(track_tqdm=True)):
            _user(services, request)
            if not files:
                return (t("nothing_uploaded", code), *tables(code), None)
            saved, problems = [], []
            for f in files:
                src = getattr(f, "name", f)
                try:
                    saved.append(services.save_upload(src, Path(getattr(f, "orig_name", None) or src).name, access))
                except (UploadError, OSError) as exc:
                    problems.append(str(exc))
            message = ""
            if saved:
                try:
                    report = services.ingest(saved)
                except StoreError as exc:  # disk full, read-only store: say so, keep what is stored
                    return (str(exc), *tables(code), None)
                for failure in report.failed:  # a file that cannot be read is not kept
                    Path(failure.path).unlink(missing_ok=True)
                message = report_text(report, code)
            if problems:
                message += "\n\n" + "\n\n".join(problems)
            return (message, *tables(code), None)

        ingest_btn.click(ingest_uploads, [upload, upload_access, lang], [docs_status, *table_outputs, upload])

        def reingest(code: str, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
            _user(services, request)
            try:
                return (report_text(services.reingest_all(), code), *tables(code))
            except StoreError as exc:
                return (str(exc), *tables(code))

        reingest_btn.click(reingest, [lang], [docs_status, *table_outputs])

        def remove(path: str | None, code: str, request: gr.Request):
            _user(services, request)
            if not path:
                return (t("nothing_uploaded", code), *tables(code))
            try:
                chunks = services.remove_path(path)
            except StoreError as exc:
                return (str(exc), *tables(code))
            return (t("removed", code, path=Path(path).name, chunks=chunks), *tables(code))

        remove_btn.click(remove, [remove_pick, lang], [docs_status, *table_outputs])

        # ------------------------------------------------------------ queue

        def refresh_tables(code: str, request: gr.Request):
            _user(services, request)
            return tables(code)

        refresh.click(refresh_tables, [lang], table_outputs)
        tab_queue.select(refresh_tables, [lang], table_outputs)

        def close_handoff(number, text: str, code: str, request: gr.Request):
            user = _user(services, request)
            if not number:
                return (t("not_found", code, id="?"), *tables(code))
            ok = services.records.close_handoff(int(number), by=user, note=text or "")
            message = t("closed" if ok else "not_found", code, id=int(number))
            return (message, *tables(code))

        close_btn.click(close_handoff, [handoff_id, handoff_note, lang], [queue_status, *table_outputs])

    page.queue(default_concurrency_limit=8)  # concurrent users (ingest serialises itself)
    return page
