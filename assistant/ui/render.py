"""How an answer is shown: the sources panel (HTML) and the export (Markdown).

Everything that comes from a document is escaped; the quoted passage is marked
inside the chunk it was taken from, so an officer sees it in context.
"""

from __future__ import annotations

import html
from typing import Mapping

from assistant.answering import Answer, Citation
from assistant.types import Chunk
from assistant.ui.i18n import t


def note_for(answer: Answer, lang: str) -> str:
    """The visible note: refused, extractive or written by an LLM."""
    if not answer.grounded:
        return t("note_refused", lang)
    return t("note_extractive" if answer.mode == "extractive" else "note_llm", lang)


def _marked(context: str, snippet: str) -> str:
    """The chunk text, escaped, with the quoted lines in <mark>."""
    context = context or snippet
    out = html.escape(context)
    for line in (ln.strip(" -•*") for ln in snippet.splitlines()):
        if len(line) >= 8 and html.escape(line) in out:
            out = out.replace(html.escape(line), f"<mark>{html.escape(line)}</mark>", 1)
    if "<mark>" not in out:  # the quote is not verbatim in the chunk: show it on its own
        out = f"<mark>{html.escape(snippet)}</mark>"
    return out


def sources_html(answer: Answer | None, chunks: Mapping[str, Chunk], lang: str) -> str:
    """One card per citation: number, document, page, section, the quote highlighted in context."""
    if answer is None or not answer.citations:
        return f'<div class="sources-empty">{html.escape(t("no_sources", lang))}</div>'
    cards = []
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        where = []
        if c.page:
            where.append(("trang " if lang == "vi" else "page ") + str(c.page))
        if c.section:
            where.append(c.section)
        cards.append(
            f'<div class="source-card" id="source-{c.n}">'
            f'<div class="source-head"><b>[{c.n}] {html.escape(c.title or c.doc_id)}</b></div>'
            f'<div class="source-where">{html.escape(" · ".join(where))}</div>'
            f'<div class="source-file"><code>{html.escape(c.source)}</code></div>'
            f'<blockquote class="source-quote">{_marked(chunk.text if chunk else "", c.snippet)}</blockquote>'
            f"</div>"
        )
    return '<div class="sources">' + "".join(cards) + "</div>"


def citation_lines(citations: list[Citation]) -> str:
    return "\n".join(f"[{c.n}] {c.label()} — {c.source}" for c in citations)


def chat_text(answer: Answer, lang: str, note: bool = True) -> str:
    """The answer as the chat shows it: text, then the short source list, then (optionally) the note."""
    parts = [answer.text.strip()]
    if answer.citations:
        parts.append("\n".join(f"[{c.n}] {c.label()}" for c in answer.citations))
    if note:
        parts.append(f"_{note_for(answer, lang)}_")
    return "\n\n".join(p for p in parts if p)


def export_markdown(answer: Answer | None, lang: str) -> str:
    """Question, answer, numbered citations with quotes: what an officer pastes into a reply."""
    if answer is None:
        return ""
    heading = ("Câu hỏi", "Trả lời", "Nguồn") if lang == "vi" else ("Question", "Answer", "Sources")
    lines = [f"**{heading[0]}:** {answer.question}", "", f"**{heading[1]}:**", "", answer.text.strip(), ""]
    if answer.citations:
        lines += [f"**{heading[2]}:**", ""]
        for c in answer.citations:
            lines.append(f"[{c.n}] {c.label()} — {c.source}")
            lines += [f"> {ln}" for ln in c.snippet.splitlines() if ln.strip()]
            lines.append("")
    lines.append(f"_{note_for(answer, lang)}_")
    return "\n".join(lines).strip() + "\n"
