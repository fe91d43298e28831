from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from app.auth import service
from app.core.config import get_settings
from app.core.errors import NotAuthenticated, TooManyRequests
from app.core.security import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE_S,
    device_cookie_with,
    read_device_cookie,
)
from app.web.deps import SessionDep, authenticate, client_address
from app.web.pages.deps import start_session
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
    devices = read_device_cookie(request.cookies.get(DEVICE_COOKIE))
    context = {"next": _safe_next(next), "email": email}
    try:
        user = service.authenticate(
            session, email=email, password=password, client=client_address(request), devices=devices
        )
    except TooManyRequests as exc:  # answered, not raised: the form stays, with when to try again
        retry = {"Retry-After": str(exc.extra.get("retry_after", 60))}
        context["error"] = exc.message
        return render(request, "login.html", context, status_code=429, headers=retry)
    if user is None:
        context["error"] = "Wrong e-mail or password."
        return render(request, "login.html", context, status_code=401)
    start_session(request, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    # This browser is now a known device for the user: their next logins here are counted apart from
    # everyone else's guesses at the account (app/auth/throttle.py).
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie_with(devices, user.id),
        max_age=DEVICE_COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=get_settings().base_url.startswith("https://"),
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Ends every session of the user ("log out everywhere"), not only this browser's: the cookie is
    signed, not stored, so the server can only refuse a generation, not one cookie. A cookie that has
    already ended signs no one out."""
    try:
        user = authenticate(request, session)
    except NotAuthenticated:
        user = None
    if user is not None:
        service.end_sessions(session, user)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
