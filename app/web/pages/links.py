"""The pages behind the links an admin hands over: /invite/<token> (choose a name and password, and an
e-mail where the invite is bound to none, and be signed in) and /reset/<token> (choose a new password;
every other session ends). A used, revoked, expired or unknown link answers one clear page (410)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.auth import accounts, invites
from app.core.errors import NotFound, PreflabError
from app.web.deps import SessionDep
from app.web.pages.deps import start_session
from app.web.templating import render

router = APIRouter()


def _gone(request: Request, message: str) -> Response:
    return render(request, "links/gone.html", {"message": message}, status_code=410)


def _invite_page(
    request: Request, session: SessionDep, token: str, *, status: int = 200, **extra: object
) -> Response:
    invite = invites.invite_for(session, token)
    context = {
        "invite": invite,
        "token": token,
        "project_name": invites.project_name(session, invite),
        "error": None,
        "form": {},
        **extra,
    }
    return render(request, "links/invite.html", context, status_code=status)


@router.get("/invite/{invite_token}")
def invite_page(request: Request, invite_token: str, session: SessionDep) -> Response:
    try:
        return _invite_page(request, session, invite_token)
    except NotFound as exc:
        return _gone(request, exc.message)


@router.post("/invite/{invite_token}")
def accept_invite(
    request: Request,
    invite_token: str,
    session: SessionDep,
    email: str = Form(""),
    name: str = Form(""),
    password: str = Form(""),
    repeat_password: str = Form(""),
) -> Response:
    try:
        user, joined = invites.accept(
            session, token=invite_token, email=email, name=name, password=password, repeat=repeat_password
        )
    except NotFound as exc:
        return _gone(request, exc.message)
    except PreflabError as exc:
        typed = {"email": email, "name": name}
        try:
            return _invite_page(
                request, session, invite_token, error=exc.message, form=typed, status=exc.status_code
            )
        except NotFound as gone:
            return _gone(request, gone.message)
    start_session(request, user)
    return RedirectResponse(f"/projects/{joined}" if joined else "/", status_code=303)


def _reset_page(
    request: Request, session: SessionDep, token: str, error: str | None, status: int
) -> Response:
    _, user = accounts.reset_for(session, token)
    context = {"email": user.email, "token": token, "error": error}
    return render(request, "links/reset.html", context, status_code=status)


@router.get("/reset/{reset_token}")
def reset_page(request: Request, reset_token: str, session: SessionDep) -> Response:
    try:
        return _reset_page(request, session, reset_token, None, 200)
    except NotFound as exc:
        return _gone(request, exc.message)


@router.post("/reset/{reset_token}")
def use_reset(
    request: Request,
    reset_token: str,
    session: SessionDep,
    password: str = Form(""),
    repeat_password: str = Form(""),
) -> Response:
    try:
        user = accounts.use_reset_link(session, token=reset_token, password=password, repeat=repeat_password)
    except NotFound as exc:
        return _gone(request, exc.message)
    except PreflabError as exc:
        try:
            return _reset_page(request, session, reset_token, exc.message, exc.status_code)
        except NotFound as gone:
            return _gone(request, gone.message)
    start_session(request, user)  # this browser is signed in with the new password; every other session ended
    return RedirectResponse("/?password_reset=1", status_code=303)
