from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def parse_cursor(cursor: str | None) -> int | None:
    return int(cursor) if cursor and cursor.isdigit() else None


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


def next_cursor(ids: list[int], limit: int) -> str | None:
    return str(ids[-1]) if len(ids) == limit else None
