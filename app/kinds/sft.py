"""SFT: the annotator writes (or corrects) the demonstration answer to a prompt: the next assistant turn,
its text, its tool calls (app/kinds/tool_schemas.py checks them against the task's tools), or both.

Result: `{"response": str, "tool_calls"?: [{"name": str, "arguments": object}]}`. Where a task's prompt ends
on an assistant message that calls tools and the task has no response (an agent conversation imported
before its closing reply), that message is the draft the annotator corrects, not part of the prompt."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import orjson

from app.core.errors import InvalidInput
from app.kinds.agreement import Unit
from app.kinds.base import MAX_TEXT, KindBase, fail
from app.kinds.edits import ACCEPTED, EDITED, REPLACED, levenshtein
from app.kinds.forms import FormFields, text_of
from app.kinds.messages import ToolCall, pretty_json, tool_calls_of, tools_of
from app.kinds.rows import Columns, ExportTask, RowForm, sft_columns, sft_rows
from app.kinds.settings import CommonSettings
from app.kinds.tool_schemas import MAX_CALLS, call_line, clean_tool_calls, tool_parameters
from app.kinds.votes import AggregationOptions, Vote, voters_of


class SftSettings(CommonSettings):
    kind: Literal["sft"] = "sft"
    show_draft_diff: bool = True


def demonstration_results(
    agg: AggregationOptions, votes: Sequence[Vote], dropped: Counter[str]
) -> list[dict[str, Any]]:
    """Every demonstration, or the reviewed one (else the latest) per task, as results."""
    if agg.mode == "all":
        return [v.result for v in votes]
    voters = voters_of(votes, agg)
    if isinstance(voters, str):
        dropped[voters] += 1
        return []
    return [max(voters, key=lambda v: v.annotation_id).result]


def demonstrations(agg: AggregationOptions, votes: Sequence[Vote], dropped: Counter[str]) -> list[str]:
    """The texts of demonstration_results."""
    return [str(r["response"]) for r in demonstration_results(agg, votes, dropped)]


def demonstration_message(result: dict[str, Any]) -> dict[str, Any]:
    """A demonstration as the assistant message it is (app/kinds/rows.export_message writes its calls the
    OpenAI way, arguments as compact JSON text)."""
    message: dict[str, Any] = {"role": "assistant", "content": str(result.get("response", ""))}
    if calls := result.get("tool_calls"):
        message["tool_calls"] = [
            {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls
        ]
    return message


def _clean(result: dict[str, Any], tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    calls = clean_tool_calls(result.get("tool_calls"), tools)
    response = result.get("response", "" if calls else None)
    if not isinstance(response, str) or not (response.strip() or calls):
        raise fail("response must be the demonstration text (it may be empty only beside a tool call)")
    if len(response) > MAX_TEXT:
        raise fail(f"response is longer than {MAX_TEXT} characters")
    if not calls:
        return {"response": response}
    return {"response": response if response.strip() else "", "tool_calls": calls}


def _call_field(key: str) -> bool:
    index = key.removeprefix("tool_name__")
    return key.startswith("tool_name__") and index.isdigit() and len(index) <= 4


class Sft(KindBase):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "sft"
    label = "SFT demonstrations"
    settings_model = SftSettings
    settings_fields: ClassVar[tuple[str, ...]] = ("show_draft_diff",)

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        """Without the task's tools at hand: a call's name is only checked to be given."""
        return _clean(result, None)

    def validate_answer(
        self,
        settings: dict[str, Any],
        responses: list[dict[str, Any]],
        result: dict[str, Any],
        prompt: Callable[[], Any],
        meta: Callable[[], dict[str, Any]] = lambda: {},
    ) -> dict[str, Any]:
        """Calls name one of the task's tools (where it has tool schemas) and follow its schema."""
        return _clean(result, tools_of(meta()) if result.get("tool_calls") else None)

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        """Fields response, and per call tool_name__<i> and tool_args__<i> (JSON text; empty: {})."""
        value = form.get("response")
        result: dict[str, Any] = {"response": value if isinstance(value, str) else ""}
        indexes = sorted(
            {int(k.removeprefix("tool_name__")) for k, _ in form.multi_items() if _call_field(k)}
        )[: MAX_CALLS + 1]  # one past the limit: validation then says what the limit is
        calls: list[dict[str, Any]] = []
        for i in indexes:
            name, text = text_of(form, f"tool_name__{i}"), text_of(form, f"tool_args__{i}")
            try:
                arguments = orjson.loads(text) if text else {}
            except orjson.JSONDecodeError as exc:
                field = f"result.tool_calls[{len(calls)}].arguments"
                raise InvalidInput(
                    f"{field}: not valid JSON ({exc}) (call {len(calls) + 1}, {name or 'no function'})",
                    field=field,
                ) from None
            calls.append({"name": name, "arguments": arguments})
        if calls:
            result["tool_calls"] = calls
        return result

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    def nominal_key(self, result: dict[str, Any]) -> str:
        return ""  # free text has no nominal agreement

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        return {}

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        return None

    def disagreement(self, results: list[dict[str, Any]]) -> float:
        return 0.0

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("sft", "raw")
    default_aggregation: ClassVar[str] = "all"

    def refuse_aggregation(self, mode: str) -> str | None:
        if mode in ("all", "reviewed"):
            return None
        return "demonstrations are free text: aggregate an sft project with 'all' or 'reviewed'"

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        return sft_columns(form)

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """Context + the demonstration; a draft taken from the prompt's last message is not repeated."""
        context, _, _ = self.draft_of(task.prompt, task.responses)
        results = demonstration_results(form.options, task.votes, dropped)
        return sft_rows(context, [demonstration_message(r) for r in results], form)

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────
    prelabel_modes: ClassVar[tuple[str, ...]] = ("draft",)
    review_mode: ClassVar[str | None] = "draft"

    def responses_to_generate(self, settings: dict[str, Any], requested: int | None) -> int:
        return requested if requested is not None else 1

    def accepted_result(self, settings: dict[str, Any], suggestion: dict[str, Any]) -> dict[str, Any]:
        return {"response": str(suggestion.get("response", ""))}

    def review_origin(
        self, suggestion: dict[str, Any], result: dict[str, Any], *, rejected: bool
    ) -> tuple[str, int]:
        distance = levenshtein(str(suggestion.get("response", "")), str(result.get("response", "")))
        if distance == 0:
            return ACCEPTED, 0
        return (REPLACED if rejected else EDITED), distance

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    def draft_of(self, prompt: Any, responses: list[dict[str, Any]]) -> tuple[Any, str, list[ToolCall]]:
        """(context, draft text, draft calls): what the annotator answers and the draft they start from. A
        prompt that ends on an assistant message calling tools, in a task without a response, ends on its
        draft: that message's text and calls, and the context is the prompt before it. Otherwise the draft
        is the task's (first) response, as text."""
        if not responses and isinstance(prompt, list) and prompt:
            last = prompt[-1]
            if isinstance(last, dict) and last.get("role") == "assistant" and (calls := tool_calls_of(last)):
                content = last.get("content")
                return prompt[:-1], content if isinstance(content, str) else "", calls
        return prompt, str(responses[0].get("text", "")) if responses else "", []

    def shown_prompt(self, prompt: Any) -> Any:
        """The prompt card leaves out a drafted last message: the editor holds it (see draft_of; the card
        is not told of responses, and a task whose prompt ends on calls has none from an import)."""
        context, _, _ = self.draft_of(prompt, [])
        return context

    def tool_choices(self, meta: Any) -> list[tuple[str, str]]:
        """The task's tools for the editor's function menu: (name, its parameters schema as indented JSON,
        "" where it has none)."""
        return [
            (name, "" if schema is None else pretty_json(schema))
            for name, schema in tool_parameters(tools_of(meta)).items()
        ]

    def call_line(self, call: dict[str, Any]) -> str:
        return call_line(call)

    def pretty_arguments(self, call: dict[str, Any]) -> str:
        return pretty_json(call.get("arguments", {}))
