"""Knowledge-base test material made in the test run (no binary files in the repository): a
PDF written with pypdf, a DOCX with python-docx, and a web page served by a local HTTP server."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

PDF_FACT = "The Pune branch of Sunrise Bank opens at 9:30 am and closes at 4:30 pm on weekdays."
DOCX_FACT = "Refunds for cancelled orders are credited within 7 working days to the original payment method."
WEB_FACT = "The warranty on the Zephyr 500 blender covers the motor for five years and the jar for one year."
FILLER = [
    "Sunrise Bank was founded in 1998 and serves customers across Maharashtra.",
    "Customers can open a savings account online with an Aadhaar card and a PAN card.",
    "The mobile app supports UPI payments, bill payments and fixed deposits.",
]
PDF_MIME = "application/pdf"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_pdf(*lines: str) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one line each)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    ops = ["BT", "/F1 10 Tf", "14 TL", "40 750 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops += [f"({escaped}) Tj", "T*"]
    ops.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(*paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


WEB_PAGE = (
    "<html><head><title>Zephyr</title><style>body {{color: red}}</style>"
    "<script>var secret = 'not indexed';</script></head>"
    "<body><h1>Zephyr 500 blender</h1><p>{fact}</p><p>Made in Chennai.</p></body></html>"
).format(fact=WEB_FACT)


@contextmanager
def serving_page(html: str = WEB_PAGE) -> Iterator[str]:
    """A local web server answering every GET with ``html``; yields its URL."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/zephyr"
    finally:
        server.shutdown()
        server.server_close()


async def upload(api: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes, mime: str) -> str:
    """The documented three steps: ask for the URL, PUT the bytes, confirm. The document id."""
    asked = await api.post(
        "/api/v2/documents/upload", json={"name": name, "file_size": len(data), "mime_type": mime}, headers=headers
    )
    assert asked.status_code == 200, asked.text
    ticket = asked.json()["data"]
    assert ticket["expires_in"] == 900
    url = httpx.URL(ticket["upload_url"])
    put = await api.put(url.raw_path.decode(), content=data, headers={"Content-Type": mime})
    assert put.status_code == 200, put.text
    confirmed = await api.post(f"/api/v2/documents/{ticket['document_id']}/confirm", headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["data"]["status"] == "processing"
    return str(ticket["document_id"])

