"""Snapshot files as HTTP downloads, for the API and the pages alike."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import orjson
from starlette.responses import FileResponse, StreamingResponse

from app.exports import service
from app.models import Snapshot

MEDIA_TYPES = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


def snapshot_download(snapshot: Snapshot, split: str) -> FileResponse:
    """The file streamed from disk in chunks, named after the project, version and split."""
    path = service.file_for(snapshot, split)
    name = f"project-{snapshot.project_id}-v{snapshot.version}-{path.name}"
    media = "application/gzip" if path.suffix == ".gz" else MEDIA_TYPES[snapshot.file_format]
    return FileResponse(path, media_type=media, filename=name)


class _Chunks:
    """A write-only file that hands out what was written so far: zipfile writes into it, the response
    streams it (no seeking: zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def snapshot_archive(snapshot: Snapshot) -> StreamingResponse:
    """The whole snapshot as one .zip, streamed: its split files, the images they name (images/…) at the
    paths the rows give, and its manifest, so a download trains as it is."""
    files = service.files_of(snapshot)

    def stream() -> Iterator[bytes]:
        out = _Chunks()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
            archive.writestr("manifest.json", orjson.dumps(snapshot.manifest, option=orjson.OPT_INDENT_2))
            yield out.take()
            for name, path in files:
                if name == "manifest.json":  # written above, from the snapshot's record
                    continue
                with path.open("rb") as source, archive.open(name, "w") as target:
                    while block := source.read(1 << 20):
                        target.write(block)
                        yield out.take()
        yield out.take()

    name = f"project-{snapshot.project_id}-v{snapshot.version}.zip"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(stream(), media_type="application/zip", headers=disposition)
