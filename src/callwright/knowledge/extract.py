"""Text out of a document's bytes: PDF (pypdf), DOCX (python-docx), plain text and Markdown, and
the HTML of a web link (the standard library's parser; scripts, styles and markup dropped)."""

from __future__ import annotations

import io
from html.parser import HTMLParser


class UnreadableDocument(Exception):
    """The bytes are not a document of the declared type (the message says why, for a partner)."""


def text_of(data: bytes, doc_type: str) -> str:
    reader = _READERS.get(doc_type)
    if reader is None:
        raise UnreadableDocument(f"documents of type {doc_type} cannot be read on this server")
    try:
        text = reader(data)
    except UnreadableDocument:
        raise
    except Exception as exc:  # a library's own error on a damaged file: say what kind it was
        raise UnreadableDocument(f"the file could not be read as {doc_type.upper()}: {type(exc).__name__}") from exc
    if not text.strip():
        raise UnreadableDocument(f"no text was found in the {doc_type.upper()} (a scanned document needs OCR)")
    return text


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise UnreadableDocument("the PDF is encrypted")
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(parts)


def _plain(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class _HtmlText(HTMLParser):
    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(data: bytes, charset: str | None = None) -> str:
    parser = _HtmlText()
    parser.feed(data.decode(charset or "utf-8", errors="replace"))
    parser.close()
    return "".join(parser.parts)


_READERS = {"pdf": _pdf, "docx": _docx, "txt": _plain, "md": _plain, "url": html_text}
