"""TRL is the real client of an export: every format's file loads with `datasets` and `pyarrow`, and the
matching TRL trainer runs two steps on it unchanged, on a tiny random model built here (no hub)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session

from app.exports import service
from app.exports.schemas import ExportRequest
from app.models import Project, Role, User
from tests import factories

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

WORDS = ["the cat reads a story today", "a robot builds clear code", "my friend paints a map", "no", "yes"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlcore.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def people(db: Session) -> Iterator[tuple[User, User]]:
    yield factories.make_user(db), factories.make_user(db)


def _common(tmp: Path) -> dict[str, Any]:
    return {
        "output_dir": str(tmp / "out"),
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "use_cpu": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "max_length": 64,
    }


def _project(db: Session, kind: str, lead: User, annotator: User, chat: bool, **settings: Any) -> Project:
    project = factories.make_project(db, kind=kind, lead=lead, settings=settings)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(8):
        prompt: Any = f"Question {i}: {WORDS[i % 3]}?"
        if chat and i % 2:
            prompt = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": prompt}]
        if kind == "sft":
            task = factories.make_task(db, project, prompt, [{"id": "draft", "text": "a draft"}])
            factories.make_annotation(db, task, annotator, {"response": f"{WORDS[i % 5]} {i}"})
        else:
            task = factories.make_task(
                db, project, prompt, [f"{WORDS[i % 5]} {i}", f"{WORDS[(i + 1) % 5]} {i}"]
            )
            result: dict[str, Any] = {"choice": "a" if i % 3 else "b", "strength": i % 4}
            if settings.get("edits", "off") != "off" and i % 2:  # every other annotator rewrote their pick
                result["edits"] = {result["choice"]: f"{WORDS[(i + 2) % 3]}, and more {i}"}
            factories.make_annotation(db, task, annotator, result)
    return project


def _export(db: Session, project: Project, where: Path, **request: Any) -> list[Path]:
    req = ExportRequest.model_validate({"split": {"test": 0}, **request})
    manifest = service.write_snapshot(db.connection(), project=project, request=req, directory=where)
    return [where / f["file"] for f in manifest["files"].values()]


def _load(path: Path) -> Any:
    """Both readers the issue names: datasets (the trainers' loader) and pyarrow."""
    from datasets import load_dataset

    if path.suffix == ".parquet":
        assert pq.read_table(path).num_rows > 0
        return load_dataset("parquet", data_files=str(path), split="train")
    assert pa_json.read_json(path).num_rows > 0
    return load_dataset("json", data_files=str(path), split="train")


def _trained(trainer: Any) -> None:
    result = trainer.train()
    assert trainer.state.global_step == 2
    assert result.training_loss == result.training_loss  # a number, not NaN


def _trains_sft(tiny: Path, data: Any, out: Path, max_length: int = 256) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**{**_common(out), "max_length": max_length})
    model = AutoModelForCausalLM.from_pretrained(tiny)
    _trained(
        SFTTrainer(
            model=model, args=args, train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny)
        )
    )


def _trains_dpo(tiny: Path, data: Any, out: Path, max_length: int = 256) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**{**_common(out), "max_length": max_length})
    model = AutoModelForCausalLM.from_pretrained(tiny)
    _trained(
        DPOTrainer(
            model=model, args=args, train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny)
        )
    )


@pytest.mark.parametrize("chat", [False, True], ids=["standard", "chat"])
def test_preference_trains_reward_and_dpo(
    db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path, chat: bool
) -> None:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    project = _project(db, "pairwise", *people, chat=chat)
    (path,) = _export(
        db, project, tmp_path / "pref", format="preference", file_format="parquet" if chat else "jsonl"
    )
    data = _load(path)
    assert "margin" in data.column_names and len(data) >= 4
    tokenizer = AutoTokenizer.from_pretrained(tiny)

    reward_model = AutoModelForSequenceClassification.from_pretrained(tiny, num_labels=1)
    reward = RewardTrainer(
        model=reward_model, args=RewardConfig(**_common(tmp_path / "rm")), train_dataset=data,
        processing_class=tokenizer,
    )  # fmt: skip
    _trained(reward)

    policy = AutoModelForCausalLM.from_pretrained(tiny)
    dpo = DPOTrainer(
        model=policy,
        args=DPOConfig(**_common(tmp_path / "dpo")),
        train_dataset=data,
        processing_class=tokenizer,
    )
    _trained(dpo)


def test_dpo_trains_on_rewrite_rows(
    db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path
) -> None:

    project = _project(db, "pairwise", *people, chat=False, edits="optional")
    (path,) = _export(db, project, tmp_path / "pref", format="preference")
    data = _load(path)
    assert data.column_names[-1] == "source" and set(data["source"]) == {"choice", "edit"}
    _trains_dpo(tiny, data, tmp_path / "dpo", max_length=64)


