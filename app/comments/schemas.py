from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# A comment is a note, not a document: past this the body is refused (422) rather than stored.
MAX_BODY_CHARS = 20_000


def _body(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a comment may not hold the NUL character (\\u0000); remove it")
    if not value.strip():
        raise ValueError("write something: the comment is empty")
    return value.strip()


Body = Annotated[
    str,
    Field(max_length=MAX_BODY_CHARS, description=f"Markdown, at most {MAX_BODY_CHARS:,} characters"),
    AfterValidator(_body),
]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Body
    parent_id: int | None = Field(None, ge=1, description="reply in this comment's thread")
    annotation_uuid: str | None = Field(
        None, max_length=36, description="comment on this annotation of the task, not on the task"
    )


class CommentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Body | None = None
    resolved: bool | None = None


class CommentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    annotation_uuid: str | None
    parent_id: int | None
    author_id: int | None
    author: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None


class CommentPosted(CommentRead):
    notified: list[str] = Field(description="the people told of this comment in their inbox")


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="mention | reply")
    comment_id: int
    project_id: int
    project: str
    task_id: int
    author: str
    excerpt: str
    created_at: datetime
    read_at: datetime | None
    url: str = Field(description="the page that shows the comment (review for reviewers, else its thread)")


class InboxRead(BaseModel):
    unread: int
    items: list[NotificationRead]


class InboxMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(default_factory=list, max_length=1000)
    all: bool = Field(False, description="mark every notification read")
