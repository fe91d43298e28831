"""Starting a scoring job: everything that can be refused is refused before anything is queued."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Job, Role
from tests import factories


def _setup(db: Session, kind: str = "pairwise") -> dict[str, Any]:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind=kind, lead=lead)
    annotator = factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    tasks = factories.make_tasks(db, project, 3)
    if kind == "pairwise":
        factories.make_annotation(db, tasks[0], annotator, {"choice": str(tasks[0].responses[0]["id"])})
    snapshot = factories.make_snapshot(db, project, lead) if kind == "pairwise" else None
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    return {"lead": lead, "project": project, "snapshot": snapshot, "headers": headers}


def test_queues_a_gpu_job_with_the_model_and_its_row_shape(client: TestClient, db: Session) -> None:
    s = _setup(db)
    model = factories.make_model(db, s["snapshot"], path=str(factories.model_dir()), name="rm-1")
    answer = client.post(
        f"/api/v1/projects/{s['project'].id}/scoring",
        json={"model_id": model.id, "limit": 2},
        headers=s["headers"],
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["tasks"] == 2
    job = db.get_one(Job, answer.json()["job_id"])
    assert job.kind == "scoring" and job.status == "queued"
    assert job.params["model"] == {"id": model.id, "name": "rm-1", "path": model.path}
    assert job.params["chat"] is False  # the snapshot held plain-text prompts
    audited = select(AuditEvent.target_id).where(AuditEvent.action == "scoring.start")
    assert db.scalars(audited).all() == [str(job.id)]


def test_refuses_what_cannot_be_scored(client: TestClient, db: Session) -> None:
    s = _setup(db)
    pid, headers = s["project"].id, s["headers"]
    url = f"/api/v1/projects/{pid}/scoring"
    policy = factories.make_model(db, s["snapshot"], path=str(factories.model_dir()), method="dpo")
    answer = client.post(url, json={"model_id": policy.id}, headers=headers)
    assert answer.status_code == 422 and "needs a reward model" in answer.text
    gone = factories.make_model(db, s["snapshot"], path="/nonexistent/model")
    answer = client.post(url, json={"model_id": gone.id}, headers=headers)
    assert answer.status_code == 422 and "missing" in answer.text
    ok = factories.make_model(db, s["snapshot"], path=str(factories.model_dir()))
    answer = client.post(url, json={"model_id": ok.id, "task_ids": [10**9]}, headers=headers)
    assert answer.status_code == 422 and "not tasks of this project" in answer.text
    assert client.post(url, json={"model_id": ok.id, "batch_size": 0}, headers=headers).status_code == 422
    assert db.scalar(select(Job.id).where(Job.project_id == pid, Job.kind == "scoring")) is None


def test_another_projects_model_is_hidden_from_a_lead(client: TestClient, db: Session) -> None:
    mine, theirs = _setup(db), _setup(db)
    model = factories.make_model(db, theirs["snapshot"], path=str(factories.model_dir()))
    answer = client.post(
        f"/api/v1/projects/{mine['project'].id}/scoring", json={"model_id": model.id}, headers=mine["headers"]
    )
    assert answer.status_code == 404


def test_a_project_without_responses_to_compare_is_refused(client: TestClient, db: Session) -> None:
    s = _setup(db, kind="classification")
    other = _setup(db)
    admin = factories.make_user(db, is_admin=True)
    model = factories.make_model(db, other["snapshot"], path=str(factories.model_dir()))
    answer = client.post(
        f"/api/v1/projects/{s['project'].id}/scoring",
        json={"model_id": model.id},
        headers={"Authorization": f"Bearer {factories.make_token(db, admin)}"},
    )
    assert answer.status_code == 422 and "nothing to score" in answer.text


def test_loop_page_offers_the_projects_reward_models(client: TestClient, db: Session) -> None:
    from tests.conftest import sign_in

    s = _setup(db)
    factories.make_model(db, s["snapshot"], path=str(factories.model_dir()), name="rm-visible")
    sign_in(client, s["lead"].id)
    page = client.get(f"/projects/{s['project'].id}/loop")
    assert page.status_code == 200
    assert "rm-visible" in page.text and "Score open tasks" in page.text and "Queue order" in page.text


def test_reward_scores_are_not_counted_as_pre_labels(client: TestClient, db: Session) -> None:
    s = _setup(db)
    task = factories.make_tasks(db, s["project"], 1)[0]
    factories.make_suggestion(db, task)  # the LLM judge's
    factories.make_suggestion(db, task, kind="score", result={"scores": {"a": 1.0, "b": 0.0}})
    answer = client.get(f"/api/v1/projects/{s['project'].id}/prelabel/metrics", headers=s["headers"])
    assert answer.status_code == 200
    assert answer.json()["suggestions"] == 1 and answer.json()["by_mode"] == {"judge": 1}


def test_an_admin_may_score_with_another_projects_reward_model_a_lead_sees_only_the_projects(
    db: Session,
) -> None:
    from app.loop.scoring import reward_models

    mine, theirs = _setup(db), _setup(db)
    own = factories.make_model(db, mine["snapshot"], path=str(factories.model_dir()), name="rm-own")
    factories.make_model(db, theirs["snapshot"], path=str(factories.model_dir()), name="rm-theirs")
    factories.make_model(db, mine["snapshot"], path=str(factories.model_dir()), method="dpo")
    admin = factories.make_user(db, is_admin=True)
    assert [m.id for m in reward_models(db, mine["project"], mine["lead"])] == [own.id]
    names = {m.name for m in reward_models(db, mine["project"], admin)}
    assert {"rm-own", "rm-theirs"} <= names and all(
        m.method == "reward" for m in reward_models(db, mine["project"], admin)
    )


def test_the_loop_routes_publish_their_response_schemas(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for method, path, schema in [
        ("get", "/api/v1/projects/{pid}/scoring", "LoopSummary"),
        ("post", "/api/v1/projects/{pid}/scoring", "ScoringStarted"),
        ("get", "/api/v1/projects/{pid}/leaderboard", "Leaderboard"),
        ("get", "/api/v1/projects/{pid}/rounds", "RoundList"),
        ("post", "/api/v1/projects/{pid}/rounds", "RoundRead"),
        ("patch", "/api/v1/projects/{pid}/rounds/{rid}", "RoundRead"),
    ]:
        answers = spec["paths"][path][method]["responses"]
        ok = next(a for code, a in answers.items() if code.startswith("2"))
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith(f"/{schema}")
