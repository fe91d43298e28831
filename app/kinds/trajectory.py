"""Trajectory: every step of an agent's conversation labelled (good … bad), and the first wrong step
named, for process-reward models. A task's prompt is the conversation (OpenAI chat messages: tool calls,
tool results, reasoning) and its one response, if any, the closing assistant reply; the steps are the
assistant messages of the whole (app/kinds/steps.py reads them). The stepwise export is TRL's stepwise
supervision format: the context before the first step, each step as text, and a bool per step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from app.kinds.agreement import Unit
from app.kinds.base import KindBase, fail
from app.kinds.forms import FormFields, text_of
from app.kinds.messages import context_text, step_indexes, step_text, trajectory
from app.kinds.rows import Columns, ExportTask, RowForm
from app.kinds.settings import CommonSettings, distinct
from app.kinds.steps import (
    DEFAULT_LABELS,
    Step,
    clean_answer,
    context_of,
    first_bad,
    is_good,
    ordered_steps,
    steps_of,
)
from app.kinds.votes import AggregationOptions, Vote, decide, voters_of

STEP_PARTS = 10  # the dashboard's agreement by step: steps 1 to 10 on their own, the later ones together
FIRST_WRONG = "first wrong step"


class TrajectorySettings(CommonSettings):
    kind: Literal["trajectory"] = "trajectory"
    step_labels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LABELS), min_length=2, max_length=9,
        description="the labels of a step, best first",
    )  # fmt: skip
    neutral_is: Literal["good", "bad"] = Field(
        "good", description="what the middle label of an odd set counts as in the stepwise export's labels"
    )

    @field_validator("step_labels")
    @classmethod
    def _step_labels(cls, values: list[str]) -> list[str]:
        labels = distinct(values, "step labels")
        if len(labels) < 2:
            raise ValueError("give at least two step labels")
        return labels


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step of a task with each answer's label of it, for the review page's table."""

    step: Step
    labels: list[str | None]  # per answer, in the order given; None: the answer does not label it
    first_wrong: list[bool]  # per answer: it names this step the first wrong one
    split: bool  # the answers label it differently


def _step_labels(votes: Sequence[Vote], index: int) -> list[tuple[Vote, str]]:
    found = [(v, (v.result.get("steps") or {}).get(str(index))) for v in votes]
    return [(v, str(label)) for v, label in found if label is not None]


