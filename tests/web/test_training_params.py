"""The API's training params are built from the hyper-parameters mlcore/config.py declares: OpenAPI shows
each with its type, bounds and help, and the API and the trainer's own check refuse the same values."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.training.schemas import LoraRequest, TrainParams
from mlcore.config import LoraSettings, TrainConfig
from mlcore.hyperparameters import DeclaredHyperparameter, hyperparameters

BASE = {"method": "dpo", "base_model": "/models/tiny", "train_file": "train.jsonl", "output_dir": "out"}
REQUESTED = [d for d in hyperparameters(TrainConfig) if d.description.chosen_by_caller]


def test_openapi_shows_every_hyperparameter_with_its_bounds_and_help(client: TestClient) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for name, config_cls in (("TrainParams", TrainConfig), ("LoraRequest", LoraSettings)):
        properties = schemas[name]["properties"]
        declared = [d for d in hyperparameters(config_cls) if d.description.chosen_by_caller]
        assert list(properties) == [d.name for d in declared]
        for parameter in declared:
            shown = properties[parameter.name]
            assert shown["title"] == parameter.description.label
            assert shown["description"].startswith(parameter.description.help)
    assert "logging_steps" not in schemas["TrainParams"]["properties"]  # a setting of the run, not a choice
    learning_rate = schemas["TrainParams"]["properties"]["learning_rate"]["anyOf"][0]
    assert learning_rate == {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
    assert schemas["TrainParams"]["properties"]["precision"]["enum"] == ["auto", "bf16", "fp16", "fp32"]
    assert "(dpo, kto only)" in schemas["TrainParams"]["properties"]["beta"]["description"]


def _just_outside(parameter: DeclaredHyperparameter) -> list[Any]:
    described = parameter.description
    step = 1 if int in {parameter.annotation, *getattr(parameter.annotation, "__args__", ())} else 1e-3
    values: list[Any] = []
    for bound, outside in ((described.gt, 0), (described.ge, -step), (described.lt, 0), (described.le, step)):
        if bound is not None:
            values.append(bound + outside if outside else bound)
    if described.at_most is not None:
        values.append(described.at_most + step)
    return values


@pytest.mark.parametrize("parameter", [d for d in REQUESTED if d.numeric], ids=lambda d: d.name)
def test_the_api_and_the_trainer_refuse_the_same_values(parameter: DeclaredHyperparameter) -> None:
    for value in _just_outside(parameter):
        with pytest.raises(ValidationError):
            TrainParams.model_validate({parameter.name: value})
        with pytest.raises(ValueError, match=parameter.name):
            TrainConfig.from_dict({**BASE, parameter.name: value}).validate()


def test_lora_bounds_come_from_the_same_declaration() -> None:
    with pytest.raises(ValidationError):
        LoraRequest.model_validate({"r": 0})
    with pytest.raises(ValueError, match=r"lora\.r must be at least 1"):
        TrainConfig.from_dict({**BASE, "lora": {"r": 0}}).validate()
    defaults = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}
    assert LoraRequest().model_dump() == defaults
