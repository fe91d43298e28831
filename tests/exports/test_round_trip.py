"""What Preflab exports it imports, and an export asked for with defaults only works for every kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.exports import service
from app.exports.schemas import ExportRequest
from app.kinds import KIND_NAMES, get_kind
from app.models import Role, Snapshot, Task
from tests import factories


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_classification_export_imports_back_with_its_labels_in_meta(
    client: TestClient, db: Session, tmp_path: Path, multi_label: bool
) -> None:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    settings = {"labels": ["spam", "ham", "promo"], "multi_label": multi_label}
    source = factories.make_project(db, kind="classification", lead=lead, settings=settings)
    factories.add_member(db, source, annotator, Role.annotator)
    answers = {"Buy now!!!": ["spam", "promo"] if multi_label else ["spam"], "See you at 6": ["ham"]}
    for text, labels in answers.items():
        task = factories.make_task(db, source, text, [])
        factories.make_annotation(db, task, annotator, {"labels": labels})
    request = ExportRequest.model_validate({"format": "classification", "split": {"test": 0}})
    manifest = service.write_snapshot(
        db.connection(), project=source, request=request, directory=tmp_path / "s"
    )
    exported = (tmp_path / "s" / manifest["files"]["train"]["file"]).read_bytes()

    target = factories.make_project(db, kind="classification", lead=lead, settings=settings)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    answer = client.post(
        f"/api/v1/projects/{target.id}/imports", headers=auth, files={"file": ("export.jsonl", exported)}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"imported": 2, "duplicates": 0}
    imported = db.scalars(select(Task).where(Task.project_id == target.id).order_by(Task.id)).all()
    key = "labels" if multi_label else "label"
    assert {t.prompt: t.meta[key] for t in imported} == {
        text: sorted(labels) if multi_label else labels[0] for text, labels in answers.items()
    }
    assert all(t.responses == [] and t.gold is None for t in imported)  # kept in meta, not made gold


EXPORTS = [(name, export_format) for name in KIND_NAMES for export_format in get_kind(name).export_formats]


@pytest.mark.parametrize(("kind", "export_format"), EXPORTS, ids=[f"{k}-{f}" for k, f in EXPORTS])
def test_a_snapshot_with_defaults_only_is_accepted_for_every_kind(
    client: TestClient, db: Session, kind: str, export_format: str
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind=kind, lead=lead)
    auth = {"Authorization": f"Bearer {factories.make_token(db, lead)}"}
    answer = client.post(
        f"/api/v1/projects/{project.id}/snapshots", headers=auth, json={"format": export_format}
    )
    assert answer.status_code == 202, answer.text
    snapshot = db.get_one(Snapshot, answer.json()["snapshot_id"])
    assert snapshot.aggregation["mode"] == get_kind(kind).default_aggregation  # stored as it will run
