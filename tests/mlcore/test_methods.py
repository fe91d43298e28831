"""Every method trains 3 steps on each export shape, with and without LoRA, reports its metrics, saves
something that reloads, and evaluates."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from mlcore import dpo, kto, reward, sft
from mlcore.callbacks import EventCallback
from mlcore.common import RunResult, load_data_files
from mlcore.config import LoraSettings, TrainConfig
from tests.mlcore.rows import kto_rows, preference_rows, sft_rows, write_jsonl

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

MODULES = {"sft": sft, "reward": reward, "dpo": dpo, "kto": kto}

# A metric each trainer logs that is its own, not the generic Trainer's.
OWN_METRIC = {"sft": "mean_token_accuracy", "reward": "accuracy", "dpo": "rewards/accuracies", "kto": "kl"}

CASES = [
    ("sft", "messages", False),
    ("sft", "messages", True),
    ("sft", "prompt_completion", False),
    ("sft", "conversational_prompt_completion", True),
    ("reward", "standard", False),
    ("reward", "standard", True),
    ("reward", "conversational", True),
    ("dpo", "standard", True),
    ("dpo", "conversational", False),
    ("kto", "standard", False),
    ("kto", "conversational", True),
]


def rows_for(method: str, shape: str, n: int) -> list[dict[str, Any]]:
    if method == "sft":
        return sft_rows(n, shape=shape)
    if method == "kto":
        return kto_rows(n, conversational=shape == "conversational")
    return preference_rows(n, conversational=shape == "conversational")


def reload(result: RunResult, method: str) -> torch.nn.Module:
    from peft import AutoPeftModelForCausalLM, AutoPeftModelForSequenceClassification
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    if method == "reward":
        cls: Any = AutoPeftModelForSequenceClassification if result.weights == "adapter" else None
        if cls is None:
            return AutoModelForSequenceClassification.from_pretrained(result.output_dir)
        return cls.from_pretrained(result.output_dir, num_labels=1)
    if result.weights == "adapter":
        return AutoPeftModelForCausalLM.from_pretrained(result.output_dir)
    return AutoModelForCausalLM.from_pretrained(result.output_dir)


@pytest.mark.parametrize(("method", "shape", "lora"), CASES)
def test_three_steps_report_metrics_save_a_reloadable_model_and_evaluate(
    tiny_model: Path, tmp_path: Path, method: str, shape: str, lora: bool
) -> None:
    train_file = write_jsonl(tmp_path / "train.jsonl", rows_for(method, shape, 8))
    eval_file = write_jsonl(tmp_path / "eval.jsonl", rows_for(method, shape, 6))
    config = TrainConfig(
        method=method,  # type: ignore[arg-type]
        base_model=str(tiny_model),
        train_file=str(train_file),
        eval_file=str(eval_file),
        output_dir=str(tmp_path / "out"),
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        lora=LoraSettings(r=4, alpha=8) if lora else None,
    )
    events: list[dict[str, Any]] = []

    result = MODULES[method].run(
        config, load_data_files(config.train_file, config.eval_file), [EventCallback(events.append)]
    )

    assert events[0] == {"event": "start", "total_steps": 3}
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]
    metric_events = [e for e in events if e["event"] == "metrics"]
    assert [e["step"] for e in metric_events] == [1, 2, 3]
    for event in metric_events:
        assert event["total_steps"] == 3
        assert {"loss", "learning_rate", OWN_METRIC[method]} <= event["metrics"].keys()
        assert all(isinstance(v, float) and math.isfinite(v) for v in event["metrics"].values())

    assert result.global_step == 3 and not result.cancelled
    assert result.weights == ("adapter" if lora else "full")
    assert result.train_metrics["train_loss"] > 0
    out = Path(result.output_dir)
    weights = (
        {"adapter_config.json", "adapter_model.safetensors"} if lora else {"config.json", "model.safetensors"}
    )
    assert weights | {"tokenizer.json", "preflab_train_config.json"} <= {p.name for p in out.iterdir()}
    saved = TrainConfig.from_json((out / "preflab_train_config.json").read_text())
    assert saved == config

    model = reload(result, method)
    assert sum(p.numel() for p in model.parameters()) > 0
    if lora:
        assert type(model).__name__.startswith("PeftModel")

    metrics = result.eval_metrics
    assert math.isfinite(metrics["loss"])
    if method == "sft":
        assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]))
    if method in ("reward", "dpo"):
        assert 0.0 <= metrics["accuracy"] <= 1.0
        assert math.isfinite(metrics["margin"])
    if method == "dpo":
        assert metrics["accuracy"] == metrics["rewards/accuracies"]
    if method == "kto":
        assert "rewards/chosen" in metrics and "kl" in metrics


def test_reward_eval_agrees_with_the_saved_model_scoring_each_pair_alone(
    tiny_model: Path, tmp_path: Path
) -> None:
    """Batched eval pads; scoring one unpadded sequence at a time must give the same accuracy and margin,
    which also proves the saved weights are the trained ones."""
    rows = preference_rows(8)
    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "rm"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
    )
    eval_rows = preference_rows(5, start=20)
    from datasets import Dataset

    result = reward.run(config, {"train": Dataset.from_list(rows), "eval": Dataset.from_list(eval_rows)}, [])

    model, tokenizer = reward.load_reward_model(result.output_dir)

    def score(text: str) -> float:
        ids = tokenizer(text + tokenizer.eos_token, return_tensors="pt")
        with torch.no_grad():
            return float(model(**ids).logits[0, 0])

    diffs = [score(r["prompt"] + r["chosen"]) - score(r["prompt"] + r["rejected"]) for r in eval_rows]
    assert result.eval_metrics["pairs"] == 5
    assert result.eval_metrics["accuracy"] == pytest.approx(sum(d > 0 for d in diffs) / 5)
    assert result.eval_metrics["margin"] == pytest.approx(sum(diffs) / 5, abs=1e-4)


def test_reward_adapter_reloads_with_its_trained_score_head(tiny_model: Path, tmp_path: Path) -> None:
    from datasets import Dataset
    from safetensors import safe_open

    config = TrainConfig(
        method="reward",
        base_model=str(tiny_model),
        train_file="unused",
        output_dir=str(tmp_path / "rm-lora"),
        max_steps=2,
        per_device_train_batch_size=2,
        lora=LoraSettings(r=4),
    )
    result = reward.run(config, {"train": Dataset.from_list(preference_rows(4))}, [])

    with safe_open(str(Path(result.output_dir) / "adapter_model.safetensors"), "pt") as saved:
        assert any(".score." in key for key in saved.keys())  # noqa: SIM118 - safe_open has no __iter__
    model, tokenizer = reward.load_reward_model(result.output_dir)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert result.eval_metrics == {}  # no eval split, no eval


def test_run_config_records_method_defaults(tiny_model: Path, tmp_path: Path) -> None:
    config = TrainConfig(method="dpo", base_model=str(tiny_model), train_file="t", output_dir=str(tmp_path))
    assert json.loads(config.to_json())["learning_rate"] == 5e-7
