"""Exports of tasks with images: rows name their images as files inside the snapshot (`images`, paths
relative to its directory, in placeholder order), chat-form messages carry TRL's typed content parts with
the images where the `<image>` placeholders were, the files are in the snapshot once each with their
sha256 in the manifest, and a row whose image file is gone is left out and counted."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.exports import service
from app.exports.schemas import ExportRequest
from app.exports.writers import sha256_of
from app.media.images import path_of
from app.models import Project, Role, Task, User
from tests import factories
from tests.conftest import sign_in

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

Ref = dict[str, Any]


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


IMAGE_PART = {"type": "image"}


def _content(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's parts, the nulls a Parquet struct fills in left out (JSONL has none)."""
    return [{k: v for k, v in part.items() if v is not None} for part in message["content"]]


def _with_images(db: Session, task: Task, refs: list[Ref]) -> Task:
    task.meta = {**(task.meta or {}), "images": refs}
    db.flush()
    return task


class Images:
    """Three distinct images stored in the data dir and linked to the project, as an import leaves them."""

    def __init__(self, db: Session, project: Project, seed: int) -> None:
        c = (seed * 37) % 200
        self.png = factories.make_image(db, project, factories.image_bytes("PNG", (40, 30), (c, 10, 20)))
        self.jpg = factories.make_image(db, project, factories.image_bytes("JPEG", (64, 48), (20, c, 200)))
        self.other = factories.make_image(db, project, factories.image_bytes("PNG", (8, 8), (90, 90, c)))


def _project(db: Session, kind: str, seed: int) -> tuple[Project, User, Images]:
    project, _, annotator, images = _project_and_lead(db, kind, seed)
    return project, annotator, images


def _project_and_lead(db: Session, kind: str, seed: int) -> tuple[Project, User, User, Images]:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, kind=kind, lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    return project, lead, annotator, Images(db, project, seed)


TWO_IMAGES = [
    {"role": "system", "content": "Look closely."},
    {"role": "user", "content": "Compare <image> with <image>, please."},
]


def _tasks(db: Session, project: Project, annotator: User, images: Images, kind: str) -> None:
    """One image before a plain-string prompt; two inside a user message after a system one; none."""
    prompts: list[tuple[Any, list[Ref]]] = [
        ("<image>What is shown?", [images.png]),
        (TWO_IMAGES, [images.other, images.jpg]),
        ("A question without pictures?", []),
    ]
    for i, (prompt, refs) in enumerate(prompts):
        if kind == "sft":
            task = factories.make_task(db, project, prompt, [{"id": "draft", "text": "a draft"}])
            factories.make_annotation(db, task, annotator, {"response": f"Answer {i}."})
        else:
            task = factories.make_task(db, project, prompt, [f"Good {i}.", f"Bad {i}."])
            factories.make_annotation(db, task, annotator, {"choice": "a"})
        if refs:
            _with_images(db, task, refs)


def _export(db: Session, project: Project, where: Path, **request: Any) -> dict[str, Any]:
    req = ExportRequest.model_validate({"split": {"test": 0}, **request})
    return service.write_snapshot(db.connection(), project=project, request=req, directory=where)


def _load(where: Path, manifest: dict[str, Any]) -> Any:
    from datasets import load_dataset

    path = where / manifest["files"]["train"]["file"]
    return load_dataset(
        "parquet" if path.suffix == ".parquet" else "json", data_files=str(path), split="train"
    )


def _file(ref: Ref) -> str:
    return f"images/{ref['sha256']}.{ {'image/png': 'png', 'image/jpeg': 'jpg'}[ref['type']] }"


def _assert_files(where: Path, manifest: dict[str, Any], refs: list[Ref]) -> None:
    """The snapshot holds exactly these images, once each, and the manifest's sha256 is their bytes'."""
    listed = {f["file"]: f for f in manifest["images"]}
    assert set(listed) == {_file(r) for r in refs} and manifest["image_count"] == len(refs)
    assert {p.name for p in (where / "images").iterdir()} == {_file(r).split("/")[1] for r in refs}
    for ref in refs:
        f = listed[_file(ref)]
        data = (where / f["file"]).read_bytes()
        assert f["sha256"] == ref["sha256"] == sha256_of(where / f["file"])
        assert f["bytes"] == len(data) == ref["bytes"]
        assert data == path_of(ref["sha256"]).read_bytes()


