"""Rows of each export format (DESIGN §6), in the shapes TRL's trainers load unchanged:
preference → DPOTrainer / RewardTrainer, sft → SFTTrainer, kto → KTOTrainer.

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
from app.exports import aggregate
from app.exports.aggregate import Vote
from app.exports.schemas import ExportRequest
from app.models import ProjectKind

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@dataclass(slots=True)
class TaskRecord:
    id: int
    external_id: str | None
    prompt: Any
    responses: list[dict[str, Any]]
    gold: Any
    votes: list[Vote] = field(default_factory=list)
    # raw format only: every annotation, review and suggestion as stored
    annotations: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)


def as_messages(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, list):
        return [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in prompt]
    return [{"role": "user", "content": str(prompt)}]


def as_text(prompt: Any) -> str:
    """A message list flattened for plain-text consumers: 'Role: content' turns."""
    if not isinstance(prompt, list):
        return str(prompt)
    return "\n\n".join(f"{str(m.get('role', 'user')).capitalize()}: {m.get('content', '')}" for m in prompt)


def prompt_key(prompt: Any) -> str:
    """What the split hashes: the prompt's text, so one prompt lands on one side whatever its tasks."""
    return as_text(prompt)


@dataclass(slots=True)
class Shape:
    kind: ProjectKind
    request: ExportRequest
    chat: bool
    multi_label: bool = False
    project_id: int = 0

    @property
    def agg(self) -> aggregate.Aggregation:
        return self.request.aggregation

    @property
    def has_margin(self) -> bool:
        return self.kind in (ProjectKind.pairwise, ProjectKind.rating)

    @property
    def has_scores(self) -> bool:
        return self.kind is ProjectKind.rating

    @property
    def keeps_ties(self) -> bool:
        return self.agg.ties == "keep"

    @property
    def sft_messages(self) -> bool:
        style = self.agg.sft_style
        return style == "messages" or (style == "auto" and self.chat)

    # --- schema ---------------------------------------------------------------------------------
    def schema(self) -> pa.Schema:
        text = MESSAGES if self.chat else pa.string()
        fmt = self.request.format
        fields: list[tuple[str, pa.DataType]]
        if fmt == "preference":
            fields = [("prompt", text), ("chosen", text), ("rejected", text)]
            if self.has_margin:
                fields.append(("margin", pa.float64()))
            if self.has_scores:
                fields += [("score_chosen", pa.float64()), ("score_rejected", pa.float64())]
            if self.keeps_ties:
                fields.append(("tie", pa.bool_()))
        elif fmt == "kto":
            fields = [("prompt", text), ("completion", text), ("label", pa.bool_())]
        elif fmt == "sft":
            if self.sft_messages:
                fields = [("messages", MESSAGES)]
            else:
                fields = [("prompt", pa.string()), ("completion", pa.string())]
        elif fmt == "classification":
            fields = [("text", pa.string()), ("labels" if self.multi_label else "label", _label_type(self))]
        else:  # raw: nested records as JSON text, one column each, so any consumer can read them
            fields = [
                ("task_id", pa.int64()),
                ("external_id", pa.string()),
                ("prompt", pa.string()),
                ("responses", pa.string()),
                ("gold", pa.string()),
                ("annotations", pa.string()),
                ("reviews", pa.string()),
                ("suggestions", pa.string()),
            ]
        return pa.schema(fields)

    # --- rows -----------------------------------------------------------------------------------
    def prompt(self, prompt: Any) -> Any:
        return as_messages(prompt) if self.chat else as_text(prompt)

    def completion(self, text: str) -> Any:
        return [_assistant(text)] if self.chat else text

    def rows(self, task: TaskRecord, dropped: Counter[str]) -> list[dict[str, Any]]:
        fmt = self.request.format
        if fmt == "raw":
            return [self._raw(task)]
        if not task.votes:
            dropped["no annotations"] += 1
            return []
        if fmt == "classification":
            labels = aggregate.aggregate_labels(self.agg, task.votes, dropped)
            text = as_text(task.prompt)
            if self.multi_label:
                return [{"text": text, "labels": list(ls)} for ls in labels]
            return [{"text": text, "label": ls[0]} for ls in labels]
        if fmt == "sft":
            texts = aggregate.demonstrations(self.agg, task.votes, dropped)
            if self.sft_messages:
                return [{"messages": [*as_messages(task.prompt), _assistant(t)]} for t in texts]
            return [{"prompt": as_text(task.prompt), "completion": t} for t in texts]
        by_id = {str(r["id"]): str(r.get("text", "")) for r in task.responses}
        ids = list(by_id)
        if fmt == "kto":
            out = []
            groups = (
                [[v] for v in task.votes] if self.agg.mode == "all" else [task.votes]
            )  # 'all': each annotation labels its own responses
            for group in groups:
                pairs = aggregate.aggregate_pairs(self.kind, self.agg, ids, group, dropped)
                for rid, label in aggregate.kto_labels(pairs):
                    out.append(
                        {
                            "prompt": self.prompt(task.prompt),
                            "completion": self.completion(by_id[rid]),
                            "label": label,
                        }
                    )
            return out
        pairs = aggregate.aggregate_pairs(self.kind, self.agg, ids, task.votes, dropped)
        rows = []
        for pair in pairs:
            row: dict[str, Any] = {
                "prompt": self.prompt(task.prompt),
                "chosen": self.completion(by_id[pair.chosen]),
                "rejected": self.completion(by_id[pair.rejected]),
            }
            if self.has_margin:
                row["margin"] = pair.margin if pair.margin is not None else 0.0
            if self.has_scores:
                row["score_chosen"], row["score_rejected"] = pair.score_chosen, pair.score_rejected
            if self.keeps_ties:
                row["tie"] = pair.tie
            rows.append(row)
        return rows

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
            "annotations": text(annotations),
            "reviews": text(reviews),
            "suggestions": text(task.suggestions),
        }


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _label_type(shape: Shape) -> pa.DataType:
    return pa.list_(pa.string()) if shape.multi_label else pa.string()
