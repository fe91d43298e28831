"""A scoring job on the real gpu-queue worker: a reward model scores every open task's responses, the
scores are the model's own, the queue is reordered by margin, and a second delivery changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.db import session_scope
from app.loop.job import run_order_job, run_scoring_job
from app.main import create_app
from app.models import Job, Role, Suggestion, Task
from app.training.service import models_dir
from tests import factories
from tests.worker import wait_for_job


@pytest.fixture(scope="module")
def random_reward_model(tiny_model: Path) -> Path:
    """A reward head on the tiny base, never trained: distinct scores are all a scoring test needs."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = models_dir() / "random-rm"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    model.config.pad_token_id = AutoTokenizer.from_pretrained(tiny_model).pad_token_id
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return out


@pytest.fixture
def scored_project(committed: None, random_reward_model: Path) -> dict[str, Any]:
    with session_scope() as session:
        admin = factories.make_user(session, is_admin=True)
        project = factories.make_project(session, settings={"queue_order": "margin"})
        annotator = factories.make_user(session)
        factories.add_member(session, project, annotator, Role.annotator)
        tasks = [
            factories.make_task(
                session, project, f"Question {i}: say {i}?", [f"It is {i}.", f"Maybe {i * 7} or so"]
            )
            for i in range(5)
        ]
        lonely = factories.make_task(session, project, "Only one answer?", ["Just this."])
        model = factories.make_model(session, None, path=str(random_reward_model), name="rm-random")
        return {
            "project": project.id,
            "tasks": [t.id for t in tasks],
            "lonely": lonely.id,
            "model": model.id,
            "token": factories.make_token(session, admin),
            "prompts": {t.id: (t.prompt, [(str(r["id"]), r["text"]) for r in t.responses]) for t in tasks},
        }


def test_scores_orders_and_survives_redelivery(
    scored_project: dict[str, Any], gpu_worker: object, random_reward_model: Path
) -> None:
    from mlcore.score import RewardScorer

    s = scored_project
    headers = {"Authorization": f"Bearer {s['token']}"}
    with TestClient(create_app()) as client:
        answer = client.post(
            f"/api/v1/projects/{s['project']}/scoring", json={"model_id": s["model"]}, headers=headers
        )
        assert answer.status_code == 202, answer.text
        job = wait_for_job(answer.json()["job_id"], timeout=120)
    assert job.status == "succeeded", f"{job.error}\n{job.log}"
    assert job.result["scored"] == 5 and job.result["skipped_fewer_than_two_responses"] == 1
    assert job.result["distribution"]["count"] == 5
    assert job.result["order"]["rule"] == "margin" and job.result["order"]["ordered"] == 5

    with session_scope() as session:
        rows = session.execute(
            select(Suggestion.task_id, Suggestion.result).where(
                Suggestion.job_id == job.id, Suggestion.kind == "score"
            )
        ).all()
        found = {tid: result for tid, result in rows}
        tasks = {t.id: (t.priority, t.given_priority) for t in session.scalars(select(Task))}
    assert sorted(found) == sorted(s["tasks"])  # the one-response task was not scored

    scorer = RewardScorer(
        random_reward_model, chat=False
    )  # the same model, here: the job's scores are its own
    for tid, (prompt, responses) in s["prompts"].items():
        expected = scorer.score([(prompt, text) for _, text in responses])
        got = [found[tid]["scores"][rid] for rid, _ in responses]
        assert got == pytest.approx(expected, abs=1e-4)
        assert found[tid]["margin"] == pytest.approx(abs(expected[0] - expected[1]), abs=1e-4)

    by_margin = sorted(s["tasks"], key=lambda tid: found[tid]["margin"])
    assert [tasks[tid][0] for tid in by_margin] == [5, 4, 3, 2, 1]  # the least sure task is served first
    assert all(tasks[tid][1] == 0 for tid in s["tasks"])  # the imported priority, kept
    assert tasks[s["lonely"]] == (0, None)

    assert run_scoring_job(job.id) == "skipped"  # delivered again after it finished: nothing happens
    with session_scope() as session:
        assert (
            session.scalar(select(func.count()).select_from(Suggestion).where(Suggestion.job_id == job.id))
            == 5
        )

    with TestClient(create_app()) as client:  # back to the imported order: a reorder job, no model needed
        answer = client.patch(
            f"/api/v1/projects/{s['project']}",
            json={"settings": {"queue_order": "priority"}},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
    with session_scope() as session:
        order_job = session.scalars(select(Job).where(Job.kind == "ordering")).one()
        order_id = order_job.id
    # What a default-queue worker runs; one may be up in this session and take the job first.
    assert run_order_job(order_id) in ("succeeded", "skipped")
    assert wait_for_job(order_id, timeout=30).status == "succeeded"
    with session_scope() as session:
        assert {t.priority for t in session.scalars(select(Task))} == {0}
        assert (
            session.scalar(select(func.count()).select_from(Task).where(Task.given_priority.is_not(None)))
            == 0
        )


def test_a_broken_model_fails_the_job_readably(scored_project: dict[str, Any], gpu_worker: object) -> None:
    s = scored_project
    broken = models_dir() / "broken-rm"
    broken.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        model = factories.make_model(session, None, path=str(broken), name="rm-broken")
        model_id = model.id
    with TestClient(create_app()) as client:
        answer = client.post(
            f"/api/v1/projects/{s['project']}/scoring",
            json={"model_id": model_id},
            headers={"Authorization": f"Bearer {s['token']}"},
        )
        job = wait_for_job(answer.json()["job_id"], timeout=60)
    assert job.status == "failed" and "could not load the reward model" in (job.error or "")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Suggestion)) == 0
