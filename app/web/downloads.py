"""Snapshot files as HTTP downloads, for the API and the pages alike."""

from __future__ import annotations

from starlette.responses import FileResponse

from app.exports import service
from app.models import Snapshot

MEDIA_TYPES = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


def snapshot_download(snapshot: Snapshot, split: str) -> FileResponse:
    """The file streamed from disk in chunks, named after the project, version and split."""
    path = service.file_for(snapshot, split)
    name = f"project-{snapshot.project_id}-v{snapshot.version}-{path.name}"
    media = "application/gzip" if path.suffix == ".gz" else MEDIA_TYPES[snapshot.file_format]
    return FileResponse(path, media_type=media, filename=name)
