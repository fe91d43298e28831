"""Where pre-labels are sent: a project's endpoint settings over the instance defaults, the privacy guard
that keeps a private project's data inside the allow-list, the API key looked up by name, the cache key
and the price of an answer."""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError

from app.core.config import Settings, get_settings
from app.core.errors import InvalidInput
from app.models import Project
from app.prelabel.schemas import LlmSettings

LOOPBACK = ("127.0.0.0/8", "::1/128")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
NO_KEY = "no-key"  # what the client sends to a server that needs no key (it insists on one)


def instance_defaults(settings: Settings | None = None) -> dict[str, Any]:
    s = settings or get_settings()
    return {
        "base_url": s.llm_base_url,
        "model": s.llm_model,
        "api_key_env": s.llm_api_key_env,
        "concurrency": s.llm_concurrency,
        "requests_per_minute": s.llm_requests_per_minute,
        "price_in_per_1k": s.llm_price_in_per_1k,
        "price_out_per_1k": s.llm_price_out_per_1k,
        "timeout_s": s.llm_timeout_s,
        "max_retries": s.llm_max_retries,
    }


def effective_settings(project: Project) -> LlmSettings:
    """The project's endpoint: its own settings over the instance defaults (PREFLAB_LLM_*)."""
    stored = {k: v for k, v in (project.llm or {}).items() if k in LlmSettings.model_fields}
    try:
        return LlmSettings.model_validate({**instance_defaults(), **stored})
    except ValidationError as exc:
        raise InvalidInput(f"the project's LLM settings are not valid: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


def host_of(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if not host:
        raise InvalidInput(f"the endpoint {base_url!r} names no host")
    return host.lower().rstrip(".")


def host_allowed(host: str, allowed: str) -> bool:
    """Whether `host` is in the allow-list: names (`*.corp.example` too), IPs, CIDR ranges, and the words
    `loopback` and `private`. Names other than localhost are matched as written, never resolved: what a
    name resolves to can change between this check and the request."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in allowed.split(",")):
        if not entry:
            continue
        ranges: tuple[str, ...] = ()
        if entry == "loopback":
            if host == "localhost" or host.endswith(".localhost"):
                return True
            ranges = LOOPBACK
        elif entry == "private":
            ranges = PRIVATE
        elif "/" in entry:
            ranges = (entry,)
        elif address is None and fnmatch.fnmatchcase(host, entry):
            return True
        elif address is not None:
            try:
                if address == ipaddress.ip_address(entry.strip("[]")):
                    return True
            except ValueError:
                continue
        if address is not None and any(_in(address, r) for r in ranges):
            return True
    return False


def _in(address: ipaddress.IPv4Address | ipaddress.IPv6Address, cidr: str) -> bool:
    try:
        return address in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def check_destination(project: Project, settings: LlmSettings) -> str:
    """The host the project's data would go to; InvalidInput, before anything is sent, when the project
    is private and the host is not in the instance allow-list."""
    host = host_of(settings.base_url)
    allowed = get_settings().llm_allowed_hosts
    if project.is_private and not host_allowed(host, allowed):
        raise InvalidInput(
            f"project {project.name!r} is private: its data may only go to hosts in the instance allow-list "
            f"({allowed}), and {host} is not in it. Point the endpoint at an allowed host (a local vLLM, "
            "Ollama or LiteLLM), or ask an administrator to add it to PREFLAB_LLM_ALLOWED_HOSTS. "
            "Nothing was sent.",
            field="base_url",
        )
    return host


def check_key_name(name: str) -> None:
    patterns = [p.strip() for p in get_settings().llm_api_key_envs.split(",") if p.strip()]
    if name and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
        raise InvalidInput(
            f"the API key must come from a variable named like {', '.join(patterns)} "
            f"(PREFLAB_LLM_API_KEY_ENVS); {name} is not one",
            field="api_key_env",
        )


def api_key(settings: LlmSettings) -> str:
    """The key from the worker's environment, read when the job runs and never stored."""
    name = settings.api_key_env
    if not name:
        return NO_KEY
    check_key_name(name)
    value = os.environ.get(name, "").strip()
    if not value:
        raise InvalidInput(
            f"the worker has no {name} in its environment; set it there (Preflab never stores keys), "
            "or leave the key variable empty for a server that needs none"
        )
    return value


def cache_key(base_url: str, body: dict[str, Any] | bytes) -> str:
    """(endpoint, model, rendered prompt, params) hashed: the body holds the model, messages and params
    (given as a dict, or already encoded with sorted keys)."""
    encoded = body if isinstance(body, bytes) else orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(base_url.encode() + b"\n" + encoded).hexdigest()


def cost_of(tokens_in: int, tokens_out: int, settings: LlmSettings) -> float:
    return tokens_in / 1000 * settings.price_in_per_1k + tokens_out / 1000 * settings.price_out_per_1k
