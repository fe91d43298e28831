"""Plumbing every method shares: inputs (base model, data files, columns), TRL arguments, LoRA, and the
train → save → evaluate tail that turns a Trainer into a RunResult."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerBase, Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from mlcore.callbacks import CancelCallback, numeric_metrics
from mlcore.config import TrainConfig
from mlcore.inputs import TrainingInputError, check_data_files, data_format, resolve_base_model

EVAL_SPLITS = ("eval", "test", "validation")

# Columns each method needs, as alternatives: a split must hold every column of at least one of them.
REQUIRED_COLUMNS: dict[str, list[tuple[str, ...]]] = {
    "sft": [("messages",), ("prompt", "completion"), ("text",)],
    "reward": [("chosen", "rejected")],
    "dpo": [("chosen", "rejected")],
    "kto": [("prompt", "completion", "label")],
}

_GENERATION_TAG = re.compile(r"{%-?\s*generation\s*-?%}")


@dataclasses.dataclass
class RunResult:
    output_dir: str
    weights: Literal["full", "adapter"]
    train_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    eval_metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    cancelled: bool = False  # stopped from outside: nothing was saved in output_dir
    global_step: int = 0
    # rows given and rows TRL kept (it drops rows longer than max_length): {"train": {"given", "used"}, …}
    rows: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------- inputs


def load_tokenizer(base_model: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"could not load a tokenizer for base model '{base_model}': {exc}") from exc
    if tokenizer.pad_token is None:  # Llama-style tokenizers ship without one; batching needs it
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def model_dtype(config: TrainConfig, precision: str) -> torch.dtype:
    """Full fine-tuning keeps fp32 master weights under mixed precision. A LoRA base is frozen, so it may sit
    in bf16 and halve memory; not fp16, whose gradient scaler refuses fp16 trainable heads (reward score)."""
    if config.lora is not None and precision == "bf16":
        return torch.bfloat16
    return torch.float32


def load_model(config: TrainConfig, precision: str, *, sequence_classification: bool = False) -> Any:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, set_seed

    set_seed(config.seed)  # the reward head is freshly initialised: same seed, same start
    base_model = resolve_base_model(config.base_model)
    dtype = model_dtype(config, precision)
    try:
        if sequence_classification:
            with quiet_seqcls_keys():
                return AutoModelForSequenceClassification.from_pretrained(
                    base_model, num_labels=1, dtype=dtype
                )
        return AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise TrainingInputError(f"could not load base model '{config.base_model}': {exc}") from exc


def quiet_seqcls_keys() -> Any:
    """A causal LM loaded as classifier reports a missing score head and an unused lm_head; both expected."""
    try:
        from trl.trainer.reward_trainer import suppress_seqcls_warning
    except ImportError:  # a private helper of TRL's; without it the load only logs more
        from contextlib import nullcontext

        return nullcontext()
    return suppress_seqcls_warning()


def load_data_files(train_file: str, eval_file: str | None = None) -> DatasetDict:
    """Reads the export files into a DatasetDict with "train" and, when given, "eval"."""
    from datasets import load_dataset

    splits = {"train": train_file, **({"eval": eval_file} if eval_file else {})}
    loaded: dict[str, Dataset] = {}
    check_data_files(train_file, eval_file)
    for split, path in splits.items():
        try:
            loaded[split] = load_dataset(data_format(path), data_files=path, split="train")
        except Exception as exc:  # Arrow, JSON, generation errors...: all mean the file cannot be read
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrainingInputError(f"could not read {split} file '{path}': {reason}") from exc
    return DatasetDict(loaded)


def split_dataset(
    method: str, dataset: DatasetDict | Mapping[str, Dataset]
) -> tuple[Dataset, Dataset | None]:
    """The train split and the first eval-like split, each checked for the columns the method reads."""
    if "train" not in dataset:
        raise TrainingInputError("the dataset has no 'train' split")
    train = dataset["train"]
    eval_ = next((dataset[name] for name in EVAL_SPLITS if name in dataset), None)
    for name, split in (("train", train), ("eval", eval_)):
        if split is None:
            continue
        if len(split) == 0:
            raise TrainingInputError(f"the {name} data has no rows")
        columns = set(split.column_names)
        options = REQUIRED_COLUMNS[method]
        if not any(set(option) <= columns for option in options):
            wanted = " or ".join("(" + ", ".join(option) + ")" for option in options)
            raise TrainingInputError(
                f"the {name} data has columns ({', '.join(sorted(columns))}) but {method} needs {wanted}"
            )
    return train, eval_


def is_conversational(dataset: Dataset) -> bool:
    from trl.data_utils import is_conversational as trl_is_conversational

    return bool(trl_is_conversational(dataset[0]))


def check_chat_template(
    tokenizer: PreTrainedTokenizerBase, datasets: Sequence[Dataset | None], base_model: str
) -> None:
    if any(ds is not None and is_conversational(ds) for ds in datasets) and not tokenizer.chat_template:
        raise TrainingInputError(
            f"the data is conversational (message lists) but base model '{base_model}' has no chat template; "
            "use a chat model or export plain-text rows"
        )


def has_generation_markers(tokenizer: PreTrainedTokenizerBase) -> bool:
    template = tokenizer.chat_template
    return isinstance(template, str) and bool(_GENERATION_TAG.search(template))


# ---------------------------------------------------------------------------------------------- TRL arguments


def choose_precision(precision: str) -> str:
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and not cuda:
        raise TrainingInputError("precision fp16 needs a CUDA GPU and this worker has none; use fp32 or auto")
    if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise TrainingInputError("this GPU does not support bf16; use fp16 or auto")
    return precision


def trl_args(args_cls: type, config: TrainConfig, precision: str, **method_kwargs: Any) -> Any:
    """TRL's XxxConfig for our config: TRL's GPU-minded defaults (bf16, gradient checkpointing, reporting to
    every installed tracker, checkpoints) turned into what a job worker wants."""
    cuda = torch.cuda.is_available()
    kwargs: dict[str, Any] = {
        "output_dir": config.output_dir,
        "learning_rate": config.learning_rate,
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "per_device_eval_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "max_length": config.max_length,
        "seed": config.seed,
        "logging_strategy": "steps",
        "logging_steps": config.logging_steps,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,  # progress goes out as events
        "use_cpu": not cuda,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "dataloader_pin_memory": cuda,
    }
    names = {f.name for f in dataclasses.fields(args_cls)}
    # transformers 5 dropped warmup_ratio (a warmup_steps below 1 is a ratio) and renamed
    # gradient_checkpointing to activation_checkpointing (the old name still works, with a FutureWarning).
    kwargs["warmup_ratio" if "warmup_ratio" in names else "warmup_steps"] = config.warmup_ratio
    # Checkpointing saves GPU memory; on CPU it only costs time.
    checkpointing = (
        "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    )
    kwargs[checkpointing] = cuda
    kwargs.update(method_kwargs)
    kwargs.update(config.trl_args)
    try:
        return args_cls(**kwargs)
    except TypeError as exc:  # an unknown key in trl_args
        raise TrainingInputError(f"{args_cls.__name__} rejected the arguments: {exc}") from exc


def lora_config(config: TrainConfig, task_type: Literal["CAUSAL_LM", "SEQ_CLS"]) -> Any:
    """None for full fine-tuning. For SEQ_CLS peft also trains and saves the fresh score head."""
    if config.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        task_type=task_type,
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
    )


def with_cancel_file(config: TrainConfig, callbacks: Sequence[TrainerCallback]) -> list[TrainerCallback]:
    out = list(callbacks)
    if config.cancel_file:
        cancel_path = Path(config.cancel_file)
        out.append(CancelCallback(cancel_path.exists))
    return out


# ---------------------------------------------------------------------------------------------- run tail


def eval_metrics_of(raw: Mapping[str, Any]) -> dict[str, float]:
    """Trainer.evaluate()'s numbers without the "eval_" prefix and the timing noise."""
    skip = {"epoch", "runtime", "samples_per_second", "steps_per_second"}
    out: dict[str, float] = {}
    for name, value in numeric_metrics(dict(raw)).items():
        short = name.removeprefix("eval_")
        if short not in skip:
            out[short] = value
    return out


