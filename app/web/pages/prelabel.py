"""Pre-label pages. Leads: the endpoint, the prompt templates, starting a job and watching it (progress,
cost, what was sent where). Reviewers: the review queue, driven by the keyboard (static/prelabel.js),
and the pre-label figures on the project page. Annotators: the suggestion block of the annotate page."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.auth.policies import can_cancel, get_in_project, role_in
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound, PreflabError
from app.core.hosts import host_allowed, host_of
from app.credentials.service import choices
from app.jobs.runtime import request_cancel
from app.kinds import kind_of
from app.kinds.forms import LETTERS
from app.labeling import service as labeling
from app.models import Assignment, Job, Project, Role, Suggestion, Task, User
from app.prelabel import prompts, review, service
from app.prelabel.endpoint import describe, effective_settings, legacy_notice
from app.prelabel.schemas import MODE_HELP, PrelabelRequest, ReviewBody
from app.quality.stats import prelabel_figures
from app.web.deps import CurrentUser, IdPath, ProjectAsAnnotator, ProjectAsLead, ProjectAsReviewer, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import is_htmx, render

router = APIRouter()

SETTING_FIELDS = (
    "base_url",
    "model",
    "temperature",
    "max_tokens",
    "concurrency",
    "requests_per_minute",
    "price_in_per_1k",
    "price_out_per_1k",
    "timeout_s",
    "max_retries",
)
NOTICES = {
    "suggestion_accepted": "Accepted.",
    "suggestion_edited": "Saved your edit.",
    "suggestion_replaced": "Saved your answer.",
}


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(form: FormData, name: str) -> int | None:
    value = _text(form, name)
    return int(value) if value and value.isdigit() else None


def _page(
    request: Request,
    session: SessionDep,
    project: Project,
    user: User,
    *,
    error: str | None = None,
    typed: dict[str, Any] | None = None,
    typed_in: Literal["start", "endpoint", "template"] = "start",
    preview: dict[str, Any] | None = None,
    block: str = "jobs",
    status_code: int = 200,
) -> Response:
    """`typed`: what the user filled in the form `typed_in` ("start", "endpoint", or "template"), shown
    again in that form only: the forms share field names (temperature, max_tokens, mode), and each other
    form keeps its defaults. A template's error (`typed_in="template"`) shows beside that template."""
    modes = kind_of(project).prelabel_modes
    templates = {}
    for mode in modes:
        row = prompts.latest(session, project, mode)
        system, body = (row.system, row.body) if row else prompts.DEFAULTS[mode]
        templates[mode] = {
            "version": row.version if row else 0,
            "system": system,
            "body": body,
            "versions": prompts.versions(session, project, mode),
        }
    try:
        settings: Any = effective_settings(project)
        host = host_of(settings.base_url)
    except PreflabError as exc:
        settings, host, error = None, "", error or exc.message
    ctx = {
        "project": project,
        "role": role_in(session, project_id=project.id, user=user),
        "Role": Role,
        "settings": settings,
        "stored": project.llm or {},
        "host": host,
        "allowed_hosts": get_settings().llm_allowed_hosts,
        "credentials": choices(session, host=host) if host else [],
        "key_notice": legacy_notice(project),
        "host_ok": bool(host) and host_allowed(host, get_settings().llm_allowed_hosts),
        "modes": modes,
        "mode_help": MODE_HELP,
        "templates": templates,
        "jobs": service.prelabel_jobs(session, project),
        "policies": service.policy_choices(session, user=user, project=project)
        if "generate" in modes
        else [],
        "error": None if typed_in == "template" else error,
        "template_error": error if typed_in == "template" else None,
        "form": typed if typed_in == "start" else None,
        "endpoint_form": typed if typed_in == "endpoint" else None,
        "template_form": typed if typed_in == "template" else None,
        "preview": preview,
        "metrics": prelabel_figures(session, project),
    }
    return render(request, "prelabel/page.html", ctx, block=block, status_code=status_code)


