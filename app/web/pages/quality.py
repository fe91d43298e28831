"""Review and quality pages: the review queue and one task's answers side by side (keyboard-driven), the
project dashboard, an annotator's own figures, gold marking and resuming paused annotators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.auth.policies import comment_role, get_in_project, in_project, role_in
from app.comments import service as comments
from app.core.errors import NotFound, PreflabError
from app.kinds import kind_of
from app.kinds.forms import LETTERS
from app.labeling.pausing import paused_members, resume
from app.labeling.service import annotation_by_uuid
from app.models import Member, Project, Role, Task, User
from app.prelabel.service import latest_suggestion
from app.quality import charts, reviews
from app.quality.metrics import POSITION_BIAS_MIN_N
from app.quality.own import daily_answers, own_figures
from app.quality.review_queue import QueueFilters, next_for_review, review_queue, tasks_of
from app.quality.stats import stats_for
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, ProjectAsLead, ProjectAsReviewer, SessionDep
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
    cursor: str = "",
) -> Response:
    wanted = QueueFilters(annotator=int(annotator) if annotator.isdigit() else None, answer=label or None,
                          since=_date(since), until=_date(until))  # fmt: skip
    page = review_queue(session, project, wanted, cursor=cursor or None, limit=50)
    names = reviews.annotator_names(session, project, reviews.annotator_ids(session, project))
    filters = {"annotator": annotator, "label": label, "since": since, "until": until}
    ctx = _base(session, project, user, items=page.items, tasks=tasks_of(session, page.items),
                annotators=names, filters=filters, next_cursor=page.next_cursor,
                catching_up=page.catching_up)  # fmt: skip
    return render(request, "quality/queue.html", ctx)


def _task_in(session: SessionDep, project: Project, tid: int) -> Task:
    return get_in_project(session, Task, tid, project, missing=f"task {tid} not found in this project")


def _task_page(
    request: Request,
    session: SessionDep,
    project: Project,
    user: User,
    task: Task,
    *,
    error: str | None = None,
    typed: FormData | None = None,
    status_code: int = 200,
) -> Response:
    """`typed`: the verdict form that failed, shown again as the reviewer filled it in."""
    answers = reviews.task_reviews(session, task)
    people = reviews.annotator_names(
        session,
        project,
        list({a.user_id for a, _ in answers} | {r.reviewer_id for _, rs in answers for r in rs}),
    )
    judge = latest_suggestion(session, task_id=task.id, mode="judge")
    shown = reviews.orders_shown(session, [a for a, _ in answers])
    ctx = _base(session, project, user, task=task, answers=answers, people=people, judge=judge, error=error,
                typed=typed, me=user, shown=shown, letters=LETTERS)  # fmt: skip
    ctx["comment_role"] = comment_role(session, task=task, user=user)
    ctx["threads"] = comments.threads_of(
        session, project=project, task=task, reader=user, role=ctx["comment_role"]
    )
    return render(request, "quality/task.html", ctx, block="review", status_code=status_code)


@router.get("/projects/{pid}/review/next")
def next_task_page(project: ProjectAsReviewer, session: SessionDep, after: int = 0) -> Response:
    """The queue's first task other than the one just reviewed: ranked only when the reviewer asks for it,
    not on every task page."""
    next_id = next_for_review(session, project, after_task=after)
    target = f"/projects/{project.id}/review/{next_id}" if next_id else f"/projects/{project.id}/review"
    return RedirectResponse(target, status_code=303)


@router.get("/projects/{pid}/review/{tid}")
def task_page(
    request: Request, tid: IdPath, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    return _task_page(request, session, project, user, _task_in(session, project, tid))


@router.post("/projects/{pid}/review")
def review_answer(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    """A verdict on one answer (form field uuid); answers with that answer's task page."""
    found = annotation_by_uuid(session, str(form.get("uuid") or ""))
    annotation = in_project(found, project, missing="annotation not found in this project")
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
        return _task_page(
            request, session, project, user, task, error=exc.message, typed=form, status_code=422
        )
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/projects/{project.id}/review/{task.id}", status_code=303)
    return _task_page(request, session, project, user, task)


@router.post("/projects/{pid}/tasks/{tid}/gold")
def gold_page(
    request: Request,
    tid: IdPath,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    form: FormDep,
) -> Response:
    """Mark the task gold with one answer's (effective) result, or unmark it."""
    task = _task_in(session, project, tid)
    gold: Any = None
    if form.get("uuid"):
        annotation = reviews.answer_on(session, task, str(form.get("uuid")))
        if annotation is None:
            raise NotFound("annotation not found on this task")
        gold = annotation.result
    reviews.set_gold(session, task=task, project=project, gold=gold, user=user)
    return RedirectResponse(f"/projects/{project.id}/review/{task.id}", status_code=303)


@router.post("/projects/{pid}/members/{user_id}/resume")
def resume_page(user_id: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep) -> Response:
    resume(session, project=project, user_id=user_id, by=user)
    return RedirectResponse(f"/projects/{project.id}/dashboard", status_code=303)


@router.get("/projects/{pid}/dashboard")
def dashboard(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    stats = stats_for(session, project)
    paused = paused_members(session, project)
    ctx = _base(
        session, project, user, stats=stats, charts=charts, paused=paused,
        throughput_pairs=[(d["day"], d["annotations"]) for d in stats["throughput"]],
        time_pairs=list(zip(stats["time"]["buckets"], stats["time"]["counts"], strict=True)),
        bias_min_n=POSITION_BIAS_MIN_N,
    )  # fmt: skip
    return render(request, "quality/dashboard.html", ctx, block="dashboard")


@router.get("/projects/{pid}/me")
def my_page(
    request: Request, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    figures = own_figures(stats_for(session, project), user.id)
    daily_pairs = daily_answers(session, project, user)
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
