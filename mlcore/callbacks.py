"""Trainer callbacks that turn a TRL run into events and let someone outside stop it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

Emit = Callable[[dict[str, Any]], None]

# Keys of the summary log that Trainer writes once after the last step; they belong in
# RunResult.train_metrics, not on a per-step chart.
_SUMMARY_KEYS = {
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "total_flos",
    "train_loss",
}


def numeric_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """Only finite numbers: a chart cannot draw a string, and JSON has no NaN."""
    out: dict[str, float] = {}
    for name, value in logs.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        number = float(value)
        if math.isfinite(number):
            out[name] = number
    return out


class EventCallback(TrainerCallback):
    """Reports progress through `emit`: start, a metrics event per log, a step event per optimizer step."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.emit({"event": "start", "total_steps": state.max_steps})

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or _SUMMARY_KEYS & logs.keys():
            return
        if any(name.startswith("eval_") for name in logs):
            return  # evaluation after training: reported once, as the "eval" event
        metrics = numeric_metrics(logs)
        if metrics:
            self.emit(
                {
                    "event": "metrics",
                    "step": state.global_step,
                    "total_steps": state.max_steps,
                    "metrics": metrics,
                }
            )

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.emit({"event": "step", "step": state.global_step, "total_steps": state.max_steps})


class CancelCallback(TrainerCallback):
    """Stops training after the current step once `check()` is true; `stopped` tells a cancel from a finish,
    since `Trainer.train()` returns normally either way."""

    def __init__(self, check: Callable[[], bool]) -> None:
        self.check = check
        self.stopped = False

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.global_step < state.max_steps and self.check():
            control.should_training_stop = True
            self.stopped = True
