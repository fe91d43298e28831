"""Typed dependency aliases: a route loads the object, checks the policy, calls the service.

Dependencies that query run in the thread pool (plain functions). `get_db` is the exception: it does
no I/O going in, and coming out it only commits or rolls back, which never waits on another
transaction, so it runs on the event loop and saves two thread hops per request. Tried and dropped:
making the querying dependencies `async def` too; a statement that waits for a lock (SQLite's BEGIN
IMMEDIATE, a PostgreSQL row lock) would then block the very loop that has to commit the holder."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth import policies
from app.auth.service import user_for_token
from app.core.db import get_sessionmaker
from app.core.errors import NotAuthenticated
from app.core.security import password_stamp
from app.models import Job, Project, Role, Snapshot, Task, TrainedModel, User


async def get_db() -> AsyncIterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        # The error page still names the signed-in user: take users out of the session before the
        # rollback expires them (a detached, expired user cannot be read by the template).
        for obj in list(session):
            if isinstance(obj, User):
                session.expunge(obj)
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a client that has its answer (and asks again,
# perhaps through another worker process) always finds the write.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


def authenticate(request: Request, session: Session) -> User:
    """Bearer token under /api, the signed session cookie on pages."""
    if request.url.path.startswith("/api/"):
        header = request.headers.get("authorization", "")
        scheme, _, raw = header.partition(" ")
        user = user_for_token(session, raw.strip()) if scheme.lower() == "bearer" and raw else None
        if user is None:
            raise NotAuthenticated("send a valid API token: Authorization: Bearer <token>")
    else:
        uid = request.session.get("uid")
        user = session.get(User, uid) if isinstance(uid, int) else None
        if user is None or not user.is_active:
            request.session.clear()
            raise NotAuthenticated("log in to continue")
        stamp = request.session.get("pw")  # sessions from before stamps existed carry none
        if stamp is not None and not hmac.compare_digest(password_stamp(user.password_hash), str(stamp)):
            request.session.clear()
            raise NotAuthenticated("your password was changed; log in with the new one")
    request.state.user = user
    return user


def get_current_user(request: Request, session: SessionDep) -> User:
    return authenticate(request, session)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    return policies.require_admin(user)


AdminUser = Annotated[User, Depends(get_admin)]


def _project_as(role: Role) -> Callable[..., Project]:
    def dependency(pid: int, user: CurrentUser, session: SessionDep) -> Project:
        return policies.project_for(session, project_id=pid, user=user, need=role)

    return dependency


def _task_as(role: Role) -> Callable[..., Task]:
    def dependency(tid: int, user: CurrentUser, session: SessionDep) -> Task:
        return policies.task_for(session, task_id=tid, user=user, need=role)

    return dependency


# The project from the path's {pid}, once the caller is known to hold at least that role in it.
ProjectAsAnnotator = Annotated[Project, Depends(_project_as(Role.annotator))]
ProjectAsReviewer = Annotated[Project, Depends(_project_as(Role.reviewer))]
ProjectAsLead = Annotated[Project, Depends(_project_as(Role.lead))]
TaskAsAnnotator = Annotated[Task, Depends(_task_as(Role.annotator))]


def get_job(jid: int, user: CurrentUser, session: SessionDep) -> Job:
    return policies.job_for(session, job_id=jid, user=user)


JobDep = Annotated[Job, Depends(get_job)]


def get_snapshot(sid: int, user: CurrentUser, session: SessionDep) -> Snapshot:
    return policies.snapshot_for(session, snapshot_id=sid, user=user)


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


def get_model(mid: int, user: CurrentUser, session: SessionDep) -> TrainedModel:
    return policies.model_for(session, model_id=mid, user=user)


ModelDep = Annotated[TrainedModel, Depends(get_model)]
