"""Rounds: windows of labels with their snapshot and models, figures frozen when a round closes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role, Round, Suggestion
from tests import factories
from tests.conftest import sign_in


def _team(db: Session) -> dict[str, Any]:
    lead = factories.make_user(db)
    project = factories.make_project(db, lead=lead)
    annotators = [factories.make_user(db) for _ in range(3)]
    for user in annotators:
        factories.add_member(db, project, user, Role.annotator)
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    return {"lead": lead, "project": project, "annotators": annotators, "headers": headers}


def _task(db: Session, project: Any, i: int) -> Any:
    return factories.make_task(
        db, project, f"Q{i}?", [{"text": f"good {i}", "model": "new"}, {"text": f"bad {i}", "model": "old"}]
    )


def _label(db: Session, team: dict[str, Any], task: Any, choices: list[str]) -> None:
    for user, choice in zip(team["annotators"], choices, strict=False):
        factories.make_annotation(db, task, user, {"choice": choice})


def test_rounds_freeze_their_figures_and_compare_side_by_side(client: TestClient, db: Session) -> None:
    team = _team(db)
    project, pid, headers = team["project"], team["project"].id, team["headers"]
    first = [_task(db, project, i) for i in range(4)]
    for task in first:
        a, b = (str(r["id"]) for r in task.responses)
        _label(db, team, task, [a, a, b])  # two of three prefer the "new" model's response
        db.add(Suggestion(task_id=task.id, kind="judge", model="j", result={"choice": a}))
        # the reward model prefers a on the first two tasks only
        scores = {a: 1.0, b: 0.0} if task is first[0] or task is first[1] else {a: 0.0, b: 1.0}
        db.add(Suggestion(task_id=task.id, kind="score", model="rm-0", result={"scores": scores}))
    db.flush()

    opened = client.post(f"/api/v1/projects/{pid}/rounds", json={}, headers=headers)
    assert opened.status_code == 201, opened.text
    r1 = opened.json()
    assert r1["number"] == 1 and r1["name"] == "Round 1" and r1["open"]
    live = r1["metrics"]
    assert live["annotations"] == 12 and live["tasks_labelled"] == 4 and live["annotators"] == 3
    assert live["percent_agreement"]["value"] == pytest.approx(1 / 3)  # one agreeing pair of three per task
    assert live["judge_agreement"]["value"] == pytest.approx(
        8 / 12
    )  # the judge sides with two votes of three
    assert live["reward_agreement"]["value"] == pytest.approx(6 / 12)
    assert live["reward_models"] == ["rm-0"]
    assert [m["model"] for m in live["leaderboard"]] == ["new", "old"]

    second = client.post(
        f"/api/v1/projects/{pid}/rounds", json={"name": "After RM v1"}, headers=headers
    ).json()
    assert second["number"] == 2 and second["name"] == "After RM v1"
    later = [_task(db, project, 10 + i) for i in range(2)]
    for task in later:
        a, _b = (str(r["id"]) for r in task.responses)
        _label(db, team, task, [a, a, a])

    listed = client.get(f"/api/v1/projects/{pid}/rounds", headers=headers).json()["items"]
    assert [r["number"] for r in listed] == [1, 2]
    closed, current = listed
    assert not closed["open"] and closed["closed_at"] is not None
    assert closed["metrics"]["annotations"] == 12  # frozen: round 2's labels are not in it
    assert current["open"] and current["metrics"]["annotations"] == 6
    assert current["metrics"]["percent_agreement"]["value"] == pytest.approx(1.0)
    assert current["metrics"]["tasks_created"] == 2
    assert db.get_one(Round, closed["id"]).metrics["annotations"] == 12


def test_a_round_shows_its_snapshot_and_the_models_trained_on_it(client: TestClient, db: Session) -> None:
    team = _team(db)
    project, pid, headers = team["project"], team["project"].id, team["headers"]
    task = _task(db, project, 0)
    _label(db, team, task, [str(task.responses[0]["id"])])
    r1 = client.post(f"/api/v1/projects/{pid}/rounds", json={}, headers=headers).json()
    assert r1["snapshot"] is None and r1["reward_model"] is None
    snapshot = factories.make_snapshot(db, project, team["lead"])
    reward = factories.make_model(db, snapshot, name="rm", metrics={"eval": {"accuracy": 0.75}})
    policy = factories.make_model(db, snapshot, name="pol", method="dpo")
    view = client.get(f"/api/v1/projects/{pid}/rounds", headers=headers).json()["items"][0]
    assert view["snapshot"]["id"] == snapshot.id and not view["snapshot"]["tied"]
    assert view["reward_model"] == {
        "id": reward.id, "name": "rm", "method": "reward", "accuracy": 0.75, "eval_loss": None
    }  # fmt: skip
    assert view["policy_model"]["id"] == policy.id

    other = _team(db)
    foreign = factories.make_snapshot(db, other["project"], other["lead"])
    url = f"/api/v1/projects/{pid}/rounds/{r1['id']}"
    answer = client.patch(url, json={"snapshot_id": foreign.id}, headers=headers)
    assert answer.status_code == 422 and "not a snapshot of this project" in answer.text
    answer = client.patch(url, json={"reward_model_id": policy.id}, headers=headers)
    assert answer.status_code == 422 and "not reward" in answer.text
    answer = client.patch(url, json={"policy_model_id": reward.id}, headers=headers)
    assert answer.status_code == 422
    tied = client.patch(url, json={"snapshot_id": snapshot.id, "name": "Pilot"}, headers=headers).json()
    assert tied["snapshot"]["tied"] and tied["name"] == "Pilot"
    hidden = client.patch(
        f"/api/v1/projects/{other['project'].id}/rounds/{r1['id']}", json={}, headers=other["headers"]
    )
    assert hidden.status_code == 404  # a round of another project


def test_rounds_page_lists_rounds_side_by_side(client: TestClient, db: Session) -> None:
    team = _team(db)
    project = team["project"]
    factories.make_round(db, project, 1, name="Pilot round")
    for i in range(3):  # figures with values: the page draws their intervals
        task = _task(db, project, i)
        a, b = (str(r["id"]) for r in task.responses)
        _label(db, team, task, [a, a, b if i else a])
    sign_in(client, team["lead"].id)
    csrf = sign_in(client, team["lead"].id)
    page = client.get(f"/projects/{project.id}/loop")
    assert page.status_code == 200 and "Pilot round" in page.text and "Start round 2" in page.text
    started = client.post(f"/projects/{project.id}/rounds", data={"name": "Second", "csrf_token": csrf})
    assert started.status_code == 303
    page = client.get(f"/projects/{project.id}/loop", headers={"HX-Request": "true"})  # the summary block
    assert page.status_code == 200
    assert "Pilot round" in page.text and "Second" in page.text and "Percent agreement" in page.text
    assert 'class="whisker"' in page.text  # the pilot's frozen agreement, drawn with its interval


def test_a_project_without_responses_to_compare_shows_rounds_only(client: TestClient, db: Session) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="sft", lead=lead)
    factories.make_round(db, project, 1, name="Drafts round")
    sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/loop", headers={"HX-Request": "true"})  # the summary block
    assert page.status_code == 200 and "Drafts round" in page.text
    assert "Queue order" not in page.text and "Reward scores" not in page.text
