"""Administrators keep the credentials; leads choose one by name for a project's endpoint; jobs resolve the
chosen name to a key bound to its hosts. Everything that can be refused is refused before a job is queued
and again on the worker, before anything is sent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.hosts import host_allowed
from app.credentials.binding import DEFAULT, NO_KEY, Binding, Key, hint, instance_default
from app.credentials.schemas import CredentialChoice, CredentialCreate, CredentialRead, CredentialUpdate
from app.models import Credential, User, utcnow


def all_credentials(session: Session) -> list[Credential]:
    return list(session.scalars(select(Credential).order_by(Credential.name)))


def get_credential(session: Session, credential_id: int) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFound(f"credential {credential_id} not found")
    return credential


def create_credential(session: Session, *, data: CredentialCreate, user: User) -> Credential:
    if session.scalar(select(Credential.id).where(Credential.name == data.name)) is not None:
        raise Conflict(f"a credential named {data.name!r} already exists; change it instead", field="name")
    credential = Credential(
        name=data.name,
        env_var=data.env_var,
        hosts=",".join(data.hosts),
        description=data.description,
        created_by_id=user.id,
    )
    session.add(credential)
    session.flush()
    _audit(session, "credential.create", credential, user)
    return credential


def update_credential(
    session: Session, *, credential: Credential, data: CredentialUpdate, user: User
) -> None:
    if data.env_var is not None:
        credential.env_var = data.env_var
    if data.hosts is not None:
        credential.hosts = ",".join(data.hosts)
    if data.description is not None:
        credential.description = data.description
    credential.updated_at = utcnow()
    session.flush()
    _audit(session, "credential.update", credential, user)


def delete_credential(session: Session, *, credential: Credential, user: User) -> None:
    """Projects that chose it keep the name; their jobs are refused, saying so, until a lead chooses
    another."""
    _audit(session, "credential.delete", credential, user)
    session.delete(credential)
    session.flush()


def _audit(session: Session, action: str, credential: Credential, user: User) -> None:
    audit.record(
        session,
        action,
        user_id=user.id,
        target=("credential", credential.id),
        name=credential.name,
        env_var=credential.env_var,
        hosts=credential.hosts,
    )


def read(credential: Credential) -> CredentialRead:
    return CredentialRead(
        id=credential.id,
        name=credential.name,
        env_var=credential.env_var,
        hosts=credential.hosts.split(","),
        description=credential.description,
        hint=hint(credential.env_var),
        created_by_id=credential.created_by_id,
        created_at=credential.created_at,
        updated_at=credential.updated_at,
    )


def listing(session: Session) -> list[CredentialRead]:
    """What administrators see: the instance default first (when one is configured), then the rows."""
    out = []
    if (default := instance_default()) is not None:
        out.append(
            CredentialRead(
                id=None,
                name=DEFAULT,
                env_var=default.env_var,
                hosts=[default.hosts],
                description="the instance key (PREFLAB_LLM_API_KEY_ENV), for PREFLAB_LLM_BASE_URL's host",
                builtin=True,
                hint=hint(default.env_var),
            )
        )
    return out + [read(c) for c in all_credentials(session)]


def choices(session: Session, *, host: str) -> list[CredentialChoice]:
    """What a lead may choose from: names, hosts and whether the endpoint's host is among them."""
    return [
        CredentialChoice(
            name=c.name, hosts=c.hosts, description=c.description, fits=host_allowed(host, ",".join(c.hosts))
        )
        for c in listing(session)
    ]


def binding(session: Session, name: str) -> Binding:
    if name == DEFAULT:
        default = instance_default()
        if default is None:
            raise InvalidInput(
                "the instance has no default key (PREFLAB_LLM_API_KEY_ENV is empty): choose another "
                "credential, or none",
                field="credential",
            )
        return default
    row = session.scalar(select(Credential).where(Credential.name == name))
    if row is None:
        raise InvalidInput(
            f"there is no credential named {name!r} (an administrator may have removed it): choose one "
            "of those listed, or none",
            field="credential",
        )
    return Binding(row.name, row.env_var, row.hosts)


def check_credential(session: Session, *, name: str, host: str) -> None:
    """Refuse a credential that does not exist or may not go to `host`; the key itself is read later, on
    the worker (the web process need not have it)."""
    if name:
        binding(session, name).check_host(host)


def key_for(session: Session, *, name: str, host: str) -> Key:
    """The key a request to `host` carries: none without a credential, else the credential's, read from
    this process's environment, only if `host` is one of the credential's hosts."""
    if not name:
        return NO_KEY
    return binding(session, name).key_for(host)
