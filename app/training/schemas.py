"""A training run as an admin asks for it (DESIGN §4.7, §10 `/training-jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.core.db import DbId
from mlcore.config import LoraSettings, Method, TrainConfig
from mlcore.hyperparameters import DeclaredHyperparameter, hyperparameters

# Which snapshot format each method trains on.
FORMAT_FOR = {"sft": "sft", "reward": "preference", "dpo": "preference", "kto": "kto"}


def _requested(config_cls: type) -> tuple[DeclaredHyperparameter, ...]:
    return tuple(found for found in hyperparameters(config_cls) if found.description.chosen_by_caller)


# The hyper-parameters a caller chooses, as mlcore/config.py declares them: the API's params and the
# training form's fields are both built from these.
TRAIN_HYPERPARAMETERS = _requested(TrainConfig)
LORA_HYPERPARAMETERS = _requested(LoraSettings)


def _description(parameter: DeclaredHyperparameter) -> str:
    described = parameter.description
    applies = f" ({', '.join(described.methods)} only)" if described.methods else ""
    return f"{described.help}{applies}; default {parameter.defaults_in_words()}"


def params_model(name: str, declared: tuple[DeclaredHyperparameter, ...], doc: str) -> type[BaseModel]:
    """A pydantic model of declared hyper-parameters: the same types, bounds and defaults (None: the
    method's), each with its label and help text, so OpenAPI shows every parameter."""
    fields: dict[str, Any] = {}
    for parameter in declared:
        described = parameter.description
        caps = [bound for bound in (described.le, described.at_most) if bound is not None]
        fields[parameter.name] = (
            parameter.annotation,
            Field(
                parameter.default,
                title=described.label,
                description=_description(parameter),
                gt=described.gt,
                ge=described.ge,
                lt=described.lt,
                le=min(caps) if caps else None,
            ),
        )
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields)
    return model


if TYPE_CHECKING:  # mypy cannot see the fields of a model made at run time

    class LoraRequest(BaseModel): ...

    class TrainParams(BaseModel): ...

else:
    LoraRequest = params_model("LoraRequest", LORA_HYPERPARAMETERS, "A LoRA adapter's settings.")
    TrainParams = params_model(
        "TrainParams",
        TRAIN_HYPERPARAMETERS,
        "Hyper-parameters; anything left out takes the method's default.",
    )


class TrainingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snapshot_id: DbId
    method: Method
    base_model: str = Field(
        min_length=1, max_length=500, description="a directory on the worker, or a hub id"
    )
    base_model_on_worker: bool = Field(
        False, description="the path exists on the GPU workers only: skip the check on the web server"
    )
    lora: LoraRequest | None = None
    params: TrainParams = Field(default_factory=TrainParams)
    distributed: Literal["auto", "none", "ddp", "fsdp", "deepspeed"] = Field(
        "auto", description="auto: DDP across every GPU of the node when it has more than one"
    )


class ModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    job_id: int | None
    snapshot_id: int | None
    base_model: str
    method: str
    weights: str
    path: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    preflab_version: str
    created_at: datetime
