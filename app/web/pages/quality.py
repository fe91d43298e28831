"""Review and quality pages: the review queue and one task's answers side by side (keyboard-driven), the
project dashboard, an annotator's own figures, gold marking and resuming paused annotators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response

from app.auth.deps import CurrentUser, ProjectAsAnnotator, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.auth.policies import role_in
from app.core.errors import NotFound, PreflabError
from app.core.security import pseudonym
from app.kinds import kind_of
from app.models import Annotation, Member, Project, Role, Suggestion, Task, User
from app.quality import charts, reviews
from app.quality.stats import stats_for
from app.web.api.v1.quality import own_figures
from app.web.pages.deps import FormDep
from app.web.templating import render

router = APIRouter()


def _base(session: SessionDep, project: Project, user: User, **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "role": role_in(session, project_id=project.id, user=user),
        "Role": Role,
        **extra,
    }


def _names(session: SessionDep, project: Project, user_ids: list[int]) -> dict[int, str]:
    """Pseudonyms unless the project reveals annotators."""
    if project.settings.get("reveal_annotators"):
        return dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
    return {uid: pseudonym(project.id, uid) or "" for uid in user_ids}


def _date(value: str | None) -> datetime | None:
    from app.exports.schemas import Filters

    return Filters(date_from=value or None).date_from


@router.get("/projects/{pid}/review")
def queue_page(
    request: Request,
    project: ProjectAsReviewer,
    user: CurrentUser,
    session: SessionDep,
    annotator: str = "",
    label: str = "",
    since: str = "",
    until: str = "",
    offset: int = 0,
) -> Response:
    items = reviews.review_queue(
        session, project, annotator=int(annotator) if annotator.isdigit() else None, label=label or None,
        since=_date(since), until=_date(until), offset=max(offset, 0), limit=50,
    )  # fmt: skip
    ids = list(
        session.scalars(select(Annotation.user_id).where(Annotation.project_id == project.id).distinct())
    )
    tasks = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_([i.task_id for i in items])))}
    filters = {"annotator": annotator, "label": label, "since": since, "until": until}
    ctx = _base(session, project, user, items=items, tasks=tasks, annotators=_names(session, project, ids),
                filters=filters, offset=offset)  # fmt: skip
    return render(request, "quality/queue.html", ctx)


def _task_in(session: SessionDep, project: Project, tid: int) -> Task:
    task = session.get(Task, tid)
    if task is None or task.project_id != project.id:
        raise NotFound(f"task {tid} not found in this project")
    return task


def _task_page(
    request: Request,
    session: SessionDep,
    project: Project,
    user: User,
    task: Task,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    answers = reviews.task_reviews(session, task)
    people = _names(
        session,
        project,
        list({a.user_id for a, _ in answers} | {r.reviewer_id for _, rs in answers for r in rs}),
    )
    judge = session.scalars(
        select(Suggestion)
        .where(Suggestion.task_id == task.id, Suggestion.kind == "judge", Suggestion.error.is_(None))
        .order_by(Suggestion.id.desc())
    ).first()
    ctx = _base(session, project, user, task=task, answers=answers, people=people, judge=judge, error=error,
                me=user)  # fmt: skip
    return render(request, "quality/task.html", ctx, block="review", status_code=status_code)


@router.get("/projects/{pid}/review/next")
def next_task_page(project: ProjectAsReviewer, session: SessionDep, after: int = 0) -> Response:
    """The queue's first task other than the one just reviewed: ranked only when the reviewer asks for it,
    not on every task page."""
    following = reviews.review_queue(session, project, limit=2)
    next_id = next((i.task_id for i in following if i.task_id != after), None)
    target = f"/projects/{project.id}/review/{next_id}" if next_id else f"/projects/{project.id}/review"
    return RedirectResponse(target, status_code=303)


@router.get("/projects/{pid}/review/{tid}")
def task_page(
    request: Request, tid: int, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    return _task_page(request, session, project, user, _task_in(session, project, tid))


@router.post("/projects/{pid}/review")
def review_answer(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    """A verdict on one answer (form field uuid); answers with that answer's task page."""
    annotation = session.scalar(
        select(Annotation).where(
            Annotation.uuid == str(form.get("uuid") or ""), Annotation.project_id == project.id
        )
    )
    if annotation is None:
        raise NotFound("annotation not found in this project")
    task = session.get_one(Task, annotation.task_id)
    verdict = str(form.get("verdict") or "")
    try:
        with session.begin_nested():
            reviews.review_annotation(
                session, annotation=annotation, reviewer=user, verdict=verdict,
                result=kind_of(project).result_from_form(form, [str(r["id"]) for r in task.responses])
                if verdict == "correct"
                else None,
                comment=str(form.get("comment") or "") or None,
            )  # fmt: skip
    except PreflabError as exc:
        return _task_page(request, session, project, user, task, error=exc.message, status_code=422)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/projects/{project.id}/review/{task.id}", status_code=303)
    return _task_page(request, session, project, user, task)


@router.post("/projects/{pid}/tasks/{tid}/gold")
def gold_page(
    request: Request, tid: int, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    """Mark the task gold with one answer's (effective) result, or unmark it."""
    task = _task_in(session, project, tid)
    gold: Any = None
    if form.get("uuid"):
        annotation = session.scalar(select(Annotation).where(Annotation.uuid == str(form.get("uuid")),
                                                             Annotation.task_id == task.id))  # fmt: skip
        if annotation is None:
            raise NotFound("annotation not found on this task")
        gold = annotation.result
    reviews.set_gold(session, task=task, project=project, gold=gold, user=user)
    return RedirectResponse(f"/projects/{project.id}/review/{task.id}", status_code=303)


@router.post("/projects/{pid}/members/{user_id}/resume")
def resume_page(user_id: int, project: ProjectAsLead, user: CurrentUser, session: SessionDep) -> Response:
    reviews.resume(session, project=project, user_id=user_id, by=user)
    return RedirectResponse(f"/projects/{project.id}/dashboard", status_code=303)


@router.get("/projects/{pid}/dashboard")
def dashboard(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    stats = stats_for(session, project)
    paused = session.execute(reviews.paused_members(session, project)).all()
    ctx = _base(
        session, project, user, stats=stats, charts=charts, paused=paused,
        throughput_pairs=[(d["day"], d["annotations"]) for d in stats["throughput"]],
        time_pairs=list(zip(stats["time"]["buckets"], stats["time"]["counts"], strict=True)),
    )  # fmt: skip
    return render(request, "quality/dashboard.html", ctx, block="dashboard")


@router.get("/projects/{pid}/me")
def my_page(
    request: Request, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    figures = own_figures(stats_for(session, project), user.id)
    day = func.date(Annotation.created_at)
    mine = session.execute(
        select(day, func.count()).where(Annotation.project_id == project.id, Annotation.user_id == user.id)
        .group_by(day).order_by(day)
    ).all()  # fmt: skip
    daily_pairs = [(str(d), int(n)) for d, n in mine]
    member = session.get(Member, (project.id, user.id))
    ctx = _base(
        session, project, user, figures=figures, daily_pairs=daily_pairs, charts=charts, member=member
    )
    return render(request, "quality/me.html", ctx)


@router.get("/projects/{pid}/leaderboard")
def leaderboard_page(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    from app.loop.leaderboard import project_leaderboard

    board = project_leaderboard(session, project)
    return render(request, "quality/leaderboard.html", _base(session, project, user, board=board))
