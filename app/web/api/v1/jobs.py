from __future__ import annotations

from fastapi import APIRouter

from app.auth.policies import can_cancel
from app.jobs.outbox import recover_if_stale
from app.jobs.runtime import metrics_of, request_cancel
from app.jobs.schemas import JobRead, MetricPoint
from app.web.deps import CurrentUser, JobDep, SessionDep

router = APIRouter(tags=["jobs"])


@router.get("/jobs/{jid}")
def get_job(job: JobDep, session: SessionDep) -> JobRead:
    return JobRead.model_validate(recover_if_stale(session, job))


@router.get("/jobs/{jid}/metrics")
def job_metrics(job: JobDep, session: SessionDep) -> list[MetricPoint]:
    return [MetricPoint(step=m.step, name=m.name, value=m.value) for m in metrics_of(session, job)]


@router.post("/jobs/{jid}/cancel")
def cancel_job(job: JobDep, user: CurrentUser, session: SessionDep) -> JobRead:
    return JobRead.model_validate(request_cancel(session, can_cancel(job, user)))
