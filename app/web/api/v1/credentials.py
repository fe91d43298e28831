"""Credentials (issue 18, finding 6): administrators bind API keys to the hosts they may be sent to. A key
is never sent or returned: a credential names the worker's variable that holds it, and answers show a hint."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.credentials import service
from app.credentials.schemas import CredentialCreate, CredentialRead, CredentialUpdate
from app.web.deps import AdminUser, IdPath, SessionDep

router = APIRouter(tags=["credentials"])


@router.get("/credentials")
def list_credentials(admin: AdminUser, session: SessionDep) -> list[CredentialRead]:
    """The instance default (PREFLAB_LLM_API_KEY_ENV, when set) first, then the others by name."""
    return service.listing(session)


@router.post("/credentials", status_code=201)
def create_credential(body: CredentialCreate, admin: AdminUser, session: SessionDep) -> CredentialRead:
    return service.read(service.create_credential(session, data=body, user=admin))


@router.get("/credentials/{credential_id}")
def read_credential(credential_id: IdPath, admin: AdminUser, session: SessionDep) -> CredentialRead:
    return service.read(service.get_credential(session, credential_id))


@router.patch("/credentials/{credential_id}")
def update_credential(
    credential_id: IdPath, body: CredentialUpdate, admin: AdminUser, session: SessionDep
) -> CredentialRead:
    credential = service.get_credential(session, credential_id)
    service.update_credential(session, credential=credential, data=body, user=admin)
    return service.read(credential)


@router.delete("/credentials/{credential_id}", status_code=204)
def delete_credential(credential_id: IdPath, admin: AdminUser, session: SessionDep) -> Response:
    service.delete_credential(session, credential=service.get_credential(session, credential_id), user=admin)
    return Response(status_code=204)
