"""The pre-label API: starting jobs (202 {job_id}), endpoint settings, templates, suggestions and metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, ProjectStats, Role, utcnow
from app.quality import stats
from app.quality.stats import store_stats
from tests import factories

LABELS = {"labels": ["Billing", "Delivery", "Account"]}
STUB = {"base_url": "http://127.0.0.1:8001/v1", "model": "stub", "credential": ""}


def _lead(db: Session, kind: str = "classification", **settings: object) -> tuple[object, dict[str, str]]:
    lead = factories.make_user(db)
    project = factories.make_project(
        db, kind=kind, lead=lead, settings={**(LABELS if kind == "classification" else {}), **settings}
    )
    project.llm = dict(STUB)
    return project, {"Authorization": f"Bearer {factories.make_token(db, lead)}"}


def test_start_answers_202_with_a_queued_prelabel_job(client: TestClient, db: Session) -> None:
    project, auth = _lead(db)
    tasks = [factories.make_task(db, project, f"q{i}", []) for i in range(3)]  # type: ignore[arg-type]
    answer = client.post(f"/api/v1/projects/{project.id}/prelabel", json={"mode": "label"}, headers=auth)  # type: ignore[attr-defined]
    assert answer.status_code == 202, answer.text
    assert answer.json()["tasks"] == 3 and answer.json()["sent_to"] == "127.0.0.1"
    job = db.get_one(Job, answer.json()["job_id"])
    assert job.kind == "prelabel" and job.status == "queued"
    assert job.params["template"]["version"] == 1 and job.params["settings"]["base_url"] == STUB["base_url"]
    assert "api_key" not in job.params["settings"]
    only = client.post(
        f"/api/v1/projects/{project.id}/prelabel",  # type: ignore[attr-defined]
        json={"mode": "label", "task_ids": [tasks[0].id]},
        headers=auth,
    )
    assert only.status_code == 202 and only.json()["tasks"] == 1


def test_start_refuses_what_cannot_work(client: TestClient, db: Session) -> None:
    project, auth = _lead(db)
    other, _ = _lead(db)
    foreign = factories.make_task(db, other, "not yours", [])  # type: ignore[arg-type]
    url = f"/api/v1/projects/{project.id}/prelabel"  # type: ignore[attr-defined]
    cases = [
        ({"mode": "judge"}, "pre-labels with label, not judge"),
        ({"mode": "label", "task_ids": [foreign.id]}, "not tasks of this project"),
        ({"mode": "label", "budget": {"max_cost": 1}}, "a cost budget needs prices"),
        ({"mode": "label", "k": 2}, "apply to generate only"),
        ({"mode": "translate"}, "mode"),
    ]
    for body, message in cases:
        answer = client.post(url, json=body, headers=auth)
        assert answer.status_code == 422 and message in answer.json()["detail"], (body, answer.text)
    assert db.query(Job).filter(Job.kind == "prelabel").count() == 0


def test_endpoint_settings_keep_no_key_and_name_only_a_credential_bound_to_the_host(
    client: TestClient, db: Session
) -> None:
    project, auth = _lead(db)
    factories.make_credential(db, name="lab-vllm", env_var="VLLM_API_KEY", hosts="127.0.0.1,10.0.0.0/8")
    factories.make_credential(db, name="openai", env_var="OPENAI_PROJECT_API_KEY", hosts="api.openai.com")
    url = f"/api/v1/projects/{project.id}/prelabel/settings"  # type: ignore[attr-defined]
    saved = client.put(
        url, json={**STUB, "credential": "lab-vllm", "concurrency": 16, "price_in_per_1k": 0.1}, headers=auth
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["concurrency"] == 16 and project.llm["credential"] == "lab-vllm"  # type: ignore[attr-defined]
    read = client.get(url, headers=auth).json()
    assert (
        read["host"] == "127.0.0.1"
        and read["host_allowed_for_private"] is True
        and read["modes"] == ["label"]
    )
    # a lead sees names and hosts, never a variable or a key
    assert {c["name"]: c["fits"] for c in read["credentials"]} == {
        "default": False,
        "lab-vllm": True,
        "openai": False,
    }
    assert "VLLM_API_KEY" not in str(read) and "env_var" not in str(read["credentials"])
    off_host = client.put(url, json={**STUB, "credential": "openai"}, headers=auth)
    assert off_host.status_code == 422
    assert "'openai' may be sent only to api.openai.com" in off_host.json()["detail"]
    assert "127.0.0.1 is not one of them" in off_host.json()["detail"]
    for variable in ("PREFLAB_SECRET_KEY", "PREFLAB_LLM_API_KEY", "_API_KEY", "PREFLAB_SECRET_KEY_API_KEY"):
        leak = client.put(url, json={**STUB, "api_key_env": variable}, headers=auth)
        assert leak.status_code == 422 and "api_key_env is no longer accepted" in leak.json()["detail"]
    named = client.put(url, json={**STUB, "credential": "preflab_secret_key"}, headers=auth)
    assert named.status_code == 422 and "no credential named 'preflab_secret_key'" in named.json()["detail"]
    assert project.llm["credential"] == "lab-vllm"  # type: ignore[attr-defined]
    stored = client.put(url, json={**STUB, "api_key": "sk-secret"}, headers=auth)
    assert stored.status_code == 422 and "sk-secret" not in str(project.llm)  # type: ignore[attr-defined]
    bad_url = client.put(url, json={**STUB, "base_url": "file:///etc/passwd"}, headers=auth)
    assert bad_url.status_code == 422


def test_templates_get_versions_and_bad_ones_are_refused(client: TestClient, db: Session) -> None:
    project, auth = _lead(db)
    base = f"/api/v1/projects/{project.id}/prompt-templates"  # type: ignore[attr-defined]
    (label,) = client.get(base, headers=auth).json()
    assert label["mode"] == "label" and label["version"] == 0 and "{{ prompt_text }}" in label["body"]
    saved = client.post(
        f"{base}/label", json={"system": "Be brief.", "body": "Text: {{ prompt_text }}"}, headers=auth
    )
    assert saved.status_code == 201 and saved.json()["version"] == 1
    saved = client.post(
        f"{base}/label", json={"system": "", "body": "{{ prompt_text }} / {{ labels|join }}"}, headers=auth
    )
    assert saved.json()["version"] == 2
    assert [v["version"] for v in client.get(f"{base}/label", headers=auth).json()] == [2, 1]
    broken = client.post(f"{base}/label", json={"body": "{% for %}"}, headers=auth)
    assert broken.status_code == 422 and "does not parse" in broken.json()["detail"]
    started = client.post(f"/api/v1/projects/{project.id}/prelabel", json={"mode": "label"}, headers=auth)  # type: ignore[attr-defined]
    assert db.get_one(Job, started.json()["job_id"]).params["template"]["version"] == 2


def test_suggestions_and_metrics(client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead)
    human, reviewer = factories.make_user(db), factories.make_user(db)
    factories.add_member(db, project, human, Role.annotator)
    factories.add_member(db, project, reviewer, Role.reviewer)
    tasks = [factories.make_task(db, project, f"q{i}", ["x", "y"]) for i in range(3)]
    s0 = factories.make_suggestion(db, tasks[0], cost=0.25, tokens_in=100, tokens_out=20)
    factories.make_suggestion(
        db,
        tasks[1],
        cost=0.5,
        tokens_in=200,
        tokens_out=40,
        result={"choice": "tie", "rationale": "", "orders_agree": False, "confidence": None},
    )
    factories.make_suggestion(db, tasks[2], result={}, error="500 from the endpoint", cost=0.1)
    factories.make_annotation(db, tasks[0], human, {"choice": "a"})  # agrees with the judge
    factories.make_annotation(db, tasks[1], human, {"choice": "b"})  # the judge said tie
    accepted = factories.make_annotation(db, tasks[0], reviewer, {"choice": "a"})
    accepted.suggestion_id, accepted.origin, accepted.edit_distance = s0.id, "suggestion_accepted", 0
    replaced = factories.make_annotation(db, tasks[2], reviewer, {"choice": "b"})
    replaced.suggestion_id, replaced.origin, replaced.edit_distance = s0.id, "suggestion_replaced", 1
    db.flush()
    auth = {"Authorization": f"Bearer {factories.make_token(db, reviewer)}"}
    page = client.get(f"/api/v1/projects/{project.id}/suggestions?limit=2", headers=auth).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        f"/api/v1/projects/{project.id}/suggestions?cursor={page['next_cursor']}", headers=auth
    ).json()
    assert rest["items"][0]["error"] == "500 from the endpoint" and rest["next_cursor"] is None
    m = client.get(f"/api/v1/projects/{project.id}/prelabel/metrics", headers=auth).json()
    assert m["suggestions"] == 2 and m["errors"] == 1 and m["by_mode"] == {"judge": 2}
    assert (m["reviewed"], m["accepted"], m["replaced"], m["acceptance_rate"]) == (2, 1, 1, 0.5)
    assert m["mean_edit_distance"] == 0.5
    assert (m["judge_human_pairs"], m["judge_human_agreement"]) == (2, 0.5)
    assert m["judge_orders_disagree"] == 1
    assert m["cost"] == 0.85 and (m["tokens_in"], m["tokens_out"]) == (300, 60)

    # on a large project the figures are the ones kept with the dashboard's, refreshed by the stats job
    monkeypatch.setattr(stats, "LARGE", 1)
    store_stats(db, project)
    factories.make_suggestion(db, tasks[1], cost=1.0)  # not in the kept figures yet
    kept = client.get(f"/api/v1/projects/{project.id}/prelabel/metrics", headers=auth).json()
    assert kept == m and db.scalar(select(Job.id).where(Job.project_id == project.id)) is None
    db.get_one(ProjectStats, project.id).computed_at = utcnow() - timedelta(minutes=5)
    stale = client.get(f"/api/v1/projects/{project.id}/prelabel/metrics", headers=auth).json()
    assert stale == m  # served at once, while a job recomputes them
    assert db.scalar(select(Job.id).where(Job.project_id == project.id, Job.of_kind("stats"))) is not None
    store_stats(db, project)
    fresh = client.get(f"/api/v1/projects/{project.id}/prelabel/metrics", headers=auth).json()
    assert fresh["suggestions"] == 3 and fresh["cost"] == 1.85
