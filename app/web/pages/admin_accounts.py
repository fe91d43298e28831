"""The admin area's accounts: the Users page (add, deactivate, reactivate, password-reset links), invites
on the same page, and the instance settings page. Each action answers the page's block again (htmx swaps
it in), with its error in place and what the admin typed kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from app.auth import accounts, instance, invites, service
from app.auth.schemas import InviteCreate, UserCreate
from app.core.errors import PreflabError
from app.models import User
from app.projects.service import visible_projects
from app.web.deps import AdminUser, IdPath, SessionDep
from app.web.templating import render

router = APIRouter()


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())


def _users_page(
    request: Request,
    session: SessionDep,
    admin: User,
    *,
    block: str = "users",
    status: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {
        "users": service.all_users(session),
        "admin": admin,
        "invites": invites.pending(session),
        "projects": {p.id: p.name for p, _ in visible_projects(session, user=admin, limit=500)},
        "error": None,
        "form": {},
        "invite_error": None,
        "invite_form": {},
        **extra,
    }
    return render(request, "admin/users.html", context, block=block, status_code=status)


@router.get("/admin/users")
def users_page(request: Request, admin: AdminUser, session: SessionDep) -> Response:
    return _users_page(request, session, admin)


@router.post("/admin/users")
def create_user(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    email: str = Form(...),
    name: str = Form(""),
    password: str = Form(...),
    is_admin: bool = Form(False),
) -> Response:
    error = None
    try:
        body = UserCreate(email=email, name=name, password=password, is_admin=is_admin)
        service.create_user(
            session,
            email=body.email,
            password=body.password,
            name=body.name,
            is_admin=body.is_admin,
            actor=admin,
        )
    except ValidationError as exc:
        error = _errors(exc)
    except PreflabError as exc:
        error = exc.message
    typed = {"email": email, "name": name, "is_admin": is_admin} if error else {}
    return _users_page(request, session, admin, status=422 if error else 200, error=error, form=typed)


def _user_action(request: Request, session: SessionDep, admin: User, user_id: int, active: bool) -> Response:
    try:
        user = accounts.set_active(
            session, user=accounts.get_user(session, user_id), active=active, actor=admin
        )
    except PreflabError as exc:
        return _users_page(request, session, admin, status=exc.status_code, error=exc.message)
    done = "reactivated" if active else "deactivated: their sessions and API tokens stopped working"
    return _users_page(request, session, admin, notice=f"{user.email} {done}.")


@router.post("/admin/users/{user_id}/deactivate")
def deactivate(request: Request, user_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    return _user_action(request, session, admin, user_id, active=False)


@router.post("/admin/users/{user_id}/reactivate")
def reactivate(request: Request, user_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    return _user_action(request, session, admin, user_id, active=True)


@router.post("/admin/users/{user_id}/password-reset")
def password_reset(request: Request, user_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    try:
        user = accounts.get_user(session, user_id)
        url, expires_at = accounts.create_reset_link(session, user=user, actor=admin)
    except PreflabError as exc:
        return _users_page(request, session, admin, status=exc.status_code, error=exc.message)
    link = {"email": user.email, "url": url, "expires_at": expires_at}
    return _users_page(request, session, admin, reset_link=link)


@router.post("/admin/invites")
def create_invite(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    email: str = Form(""),
    is_admin: bool = Form(False),
    project_id: str = Form(""),
    project_role: str = Form(""),
) -> Response:
    typed = {"email": email, "is_admin": is_admin, "project_id": project_id, "project_role": project_role}
    try:
        body = InviteCreate.model_validate(
            {
                "email": email.strip() or None,
                "is_admin": is_admin,
                "project_id": project_id or None,
                "project_role": (project_role or None) if project_id else None,
            }
        )
        data = invites.InviteRequest(
            email=body.email,
            is_admin=body.is_admin,
            project_id=body.project_id,
            project_role=body.project_role,
        )
        invite, url = invites.create_invite(session, data=data, actor=admin)
    except ValidationError as exc:
        return _users_page(
            request, session, admin, block="invites", status=422, invite_error=_errors(exc), invite_form=typed
        )
    except PreflabError as exc:
        return _users_page(
            request,
            session,
            admin,
            block="invites",
            status=exc.status_code,
            invite_error=exc.message,
            invite_form=typed,
        )
    new = {"url": url, "email": invite.email, "expires_at": invite.expires_at}
    return _users_page(request, session, admin, block="invites", new_invite=new)


@router.post("/admin/invites/{invite_id}/revoke")
def revoke_invite(request: Request, invite_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    try:
        invites.revoke(session, invite_id=invite_id, actor=admin)
    except PreflabError as exc:
        return _users_page(
            request, session, admin, block="invites", status=exc.status_code, invite_error=exc.message
        )
    return _users_page(request, session, admin, block="invites", invite_notice="Invite revoked.")


@router.get("/admin/settings")
def settings_page(request: Request, admin: AdminUser, session: SessionDep) -> Response:
    context = {"values": instance.read_all(session), "notice": None}
    return render(request, "admin/settings.html", context, block="settings")


@router.post("/admin/settings")
def save_settings(
    request: Request, admin: AdminUser, session: SessionDep, non_admins_create_projects: bool = Form(False)
) -> Response:
    values = instance.update(
        session, changes={"non_admins_create_projects": non_admins_create_projects}, actor=admin
    )
    return render(
        request, "admin/settings.html", {"values": values, "notice": "Settings saved."}, block="settings"
    )
