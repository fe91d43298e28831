"""KTO on `prompt`/`completion`/`label` rows: learns from thumbs up and down, no pairs (TRL's KTOTrainer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from datasets import Dataset, DatasetDict
from transformers import TrainerCallback

from workers.trainers.common import (
    RunResult,
    check_chat_template,
    choose_precision,
    load_model,
    load_tokenizer,
    lora_config,
    resolve_base_model,
    split_dataset,
    train_and_save,
    trainer_evaluate,
    trl_args,
    with_cancel_file,
)
from workers.trainers.config import TrainConfig


def run(
    config: TrainConfig,
    dataset: DatasetDict | Mapping[str, Dataset],
    callbacks: Sequence[TrainerCallback] = (),
) -> RunResult:
    from trl import KTOConfig, KTOTrainer

    config.validate()
    train, eval_ = split_dataset("kto", dataset)
    precision = choose_precision(config.precision)
    tokenizer = load_tokenizer(resolve_base_model(config.base_model))
    check_chat_template(tokenizer, [train, eval_], config.base_model)
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
