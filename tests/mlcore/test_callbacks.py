"""The event stream: numbers only, eval and summary logs kept out of per-step metrics, strict JSON."""

from __future__ import annotations

import json
from typing import Any

from transformers import TrainerControl, TrainerState, TrainingArguments

from mlcore.callbacks import CancelCallback, EventCallback
from mlcore.events import dumps_event


def test_metrics_events_carry_only_finite_numbers() -> None:
    events: list[dict[str, Any]] = []
    callback = EventCallback(events.append)
    args = TrainingArguments(output_dir="unused", use_cpu=True, report_to="none")
    state = TrainerState(global_step=2, max_steps=5)
    logs = {"loss": 0.5, "rewards/accuracies": 1, "grad_norm": float("nan"), "note": "x", "flag": True}

    callback.on_log(args, state, TrainerControl(), logs=logs)
    callback.on_log(args, state, TrainerControl(), logs={"eval_loss": 0.4, "epoch": 1.0})
    callback.on_log(args, state, TrainerControl(), logs={"train_runtime": 3.0, "train_loss": 0.5})

    assert events == [
        {"event": "metrics", "step": 2, "total_steps": 5, "metrics": {"loss": 0.5, "rewards/accuracies": 1.0}}
    ]


def test_cancel_only_counts_when_steps_were_left() -> None:
    args = TrainingArguments(output_dir="unused", use_cpu=True, report_to="none")
    callback = CancelCallback(lambda: True)
    control = TrainerControl()

    callback.on_step_end(args, TrainerState(global_step=5, max_steps=5), control)
    assert not callback.stopped and not control.should_training_stop

    callback.on_step_end(args, TrainerState(global_step=4, max_steps=5), control)
    assert callback.stopped and control.should_training_stop


def test_event_lines_are_strict_json() -> None:
    line = dumps_event({"event": "eval", "metrics": {"perplexity": float("inf"), "loss": 1.5}})
    assert "\n" not in line
    assert json.loads(line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name))) == {
        "event": "eval",
        "metrics": {"perplexity": None, "loss": 1.5},
    }
