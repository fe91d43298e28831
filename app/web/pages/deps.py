"""CSRF for every page form: a token kept in the signed session, sent back as a form field or,
for htmx, as the X-CSRF-Token header (set once on <body hx-headers>)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.core.errors import Forbidden
from app.core.security import csrf_matches, new_csrf_token, password_stamp
from app.models import User
from app.web.uploads import FORM_MAX_FIELDS, FORM_MAX_FILES

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def ensure_csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = new_csrf_token()
    return str(token)


async def check_csrf(request: Request) -> None:
    ensure_csrf_token(request)
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get("x-csrf-token")
    if not given:
        form = await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS)
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not csrf_matches(request.session.get("csrf"), given):
        raise Forbidden("the form expired or came from another site; reload the page and try again")


async def get_form(request: Request) -> FormData:
    return await request.form(max_files=FORM_MAX_FILES, max_fields=FORM_MAX_FIELDS)


# Lets a page route stay a plain function (run in the thread pool, where its database calls belong)
# and still read a form whose fields depend on the project.
FormDep = Annotated[FormData, Depends(get_form)]


def start_session(request: Request, user: User) -> None:
    """Sign this browser in as `user` (login, an accepted invite, a used reset link): a fresh session
    with a new CSRF token and the user's current session generation."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = new_csrf_token()
    request.session["pw"] = password_stamp(user.password_hash)
    request.session["gen"] = user.session_generation
