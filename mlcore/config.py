"""What one training run needs to know, as plain data that survives a trip through JSON (a Job row, a file).

Every hyper-parameter is declared here, once: a field of `TrainConfig` or `LoraSettings` whose metadata says
how it is labelled, explained and bounded and what it defaults to per method (mlcore/hyperparameters.py).
`validate()` checks those bounds; the API's params schema and the training form are built from these fields.

Hyper-parameters left as None take the method's default when the config is built (see `defaults_for`), so the
stored config always records the values that were actually used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast, get_args

from mlcore.hyperparameters import (
    HYPERPARAMETER,
    Hyperparameter,
    check_bounds,
    check_numbers,
    hyperparameters,
)

Method = Literal["sft", "reward", "dpo", "kto"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]
METHODS: tuple[str, ...] = get_args(Method)


_RANK = Hyperparameter("Rank", "rank of the LoRA update matrices", ge=1, at_most=1024)
_ALPHA = Hyperparameter("Alpha", "LoRA scaling: the update is multiplied by alpha / r", gt=0, at_most=4096)
_DROPOUT = Hyperparameter("Dropout", "dropout on the LoRA layers' input", ge=0, lt=1)
_TARGET_MODULES = Hyperparameter(
    "Target modules", "module names to adapt, or 'all-linear' for every linear one"
)


@dataclass
class LoraSettings:
    r: int = field(default=16, metadata={HYPERPARAMETER: _RANK})
    alpha: int = field(default=32, metadata={HYPERPARAMETER: _ALPHA})
    dropout: float = field(default=0.05, metadata={HYPERPARAMETER: _DROPOUT})
    target_modules: str | list[str] = field(default="all-linear", metadata={HYPERPARAMETER: _TARGET_MODULES})

    def validate(self) -> None:
        check_numbers(self, "lora.")
        check_bounds(self, "lora.")
        if not self.target_modules:
            raise ValueError("lora.target_modules must name at least one module, or be 'all-linear'")


# Learning rates: LoRA trains few, freshly initialised weights, so it wants about ten times the full rate. SFT
# follows TRL's SFT docs; the reward rate is the usual one for a fresh scalar head on a pretrained body; DPO
# uses Zephyr's 5e-7 (alignment-handbook); KTO keeps TRL's 1e-6, the middle of the paper's 5e-7..5e-6. These
# suit real 0.5B-8B models; tiny test models need larger rates to move in a few steps, which tests set.
_LEARNING_RATE = Hyperparameter(
    "Learning rate",
    "peak learning rate of the optimizer",
    gt=0,
    le=1,
    per_method={"sft": 2e-5, "reward": 1e-5, "dpo": 5e-7, "kto": 1e-6},
    per_method_lora={"sft": 2e-4, "reward": 1e-4, "dpo": 5e-6, "kto": 1e-5},
)
# One epoch for preference methods: reward models and DPO overfit quickly on a second pass (InstructGPT,
# Zephyr). Three for SFT, the Trainer default, because human-written SFT sets are small.
_EPOCHS = Hyperparameter(
    "Epochs",
    "passes over the training data (max_steps, when set, wins)",
    gt=0,
    at_most=100,
    per_method={"sft": 3.0, "reward": 1.0, "dpo": 1.0, "kto": 1.0},
)
# validate() also refuses 0, which the range cannot say.
_MAX_STEPS = Hyperparameter(
    "Max steps (-1: by epochs)", "optimizer steps to run; -1 trains by epochs", ge=-1, at_most=10_000_000
)
# Preference methods put two sequences (DPO, reward) or a completion and its KL partner (KTO) through the
# model per row, so their batches are smaller. KTO needs a batch of at least 2: its KL estimate pairs each
# prompt with a neighbour's completion (checked in validate()).
_BATCH_SIZE = Hyperparameter(
    "Batch size per device",
    "rows per device and step, before gradient accumulation",
    ge=1,
    at_most=4096,
    per_method={"sft": 8, "reward": 4, "dpo": 4, "kto": 8},
)
_ACCUMULATION = Hyperparameter(
    "Gradient accumulation", "batches whose gradients add up to one optimizer step", ge=1, at_most=4096
)
_MAX_LENGTH = Hyperparameter(
    "Max length (tokens)",
    "longest row kept, in tokens; longer rows are left out",
    ge=8,
    at_most=1_048_576,
    unit="tokens",
    per_method=dict.fromkeys(METHODS, 1024),
)
_BETA = Hyperparameter(
    "β", "how far the policy may move from the reference", gt=0, at_most=100, methods=("dpo", "kto")
)
# transformers 5 reads a warmup below 1 as a ratio and 1 or more as a step count.
_WARMUP = Hyperparameter("Warm-up ratio", "share of the steps that ramp the learning rate up", ge=0, lt=1)
_SEED = Hyperparameter("Seed", "seed of the data order and of freshly initialised weights")
_LOGGING_STEPS = Hyperparameter(
    "Logging steps", "metrics every this many steps", ge=1, chosen_by_caller=False
)
_PRECISION = Hyperparameter(
    "Precision", "auto: bf16 on a CUDA GPU that has it, fp16 on an older one, fp32 on CPU"
)


def defaults_for(method: str, *, lora: bool = False) -> dict[str, Any]:
    """The hyper-parameters a run of `method` gets when the caller leaves them unset."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    defaults: dict[str, Any] = {}
    for declared in hyperparameters(TrainConfig):
        described = declared.description
        if method in described.per_method:
            chosen = described.per_method_lora if lora and described.per_method_lora else described.per_method
            defaults[declared.name] = chosen[method]
    return defaults


