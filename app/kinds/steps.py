"""The steps of an agent trajectory as a trajectory project labels them (app/kinds/trajectory.py): each
assistant message of the task's whole conversation (messages.trajectory) with the tool results that answer
it, named by its index in that conversation. An answer labels every step with one of the project's
`step_labels` (best first) and may name the first wrong step:
`{"steps": {"<index>": "<label>", …}, "first_wrong": <index> | null, "comment"?: str}`.

Pure functions: the kind, its export rows and its page parts read steps through these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import InvalidInput
from app.kinds.messages import step_indexes, tool_calls_of, trajectory

DEFAULT_LABELS = ("good", "neutral", "bad")
MAX_COMMENT = 2_000
SUMMARY_CHARS = 80


def _fail(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(f"result.{field_name}: {message}", field=f"result.{field_name}")


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # the assistant message's index in the whole conversation
    number: int  # its place among the steps, from 1
    message: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)  # the tool messages that answer it

    @property
    def summary(self) -> str:
        """A line that tells steps apart in a table: the tools it calls, else the start of its text."""
        if calls := tool_calls_of(self.message):
            return "calls " + ", ".join(call.name for call in calls)
        text = " ".join(str(self.message.get("content") or "").split())
        return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def steps_in(messages: list[dict[str, Any]]) -> list[Step]:
    """The steps of a whole conversation, each with the tool results that follow it."""
    steps = []
    for number, index in enumerate(step_indexes(messages), start=1):
        results = []
        for message in messages[index + 1 :]:
            if message.get("role") != "tool":
                break
            results.append(message)
        steps.append(Step(index, number, messages[index], results))
    return steps


def steps_of(prompt: Any, responses: list[dict[str, Any]]) -> list[Step]:
    return steps_in(trajectory(prompt, responses))


def context_of(prompt: Any, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages before the first step (all of them where there is none)."""
    messages = trajectory(prompt, responses)
    indexes = step_indexes(messages)
    return messages[: indexes[0]] if indexes else messages


def labels_of(settings: Mapping[str, Any]) -> list[str]:
    return list(settings.get("step_labels") or DEFAULT_LABELS)


def is_good(settings: Mapping[str, Any], label: str) -> bool:
    """A label's side: the better half of the labels is good, the worse half bad, and the middle label of
    an odd set what the project's `neutral_is` says. A label the project does not have is bad."""
    labels = labels_of(settings)
    if label not in labels:
        return False
    position, middle = labels.index(label), (len(labels) - 1) / 2
    if position == middle:
        return settings.get("neutral_is", "good") == "good"
    return position < middle


def ordered_steps(result: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(message index, label) of an answer's steps, in conversation order."""
    steps = result.get("steps")
    if not isinstance(steps, dict):
        return []
    return sorted(((int(k), str(v)) for k, v in steps.items() if str(k).isdecimal()), key=lambda kv: kv[0])


def first_bad(settings: Mapping[str, Any], result: Mapping[str, Any]) -> int | None:
    """The index of an answer's first step on the bad side; None where every step is good."""
    return next((index for index, label in ordered_steps(result) if not is_good(settings, label)), None)


def _index(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    raise _fail(where, "must be a step's message index")


def clean_answer(
    settings: Mapping[str, Any], messages: list[dict[str, Any]], result: Mapping[str, Any]
) -> dict[str, Any]:
    """The answer in canonical form (steps in conversation order), or InvalidInput naming the field."""
    steps = step_indexes(messages)
    if not steps:
        raise _fail("steps", "the task's conversation has no assistant step to label: skip the task")
    number = {index: n for n, index in enumerate(steps, start=1)}
    labels = labels_of(settings)
    given = result.get("steps")
    if not isinstance(given, dict):
        raise _fail("steps", 'must map each step (its message index) to a label, e.g. {"2": "good"}')
    clean: dict[int, str] = {}
    for key, label in given.items():
        where = f"steps.{str(key)[:20]}"
        index = _index(key, where)
        if index not in number:
            raise _fail(where, f"names no step of the conversation (its steps are messages {steps})")
        if index in clean:
            raise _fail(where, f"step {number[index]} is labelled twice")
        if not isinstance(label, str) or label not in labels:
            known = ", ".join(labels)
            raise _fail(where, f"{str(label)[:40]!r} is not a step label of this project ({known})")
        clean[index] = label
    if missing := [index for index in steps if index not in clean]:
        named = ", ".join(f"step {number[i]} (message {i})" for i in missing)
        raise _fail("steps", f"label every step: {named} has no label")
    first_wrong = result.get("first_wrong")
    if first_wrong is not None:
        first_wrong = _index(first_wrong, "first_wrong")
        if first_wrong not in number:
            raise _fail("first_wrong", f"names no step of the conversation (its steps are messages {steps})")
        if is_good(settings, clean[first_wrong]):
            bad = ", ".join(label for label in labels if not is_good(settings, label))
            raise _fail(
                "first_wrong",
                f"step {number[first_wrong]} is labelled {clean[first_wrong]!r}: the first wrong step "
                f"needs a label on the bad side ({bad})",
            )
        if (earlier := first_bad(settings, {"steps": clean})) is not None and earlier < first_wrong:
            raise _fail(
                "first_wrong",
                f"step {number[earlier]} before it is already labelled {clean[earlier]!r}: the first "
                f"wrong step is step {number[earlier]}",
            )
    out: dict[str, Any] = {"steps": {str(i): clean[i] for i in steps}, "first_wrong": first_wrong}
    comment = result.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise _fail("comment", "must be text")
    if comment and comment.strip():
        if len(comment) > MAX_COMMENT:
            raise _fail("comment", f"is longer than {MAX_COMMENT} characters")
        out["comment"] = comment.strip()
    return out
