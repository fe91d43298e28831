"""Reviews through the API and the pages (SQLite and PostgreSQL): verdicts, history, reject sends the task
back to the pool, corrections are validated and win in exports, the queue's order and filters."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.labeling.queue import claim_next_task
from app.models import Annotation, Project, Review, Role, Task, User
from tests import factories
from tests.conftest import sign_in


def _team(db: Session, **settings: Any) -> tuple[Project, dict[str, User]]:
    people = {n: factories.make_user(db, name=n) for n in ("lead", "rev", "a1", "a2", "a3", "late")}
    project = factories.make_project(db, kind="pairwise", lead=people["lead"], settings=settings)
    factories.add_member(db, project, people["rev"], Role.reviewer)
    for name in ("a1", "a2", "a3", "late"):
        factories.add_member(db, project, people[name], Role.annotator)
    return project, people


def _auth(db: Session, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.make_token(db, user)}"}


def test_verdicts_history_and_the_pool(client: TestClient, db: Session) -> None:
    project, p = _team(db, overlap=2)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    one = factories.make_annotation(db, task, p["a1"], {"choice": "a"})
    two = factories.make_annotation(db, task, p["a2"], {"choice": "b"})
    task.status = "done"
    db.flush()
    rev = _auth(db, p["rev"])

    r = client.post(
        f"/api/v1/annotations/{one.uuid}/reviews", json={"verdict": "reject", "comment": "wrong"}, headers=rev
    )
    assert r.status_code == 201 and r.json()["verdict"] == "reject"
    db.refresh(task)
    assert (task.annotation_count, task.status) == (1, "open")  # back in the pool
    claim = claim_next_task(db, project=project, user=p["late"])
    assert claim is not None and claim.task.id == task.id  # someone else gets it

    r = client.post(f"/api/v1/annotations/{one.uuid}/reviews", json={"verdict": "accept"}, headers=rev)
    assert r.status_code == 201
    db.refresh(task)
    assert task.annotation_count == 2  # counts again

    bad = client.post(
        f"/api/v1/annotations/{two.uuid}/reviews",
        json={"verdict": "correct", "result": {"choice": "zzz"}},
        headers=rev,
    )
    assert bad.status_code == 422 and "choice must be one of" in bad.text
    fixed = client.post(
        f"/api/v1/annotations/{two.uuid}/reviews",
        json={"verdict": "correct", "result": {"choice": "a", "strength": 2}},
        headers=rev,
    )
    assert fixed.status_code == 201 and fixed.json()["result"] == {"choice": "a", "strength": 2}
    history = client.get(f"/api/v1/annotations/{one.uuid}/reviews", headers=rev).json()
    assert [h["verdict"] for h in history] == ["reject", "accept"]  # never overwritten
    db.refresh(two)
    assert two.status == "corrected" and two.result == {"choice": "b"}  # the answer itself is kept

    own = factories.make_annotation(db, factories.make_task(db, project, "Q2?", ["C", "D"]), p["rev"])
    assert (
        client.post(
            f"/api/v1/annotations/{own.uuid}/reviews", json={"verdict": "accept"}, headers=rev
        ).status_code
        == 403
    )
    annotator = _auth(db, p["a3"])
    denied = client.post(
        f"/api/v1/annotations/{two.uuid}/reviews", json={"verdict": "accept"}, headers=annotator
    )
    assert denied.status_code == 403  # annotators do not review


def test_queue_orders_by_disagreement_then_gold_then_age(client: TestClient, db: Session) -> None:
    project, p = _team(db, overlap=3)
    calm = factories.make_task(db, project, "calm", ["A", "B"])
    split = factories.make_task(db, project, "split", ["A", "B"])
    gold = factories.make_task(db, project, "gold", ["A", "B"], gold={"choice": "a"})
    for who in ("a1", "a2", "a3"):
        factories.make_annotation(db, calm, p[who], {"choice": "a"})
    for who, choice in (("a1", "a"), ("a2", "b"), ("a3", "b")):
        factories.make_annotation(db, split, p[who], {"choice": choice})
    for who in ("a1", "a2", "a3"):
        factories.make_annotation(db, gold, p[who], {"choice": "b"})  # unanimous, and all wrong
    reviewed = factories.make_task(db, project, "done", ["A", "B"])
    done = factories.make_annotation(db, reviewed, p["a1"], {"choice": "a"})
    factories.make_review(db, done, p["rev"], "accept")
    rev = _auth(db, p["rev"])
    items = client.get(f"/api/v1/projects/{project.id}/review-queue", headers=rev).json()["items"]
    assert [i["task_id"] for i in items] == [split.id, gold.id, calm.id]  # the reviewed one is not waiting
    assert items[0]["disagreement"] == 1 - 2 / 3 and items[1]["gold_miss"] == 1.0
    mine = client.get(f"/api/v1/projects/{project.id}/review-queue?label=b", headers=rev).json()["items"]
    assert {i["task_id"] for i in mine} == {split.id, gold.id}
    by = client.get(f"/api/v1/projects/{project.id}/review-queue?annotator={p['a1'].id}&label=a", headers=rev)
    assert {i["task_id"] for i in by.json()["items"]} == {split.id, calm.id}


def test_queue_pages_follow_its_order_by_cursor(client: TestClient, db: Session) -> None:
    project, p = _team(db, overlap=3)
    tasks = [factories.make_task(db, project, f"q{i}", ["A", "B"]) for i in range(5)]
    answers = {}
    for i, task in enumerate(tasks):  # task i gets i % 3 "b" answers out of three
        answers[task.id] = [
            factories.make_annotation(db, task, p[who], {"choice": "b" if n < i % 3 else "a"})
            for n, who in enumerate(("a1", "a2", "a3"))
        ]
    rev = _auth(db, p["rev"])
    url = f"/api/v1/projects/{project.id}/review-queue"
    whole = client.get(url, headers=rev).json()
    assert whole["next_cursor"] is None and len(whole["items"]) == 5
    seen, cursor = [], None
    while True:
        page = client.get(url, params={"limit": 2, "cursor": cursor or ""}, headers=rev).json()
        seen += [i["task_id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [i["task_id"] for i in whole["items"]]
    first = client.get(url, params={"limit": 2}, headers=rev).json()
    for answer in answers[seen[0]]:  # the first task leaves the queue before the next page is read
        factories.make_review(db, answer, p["rev"], "accept")
    after = client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=rev).json()
    assert [i["task_id"] for i in after["items"]] == seen[2:4]  # nothing skipped, nothing repeated
    assert client.get(url, params={"cursor": "not-a-cursor"}, headers=rev).status_code == 422


def test_review_page_corrects_and_marks_gold(client: TestClient, db: Session) -> None:
    project, p = _team(db)
    task = factories.make_task(db, project, "Which?", ["Alpha", "Beta"])
    ann = factories.make_annotation(db, task, p["a1"], {"choice": "a", "rationale": "shorter"})
    csrf = sign_in(client, p["rev"].id)
    queue = client.get(f"/projects/{project.id}/review")
    assert queue.status_code == 200 and f"/projects/{project.id}/review/{task.id}" in queue.text
    page = client.get(f"/projects/{project.id}/review/{task.id}")
    assert (
        page.status_code == 200 and "annotator-" in page.text and p["a1"].email not in page.text
    )  # pseudonymous
    assert "shorter" in page.text and 'data-key="a"' in page.text
    r = client.post(
        f"/projects/{project.id}/review",
        data={"csrf_token": csrf, "uuid": ann.uuid, "verdict": "correct", "choice": "b", "strength": "1"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "corrected" in r.text
    review = db.scalars(select(Review).where(Review.annotation_id == ann.id)).one()
    assert review.result == {"choice": "b", "strength": 1}
    assert "Use as the gold answer" not in r.text  # leads only
    nxt = client.get(f"/projects/{project.id}/review/next?after={task.id}")
    assert nxt.status_code == 303 and nxt.headers["location"] == f"/projects/{project.id}/review"  # none left
    lead_csrf = sign_in(client, p["lead"].id)
    r = client.post(
        f"/projects/{project.id}/tasks/{task.id}/gold", data={"csrf_token": lead_csrf, "uuid": ann.uuid}
    )
    assert r.status_code == 303
    db.refresh(task)
    assert task.gold == {"choice": "a", "rationale": "shorter"}


def test_reveal_setting_shows_names(client: TestClient, db: Session) -> None:
    project, p = _team(db, reveal_annotators=True)
    task = factories.make_task(db, project, "Q", ["A", "B"])
    factories.make_annotation(db, task, p["a2"], {"choice": "a"})
    sign_in(client, p["rev"].id)
    assert p["a2"].email in client.get(f"/projects/{project.id}/review/{task.id}").text


def test_export_uses_the_reviewed_label(db: Session, tmp_path: Any) -> None:
    from app.exports import service
    from app.exports.schemas import ExportRequest

    project, p = _team(db)
    task = factories.make_task(db, project, "Q", ["good", "bad"])
    ann = factories.make_annotation(db, task, p["a1"], {"choice": "b"})
    from app.quality.reviews import review_annotation

    review_annotation(db, annotation=ann, reviewer=p["rev"], verdict="correct", result={"choice": "a"})
    req = ExportRequest.model_validate(
        {"format": "preference", "split": {"test": 0}, "filters": {"reviewed_only": True}}
    )
    manifest = service.write_snapshot(db.connection(), project=project, request=req, directory=tmp_path / "s")
    line = (tmp_path / "s" / manifest["files"]["train"]["file"]).read_text()
    assert '"chosen":"good"' in line
    assert db.scalar(select(Task.annotation_count).where(Task.id == task.id)) == 1
    assert db.scalar(select(Annotation.status).where(Annotation.id == ann.id)) == "corrected"
