from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from app.auth.policies import can_cancel, job_for
from app.core.errors import InvalidInput
from app.jobs.outbox import recover_if_stale
from app.jobs.runtime import request_cancel
from app.models import Job, Project
from app.training import charts
from app.web.deps import MAX_ID, CurrentUser, JobDep, SessionDep
from app.web.templating import render

router = APIRouter()

MAX_COMPARED = 8  # runs on one chart: past that the lines cannot be told apart


def _ids(values: list[str]) -> list[int]:
    """`?ids=3,5` or `?ids=3&ids=5` (the page's own form sends the second), in order, each once."""
    ids: list[int] = []
    for part in ",".join(values).split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= MAX_ID:
            raise InvalidInput(f"ids: {part!r} is not a job id", field="ids")
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) > MAX_COMPARED:
        raise InvalidInput(f"ids: compare at most {MAX_COMPARED} runs at a time", field="ids")
    return ids


# Before /jobs/{jid}, which would take "compare" for an id.
@router.get("/jobs/compare")
def compare_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ids: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies a default list
) -> Response:
    jobs: list[Job] = []
    for jid in _ids(ids):
        job = job_for(session, job_id=jid, user=user)
        if not job.of_kind("training"):
            raise InvalidInput(
                f"job #{jid} is {job.kind} work, not a training run: it has no curves", field="ids"
            )
        jobs.append(job)
    offered = {j.id: j for j in [*jobs, *(charts.runs_beside(session, jobs[0]) if jobs else [])]}
    return render(
        request,
        "jobs/compare.html",
        {
            "jobs": jobs,
            "curves": charts.run_charts(session, jobs, group="compare") if jobs else [],
            "offered": sorted(offered.values(), key=lambda j: -j.id),
            "label": charts.run_label,
        },
    )


@router.get("/jobs/{jid}")
def job_page(request: Request, job: JobDep, session: SessionDep) -> Response:
    project = session.get(Project, job.project_id) if job.project_id else None
    recover_if_stale(session, job)
    training = job.of_kind("training")
    return render(
        request,
        "jobs/detail.html",
        {
            "job": job,
            "project": project,
            "curves": charts.job_charts(session, job) if training else [],
            "beside": charts.runs_beside(session, job) if training else [],
            "label": charts.run_label,
        },
        block="status",
    )


@router.post("/jobs/{jid}/cancel")
def cancel(request: Request, job: JobDep, user: CurrentUser, session: SessionDep) -> Response:
    request_cancel(session, can_cancel(job, user))
    return job_page(request, job, session)
