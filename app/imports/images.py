"""The images of imported rows: a row's `images` list names each (a path in the uploaded .zip, a
`data:image/…;base64,` URI, or an http(s) URL the worker fetches), in the order of the `<image>`
placeholders in its messages; each is checked (app/media/images.py), stored under its hash, and the row
keeps `meta["images"]` refs to them."""

from __future__ import annotations

from typing import Any, Literal

from app.core.config import get_settings
from app.imports.archive import ZipArchive
from app.imports.shapes.rows import RowError, TaskRow, described, shown
from app.media.fetch import fetch_image
from app.media.images import PLACEHOLDER, ImageRefused, check_image, decode_data_uri, store

# What an import does with an image named by URL: fetch it (the worker, the CLI), hand the whole import
# to the worker (an upload the web process would otherwise import itself), or refuse it (rows posted as
# JSON, which no worker can read again).
Urls = Literal["fetch", "defer", "refuse"]


class NeedsWorker(Exception):  # a signal to the caller, not an error
    """A row names an image by URL: this import must run in the worker, which fetches it."""


def _texts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    return [str(m.get("content") or "") for m in prompt if isinstance(m, dict) and m.get("role") != "tool"]


def _with_placeholders(prompt: Any, n: int) -> Any:
    """`n` placeholders before the first user message's text, as TRL places images given without any."""
    marks = PLACEHOLDER * n
    if isinstance(prompt, str):
        return marks + prompt
    out = [dict(m) for m in prompt]
    for message in out:
        if message.get("role") == "user":
            message["content"] = marks + str(message.get("content") or "")
            return out
    raise RowError('has images but no user message to show them in; add "<image>" where they belong')


class ImageSource:
    """Where a file's rows find their images: the .zip they came in, or nowhere (data URIs only)."""

    def __init__(self, archive: ZipArchive | None = None, *, urls: Urls = "refuse") -> None:
        self.archive = archive
        self.urls = urls

    def _bytes(self, value: str) -> bytes:
        if value.startswith("data:"):
            return decode_data_uri(value)
        if value.lower().startswith(("http://", "https://")):
            if self.urls == "fetch":
                return fetch_image(value)
            if self.urls == "defer":
                raise NeedsWorker
            raise RowError(
                f"names the image {shown(value, 60)} by URL; upload the rows as a file (the worker fetches "
                "URLs), or give images inside a .zip or as data URIs (data:image/png;base64,…)"
            )
        if self.archive is None:
            raise RowError(
                f'names the image file "{value[:80]}"; upload a .zip holding the rows file and its images'
            )
        return self.archive.image(value)

    def attach(self, row: TaskRow) -> None:
        """Check, store and refer to the row's images (meta["images"]); RowError naming the image."""
        given = row.meta.get("images")
        if given is None:
            return
        if not isinstance(given, list) or not all(isinstance(v, str) and v for v in given):
            raise RowError(f'"images" must be a list of file paths or data URIs, got {described(given)}')
        limit = get_settings().max_images_per_task
        if len(given) > limit:
            raise RowError(f'"images" lists {len(given)} images; a task may have at most {limit}')
        placed = sum(t.count(PLACEHOLDER) for t in _texts(row.prompt))
        if placed and placed != len(given):
            raise RowError(
                f'the messages hold {placed} "<image>" placeholders but "images" lists {len(given)}; '
                "give one image per placeholder"
            )
        refs = []
        for i, value in enumerate(given, 1):
            try:
                checked = check_image(self._bytes(value))
            except (ImageRefused, RowError) as exc:
                name = "a data URI" if value.startswith("data:") else f'"{value[:80]}"'
                raise RowError(f"image {i} ({name}) {exc}") from None
            store(checked)
            refs.append(checked.ref())
        if not placed and refs:
            row.prompt = _with_placeholders(row.prompt, len(refs))
        row.meta["images"] = refs
