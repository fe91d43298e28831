"""Rewrites in exports (edited ≻ chosen ≻ rejected), written from a real database: the edit rows of the
preference, kto and sft formats, which annotations' rewrites count in each aggregation mode, the
edit_pairs option, the `source` column and the manifest's rows_by_source — and projects without rewrites
exporting exactly as before."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput
from app.exports import service
from app.exports.formats import TaskRecord
from app.exports.schemas import Aggregation, ExportRequest
from app.kinds import get_kind, kind_of
from app.kinds.rows import RowForm
from app.kinds.votes import Vote
from app.models import Annotation, Project, Role, Task, User
from tests import factories
from tests.exports.test_snapshots import export, rows


@pytest.fixture
def team(db: Session) -> dict[str, User]:
    return {name: factories.make_user(db, name=name) for name in ("lead", "ann1", "ann2", "ann3", "rev")}


def project_of(db: Session, team: dict[str, User], kind: str = "pairwise", **settings: Any) -> Project:
    project = factories.make_project(
        db, kind=kind, lead=team["lead"], settings={"edits": "optional", **settings}
    )
    for name in ("ann1", "ann2", "ann3"):
        factories.add_member(db, project, team[name], Role.annotator)
    factories.add_member(db, project, team["rev"], Role.reviewer)
    return project


def answer(db: Session, task: Task, user: User, result: dict[str, Any]) -> Annotation:
    """An answer as the labeling API stores it: validated by the project's kind first."""
    project = db.get_one(Project, task.project_id)
    ids = [str(r["id"]) for r in task.responses]
    clean = kind_of(project).validate_result(project.settings, ids, result)
    return factories.make_annotation(db, task, user, clean)


def pairs(got: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["chosen"], r["rejected"], r["source"]) for r in got]


# --- preference ---------------------------------------------------------------------------------------


