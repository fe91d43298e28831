"""The training form is built from the hyper-parameters mlcore/config.py declares: one field each, labelled,
with its default as placeholder, and what it posts reaches the run as the API would take it."""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.training.schemas import TrainingRequest
from mlcore.config import LoraSettings, TrainConfig
from mlcore.hyperparameters import hyperparameters
from tests import factories
from tests.conftest import login


def test_the_form_has_a_field_for_every_declared_hyperparameter(client: TestClient, db: Session) -> None:
    admin = factories.make_user(db, is_admin=True)
    login(client, admin.email)
    page = html.unescape(client.get("/training/new").text)
    for config_cls, prefix in ((TrainConfig, ""), (LoraSettings, "lora_")):
        for declared in hyperparameters(config_cls):
            name = prefix + declared.name
            if not declared.description.chosen_by_caller:
                assert f'name="{name}"' not in page
                continue
            assert f'name="{name}"' in page and declared.description.label in page
            if not declared.choices:
                assert f'placeholder="{declared.defaults_in_words()}"' in page
    assert 'name="beta" inputmode="decimal" placeholder="0.1"' in page
    assert "β (DPO, KTO)" in page
    assert "<option selected>auto</option>" not in page  # nothing posted yet: the first choice shows


def test_what_the_form_posts_reaches_the_run_and_blanks_take_defaults(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[TrainingRequest] = []

    def start_training(session: Session, *, request: TrainingRequest, user: Any) -> Any:
        started.append(request)
        return SimpleNamespace(id=42)

    monkeypatch.setattr("app.web.pages.training.start_training", start_training)
    admin = factories.make_user(db, is_admin=True)
    csrf = login(client, admin.email)
    form = {
        "csrf_token": csrf,
        "snapshot_id": "7",
        "method": "dpo",
        "base_model": "/models/tiny",
        "learning_rate": "5e-4",
        "max_steps": "3",
        "beta": " 0.2 ",
        "seed": "",
        "precision": "fp32",
        "lora": "on",
        "lora_r": "4",
        "lora_dropout": "0",
        "lora_alpha": "",
    }
    r = client.post("/training/new", data=form)

    assert r.status_code == 303 and r.headers["location"] == "/jobs/42"
    (request,) = started
    params = request.params.model_dump()
    assert (params["learning_rate"], params["max_steps"], params["beta"]) == (5e-4, 3, 0.2)
    assert (params["seed"], params["precision"], params["per_device_train_batch_size"]) == (0, "fp32", None)
    assert request.lora is not None
    assert request.lora.model_dump() == {"r": 4, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}

    bad = client.post("/training/new", data={**form, "learning_rate": "5", "lora": ""})
    assert bad.status_code == 422 and "params.learning_rate" in bad.text
    assert 'value="5"' in bad.text  # the form comes back as it was filled in
    assert len(started) == 1
