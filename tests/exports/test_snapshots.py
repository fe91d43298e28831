"""Snapshots written from a real database (SQLite and PostgreSQL): formats, filters, aggregation, splits,
reproducibility, immutability and the manifest."""

from __future__ import annotations

import gzip
import hashlib
import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.exports import service
from app.exports.schemas import ExportRequest
from app.models import AuditEvent, Project, Role, Suggestion, User, utcnow
from tests import factories


def export(db: Session, project: Project, where: Path, **request: Any) -> dict[str, Any]:
    req = ExportRequest.model_validate({"split": {"test": 0}, **request})
    return service.write_snapshot(db.connection(), project=project, request=req, directory=where)


def rows(where: Path, manifest: dict[str, Any], split: str = "train") -> list[dict[str, Any]]:
    path = where / manifest["files"][split]["file"]
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def team(db: Session) -> dict[str, User]:
    return {name: factories.make_user(db, name=name) for name in ("lead", "ann1", "ann2", "ann3", "rev")}


def pairwise(db: Session, team: dict[str, User], **settings: Any) -> Project:
    project = factories.make_project(db, kind="pairwise", lead=team["lead"], settings=settings)
    for name in ("ann1", "ann2", "ann3"):
        factories.add_member(db, project, team[name], Role.annotator)
    factories.add_member(db, project, team["rev"], Role.reviewer)
    return project


