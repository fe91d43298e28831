"""KTO on `prompt`/`completion`/`label` rows: learns from thumbs up and down, no pairs (TRL's KTOTrainer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, DatasetDict
from transformers import TrainerCallback

from mlcore.common import (
    RunResult,
    load_model,
    lora_config,
    prepare,
    train_and_save,
    trainer_evaluate,
    trl_args,
    with_cancel_file,
)
from mlcore.config import TrainConfig


def run(
    config: TrainConfig,
    dataset: DatasetDict | Mapping[str, Dataset],
    callbacks: Sequence[TrainerCallback] = (),
) -> RunResult:
    from trl import KTOConfig, KTOTrainer

    train, eval_, precision, tokenizer = prepare("kto", config, dataset)
    trainer = KTOTrainer(
        model=load_model(config, precision),
        args=trl_args(KTOConfig, config, precision, beta=config.beta),
        train_dataset=train,
        eval_dataset=eval_,
        processing_class=tokenizer,
        peft_config=lora_config(config, "CAUSAL_LM"),
        callbacks=with_cancel_file(config, callbacks),
    )
    return train_and_save(
        trainer, config, tokenizer, evaluate=trainer_evaluate, given={"train": train, "eval": eval_}
    )
