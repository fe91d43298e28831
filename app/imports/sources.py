"""What an uploaded file holds: its rows, and where those rows find their images (a .zip's own files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from app.imports.archive import ArchiveRefused, ZipArchive, is_zip
from app.imports.images import ImageSource, Urls
from app.imports.readers import read_rows
from app.imports.shapes.rows import RowError

Rows = Iterator[tuple[int, Any]]


@contextmanager
def rows_of(stream: BinaryIO, *, filename: str, urls: Urls = "defer") -> Iterator[tuple[Rows, ImageSource]]:
    """The rows of an upload (`read_rows`), and its images: a .zip (recognised by its bytes) holds one rows
    file and the images its rows name; any file's rows may carry images as data URIs or URLs (`urls`: what
    this import does with those, app/imports/images.py)."""
    if not (stream.seekable() and is_zip(stream)):
        yield read_rows(stream, filename=filename), ImageSource(urls=urls)
        return
    try:
        archive = ZipArchive(stream)
    except ArchiveRefused as exc:
        yield iter([(1, RowError(str(exc)))]), ImageSource()
        return
    try:
        with archive.open_rows() as inner:
            rows = read_rows(inner, filename=archive.rows_name)  # type: ignore[arg-type]
            yield rows, ImageSource(archive, urls=urls)
    finally:
        archive.close()
