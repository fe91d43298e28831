"""Projects as the API reads and writes them. Settings are validated by the project's kind (app/kinds):
every setting has a default, so {name, kind} is enough."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.kinds import KIND_NAMES, get_kind
from app.models import Role


def validate_settings(kind: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validated settings with every default filled in (raises pydantic.ValidationError)."""
    return get_kind(kind).validate_settings(raw)


def _known_kind(value: str) -> str:
    if value not in KIND_NAMES:
        raise ValueError(f"kind must be one of {', '.join(KIND_NAMES)}")
    return value


# A project kind by name, checked against the registry; OpenAPI lists the names.
KindName = Annotated[str, AfterValidator(_known_kind), Field(json_schema_extra={"enum": list(KIND_NAMES)})]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: KindName
    instructions: str = Field("", max_length=100_000)
    settings: dict[str, Any] = Field(default_factory=dict)
    is_private: bool = False

    @model_validator(mode="after")
    def _settings_fit_kind(self) -> ProjectCreate:
        self.settings = validate_settings(self.kind, self.settings)
        return self


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    instructions: str | None = Field(None, max_length=100_000)
    settings: dict[str, Any] | None = None
    is_private: bool | None = None
    archived: bool | None = None


class ProjectRead(BaseModel):
    id: int
    name: str
    kind: KindName
    instructions: str
    settings: dict[str, Any]
    is_private: bool
    archived: bool
    created_at: datetime
    task_count: int
    annotation_count: int
    done_count: int
    progress: float = Field(description="share of tasks whose overlap is filled")
    my_role: str | None = None


class MemberSet(BaseModel):
    role: Literal["annotator", "reviewer", "lead"]


class MemberRead(BaseModel):
    """`email` and `name` are null where the caller did not know them yet: adding a user by id tells a
    lead nothing more about them."""

    user_id: int
    email: str | None
    name: str | None
    role: str


ROLE_NAMES = [r.name for r in Role]
