#!/usr/bin/env python3
"""Generate the bundled PDF ``docs/civil-servant-handbook-ai-assistant.pdf``.

The handbook is original text written for this project. Each numbered section
is printed on its own page so that tests can check that a phrase appears on a
given page (Section N is on page N).

The output is deterministic: a fixed creation date, a fixed file identifier and
only the built-in Helvetica font (no system font files), so running the script
twice produces byte-identical files.

Usage::

    python scripts/make_bundled_pdf.py [--output PATH]

Requires fpdf2 (``pip install fpdf2``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from fpdf import FPDF

TITLE = "Handbook for civil servants: using the AI assistant"
ISSUER = "Office of the Binh Minh Provincial People's Committee (Binh Minh is a fictional province)"
VERSION_LINE = "Version 1.0, issued 16 February 2026"
FIXED_DATE = dt.datetime(2026, 2, 16, 8, 0, 0, tzinfo=dt.timezone.utc)
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "civil-servant-handbook-ai-assistant.pdf"

# Each section: (heading, list of blocks). A block is either a paragraph
# string or a list of bullet strings. One section per page.
SECTIONS: list[tuple[str, list]] = [
    (
        "Section 1. Purpose and scope",
        [
            "This handbook explains how civil servants of Binh Minh province use the AI assistant "
            "when they look up rules on administrative procedures. It applies to every civil servant "
            "who has been given an account for the AI assistant, at commune, district and provincial "
            "level, including the staff of the Provincial Public Administration Service Centre.",
            "The AI assistant answers questions in Vietnamese or English from an approved collection "
            "of documents. The collection includes:",
            [
                "the Regulation on receiving and processing administrative dossiers online, issued with "
                "Decision 27/2024/QD-UBND of 15 July 2024;",
                "the procedural guide on civil-status and residence procedures for one-stop desks;",
                "the citizens' frequently asked questions on online public services;",
                "the template process for handling citizens' feedback and recommendations;",
                "summaries of the National Digital Transformation Programme (Decision 749/QD-TTg of "
                "3 June 2020).",
            ],
            "The assistant is part of the digital government pillar of the provincial digital "
            "transformation plan. It is a reference tool. It does not change any rule in the "
            "documents above, and where this handbook and a legal document differ, the legal "
            "document prevails.",
            "Keep this handbook at your desk. The content team reviews it every six months; the next "
            "review is due in August 2026.",
        ],
    ),
    (
        "Section 2. What the assistant does and does not do",
        [
            "The AI assistant supports civil servants; it does not replace them. Every decision on a "
            "dossier is taken, signed and owned by the competent officer.",
            "What the assistant does:",
            [
                "finds the rule that answers your question and summarises it in a few sentences;",
                "gives deadlines in working days, fees in VND, lists of required documents, the legal "
                "basis and the competent level of government (commune, district or province);",
                "shows the sources it used, so that you can check them yourself;",
                "tells you when the approved documents do not contain an answer.",
            ],
            "What the assistant does not do:",
            [
                "it does not accept, approve, reject or sign any dossier;",
                "it has no access to the dossier-processing system, the National Population Database "
                "or any citizen's file;",
                "it does not give legal advice on an individual case or a dispute;",
                "it does not replace the published Set of Administrative Procedures of the province.",
            ],
            "Treat every answer as a draft prepared by a well-read colleague: useful, usually right, "
            "and always to be checked before it reaches a citizen.",
        ],
    ),
    (
        "Section 3. How to check citations",
        [
            "Every answer ends with a list of sources. Each source gives the document name and, where "
            "relevant, the article (Dieu) and clause of a regulation or the page of a PDF file.",
            "Use the three-step check before you rely on an answer:",
            [
                "Step 1 - open the source. Click the citation and read the cited article or page, not "
                "only the summary.",
                "Step 2 - match the facts. Every number in the answer (deadline, fee, number of "
                "copies) must appear in the source exactly as written. A deadline of 03 working days "
                "is not the same as 3 days.",
                "Step 3 - check validity. Look at the date and the legal basis of the source. A fee "
                "reduction that has expired, or a replaced form, must not be applied.",
            ],
            "If a citation does not support the statement, or the source is outdated, press the "
            "Report citation button under the answer and do not use the answer. The content team "
            "reviews every report.",
            "An answer without a citation must not be used in official work. Never copy a figure "
            "into a reply to a citizen unless you have seen it in the source yourself.",
        ],
    ),
    (
        "Section 4. When the assistant refuses",
        [
            "Sometimes the assistant replies that it could not find the answer in the approved "
            "documents, or declines the request. This is expected behaviour, not a fault.",
            "The assistant declines when:",
            [
                "the question is outside the approved documents, for example the weather, stock "
                "prices, or the tax position of a named company;",
                "the question asks for information about a specific citizen;",
                "the question asks it to decide a specific dossier or to predict the outcome of a "
                "complaint;",
                "the question contains personal data; in that case it asks you to remove the data "
                "and ask again;",
                "a question asked through the citizen channel concerns internal documents that are "
                "not published.",
            ],
            "What to do after a refusal:",
            [
                "rephrase the question using the official name of the procedure;",
                "look the procedure up in the published Set of Administrative Procedures;",
                "if the question is still open, hand it over to a human officer (Section 5).",
            ],
            "Do not try to push the assistant into answering by rewording a request it has declined "
            "for data-protection reasons.",
        ],
    ),
    (
        "Section 5. Hand-over to a human officer",
        [
            "Citizen channel. When the assistant on the public service portal cannot answer a "
            "citizen, it offers to pass the question to a person. If the citizen agrees, a hand-over "
            "ticket is created with a code beginning with HT- (for example HT-000123) and is sent to "
            "the duty officer of the Provincial Public Administration Service Centre.",
            "The duty officer must reply to the citizen within 2 working hours. Tickets created "
            "outside office hours (7:30 to 17:00, Monday to Friday) are answered by 9:30 on the next "
            "working day.",
            "Staff channel. If you need a professional opinion, press Ask a colleague. The question "
            "is routed to the professional focal point:",
            [
                "civil-status questions: the Department of Justice;",
                "residence questions: the Provincial Police;",
                "questions on online submission, fees and the portal: the Provincial Public "
                "Administration Service Centre.",
            ],
            "When you take over a ticket, close it with a short note of the answer you gave and the "
            "source you used. Closed tickets help the content team improve the document collection.",
            "A hand-over is never a reason to miss a legal deadline: the deadlines in the Regulation "
            "keep running while a question is with a colleague.",
        ],
    ),
    (
        "Section 6. Data protection rules",
        [
            "Do not put personal data in your questions. Ask about the rule, not about the person. "
            "In particular, never type:",
            [
                "a citizen's full name together with a personal identification number;",
                "12-digit personal identification numbers, passport numbers or phone numbers;",
                "home addresses, health information, religion or other sensitive personal data;",
                "content copied from a citizen's dossier.",
            ],
            "Write \"citizen A\" or \"the applicant\" instead. For example: \"Applicant A registered "
            "the birth 70 days after the child was born. What is the fee?\"",
            "Legal basis: Decree 13/2023/ND-CP of 17 April 2023 on personal data protection, and "
            "Article 16, clause 1, point d of the provincial Regulation, which forbids putting "
            "citizens' personal information into tools that have not been authorised.",
            "Question logs are kept for 90 days and then deleted automatically. They are used only "
            "to review the quality of answers and are never used to make decisions about a citizen.",
            "If you enter personal data by mistake, report it within 24 hours to the data protection "
            "focal point (baovedulieu@dichvucong.example.vn) so that the log entry can be deleted.",
        ],
    ),
    (
        "Section 7. Escalation contacts",
        [
            "Use the contacts below. All addresses and numbers are those of the provincial help "
            "desk system.",
            [
                "Technical problems (login, error messages, slow answers): help desk 1900 0000, "
                "option 2 for civil servants; hotro@dichvucong.example.vn; Monday to Friday, "
                "7:30 to 17:00.",
                "Wrong or outdated content in an answer: content team, noidung@dichvucong.example.vn. "
                "Confirmed errors are corrected within 5 working days.",
                "Personal data entered by mistake or disclosed: data protection focal point, "
                "baovedulieu@dichvucong.example.vn, within 24 hours.",
                "Suspected information security incident (for example a hacked account): provincial "
                "incident response team, attt@dichvucong.example.vn; report immediately and no later "
                "than 1 hour after you notice it.",
                "Professional questions on civil status: the Department of Justice. Professional "
                "questions on residence: the Provincial Police.",
            ],
            "If a contact does not respond within the times above, inform the head of your unit, "
            "who escalates the matter to the Office of the Provincial People's Committee.",
            "End of handbook.",
        ],
    ),
]


class Handbook(FPDF):
    def header(self) -> None:  # noqa: D401 - fpdf2 hook
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, TITLE, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(4)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:  # noqa: D401 - fpdf2 hook
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 8, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _write_blocks(pdf: FPDF, blocks: list) -> None:
    for block in blocks:
        if isinstance(block, str):
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, block, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        else:
            pdf.set_font("Helvetica", "", 11)
            for item in block:
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(5, 6, "-")
                pdf.multi_cell(0, 6, item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            pdf.ln(1)


def build(output: Path) -> Path:
    pdf = Handbook(format="A4")
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.alias_nb_pages()
    pdf.set_title(TITLE)
    pdf.set_author("Office of the Binh Minh Provincial People's Committee")
    pdf.set_subject("Using the AI assistant: citations, refusals, hand-over, data protection")
    pdf.set_keywords("AI assistant, civil servants, handbook, digital government")
    pdf.set_creator("scripts/make_bundled_pdf.py")
    pdf.set_producer("fpdf2")
    pdf.set_lang("en")
    pdf.set_creation_date(FIXED_DATE)
    # Fixed document identifier so that output is byte-for-byte reproducible.
    pdf.file_id = lambda: "<5B1E0A7C3D2F4E6A8B9C0D1E2F3A4B5C><5B1E0A7C3D2F4E6A8B9C0D1E2F3A4B5C>"

    for index, (heading, blocks) in enumerate(SECTIONS):
        pdf.add_page()
        if index == 0:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 9, TITLE, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5, ISSUER, new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 5, VERSION_LINE, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(6)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        _write_blocks(pdf, blocks)
        if pdf.page_no() != index + 1:
            raise RuntimeError(f"{heading!r} overflowed onto another page")

    output.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(output))
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    path = build(args.output)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
