from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.auth import service
from app.core.security import new_csrf_token, password_stamp
from app.web.deps import SessionDep
from app.web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through the login page.
    # Browsers read "/\\host" like "//host", so a backslash is refused too.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: str = Form(...),
    password: str = Form(...),
    next: str = Form("/"),
) -> Response:
    client = request.client.host if request.client else "unknown"
    user = service.authenticate(session, email=email, password=password, client=client)
    if user is None:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "Wrong e-mail or password.", "email": email},
            status_code=401,
        )
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = new_csrf_token()
    request.session["pw"] = password_stamp(user.password_hash)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
