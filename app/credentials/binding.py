"""A credential as the worker uses it: a key, read from the worker's environment when a job runs, that may
go only to its hosts. The instance default key (PREFLAB_LLM_API_KEY_ENV) is the credential "default",
bound to the host of PREFLAB_LLM_BASE_URL. Knows nothing of the database."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass

from app.core.config import Settings, get_settings
from app.core.errors import InvalidInput
from app.core.hosts import host_allowed, host_of

DEFAULT = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
INSTANCE_PREFIX = "PREFLAB_"  # the instance's own settings: its secret key, its database URL…


def env_var_problem(name: str, settings: Settings | None = None) -> str | None:
    """Why a credential may not read the variable `name` (None: it may). Checked when an administrator
    saves the credential and again when a worker reads it, so a narrower PREFLAB_LLM_API_KEY_ENVS holds
    for credentials saved before it."""
    s = settings or get_settings()
    patterns = [p.strip() for p in s.llm_api_key_envs.split(",") if p.strip()]
    if not ENV_NAME.match(name):
        return f"{name!r} is not the name of an environment variable, such as VLLM_API_KEY"
    if name.upper().startswith(INSTANCE_PREFIX):
        return f"{name} is one of Preflab's own settings (PREFLAB_*), never a key to send anywhere"
    if s.llm_api_key_env and name == s.llm_api_key_env:
        return (
            f"{name} holds the instance default key, which goes only to the default endpoint "
            f"({host_of(s.llm_base_url)}) as the credential {DEFAULT!r}"
        )
    if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
        return (
            f"a credential reads a variable named like {', '.join(patterns)} (PREFLAB_LLM_API_KEY_ENVS); "
            f"{name} is not one"
        )
    return None


@dataclass(frozen=True, slots=True)
class Key:
    """What a client may send: a key and the hosts it is bound to, or no key at all (`value` None)."""

    value: str | None = None
    credential: str = ""
    hosts: str = ""

    def for_host(self, host: str) -> str | None:
        """The key, if it may go to `host`; the last check, made where the client is built."""
        if self.value is not None and not host_allowed(host, self.hosts):
            raise InvalidInput(refusal(self.credential, self.hosts, host), field="credential")
        return self.value


NO_KEY = Key()


def refusal(credential: str, hosts: str, host: str) -> str:
    return (
        f"the credential {credential!r} may be sent only to {hosts.replace(',', ', ')}, and the endpoint's "
        f"host {host} is not one of them. Nothing was sent. Point the endpoint at one of its hosts, choose "
        f"another credential (or none), or ask an administrator to add {host} to {credential!r}."
    )


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    env_var: str
    hosts: str  # comma-separated
    builtin: bool = False

    def check_host(self, host: str) -> None:
        if not host_allowed(host, self.hosts):
            raise InvalidInput(refusal(self.name, self.hosts, host), field="credential")

    def key_for(self, host: str) -> Key:
        """The key for a request to `host`, read from this process's environment (the worker's)."""
        self.check_host(host)
        if not self.builtin and (problem := env_var_problem(self.env_var)):
            raise InvalidInput(f"the credential {self.name!r} cannot be used: {problem}", field="credential")
        value = os.environ.get(self.env_var, "").strip()
        if not value:
            raise InvalidInput(
                f"the worker has no {self.env_var} in its environment, which the credential {self.name!r} "
                "reads; set it there (Preflab never stores keys). Nothing was sent."
            )
        return Key(value=value, credential=self.name, hosts=self.hosts)


def instance_default(settings: Settings | None = None) -> Binding | None:
    """The credential "default": the instance key, for the instance endpoint's host only."""
    s = settings or get_settings()
    if not s.llm_api_key_env:
        return None
    return Binding(DEFAULT, s.llm_api_key_env, host_of(s.llm_base_url), builtin=True)


def hint(env_var: str) -> str | None:
    """How an administrator recognises the key without seeing it: its last four characters as this process
    sees the variable ("set" for a short one), None when the variable is not set here."""
    value = os.environ.get(env_var, "").strip()
    if not value:
        return None
    return f"…{value[-4:]}" if len(value) >= 16 else "set"
