"""Training moves the model the right way, not just through the motions (lrs far above the real-model
defaults, so a tiny model shows it in a few dozen steps)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from mlcore import dpo, reward
from mlcore.callbacks import EventCallback
from mlcore.config import TrainConfig
from tests.mlcore.rows import preference_rows, separable_preference_rows

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def logged(events: list[dict[str, Any]], name: str) -> list[float]:
    return [e["metrics"][name] for e in events if e["event"] == "metrics"]


def test_reward_model_learns_an_easy_separable_preference(tiny_model: Path, tmp_path: Path) -> None:
    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "rm"),
        max_steps=24,
        per_device_train_batch_size=4,
        learning_rate=5e-4,
    )
    data = {
        "train": Dataset.from_list(separable_preference_rows(48)),
        "eval": Dataset.from_list(separable_preference_rows(8, start=1000)),  # prompts never seen
    }
    events: list[dict[str, Any]] = []

    result = reward.run(config, data, [EventCallback(events.append)])

    losses, accuracies = logged(events, "loss"), logged(events, "accuracy")
    assert len(losses) == 24
    assert losses[0] == pytest.approx(math.log(2), abs=0.1)  # a fresh head scores both sides alike
    assert sum(losses[-3:]) / 3 < 0.2
    assert accuracies[-3:] == [1.0, 1.0, 1.0]
    assert result.eval_metrics["accuracy"] == 1.0
    assert result.eval_metrics["margin"] > 1.0


def test_dpo_with_a_real_learning_rate_prefers_chosen_on_held_out_pairs(
    tiny_model: Path, tmp_path: Path
) -> None:
    config = TrainConfig(
        method="dpo",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "dpo"),
        max_steps=8,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
    )
    data = {
        "train": Dataset.from_list(preference_rows(16)),
        "eval": Dataset.from_list(preference_rows(8, start=50)),
    }
    events: list[dict[str, Any]] = []

    result = dpo.run(config, data, [EventCallback(events.append)])

    losses = logged(events, "loss")
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)  # policy == reference at step 1
    assert losses[-1] < 0.4
    assert result.eval_metrics["accuracy"] == 1.0
    assert result.eval_metrics["loss"] < math.log(2) - 0.2