def _decoded(where: Path, data: Any) -> Any:
    """The `images` column as `datasets` Image features, the paths made absolute (they are relative to the
    snapshot directory)."""
    from datasets import Image, Sequence

    absolute = data.map(lambda row: {"images": [str(where / p) for p in row["images"]]})
    return absolute.cast_column("images", Sequence(Image()))


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_a_preference_export_names_its_images_and_holds_their_files(
    db: Session, tmp_path: Path, file_format: str
) -> None:
    project, annotator, images = _project(db, "pairwise", seed=1 + (file_format == "parquet"))
    _tasks(db, project, annotator, images, "pairwise")
    where = tmp_path / "pref"
    manifest = _export(db, project, where, format="preference", file_format=file_format)
    assert manifest["chat"] is True  # images put a plain-string project in chat form: TRL reads them there
    assert manifest["columns"][-1] == "images" and manifest["counts"] == {"train": 3}
    data = _load(where, manifest)
    one, two, none = data[0], data[1], data[2]

    assert one["images"] == [_file(images.png)]
    assert [(m["role"], _content(m)) for m in one["prompt"]] == [
        ("user", [IMAGE_PART, _text("What is shown?")])
    ]
    assert _content(one["chosen"][0]) == [_text("Good 0.")]
    assert _content(one["rejected"][0]) == [_text("Bad 0.")]

    assert two["images"] == [_file(images.other), _file(images.jpg)]  # placeholder order
    assert [_content(m) for m in two["prompt"]] == [
        [_text("Look closely.")],
        [_text("Compare "), IMAGE_PART, _text(" with "), IMAGE_PART, _text(", please.")],
    ]

    assert none["images"] == []  # a task without images in the same project: text parts only
    assert _content(none["prompt"][0]) == [_text("A question without pictures?")]
    assert _content(none["chosen"][0]) == [_text("Good 2.")]

    _assert_files(where, manifest, [images.png, images.other, images.jpg])
    loaded = _decoded(where, data)
    assert [im.size for im in loaded[1]["images"]] == [(8, 8), (64, 48)] and loaded[2]["images"] == []


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_an_sft_export_of_image_tasks_in_messages_and_in_plain_text(
    db: Session, tmp_path: Path, file_format: str
) -> None:
    project, annotator, images = _project(db, "sft", seed=3 + (file_format == "parquet"))
    _tasks(db, project, annotator, images, "sft")
    manifest = _export(
        db, project, tmp_path / "sft", format="sft", file_format=file_format, aggregation={"mode": "all"}
    )
    data = _load(tmp_path / "sft", manifest)
    assert data.column_names == ["messages", "images"]
    assert [(m["role"], _content(m)) for m in data[0]["messages"]] == [
        ("user", [IMAGE_PART, _text("What is shown?")]),
        ("assistant", [_text("Answer 0.")]),
    ]
    assert data[1]["images"] == [_file(images.other), _file(images.jpg)]
    assert _content(data[1]["messages"][1])[2] == _text(" with ")
    assert data[2]["images"] == [] and _content(data[2]["messages"][1]) == [_text("Answer 2.")]
    _assert_files(tmp_path / "sft", manifest, [images.png, images.other, images.jpg])
    assert [im.size for im in _decoded(tmp_path / "sft", data)[0]["images"]] == [(40, 30)]

    # plain text (LLaMA-Factory's layout): the placeholders stay in the text, the images column is there
    plain = _export(
        db,
        project,
        tmp_path / "plain",
        format="sft",
        file_format=file_format,
        aggregation={"mode": "all", "sft_style": "prompt_completion", "chat": "never"},
    )
    rows = _load(tmp_path / "plain", plain)
    assert rows.column_names == ["prompt", "completion", "images"]
    assert rows[0]["prompt"] == "<image>What is shown?" and rows[0]["images"] == [_file(images.png)]
    assert "Compare <image> with <image>, please." in rows[1]["prompt"]
    assert rows[1]["images"] == [_file(images.other), _file(images.jpg)] and rows[2]["images"] == []
    _assert_files(tmp_path / "plain", plain, [images.png, images.other, images.jpg])


def test_a_plain_text_preference_export_keeps_the_placeholders(db: Session, tmp_path: Path) -> None:
    project, annotator, images = _project(db, "pairwise", seed=5)
    _tasks(db, project, annotator, images, "pairwise")
    manifest = _export(db, project, tmp_path / "p", format="preference", aggregation={"chat": "never"})
    rows = [json.loads(line) for line in (tmp_path / "p" / "train.jsonl").read_text().splitlines()]
    assert manifest["chat"] is False
    assert [(r["prompt"], r["chosen"], r["images"]) for r in rows[:1]] == [
        ("<image>What is shown?", "Good 0.", [_file(images.png)])
    ]
    assert rows[1]["prompt"].count("<image>") == 2 and rows[2]["images"] == []


