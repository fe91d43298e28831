"""Accounts, for administrators: deactivate and reactivate users, hand over password-reset and invite
links, and the instance settings (issue 16, "Accounts")."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth import accounts, instance, invites
from app.auth.schemas import (
    InstanceSettingsRead,
    InstanceSettingsUpdate,
    InviteCreate,
    InviteCreated,
    InviteRead,
    ResetLinkCreated,
    UserRead,
)
from app.web.deps import AdminUser, IdPath, SessionDep

router = APIRouter(tags=["accounts"])


@router.post("/users/{user_id}/deactivate")
def deactivate_user(user_id: IdPath, admin: AdminUser, session: SessionDep) -> UserRead:
    """Their sessions and API tokens stop working at once; not oneself, not the last active admin."""
    user = accounts.set_active(session, user=accounts.get_user(session, user_id), active=False, actor=admin)
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/reactivate")
def reactivate_user(user_id: IdPath, admin: AdminUser, session: SessionDep) -> UserRead:
    user = accounts.set_active(session, user=accounts.get_user(session, user_id), active=True, actor=admin)
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/password-reset", status_code=201)
def create_password_reset(user_id: IdPath, admin: AdminUser, session: SessionDep) -> ResetLinkCreated:
    """A single-use link (PREFLAB_RESET_LINK_HOURS) with which the user sets a new password; using it
    ends every session of theirs. An earlier unused link of theirs stops working."""
    url, expires_at = accounts.create_reset_link(
        session, user=accounts.get_user(session, user_id), actor=admin
    )
    return ResetLinkCreated(user_id=user_id, url=url, expires_at=expires_at)


@router.get("/invites")
def list_invites(admin: AdminUser, session: SessionDep) -> list[InviteRead]:
    """Pending invites (not used, revoked or expired), newest first."""
    return [InviteRead.model_validate(i) for i in invites.pending(session)]


@router.post("/invites", status_code=201)
def create_invite(body: InviteCreate, admin: AdminUser, session: SessionDep) -> InviteCreated:
    data = invites.InviteRequest(
        email=body.email, is_admin=body.is_admin, project_id=body.project_id, project_role=body.project_role
    )
    invite, url = invites.create_invite(session, data=data, actor=admin)
    return InviteCreated(**InviteRead.model_validate(invite).model_dump(), url=url)


@router.delete("/invites/{invite_id}", status_code=204)
def revoke_invite(invite_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    invites.revoke(session, invite_id=invite_id, actor=admin)
    return Response(status_code=204)


@router.get("/instance-settings")
def read_instance_settings(admin: AdminUser, session: SessionDep) -> InstanceSettingsRead:
    return InstanceSettingsRead(**instance.read_all(session))


@router.patch("/instance-settings")
def update_instance_settings(
    body: InstanceSettingsUpdate, admin: AdminUser, session: SessionDep
) -> InstanceSettingsRead:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return InstanceSettingsRead(**instance.update(session, changes=changes, actor=admin))
