"""One document's bytes to its cleaned text and metadata, whatever the format.

Files on disk (``ingest.readers``), pages fetched over HTTP (``ingest.web``) and uploads
to the API all come through :func:`parse`, so a format reads the same wherever it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.clean import clean_text
from ingest.documents import DocumentError, docx_to_text, pdf_to_text
from ingest.html import html_to_text

__all__ = [
    "FORMAT_OF_MEDIA_TYPE",
    "FORMAT_OF_SUFFIX",
    "FormatError",
    "Parsed",
    "decode_text",
    "parse",
]

FORMAT_OF_SUFFIX = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
FORMAT_OF_MEDIA_TYPE = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}
_SNIFF_BYTES = 8192


class FormatError(ValueError):
    """Why a document gives no article; the message is meant for the user."""


@dataclass(frozen=True)
class Parsed:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None  # the canonical URL a page names
    metadata: dict[str, Any] = field(default_factory=dict)


def decode_text(data: bytes, offset: int = 0) -> str:
    """UTF-8 text; no other encoding is guessed, so nothing is silently mis-read.

    ``offset`` is where ``data`` starts in its file, so the reported byte can be found.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("UTF-16 text; re-save it as UTF-8")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise FormatError("binary file (not text); skipped")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not valid UTF-8 text (byte {offset + exc.start}); re-save it as UTF-8"
        ) from None
    if not text.strip():
        raise FormatError("empty: no text after cleaning")
    return text


def parse(data: bytes, fmt: str, *, url: str | None = None) -> Parsed:
    """Raises :class:`FormatError` when the document gives no text."""
    metadata: dict[str, Any] = {"format": fmt}
    if fmt in ("pdf", "docx"):
        try:
            doc = pdf_to_text(data) if fmt == "pdf" else docx_to_text(data)
        except DocumentError as exc:
            raise FormatError(str(exc)) from None
        if doc.page_starts:
            metadata["pages"] = len(doc.page_starts)
            metadata["page_starts"] = doc.page_starts
        return Parsed(doc.text, doc.title, doc.author, doc.date, None, metadata)
    if fmt not in ("txt", "md", "html"):
        raise FormatError(f"unsupported format {fmt!r}")
    text = decode_text(data)
    cleaned = (
        html_to_text(text, url=url) if fmt == "html" else clean_text(text, markdown=fmt == "md")
    )
    if not cleaned.text:
        raise FormatError("empty: no text after cleaning")
    if cleaned.source:
        metadata["publication"] = cleaned.source
    return Parsed(cleaned.text, cleaned.title, cleaned.author, cleaned.date, cleaned.url, metadata)
