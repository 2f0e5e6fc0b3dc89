"""PDF and Word (.docx) files to article text, with the page each character came from.

A PDF's text is read page by page (pypdf); the character offset where each page starts in
the stored text is kept (``page_starts``), so a citation can name the page of its quote.
A .docx is read paragraph by paragraph (python-docx), tables row by row; its title is the
document's title property, else its first Title or Heading paragraph.

Files that cannot give text raise :class:`DocumentError` with a reason a user can act on:
password protection, no text layer (a scan), or a damaged file.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["DocumentError", "DocumentText", "docx_to_text", "pdf_to_text"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ud800-\udfff]")
_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns on every odd object


class DocumentError(ValueError):
    """Why a file gives no text."""


@dataclass(frozen=True)
class DocumentText:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    # Offset in ``text`` where page i + 1 starts (PDF only).
    page_starts: list[int] = field(default_factory=list)


def _tidy(text: str) -> str:
    """Lines stripped, runs of blank lines collapsed to one: paragraphs stay apart."""
    lines = [" ".join(line.split()) for line in _CONTROL.sub("", text).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _opt(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(_CONTROL.sub("", value).split())
    return None


def pdf_to_text(data: bytes) -> DocumentText:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise DocumentError("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted only against editing, with an empty open password.
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # pypdf raises several types for unsupported ciphers
                opened = False
            if not opened:
                raise DocumentError("encrypted PDF (it needs a password); skipped")
        pages = [_tidy(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(f"damaged or truncated PDF ({exc}); skipped") from None
    except RecursionError:
        raise DocumentError("damaged PDF (its objects nest without end); skipped") from None
    if not any(pages):
        raise DocumentError(
            "PDF has no text layer (a scan or images only); run OCR on it first; skipped"
        )
    text_parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        if text_parts:
            offset += 2  # the "\n\n" between pages
        starts.append(offset)
        text_parts.append(page)
        offset += len(page)
    text = "\n\n".join(text_parts)
    title = author = date = None
    if info is not None:
        title, author = _opt(info.get("/Title")), _opt(info.get("/Author"))
        if m := _PDF_DATE.match(str(info.get("/CreationDate") or "")):
            date = "-".join(part for part in m.groups() if part)
    return DocumentText(text, title, author, date, starts)


def docx_to_text(data: bytes) -> DocumentText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if data.startswith(_OLE_MAGIC):
        raise DocumentError(
            "password-protected .docx or an old binary .doc; save it as an unprotected .docx"
        )
    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs: list[str] = []
        title: str | None = _opt(document.core_properties.title)
        title_from_body = False
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [_tidy(cell.text) for cell in row.cells]
                    line = " | ".join(c for c in dict.fromkeys(cells) if c)  # merged cells repeat
                    if line:
                        paragraphs.append(line)
                continue
            text = _tidy(block.text)
            if not text:
                continue
            style = (block.style.name if block.style is not None else "") or ""
            is_heading = style == "Title" or style.startswith("Heading")
            if is_heading and title is None:
                title, title_from_body = text, True
                continue  # the title is metadata, not the first paragraph
            paragraphs.append(text)
        author = _opt(document.core_properties.author)
        created = document.core_properties.created
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise DocumentError(f"damaged or truncated .docx ({exc}); skipped") from None
    except Exception as exc:  # zipfile and lxml errors of a broken package
        raise DocumentError(f"damaged or truncated .docx ({type(exc).__name__}); skipped") from None
    if not paragraphs:
        if title_from_body and title:
            paragraphs = [title]  # a one-heading file: keep its text rather than lose it
        else:
            raise DocumentError("empty: no text in the .docx")
    date = created.date().isoformat() if isinstance(created, datetime) else None
    return DocumentText("\n\n".join(paragraphs), title, author, date)
