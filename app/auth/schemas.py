from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    is_admin: bool
    is_active: bool = True


class UserCreate(BaseModel):
    email: EmailStr
    name: str = Field("", max_length=200)
    password: str = Field(min_length=8, max_length=500)
    is_admin: bool = False


class TokenCreate(BaseModel):
    name: str = Field("", max_length=200)


class TokenCreated(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown once; store it now")


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ResetLinkCreated(BaseModel):
    user_id: int
    url: str = Field(description="single use; hand it to the user. Shown once: only a hash is stored")
    expires_at: datetime


class InviteCreate(BaseModel):
    email: EmailStr | None = Field(None, description="binds the invite to it; else the invitee types one")
    is_admin: bool = False
    project_id: int | None = Field(None, ge=1, description="a project the invitee joins on accepting")
    project_role: Literal["annotator", "reviewer", "lead"] | None = Field(
        None, description="their role in it (default annotator)"
    )


class InviteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str | None
    is_admin: bool
    project_id: int | None
    project_role: str | None
    created_at: datetime
    expires_at: datetime


class InviteCreated(InviteRead):
    url: str = Field(description="single use; hand it to the invitee. Shown once: only a hash is stored")


class InstanceSettingsRead(BaseModel):
    non_admins_create_projects: bool = Field(
        description="any signed-in user may create a project (and leads it); off: administrators only"
    )


class InstanceSettingsUpdate(BaseModel):
    non_admins_create_projects: bool | None = None
