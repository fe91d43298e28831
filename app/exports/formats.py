"""The columns and rows of one snapshot (DESIGN §6): the "raw" format here, the same for every kind; the
other formats are the project's kind's (app/kinds: export_columns, export_rows), in the shapes TRL's
trainers load unchanged.

The columns of a snapshot are fixed before the first row is written (Parquet needs one schema, and a
column that appears halfway through a JSONL file confuses `datasets`): `Shape` decides them from the
project and the request, and every row of the snapshot has exactly those columns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from app.core.security import pseudonym
from app.exports.images import SnapshotImages, image_file, place_images
from app.exports.schemas import ExportRequest
from app.kinds import KindBase
from app.kinds.messages import images_of, tools_of
from app.kinds.rows import Column, RowForm, as_text
from app.kinds.rows import as_messages as as_messages  # read from here by app.loop.scoring
from app.kinds.votes import Vote

# a chat message as TRL's chat templates read it (app.kinds.rows.export_message): fields it lacks are null
TOOL_CALL = pa.struct(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
    ]
)


def _messages(content: pa.DataType) -> pa.DataType:
    return pa.list_(
        pa.struct(
            [
                ("role", pa.string()),
                ("content", content),
                ("name", pa.string()),
                ("tool_calls", pa.list_(TOOL_CALL)),
                ("tool_call_id", pa.string()),
                ("reasoning_content", pa.string()),
            ]
        )
    )


MESSAGES = _messages(pa.string())
# the same in a project with images: content as TRL's typed parts, text null in an image part
CONTENT_PART = pa.struct([("type", pa.string()), ("text", pa.string())])
VISION_MESSAGES = _messages(pa.list_(CONTENT_PART))
# raw: nested records as JSON text, one column each, so any consumer can read them
RAW_SCHEMA = pa.schema(
    [
        ("task_id", pa.int64()),
        ("external_id", pa.string()),
        ("prompt", pa.string()),
        ("responses", pa.string()),
        ("gold", pa.string()),
        ("meta", pa.string()),
        ("annotations", pa.string()),
        ("reviews", pa.string()),
        ("suggestions", pa.string()),
    ]
)


@dataclass(slots=True)
class TaskRecord:
    id: int
    external_id: str | None
    prompt: Any
    responses: list[dict[str, Any]]
    gold: Any
    votes: list[Vote] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # raw format, and tools where the rows carry them
    # raw format only: every annotation, review and suggestion as stored
    annotations: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)


def prompt_key(prompt: Any) -> str:
    """What the split hashes: the prompt's text, so one prompt lands on one side whatever its tasks."""
    return as_text(prompt)


def file_type(column: Column, *, chat: bool, vision: bool = False) -> pa.DataType:
    """A kind's column as Parquet stores it; "text" is a message list in chat form, whose content is typed
    parts in a project with images (`vision`)."""
    if column == "messages" or (column == "text" and chat):
        return VISION_MESSAGES if vision else MESSAGES
    if column == "text":
        return pa.string()
    return _FILE_TYPES[column]


_FILE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "messages": MESSAGES,
    "float": pa.float64(),
    "bool": pa.bool_(),
    "strings": pa.list_(pa.string()),
    "bools": pa.list_(pa.bool_()),
}


@dataclass(slots=True)
class Shape:
    """One snapshot's columns and rows: "raw" is the same for every kind, the other formats are the
    kind's own (Kind.export_columns / export_rows)."""

    kind: KindBase
    request: ExportRequest
    chat: bool
    settings: dict[str, Any] = field(default_factory=dict)
    project_id: int = 0
    tools: bool = False  # rows carry their task's tool schemas, JSON text in a `tools` column
    # rows name their task's images (an `images` column) and the snapshot holds the files (app/exports/images)
    images: SnapshotImages | None = None
    form: RowForm = field(init=False)
    _columns: list[tuple[str, Column]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.form = RowForm(options=self.request.aggregation, chat=self.chat, settings=self.settings)
        if self.request.format != "raw":
            self._columns = self.kind.export_columns(self.request.format, self.form)

    # --- schema ---------------------------------------------------------------------------------
    def schema(self) -> pa.Schema:
        fmt = self.request.format
        if fmt == "raw":
            return RAW_SCHEMA
        columns = list(self._columns)
        if self.tools and all(name != "tools" for name, _ in columns):
            columns.append(("tools", "string"))
        vision = self.images is not None
        if vision:
            columns.append(("images", "strings"))
        return pa.schema(
            [(name, file_type(column, chat=self.chat, vision=vision)) for name, column in columns]
        )

    # --- rows -----------------------------------------------------------------------------------
    def rows(self, task: TaskRecord, dropped: Counter[str]) -> list[dict[str, Any]]:
        fmt = self.request.format
        if fmt == "raw":
            if self.images is not None and (why := self.images.problem(images_of(task.meta))):
                dropped[why] += 1
                return []
            return [self._raw(task)]
        if not task.votes:
            dropped["no annotations"] += 1
            return []
        rows = self.kind.export_rows(fmt, task, self.form, dropped)
        if self.tools and rows and "tools" not in rows[0]:
            tools = tools_of(task.meta)
            text = orjson.dumps(tools).decode() if tools else None
            rows = [row | {"tools": text} for row in rows]
        if self.images is not None and rows:
            rows = self._with_images(self.images, task, rows, dropped)
        return rows

    def _with_images(
        self, files: SnapshotImages, task: TaskRecord, rows: list[dict[str, Any]], dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """Each row with its messages' content as typed parts and the images its placeholders take; a row
        whose image file cannot be brought into the snapshot is left out (counted by why)."""
        refs = images_of(task.meta)
        chat_columns = [n for n, c in self._columns if c == "messages" or (c == "text" and self.chat)]
        text_columns = [n for n, c in self._columns if c == "string" or (c == "text" and not self.chat)]
        out = []
        for row in rows:
            placed, used = place_images(row, chat_columns, text_columns, refs)
            if (why := files.problem(used)) is not None:
                dropped[why] += 1
                continue
            out.append(placed | {"images": [image_file(ref) for ref in used]})
        return out

    def sources(self) -> tuple[str, ...]:
        """Where rows come from ("choice", "edit"), for the manifest's rows_by_source; () for raw rows and
        kinds without rewrites."""
        fmt = self.request.format
        return () if fmt == "raw" else self.kind.export_sources(fmt, self.form)

    def pseudonym(self, user_id: int | None) -> str | None:
        return pseudonym(self.project_id, user_id)

    def _raw(self, task: TaskRecord) -> dict[str, Any]:
        def text(value: Any) -> str:
            return orjson.dumps(value).decode()

        annotations = [{**a, "annotator": self.pseudonym(a.pop("user_id", None))} for a in task.annotations]
        reviews = [{**r, "reviewer": self.pseudonym(r.pop("reviewer_id", None))} for r in task.reviews]
        return {
            "task_id": task.id,
            "external_id": task.external_id,
            "prompt": text(task.prompt),
            "responses": text(task.responses),
            "gold": text(task.gold) if task.gold is not None else None,
            "meta": text(task.meta),
            "annotations": text(annotations),
            "reviews": text(reviews),
            "suggestions": text(task.suggestions),
        }
