"""What pre-labeling asks for (DESIGN §4.2, §10 `/prelabel`): a project's endpoint settings, a job request,
prompt templates, and what the API answers. Every field has a default, so `{mode}` alone is a request."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.core.db import DbId
from app.credentials.binding import NAME as CREDENTIAL_NAME
from app.credentials.schemas import CredentialChoice
from app.imports.schemas import TaskRead

Mode = Literal["generate", "label", "judge", "draft"]
MODES: tuple[str, ...] = ("generate", "label", "judge", "draft")

MODE_HELP = {
    "generate": "write candidate responses, so a prompts-only task becomes a pairwise or ranking task",
    "label": "predict the project's label with a JSON-schema answer and a confidence",
    "judge": "LLM-as-judge: a preference with a rationale, asked in both orders to cancel position bias",
    "draft": "a draft answer for a person to correct",
}
NO_KEY_VARIABLES = (
    "api_key_env is no longer accepted: a lead named any variable of the worker's environment, and its "
    "value went to any endpoint. Keys are now credentials that an administrator binds to the hosts they "
    "may go to: name one in `credential` (GET …/prelabel/settings lists them), or leave it empty"
)
# generate with trained policies (Models of training runs), on a GPU worker
POLICY_METHODS: tuple[str, ...] = ("sft", "dpo", "kto")  # causal LMs: a reward model scores, never writes
DEFAULT_MAX_NEW_TOKENS = 128
DEFAULT_POLICY_TEMPERATURE = 0.7  # sampled, so two responses of one policy to one prompt differ


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LlmSettings(_Strict):
    """One project's endpoint. The API key is never stored: the project names a credential, which an
    administrator binds to the hosts it may be sent to (app/credentials)."""

    base_url: str = Field(min_length=1, max_length=500, description="OpenAI-compatible base URL (…/v1)")
    model: str = Field(min_length=1, max_length=200)
    credential: str = Field(
        "",
        max_length=100,
        description="the credential whose key is sent (it goes only to its hosts; 'default': the instance "
        "key, for the instance endpoint); empty: no key, for a server that needs none",
    )
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1, le=200_000)
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    requests_per_minute: int = Field(0, ge=0, le=1_000_000, description="0: no cap")
    price_in_per_1k: float = Field(0.0, ge=0, description="price of 1,000 input tokens")
    price_out_per_1k: float = Field(0.0, ge=0, description="price of 1,000 output tokens")
    timeout_s: float = Field(120.0, gt=0, le=3600)
    max_retries: int = Field(4, ge=0, le=20, description="the client retries 429 and 5xx with backoff")
    redact_emails: bool = False
    redact_phones: bool = False
    images: bool = Field(
        False, description="the model accepts images: a task's images go to it as image parts (data URIs)"
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL, such as http://127.0.0.1:8001/v1")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="before")
    @classmethod
    def _no_key_variables(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key_env" in data:
            raise ValueError(NO_KEY_VARIABLES)
        return data

    @field_validator("credential")
    @classmethod
    def _credential(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not CREDENTIAL_NAME.match(value):
            raise ValueError("must be the name of a credential, such as default")
        return value


class Budget(_Strict):
    max_cost: float | None = Field(None, gt=0, description="stop starting requests before this is spent")
    max_tokens: int | None = Field(None, gt=0, description="input + output tokens")


class TaskFilter(_Strict):
    status: Literal["open", "all"] = Field("open", description="open: tasks that still want annotations")
    only_missing: bool = Field(
        True,
        description="skip tasks that already have a suggestion of this mode (generate: enough responses)",
    )
    limit: int | None = Field(None, ge=1, le=10_000_000)


class PrelabelRequest(_Strict):
    mode: Mode
    task_ids: list[DbId] | None = Field(None, max_length=100_000, description="these tasks (default: filter)")
    filter: TaskFilter = Field(default_factory=TaskFilter)
    budget: Budget = Field(default_factory=Budget)
    use_cache: bool = Field(True, description="answer repeated requests from the cache, at no cost")
    models: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="generate: models to draw from (default: the project's)",
    )
    k: int | None = Field(
        None, ge=1, le=20, description="generate: responses per task (default: what the project's kind needs)"
    )
    temperature: float | None = Field(
        None,
        ge=0,
        le=2,
        description=f"default: the endpoint's; {DEFAULT_POLICY_TEMPERATURE} with policy_models (0: greedy)",
    )
    policy_models: list[DbId] = Field(
        default_factory=list,
        max_length=10,
        description="generate: trained models (ids) to generate with on a GPU worker, round-robin, "
        "instead of the endpoint; nothing is sent anywhere",
    )
    max_new_tokens: int | None = Field(
        None,
        ge=1,
        le=8192,
        description=f"generate with policy_models: tokens per response (default {DEFAULT_MAX_NEW_TOKENS})",
    )

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        cleaned = [m.strip() for m in value if m.strip()]
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("models must be distinct")
        return cleaned

    @field_validator("policy_models")
    @classmethod
    def _policy_models(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("policy_models must be distinct")
        return value

    @model_validator(mode="after")
    def _generate_only(self) -> PrelabelRequest:
        if self.mode != "generate" and (
            self.models or self.k is not None or self.policy_models or self.max_new_tokens is not None
        ):
            raise ValueError("models, k, policy_models and max_new_tokens apply to generate only")
        if self.policy_models and self.models:
            raise ValueError(
                "generate with the endpoint's models or with policy_models (trained models), not both: "
                "start one job for each"
            )
        if self.max_new_tokens is not None and not self.policy_models:
            raise ValueError(
                "max_new_tokens applies to policy_models; the endpoint's max_tokens bounds its answers"
            )
        return self


class PrelabelAccepted(BaseModel):
    job_id: int
    tasks: int = Field(description="tasks the job will consider (before the budget)")
    sent_to: str


class TemplateIn(_Strict):
    system: str = Field("", max_length=20_000)
    body: str = Field(min_length=1, max_length=50_000)


class TemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None
    mode: str
    version: int
    system: str
    body: str
    created_at: datetime | None
    created_by_id: int | None = None


class SuggestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    job_id: int | None
    kind: str
    result: dict[str, Any]
    model: str
    prompt_version: int | None
    tokens_in: int
    tokens_out: int
    cost: float
    latency_ms: int | None
    error: str | None
    created_at: datetime


class ReviewBody(_Strict):
    """A reviewer's answer to a suggestion: accept it as is, or give the result after editing or
    rejecting it. Stored as an annotation through the annotation service (idempotent by `uuid`)."""

    uuid: str
    action: Literal["accept", "edit", "reject"]
    result: dict[str, Any] | None = Field(None, description="edit and reject: the reviewer's result")
    assignment_id: int | None = None
    lead_time_ms: int | None = Field(None, ge=0, le=7 * 24 * 3600 * 1000)

    @model_validator(mode="after")
    def _result(self) -> ReviewBody:
        if self.action != "accept" and self.result is None:
            raise ValueError(f"{self.action} needs the reviewer's result")
        return self


class ReviewRead(BaseModel):
    uuid: str
    task_id: int
    suggestion_id: int
    origin: str
    edit_distance: int | None
    result: dict[str, Any]
    created: bool


class ReviewNext(BaseModel):
    assignment_id: int
    expires_at: datetime
    task: TaskRead
    suggestion: SuggestionRead


class SettingsRead(BaseModel):
    """A project's endpoint as pre-label jobs will use it, and where its data would go."""

    settings: LlmSettings = Field(description="the stored settings over the instance's defaults")
    stored: dict[str, Any] = Field(description="what the project stored (empty: the instance's defaults)")
    defaults: dict[str, Any] = Field(description="the instance's defaults")
    host: str
    private: bool
    host_allowed_for_private: bool
    modes: list[str] = Field(description="the pre-label modes the project's kind offers")
    credentials: list[CredentialChoice] = Field(
        default_factory=list, description="the credentials an endpoint may name (names and hosts, no keys)"
    )
    notice: str | None = Field(None, description="what is wrong with the stored settings, if anything")


class Metrics(BaseModel):
    suggestions: int
    errors: int
    by_mode: dict[str, int]
    reviewed: int = Field(description="annotations made from a suggestion")
    accepted: int
    edited: int
    replaced: int
    acceptance_rate: float | None
    mean_edit_distance: float | None
    judge_human_pairs: int
    judge_human_agreement: float | None
    label_human_pairs: int
    label_human_agreement: float | None
    judge_orders_disagree: int
    cost: float
    tokens_in: int
    tokens_out: int
