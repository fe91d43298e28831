"""Supervised fine-tuning on `messages` or `prompt`/`completion` rows (TRL's SFTTrainer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, DatasetDict
from transformers import Trainer, TrainerCallback

from mlcore.common import (
    RunResult,
    eval_metrics_of,
    has_generation_markers,
    load_model,
    lora_config,
    perplexity,
    prepare,
    train_and_save,
    trl_args,
    with_cancel_file,
)
from mlcore.config import TrainConfig


def run(
    config: TrainConfig,
    dataset: DatasetDict | Mapping[str, Dataset],
    callbacks: Sequence[TrainerCallback] = (),
) -> RunResult:
    from trl import SFTConfig, SFTTrainer

    train, eval_, precision, tokenizer = prepare("sft", config, dataset)
    # Chat rows: learn only the assistant turns when the template marks them (TRL raises if it does not);
    # prompt/completion rows already learn only the completion (TRL's completion_only_loss default).
    assistant_only = "messages" in train.column_names and has_generation_markers(tokenizer)
    args = trl_args(SFTConfig, config, precision, assistant_only_loss=assistant_only)
    trainer = SFTTrainer(
        model=load_model(config, precision),
        args=args,
        train_dataset=train,
        eval_dataset=eval_,
        processing_class=tokenizer,
        peft_config=lora_config(config, "CAUSAL_LM"),
        callbacks=with_cancel_file(config, callbacks),
    )
    return train_and_save(
        trainer, config, tokenizer, evaluate=_evaluate, given={"train": train, "eval": eval_}
    )


def _evaluate(trainer: Trainer) -> dict[str, float]:
    metrics = eval_metrics_of(trainer.evaluate())
    if "loss" in metrics:
        metrics["perplexity"] = perplexity(metrics["loss"])
    return metrics
