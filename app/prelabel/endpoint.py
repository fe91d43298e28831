"""Where pre-labels are sent: a project's endpoint settings over the instance defaults (settings saved before
credentials existed read sensibly), the privacy guard that keeps a private project's data inside the
allow-list, the cache key and the price of an answer. Which key goes where: app/credentials."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import ValidationError

from app.core.config import Settings, get_settings
from app.core.errors import InvalidInput
from app.core.hosts import host_allowed, host_of
from app.credentials.binding import DEFAULT
from app.models import Project
from app.prelabel.schemas import LlmSettings


def instance_defaults(settings: Settings | None = None) -> dict[str, Any]:
    s = settings or get_settings()
    return {
        "base_url": s.llm_base_url,
        "model": s.llm_model,
        "credential": DEFAULT if s.llm_api_key_env else "",
        "concurrency": s.llm_concurrency,
        "requests_per_minute": s.llm_requests_per_minute,
        "price_in_per_1k": s.llm_price_in_per_1k,
        "price_out_per_1k": s.llm_price_out_per_1k,
        "timeout_s": s.llm_timeout_s,
        "max_retries": s.llm_max_retries,
    }


def effective_settings(project: Project) -> LlmSettings:
    """The project's endpoint: its own settings over the instance defaults (PREFLAB_LLM_*)."""
    stored, _ = upgraded(project.llm or {})
    stored = {k: v for k, v in stored.items() if k in LlmSettings.model_fields}
    try:
        return LlmSettings.model_validate({**instance_defaults(), **stored})
    except ValidationError as exc:
        raise InvalidInput(f"the project's LLM settings are not valid: {describe(exc)}") from None


def upgraded(values: dict[str, Any], settings: Settings | None = None) -> tuple[dict[str, Any], str | None]:
    """Settings saved before credentials (a project's, or a job's queued then) named the variable holding
    the key, `api_key_env`, which a lead chose. Read now: empty is no credential, as it was; the instance
    default's variable is the credential "default" (which goes only to the default endpoint); any other
    is no credential, with the notice that says why and what to do, and jobs are refused until a lead
    saves the endpoint again."""
    if "api_key_env" not in values:
        return values, None
    out = {k: v for k, v in values.items() if k != "api_key_env"}
    old = str(values.get("api_key_env") or "")
    if "credential" in values or not old:
        return out | {"credential": out.get("credential", "")}, None
    s = settings or get_settings()
    if s.llm_api_key_env and old == s.llm_api_key_env:
        return out | {"credential": DEFAULT}, None
    notice = (
        f"the endpoint settings name the variable {old} for the API key (api_key_env), which Preflab no "
        "longer reads: keys are credentials that an administrator binds to the hosts they may go to. "
        "Choose one for this endpoint (or none) and save the endpoint; until then no job is started."
    )
    return out | {"credential": ""}, notice


def legacy_notice(project: Project) -> str | None:
    return upgraded(project.llm or {})[1]


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


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


def cache_key(base_url: str, body: dict[str, Any] | bytes) -> str:
    """(endpoint, model, rendered prompt, params) hashed: the body holds the model, messages and params
    (given as a dict, or already encoded with sorted keys)."""
    encoded = body if isinstance(body, bytes) else orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(base_url.encode() + b"\n" + encoded).hexdigest()


def cost_of(tokens_in: int, tokens_out: int, settings: LlmSettings) -> float:
    return tokens_in / 1000 * settings.price_in_per_1k + tokens_out / 1000 * settings.price_out_per_1k
