"""The Loop tab: the queue's ordering rule, reward-model scores and their distribution, and the project's
rounds side by side. Its summary also shows on the project's overview page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.auth.policies import role_in
from app.core.errors import PreflabError
from app.loop import rounds, scoring
from app.loop.priority import RULE_HELP, RULES
from app.loop.schemas import LoopJob, LoopSummary, RoundCreate, RoundRead, RoundUpdate
from app.models import Project, Role, User
from app.projects.schemas import ProjectUpdate
from app.projects.service import update_project
from app.quality import charts
from app.web.deps import CurrentUser, IdPath, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import render

router = APIRouter()


def _bars(summary: LoopSummary) -> list[charts.Bar]:
    bins = summary.scores.distribution.bins if summary.scores else []
    return charts.bars([(f"{lo:.3g} to {hi:.3g}", float(n)) for lo, hi, n in bins])


# The figures of a round that the rounds chart follows from one round to the next.
ROUND_FIGURES = (
    ("percent_agreement", "percent agreement"),
    ("alpha", "Krippendorff's α"),  # noqa: RUF001 - the letter the table uses
    ("judge_agreement", "humans vs LLM judge"),
    ("reward_agreement", "humans vs reward model"),
)


def _rounds_chart(items: list[RoundRead]) -> charts.Chart | None:
    """The rounds side by side on one chart, once there are two to compare: each figure a line."""
    if len(items) < 2:
        return None
    lines = []
    for key, label in ROUND_FIGURES:
        values = [(r.metrics.get(key) or {}).get("value") for r in items]
        if any(v is not None for v in values):
            lines.append(charts.Line(label, values, count=sum(v is not None for v in values)))
    if not lines:
        return None
    x = [float(r.number) for r in items]
    names = [r.name for r in items]
    return charts.Chart("rounds", "Agreement by round", x, lines, x_label="round", x_names=names)


def _shown_jobs(session: SessionDep, project: Project, summary: LoopSummary, watch: str) -> list[LoopJob]:
    """The jobs under way, and those the page watched (the poll names them in `watch`) that have ended
    since: the summary polls while a job runs, and the last poll shows how it ended."""
    running = {j.id for j in summary.running}
    watched = {int(part) for part in watch.split(",") if part.isdigit()} - running
    return sorted([*summary.running, *scoring.loop_jobs(session, project, watched)], key=lambda j: -j.id)


def _context(
    session: SessionDep, project: Project, user: User, *, watch: str = "", **extra: Any
) -> dict[str, Any]:
    summary = scoring.loop_summary(session, project)
    role = role_in(session, project_id=project.id, user=user)
    lead = role is not None and role >= Role.lead
    snapshots, models = rounds.tie_choices(session, project) if lead else ([], [])
    shown_rounds = rounds.rounds_view(session, project).items
    return {
        "project": project,
        "role": role,
        "Role": Role,
        "summary": summary,
        "loop_jobs": _shown_jobs(session, project, summary, watch),
        "bars": _bars(summary),
        "charts": charts,  # quality/_figure.html draws each figure's interval with it
        "rules": [(r, RULE_HELP[r]) for r in RULES],
        "rounds": shown_rounds,
        "rounds_chart": _rounds_chart(shown_rounds),
        "reward_models": scoring.reward_models(session, project, user) if lead else [],
        "snapshots": snapshots,
        "models": models,
        "error": None,
        **extra,
    }


@router.get("/projects/{pid}/loop")
def loop_page(
    request: Request,
    project: ProjectAsReviewer,
    user: CurrentUser,
    session: SessionDep,
    started: int = 0,
    watch: str = "",
) -> Response:
    ctx = _context(session, project, user, started=started, watch=watch)
    return render(request, "loop/page.html", ctx, block="summary")  # the overview page loads the summary


def _failed(request: Request, session: SessionDep, project: Project, user: User, message: str) -> Response:
    session.rollback()
    return render(request, "loop/page.html", _context(session, project, user, error=message), status_code=422)


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


@router.post("/projects/{pid}/loop/score")
def start_scoring(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    try:
        body = scoring.ScoringRequest.model_validate(
            {"model_id": form.get("model_id") or 0, **({"limit": form["limit"]} if form.get("limit") else {})}
        )
        job, _ = scoring.start_scoring(session, project=project, user=user, request=body)
    except ValidationError as exc:
        return _failed(request, session, project, user, _errors(exc))
    except PreflabError as exc:
        return _failed(request, session, project, user, exc.message)
    return RedirectResponse(f"/projects/{project.id}/loop?started={job.id}", status_code=303)


@router.post("/projects/{pid}/loop/order")
def set_order(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    try:
        update_project(
            session,
            project=project,
            data=ProjectUpdate(settings={"queue_order": str(form.get("rule", ""))}),
            user=user,
        )
    except PreflabError as exc:
        return _failed(request, session, project, user, exc.message)
    return RedirectResponse(f"/projects/{project.id}/loop", status_code=303)


@router.post("/projects/{pid}/rounds")
def start_round(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    try:
        data = RoundCreate(name=str(form.get("name", "")), notes=str(form.get("notes", "")))
    except ValidationError as exc:
        return _failed(request, session, project, user, _errors(exc))
    rounds.start_round(session, project=project, user=user, data=data)
    return RedirectResponse(f"/projects/{project.id}/loop#rounds", status_code=303)


@router.post("/projects/{pid}/rounds/{rid}")
def update_round(
    request: Request,
    rid: IdPath,
    project: ProjectAsLead,
    user: CurrentUser,
    session: SessionDep,
    form: FormDep,
) -> Response:
    found = rounds.round_for(session, project=project, round_id=rid)

    def tied(name: str) -> int | None:
        value = form.get(name)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    try:
        data = RoundUpdate(
            name=str(form.get("name", found.name)),
            notes=str(form.get("notes", found.notes)),
            snapshot_id=tied("snapshot_id"),
            reward_model_id=tied("reward_model_id"),
            policy_model_id=tied("policy_model_id"),
        )
        rounds.update_round(session, project=project, round_=found, data=data, user=user)
    except ValidationError as exc:
        return _failed(request, session, project, user, _errors(exc))
    except PreflabError as exc:
        return _failed(request, session, project, user, exc.message)
    return RedirectResponse(f"/projects/{project.id}/loop#rounds", status_code=303)
