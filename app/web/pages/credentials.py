"""The administrators' credentials page: API keys bound to the hosts they may be sent to. Each form posts
through htmx and answers with the page's one block, an error in place above the form that failed, with
what was typed; without htmx the whole page comes back the same way."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from app.core.errors import PreflabError
from app.credentials import service
from app.credentials.schemas import CredentialCreate, CredentialUpdate
from app.web.deps import AdminUser, IdPath, SessionDep
from app.web.pages.deps import FormDep
from app.web.templating import is_htmx, render

router = APIRouter()
FIELDS = ("name", "env_var", "hosts", "description")


def _block(
    request: Request,
    session: SessionDep,
    *,
    error: str | None = None,
    typed: dict[str, Any] | None = None,
    editing: int | None = None,
    notice: str | None = None,
) -> Response:
    context = {
        "credentials": service.listing(session),
        "error": error,
        "form": typed if editing is None and error else {},
        "editing": editing,
        "edit_form": typed if editing is not None else {},
        "notice": notice,
    }
    return render(
        request, "admin/credentials.html", context, block="credentials", status_code=422 if error else 200
    )


def _done(request: Request, session: SessionDep, notice: str) -> Response:
    """htmx: the block with the notice; a plain form post: 303 to the page, which shows the notice once."""
    if is_htmx(request):
        return _block(request, session, notice=notice)
    request.session["credentials_notice"] = notice
    return RedirectResponse("/admin/credentials", status_code=303)


def _typed(form: FormDep) -> dict[str, str]:
    return {k: v.strip() for k in FIELDS if isinstance(v := form.get(k), str)}


def _message(exc: ValidationError) -> str:
    return "; ".join(
        f"{e['loc'][-1]}: {e['msg'].removeprefix('Value error, ')}" if e["loc"] else e["msg"]
        for e in exc.errors()
    )


def _hosts(value: str) -> list[str]:
    return [h for h in value.replace("\n", ",").split(",") if h.strip()]


@router.get("/admin/credentials")
def credentials_page(request: Request, admin: AdminUser, session: SessionDep) -> Response:
    return _block(request, session, notice=request.session.pop("credentials_notice", None))


@router.post("/admin/credentials")
def create_credential(request: Request, admin: AdminUser, session: SessionDep, form: FormDep) -> Response:
    typed = _typed(form)
    try:
        data = CredentialCreate(
            name=typed.get("name", ""),
            env_var=typed.get("env_var", ""),
            hosts=_hosts(typed.get("hosts", "")),
            description=typed.get("description", ""),
        )
        credential = service.create_credential(session, data=data, user=admin)
    except ValidationError as exc:
        return _block(request, session, error=_message(exc), typed=typed)
    except PreflabError as exc:
        return _block(request, session, error=exc.message, typed=typed)
    return _done(request, session, f"Added {credential.name}.")


@router.post("/admin/credentials/{credential_id}")
def update_credential(
    request: Request, credential_id: IdPath, admin: AdminUser, session: SessionDep, form: FormDep
) -> Response:
    credential = service.get_credential(session, credential_id)
    typed = _typed(form)
    try:
        data = CredentialUpdate(
            env_var=typed.get("env_var", ""),
            hosts=_hosts(typed.get("hosts", "")),
            description=typed.get("description", ""),
        )
        service.update_credential(session, credential=credential, data=data, user=admin)
    except ValidationError as exc:
        return _block(request, session, error=_message(exc), typed=typed, editing=credential.id)
    return _done(request, session, f"Saved {credential.name}.")


@router.post("/admin/credentials/{credential_id}/delete")
def delete_credential(
    request: Request, credential_id: IdPath, admin: AdminUser, session: SessionDep
) -> Response:
    credential = service.get_credential(session, credential_id)
    name = credential.name
    service.delete_credential(session, credential=credential, user=admin)
    return _done(
        request,
        session,
        f"Deleted {name}: jobs of projects that chose it are refused until a lead chooses another.",
    )
