"""TrainConfig: per-method defaults, a lossless trip through JSON, and readable refusals."""

from __future__ import annotations

from typing import Any

import pytest

from mlcore.config import LoraSettings, TrainConfig, defaults_for

BASE = {"base_model": "/models/tiny", "train_file": "train.jsonl", "output_dir": "out"}


def make(**overrides: Any) -> TrainConfig:
    return TrainConfig.from_dict({"method": "dpo", **BASE, **overrides})


def test_unset_hyper_parameters_take_the_method_defaults() -> None:
    for method in ("sft", "reward", "dpo", "kto"):
        config = make(method=method)
        for name, value in defaults_for(method).items():
            assert getattr(config, name) == value, (method, name)
    assert make(method="dpo").learning_rate == 5e-7
    assert make(method="sft").learning_rate == 2e-5


def test_lora_runs_default_to_a_tenfold_learning_rate() -> None:
    full, lora = make(method="sft"), make(method="sft", lora={"r": 8})
    assert lora.learning_rate == pytest.approx(10 * full.learning_rate)  # type: ignore[operator]
    assert lora.lora == LoraSettings(r=8, alpha=32, dropout=0.05, target_modules="all-linear")


def test_explicit_values_win_over_defaults() -> None:
    config = make(method="reward", learning_rate=3e-4, per_device_train_batch_size=16, max_length=256)
    assert (config.learning_rate, config.per_device_train_batch_size, config.max_length) == (3e-4, 16, 256)


def test_json_round_trip_is_lossless() -> None:
    config = make(
        method="kto",
        eval_file="eval.parquet",
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        max_steps=50,
        precision="bf16",
        cancel_file="/tmp/cancel",
        events_file="/tmp/events.jsonl",
        trl_args={"desirable_weight": 1.5},
    )
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    assert isinstance(again.lora, LoraSettings)
    config.validate()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"method": "ppo"}, "method must be one of sft, reward, dpo, kto, got 'ppo'"),
        ({"learning_rate": 0}, "learning_rate must be in (0, 1], got 0"),
        ({"learning_rate": 2.0}, "learning_rate must be in (0, 1], got 2.0"),
        ({"learning_rate": "fast"}, "learning_rate must be a number, got 'fast'"),
        ({"per_device_train_batch_size": 0}, "per_device_train_batch_size must be at least 1, got 0"),
        (
            {"method": "kto", "per_device_train_batch_size": 1},
            "KTO needs per_device_train_batch_size of at least 2",
        ),
        ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps must be at least 1, got 0"),
        ({"num_train_epochs": 0}, "num_train_epochs must be positive, got 0"),
        ({"max_steps": 0}, "max_steps must be -1 (train by epochs) or at least 1, got 0"),
        ({"max_length": 4}, "max_length must be at least 8 tokens, got 4"),
        ({"beta": 0}, "beta must be positive, got 0"),
        ({"warmup_ratio": 1.0}, "warmup_ratio must be in [0, 1), got 1.0"),
        ({"logging_steps": 0}, "logging_steps must be at least 1, got 0"),
        ({"precision": "int8"}, "precision must be one of auto, bf16, fp16, fp32, got 'int8'"),
        ({"base_model": " "}, "base_model is required"),
        ({"lora": {"r": 0}}, "lora.r must be at least 1, got 0"),
        ({"lora": {"dropout": 1.0}}, "lora.dropout must be in [0, 1), got 1.0"),
    ],
)
def test_validate_rejects_bad_values_with_a_readable_message(overrides: dict[str, Any], message: str) -> None:
    config = make(**overrides)
    with pytest.raises(ValueError) as caught:
        config.validate()
    assert str(caught.value).startswith(message)


def test_from_dict_names_unknown_and_missing_fields() -> None:
    with pytest.raises(ValueError, match="unknown config field\\(s\\): epochs"):
        TrainConfig.from_dict({"method": "sft", **BASE, "epochs": 3})
    with pytest.raises(ValueError, match="config lacks required field\\(s\\): output_dir"):
        TrainConfig.from_dict({"method": "sft", "base_model": "m", "train_file": "t"})
    with pytest.raises(ValueError, match="unknown lora field\\(s\\): rank"):
        TrainConfig.from_dict({"method": "sft", **BASE, "lora": {"rank": 8}})
    with pytest.raises(ValueError, match="config is not valid JSON"):
        TrainConfig.from_json("{method: sft")
    with pytest.raises(ValueError, match="config must be a JSON object"):
        TrainConfig.from_json("[1, 2]")


def test_defaults_for_an_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        defaults_for("ppo")