class Trajectory(KindBase):
    # ── identity and settings ────────────────────────────────────────────────────────────────────────
    name = "trajectory"
    label = "Trajectory steps"
    settings_model = TrajectorySettings
    settings_fields: ClassVar[tuple[str, ...]] = ("step_labels", "neutral_is")

    # ── results (labeling) ───────────────────────────────────────────────────────────────────────────
    def validate_result(
        self, settings: dict[str, Any], response_ids: list[str], result: dict[str, Any]
    ) -> dict[str, Any]:
        raise fail("a trajectory answer is checked against the task's conversation (validate_answer)")

    def validate_answer(
        self,
        settings: dict[str, Any],
        responses: list[dict[str, Any]],
        result: dict[str, Any],
        prompt: Callable[[], Any],
        meta: Callable[[], dict[str, Any]] = lambda: {},
    ) -> dict[str, Any]:
        return clean_answer(settings, trajectory(prompt(), responses), result)

    # ── forms (the review and pre-label review pages) ────────────────────────────────────────────────
    def result_from_form(self, form: FormFields, order: list[str]) -> dict[str, Any]:
        """Fields step__<message index> (its label), first_wrong (an index, or empty) and answer_comment
        (the page's `comment` is the reviewer's own)."""
        steps = {
            key.removeprefix("step__"): value
            for key, value in form.multi_items()
            if key.startswith("step__") and isinstance(value, str) and value
        }
        first_wrong = text_of(form, "first_wrong")
        result: dict[str, Any] = {"steps": steps, "first_wrong": first_wrong or None}
        if comment := text_of(form, "answer_comment"):
            result["comment"] = comment
        return result

    # ── agreement and review (quality) ───────────────────────────────────────────────────────────────
    review_by_part: ClassVar[bool] = True

    def nominal_key(self, result: dict[str, Any]) -> str:
        return "|".join(label for _, label in ordered_steps(result))

    def nominal_units(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[Unit, str]:
        """One unit per step: its label."""
        return {(task_id, f"step {index}"): label for index, label in ordered_steps(result)}

    def agreement_parts(
        self, task_id: int, result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, dict[Unit, str]]:
        """Where the trajectory first goes wrong (the first step on the bad side, or none), then the steps
        by their place: step 1, step 2, …, the steps past STEP_PARTS together."""
        wrong = first_bad(settings, result)
        parts: dict[str, dict[Unit, str]] = {
            FIRST_WRONG: {(task_id, "first wrong"): "none" if wrong is None else f"step {wrong}"}
        }
        for number, (index, label) in enumerate(ordered_steps(result), start=1):
            part = f"step {number}" if number <= STEP_PARTS else f"steps {STEP_PARTS + 1}+"
            parts.setdefault(part, {})[(task_id, f"step {index}")] = label
        return parts

    def gold_score(self, result: dict[str, Any], gold: Any, settings: dict[str, Any]) -> float | None:
        """The share of gold's steps the answer labels as gold does."""
        want = dict(ordered_steps(gold)) if isinstance(gold, dict) else {}
        if not want:
            return None
        mine = dict(ordered_steps(result))
        return sum(mine.get(index) == label for index, label in want.items()) / len(want)

    def disagreement(self, results: list[dict[str, Any]]) -> float:
        """The share of steps the answers label differently."""
        said: dict[int, set[str]] = {}
        for result in results:
            for index, label in ordered_steps(result):
                said.setdefault(index, set()).add(label)
        return sum(len(labels) > 1 for labels in said.values()) / len(said) if said else 0.0

    # ── export ───────────────────────────────────────────────────────────────────────────────────────
    export_formats: ClassVar[tuple[str, ...]] = ("stepwise", "raw")

    def export_columns(self, export_format: str, form: RowForm) -> Columns:
        return [("prompt", "string"), ("completions", "strings"), ("labels", "bools")]

    def export_rows(
        self, export_format: str, task: ExportTask, form: RowForm, dropped: Counter[str]
    ) -> list[dict[str, Any]]:
        """TRL's stepwise supervision: "all", a row per answer; the other modes, one row with each step's
        label decided on its own (votes.decide), the task left out where a step is not decided."""
        messages = trajectory(task.prompt, task.responses)
        steps = step_indexes(messages)
        if not steps:
            dropped["no step to label"] += 1
            return []
        labels = self._decided(steps, task.votes, form, dropped)
        row = {
            "prompt": context_text(messages[: steps[0]]),
            "completions": [step_text(messages, index) for index in steps],
        }
        return [{**row, "labels": [is_good(form.settings, label) for label in said]} for said in labels]

    def _decided(
        self, steps: list[int], votes: Sequence[Vote], form: RowForm, dropped: Counter[str]
    ) -> list[list[str]]:
        """The step labels each row writes."""
        agg: AggregationOptions = form.options
        if agg.mode == "all":
            rows = []
            for vote in votes:
                labels = [(vote.result.get("steps") or {}).get(str(index)) for index in steps]
                if any(label is None for label in labels):
                    dropped["answer does not label every step"] += 1
                    continue
                rows.append([str(label) for label in labels])
            return rows
        voters = voters_of(votes, agg)
        if isinstance(voters, str):
            dropped[voters] += 1
            return []
        decided = []
        for index in steps:
            said = _step_labels(voters, index)
            verdict = (
                decide(
                    [label for _, label in said],
                    agg,
                    [v.weight for v, _ in said] if agg.mode == "quality" else None,
                )
                if said
                else "no answer"
            )
            if isinstance(verdict, str):
                dropped[f"step: {verdict}"] += 1
                return []
            decided.append(str(verdict[0]))
        return [decided]

    # ── pre-label ────────────────────────────────────────────────────────────────────────────────────

    # ── loop: scoring and leaderboard ────────────────────────────────────────────────────────────────

    # ── pages (templates and scripts) ────────────────────────────────────────────────────────────────
    def shown_prompt(self, prompt: Any) -> Any:
        """The messages before the first step: the steps are the kind's controls (annotate.html)."""
        return context_of(prompt, []) if isinstance(prompt, list) else prompt

    # What the kind's own templates ask (templates/kinds/trajectory/*.html); no other part of the tree does.
    def steps_of(self, prompt: Any, responses: list[dict[str, Any]]) -> list[Step]:
        return steps_of(prompt, responses)

    def label_is_good(self, settings: dict[str, Any], label: str) -> bool:
        return is_good(settings, label)

    def labelled_steps(self, result: dict[str, Any]) -> list[tuple[int, int, str, bool]]:
        """(step number, message index, label, named the first wrong step) of an answer, in order."""
        wrong = result.get("first_wrong")
        return [
            (number, index, label, index == wrong)
            for number, (index, label) in enumerate(ordered_steps(result), start=1)
        ]

    def step_rows(
        self, prompt: Any, responses: list[dict[str, Any]], results: Sequence[dict[str, Any]]
    ) -> list[StepRow]:
        """Each step of the task with every answer's label of it."""
        labelled = [dict(ordered_steps(r)) for r in results]
        rows = []
        for step in steps_of(prompt, responses):
            labels = [given.get(step.index) for given in labelled]
            wrong = [r.get("first_wrong") == step.index for r in results]
            rows.append(StepRow(step, labels, wrong, len({x for x in labels if x is not None}) > 1))
        return rows
