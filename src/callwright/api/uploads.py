"""A CSV file uploaded as ``multipart/form-data``, read within a size bound.

Routes that take one declare no body parameter, so the partner is authenticated (and the target
found) before a byte of the upload is read; the bound holds whatever ``Content-Length`` says.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from callwright.domain.errors import BadRequest, CallwrightError, ValidationFailed

# Room for the form's own parts and headers around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


class PayloadTooLarge(CallwrightError):
    status_code = 413
    code = "payload_too_large"


async def read_csv_upload(request: Request, limit: int, *, fields: Iterable[str] = ()) -> tuple[bytes, dict[str, str]]:
    """The ``file`` part's bytes (at most ``limit``) and the text ``fields`` that were sent."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise CallwrightError(
            "send the file as multipart/form-data with a `file` part", code="unsupported_media_type", status_code=415
        )
    ceiling = limit + FORM_OVERHEAD_BYTES
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > ceiling:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes")

    async def bounded() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > ceiling:
                raise PayloadTooLarge(f"the upload is larger than {limit} bytes")
            yield chunk

    wanted = list(fields)
    try:
        form = await MultiPartParser(request.headers, bounded(), max_files=1, max_fields=len(wanted) + 2).parse()
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body could not be read: {exc.message}", code="invalid_multipart") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("file", "file is required: the CSV, as a file part named `file`")
        data = await upload.read()
        if len(data) > limit:
            raise PayloadTooLarge(f"the file is larger than {limit} bytes")
        values: dict[str, str] = {}
        for name in wanted:
            value = form.get(name)
            if isinstance(value, UploadFile):
                raise ValidationFailed(name, f"{name} must be a form field, not a file")
            if value:
                values[name] = value
        return data, values
    finally:
        await form.close()
