"""The public citizen widget: a minimal chat over public documents only.

What a citizen gets: a notice that answers come from official documents and
may need checking; answers with their sources; thumbs up/down with reasons; a
"talk to an officer" button that records the question for staff. What they
never get: internal documents (the audience is fixed to ``public`` here, not
taken from the page), uploads, or stack traces (every fault becomes a short
message). Each client address may send ``ASSISTANT_PUBLIC_PER_MINUTE``
requests a minute, shared with the public HTTP API.
"""

from __future__ import annotations

import logging

import gradio as gr

from assistant.answering import Answer
from assistant.conversation import Turn
from assistant.guardrails import QuestionError
from assistant.records import RecordsError
from assistant.services import Services
from assistant.ui.i18n import LANG_CHOICES, pick_language, t
from assistant.ui.common import reason_choices, record_feedback
from assistant.ui.render import chat_text, sources_html

log = logging.getLogger("assistant.ui")

AUDIENCE = "public"  # never from the request


def _limited(services: Services, request: gr.Request, code: str) -> str | None:
    wait = services.public_wait(request)
    return t("rate_limited", code, seconds=wait) if wait else None


def build_public(services: Services) -> gr.Blocks:
    with gr.Blocks(title="Hỏi đáp thủ tục hành chính / Ask about public services", analytics_enabled=False) as page:
        lang = gr.State("vi")
        turns = gr.State([])
        last = gr.State(None)
        with gr.Row(equal_height=True):
            title_md = gr.Markdown(elem_id="public-title")
            lang_radio = gr.Radio(LANG_CHOICES, value="vi", show_label=False, elem_id="lang-toggle", scale=0,
                                  min_width=220)
        notice = gr.Markdown(elem_id="public-notice")
        chat = gr.Chatbot(elem_id="public-chat", height=360, show_label=False, feedback_options=None)
        with gr.Row():
            question = gr.Textbox(elem_id="public-question", show_label=False, scale=6, max_lines=3)
            send = gr.Button("Gửi", variant="primary", elem_id="public-send", scale=1, min_width=80)
        status = gr.Markdown(elem_id="public-status")
        with gr.Accordion("Nguồn", open=False, elem_id="public-sources-box") as sources_box:
            sources = gr.HTML(elem_id="public-sources")
        with gr.Row():
            handoff = gr.Button(elem_id="public-handoff", size="sm")
            up = gr.Button("👍", elem_id="public-up", size="sm")
            down = gr.Button("👎", elem_id="public-down", size="sm")
        with gr.Accordion("Lý do", open=False, elem_id="public-feedback-box") as feedback_box:
            reasons = gr.CheckboxGroup(choices=reason_choices("vi"), elem_id="public-reasons", show_label=False)
            comment = gr.Textbox(elem_id="public-comment", max_lines=3)

        def relabel(code: str):
            return (
                code,
                f"### {t('public_title', code)}",
                t("public_notice", code),
                gr.update(placeholder=t("question_ph", code)),
                gr.update(value=t("send", code)),
                gr.update(label=t("sources", code)),
                gr.update(value=t("handoff", code)),
                gr.update(value=t("thumbs_up", code)),
                gr.update(value=t("thumbs_down", code)),
                gr.update(label=t("reasons", code)),
                gr.update(choices=reason_choices(code)),
                gr.update(label=t("comment", code)),
            )

        label_outputs = [lang, title_md, notice, question, send, sources_box, handoff, up, down, feedback_box,
                         reasons, comment]

        def on_load(request: gr.Request):
            code = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
            return (gr.update(value=code), *relabel(code))

        page.load(on_load, None, [lang_radio, *label_outputs])
        lang_radio.change(relabel, [lang_radio], label_outputs)

        def ask(text: str, history: list, past: list, code: str, request: gr.Request):
            text = (text or "").strip()
            if not text:
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), t("question_ph", code)
                return
            if message := _limited(services, request, code):
                yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"{message}"
                return
            history = list(history or []) + [{"role": "user", "content": text}, {"role": "assistant", "content": "…"}]
            yield history, "", gr.skip(), None, "", ""
            answer, streamed = None, ""
            try:
                for piece in services.ask_stream(text, audience=AUDIENCE, surface="public",
                                                 history=[Turn(*p) for p in past]):
                    if isinstance(piece, Answer):
                        answer = piece
                    else:
                        streamed += piece
                        history[-1] = {"role": "assistant", "content": streamed}
                        yield history, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            except QuestionError as exc:
                yield history[:-2], text, gr.skip(), None, "", f"{exc}"
                return
            except Exception:  # noqa: BLE001 — citizens see a message, never a trace
                log.exception("public ask failed")
                history[-1] = {"role": "assistant", "content": t("error", code)}
                yield history, gr.skip(), gr.skip(), None, "", ""
                return
            assert answer is not None
            history[-1] = {"role": "assistant", "content": chat_text(answer, code)}
            past = (list(past or []) + [(answer.question, answer.text)])[-4:]
            chunks = services.assistant.store.get_chunks([c.chunk_id for c in answer.citations])
            yield history, "", past, answer, sources_html(answer, chunks, code) if answer.citations else "", ""

        outputs = [chat, question, turns, last, sources, status]
        for trigger in (send.click, question.submit):
            trigger(ask, [question, chat, turns, lang], outputs)

        def to_officer(answer: Answer | None, text: str, code: str, request: gr.Request):
            asked = (answer.question if answer else "") or (text or "").strip()
            if not asked:
                return t("handoff_nothing", code)
            if message := _limited(services, request, code):
                return f"{message}"
            try:
                hid = services.records.add_handoff(surface="public", question=asked, language=code)
            except RecordsError as exc:
                return f"{exc}"
            return t("handoff_done", code, id=hid)

        handoff.click(to_officer, [last, question, lang], [status])

        def rate(rating: int):
            def handler(answer: Answer | None, chosen: list, text: str, code: str, request: gr.Request):
                if message := _limited(services, request, code):
                    return f"{message}", gr.skip(), gr.skip()
                return record_feedback(services, "public", answer, rating, chosen, text, code), [], ""
            return handler

        up.click(rate(1), [last, reasons, comment, lang], [status, reasons, comment])
        down.click(rate(-1), [last, reasons, comment, lang], [status, reasons, comment])

    page.queue(default_concurrency_limit=8)  # concurrent users (ingest serialises itself)
    return page