def test_a_row_whose_image_file_is_missing_is_left_out_and_counted(db: Session, tmp_path: Path) -> None:
    project, annotator, images = _project(db, "pairwise", seed=6)
    _tasks(db, project, annotator, images, "pairwise")
    path_of(images.jpg["sha256"]).unlink()  # the second task's second image is gone from the data dir
    manifest = _export(db, project, tmp_path / "pref", format="preference", file_format="parquet")
    assert manifest["dropped"] == {"image file missing": 1} and manifest["counts"] == {"train": 2}
    data = _load(tmp_path / "pref", manifest)
    assert data["images"] == [[_file(images.png)], []]
    _assert_files(tmp_path / "pref", manifest, [images.png])  # not the dropped row's other image either

    raw = _export(db, project, tmp_path / "raw", format="raw")
    assert raw["dropped"] == {"image file missing": 1} and raw["counts"] == {"train": 2}
    assert "images" not in raw["columns"]
    rows = [json.loads(line) for line in (tmp_path / "raw" / "train.jsonl").read_text().splitlines()]
    assert json.loads(rows[0]["meta"])["images"] == [images.png]  # raw keeps the refs as stored
    _assert_files(tmp_path / "raw", raw, [images.png])


def test_a_project_without_images_exports_as_before(db: Session, tmp_path: Path) -> None:
    lead, annotator = factories.make_user(db), factories.make_user(db)
    project = factories.make_project(db, kind="pairwise", lead=lead)
    task = factories.make_task(db, project, "Plain?", ["a", "b"])
    factories.make_annotation(db, task, annotator, {"choice": "a"})
    manifest = _export(db, project, tmp_path / "p", format="preference")
    assert manifest["chat"] is False and "images" not in manifest and "images" not in manifest["columns"]
    assert not (tmp_path / "p" / "images").exists()


def test_an_image_snapshot_downloads_and_shows_its_split_files(client: TestClient, db: Session) -> None:
    project, lead, annotator, images = _project_and_lead(db, "pairwise", seed=7)
    _tasks(db, project, annotator, images, "pairwise")
    snapshot = factories.make_snapshot(db, project, lead)
    directory = service.snapshot_dir(project.id, snapshot.version)
    assert service.file_for(snapshot, "train") == directory / "train.jsonl"
    assert (directory / _file(images.jpg)).read_bytes() == path_of(images.jpg["sha256"]).read_bytes()
    assert snapshot.manifest["image_count"] == 3 and set(snapshot.manifest["files"]) == {"train"}
    sign_in(client, lead.id)
    page = client.get(f"/snapshots/{snapshot.id}")
    assert page.status_code == 200 and snapshot.manifest["files"]["train"]["sha256"] in page.text
    download = client.get(f"/snapshots/{snapshot.id}/download/train")
    assert download.status_code == 200
    rows = [json.loads(line) for line in download.text.splitlines()]
    assert rows[0]["images"] == [_file(images.png)]


def test_the_whole_image_snapshot_downloads_as_one_zip_that_trains_as_it_is(
    client: TestClient, db: Session
) -> None:
    import io
    import zipfile

    project, lead, annotator, images = _project_and_lead(db, "pairwise", seed=8)
    _tasks(db, project, annotator, images, "pairwise")
    snapshot = factories.make_snapshot(db, project, lead)
    sign_in(client, lead.id)
    page = client.get(f"/snapshots/{snapshot.id}")
    assert (
        f'href="/snapshots/{snapshot.id}/archive"' in page.text and "3 images beside the files" in page.text
    )
    got = client.get(f"/snapshots/{snapshot.id}/archive")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        names = set(archive.namelist())
        rows = [json.loads(line) for line in archive.read("train.jsonl").splitlines()]
        for row in rows:  # every path a row names is in the archive, with the bytes the manifest says
            for name in row["images"]:
                assert name in names
        for image in snapshot.manifest["images"]:
            assert hashlib.sha256(archive.read(image["file"])).hexdigest() == image["sha256"]
        assert json.loads(archive.read("manifest.json"))["image_count"] == 3


def test_training_refuses_an_image_snapshot_and_says_what_to_do(db: Session) -> None:
    from app.core.errors import InvalidInput
    from app.training.schemas import TrainingRequest
    from app.training.service import start_training

    project, lead, annotator, images = _project_and_lead(db, "pairwise", seed=9)
    _tasks(db, project, annotator, images, "pairwise")
    snapshot = factories.make_snapshot(db, project, lead, format="preference")
    request = TrainingRequest.model_validate(
        {"snapshot_id": snapshot.id, "method": "dpo", "base_model": str(factories.model_dir())}
    )
    with pytest.raises(InvalidInput, match="holds images, and Preflab's trainers take text models only"):
        start_training(db, request=request, user=lead)