@pytest.mark.parametrize("style", ["messages", "prompt_completion"])
def test_sft_trains(db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path, style: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    project = _project(db, "sft", *people, chat=style == "messages")
    (path,) = _export(
        db, project, tmp_path / "sft", format="sft", aggregation={"mode": "all", "sft_style": style}
    )
    data = _load(path)
    assert data.column_names == (["messages"] if style == "messages" else ["prompt", "completion"])
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny),
        args=SFTConfig(**_common(tmp_path), assistant_only_loss=style == "messages"),
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(tiny),
    )
    _trained(trainer)


def test_kto_trains(db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    project = _project(db, "pairwise", *people, chat=False)
    (path,) = _export(db, project, tmp_path / "kto", format="kto", gzip=False)
    data = _load(path)
    assert set(data["label"]) == {True, False}
    trainer = KTOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny),
        args=KTOConfig(**_common(tmp_path)),
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(tiny),
    )
    _trained(trainer)


def test_classification_and_raw_load(db: Session, people: tuple[User, User], tmp_path: Path) -> None:
    lead, annotator = people
    project = factories.make_project(db, kind="classification", lead=lead, settings={"labels": ["x", "y"]})
    for i in range(4):
        task = factories.make_task(db, project, f"text {i}", [])
        factories.make_annotation(db, task, annotator, {"labels": ["x" if i % 2 else "y"]})
    for file_format in ("jsonl", "parquet"):
        (path,) = _export(
            db, project, tmp_path / f"c-{file_format}", format="classification", file_format=file_format
        )
        data = _load(path)
        assert data.column_names == ["text", "label"] and sorted(data["label"]) == ["x", "x", "y", "y"]
        (raw,) = _export(db, project, tmp_path / f"r-{file_format}", format="raw", file_format=file_format)
        assert len(_load(raw)) == 4


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather now in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _agent_prompt(i: int) -> list[dict[str, Any]]:
    call = {
        "id": f"c{i}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": f"c{i}"}},
    }
    return [
        {"role": "user", "content": f"Is it warm in city {i}?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "I need the weather.",
            "tool_calls": [call],
        },
        {
            "role": "tool",
            "tool_call_id": f"c{i}",
            "name": "get_weather",
            "content": f'{{"temp_c": {20 + i}}}',
        },
    ]


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_sft_with_tools_trains_with_the_calls_and_schemas_in_the_template(
    db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path, file_format: str
) -> None:
    """Tool calls, their results and the task's tool schemas reach the chat template unchanged: the text SFT
    trains on names the function and its arguments, and the schemas come from the `tools` column."""
    import json

    from transformers import AutoTokenizer

    lead, annotator = people
    project = factories.make_project(db, kind="sft", lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(4):
        task = factories.make_task(db, project, _agent_prompt(i), [], tools=[WEATHER_TOOL])
        factories.make_annotation(db, task, annotator, {"response": f"Yes, {20 + i} degrees."})
    (path,) = _export(
        db, project, tmp_path / "sft", format="sft", file_format=file_format, aggregation={"mode": "all"}
    )
    data = _load(path)
    assert data.column_names == ["messages", "tools"]
    first = data[0]
    call = first["messages"][1]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"c0"}'}  # JSON text, one type
    assert first["messages"][1]["reasoning_content"] == "I need the weather."
    assert (
        first["messages"][2]["tool_call_id"] == "c0" and first["messages"][3]["content"] == "Yes, 20 degrees."
    )
    assert json.loads(first["tools"]) == [WEATHER_TOOL]

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    text = tokenizer.apply_chat_template(first["messages"], tools=json.loads(first["tools"]), tokenize=False)
    assert '<tool_call>get_weather {"city":"c0"}</tool_call>' in text and '"description"' in text
    _trains_sft(tiny, data, tmp_path)


