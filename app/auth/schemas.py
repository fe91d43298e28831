from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    is_admin: bool


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
