from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth.policies import can_cancel
from app.jobs.runtime import mark_if_stale, request_cancel
from app.models import Project
from app.training import charts
from app.web.deps import CurrentUser, JobDep, SessionDep
from app.web.templating import render

router = APIRouter()


@router.get("/jobs/{jid}")
def job_page(request: Request, job: JobDep, session: SessionDep) -> Response:
    project = session.get(Project, job.project_id) if job.project_id else None
    mark_if_stale(job)
    curves = charts.curves(session, job.id) if job.of_kind("training") else []
    return render(
        request,
        "jobs/detail.html",
        {"job": job, "project": project, "curves": curves, "chart": charts},
        block="status",
    )


@router.post("/jobs/{jid}/cancel")
def cancel(request: Request, job: JobDep, user: CurrentUser, session: SessionDep) -> Response:
    request_cancel(session, can_cancel(job, user))
    return job_page(request, job, session)
