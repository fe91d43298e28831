"""Multipart uploads streamed straight to a file in the data dir as they arrive: never held in memory,
written once (a spooled temporary file and a copy would write a 2 GB upload twice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from app.core.errors import InvalidInput

# Every form the pages post holds one file at most and far fewer fields than this; a form of 100,000
# parts is refused at the limit instead of being parsed part by part (issue 18).
FORM_MAX_FIELDS = 200
FORM_MAX_FILES = 1
UPLOAD_MAX_PARTS = 32  # an API upload: the file, and a few fields


@dataclass
class Upload:
    path: Path | None = None
    filename: str = "upload.jsonl"
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


class _Receiver:
    """python-multipart callbacks: the file part goes to disk, small fields to memory."""

    def __init__(self, upload: Upload, *, dest_dir: Path, max_bytes: int, file_field: str) -> None:
        self.upload, self.dest_dir, self.max_bytes, self.file_field = upload, dest_dir, max_bytes, file_field
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.name = ""
        self.field = bytearray()
        self.out: BinaryIO | None = None
        self.parts = 0

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": lambda data, start, end: self.header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > UPLOAD_MAX_PARTS:
            raise InvalidInput(
                f"the form has more than {UPLOAD_MAX_PARTS} parts; send the file and its fields only"
            )
        self.headers.clear()

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode()
        if not self.name:
            raise InvalidInput(
                "every part of the form needs a name (Content-Disposition: form-data; name=...)"
            )
        self.field = bytearray()
        if self.name == self.file_field and b"filename" in options:
            if self.upload.path is not None:
                raise InvalidInput("send one file per upload")
            self.upload.filename = options[b"filename"].decode(errors="replace") or self.upload.filename
            self.upload.path = self.dest_dir / f"{uuid.uuid4().hex}.upload"
            self.out = self.upload.path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.upload.size += end - start
            if self.upload.size > self.max_bytes:
                raise InvalidInput(f"the file is larger than {self.max_bytes // 2**20} MB")
            self.out.write(data[start:end])
        else:
            if len(self.field) + end - start > 64 * 1024:
                raise InvalidInput("a form field is too long")
            self.field.extend(data[start:end])

    def on_part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        elif self.name:
            if len(self.upload.fields) >= 20:
                raise InvalidInput("the form has too many fields")
            self.upload.fields[self.name] = self.field.decode(errors="replace")

    def abort(self) -> None:
        if self.out is not None:
            self.out.close()
        if self.upload.path is not None:
            self.upload.path.unlink(missing_ok=True)


async def receive_upload(
    request: Request, *, dest_dir: Path, max_bytes: int, file_field: str = "file"
) -> Upload:
    """The `file` part written to dest_dir, and the other form fields; the caller removes the file."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput("send the file as multipart/form-data with a field named 'file'")
    upload = Upload()
    receiver = _Receiver(upload, dest_dir=dest_dir, max_bytes=max_bytes, file_field=file_field)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException:
        receiver.abort()
        raise
    if upload.path is None:
        raise InvalidInput("the form has no file in a field named 'file'")
    return upload