def train_and_save(
    trainer: Trainer,
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    *,
    evaluate: Callable[[Trainer], dict[str, float]] | None,
    given: Mapping[str, Dataset | None] | None = None,
) -> RunResult:
    """Trains, then saves and evaluates, unless cancelled: a cancelled run keeps no weights (half-trained
    weights are not a model anyone asked for) and skips the eval pass (the person wants the worker back)."""
    for quiet in (PrinterCallback, ProgressCallback):  # they print every log; events carry them instead
        trainer.remove_callback(quiet)
    train_data = trainer.train_dataset
    if isinstance(train_data, Dataset) and len(train_data) == 0:
        raise TrainingInputError(
            "no training rows are left after tokenizing: every row is longer than "
            f"max_length={config.max_length}"
        )
    output = trainer.train()
    cancelled = any(
        isinstance(cb, CancelCallback) and cb.stopped for cb in trainer.callback_handler.callbacks
    )

    out_dir = Path(config.output_dir)
    eval_metrics: dict[str, float] = {}
    eval_data = trainer.eval_dataset
    if not cancelled:
        trainer.save_model(str(out_dir))
        tokenizer.save_pretrained(str(out_dir))
        (out_dir / "preflab_train_config.json").write_text(config.to_json())
        has_eval_rows = eval_data is not None and not (isinstance(eval_data, Dataset) and len(eval_data) == 0)
        if evaluate is not None and has_eval_rows:
            eval_metrics = evaluate(trainer)
    rows = {
        name: {"given": len(data), "used": len(kept) if isinstance(kept, Dataset) else len(data)}
        for name, data, kept in (
            ("train", (given or {}).get("train"), train_data),
            ("eval", (given or {}).get("eval"), eval_data),
        )
        if data is not None
    }
    return RunResult(
        rows=rows,
        output_dir=str(out_dir),
        weights="adapter" if config.lora is not None else "full",
        train_metrics=numeric_metrics(output.metrics),
        eval_metrics=eval_metrics,
        cancelled=cancelled,
        global_step=trainer.state.global_step,
    )


def trainer_evaluate(trainer: Trainer) -> dict[str, float]:
    return eval_metrics_of(trainer.evaluate())


def perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


def prepare(
    method: str, config: TrainConfig, dataset: DatasetDict | Mapping[str, Dataset]
) -> tuple[Dataset, Dataset | None, Any, PreTrainedTokenizerBase]:
    """What every method does first: check the config, take the splits, choose the precision, load the
    tokenizer and make sure it can render the data (chat rows need a chat template)."""
    config.validate()
    train, eval_ = split_dataset(method, dataset)
    precision = choose_precision(config.precision)
    tokenizer = load_tokenizer(resolve_base_model(config.base_model))
    check_chat_template(tokenizer, [train, eval_], config.base_model)
    return train, eval_, precision, tokenizer
