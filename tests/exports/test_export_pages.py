"""The export pages: start a snapshot from the form, follow it, read its manifest, download, delete."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Job, Role, Snapshot
from tests import factories
from tests.conftest import sign_in


def _project(db: Session):  # type: ignore[no-untyped-def]
    lead = factories.make_user(db)
    annotator = factories.make_user(db)
    project = factories.make_project(db, kind="ranking", lead=lead, settings={"k": 3})
    factories.add_member(db, project, annotator, Role.annotator)
    task = factories.make_task(db, project, "Order these", ["x", "y", "z"])
    factories.make_annotation(db, task, annotator, {"ranking": ["c", "a", "b"]})
    return lead, annotator, project


def test_form_offers_the_kinds_formats_and_starts_a_snapshot(client: TestClient, db: Session) -> None:
    lead, annotator, project = _project(db)
    csrf = sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/exports")
    assert page.status_code == 200
    assert '<option value="preference"' in page.text and '<option value="kto"' in page.text
    assert '<option value="classification"' not in page.text  # not a format of a ranking project
    assert 'name="edit_pairs"' not in page.text  # its edits setting is off: no rewrites to choose
    assert "adjacent only" in page.text and annotator.email in page.text
    response = client.post(
        f"/projects/{project.id}/exports",
        data={"csrf_token": csrf, "format": "preference", "file_format": "parquet", "mode": "majority",
              "pairs": "adjacent", "test": "0.2", "seed": "4", "exclude_annotators": str(lead.id),
              "date_from": "2020-01-01"},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    snapshot = db.scalars(select(Snapshot).where(Snapshot.project_id == project.id)).one()
    assert (snapshot.version, snapshot.format, snapshot.file_format) == (1, "preference", "parquet")
    assert snapshot.aggregation["pairs"] == "adjacent" and snapshot.split == {
        "test": 0.2,
        "validation": 0.0,
        "seed": 4,
    }
    assert snapshot.filters["exclude_annotators"] == [lead.id]
    assert snapshot.filters["date_from"].startswith("2020-01-01T00:00:00")
    job = db.get(Job, snapshot.job_id)
    assert job is not None and job.kind == "export" and job.params["snapshot_id"] == snapshot.id
    listing = client.get(response.headers["location"])
    assert "v1" in listing.text and "queued" in listing.text
    assert 'hx-trigger="every 1s"' in listing.text  # the list refreshes while a snapshot is being written


def test_a_project_with_rewrites_offers_edit_pairs_and_the_form_passes_it(
    client: TestClient, db: Session
) -> None:
    lead = factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead, settings={"edits": "optional"})
    csrf = sign_in(client, lead.id)
    page = client.get(f"/projects/{project.id}/exports")
    assert 'name="edit_pairs"' in page.text and "rewrites only" in page.text
    response = client.post(
        f"/projects/{project.id}/exports",
        data={"csrf_token": csrf, "format": "kto", "mode": "majority", "edit_pairs": "edits"},
    )
    assert response.status_code == 303, response.text
    snapshot = db.scalars(select(Snapshot).where(Snapshot.project_id == project.id)).one()
    assert snapshot.aggregation["edit_pairs"] == "edits"


def test_bad_form_explains_and_creates_nothing(client: TestClient, db: Session) -> None:
    lead, _, project = _project(db)
    csrf = sign_in(client, lead.id)
    response = client.post(
        f"/projects/{project.id}/exports",
        data={"csrf_token": csrf, "format": "preference", "test": "0.7", "validation": "0.5"},
    )
    assert response.status_code == 422
    assert "test + validation must leave something for train" in response.text
    response = client.post(
        f"/projects/{project.id}/exports", data={"csrf_token": csrf, "format": "classification"}
    )
    assert (
        response.status_code == 422
        and "a ranking project exports as preference, kto, sft, raw" in response.text
    )
    response = client.post(
        f"/projects/{project.id}/exports",
        data={"csrf_token": csrf, "format": "preference", "edit_pairs": "choices"},
    )  # its edits setting is off
    assert response.status_code == 422 and "takes no rewrites" in response.text
    assert db.scalars(select(Snapshot)).all() == []


def test_snapshot_page_download_and_delete(client: TestClient, db: Session) -> None:
    lead, _, project = _project(db)
    snapshot = factories.make_snapshot(db, project, lead)
    csrf = sign_in(client, lead.id)
    page = client.get(f"/snapshots/{snapshot.id}")
    assert page.status_code == 200
    assert snapshot.manifest["files"]["train"]["sha256"] in page.text
    assert "1 of 1 annotations used" in page.text and "1 exported" in page.text
    download = client.get(f"/snapshots/{snapshot.id}/download/train")
    assert download.status_code == 200
    rows = [json.loads(line) for line in download.text.splitlines()]
    assert {(r["chosen"], r["rejected"]) for r in rows} == {("z", "x"), ("z", "y"), ("x", "y")}
    assert {r["prompt"] for r in rows} == {"Order these"}
    listing = client.get(f"/projects/{project.id}/exports")
    assert f'href="/snapshots/{snapshot.id}/download/train"' in listing.text
    deleted = client.post(f"/snapshots/{snapshot.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert client.get(f"/snapshots/{snapshot.id}/download/train").status_code == 404
    assert "deleted" in client.get(f"/projects/{project.id}/exports").text
