from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.auth import service
from app.core.errors import InvalidInput, PreflabError
from app.core.security import password_stamp
from app.models import ApiToken, User
from app.web.deps import CurrentUser, IdPath, SessionDep
from app.web.templating import render

router = APIRouter()


def _tokens(session: SessionDep, user: User) -> list[ApiToken]:
    return service.tokens_of(session, user, newest_first=True)


@router.get("/account")
def account_page(
    request: Request, user: CurrentUser, session: SessionDep, password_changed: bool = False
) -> Response:
    context = {"tokens": _tokens(session, user), "new_token": None, "password_changed": password_changed}
    return render(request, "account.html", context, block="tokens")


@router.post("/account/password")
def change_password(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    current_password: str = Form(""),
    new_password: str = Form(""),
    repeat_password: str = Form(""),
) -> Response:
    """A plain form post: the page comes back whole, with the error or (303) the notice. This session
    stays signed in; every other session of the user is signed out (the password change bumps the
    user's session generation, which app/web/deps.py checks)."""
    try:
        if new_password != repeat_password:
            raise InvalidInput("the two new passwords differ; type the same one twice")
        service.change_password(session, user=user, current=current_password, new=new_password)
    except PreflabError as exc:  # answered, not raised: a wrong guess must be committed to count
        context = {"tokens": _tokens(session, user), "new_token": None, "password_error": exc.message}
        return render(request, "account.html", context, status_code=exc.status_code)
    request.session["pw"] = password_stamp(user.password_hash)
    request.session["gen"] = user.session_generation
    return RedirectResponse("/account?password_changed=1#password", status_code=303)


@router.post("/account/tokens")
def create_token(request: Request, user: CurrentUser, session: SessionDep, name: str = Form("")) -> Response:
    _, raw = service.create_token(session, user=user, name=name)
    return render(
        request, "account.html", {"tokens": _tokens(session, user), "new_token": raw}, block="tokens"
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: IdPath, user: CurrentUser, session: SessionDep) -> Response:
    service.revoke_token(session, user=user, token_id=token_id)
    return render(
        request, "account.html", {"tokens": _tokens(session, user), "new_token": None}, block="tokens"
    )
