"""Export pages: a form that starts a snapshot, the project's numbered snapshots, one snapshot's manifest
with its download links and delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.auth.policies import role_in
from app.core.errors import PreflabError
from app.exports import service
from app.exports.schemas import AGGREGATIONS, ExportRequest
from app.kinds import kind_of
from app.models import Job, Project, Role, User
from app.web.deps import CurrentUser, ProjectAsLead, SessionDep, SnapshotDep
from app.web.downloads import snapshot_archive, snapshot_download
from app.web.pages.deps import FormDep
from app.web.templating import render

router = APIRouter()


def _page(
    request: Request, session: SessionDep, project: Project, user: User, *, error: str | None = None,
    form: dict[str, Any] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    snapshots = service.list_snapshots(session, project=project)
    project_kind = kind_of(project)
    ctx = {
        "project": project,
        "role": role_in(session, project_id=project.id, user=user),
        "Role": Role,
        "snapshots": snapshots,
        "busy": any(s.status in ("queued", "running") for s in snapshots),
        "formats": project_kind.export_formats,
        "aggregations": AGGREGATIONS,
        "default_mode": project_kind.default_aggregation,
        # edit_pairs means something only where the project's annotators rewrite responses
        "aggregation_options": project_kind.export_options
        | ({"edit_pairs"} if project_kind.exports_rewrites(project.settings) else set()),
        "criteria": project_kind.score_criteria(project.settings),
        "members": service.annotators_to_leave_out(session, project=project),
        "error": error,
        "form": form or {},
    }
    return render(request, "exports/list.html", ctx, block="snapshots", status_code=status_code)


@router.get("/projects/{pid}/exports")
def exports_page(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep
) -> Response:
    return _page(request, session, project, user)


def request_from_form(form: FormData) -> ExportRequest:
    def text(name: str) -> str | None:
        value = form.get(name)
        return value.strip() or None if isinstance(value, str) else None

    def ids(name: str) -> list[int]:
        return [int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit()]

    aggregation = {
        "mode": text("mode"),
        "min_annotations": text("min_annotations"),
        "min_agreement": text("min_agreement"),
        "ties": text("ties"),
        "pairs": text("pairs"),
        "min_gap": text("min_gap"),
        "criterion": text("criterion"),
        "edit_pairs": text("edit_pairs"),
    }
    return ExportRequest.model_validate(
        {
            "format": text("format"),
            "file_format": text("file_format") or "jsonl",
            "gzip": form.get("gzip") == "on",
            "filters": {
                "reviewed_only": form.get("reviewed_only") == "on",
                "include_gold": form.get("include_gold") == "on",
                "date_from": text("date_from"),
                "date_to": text("date_to"),
                "exclude_annotators": ids("exclude_annotators"),
            },
            "aggregation": {k: v for k, v in aggregation.items() if v is not None},
            "split": {
                "test": text("test") or 0,
                "validation": text("validation") or 0,
                "seed": text("seed") or 0,
            },
        }
    )


@router.post("/projects/{pid}/exports")
def start_export(
    request: Request, project: ProjectAsLead, user: CurrentUser, session: SessionDep, form: FormDep
) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = request_from_form(form)
        snapshot = service.create_snapshot(session, project=project, user=user, request=body)
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _page(request, session, project, user, error=message, form=values, status_code=422)
    except PreflabError as exc:
        return _page(request, session, project, user, error=exc.message, form=values, status_code=422)
    return RedirectResponse(f"/projects/{project.id}/exports?started={snapshot.version}", status_code=303)


@router.get("/snapshots/{sid}")
def snapshot_page(request: Request, snapshot: SnapshotDep, session: SessionDep) -> Response:
    project = session.get_one(Project, snapshot.project_id)
    job = session.get(Job, snapshot.job_id) if snapshot.job_id else None
    return render(request, "exports/snapshot.html", {"snapshot": snapshot, "project": project, "job": job})


@router.get("/snapshots/{sid}/download/{split}")
def download_page(snapshot: SnapshotDep, split: str) -> Response:
    return snapshot_download(snapshot, split)


@router.get("/snapshots/{sid}/archive")
def archive_page(snapshot: SnapshotDep) -> Response:
    return snapshot_archive(snapshot)


@router.post("/snapshots/{sid}/delete")
def delete_page(snapshot: SnapshotDep, user: CurrentUser, session: SessionDep) -> Response:
    service.delete_snapshot(session, snapshot, user=user)
    return RedirectResponse(f"/projects/{snapshot.project_id}/exports", status_code=303)
