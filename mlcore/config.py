"""What one training run needs to know, as plain data that survives a trip through JSON (a Job row, a file).

Hyper-parameters left as None take the method's default when the config is built (see `defaults_for`), so the
stored config always records the values that were actually used.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, cast, get_args

Method = Literal["sft", "reward", "dpo", "kto"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]
METHODS: tuple[str, ...] = get_args(Method)
PRECISIONS: tuple[str, ...] = get_args(Precision)

# Learning rates, (full fine-tuning, LoRA). LoRA trains few, freshly initialised weights, so it wants about
# ten times the full rate. SFT follows TRL's SFT docs; the reward rate is the usual one for a fresh scalar
# head on a pretrained body; DPO uses Zephyr's 5e-7 (alignment-handbook); KTO keeps TRL's 1e-6, the middle of
# the paper's 5e-7..5e-6. These suit real 0.5B-8B models; tiny test models need larger rates to move in a few
# steps, which tests set explicitly.
_LEARNING_RATES: dict[str, tuple[float, float]] = {
    "sft": (2e-5, 2e-4),
    "reward": (1e-5, 1e-4),
    "dpo": (5e-7, 5e-6),
    "kto": (1e-6, 1e-5),
}

# Per-method defaults besides the learning rate. Preference methods put two sequences (DPO, reward) or a
# completion and its KL partner (KTO) through the model per row, so their batches are smaller. One epoch for
# preference methods: reward models and DPO overfit quickly on a second pass (InstructGPT, Zephyr). Three for
# SFT, the Trainer default, because human-written SFT sets are small. KTO needs a batch of at least 2: its KL
# estimate pairs each prompt with a neighbour's completion.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {"num_train_epochs": 3.0, "per_device_train_batch_size": 8, "max_length": 1024},
    "reward": {"num_train_epochs": 1.0, "per_device_train_batch_size": 4, "max_length": 1024},
    "dpo": {"num_train_epochs": 1.0, "per_device_train_batch_size": 4, "max_length": 1024},
    "kto": {"num_train_epochs": 1.0, "per_device_train_batch_size": 8, "max_length": 1024},
}


_NUMBERS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "beta",
    "warmup_ratio",
    "seed",
    "logging_steps",
)


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"

    def validate(self) -> None:
        for name in ("r", "alpha", "dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"lora.{name} must be a number, got {value!r}")
        if self.r < 1:
            raise ValueError(f"lora.r must be at least 1, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"lora.alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("lora.target_modules must name at least one module, or be 'all-linear'")


def defaults_for(method: str, *, lora: bool = False) -> dict[str, Any]:
    """The hyper-parameters a run of `method` gets when the caller leaves them unset."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    full_lr, lora_lr = _LEARNING_RATES[method]
    return {"learning_rate": lora_lr if lora else full_lr, **_DEFAULTS[method]}


@dataclass
class TrainConfig:
    method: Method
    base_model: str  # a local directory, or a hub id on workers that can reach the hub
    train_file: str  # JSONL or Parquet, in the format of the method's export (TRL's standard formats)
    output_dir: str
    eval_file: str | None = None
    lora: LoraSettings | None = None
    learning_rate: float | None = None  # None: defaults_for(method)
    num_train_epochs: float | None = None  # None: defaults_for(method)
    max_steps: int = -1  # -1: run num_train_epochs
    per_device_train_batch_size: int | None = None  # None: defaults_for(method)
    gradient_accumulation_steps: int = 1
    max_length: int | None = None  # None: defaults_for(method)
    beta: float = 0.1  # DPO / KTO: how far the policy may move from the reference
    warmup_ratio: float = 0.0
    seed: int = 0
    logging_steps: int = 1
    precision: Precision = "auto"  # auto: bf16 on a CUDA GPU that has it, fp16 on an older one, fp32 on CPU
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
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name in ("base_model", "train_file", "output_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name} is required (a path or name as text)")
        for name in _NUMBERS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not isinstance(self.trl_args, dict):
            raise ValueError("trl_args must be an object")
        lr = cast(float, self.learning_rate)
        if not 0.0 < lr <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], got {lr}")
        if cast(float, self.num_train_epochs) <= 0:
            raise ValueError(f"num_train_epochs must be positive, got {self.num_train_epochs}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (train by epochs) or at least 1, got {self.max_steps}")
        batch = cast(int, self.per_device_train_batch_size)
        if batch < 1:
            raise ValueError(f"per_device_train_batch_size must be at least 1, got {batch}")
        if self.method == "kto" and batch < 2:
            raise ValueError(
                "KTO needs per_device_train_batch_size of at least 2 (its KL estimate pairs rows)"
            )
        if self.gradient_accumulation_steps < 1:
            raise ValueError(
                f"gradient_accumulation_steps must be at least 1, got {self.gradient_accumulation_steps}"
            )
        if cast(int, self.max_length) < 8:
            raise ValueError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")
        # transformers 5 reads a warmup below 1 as a ratio and 1 or more as a step count.
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.logging_steps < 1:
            raise ValueError(f"logging_steps must be at least 1, got {self.logging_steps}")
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
