"""A run can be stopped from outside; it then keeps no weights and says it was cancelled."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from mlcore import reward, sft
from mlcore.callbacks import CancelCallback, EventCallback
from mlcore.config import TrainConfig
from tests.mlcore.rows import preference_rows, sft_rows

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


def test_cancel_callback_stops_a_long_run_early(tiny_model: Path, tmp_path: Path) -> None:
    flag = threading.Event()
    events: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if event["event"] == "step" and event["step"] == 3:
            flag.set()  # as a Job's cancel button would, from another thread

    config = TrainConfig(
        method="sft",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "out"),
        max_steps=1000,
        per_device_train_batch_size=2,
    )
    data = {"train": Dataset.from_list(sft_rows(8)), "eval": Dataset.from_list(sft_rows(4))}

    result = sft.run(config, data, [EventCallback(emit), CancelCallback(flag.is_set)])

    assert result.cancelled
    assert result.global_step == 3
    assert max(e["step"] for e in events if e["event"] == "step") == 3
    assert not any(Path(result.output_dir).glob("*"))  # a cancelled run keeps no weights
    assert result.eval_metrics == {}  # a cancel skips the eval pass


def test_cancel_file_from_the_config_stops_the_run(tiny_model: Path, tmp_path: Path) -> None:
    cancel_file = tmp_path / "cancel"

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "step" and event["step"] == 2:
            cancel_file.touch()

    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "out"),
        max_steps=1000,
        per_device_train_batch_size=2,
        cancel_file=str(cancel_file),
    )

    result = reward.run(config, {"train": Dataset.from_list(preference_rows(8))}, [EventCallback(emit)])

    assert result.cancelled and result.global_step == 2
    assert not any(Path(result.output_dir).glob("*"))


def test_a_run_that_finishes_is_not_cancelled_even_if_the_flag_rises_on_the_last_step(
    tiny_model: Path, tmp_path: Path
) -> None:
    flag = threading.Event()

    def emit(event: dict[str, Any]) -> None:
        if event["event"] == "step" and event["step"] == 2:
            flag.set()

    config = TrainConfig(
        method="sft",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        per_device_train_batch_size=2,
    )

    result = sft.run(
        config, {"train": Dataset.from_list(sft_rows(4))}, [EventCallback(emit), CancelCallback(flag.is_set)]
    )

    assert not result.cancelled and result.global_step == 2
