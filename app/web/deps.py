"""Typed dependency aliases: a route loads the object, checks the policy, calls the service.

Dependencies that query run in the thread pool (plain functions). `get_db` does no I/O going in, so it
runs on the event loop; coming out, its commit runs in the thread pool too. A commit is not a formality:
it flushes what the request left pending (audit rows, whatever was added after the last query), and that
INSERT can wait for another transaction's lock (a row lock, PostgreSQL's key-share lock on a referenced
row, SQLite's one write lock). Run on the loop, that wait stopped every request of the process,
including the one holding the lock, which needed the loop to reach its own commit: the process wedged
until a statement timeout (issue 18, finding 16; schemathesis found it with two workers). Tried and
dropped: making the querying dependencies `async def`, for the same reason."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import policies
from app.auth.service import user_for_token
from app.core.db import MAX_ID, get_sessionmaker
from app.core.errors import InvalidInput, NotAuthenticated
from app.core.security import password_stamp
from app.models import Job, Project, Role, Snapshot, Task, TrainedModel, User

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]  # an optional id filter


async def get_db() -> AsyncIterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
        # A thread is always free for it: load shedding admits fewer requests than the pool has threads.
        await run_in_threadpool(session.commit)
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


def _nul_at(document: Any) -> tuple[str | int, ...] | None:
    """Where the first NUL character sits in a parsed JSON document (a stack, not recursion: orjson
    parses 1,024 levels, more than Python's recursion limit)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return at
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return (*at, key.replace("\x00", "\\u0000"))
                stack.append(((*at, key), item))
        elif isinstance(value, list):
            stack.extend(((*at, i), item) for i, item in enumerate(value))
    return None


async def refuse_nul_in_json(request: Request) -> None:
    """PostgreSQL stores no NUL character in text or JSONB, so a JSON body holding one is refused on
    every back end, naming the field. A NUL reaches a JSON body only as the escape \\u0000: bodies
    without that sequence (nearly all) cost one byte search."""
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # cached on the request: FastAPI parses the same bytes
    if b"\\u0000" not in body:
        return
    try:
        at = _nul_at(orjson.loads(body))
    except orjson.JSONDecodeError:
        return  # the body's own validation answers
    if at is not None:
        where = ".".join(str(part) for part in at) or "body"
        message = "text may not hold the NUL character (\\u0000); remove it"
        raise InvalidInput(
            f"the request is not valid: {where}: {message}",
            errors=[{"loc": ["body", *at], "message": message}],
        )


def authenticate(request: Request, session: Session) -> User:
    """Bearer token under /api, the signed session cookie on pages. A GET of the API without a token may
    also use the session cookie, so the JSON links on the pages open in the browser that shows them; a
    write never does (it would need no CSRF token)."""
    header = request.headers.get("authorization", "")
    reads_in_browser = request.method in ("GET", "HEAD") and not header and "uid" in request.session
    if request.url.path.startswith("/api/") and not reads_in_browser:
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
        # Logout and a password change bump the generation. Cookies from before generations existed
        # carry none and count as 0, the value every user started with, so the first bump ends them.
        if request.session.get("gen", 0) != user.session_generation:
            request.session.clear()
            raise NotAuthenticated(
                "this session has ended (logged out, or the password changed); log in again"
            )
        # The stamp still ends the sessions of a password changed before generations existed.
        stamp = request.session.get("pw")  # sessions from before stamps existed carry none
        if stamp is not None and not hmac.compare_digest(password_stamp(user.password_hash), str(stamp)):
            request.session.clear()
            raise NotAuthenticated("your password was changed; log in with the new one")
    request.state.user = user
    return user


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy forwarded for it (PREFLAB_TRUSTED_PROXIES,
    applied by app/main.py; no one's X-Forwarded-For is believed by default, loopback's included)."""
    return request.client.host if request.client else "unknown"


def get_current_user(request: Request, session: SessionDep) -> User:
    return authenticate(request, session)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_admin(user: CurrentUser) -> User:
    return policies.require_admin(user)


AdminUser = Annotated[User, Depends(get_admin)]


def get_project_creator(user: CurrentUser, session: SessionDep) -> User:
    return policies.require_project_creator(session, user)


# Who may create a project: admins, or anyone signed in when the instance setting allows it.
ProjectCreator = Annotated[User, Depends(get_project_creator)]


def _project_as(role: Role) -> Callable[..., Project]:
    def dependency(pid: IdPath, user: CurrentUser, session: SessionDep) -> Project:
        return policies.project_for(session, project_id=pid, user=user, need=role)

    return dependency


def _task_as(role: Role) -> Callable[..., Task]:
    def dependency(tid: IdPath, user: CurrentUser, session: SessionDep) -> Task:
        return policies.task_for(session, task_id=tid, user=user, need=role)

    return dependency


# The project from the path's {pid}, once the caller is known to hold at least that role in it.
ProjectAsAnnotator = Annotated[Project, Depends(_project_as(Role.annotator))]
ProjectAsReviewer = Annotated[Project, Depends(_project_as(Role.reviewer))]
ProjectAsLead = Annotated[Project, Depends(_project_as(Role.lead))]
TaskAsAnnotator = Annotated[Task, Depends(_task_as(Role.annotator))]


def get_job(jid: IdPath, user: CurrentUser, session: SessionDep) -> Job:
    return policies.job_for(session, job_id=jid, user=user)


JobDep = Annotated[Job, Depends(get_job)]


def get_snapshot(sid: IdPath, user: CurrentUser, session: SessionDep) -> Snapshot:
    return policies.snapshot_for(session, snapshot_id=sid, user=user)


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


def get_model(mid: IdPath, user: CurrentUser, session: SessionDep) -> TrainedModel:
    return policies.model_for(session, model_id=mid, user=user)


ModelDep = Annotated[TrainedModel, Depends(get_model)]