@router.get("/projects/{pid}/prelabel")
def prelabel_page(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    return _page(request, session, project, user)


@router.post("/projects/{pid}/prelabel/settings")
def save_settings(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    values: dict[str, Any] = {k: v for k in SETTING_FIELDS if (v := _text(form, k)) is not None}
    values["credential"] = _text(form, "credential") or ""
    values["redact_emails"] = form.get("redact_emails") == "on"
    values["redact_phones"] = form.get("redact_phones") == "on"
    values["images"] = form.get("images") == "on"
    try:
        service.save_settings(session, project=project, values=values, user=user)
    except PreflabError as exc:
        shown = {k: v for k, v in form.items() if isinstance(v, str)}
        return _page(
            request,
            session,
            project,
            user,
            error=exc.message,
            typed=shown,
            typed_in="endpoint",
            status_code=422,
        )
    return RedirectResponse(f"/projects/{project.id}/prelabel?saved=settings", status_code=303)


@router.post("/projects/{pid}/prelabel/templates/{mode}")
def save_template(
    request: Request, mode: str, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    if mode not in kind_of(project).prelabel_modes:
        raise NotFound(f"a {project.kind} project has no {mode} template")
    system, body = _text(form, "system") or "", _text(form, "body") or ""
    shown = {"mode": mode, "system": system, "body": body}
    # Through htmx a preview (or its error) answers with the templates only, so the rest of the page (the
    # job form's choices, other templates being edited) stays as the lead left it.
    try:
        if form.get("preview"):
            rendered = prompts.check(system, body, project)
            preview = {"mode": mode, "system": rendered[0], "user": rendered[1]}
            return _page(
                request, session, project, user, typed=shown, typed_in="template", preview=preview,
                block="templates",
            )  # fmt: skip
        if not body:
            raise InvalidInput("the template body is empty")
        prompts.save(session, project=project, mode=mode, system=system, body=body, user=user)
    except PreflabError as exc:
        return _page(
            request, session, project, user, typed=shown, typed_in="template", error=exc.message,
            block="templates", status_code=422,
        )  # fmt: skip
    return RedirectResponse(f"/projects/{project.id}/prelabel?saved={mode}#template-{mode}", status_code=303)


def request_from_form(form: FormData) -> PrelabelRequest:
    ids = [int(x) for x in (_text(form, "task_ids") or "").replace(",", " ").split() if x.isdigit()]
    models = [m for m in (_text(form, "models") or "").replace(",", "\n").splitlines() if m.strip()]
    generate: dict[str, Any] = {}
    if _text(form, "mode") == "generate":
        if temperature := _text(form, "temperature"):
            generate["temperature"] = temperature
        if _text(form, "source") == "policy":  # trained models instead of the endpoint
            policies = [int(v) for v in form.getlist("policy_models") if isinstance(v, str) and v.isdigit()]
            if not policies:
                raise InvalidInput("choose at least one trained model to generate with")
            generate["policy_models"] = policies
            if max_new := _text(form, "max_new_tokens"):
                generate["max_new_tokens"] = max_new
            models = []
    return PrelabelRequest.model_validate(
        {
            "mode": _text(form, "mode"),
            "task_ids": ids or None,
            "filter": {
                "status": _text(form, "status") or "open",
                "only_missing": form.get("only_missing") == "on",
                "limit": _text(form, "limit"),
            },
            "budget": {"max_cost": _text(form, "max_cost"), "max_tokens": _text(form, "max_tokens")},
            "use_cache": form.get("use_cache") == "on",
            **({"models": models} if models else {}),
            **({"k": _text(form, "k")} if _text(form, "k") else {}),
            **generate,
        }
    )


@router.post("/projects/{pid}/prelabel")
def start_job(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    shown: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    shown["policy_models"] = [v for v in form.getlist("policy_models") if isinstance(v, str)]
    try:
        body = request_from_form(form)
        job, _, _ = service.start_prelabel_job(session, project=project, user=user, request=body)
    except ValidationError as exc:
        return _page(request, session, project, user, error=describe(exc), typed=shown, status_code=422)
    except PreflabError as exc:
        return _page(request, session, project, user, error=exc.message, typed=shown, status_code=422)
    return RedirectResponse(f"/projects/{project.id}/prelabel/jobs/{job.id}", status_code=303)


def _job_of(session: SessionDep, project: Project, jid: int) -> Job:
    return get_in_project(session, Job, jid, project, missing=f"job {jid} not found")


def _job_page(request: Request, session: SessionDep, project: Project, job: Job) -> Response:
    errors = service.job_errors(session, job)
    return render(
        request, "prelabel/job.html", {"project": project, "job": job, "errors": errors}, block="status"
    )


@router.get("/projects/{pid}/prelabel/jobs/{jid}")
def job_page(request: Request, jid: IdPath, project: ProjectAsLead, session: SessionDep) -> Response:
    job = _job_of(session, project, jid)
    if not job.of_kind("prelabel"):
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    return _job_page(request, session, project, job)


@router.post("/projects/{pid}/prelabel/jobs/{jid}/cancel")
def cancel_job(
    request: Request, jid: IdPath, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    job = _job_of(session, project, jid)
    request_cancel(session, can_cancel(job, user))
    if is_htmx(request) and job.of_kind("prelabel"):
        return _job_page(request, session, project, job)
    return RedirectResponse(f"/projects/{project.id}/prelabel/jobs/{job.id}", status_code=303)


@router.get("/projects/{pid}/prelabel/metrics")
def metrics_block(request: Request, project: ProjectAsReviewer, session: SessionDep) -> Response:
    ctx = {"project": project, "metrics": prelabel_figures(session, project)}
    return render(request, "prelabel/metrics.html", ctx, block="metrics")


# ---- review ------------------------------------------------------------------------------------------


def _letters(order: list[str]) -> dict[str, str]:
    return {rid: LETTERS[i] for i, rid in enumerate(order)}


def _review_context(
    session: SessionDep, project: Project, user: User, claim: review.ReviewClaim | None
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "project": project,
        "claim": claim,
        "reviewed": review.reviewed_by(session, project=project, user=user),
        "settings": project.settings,
    }
    if claim is None:
        return ctx
    by_id = {str(r["id"]): r for r in claim.task.responses}
    order = [rid for rid in claim.assignment.order if rid in by_id] + [
        rid for rid in by_id if rid not in claim.assignment.order
    ]
    try:
        review.accepted_result(project, claim.suggestion)
        acceptable = None
    except InvalidInput as exc:
        acceptable = exc.message
    ctx.update(
        task=claim.task,
        suggestion=claim.suggestion,
        responses=[by_id[rid] for rid in order],
        letter=_letters(order),
        annotation_uuid=str(uuid.uuid4()),
        not_acceptable=acceptable,
    )
    return ctx


@router.get("/projects/{pid}/prelabel/review")
def review_page(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep
) -> Response:
    claim = review.claim_review(session, project=project, user=user)
    ctx = {
        **_review_context(session, project, user, claim),
        "notice": request.session.pop("review_notice", None),
    }
    return render(request, "prelabel/review.html", ctx, block="review")


@router.post("/projects/{pid}/prelabel/review")
def review_answer(
    request: Request, project: ProjectAsReviewer, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    action = _text(form, "action") or ""
    assignment_id = _int(form, "assignment_id")
    notice = None
    if action == "skip":
        skipped = get_in_project(session, Assignment, assignment_id, project, missing="assignment not found")
        labeling.skip(session, assignment=skipped, user=user, reason="skipped in pre-label review")
        notice = "Skipped."
    else:
        suggestion = session.get(Suggestion, _int(form, "suggestion_id") or 0)
        if suggestion is None:
            raise NotFound("suggestion not found")
        task = get_in_project(session, Task, suggestion.task_id, project, missing="suggestion not found")
        lease = session.get(Assignment, assignment_id) if assignment_id else None
        order = list(lease.order) if lease else [str(r["id"]) for r in task.responses]
        result = None if action == "accept" else kind_of(project).result_from_form(form, order)
        try:
            body = ReviewBody.model_validate(
                {
                    "uuid": _text(form, "uuid"),
                    "action": action,
                    "result": result,
                    "assignment_id": assignment_id,
                    "lead_time_ms": _text(form, "lead_time_ms"),
                }
            )
        except ValidationError as exc:
            raise InvalidInput(f"the answer is not valid: {describe(exc)}") from None
        try:
            done = review.review_suggestion(session, suggestion=suggestion, user=user, body=body)
            notice = NOTICES.get(done.annotation.origin, "Saved.")
        except Conflict as exc:
            notice = exc.message
    if not is_htmx(request):  # a plain form post: the next page says what happened, as the htmx answer does
        if notice:
            request.session["review_notice"] = notice
        return RedirectResponse(f"/projects/{project.id}/prelabel/review", status_code=303)
    claim = review.claim_review(session, project=project, user=user)
    ctx = {**_review_context(session, project, user, claim), "notice": notice}
    return render(request, "prelabel/review.html", ctx, block="review")


# ---- the annotate page's suggestion -------------------------------------------------------------------


@router.get("/projects/{pid}/annotate/suggestion/{tid}")
def annotate_suggestion(
    request: Request, tid: IdPath, project: ProjectAsAnnotator, user: CurrentUser, session: SessionDep
) -> Response:
    """The suggestion beside a task on the annotate page; nothing when the project hides suggestions
    (so leads can measure anchoring) or for gold tasks (which score annotators)."""
    task = get_in_project(session, Task, tid, project, missing="task not found")
    suggestion, order = review.suggestion_beside(session, project=project, task=task, user=user)
    ctx = {"project": project, "suggestion": suggestion, "letter": _letters(order)}
    return render(request, "annotate/page.html", ctx, block="suggestion", block_only=True)
