"""Generate with a trained policy, end to end: the API queues a pre-label job on queue "gpu", the real gpu
worker loads the Model with transformers (full weights, or a LoRA adapter a training run just made) and
writes the new responses into prompts-only pairwise tasks, named after the model that wrote them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.db import session_scope
from app.core.queue import send_task
from app.main import create_app
from app.models import Project, Snapshot, Suggestion, Task, TrainedModel, User
from app.prelabel.service import LOCAL
from tests import factories
from tests.worker import wait_for_job

CHAT = [{"role": "system", "content": "Answer in one line."}, {"role": "user", "content": "What is a map?"}]
PROMPTS: list[Any] = ["Explain how the cat reads a story.", "Why does a robot build clear code?", CHAT]


def _prompts_only(session: Any, lead: User) -> Project:
    project = factories.make_project(session, kind="pairwise", lead=lead)
    project.llm = {}  # no endpoint at all
    for i, prompt in enumerate(PROMPTS):
        factories.make_task(session, project, prompt, [], external_id=f"q-{i}")
    return project


def _register(session: Any, project: Project, path: Path, name: str) -> TrainedModel:
    """A causal LM saved on disk, registered as training registers one (trained on `project`)."""
    versions = session.scalars(select(Snapshot.version).where(Snapshot.project_id == project.id)).all()
    snapshot = Snapshot(
        project_id=project.id, version=max(versions, default=0) + 1, format="sft", status="ready"
    )
    session.add(snapshot)
    session.flush()
    return factories.make_model(
        session, snapshot, name=name, method="sft", weights="full", path=str(path), base_model=str(path)
    )


def _prelabel(client: TestClient, project_id: int, token: str, body: dict[str, Any]) -> Any:
    answer = client.post(
        f"/api/v1/projects/{project_id}/prelabel", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


def _tasks(project_id: int) -> list[Task]:
    with session_scope() as session:
        rows = list(session.scalars(select(Task).where(Task.project_id == project_id).order_by(Task.id)))
        for row in rows:
            session.expunge(row)
        return rows


def test_a_policy_writes_the_second_response_of_prompts_only_tasks_on_the_gpu_worker(
    committed: None, gpu_worker: object, tiny_model: Path
) -> None:
    with session_scope() as session:
        lead = factories.make_user(session)
        project = _prompts_only(session, lead)
        model = _register(session, project, tiny_model, "tiny policy v1")
        project_id, model_id, token = project.id, model.id, factories.make_token(session, lead)
    body = {"mode": "generate", "policy_models": [model_id], "max_new_tokens": 16}
    with TestClient(create_app()) as client:
        accepted = _prelabel(client, project_id, token, body)
        assert accepted["tasks"] == 3 and accepted["sent_to"] == LOCAL
        job = wait_for_job(accepted["job_id"], timeout=120)
        assert job.status == "succeeded", f"{job.error}\n{job.log[-3000:]}"
        assert job.result["done"] == 3 and job.result["errors"] == 0 and job.result["cost"] == 0
        assert f"generating locally by model {model_id} 'tiny policy v1'" in job.log

        tasks = _tasks(project_id)
        for task in tasks:
            assert [r["id"] for r in task.responses] == ["a", "b"]
            assert [r["model"] for r in task.responses] == ["tiny policy v1"] * 2
            texts = [r["text"] for r in task.responses]
            assert all(t.strip() for t in texts) and texts[0] != texts[1]  # sampled: two candidates
        with session_scope() as session:
            rows = list(session.scalars(select(Suggestion).where(Suggestion.job_id == job.id)))
            assert len(rows) == 3
            for row in rows:
                assert row.kind == "generate" and row.model == "tiny policy v1" and row.error is None
                assert row.result["response_ids"] == ["a", "b"] and row.cost == 0
                assert row.tokens_in > 0 and 2 <= row.tokens_out <= 32

        # the broker delivers the finished job again, and a lead runs it again: nothing is added
        send_task("prelabel.run", [job.id], "gpu")
        again = wait_for_job(_prelabel(client, project_id, token, body)["job_id"], timeout=120)
        assert again.status == "succeeded", again.error
        assert again.result["skipped"] == {"already has enough responses": 3} and again.result["done"] == 0
    assert [t.responses for t in _tasks(project_id)] == [t.responses for t in tasks]
    with session_scope() as session:
        assert len(list(session.scalars(select(Suggestion).where(Suggestion.job_id == job.id)))) == 3


def test_a_newly_trained_adapter_is_compared_with_the_old_policy(
    lab: dict[str, Any], gpu_worker: object, tiny_model: Path
) -> None:
    """The issue's loop: train a new policy (an SFT LoRA adapter), then have it and the old one answer the
    same prompts, one response each, so the next round of votes ranks them."""
    admin = {"Authorization": f"Bearer {lab['admin_token']}"}
    train = {
        "snapshot_id": lab["sft"],
        "method": "sft",
        "base_model": str(tiny_model),
        "lora": {"r": 4, "alpha": 8},
        "params": {"max_steps": 2, "learning_rate": 5e-4, "per_device_train_batch_size": 2, "max_length": 64},
    }
    with TestClient(create_app()) as client:
        trained = client.post("/api/v1/training-jobs", json=train, headers=admin)
        assert trained.status_code == 202, trained.text
        run = wait_for_job(trained.json()["job_id"], timeout=180)
        assert run.status == "succeeded", f"{run.error}\n{run.log[-3000:]}"
        with session_scope() as session:
            new = session.scalars(select(TrainedModel).where(TrainedModel.job_id == run.id)).one()
            assert new.weights == "adapter"
            lead = session.scalars(select(User).where(User.email == lab["lead_email"])).one()
            sft_project = session.get_one(Project, session.get_one(Snapshot, lab["sft"]).project_id)
            old = _register(session, sft_project, tiny_model, "policy v0")
            project = _prompts_only(session, lead)
            project_id, ids, names = project.id, [new.id, old.id], [new.name, "policy v0"]
        body = {"mode": "generate", "policy_models": ids, "max_new_tokens": 12, "temperature": 1.0}
        job = wait_for_job(_prelabel(client, project_id, lab["lead_token"], body)["job_id"], timeout=120)
    assert job.status == "succeeded", f"{job.error}\n{job.log[-3000:]}"
    assert job.result["done"] == 6 and "adapter weights" in job.log
    for task in _tasks(project_id):
        assert [(r["id"], r["model"]) for r in task.responses] == [("a", names[0]), ("b", names[1])]
        assert all(r["text"].strip() for r in task.responses)
