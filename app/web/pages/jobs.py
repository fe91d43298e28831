from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.deps import JobDep, SessionDep
from app.core.jobs import request_cancel
from app.models import Project
from app.web.templating import render

router = APIRouter()


@router.get("/jobs/{jid}")
def job_page(request: Request, job: JobDep, session: SessionDep) -> Response:
    project = session.get(Project, job.project_id) if job.project_id else None
    return render(request, "jobs/detail.html", {"job": job, "project": project}, block="status")


@router.post("/jobs/{jid}/cancel")
def cancel(request: Request, job: JobDep, session: SessionDep) -> Response:
    request_cancel(session, job)
    return job_page(request, job, session)
