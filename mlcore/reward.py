"""A reward model (a scalar head on the base) trained on `chosen`/`rejected` pairs (TRL's RewardTrainer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset, DatasetDict
from transformers import PreTrainedTokenizerBase, Trainer, TrainerCallback

from mlcore.common import (
    RunResult,
    load_model,
    lora_config,
    prepare,
    quiet_seqcls_keys,
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
    from trl import RewardConfig, RewardTrainer

    train, eval_, precision, tokenizer = prepare("reward", config, dataset)
    train, eval_ = _fill_margins(train), _fill_margins(eval_) if eval_ is not None else None
    model = load_model(config, precision, sequence_classification=True)
    model.config.pad_token_id = tokenizer.pad_token_id  # the head scores the last non-pad token
    trainer = RewardTrainer(
        model=model,
        args=trl_args(RewardConfig, config, precision),
        train_dataset=train,
        eval_dataset=eval_,
        processing_class=tokenizer,
        peft_config=lora_config(config, "SEQ_CLS"),
        callbacks=with_cancel_file(config, callbacks),
    )
    return train_and_save(
        trainer, config, tokenizer, evaluate=evaluate_pairs, given={"train": train, "eval": eval_}
    )


def _fill_margins(dataset: Dataset) -> Dataset:
    """RewardTrainer puts a `margin` column into its loss, -logsigmoid(r_chosen - r_rejected - margin)
    (Llama 2), and crashes on a null ("must be real number, not NoneType"). A null means no known margin,
    which is margin 0: the plain loss. `score_chosen`/`score_rejected` need nothing: TRL drops unused
    columns before batching."""
    if "margin" not in dataset.column_names:
        return dataset
    if all(value is None for value in dataset["margin"]):
        return dataset.remove_columns("margin")
    return dataset.map(lambda row: {"margin": float(row["margin"] or 0.0)})


@torch.no_grad()
def evaluate_pairs(trainer: Trainer) -> dict[str, float]:
    """Exact pairwise accuracy, mean margin and loss over the eval set. TRL's own eval averages per-batch
    means (off when the last batch is short) and folds the data's margins into the loss; these do neither."""
    model = trainer.model
    assert model is not None
    was_training = model.training
    model.eval()
    correct, total, margin_sum, loss_sum = 0, 0, 0.0, 0.0
    for batch in trainer.get_eval_dataloader():
        inputs: dict[str, Any] = {
            key: value.to(trainer.args.device)
            for key, value in batch.items()
            if key in ("input_ids", "attention_mask")
        }
        scores = model(**inputs, use_cache=False).logits.squeeze(-1).float()
        chosen, rejected = torch.chunk(
            scores, chunks=2
        )  # the collator stacks chosen rows, then rejected rows
        diff = chosen - rejected
        correct += int((diff > 0).sum().item())
        total += diff.numel()
        margin_sum += float(diff.sum().item())
        loss_sum += float(-torch.nn.functional.logsigmoid(diff).sum().item())
    model.train(was_training)
    if total == 0:
        return {}
    return {
        "accuracy": correct / total,
        "margin": margin_sum / total,
        "loss": loss_sum / total,
        "pairs": total,
    }


def load_reward_model(path: str | Path) -> tuple[Any, PreTrainedTokenizerBase]:
    """A trained reward model ready to score, from full weights or base + adapter. The pad id is set from
    the saved tokenizer either way: an adapter's base config may lack it, and batched scoring needs it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if (directory / "adapter_config.json").is_file():
        from peft import AutoPeftModelForSequenceClassification

        with quiet_seqcls_keys():
            model = AutoPeftModelForSequenceClassification.from_pretrained(directory, num_labels=1)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(directory)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer
