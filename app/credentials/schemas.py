"""What administrators send and read about credentials (`/api/v1/credentials`), and what leads see of them
when they choose one for a project's endpoint: names and hosts, never a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.hosts import host_entry
from app.credentials.binding import DEFAULT, NAME, env_var_problem

NO_SECRETS = (
    "Preflab stores no keys: put the key in the worker's environment and name its variable in env_var"
)
HOSTS_MAX_CHARS = 2000


def _refuse_secrets(data: Any) -> Any:
    if isinstance(data, dict) and any(
        k.lower() in ("secret", "key", "api_key", "token", "value") for k in data
    ):
        raise ValueError(NO_SECRETS)
    return data


def _hosts(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            if part.strip() and (entry := host_entry(part)) not in out:
                out.append(entry)
    if not out:
        raise ValueError("name at least one host the key may be sent to")
    if len(",".join(out)) > HOSTS_MAX_CHARS:
        raise ValueError(f"the hosts take more than {HOSTS_MAX_CHARS} characters")
    return out


def _env_var(value: str) -> str:
    value = value.strip()
    if problem := env_var_problem(value):
        raise ValueError(problem)
    return value


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="what projects choose it by: a-z, 0-9, . _ -")
    env_var: str = Field(
        max_length=100, description="the variable of the worker's environment holding the key"
    )
    hosts: list[str] = Field(
        min_length=1,
        max_length=50,
        description="where the key may be sent: host names (*.corp.example), IPs, CIDR ranges, "
        "'loopback', 'private'",
    )
    description: str = Field("", max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        return _refuse_secrets(data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip().lower()
        if not NAME.match(value):
            raise ValueError(
                "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"
            )
        if value == DEFAULT:
            raise ValueError(f"{DEFAULT!r} is the instance default key (PREFLAB_LLM_API_KEY_ENV)")
        return value

    @field_validator("env_var")
    @classmethod
    def _env(cls, value: str) -> str:
        return _env_var(value)

    @field_validator("hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        return _hosts(value)


class CredentialUpdate(BaseModel):
    """What an administrator may change; the name stays, since projects refer to it."""

    model_config = ConfigDict(extra="forbid")

    env_var: str | None = Field(None, max_length=100)
    hosts: list[str] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        return _refuse_secrets(data)

    @field_validator("env_var")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return None if value is None else _env_var(value)

    @field_validator("hosts")
    @classmethod
    def _check_hosts(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _hosts(value)


class CredentialRead(BaseModel):
    id: int | None = Field(description="null for the instance default, which lives in the settings")
    name: str
    env_var: str
    hosts: list[str]
    description: str
    builtin: bool = Field(False, description="the instance default key (PREFLAB_LLM_API_KEY_ENV)")
    hint: str | None = Field(
        description="the key's last 4 characters as the web process sees the variable; null: not set there "
        "(the worker may still have it)"
    )
    created_by_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CredentialChoice(BaseModel):
    """A credential as a lead sees it when choosing one for the project's endpoint."""

    name: str
    hosts: list[str]
    description: str
    fits: bool = Field(description="the project's endpoint host is one it may be sent to")
