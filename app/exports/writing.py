"""Writing a snapshot: the project's rows, as the kind and the request shape them, into one file per split,
and the content of its manifest (what was asked, what was written, what was left out and why)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from app.exports.formats import Shape, prompt_key
from app.exports.images import SnapshotImages
from app.exports.reading import (
    annotator_trust,
    extent_of,
    task_batches,
    uses_chat,
    uses_images,
    uses_tools,
)
from app.exports.schemas import ExportRequest
from app.exports.writers import SplitWriter, split_of
from app.kinds import kind_of
from app.models import Project


@dataclass(slots=True)
class Progress:
    done: int
    total: int


def write_snapshot(
    conn: Connection,
    *,
    project: Project,
    request: ExportRequest,
    directory: Path,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Write the project's export into `directory` (created); returns the manifest's content part."""
    request.for_project(project)
    directory.mkdir(parents=True, exist_ok=False)
    images = uses_images(conn, project.id)
    # TRL reads images from conversations alone: a project with images is in chat form unless asked not to be
    chat = uses_chat(conn, project.id, request) or (images and request.aggregation.chat == "auto")
    shape = Shape(
        kind=kind_of(project),
        request=request,
        chat=chat,
        tools=chat and request.format != "raw" and uses_tools(conn, project.id),
        images=SnapshotImages(directory) if images else None,
        settings=project.settings,
        project_id=project.id,
    )
    names = request.split.names
    writer = SplitWriter(
        directory, names=names, schema=shape.schema(), file_format=request.file_format, gz=request.gzip
    )
    extent = extent_of(conn, project.id, request)
    weights, trust = annotator_trust(conn, project, request)
    dropped: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    sources = shape.sources()
    by_source = dict.fromkeys(sources, 0)  # one source: every row is its; several: each row names its own
    done = exported_tasks = 0
    try:
        meta = shape.tools or shape.images is not None
        for batch in task_batches(conn, project.id, request, seen, weights, meta=meta):
            for task in batch:
                rows = shape.rows(task, dropped)
                if rows:
                    exported_tasks += 1
                    side = split_of(prompt_key(task.prompt), request.split) if len(names) > 1 else "train"
                    for row in rows:
                        writer.add(side, row)
                    if len(sources) == 1:
                        by_source[sources[0]] += len(rows)
                    elif sources:
                        for row in rows:
                            by_source[row["source"]] += 1
            done += len(batch)
            if on_progress is not None:
                on_progress(Progress(done, extent.tasks))
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    for name in files:
        os.chmod(directory / files[name]["file"], 0o444)
    image_files = shape.images.seal() if shape.images is not None else None
    return {
        "format": request.format,
        "file_format": request.file_format,
        "gzip": request.gzip,
        "chat": shape.chat,
        "columns": shape.schema().names,
        "filters": request.filters.model_dump(mode="json"),
        "aggregation": request.aggregation.model_dump(mode="json"),
        "split": {
            **request.split.model_dump(mode="json"),
            "rule": "sha256(seed, prompt text): one prompt, one side",
        },
        "counts": {name: files[name]["rows"] for name in names},
        **({"rows_by_source": by_source} if sources else {}),
        "files": files,  # one per split (downloads, the CLI and training read them by split)
        **({"images": image_files, "image_count": len(image_files)} if image_files is not None else {}),
        "tasks": {
            "considered": extent.tasks,
            "exported": exported_tasks,
            "gold_left_out": extent.gold_left_out,
        },
        "annotations": {"read": seen["read"], "used": seen["used"], "up_to_id": extent.up_to_annotation},
        "dropped": dict(sorted(dropped.items())),
        **({"annotator_weights": trust} if weights is not None else {}),
        "annotations_left_out": {k: v for k, v in sorted(seen.items()) if k not in ("read", "used")},
    }
