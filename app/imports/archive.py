"""A `.zip` upload: one rows file (JSONL, JSON or CSV) and the image files its rows name by relative path,
the layout LLaMA-Factory's multimodal datasets use. Read with the limits a hostile archive needs: entry
count, the sizes the entries declare and the sizes they really inflate to, the compression ratio (a zip
bomb), and paths that would climb out of the archive."""

from __future__ import annotations

import posixpath
import zipfile
from typing import IO, BinaryIO

from app.core.config import get_settings
from app.imports.shapes.rows import RowError
from app.media.images import ImageRefused, max_bytes

MAX_ENTRIES = 100_000
ROW_EXTENSIONS = (".jsonl", ".ndjson", ".jsonlines", ".json", ".csv", ".tsv")
ZIP_MAGIC = b"PK\x03\x04"


class ArchiveRefused(ValueError):
    """The archive as a whole cannot be read; str(err) says why."""


def is_zip(stream: BinaryIO) -> bool:
    """The upload starts as a zip does (the name is not trusted); the stream is left where it was."""
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    return head == ZIP_MAGIC


def _normal(name: str) -> str | None:
    """An entry's path inside the archive, or None for one that would leave it (absolute, `..`, drive)."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    normal = posixpath.normpath(name)
    return None if normal == ".." or normal.startswith("../") else normal


class ZipArchive:
    def __init__(self, stream: BinaryIO) -> None:
        settings = get_settings()
        try:
            self.zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ArchiveRefused(f"the .zip cannot be read ({exc}); upload a valid zip") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ArchiveRefused(f"the .zip holds {len(infos):,} entries; at most {MAX_ENTRIES:,}")
        total = sum(i.file_size for i in infos)
        if total > settings.max_upload_mb * 2**20:
            raise ArchiveRefused(
                f"the .zip inflates to {total / 2**20:,.0f} MB; at most {settings.max_upload_mb} MB "
                "(PREFLAB_MAX_UPLOAD_MB)"
            )
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir():
                continue
            name = _normal(info.filename)
            if name is None:
                raise ArchiveRefused(f"the .zip entry {info.filename!r} points outside the archive")
            if info.file_size > max(info.compress_size, 1) * settings.max_gzip_ratio:
                raise ArchiveRefused(
                    f"the .zip entry {name!r} inflates {info.file_size / max(info.compress_size, 1):,.0f} "
                    f"times its size (at most {settings.max_gzip_ratio}, PREFLAB_MAX_GZIP_RATIO); "
                    "is it a zip bomb?"
                )
            self.entries[name] = info
        rows = [
            n for n in self.entries
            if n.lower().endswith(ROW_EXTENSIONS) and not n.startswith("__MACOSX/")
            and not posixpath.basename(n).startswith(".")
        ]  # fmt: skip
        if len(rows) != 1:
            found = ", ".join(sorted(rows)[:5]) or "none"
            raise ArchiveRefused(
                "a .zip must hold exactly one rows file (.jsonl, .json or .csv) beside its images; "
                f"found {found}"
            )
        self.rows_name = rows[0]
        self.base = posixpath.dirname(self.rows_name)

    def open_rows(self) -> IO[bytes]:
        return self.zip.open(self.entries[self.rows_name])

    def image(self, name: str) -> bytes:
        """The bytes of the image a row names, relative to the rows file (or to the archive's root)."""
        candidates = [_normal(posixpath.join(self.base, name)), _normal(name)]
        info = next((self.entries[c] for c in candidates if c is not None and c in self.entries), None)
        if info is None:
            raise RowError(f'names the image "{name}", which is not in the .zip')
        limit = max_bytes()
        if info.file_size > limit:
            raise ImageRefused(
                f"is {info.file_size / 2**20:.1f} MB; at most {limit / 2**20:g} MB (PREFLAB_MAX_IMAGE_MB)"
            )
        with self.zip.open(info) as member:
            data = member.read(limit + 1)  # never more than the limit, whatever the entry's header says
        if len(data) > limit:
            raise ImageRefused(f"inflates past {limit / 2**20:g} MB (PREFLAB_MAX_IMAGE_MB)")
        return data

    def close(self) -> None:
        self.zip.close()
