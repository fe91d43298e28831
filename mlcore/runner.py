"""Picks the method module for a config and, when no dataset is handed in, reads the config's data files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module

from datasets import Dataset, DatasetDict
from transformers import TrainerCallback

from mlcore.common import RunResult, load_data_files
from mlcore.config import TrainConfig


def run_training(
    config: TrainConfig,
    dataset: DatasetDict | Mapping[str, Dataset] | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> RunResult:
    config.validate()
    if dataset is None:
        dataset = load_data_files(config.train_file, config.eval_file)
    module = import_module(f"mlcore.{config.method}")
    result: RunResult = module.run(config, dataset, callbacks)
    return result
