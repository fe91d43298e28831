"""Images in tasks, from import to the page: a .zip of a JSONL and the image files its rows name (the
LLaMA-Factory layout), or data URIs; each image is decoded to prove it is one, stored once under its hash
and served to the project's members only. A missing, unreadable, oversized or fake image, a zip bomb or a
path out of the archive answers 422 naming the row and the file, and nothing is imported."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.media.images import path_of
from app.models import ProjectImage, Role, Task
from tests import factories
from tests.conftest import sign_in

PNG = factories.image_bytes("PNG", (40, 30), (10, 120, 200))
JPEG = factories.image_bytes("JPEG", (64, 48), (230, 200, 20))


def _row(i: int, images: list[str], text: str = "<image>Which caption fits this picture?") -> dict[str, Any]:
    return {
        "external_id": f"img-{i}",
        "messages": [{"role": "user", "content": text}],
        "images": images,
        "responses": [f"A red square {i}", f"A blue circle {i}"],
    }


def _zip(rows: list[dict[str, Any]], files: dict[str, bytes], name: str = "data/rows.jsonl") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, "\n".join(json.dumps(r) for r in rows))
        for path, data in files.items():
            z.writestr(path, data)
    return out.getvalue()


def _post(client: TestClient, auth: dict[str, str], pid: int, body: bytes, name: str = "set.zip") -> Any:
    return client.post(f"/api/v1/projects/{pid}/imports", headers=auth, files={"file": (name, body)})


@pytest.fixture
def lead_auth(db: Session) -> tuple[Any, dict[str, str]]:
    lead = factories.make_user(db)
    return lead, {"Authorization": f"Bearer {factories.make_token(db, lead)}"}


def test_a_zip_of_rows_and_images_imports_and_members_see_them(
    client: TestClient, db: Session, lead_auth: tuple[Any, dict[str, str]]
) -> None:
    lead, auth = lead_auth
    project = factories.make_project(db, kind="pairwise", lead=lead)
    body = _zip(
        [
            _row(0, ["images/a.png"]),
            _row(1, ["images/b.jpg", "images/a.png"], "<image> or <image>: which is warmer?"),
        ],
        {"data/images/a.png": PNG, "data/images/b.jpg": JPEG},
    )
    r = _post(client, auth, project.id, body)
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 2
    first, second = db.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
    (ref,) = first.meta["images"]
    assert ref["type"] == "image/png" and (ref["width"], ref["height"]) == (40, 30)
    assert [i["type"] for i in second.meta["images"]] == ["image/jpeg", "image/png"]
    assert second.meta["images"][1]["sha256"] == ref["sha256"]  # one file for one image, whatever its rows
    assert path_of(ref["sha256"]).read_bytes() == PNG
    linked = db.scalars(select(ProjectImage.sha256).where(ProjectImage.project_id == project.id)).all()
    assert len(linked) == 2

    annotator, outsider = factories.make_user(db), factories.make_user(db)
    factories.add_member(db, project, annotator, Role.annotator)
    sign_in(client, annotator.id)
    page = client.get(f"/projects/{project.id}/annotate").text
    src = f"/projects/{project.id}/images/{ref['sha256']}"
    assert f'data-full="{src}"' in page and 'alt="Image 1 of the task"' in page
    served = client.get(src)
    assert served.status_code == 200 and served.content == PNG
    assert (
        served.headers["content-type"] == "image/png"
        and served.headers["x-content-type-options"] == "nosniff"
    )
    sign_in(client, outsider.id)
    assert client.get(src).status_code == 404  # not a member: as if it did not exist
    other = factories.make_project(db, kind="pairwise", lead=outsider)
    assert client.get(f"/projects/{other.id}/images/{ref['sha256']}").status_code == 404  # not that project's


def test_data_uris_import_without_a_zip_and_get_their_placeholder(
    client: TestClient, db: Session, lead_auth: tuple[Any, dict[str, str]]
) -> None:
    lead, auth = lead_auth
    project = factories.make_project(db, kind="sft", lead=lead)
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    row = {"prompt": "Describe the picture.", "images": [uri]}
    r = _post(client, auth, project.id, json.dumps(row).encode(), name="rows.jsonl")
    assert r.status_code == 201, r.text
    task = db.scalars(select(Task).where(Task.project_id == project.id)).one()
    assert task.prompt == "<image>Describe the picture."  # given without one, the image goes first (as TRL)
    assert task.meta["images"][0]["bytes"] == len(PNG)


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("rows.jsonl", json.dumps(_row(0, ["a.png"])))
        z.writestr("a.png", b"\0" * (30 * 2**20))  # 30 MB of zeros in a few KB
    return out.getvalue()


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({}, 'image 1 ("images/a.png") names the image "images/a.png", which is not in the .zip'),
        ({"data/images/a.png": b"this is text, not a picture"}, "is not an image Preflab can read"),
        ({"data/images/a.png": PNG[: len(PNG) // 2]}, "is not a readable image"),
        ({"data/images/a.png": factories.image_bytes("BMP")}, "is a BMP image; use PNG, JPEG, WebP or GIF"),
    ],
    ids=["missing", "not-an-image", "truncated", "bmp"],
)
def test_a_bad_image_names_its_row_and_file_and_nothing_is_imported(
    client: TestClient,
    db: Session,
    lead_auth: tuple[Any, dict[str, str]],
    files: dict[str, bytes],
    words: str,
) -> None:
    lead, auth = lead_auth
    project = factories.make_project(db, kind="pairwise", lead=lead)
    good = {"data/images/b.png": PNG}
    body = _zip([_row(0, ["images/b.png"]), _row(1, ["images/a.png"])], {**good, **files})
    r = _post(client, auth, project.id, body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["line"] == 2 and words in error["message"], error
    assert db.scalars(select(Task).where(Task.project_id == project.id)).first() is None
    assert db.scalars(select(ProjectImage).where(ProjectImage.project_id == project.id)).first() is None


def test_hostile_archives_and_limits_are_refused(
    client: TestClient, db: Session, lead_auth: tuple[Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, auth = lead_auth
    project = factories.make_project(db, kind="pairwise", lead=lead)
    bomb = _post(client, auth, project.id, _bomb())
    assert bomb.status_code == 422 and "zip bomb" in bomb.json()["errors"][0]["message"]
    escape = _zip([_row(0, ["../../etc/passwd"])], {"../../etc/passwd": PNG}, name="rows.jsonl")
    r = _post(client, auth, project.id, escape)
    assert r.status_code == 422 and "outside the archive" in r.json()["errors"][0]["message"]
    two = _zip([_row(0, ["a.png"])], {"a.png": PNG, "more.jsonl": b"{}"}, name="rows.jsonl")
    r = _post(client, auth, project.id, two)
    assert r.status_code == 422 and "exactly one rows file" in r.json()["errors"][0]["message"]
    mismatch = _zip([_row(0, ["a.png"], "<image> and <image>?")], {"a.png": PNG}, name="rows.jsonl")
    r = _post(client, auth, project.id, mismatch)
    assert (
        r.status_code == 422
        and '2 "<image>" placeholders but "images" lists 1' in r.json()["errors"][0]["message"]
    )
    pixels = _zip([_row(0, ["a.png"])], {"a.png": factories.pixel_bomb()}, name="rows.jsonl")
    r = _post(client, auth, project.id, pixels)
    assert r.status_code == 422 and "PREFLAB_MAX_IMAGE_PIXELS" in r.json()["errors"][0]["message"], r.text
    monkeypatch.setenv("PREFLAB_MAX_IMAGE_MB", "0.001")
    from app.core.config import get_settings

    get_settings.cache_clear()
    try:
        big = _zip(
            [_row(0, ["a.png"])], {"a.png": factories.image_bytes("PNG", (400, 400))}, name="rows.jsonl"
        )
        r = _post(client, auth, project.id, big)
        assert r.status_code == 422 and "PREFLAB_MAX_IMAGE_MB" in r.json()["errors"][0]["message"]
    finally:
        monkeypatch.delenv("PREFLAB_MAX_IMAGE_MB")
        get_settings.cache_clear()
    assert db.scalars(select(Task).where(Task.project_id == project.id)).first() is None
