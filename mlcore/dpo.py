"""Direct preference optimisation on `prompt`/`chosen`/`rejected` rows (TRL's DPOTrainer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, DatasetDict
from transformers import Trainer, TrainerCallback

from mlcore.common import (
    RunResult,
    eval_metrics_of,
    load_model,
    lora_config,
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
    from trl import DPOConfig, DPOTrainer

    # Extra export columns (margin, score_chosen, score_rejected, nulls included; source) pass through:
    # DPOTrainer's tokenizing map keeps them and remove_unused_columns drops them before batching.
    train, eval_, precision, tokenizer = prepare("dpo", config, dataset)
    trainer = DPOTrainer(
        model=load_model(config, precision),
        args=trl_args(DPOConfig, config, precision, beta=config.beta),
        train_dataset=train,
        eval_dataset=eval_,
        processing_class=tokenizer,
        peft_config=lora_config(config, "CAUSAL_LM"),  # with LoRA the reference is the base, adapter disabled
        callbacks=with_cancel_file(config, callbacks),
    )
    return train_and_save(
        trainer, config, tokenizer, evaluate=_evaluate, given={"train": train, "eval": eval_}
    )


def _evaluate(trainer: Trainer) -> dict[str, float]:
    """TRL's metrics plus `accuracy` and `margin`, named as the reward model's are, so pages compare them."""
    metrics = eval_metrics_of(trainer.evaluate())
    if "rewards/accuracies" in metrics:
        metrics["accuracy"] = metrics["rewards/accuracies"]
    if "rewards/margins" in metrics:
        metrics["margin"] = metrics["rewards/margins"]
    return metrics
