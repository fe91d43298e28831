from __future__ import annotations

from fastapi import APIRouter, Response

from app.auth import service
from app.auth.schemas import TokenCreate, TokenCreated, TokenRead, UserCreate, UserRead
from app.models import User
from app.web.api.v1.pagination import Cursor, Limit, Page, page_of
from app.web.deps import AdminUser, CurrentUser, IdPath, SessionDep

router = APIRouter(tags=["auth"])


@router.get("/me")
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.get("/tokens")
def list_tokens(user: CurrentUser, session: SessionDep) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.tokens_of(session, user)]


@router.post("/tokens", status_code=201)
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    token, raw = service.create_token(session, user=user, name=body.name)
    return TokenCreated(id=token.id, name=token.name, token=raw)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: IdPath, user: CurrentUser, session: SessionDep) -> Response:
    service.revoke_token(session, user=user, token_id=token_id)
    return Response(status_code=204)


@router.get("/users")
def list_users(
    admin: AdminUser, session: SessionDep, cursor: Cursor = None, limit: Limit = 100
) -> Page[UserRead]:
    page = page_of(session, service.users_in_order(), User.id, cursor=cursor, limit=limit)
    return Page(items=[UserRead.model_validate(x) for x in page.items], next_cursor=page.next_cursor)


@router.post("/users", status_code=201)
def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserRead:
    user = service.create_user(
        session, email=body.email, password=body.password, name=body.name, is_admin=body.is_admin, actor=admin
    )

    return UserRead.model_validate(user)