def test_dpo_trains_on_a_pairwise_export_with_tools(
    db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path
) -> None:
    import json

    lead, annotator = people
    project = factories.make_project(db, kind="pairwise", lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(4):
        task = factories.make_task(
            db,
            project,
            _agent_prompt(i),
            [f"It is {20 + i} °C: warm.", "I cannot know."],
            tools=[WEATHER_TOOL],
        )
        factories.make_annotation(db, task, annotator, {"choice": "a"})
    (path,) = _export(db, project, tmp_path / "pref", format="preference", file_format="parquet")
    data = _load(path)
    assert "tools" in data.column_names and json.loads(data[0]["tools"]) == [WEATHER_TOOL]
    assert data[0]["prompt"][1]["tool_calls"][0]["function"]["name"] == "get_weather"
    _trains_dpo(tiny, data, tmp_path / "dpo")


def test_sft_demonstrations_that_call_tools_train_with_the_edited_calls(
    db: Session, people: tuple[User, User], tiny: Path, tmp_path: Path
) -> None:
    """A conversation imported before its closing reply ends on the agent's call: the annotator corrects
    that call (its arguments edited as JSON), and the export's demonstration is the corrected call, after
    the context, the draft not repeated; the chat template renders the edited call and SFT trains on it."""
    import json

    from transformers import AutoTokenizer

    lead, annotator = people
    project = factories.make_project(db, kind="sft", lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(4):
        task = factories.make_task(db, project, _agent_prompt(i)[:2], [], tools=[WEATHER_TOOL])
        edited = {"name": "get_weather", "arguments": {"city": f"edited {i}"}}
        factories.make_annotation(db, task, annotator, {"response": "Checking.", "tool_calls": [edited]})
    (path,) = _export(db, project, tmp_path / "sft", format="sft", file_format="parquet")
    data = _load(path)
    assert data.column_names == ["messages", "tools"]
    first = data[0]
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]  # the draft is not repeated
    demonstration = first["messages"][1]
    assert demonstration["content"] == "Checking."
    call = demonstration["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"edited 0"}'}

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    text = tokenizer.apply_chat_template(first["messages"], tools=json.loads(first["tools"]), tokenize=False)
    assert '<tool_call>get_weather {"city":"edited 0"}</tool_call>' in text and '"city":"c0"' not in text
    _trains_sft(tiny, data, tmp_path)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlcore.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


def _image_project(db: Session, kind: str, lead: User, annotator: User) -> Project:
    """Four tasks with an image (a plain-string prompt, or a user message) and one without."""
    project = factories.make_project(db, kind=kind, lead=lead)
    factories.add_member(db, project, annotator, Role.annotator)
    for i in range(5):
        prompt: Any = f"Describe <image> in a word, {i}."
        if i % 2:
            prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]
        if i == 4:
            prompt = "A question without a picture?"
        if kind == "sft":
            task = factories.make_task(db, project, prompt, [{"id": "draft", "text": "a draft"}])
            factories.make_annotation(db, task, annotator, {"response": f"{WORDS[i % 5]} {i}"})
        else:
            task = factories.make_task(db, project, prompt, [f"{WORDS[i % 5]} {i}", f"{WORDS[(i + 1) % 5]}"])
            factories.make_annotation(db, task, annotator, {"choice": "a"})
        if i < 4:
            data = factories.image_bytes("PNG", (24 + 8 * i, 20 + i), (40 * i, 90, 160))
            task.meta = {**(task.meta or {}), "images": [factories.make_image(db, project, data)]}
    db.flush()
    return project


def _with_image_files(path: Path, data: Any) -> Any:
    """The `images` column's paths (relative to the snapshot directory) as decoded images."""
    from datasets import Image, Sequence

    absolute = data.map(lambda row: {"images": [str(path.parent / p) for p in row["images"]]})
    return absolute.cast_column("images", Sequence(Image()))


def test_a_vision_model_trains_sft_and_dpo_on_image_exports(
    db: Session, people: tuple[User, User], tiny_vlm: Path, tmp_path: Path
) -> None:
    """TRL's vision path reads the exports unchanged: the typed parts' image placeholders are filled from
    the `images` column (trl.data_utils.prepare_multimodal_messages) and the processor turns each into the
    model's image tokens; a row without images trains beside them."""
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    processor = AutoProcessor.from_pretrained(tiny_vlm)
    sft_project = _image_project(db, "sft", *people)
    (sft_path,) = _export(db, sft_project, tmp_path / "sft", format="sft", aggregation={"mode": "all"})
    sft_data = _with_image_files(sft_path, _load(sft_path))
    assert sft_data.column_names == ["messages", "images"] and len(sft_data) == 5
    assert sft_data[0]["images"][0].size == (24, 20) and sft_data[4]["images"] == []
    trainer = SFTTrainer(
        model=AutoModelForImageTextToText.from_pretrained(tiny_vlm),
        args=SFTConfig(**{**_common(tmp_path / "vsft"), "max_length": 256}),
        train_dataset=sft_data,
        processing_class=processor,
    )
    batch = trainer.data_collator([sft_data[1]])  # the image reaches the model: pixels and its 4 tokens
    assert tuple(batch["pixel_values"].shape) == (1, 3, 16, 16)
    assert int((batch["input_ids"] == processor.tokenizer.convert_tokens_to_ids("<image>")).sum()) == 4
    _trained(trainer)

    pref_project = _image_project(db, "pairwise", *people)
    (pref_path,) = _export(db, pref_project, tmp_path / "pref", format="preference", file_format="parquet")
    pref_data = _with_image_files(pref_path, _load(pref_path))
    assert pref_data[1]["prompt"][1]["content"][1]["type"] == "image"
    dpo = DPOTrainer(
        model=AutoModelForImageTextToText.from_pretrained(tiny_vlm),
        args=DPOConfig(**{**_common(tmp_path / "vdpo"), "max_length": 256}),
        train_dataset=pref_data,
        processing_class=processor,
    )
    _trained(dpo)