def test_a_pairwise_rewrite_ranks_above_both_responses(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Capital of France?", ["Paris.", "Lyon."])
    answer(db, task, team["ann1"], {"choice": "a", "strength": 2, "edits": {"a": "Paris, on the Seine."}})

    manifest = export(db, project, tmp_path / "s", format="preference")
    got = rows(tmp_path / "s", manifest)
    prompt, better = "Capital of France?", "Paris, on the Seine."
    assert got == [
        {"prompt": prompt, "chosen": "Paris.", "rejected": "Lyon.", "margin": 2.0, "source": "choice"},
        {"prompt": prompt, "chosen": better, "rejected": "Paris.", "margin": 0.0, "source": "edit"},
        {"prompt": prompt, "chosen": better, "rejected": "Lyon.", "margin": 0.0, "source": "edit"},
    ]
    assert manifest["columns"] == ["prompt", "chosen", "rejected", "margin", "source"]
    assert manifest["counts"] == {"train": 3}
    assert manifest["rows_by_source"] == {"choice": 1, "edit": 2}

    kept = export(db, project, tmp_path / "t", format="preference", aggregation={"ties": "keep"})
    assert kept["columns"] == ["prompt", "chosen", "rejected", "margin", "tie", "source"]
    assert [r["tie"] for r in rows(tmp_path / "t", kept)] == [False, False, False]


def test_a_tie_may_rewrite_either_response_and_still_gives_edit_rows(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Greet", ["hi", "hello"])
    answer(db, task, team["ann1"], {"choice": "tie", "edits": {"b": "Hello, nice to meet you."}})
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert pairs(rows(tmp_path / "s", manifest)) == [
        ("Hello, nice to meet you.", "hi", "edit"), ("Hello, nice to meet you.", "hello", "edit"),
    ]  # fmt: skip
    assert manifest["dropped"] == {"tie": 1}
    assert manifest["rows_by_source"] == {"choice": 0, "edit": 2}


def test_a_ranking_rewrite_ranks_above_each_of_the_k_responses(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team, kind="ranking", k=3)
    task = factories.make_task(db, project, "Rank these", ["one", "two", "three"])
    answer(db, task, team["ann1"], {"ranking": ["b", "c", "a"], "edits": {"b": "two, better"}})
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert pairs(rows(tmp_path / "s", manifest)) == [
        ("two", "one", "choice"), ("three", "one", "choice"), ("two", "three", "choice"),
        ("two, better", "one", "edit"), ("two, better", "two", "edit"), ("two, better", "three", "edit"),
    ]  # fmt: skip
    assert manifest["columns"] == ["prompt", "chosen", "rejected", "source"]  # a ranking knows no margin
    assert manifest["rows_by_source"] == {"choice": 3, "edit": 3}


def test_mode_all_takes_every_annotations_rewrite(db: Session, team: dict[str, User], tmp_path: Path) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    answer(db, task, team["ann1"], {"choice": "a", "edits": {"a": "A1"}})
    answer(db, task, team["ann2"], {"choice": "b", "edits": {"b": "B2"}})
    answer(db, task, team["ann3"], {"choice": "a"})

    every = export(db, project, tmp_path / "all", format="preference", aggregation={"mode": "all"})
    assert pairs(rows(tmp_path / "all", every)) == [
        ("A", "B", "choice"), ("B", "A", "choice"), ("A", "B", "choice"),
        ("A1", "A", "edit"), ("A1", "B", "edit"), ("B2", "A", "edit"), ("B2", "B", "edit"),
    ]  # fmt: skip
    # majority: one choice row, and the rewrites of every annotation the majority rests on
    majority = export(db, project, tmp_path / "maj", format="preference")
    assert pairs(rows(tmp_path / "maj", majority)) == [
        ("A", "B", "choice"),
        ("A1", "A", "edit"), ("A1", "B", "edit"), ("B2", "A", "edit"), ("B2", "B", "edit"),
    ]  # fmt: skip


def test_a_task_the_aggregate_leaves_out_gives_no_edit_rows(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    answer(db, task, team["ann1"], {"choice": "a", "edits": {"a": "A1"}})
    answer(db, task, team["ann2"], {"choice": "a"})
    for which in ("all", "edits"):
        manifest = export(
            db, project, tmp_path / which, format="preference",
            aggregation={"min_annotations": 3, "edit_pairs": which},
        )  # fmt: skip
        assert rows(tmp_path / which, manifest) == []
        assert manifest["dropped"] == {"fewer annotations than the minimum": 1}  # counted once


def test_reviewed_takes_the_reviewed_answers_rewrites_as_corrected(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    kept, removed = (factories.make_task(db, project, f"Q{i}?", [f"A{i}", f"B{i}"]) for i in (1, 2))
    # task 1: the reviewed answer's rewrite counts, the unreviewed one's does not
    answer(db, kept, team["ann1"], {"choice": "a", "edits": {"a": "A1 by ann1"}})
    accepted = answer(db, kept, team["ann2"], {"choice": "a", "edits": {"a": "A1 by ann2"}})
    factories.make_review(db, accepted, team["rev"], "accept")
    # task 2: the reviewer kept the choice and rejected the rewrite (the correction has none)
    corrected = answer(db, removed, team["ann1"], {"choice": "b", "edits": {"b": "B2, rewritten"}})
    factories.make_review(db, corrected, team["rev"], "correct", {"choice": "b"})

    manifest = export(db, project, tmp_path / "s", format="preference", aggregation={"mode": "reviewed"})
    assert pairs(rows(tmp_path / "s", manifest)) == [
        ("A1", "B1", "choice"), ("A1 by ann2", "A1", "edit"), ("A1 by ann2", "B1", "edit"),
        ("B2", "A2", "choice"),
    ]  # fmt: skip
    assert manifest["rows_by_source"] == {"choice": 2, "edit": 2}


def test_edit_pairs_chooses_the_choice_or_the_rewrite_rows(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    rewritten = factories.make_task(db, project, "Q1?", ["A1", "B1"])
    answer(db, rewritten, team["ann1"], {"choice": "b", "edits": {"b": "B1+"}})
    plain = factories.make_task(db, project, "Q2?", ["A2", "B2"])
    answer(db, plain, team["ann1"], {"choice": "a"})

    choices = export(db, project, tmp_path / "c", format="preference", aggregation={"edit_pairs": "choices"})
    assert pairs(rows(tmp_path / "c", choices)) == [("B1", "A1", "choice"), ("A2", "B2", "choice")]
    assert choices["columns"][-1] == "source"  # one schema for the project, whichever rows are asked for
    assert choices["rows_by_source"] == {"choice": 2, "edit": 0}

    edits = export(db, project, tmp_path / "e", format="preference", aggregation={"edit_pairs": "edits"})
    assert pairs(rows(tmp_path / "e", edits)) == [("B1+", "A1", "edit"), ("B1+", "B1", "edit")]
    assert edits["rows_by_source"] == {"choice": 0, "edit": 2}
    assert edits["dropped"] == {"no rewrite": 1}
    assert edits["tasks"]["exported"] == 1
    assert edits["aggregation"]["edit_pairs"] == "edits"


def test_a_rewrite_that_changes_nothing_is_left_out(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    same = factories.make_task(db, project, "Q1?", ["Keep me.", "Other."])
    answer(db, same, team["ann1"], {"choice": "a", "edits": {"a": "Keep me.\n"}})
    copied = factories.make_task(db, project, "Q2?", ["Short.", "Long and right."])
    answer(db, copied, team["ann1"], {"choice": "a", "edits": {"a": "Long and right."}})
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert pairs(rows(tmp_path / "s", manifest)) == [
        ("Keep me.", "Other.", "choice"), ("Short.", "Long and right.", "choice"),
        ("Long and right.", "Short.", "edit"),  # not over itself: a pair of equal texts teaches nothing
    ]  # fmt: skip
    assert manifest["dropped"] == {"rewrite unchanged": 1, "rewrite equals a response": 1}


def test_a_rewrite_by_an_annotator_quality_gives_no_weight_is_left_out() -> None:
    pairwise = get_kind("pairwise")
    settings = pairwise.validate_settings({"edits": "optional"})
    task = TaskRecord(1, None, "Q?", [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}], None)
    task.votes = [
        Vote(1, 101, {"choice": "a", "edits": {"a": "A, trusted"}}, reviewed=False, weight=1.5),
        Vote(2, 102, {"choice": "a", "edits": {"a": "A, flagged"}}, reviewed=False, weight=0.0),
    ]
    form = RowForm(options=Aggregation(mode="quality"), chat=False, settings=settings)
    dropped: Counter[str] = Counter()
    got = pairwise.export_rows("preference", task, form, dropped)
    assert pairs(got) == [("A", "B", "choice"), ("A, trusted", "A", "edit"), ("A, trusted", "B", "edit")]
    assert dropped == {"rewrite by an untrusted annotator": 1}


# --- kto and sft --------------------------------------------------------------------------------------


def labels(got: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    return [(r["completion"], r["label"], r["source"]) for r in got]


def test_kto_labels_the_rewrite_desirable_and_the_response_it_replaced_undesirable(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    answer(db, task, team["ann1"], {"choice": "a", "edits": {"a": "A+"}})
    expected = {
        # A's choice label (desirable) gives way to the rewrite's: no response is labeled both ways
        "all": [("B", False, "choice"), ("A+", True, "edit"), ("A", False, "edit")],
        "choices": [("A", True, "choice"), ("B", False, "choice")],
        "edits": [("A+", True, "edit"), ("A", False, "edit")],
    }
    for which, want in expected.items():
        manifest = export(db, project, tmp_path / which, format="kto", aggregation={"edit_pairs": which})
        assert labels(rows(tmp_path / which, manifest)) == want, which
        assert manifest["columns"] == ["prompt", "completion", "label", "source"]
        assert sum(manifest["rows_by_source"].values()) == len(want)


def test_kto_of_a_ranking_keeps_the_other_responses_choice_labels(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team, kind="ranking", k=3)
    task = factories.make_task(db, project, "Rank these", ["one", "two", "three"])
    answer(db, task, team["ann1"], {"ranking": ["b", "c", "a"], "edits": {"b": "two, better"}})
    answer(db, task, team["ann2"], {"ranking": ["b", "a", "c"], "edits": {"b": "two, improved"}})
    manifest = export(db, project, tmp_path / "s", format="kto")
    # both put b first: its choice label gives way to the rewrites'; a and c lost to b and keep theirs
    assert labels(rows(tmp_path / "s", manifest)) == [
        ("one", False, "choice"), ("three", False, "choice"),
        ("two, better", True, "edit"), ("two", False, "edit"), ("two, improved", True, "edit"),
    ]  # fmt: skip
    every = export(db, project, tmp_path / "all", format="kto", aggregation={"mode": "all"})
    assert labels(rows(tmp_path / "all", every)) == [
        ("one", False, "choice"), ("three", False, "choice"),  # each annotation's own labels, b's gone
        ("two, better", True, "edit"), ("two", False, "edit"),
        ("two, improved", True, "edit"), ("two", False, "edit"),
    ]  # fmt: skip


@pytest.mark.parametrize("style", ["messages", "prompt_completion"])
def test_sft_rows_are_the_rewrites_as_an_sft_project_writes_them(
    db: Session, team: dict[str, User], tmp_path: Path, style: str
) -> None:
    project = project_of(db, team)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    greeted = factories.make_task(db, project, chat, ["Hello.", "Go away."])
    answer(db, greeted, team["ann1"], {"choice": "a", "edits": {"a": "Hello! How can I help?"}})
    answer(db, greeted, team["ann2"], {"choice": "a"})
    plain = factories.make_task(db, project, "Plain?", ["yes", "no"])
    answer(db, plain, team["ann1"], {"choice": "b"})

    manifest = export(db, project, tmp_path / "s", format="sft", aggregation={"sft_style": style})
    # the same rows an sft project writes for that demonstration
    sft = factories.make_project(db, kind="sft", lead=team["lead"])
    factories.make_annotation(
        db, factories.make_task(db, sft, chat, [{"id": "draft", "text": "hey"}]), team["ann1"],
        {"response": "Hello! How can I help?"},
    )  # fmt: skip
    demonstrations = export(
        db, sft, tmp_path / "d", format="sft", aggregation={"sft_style": style, "mode": "all"}
    )
    assert rows(tmp_path / "s", manifest) == rows(tmp_path / "d", demonstrations)
    assert manifest["columns"] == demonstrations["columns"]
    assert manifest["rows_by_source"] == {"edit": 1}
    assert manifest["dropped"] == {"no rewrite": 1}
    if style == "messages":
        assert rows(tmp_path / "s", manifest)[0]["messages"][-1] == {
            "role": "assistant", "content": "Hello! How can I help?",
        }  # fmt: skip


# --- projects without rewrites ------------------------------------------------------------------------


def test_a_project_with_edits_off_exports_as_before(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team, edits="off")
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    answer(db, task, team["ann1"], {"choice": "a", "strength": 1})
    for fmt, columns in (
        ("preference", ["prompt", "chosen", "rejected", "margin"]),
        ("kto", ["prompt", "completion", "label"]),
    ):
        manifest = export(db, project, tmp_path / fmt, format=fmt)
        assert manifest["columns"] == columns and "rows_by_source" not in manifest
        assert all("source" not in row for row in rows(tmp_path / fmt, manifest))
    sft = export(db, project, tmp_path / "sft", format="sft")
    assert rows(tmp_path / "sft", sft) == [] and sft["dropped"] == {"no rewrite": 1}
    with pytest.raises(InvalidInput, match="takes no rewrites") as refused:
        export(db, project, tmp_path / "x", format="preference", aggregation={"edit_pairs": "edits"})
    assert refused.value.extra == {"field": "aggregation.edit_pairs"}


def test_rewrites_left_from_before_edits_were_turned_off_are_counted_not_written(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = project_of(db, team)
    task = factories.make_task(db, project, "Q?", ["A", "B"])
    answer(db, task, team["ann1"], {"choice": "a", "edits": {"a": "A+"}})
    project.settings = kind_of(project).validate_settings({**project.settings, "edits": "off"})
    db.flush()
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert rows(tmp_path / "s", manifest) == [{"prompt": "Q?", "chosen": "A", "rejected": "B", "margin": 0.0}]
    assert manifest["dropped"] == {"rewrite while the project's edits setting is off": 1}


def test_rating_exports_are_unchanged_and_refuse_edit_pairs(
    db: Session, team: dict[str, User], tmp_path: Path
) -> None:
    project = factories.make_project(db, kind="rating", lead=team["lead"], settings={"criteria": ["c"]})
    task = factories.make_task(db, project, "Rate", ["good", "bad"])
    factories.make_annotation(db, task, team["ann1"], {"ratings": {"a": {"c": 5}, "b": {"c": 2}}})
    assert get_kind("rating").export_formats == ("preference", "kto", "raw")
    manifest = export(db, project, tmp_path / "s", format="preference")
    assert manifest["columns"] == ["prompt", "chosen", "rejected", "margin", "score_chosen", "score_rejected"]
    assert "rows_by_source" not in manifest
    assert rows(tmp_path / "s", manifest) == [
        {"prompt": "Rate", "chosen": "good", "rejected": "bad", "margin": 3.0, "score_chosen": 5.0,
         "score_rejected": 2.0},
    ]  # fmt: skip
    kto = export(db, project, tmp_path / "k", format="kto")
    assert kto["columns"] == ["prompt", "completion", "label"] and "rows_by_source" not in kto
    with pytest.raises(InvalidInput, match="this rating project takes no rewrites"):
        export(db, project, tmp_path / "x", format="preference", aggregation={"edit_pairs": "choices"})


def test_the_api_refuses_edit_pairs_where_there_are_no_rewrites(
    client: TestClient, db: Session, team: dict[str, User]
) -> None:
    rating = factories.make_project(db, kind="rating", lead=team["lead"])
    editable = project_of(db, team)
    auth = {"Authorization": f"Bearer {factories.make_token(db, team['lead'])}"}
    body = {"format": "preference", "aggregation": {"edit_pairs": "edits"}}
    refused = client.post(f"/api/v1/projects/{rating.id}/snapshots", headers=auth, json=body)
    assert refused.status_code == 422
    assert refused.json()["field"] == "aggregation.edit_pairs" and "leave edit_pairs at all" in refused.text
    taken = client.post(f"/api/v1/projects/{editable.id}/snapshots", headers=auth, json=body)
    assert taken.status_code == 202, taken.text


# --- through the service: the snapshot and its manifest on disk ---------------------------------------


def test_a_snapshot_of_a_project_with_rewrites_holds_all_three_pairs_and_counts_them(
    db: Session, team: dict[str, User]
) -> None:
    project = project_of(db, team)
    for i in range(4):
        task = factories.make_task(db, project, f"Q{i}?", [f"chosen {i}", f"rejected {i}"])
        result: dict[str, Any] = {"choice": "a", "strength": 1}
        if i % 2:
            result["edits"] = {"a": f"edited {i}"}
        answer(db, task, team["ann1"], result)
    request = ExportRequest.model_validate(
        {"format": "preference", "file_format": "parquet", "split": {"test": 0}}
    )
    snapshot = service.create_snapshot(db, project=project, user=team["lead"], request=request, queue=False)
    manifest = service.export_snapshot(db.connection(), snapshot, project, created_by="lead")
    snapshot.status, snapshot.manifest = "ready", manifest

    import pyarrow.parquet as pq

    path = service.file_for(snapshot, "train")
    table = pq.read_table(path)
    assert str(table.schema.field("source").type) == "string"
    got = {(r["chosen"].split()[0], r["rejected"].split()[0], r["source"]) for r in table.to_pylist()}
    assert got == {
        ("chosen", "rejected", "choice"),
        ("edited", "chosen", "edit"),
        ("edited", "rejected", "edit"),
    }
    stored = json.loads((path.parent / "manifest.json").read_text())
    assert stored["rows_by_source"] == {"choice": 4, "edit": 4} == manifest["rows_by_source"]
    assert stored["counts"] == {"train": 8} and stored["columns"][-1] == "source"
