"""PDF and .docx files, made here with fpdf2 and python-docx, read through the real readers."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from index.models import Passage
from ingest.documents import DocumentError, docx_to_text, pdf_to_text
from ingest.readers import discover, read_file

PAGE_TEXT = [
    "Gazprom and SOCAR signed a memorandum on gas supplies in Baku.",
    "The second page explains the pipeline route through Georgia.",
    "The third page lists the engineering firms that bid for the work.",
]


def make_pdf(
    pages: list[str], *, title: str | None = "Caspian gas deals", password: str | None = None
) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_author("Ana Ruiz")
    if password:
        pdf.set_encryption(owner_password="owner-secret", user_password=password)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_image_only_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(30, 30, 30)
    pdf.rect(20, 20, 100, 60, style="F")  # drawn shapes, no text layer: what a scan looks like
    return bytes(pdf.output())


def make_docx(*, core_title: str | None = None) -> bytes:
    document = docx.Document()
    if core_title:
        document.core_properties.title = core_title
    document.core_properties.author = "Lena Hofstetter"
    document.add_heading("Glacier station goes solar", level=1)
    document.add_paragraph("The research hut no longer depends on a diesel generator.")
    document.add_heading("Winter power", level=2)
    document.add_paragraph("In winter a small wind turbine charges the batteries.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Year", "Retreat"
    table.cell(1, 0).text, table.cell(1, 1).text = "2024", "41 m"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_text_per_page_and_page_offsets() -> None:
    doc = pdf_to_text(make_pdf(PAGE_TEXT))
    assert doc.title == "Caspian gas deals"
    assert doc.author == "Ana Ruiz"
    assert len(doc.page_starts) == 3
    for i, expected in enumerate(PAGE_TEXT):
        start = doc.page_starts[i]
        end = doc.page_starts[i + 1] if i + 1 < len(doc.page_starts) else len(doc.text)
        assert doc.text[start:end].strip() == expected


def test_pdf_page_of_a_quote_through_the_reader(tmp_path: Path) -> None:
    (tmp_path / "deal.pdf").write_bytes(make_pdf(PAGE_TEXT))
    result = read_file(tmp_path / "deal.pdf", tmp_path)
    assert not result.failures
    (article,) = result.articles
    assert article.metadata["format"] == "pdf"
    assert article.metadata["pages"] == 3
    starts = tuple(article.metadata["page_starts"])
    quote = "pipeline route through Georgia"
    start = article.text.index(quote)
    # The quote equals the text at its offsets, and its page is the second.
    assert article.text[start : start + len(quote)] == quote
    passage = Passage(
        0,
        article.doc_id,
        article.title,
        None,
        article.text,
        0,
        len(article.text),
        page_starts=starts,
    )
    assert passage.page_of(start) == 2
    assert passage.page_of(article.text.index("Gazprom")) == 1
    assert passage.page_of(article.text.index("engineering firms")) == 3


def test_docx_headings_title_and_tables(tmp_path: Path) -> None:
    doc = docx_to_text(make_docx())
    assert doc.title == "Glacier station goes solar"
    assert doc.author == "Lena Hofstetter"
    assert doc.text.split("\n\n") == [
        "The research hut no longer depends on a diesel generator.",
        "Winter power",
        "In winter a small wind turbine charges the batteries.",
        "Year | Retreat",
        "2024 | 41 m",
    ]
    # The title property wins over the first heading, which then stays in the body.
    titled = docx_to_text(make_docx(core_title="Solar at 3,100 metres"))
    assert titled.title == "Solar at 3,100 metres"
    assert titled.text.startswith("Glacier station goes solar\n\n")
    (tmp_path / "station.docx").write_bytes(make_docx())
    (article,) = read_file(tmp_path / "station.docx", tmp_path).articles
    assert article.title == "Glacier station goes solar"
    assert article.metadata == {"path": "station.docx", "format": "docx"}


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("locked.pdf", lambda: make_pdf(PAGE_TEXT, password="open-sesame"), "encrypted PDF"),
        ("scan.pdf", make_image_only_pdf, "no text layer"),
        ("cut.pdf", lambda: make_pdf(PAGE_TEXT)[:400], "damaged or truncated PDF"),
        ("fake.pdf", lambda: b"this is not a pdf at all", "not a PDF file"),
        ("cut.docx", lambda: make_docx()[:300], "damaged or truncated .docx"),
        # An encrypted .docx is an OLE compound file; none can be made here without an
        # Office encryption library, so this is the OLE header such a file starts with.
        (
            "locked.docx",
            lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
            "password-protected .docx",
        ),
    ],
)
def test_bad_documents_are_reported_and_the_rest_is_read(
    tmp_path: Path, name: str, make: object, reason: str
) -> None:
    assert callable(make)
    (tmp_path / name).write_bytes(make())
    (tmp_path / "good.pdf").write_bytes(make_pdf(PAGE_TEXT))
    files, failures = discover([tmp_path])
    assert not failures
    results = [read_file(path, root) for path, root in files]
    failed = [f for r in results for f in r.failures]
    read = [a for r in results for a in r.articles]
    assert [f.source for f in failed] == [name]
    assert reason in failed[0].reason
    assert [a.doc_id for a in read] == ["good.pdf"]


def test_encrypted_pdf_with_empty_open_password_is_read() -> None:
    doc = pdf_to_text(make_pdf(PAGE_TEXT, password=""))
    assert "Gazprom" in doc.text


def test_document_error_is_a_value_error() -> None:
    with pytest.raises(DocumentError):
        pdf_to_text(b"%PDF-1.4\n%%EOF")