def test_pairwise_preference_by_majority(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = pairwise(db, team)
    t1 = factories.make_task(db, project, "Capital of France?", ["Paris.", "Lyon."])
    t2 = factories.make_task(db, project, "2+2?", ["5", "4"])
    t3 = factories.make_task(db, project, "Split?", ["x", "y"])
    factories.make_task(db, project, "Nobody answered", ["p", "q"])
    for user, choice, strength in (("ann1", "a", 3), ("ann2", "a", 1), ("ann3", "b", 0)):
        factories.make_annotation(db, t1, team[user], {"choice": choice, "strength": strength})
    for user in ("ann1", "ann2"):
        factories.make_annotation(db, t2, team[user], {"choice": "b", "strength": 2})
    factories.make_annotation(db, t3, team["ann1"], {"choice": "a"})
    factories.make_annotation(db, t3, team["ann2"], {"choice": "b"})

    manifest = export(db, project, tmp_path / "s", format="preference")
    got = rows(tmp_path / "s", manifest)
    assert got == [
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon.", "margin": 2.0},
        {"prompt": "2+2?", "chosen": "4", "rejected": "5", "margin": 2.0},
    ]
    assert manifest["counts"] == {"train": 2}
    assert manifest["dropped"] == {"no annotations": 1, "no majority": 1}
    assert manifest["tasks"] == {"considered": 4, "exported": 2, "gold_left_out": 0}
    assert manifest["annotations"]["read"] == manifest["annotations"]["used"] == 7
    assert manifest["columns"] == ["prompt", "chosen", "rejected", "margin"]
    file = manifest["files"]["train"]
    assert file["sha256"] == hashlib.sha256((tmp_path / "s" / file["file"]).read_bytes()).hexdigest()


def test_chat_prompts_export_in_chat_form(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = pairwise(db, team)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    t1 = factories.make_task(db, project, chat, ["Hello.", "Go away."])
    t2 = factories.make_task(db, project, "Plain?", ["yes", "no"])
    factories.make_annotation(db, t1, team["ann1"], {"choice": "a"})
    factories.make_annotation(db, t2, team["ann1"], {"choice": "b"})
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert manifest["chat"] is True
    first, second = rows(tmp_path / "s", manifest)
    assert first["prompt"] == chat
    assert first["chosen"] == [{"role": "assistant", "content": "Hello."}]
    assert first["rejected"] == [{"role": "assistant", "content": "Go away."}]
    assert second["prompt"] == [{"role": "user", "content": "Plain?"}]  # one form per file
    plain = export(db, project, tmp_path / "p", format="preference", aggregation={"chat": "never"})
    assert rows(tmp_path / "p", plain)[0]["prompt"] == "System: Be brief.\n\nUser: Hi?"


def test_review_outcomes_and_filters(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = pairwise(db, team)
    tasks = [factories.make_task(db, project, f"Q{i}?", [f"a{i}", f"b{i}"]) for i in range(4)]
    accepted = factories.make_annotation(db, tasks[0], team["ann1"], {"choice": "a"})
    factories.make_review(db, accepted, team["rev"], "accept")
    rejected = factories.make_annotation(db, tasks[1], team["ann1"], {"choice": "a"})
    factories.make_review(db, rejected, team["rev"], "reject")
    corrected = factories.make_annotation(db, tasks[2], team["ann2"], {"choice": "a"})
    factories.make_review(db, corrected, team["rev"], "correct", {"choice": "b", "strength": 3})
    factories.make_annotation(db, tasks[3], team["ann3"], {"choice": "a"})

    everything = export(db, project, tmp_path / "all", format="preference")
    got = {r["prompt"]: r["chosen"] for r in rows(tmp_path / "all", everything)}
    assert got == {"Q0?": "a0", "Q2?": "b2", "Q3?": "a3"}  # rejected left out, the correction wins
    assert everything["annotations_left_out"] == {"rejected by a reviewer": 1}

    reviewed = export(db, project, tmp_path / "rev", format="preference", filters={"reviewed_only": True})
    assert {r["prompt"] for r in rows(tmp_path / "rev", reviewed)} == {"Q0?", "Q2?"}
    assert reviewed["annotations_left_out"] == {"not reviewed": 1, "rejected by a reviewer": 1}

    only = export(
        db, project, tmp_path / "only", format="preference", filters={"annotators": [team["ann2"].id]}
    )
    assert [r["prompt"] for r in rows(tmp_path / "only", only)] == ["Q2?"]
    without = export(
        db, project, tmp_path / "wo", format="preference", filters={"exclude_annotators": [team["ann1"].id]}
    )
    assert [r["prompt"] for r in rows(tmp_path / "wo", without)] == ["Q2?", "Q3?"]

    corrected.created_at = utcnow() - timedelta(days=10)
    db.flush()
    recent = export(
        db, project, tmp_path / "d", format="preference",
        filters={"date_from": (utcnow() - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    assert "Q2?" not in {r["prompt"] for r in rows(tmp_path / "d", recent)}


def test_gold_tasks_are_left_out_unless_asked(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = pairwise(db, team)
    gold = factories.make_task(db, project, "Gold?", ["right", "wrong"], gold={"choice": "a"})
    normal = factories.make_task(db, project, "Normal?", ["x", "y"])
    for task in (gold, normal):
        factories.make_annotation(db, task, team["ann1"], {"choice": "a"})
    default = export(db, project, tmp_path / "a", format="preference")
    assert [r["prompt"] for r in rows(tmp_path / "a", default)] == ["Normal?"]
    assert default["tasks"]["gold_left_out"] == 1
    included = export(db, project, tmp_path / "b", format="preference", filters={"include_gold": True})
    assert [r["prompt"] for r in rows(tmp_path / "b", included)] == ["Gold?", "Normal?"]


def _split_project(db: Session, team: dict[str, User]) -> Project:
    project = pairwise(db, team)
    for i in range(60):
        # every prompt twice, with other responses: a prompt-level split keeps both on one side
        for variant in ("x", "y"):
            task = factories.make_task(
                db, project, f"Prompt number {i}", [f"{variant}{i}a", f"{variant}{i}b"]
            )
            factories.make_annotation(db, task, team["ann1"], {"choice": "a", "strength": i % 4})
    return project


def test_split_keeps_each_prompt_on_one_side(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = _split_project(db, team)
    manifest = export(
        db, project, tmp_path / "s", format="preference", split={"test": 0.3, "validation": 0.2}
    )
    sides = {name: rows(tmp_path / "s", manifest, name) for name in ("train", "validation", "test")}
    prompts = {name: {r["prompt"] for r in got} for name, got in sides.items()}
    assert prompts["train"].isdisjoint(prompts["test"])
    assert prompts["train"].isdisjoint(prompts["validation"])
    assert prompts["test"].isdisjoint(prompts["validation"])
    assert sum(len(got) for got in sides.values()) == 120
    assert all(len(got) % 2 == 0 for got in sides.values())  # both tasks of a prompt together
    assert 8 <= len(prompts["test"]) <= 28 and 3 <= len(prompts["validation"]) <= 22
    other_seed = export(db, project, tmp_path / "o", format="preference", split={"test": 0.3, "seed": 7})
    assert {r["prompt"] for r in rows(tmp_path / "o", other_seed, "test")} != prompts["test"]


@pytest.mark.parametrize("file_format,gz", [("jsonl", False), ("jsonl", True), ("parquet", False)])
def test_same_seed_same_bytes(
    db: Session, team: dict[str, User], tmp_path: Path, file_format: str, gz: bool
) -> None:
    project = _split_project(db, team)
    request = {
        "format": "preference",
        "file_format": file_format,
        "gzip": gz,
        "split": {"test": 0.25, "seed": 3},
    }
    first = export(db, project, tmp_path / "1", **request)
    second = export(db, project, tmp_path / "2", **request)
    for split in ("train", "test"):
        assert first["files"][split]["sha256"] == second["files"][split]["sha256"]
        one = (tmp_path / "1" / first["files"][split]["file"]).read_bytes()
        assert one == (tmp_path / "2" / second["files"][split]["file"]).read_bytes()
    assert len(rows(tmp_path / "1", first, "test")) == first["counts"]["test"] > 0


def test_ranking_export_pairs_and_kto(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = factories.make_project(db, kind="ranking", lead=team["lead"], settings={"k": 3})
    task = factories.make_task(db, project, "Rank these", ["one", "two", "three"])
    factories.make_annotation(db, task, team["ann1"], {"ranking": ["b", "c", "a"]})
    full = export(db, project, tmp_path / "all", format="preference")
    assert [(r["chosen"], r["rejected"]) for r in rows(tmp_path / "all", full)] == [
        ("two", "one"), ("three", "one"), ("two", "three"),
    ]  # fmt: skip
    assert full["columns"] == ["prompt", "chosen", "rejected"]  # no margin is known for a ranking
    adjacent = export(db, project, tmp_path / "adj", format="preference", aggregation={"pairs": "adjacent"})
    assert len(rows(tmp_path / "adj", adjacent)) == 2
    kto = export(db, project, tmp_path / "kto", format="kto")
    assert rows(tmp_path / "kto", kto) == [
        {"prompt": "Rank these", "completion": "two", "label": True},
        {"prompt": "Rank these", "completion": "one", "label": False},
    ]


def test_rating_export_scores(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = factories.make_project(
        db, kind="rating", lead=team["lead"], settings={"criteria": ["c1", "c2"]}
    )
    task = factories.make_task(db, project, "Rate", ["good", "bad"])
    factories.make_annotation(
        db, task, team["ann1"], {"ratings": {"a": {"c1": 5, "c2": 4}, "b": {"c1": 1, "c2": 2}}}
    )
    factories.make_annotation(
        db, task, team["ann2"], {"ratings": {"a": {"c1": 4, "c2": 4}, "b": {"c1": 2, "c2": 2}}}
    )
    manifest = export(db, project, tmp_path / "s", format="preference", file_format="parquet")
    (row,) = rows(tmp_path / "s", manifest)
    assert row == {"prompt": "Rate", "chosen": "good", "rejected": "bad", "margin": 2.5,
                   "score_chosen": 4.25, "score_rejected": 1.75}  # fmt: skip


def test_classification_and_sft(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    cls = factories.make_project(
        db, kind="classification", lead=team["lead"], settings={"labels": ["spam", "ham"]}
    )
    task = factories.make_task(db, cls, "Buy now!!!", [])
    for user, label in (("ann1", "spam"), ("ann2", "spam"), ("ann3", "ham")):
        factories.make_annotation(db, task, team[user], {"labels": [label]})
    manifest = export(db, cls, tmp_path / "c", format="classification")
    assert rows(tmp_path / "c", manifest) == [{"text": "Buy now!!!", "label": "spam"}]
    with pytest.raises(InvalidInput, match="exports as classification, raw"):
        export(db, cls, tmp_path / "x", format="preference")

    sft = factories.make_project(db, kind="sft", lead=team["lead"])
    chat = [{"role": "user", "content": "Say hi"}]
    t_chat = factories.make_task(db, sft, chat, [{"id": "draft", "text": "hey"}])
    t_plain = factories.make_task(db, sft, "Say bye", [{"id": "draft", "text": "bye"}])
    factories.make_annotation(db, t_chat, team["ann1"], {"response": "Hi there!"})
    factories.make_annotation(db, t_plain, team["ann1"], {"response": "Goodbye."})
    messages = export(db, sft, tmp_path / "m", format="sft", aggregation={"mode": "all"})
    assert rows(tmp_path / "m", messages) == [
        {"messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi there!"}]},
        {"messages": [{"role": "user", "content": "Say bye"}, {"role": "assistant", "content": "Goodbye."}]},
    ]
    plain = export(
        db, sft, tmp_path / "p", format="sft", aggregation={"mode": "all", "sft_style": "prompt_completion"}
    )
    assert rows(tmp_path / "p", plain)[1] == {"prompt": "Say bye", "completion": "Goodbye."}
    with pytest.raises(InvalidInput, match="demonstrations are free text"):  # asked for by name: no default
        export(db, sft, tmp_path / "y", format="sft", aggregation={"mode": "majority"})


def test_raw_pseudonymizes_and_carries_everything(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = pairwise(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    ann = factories.make_annotation(db, task, team["ann1"], {"choice": "a", "rationale": "clearer"})
    factories.make_annotation(db, task, team["ann2"], {"choice": "b"})
    factories.make_review(db, ann, team["rev"], "accept")
    db.add(Suggestion(task_id=task.id, kind="judge", result={"choice": "a"}, model="judge-1", tokens_in=10))
    db.flush()
    for file_format in ("jsonl", "parquet"):
        manifest = export(db, project, tmp_path / file_format, format="raw", file_format=file_format)
        (row,) = rows(tmp_path / file_format, manifest)
        annotations = json.loads(row["annotations"])
        assert [a["result"]["choice"] for a in annotations] == ["a", "b"]
        names = {a["annotator"] for a in annotations}
        assert len(names) == 2 and all(n.startswith("annotator-") for n in names)
        text = json.dumps(row)
        for user in team.values():
            assert user.email not in text and f'"user_id": {user.id}' not in text
        (review,) = json.loads(row["reviews"])
        assert review["verdict"] == "accept" and review["reviewer"].startswith("annotator-")
        assert json.loads(row["suggestions"])[0]["model"] == "judge-1"
        assert json.loads(row["responses"])[0]["text"] == "A"


def test_snapshots_are_numbered_immutable_and_deletion_is_audited(
    db: Session, team: dict[str, User], committed_dir: Path
) -> None:
    project = pairwise(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    factories.make_annotation(db, task, team["ann1"], {"choice": "a"})
    request = ExportRequest(format="preference")
    first = service.create_snapshot(db, project=project, user=team["lead"], request=request, queue=False)
    manifest = service.export_snapshot(db.connection(), first, project, created_by="lead")
    first.status, first.manifest = "ready", manifest
    factories.make_annotation(
        db, factories.make_task(db, project, "Q2?", ["C", "D"]), team["ann1"], {"choice": "b"}
    )
    second = service.create_snapshot(db, project=project, user=team["lead"], request=request, queue=False)
    second_manifest = service.export_snapshot(db.connection(), second, project, created_by="lead")
    assert (first.version, second.version) == (1, 2)
    assert manifest["counts"]["train"] + manifest["counts"].get("test", 0) == 1
    assert second_manifest["counts"]["train"] + second_manifest["counts"].get("test", 0) == 2
    path = service.file_for(first, "train")
    assert path.parent.name == "v1" and stat.S_IMODE(path.stat().st_mode) == 0o444  # read-only
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["files"]["train"]["sha256"]
    stored = json.loads((path.parent / "manifest.json").read_text())
    assert stored["version"] == 1 and stored["created_by"] == "lead" and stored["preflab_version"]

    second.status = "running"
    with pytest.raises(Conflict):
        service.delete_snapshot(db, second, user=team["lead"])
    service.delete_snapshot(db, first, user=team["lead"], comment="wrong filter")
    assert first.status == "deleted" and first.deleted_at is not None and not path.exists()
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "snapshot.delete")).one()
    assert (
        event.target_id == str(first.id)
        and event.comment is None
        and event.details["comment"] == "wrong filter"
    )


@pytest.fixture
def committed_dir() -> Path:
    return service.snapshots_root()
