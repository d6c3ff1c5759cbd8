"""What both pages share: the style sheet, the feedback reasons, recording a rating."""

from __future__ import annotations

from assistant.answering import Answer
from assistant.records import REASONS, RecordsError
from assistant.services import Services
from assistant.ui.i18n import t

CSS = """
.source-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin-bottom: 8px;}
.source-where {color: #57606a; font-size: 0.9em;}
.source-file code {font-size: 0.8em;}
.source-quote {margin: 6px 0 0 0; padding-left: 8px; border-left: 3px solid #d0d7de; white-space: pre-wrap;}
.source-quote mark {background: #fff3b0; padding: 0 2px;}
"""


def reason_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"reason_{r}", lang), r) for r in REASONS]


def record_feedback(services: Services, surface: str, answer: Answer | None, rating: int, reasons, comment: str,
                    lang: str, user: str = "") -> str:
    """Store one rating of the last answer; the message to show. Shared by both surfaces."""
    if answer is None:
        return t("feedback_nothing", lang)
    try:
        fid = services.records.add_feedback(
            surface=surface, rating=rating, question=answer.question, answer=answer.text, reasons=reasons or [],
            comment=comment or "", citations=sorted({c.doc_id for c in answer.citations}),
            language=answer.language, user=user)
    except RecordsError as exc:
        return f"{exc}"
    return t("feedback_thanks", lang, id=fid)
