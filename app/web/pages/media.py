"""A task's images, for the pages that show the task: to the project's members only (anyone else gets the
404 every other project route gives), from the data dir, never as anything but the image type checked at
import."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import FileResponse

from app.core.errors import NotFound
from app.media.images import image_of, path_of
from app.web.deps import ProjectAsAnnotator, SessionDep

router = APIRouter()


@router.get("/projects/{pid}/images/{sha256}")
def task_image(sha256: str, project: ProjectAsAnnotator, session: SessionDep) -> FileResponse:
    found = image_of(session, project.id, sha256)
    if found is None:
        raise NotFound("no such image in this project")
    return FileResponse(
        path_of(found.sha256),
        media_type=found.type,
        headers={
            "Cache-Control": "private, max-age=86400, immutable",  # content-addressed: it never changes
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )
