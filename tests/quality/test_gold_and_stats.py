"""Gold tasks in the queue, automatic pausing, and the project's figures (API, dashboard, own page)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.kinds.edits import levenshtein
from app.labeling.queue import next_for_api
from app.models import AuditEvent, Member, Project, Role, Suggestion, User
from tests import factories
from tests.conftest import sign_in


def _project(db: Session, **settings: Any) -> tuple[Project, User, list[User]]:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead, settings=settings)
    people = [factories.make_user(db) for _ in range(4)]
    for person in people:
        factories.add_member(db, project, person, Role.annotator)
    return project, lead, people


def _answer(
    client: TestClient, db: Session, project: Project, user: User, pick: Any
) -> dict[str, Any] | None:
    """Ask for the next task and answer it with pick(task); None when nothing is left."""
    headers = {"Authorization": f"Bearer {factories.make_token(db, user)}"}
    nxt = client.post(f"/api/v1/projects/{project.id}/next", headers=headers)
    if nxt.status_code == 204:
        return None
    body = nxt.json()
    put = client.put(
        f"/api/v1/annotations/{uuid.uuid4()}",
        json={"task_id": body["task"]["id"], "result": pick(body), "assignment_id": body["assignment"]["id"],
              "lead_time_ms": 4000},
        headers=headers,
    )  # fmt: skip
    assert put.status_code == 201, put.text
    return body


def test_gold_rate_mixes_gold_in_unmarked_and_beyond_overlap(client: TestClient, db: Session) -> None:
    project, _, people = _project(db, gold_rate=1.0, overlap=1)
    gold = [factories.make_task(db, project, f"gold {i}", ["A", "B"], gold={"choice": "a"}) for i in range(2)]
    normal = factories.make_task(db, project, "normal", ["A", "B"])
    for person in people[:3]:  # overlap 1, yet every annotator meets every gold task
        served = [_answer(client, db, project, person, lambda b: {"choice": "a"}) for _ in range(3)]
        ids = [s["task"]["id"] for s in served if s]
        assert set(ids[:2]) == {g.id for g in gold}
        assert all("gold" not in s["task"] for s in served if s)  # nothing tells the annotator
    assert ids[2:] == [] or ids[2] == normal.id
    off, _, (someone, *_) = _project(db, gold_rate=0.0)
    gold_off = factories.make_task(db, off, "gold", ["A", "B"], gold={"choice": "a"})
    first = next_for_api(db, project=off, user_id=someone.id)
    assert first is not None and first["task"]["id"] == gold_off.id  # an ordinary task when not mixed


def test_low_gold_accuracy_pauses_and_a_lead_resumes(client: TestClient, db: Session) -> None:
    project, lead, (good, bad, *_) = _project(db, gold_rate=1.0, auto_pause=True, gold_min_answers=3,
                                              gold_min_accuracy=0.7)  # fmt: skip
    for i in range(4):
        factories.make_task(db, project, f"gold {i}", ["A", "B"], gold={"choice": "a"})
    factories.make_task(db, project, "normal", ["A", "B"])
    for _ in range(3):
        assert _answer(client, db, project, good, lambda b: {"choice": "a"}) is not None
        assert _answer(client, db, project, bad, lambda b: {"choice": "b"}) is not None
    member = db.get(Member, (project.id, bad.id))
    assert (
        member is not None
        and member.paused_at is not None
        and "gold accuracy 0%" in (member.paused_reason or "")
    )
    assert db.get(Member, (project.id, good.id)).paused_at is None  # type: ignore[union-attr]
    assert _answer(client, db, project, bad, lambda b: {"choice": "a"}) is None  # paused: nothing served
    notice = db.scalars(select(AuditEvent).where(AuditEvent.action == "member.paused")).one()
    assert notice.target_id == str(bad.id)
    csrf = sign_in(client, lead.id)
    dash = client.get(f"/projects/{project.id}/dashboard")
    assert "Paused annotators" in dash.text and "gold accuracy 0%" in dash.text
    r = client.post(f"/projects/{project.id}/members/{bad.id}/resume", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert _answer(client, db, project, bad, lambda b: {"choice": "a"}) is not None


def test_stats_figures(client: TestClient, db: Session) -> None:
    project, lead, (careful, lefty, rusher, other) = _project(db, overlap=3, min_seconds_per_task=2)
    tasks = [factories.make_task(db, project, f"P{i}", [f"A{i}", f"B{i}"]) for i in range(30)]
    for task in tasks:
        db.add(Suggestion(task_id=task.id, kind="judge", result={"choice": "a", "rationale": "r"}, model="j"))
    db.flush()

    def answer(user: User, task: Any, choice: str, order: list[str], ms: int) -> None:
        ann = factories.make_annotation(db, task, user, {"choice": choice})
        ann.lead_time_ms = ms
        lease = db.get(factories.Assignment, ann.assignment_id)
        lease.order = order  # type: ignore[union-attr]

    for i, task in enumerate(tasks):
        answer(careful, task, "a", ["a", "b"] if i % 2 else ["b", "a"], 6000)  # shown first half the time
        answer(other, task, "a" if i % 5 else "b", ["a", "b"], 9000)
        answer(
            lefty, task, "a" if i % 2 else "b", ["a", "b"] if i % 2 else ["b", "a"], 5000
        )  # always the left one
    for task in tasks[:12]:
        answer(rusher, task, "b", ["a", "b"], 300)
    db.flush()
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    stats = client.get(f"/api/v1/projects/{project.id}/stats?refresh=true", headers=headers).json()
    by = {a["user_id"]: a for a in stats["annotators"]}
    assert stats["progress"]["annotations"] == 102 and stats["progress"]["annotators"] == 4
    assert (
        by[lefty.id]["position_bias"]["share_first"]["value"] == 1.0
        and "position bias" in by[lefty.id]["flags"]
    )
    assert "position bias" not in by[careful.id]["flags"]
    assert "fast" in by[rusher.id]["flags"] and by[rusher.id]["fast_share"] == 1.0
    assert by[careful.id]["judge_agreement"]["value"] == 1.0 and by[careful.id]["judge_agreement"]["n"] == 30
    assert by[careful.id]["name"].startswith("annotator-")  # pseudonymous by default
    agreement = stats["agreement"]
    assert agreement["sample_units"] == 30
    assert -1 <= agreement["alpha_nominal"]["value"] <= 1 and agreement["alpha_nominal"]["n"] == 30
    assert (
        agreement["alpha_ordinal"]["low"]
        <= agreement["alpha_ordinal"]["value"]
        <= agreement["alpha_ordinal"]["high"]
    )
    assert stats["time"]["counts"][0] == 12  # the rusher's answers are under 2 s
    assert sum(d["annotations"] for d in stats["throughput"]) == 102
    again = client.get(f"/api/v1/projects/{project.id}/stats", headers=headers).json()
    assert again["cached"] is True and again["computed_at"] == stats["computed_at"]

    mine = client.get(
        f"/api/v1/projects/{project.id}/my-stats",
        headers={"Authorization": f"Bearer {factories.make_token(db, lefty)}"},
    ).json()
    assert mine["me"]["user_id"] == lefty.id and "annotators" not in mine  # nobody else's figures
    sign_in(client, lefty.id)
    page = client.get(f"/projects/{project.id}/me")
    assert page.status_code == 200 and "My gold accuracy" in page.text and "position bias" in page.text
    sign_in(client, lead.id)
    dash = client.get(f"/projects/{project.id}/dashboard")
    assert dash.status_code == 200 and dash.text.count('<rect class="bar"') >= 2
    assert "Krippendorff" in dash.text and "significant" in dash.text


def test_quality_export_leaves_flagged_annotators_out(db: Session, tmp_path: Any) -> None:
    from app.exports import service
    from app.exports.schemas import ExportRequest
    from app.quality.weights import weight_of

    project, _, (good1, good2, rusher, _) = _project(db, overlap=3, min_seconds_per_task=2)
    for i in range(12):
        task = factories.make_task(db, project, f"P{i}", [f"good {i}", f"bad {i}"])
        for user, choice, ms in (
            (good1, "a", 8000),
            (good2, "a" if i % 4 else "b", 7000),
            (rusher, "b", 200),
        ):
            ann = factories.make_annotation(db, task, user, {"choice": choice})
            ann.lead_time_ms = ms
    db.flush()
    request = ExportRequest.model_validate(
        {"format": "preference", "split": {"test": 0}, "aggregation": {"mode": "quality"}}
    )
    manifest = service.write_snapshot(
        db.connection(), project=project, request=request, directory=tmp_path / "q"
    )
    rows = (tmp_path / "q" / manifest["files"]["train"]["file"]).read_text().splitlines()
    # the fast one's "b" never counts; where the two careful ones disagree, neither outweighs the other
    assert len(rows) == 9 and all('"chosen":"good' in r for r in rows)
    assert manifest["dropped"] == {"no majority": 3}
    weights = manifest["annotator_weights"]
    assert sorted(w["weight"] > 0 for w in weights.values()) == [False, True, True]
    assert any("fast" in w["flags"] for w in weights.values())
    majority = ExportRequest.model_validate({"format": "preference", "split": {"test": 0}})
    plain = service.write_snapshot(
        db.connection(), project=project, request=majority, directory=tmp_path / "m"
    )
    wrong = [
        r
        for r in (tmp_path / "m" / plain["files"]["train"]["file"]).read_text().splitlines()
        if '"chosen":"bad' in r
    ]
    assert len(wrong) == 3  # naive majority: the rusher tips those three tasks to the bad response
    assert weight_of({"flags": [], "gold": {"value": 0.9, "n": 10}, "majority_agreement": None}) > 1.5


def test_the_figures_have_a_schema_in_openapi(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    stats = spec["paths"]["/api/v1/projects/{pid}/stats"]["get"]["responses"]["200"]["content"]
    assert stats["application/json"]["schema"]["$ref"].endswith("/StatsRead")
    assert schemas["StatsRead"]["properties"]["annotators"]["items"]["$ref"].endswith("/AnnotatorFigures")
    assert {"gold", "majority_agreement", "flags", "paused"} <= set(schemas["AnnotatorFigures"]["properties"])
    assert "me" in schemas["OwnFiguresRead"]["properties"]
    queue = spec["paths"]["/api/v1/projects/{pid}/review-queue"]["get"]
    assert {p["name"] for p in queue["parameters"]} >= {"cursor", "limit", "annotator", "label"}


def test_the_dashboard_counts_rewrites_and_measures_how_much_they_change(
    client: TestClient, db: Session
) -> None:
    project, lead, (one, two, _, _) = _project(db, overlap=2, edits="optional")
    tasks = [factories.make_task(db, project, f"P{i}", [f"Answer {i}", f"Other {i}"]) for i in range(4)]
    factories.make_annotation(db, tasks[0], one, {"choice": "a", "edits": {"a": "Answer 0!"}})  # distance 1
    factories.make_annotation(db, tasks[1], one, {"choice": "b", "edits": {"b": "Something else"}})
    factories.make_annotation(db, tasks[0], two, {"choice": "a"})
    factories.make_annotation(db, tasks[2], two, {"choice": "b"})
    db.flush()
    headers = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    stats = client.get(f"/api/v1/projects/{project.id}/stats?refresh=true", headers=headers).json()
    rewrites = stats["rewrites"]
    assert rewrites["answers"] == 2 and rewrites["tasks"] == 2 and rewrites["tasks_answered"] == 3
    assert rewrites["share_of_tasks"] == 2 / 3 and rewrites["measured"] == 2
    assert rewrites["median_distance"] == (1 + levenshtein("Other 1", "Something else")) / 2
    by = {a["user_id"]: a for a in stats["annotators"]}
    assert by[one.id]["rewrites"] == 2 and by[two.id]["rewrites"] == 0
    sign_in(client, lead.id)
    dash = client.get(f"/projects/{project.id}/dashboard")
    assert "<h2>Rewrites</h2>" in dash.text and "2 of 3 answered tasks have a rewrite (67%)" in dash.text
    rating = factories.make_project(db, kind="rating", lead=lead)
    assert (
        client.get(f"/api/v1/projects/{rating.id}/stats?refresh=true", headers=headers).json()["rewrites"]
        is None
    )
