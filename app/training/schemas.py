"""A training run as an admin asks for it (DESIGN §4.7, §10 `/training-jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["sft", "reward", "dpo", "kto"]

# Which snapshot format each method trains on.
FORMAT_FOR = {"sft": "sft", "reward": "preference", "dpo": "preference", "kto": "kto"}


class LoraRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, le=1024)
    alpha: int = Field(32, ge=1, le=4096)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class TrainParams(BaseModel):
    """Hyper-parameters; anything left out takes the method's default (mlcore/config.py)."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: float | None = Field(None, gt=0, le=1)
    num_train_epochs: float | None = Field(None, gt=0, le=100)
    max_steps: int = Field(-1, ge=-1, le=10_000_000)
    per_device_train_batch_size: int | None = Field(None, ge=1, le=4096)
    gradient_accumulation_steps: int = Field(1, ge=1, le=4096)
    max_length: int | None = Field(None, ge=16, le=1_048_576)
    beta: float = Field(0.1, gt=0, le=100)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    seed: int = 0
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"


class TrainingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    snapshot_id: int
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
