"""Export rows as the kinds write them, in the shapes TRL's trainers load unchanged: preference →
DPOTrainer / RewardTrainer, kto → KTOTrainer, sft → SFTTrainer, classification → a text classifier.

A kind names its columns (`Column`, mapped to file types by app.exports.formats) and builds its rows;
what is the same for every kind (chat or plain text, the aggregation asked for) comes in a `RowForm`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.kinds.messages import context_text, message_text, reasoning_of, tool_calls_of
from app.kinds.votes import AggregationOptions, Pair, Vote

# "text": a prompt or a completion in the export's form (a message list in chat form, else a string)
Column = Literal["text", "string", "messages", "float", "bool", "strings", "bools"]
Columns = list[tuple[str, Column]]


class ExportTask(Protocol):
    """One task as an export reads it (app.exports.formats.TaskRecord)."""

    @property
    def prompt(self) -> Any: ...
    @property
    def responses(self) -> list[dict[str, Any]]: ...
    @property
    def votes(self) -> list[Vote]: ...
    @property
    def meta(self) -> dict[str, Any]: ...


def export_message(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as TRL's chat templates read it: role and content, and where the message has them
    its name, tool calls (arguments as JSON text, as OpenAI sends them), tool_call_id and reasoning. Other
    keys a message came with (metadata) stay in the raw export."""
    out: dict[str, Any] = {
        "role": str(message.get("role", "user")),
        "content": str(message.get("content") or ""),
    }
    name, call_id = message.get("name"), message.get("tool_call_id")
    if isinstance(name, str) and name:
        out["name"] = name
    if calls := tool_calls_of(message):
        out["tool_calls"] = [call.as_json() for call in calls]
    if isinstance(call_id, str) and call_id:
        out["tool_call_id"] = call_id
    if reasoning := reasoning_of(message):
        out["reasoning_content"] = reasoning
    return out


def as_messages(prompt: Any) -> list[dict[str, Any]]:
    if isinstance(prompt, list):
        return [export_message(m) for m in prompt]
    return [{"role": "user", "content": str(prompt)}]


def as_text(prompt: Any) -> str:
    """A message list flattened for plain-text consumers: 'Role: content' turns (tool calls as
    `name(arguments)` lines)."""
    if not isinstance(prompt, list):
        return str(prompt)
    return context_text(prompt)


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


@dataclass(frozen=True, slots=True)
class RowForm:
    """What every kind's rows share in one snapshot: the aggregation asked for, chat or plain text, and
    the project's settings."""

    options: AggregationOptions
    chat: bool
    settings: Mapping[str, Any]

    @property
    def keeps_ties(self) -> bool:
        return self.options.ties == "keep"

    def prompt(self, prompt: Any) -> Any:
        return as_messages(prompt) if self.chat else as_text(prompt)

    def completion(self, text: str) -> Any:
        return [assistant(text)] if self.chat else text


def preference_columns(form: RowForm, *, margin: bool, scores: bool) -> Columns:
    columns: Columns = [("prompt", "text"), ("chosen", "text"), ("rejected", "text")]
    if margin:
        columns.append(("margin", "float"))
    if scores:
        columns += [("score_chosen", "float"), ("score_rejected", "float")]
    if form.keeps_ties:
        columns.append(("tie", "bool"))
    return columns


def response_texts(task: ExportTask) -> dict[str, str]:
    return {str(r["id"]): str(r.get("text", "")) for r in task.responses}


def preference_row(
    form: RowForm, prompt: Any, chosen: str, rejected: str, pair: Pair, *, margin: bool, scores: bool
) -> dict[str, Any]:
    """One row: `chosen` ≻ `rejected` (texts), with what `pair` knows of them in the columns asked for."""
    row: dict[str, Any] = {
        "prompt": form.prompt(prompt),
        "chosen": form.completion(chosen),
        "rejected": form.completion(rejected),
    }
    if margin:
        row["margin"] = pair.margin if pair.margin is not None else 0.0
    if scores:
        row["score_chosen"], row["score_rejected"] = pair.score_chosen, pair.score_rejected
    if form.keeps_ties:
        row["tie"] = pair.tie
    return row


def preference_rows(
    task: ExportTask, pairs: Sequence[Pair], form: RowForm, *, margin: bool, scores: bool
) -> list[dict[str, Any]]:
    texts = response_texts(task)
    return [
        preference_row(
            form, task.prompt, texts[pair.chosen], texts[pair.rejected], pair, margin=margin, scores=scores
        )
        for pair in pairs
    ]


KTO_COLUMNS: Columns = [("prompt", "text"), ("completion", "text"), ("label", "bool")]


def kto_row(form: RowForm, prompt: Any, completion: str, label: bool) -> dict[str, Any]:
    return {"prompt": form.prompt(prompt), "completion": form.completion(completion), "label": label}


def kto_rows(task: ExportTask, labels: Sequence[tuple[str, bool]], form: RowForm) -> list[dict[str, Any]]:
    """`labels`: (response id, desirable) pairs, as votes.kto_labels reads them off the kept pairs."""
    texts = response_texts(task)
    return [kto_row(form, task.prompt, texts[rid], label) for rid, label in labels]


def sft_messages(form: RowForm) -> bool:
    """SFT rows as one message list (chat form, or asked for) rather than prompt and completion."""
    style = form.options.sft_style
    return style == "messages" or (style == "auto" and form.chat)


def sft_columns(form: RowForm) -> Columns:
    if sft_messages(form):
        return [("messages", "messages")]
    return [("prompt", "string"), ("completion", "string")]


def sft_rows(
    prompt: Any, demonstrations: Sequence[str | Mapping[str, Any]], form: RowForm
) -> list[dict[str, Any]]:
    """A row per demonstration (a text, or an assistant message that may call tools): the prompt answered
    by it. As plain text a message's calls follow its text as `name(arguments)` lines."""
    said = [assistant(d) if isinstance(d, str) else dict(d) for d in demonstrations]
    if sft_messages(form):
        return [{"messages": [*as_messages(prompt), export_message(m)]} for m in said]
    return [{"prompt": as_text(prompt), "completion": message_text(m)} for m in said]