@dataclass
class TrainConfig:
    method: Method
    base_model: str  # a local directory, or a hub id on workers that can reach the hub
    train_file: str  # JSONL or Parquet, in the format of the method's export (TRL's standard formats)
    output_dir: str
    eval_file: str | None = None
    lora: LoraSettings | None = None
    # The hyper-parameters. A None default takes defaults_for(method) in __post_init__.
    learning_rate: float | None = field(default=None, metadata={HYPERPARAMETER: _LEARNING_RATE})
    num_train_epochs: float | None = field(default=None, metadata={HYPERPARAMETER: _EPOCHS})
    max_steps: int = field(default=-1, metadata={HYPERPARAMETER: _MAX_STEPS})
    per_device_train_batch_size: int | None = field(default=None, metadata={HYPERPARAMETER: _BATCH_SIZE})
    gradient_accumulation_steps: int = field(default=1, metadata={HYPERPARAMETER: _ACCUMULATION})
    max_length: int | None = field(default=None, metadata={HYPERPARAMETER: _MAX_LENGTH})
    beta: float = field(default=0.1, metadata={HYPERPARAMETER: _BETA})
    warmup_ratio: float = field(default=0.0, metadata={HYPERPARAMETER: _WARMUP})
    seed: int = field(default=0, metadata={HYPERPARAMETER: _SEED})
    logging_steps: int = field(default=1, metadata={HYPERPARAMETER: _LOGGING_STEPS})
    precision: Precision = field(default="auto", metadata={HYPERPARAMETER: _PRECISION})
    cancel_file: str | None = None  # the run stops at the next step once this file exists
    events_file: str | None = None  # where `python -m mlcore` writes its JSON-lines events
    trl_args: dict[str, Any] = field(default_factory=dict)  # passed to TRL's XxxConfig as is (expert knobs)

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        if self.method in METHODS:
            for key, value in defaults_for(self.method, lora=self.lora is not None).items():
                if getattr(self, key) is None:
                    setattr(self, key, value)

    def validate(self) -> None:
        """Raises ValueError naming the first bad value, in words an admin filling in a form understands."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("base_model", "train_file", "output_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} is required (a path or name as text)")
        check_numbers(self)
        if not isinstance(self.trl_args, dict):
            raise ValueError("trl_args must be an object")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (train by epochs) or at least 1, got {self.max_steps}")
        check_bounds(self)
        if self.method == "kto" and cast(int, self.per_device_train_batch_size) < 2:
            raise ValueError(
                "KTO needs per_device_train_batch_size of at least 2 (its KL estimate pairs rows)"
            )
        if self.lora is not None:
            self.lora.validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        missing = [name for name in ("method", "base_model", "train_file", "output_dir") if name not in data]
        if missing:
            raise ValueError(f"config lacks required field(s): {', '.join(missing)}")
        lora = data.get("lora")
        if lora is not None and not isinstance(lora, dict | LoraSettings):
            raise ValueError("lora must be an object with r, alpha, dropout, target_modules, or null")
        if isinstance(lora, dict):
            unknown_lora = sorted(set(lora) - {f.name for f in fields(LoraSettings)})
            if unknown_lora:
                raise ValueError(f"unknown lora field(s): {', '.join(unknown_lora)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("config must be a JSON object")
        return cls.from_dict(data)
