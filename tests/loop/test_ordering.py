"""Scores → queue order: the rules rewrite open tasks' priorities from the latest scoring job, the real
claim then serves the most informative task first, and the imported priority comes back."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.loop.scoring import apply_order, distribution, latest_scoring_job, loop_summary
from app.models import Job, Project, Role, Suggestion, Task, User
from tests import factories
from tests.conftest import sign_in


def _scored_project(db: Session) -> dict[str, Any]:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    tasks = [
        factories.make_task(db, project, f"Question {i}?", [f"A{i}", f"B{i}"], priority=p)
        for i, p in enumerate([5, 0, 0, 3])
    ]
    job = factories.make_job(db, project, lead, kind="scoring")
    job.status = "succeeded"
    margins = {tasks[0].id: 2.0, tasks[1].id: 0.1, tasks[2].id: 0.7, tasks[3].id: 1.2}
    for task in tasks:
        a, b = (str(r["id"]) for r in task.responses)
        gap = margins[task.id]
        db.add(
            Suggestion(
                task_id=task.id,
                job_id=job.id,
                kind="score",
                model="rm",
                result={"scores": {a: gap, b: 0.0}, "margin": gap, "favourite": a},
            )
        )
    db.flush()
    return {"project": project, "tasks": tasks, "job": job, "lead": lead, "annotator": annotator}


def _set_rule(db: Session, project: Project, rule: str) -> dict[str, Any]:
    project.settings = {**project.settings, "queue_order": rule}
    db.flush()
    done = apply_order(db, project)
    db.expire_all()
    return done


def _priorities(db: Session, tasks: list[Task]) -> list[tuple[int, int | None]]:
    rows = dict(
        (tid, (p, g))
        for tid, p, g in db.execute(
            select(Task.id, Task.priority, Task.given_priority).where(Task.id.in_([t.id for t in tasks]))
        )
    )
    return [rows[t.id] for t in tasks]


def test_margin_order_then_back_to_the_imported_priorities(db: Session) -> None:
    s = _scored_project(db)
    done = _set_rule(db, s["project"], "margin")
    assert done["ordered"] == 4 and done["rule"] == "margin"
    # smallest margin first: task 1 (0.1), task 2 (0.7), task 3 (1.2), task 0 (2.0)
    assert _priorities(db, s["tasks"]) == [(1, 5), (4, 0), (3, 0), (2, 3)]
    done = _set_rule(db, s["project"], "priority")
    assert done["restored"] == 4 and done["ordered"] == 0
    assert _priorities(db, s["tasks"]) == [(5, None), (0, None), (0, None), (3, None)]


def test_reordering_twice_keeps_the_imported_priority(db: Session) -> None:
    s = _scored_project(db)
    _set_rule(db, s["project"], "margin")
    _set_rule(db, s["project"], "random")
    assert sorted(p for p, _ in _priorities(db, s["tasks"])) == [1, 2, 3, 4]
    assert [g for _, g in _priorities(db, s["tasks"])] == [5, 0, 0, 3]  # not the margin ranks


def test_disagreement_with_the_judge_comes_first(db: Session) -> None:
    s = _scored_project(db)
    task = s["tasks"][0]  # the reward model is surest here, but the judge chose the other response
    factories.make_suggestion(db, task, result={"choice": str(task.responses[1]["id"])})
    done = _set_rule(db, s["project"], "disagreement")
    assert done["judged"] == 1
    assert _priorities(db, s["tasks"])[0][0] == 4


def test_only_open_tasks_of_the_latest_succeeded_job_are_ordered(db: Session) -> None:
    s = _scored_project(db)
    s["tasks"][1].status = "done"
    failed = factories.make_job(db, s["project"], s["lead"], kind="scoring")
    failed.status = "failed"
    db.flush()
    assert latest_scoring_job(db, s["project"].id).id == s["job"].id  # type: ignore[union-attr]
    done = _set_rule(db, s["project"], "margin")
    assert done["ordered"] == 3
    assert _priorities(db, s["tasks"])[1] == (0, None)


def test_the_claim_serves_the_smallest_margin_first(client: TestClient, db: Session) -> None:
    s = _scored_project(db)
    _set_rule(db, s["project"], "margin")
    headers = {"Authorization": f"Bearer {factories.make_token(db, s['annotator'])}"}
    served = []
    for _ in range(4):
        answer = client.post(f"/api/v1/projects/{s['project'].id}/next", headers=headers)
        assert answer.status_code == 200, answer.text
        served.append(answer.json()["task"]["id"])
        aid = answer.json()["assignment"]["id"]
        assert client.post(f"/api/v1/assignments/{aid}/skip", json={}, headers=headers).status_code < 300
    t = [task.id for task in s["tasks"]]
    assert served == [t[1], t[2], t[3], t[0]]


def test_without_scores_the_imported_priorities_stand(db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    tasks = [factories.make_task(db, project, "q", ["x", "y"], priority=2)]
    done = _set_rule(db, project, "margin")
    assert done["ordered"] == 0 and "no reward scores" in done["note"]
    assert _priorities(db, tasks) == [(2, None)]


def test_changing_the_rule_queues_a_reorder_job(client: TestClient, db: Session) -> None:
    s = _scored_project(db)
    headers = {"Authorization": f"Bearer {factories.make_token(db, s['lead'])}"}
    pid = s["project"].id
    answer = client.patch(
        f"/api/v1/projects/{pid}", json={"settings": {"queue_order": "margin"}}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    jobs = db.scalars(select(Job).where(Job.project_id == pid, Job.kind == "ordering")).all()
    assert [j.params["rule"] for j in jobs] == ["margin"]
    client.patch(f"/api/v1/projects/{pid}", json={"settings": {"overlap": 2}}, headers=headers)
    assert len(db.scalars(select(Job).where(Job.project_id == pid, Job.kind == "ordering")).all()) == 1
    bad = client.patch(
        f"/api/v1/projects/{pid}", json={"settings": {"queue_order": "loudest"}}, headers=headers
    )
    assert bad.status_code == 422 and "queue_order" in bad.text


def test_summary_reports_rule_scores_and_distribution(client: TestClient, db: Session) -> None:
    s = _scored_project(db)
    s["job"].result = {
        "scored": 4,
        "model": {"id": 1, "name": "rm"},
        "distribution": distribution([2.0, 0.1, 0.7, 1.2]),
    }
    _set_rule(db, s["project"], "margin")
    summary = loop_summary(db, s["project"]).model_dump()
    assert summary["rule"] == "margin" and summary["ordered_open_tasks"] == 4
    assert summary["scores"]["scored"] == 4 and summary["scores"]["model"]["name"] == "rm"
    reviewer: User = factories.make_user(db)
    factories.add_member(db, s["project"], reviewer, Role.reviewer)
    headers = {"Authorization": f"Bearer {factories.make_token(db, reviewer)}"}
    answer = client.get(f"/api/v1/projects/{s['project'].id}/scoring", headers=headers)
    assert answer.status_code == 200 and answer.json()["rule"] == "margin"
    assert sum(n for _, _, n in answer.json()["scores"]["distribution"]["bins"]) == 4
    sign_in(client, reviewer.id)
    page = client.get(f"/projects/{s['project'].id}/loop")
    assert page.status_code == 200
    assert "4 tasks scored by <strong>rm</strong>" in page.text and "median 0.95" in page.text
    assert page.text.count('class="bar"') == 12  # the margin histogram
    assert "Score open tasks" not in page.text  # a reviewer sees the loop, a lead runs it
