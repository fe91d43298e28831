"""Each method through the API, the gpu-queue worker and the trainer subprocess: metrics, model, lineage,
cancel, a missing base model, a killed trainer, a silent worker."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import session_scope
from app.main import create_app
from app.models import Job, JobMetric, TrainedModel, utcnow
from app.training.job import run_training_job
from app.training.service import models_dir
from tests.conftest import login
from tests.worker import wait_for_job

SNAPSHOT_FOR = {"sft": "sft", "reward": "preference", "dpo": "preference", "kto": "kto"}
FAST = {"max_steps": 3, "learning_rate": 5e-4, "per_device_train_batch_size": 2, "max_length": 64}


def _start(client: TestClient, lab: dict[str, Any], body: dict[str, Any], token: str = "admin_token") -> Any:
    return client.post("/api/v1/training-jobs", json=body, headers={"Authorization": f"Bearer {lab[token]}"})


def _metrics(job_id: int) -> list[tuple[int, str, float]]:
    with session_scope() as session:
        rows = session.execute(
            select(JobMetric.step, JobMetric.name, JobMetric.value)
            .where(JobMetric.job_id == job_id)
            .order_by(JobMetric.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


def _wait_for_a_step(job_id: int, timeout: float = 90) -> None:
    """Until the run has logged its first step (the trainer subprocess is then surely running)."""
    deadline = time.monotonic() + timeout
    while not _metrics(job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _metrics(job_id), "the run never logged a step"


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("method", ["sft", "reward", "dpo", "kto"])
def test_each_method_trains_saves_and_reloads(
    lab: dict[str, Any], gpu_worker: object, tiny_model: Path, method: str, lora: bool
) -> None:
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    body: dict[str, Any] = {
        "snapshot_id": lab[SNAPSHOT_FOR[method]],
        "method": method,
        "base_model": str(tiny_model),
        "params": FAST,
    }
    if lora:
        body["lora"] = {"r": 4, "alpha": 8}
    with TestClient(create_app()) as client:
        response = _start(client, lab, body)
        assert response.status_code == 202, response.text
        job = wait_for_job(response.json()["job_id"], timeout=120)
    assert job.status == "succeeded", f"{job.error}\n{job.log[-3000:]}"
    steps = sorted({step for step, name, _ in _metrics(job.id) if name == "loss"})
    assert steps == [1, 2, 3]  # a loss point at every step, in order
    with session_scope() as session:
        model = session.scalars(select(TrainedModel).where(TrainedModel.job_id == job.id)).one()
        assert model.snapshot_id == lab[SNAPSHOT_FOR[method]] and model.method == method
        assert model.weights == ("adapter" if lora else "full")
        assert model.params["max_steps"] == 3 and model.preflab_version
        assert model.metrics["global_step"] == 3 and model.metrics["eval"]  # evaluated on the test split
        rows = model.metrics["rows"]
        assert rows["train"]["given"] >= rows["train"]["used"] > 0 and rows["eval"]["used"] > 0
        path = Path(model.path)
    if method in ("reward", "dpo"):
        assert 0.0 <= model.metrics["eval"]["accuracy"] <= 1.0
    if method == "sft":
        assert model.metrics["eval"]["perplexity"] > 1.0
    if method == "reward":
        if lora:
            from mlcore.reward import load_reward_model

            assert load_reward_model(str(path)) is not None
        else:
            assert AutoModelForSequenceClassification.from_pretrained(path).config.num_labels == 1
    elif lora:
        assert isinstance(AutoPeftModelForCausalLM.from_pretrained(path), PeftModel)
    else:
        assert AutoModelForCausalLM.from_pretrained(path).config.num_hidden_layers == 2


def test_cancel_stops_a_long_run(lab: dict[str, Any], gpu_worker: object, tiny_model: Path) -> None:
    body = {
        "snapshot_id": lab["preference"],
        "method": "reward",
        "base_model": str(tiny_model),
        "params": {**FAST, "max_steps": 100_000},
    }
    with TestClient(create_app()) as client:
        job_id = _start(client, lab, body).json()["job_id"]
        _wait_for_a_step(job_id)
        auth = {"Authorization": f"Bearer {lab['admin_token']}"}
        lead = {"Authorization": f"Bearer {lab['lead_token']}"}
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=lead).status_code == 403
        asked = time.monotonic()
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
        job = wait_for_job(job_id, timeout=30)
        took = time.monotonic() - asked
    assert job.status == "cancelled" and took < 10, (job.status, took, job.log[-2000:])
    with session_scope() as session:
        assert session.scalars(select(TrainedModel).where(TrainedModel.job_id == job_id)).first() is None
    assert not any((models_dir() / f"job-{job_id}").glob("*"))  # a cancelled run keeps no weights


def test_missing_base_model_fails_readably(lab: dict[str, Any], gpu_worker: object) -> None:
    body = {
        "snapshot_id": lab["preference"],
        "method": "dpo",
        "base_model": "/nowhere/model",
        "base_model_on_worker": True,
        "params": FAST,
    }
    with TestClient(create_app()) as client:
        job = wait_for_job(_start(client, lab, body).json()["job_id"], timeout=60)
    assert job.status == "failed"
    assert "/nowhere/model" in (job.error or "") and "not a directory" in (job.error or "")


def _trainer_of(worker: psutil.Process) -> psutil.Process | None:
    for child in worker.children(recursive=True):
        try:
            if "mlcore" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_killing_the_trainer_fails_the_job(lab: dict[str, Any], gpu_worker: Any, tiny_model: Path) -> None:
    body = {
        "snapshot_id": lab["sft"],
        "method": "sft",
        "base_model": str(tiny_model),
        "params": {**FAST, "max_steps": 100_000},
    }
    with TestClient(create_app()) as client:
        job_id = _start(client, lab, body).json()["job_id"]
        _wait_for_a_step(job_id)
        trainer = _trainer_of(psutil.Process(gpu_worker.pid))
        assert trainer is not None
        trainer.kill()
        job = wait_for_job(job_id, timeout=30)
    assert job.status == "failed" and "killed by signal 9" in (job.error or "")
    assert gpu_worker.poll() is None  # the worker carries on


def test_validation_before_queueing(lab: dict[str, Any], tiny_model: Path) -> None:
    with TestClient(create_app()) as client:
        wrong = _start(
            client, lab, {"snapshot_id": lab["sft"], "method": "dpo", "base_model": str(tiny_model)}
        )
        assert wrong.status_code == 422 and "dpo trains on a preference snapshot" in wrong.text
        missing = _start(
            client, lab, {"snapshot_id": lab["preference"], "method": "dpo", "base_model": "./no/such"}
        )
        assert missing.status_code == 422 and "not a directory here" in missing.text
        bad = _start(
            client,
            lab,
            {
                "snapshot_id": lab["kto"],
                "method": "kto",
                "base_model": str(tiny_model),
                "params": {"per_device_train_batch_size": 1},
            },
        )
        assert bad.status_code == 422 and "batch" in bad.text
        rate = _start(
            client,
            lab,
            {
                "snapshot_id": lab["preference"],
                "method": "reward",
                "base_model": str(tiny_model),
                "params": {"learning_rate": 5},
            },
        )
        assert rate.status_code == 422
        lead = _start(
            client,
            lab,
            {"snapshot_id": lab["preference"], "method": "reward", "base_model": str(tiny_model)},
            token="lead_token",
        )
        assert lead.status_code == 403
    with session_scope() as session:
        assert session.scalars(select(Job).where(Job.kind == "training")).first() is None


def test_a_training_job_whose_worker_died_is_failed_readably_not_restarted(lab: dict[str, Any]) -> None:
    with session_scope() as session:
        job = Job(
            kind="training",
            project_id=lab["project"],
            status="running",
            params={},
            attempts=1,
            task_name="training.run",
            queue="gpu",
            heartbeat_at=utcnow() - timedelta(minutes=10),
            started_at=utcnow() - timedelta(minutes=11),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    with TestClient(create_app()) as client:
        read = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {lab['admin_token']}"})
    assert read.json()["status"] == "queued" and "no heartbeat" in read.json()["progress_message"]
    run_training_job(job_id)  # the message sent again (a gpu worker may take it first: the same end)
    job = wait_for_job(job_id)
    assert job.status == "failed" and job.error == "the worker running this job stopped; start the run again"


def test_curves_and_lineage_pages(lab: dict[str, Any], gpu_worker: object, tiny_model: Path) -> None:
    body = {
        "snapshot_id": lab["preference"],
        "method": "reward",
        "base_model": str(tiny_model),
        "params": FAST,
    }
    with TestClient(create_app(), follow_redirects=False) as client:
        job = wait_for_job(_start(client, lab, body).json()["job_id"], timeout=120)
        assert job.status == "succeeded", job.error
        model_id = job.result["model_id"]
        login(client, lab["lead_email"])  # a lead of the project sees its runs and models
        page = client.get(f"/jobs/{job.id}")
        # the curves travel as numbers for the browser's charts (static/charts.js), named in words too
        assert page.status_code == 200 and page.text.count("data-chart=") >= 2
        assert ">loss</figcaption>" in page.text and f'href="/models/{model_id}"' in page.text
        assert "Cancel" not in page.text  # finished
        model = client.get(f"/models/{model_id}")
        assert model.status_code == 200
        assert (
            f'href="/snapshots/{lab["preference"]}"' in model.text and f'href="/jobs/{job.id}"' in model.text
        )
        assert "accuracy" in model.text
        assert f'href="/models/{model_id}"' in client.get("/models").text
        assert client.get("/training/new").status_code == 403  # starting runs is the admins'
