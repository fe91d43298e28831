from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.web.deps import MAX_ID

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def parse_cursor(cursor: str | None) -> int | None:
    """The id a page continues after; None (the first page) for anything that is not one. str.isdigit()
    alone admits digits int() refuses ("³"); a number past the largest id continues after all of them."""
    if not cursor or not (cursor.isascii() and cursor.isdigit()):
        return None
    return min(int(cursor), MAX_ID)


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


def next_cursor(ids: list[int], limit: int) -> str | None:
    return str(ids[-1]) if len(ids) == limit else None


def page_of(
    session: Session, stmt: Select[Any], id_column: Any, *, cursor: str | None, limit: int
) -> Page[Any]:
    """One page of ORM rows, ordered by id, continuing after `cursor` (items still to be converted)."""
    if (after := parse_cursor(cursor)) is not None:
        stmt = stmt.where(id_column > after)
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit)))
    return Page(items=rows, next_cursor=next_cursor([r.id for r in rows], limit))
