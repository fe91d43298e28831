"""The trajectory kind: every step of an agent's conversation labelled, the first wrong step named, agreement
step by step, and TRL's stepwise rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pydantic
import pytest
from starlette.datastructures import FormData

from app.core.errors import InvalidInput
from app.exports.formats import TaskRecord, file_type
from app.exports.schemas import Aggregation
from app.kinds import get_kind
from app.kinds.rows import RowForm
from app.kinds.steps import is_good, steps_of
from app.kinds.votes import Vote
from app.labeling.results import check_result

KIND = get_kind("trajectory")
SETTINGS = KIND.validate_settings({})


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


PROMPT: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a weather agent."},
    {"role": "user", "content": "How warm is Paris, in Fahrenheit?"},
    {"role": "assistant", "content": "", "tool_calls": [_call("c1", "weather", '{"city": "Paris"}')]},
    {"role": "tool", "tool_call_id": "c1", "name": "weather", "content": '{"temp_c": 14}'},
    {
        "role": "assistant",
        "content": "Converting.",
        "reasoning_content": "14 * 9 / 5 + 32",
        "tool_calls": [_call("c2", "to_f", '{"c": 14}')],
    },
    {"role": "tool", "tool_call_id": "c2", "name": "to_f", "content": "57.2"},
]
RESPONSES = [{"id": "a", "text": "It is 57.2°F in Paris."}]
STEPS = [2, 4, 6]  # the two tool-calling turns of the prompt, then the closing reply (the response)


def answer(*labels: str, first_wrong: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"steps": dict(zip(map(str, STEPS), labels, strict=True)), "first_wrong": first_wrong, **extra}


def check(result: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return check_result("trajectory", settings or SETTINGS, RESPONSES, result, lambda: PROMPT)


# --- settings ------------------------------------------------------------------------------------------


def test_settings_default_to_good_neutral_bad_with_neutral_counted_good() -> None:
    assert SETTINGS["step_labels"] == ["good", "neutral", "bad"] and SETTINGS["neutral_is"] == "good"
    assert KIND.settings_fields == ("step_labels", "neutral_is")
    assert KIND.validate_settings({"step_labels": [" ok ", "wrong"]})["step_labels"] == ["ok", "wrong"]


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"step_labels": ["only"]}, "at least 2"),
        ({"step_labels": ["ok", " "]}, "at least two"),
        ({"step_labels": ["ok", "ok"]}, "distinct"),
        ({"step_labels": [str(i) for i in range(10)]}, "at most 9"),
        ({"neutral_is": "maybe"}, "neutral_is"),
        ({"labels": ["x", "y"]}, "labels"),  # classification's setting
    ],
)
def test_settings_are_validated(settings: dict[str, Any], needle: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=needle):
        KIND.validate_settings(settings)


def test_labels_split_into_halves_and_the_middle_one_counts_as_the_project_says() -> None:
    assert [is_good(SETTINGS, x) for x in ("good", "neutral", "bad")] == [True, True, False]
    strict = KIND.validate_settings({"neutral_is": "bad"})
    assert [is_good(strict, x) for x in ("good", "neutral", "bad")] == [True, False, False]
    four = KIND.validate_settings({"step_labels": ["great", "fine", "poor", "awful"], "neutral_is": "bad"})
    assert [is_good(four, x) for x in ("great", "fine", "poor", "awful")] == [True, True, False, False]


# --- validation ----------------------------------------------------------------------------------------


def test_steps_are_the_assistant_messages_of_prompt_and_response() -> None:
    steps = steps_of(PROMPT, RESPONSES)
    assert [(s.index, s.number) for s in steps] == [(2, 1), (4, 2), (6, 3)]
    assert [[r["content"] for r in s.results] for s in steps] == [['{"temp_c": 14}'], ["57.2"], []]
    assert [s.summary for s in steps] == ["calls weather", "calls to_f", "It is 57.2°F in Paris."]
    assert KIND.shown_prompt(PROMPT) == PROMPT[:2]  # the prompt card: the context, not the steps again


def test_an_answer_labels_every_step_and_comes_back_in_conversation_order() -> None:
    given = {"steps": {"6": "bad", "2": "good", "4": "bad"}, "first_wrong": 4, "comment": "  wrong tool  "}
    assert check(given) == {
        "steps": {"2": "good", "4": "bad", "6": "bad"},
        "first_wrong": 4,
        "comment": "wrong tool",
    }
    assert check(answer("good", "neutral", "good")) == answer("good", "neutral", "good")
    assert check({"steps": {"2": "good", "4": "good", "6": "good"}}) == answer("good", "good", "good")


@pytest.mark.parametrize(
    ("result", "needle"),
    [
        ({"steps": {"2": "good", "4": "good"}}, r"label every step: step 3 \(message 6\) has no label"),
        ({"steps": ["good", "good", "good"]}, "must map each step"),
        (
            answer("good", "fine", "good"),
            r"'fine' is not a step label of this project \(good, neutral, bad\)",
        ),
        (
            {"steps": {"2": "good", "3": "good", "4": "good", "6": "good"}},
            "names no step",
        ),  # 3: a tool result
        ({"steps": {"2": "good", "02": "bad", "4": "good", "6": "good"}}, "labelled twice"),
        (answer("good", "bad", "bad", first_wrong=2), "step 1 is labelled 'good'"),
        (answer("good", "neutral", "bad", first_wrong=4), "needs a label on the bad side"),
        (answer("bad", "bad", "good", first_wrong=4), "step 1 before it is already labelled 'bad'"),
        (answer("good", "bad", "bad", first_wrong=5), "names no step"),
        (answer("good", "bad", "bad", first_wrong=True), "must be a step's message index"),
        (answer("good", "good", "good", comment="x" * 2001), "longer than 2000"),
        (answer("good", "good", "good", comment=3), "comment: must be text"),
    ],
)
def test_a_wrong_answer_says_what_is_wrong(result: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        check(result)


def test_the_first_wrong_step_follows_the_projects_middle_label() -> None:
    strict = KIND.validate_settings({"neutral_is": "bad"})
    assert check(answer("neutral", "bad", "bad", first_wrong=2), strict)["first_wrong"] == 2
    with pytest.raises(InvalidInput, match="already labelled 'neutral'"):
        check(answer("neutral", "bad", "bad", first_wrong=4), strict)


def test_a_conversation_without_steps_cannot_be_answered_and_ids_alone_are_not_enough() -> None:
    with pytest.raises(InvalidInput, match="no assistant step"):
        check_result("trajectory", SETTINGS, [], {"steps": {}}, lambda: [{"role": "user", "content": "hi"}])
    with pytest.raises(InvalidInput, match="checked against the task's conversation"):
        KIND.validate_result(SETTINGS, ["a"], answer("good", "good", "good"))


def test_a_reviewers_form_reads_back_as_an_answer() -> None:
    form = FormData(
        [("step__2", "good"), ("step__4", "bad"), ("step__6", "bad"), ("first_wrong", "4"),
         ("answer_comment", " looked it up wrong "), ("comment", "the reviewer's own")]
    )  # fmt: skip
    result = KIND.result_from_form(form, ["a"])
    assert check(result) == answer("good", "bad", "bad", first_wrong=4, comment="looked it up wrong")
    unmarked = KIND.result_from_form(FormData([("step__2", "good"), ("first_wrong", "")]), ["a"])
    assert unmarked == {"steps": {"2": "good"}, "first_wrong": None}


# --- agreement -----------------------------------------------------------------------------------------


def test_each_step_is_a_unit_of_agreement() -> None:
    result = answer("good", "bad", "bad", first_wrong=4)
    assert KIND.nominal_units(7, result, SETTINGS) == {
        (7, "step 2"): "good",
        (7, "step 4"): "bad",
        (7, "step 6"): "bad",
    }
    assert KIND.nominal_key(result) == "good|bad|bad"
    parts = KIND.agreement_parts(7, result, SETTINGS)
    assert list(parts) == ["first wrong step", "step 1", "step 2", "step 3"]
    assert parts["first wrong step"] == {(7, "first wrong"): "step 4"} and parts["step 2"] == {
        (7, "step 4"): "bad"
    }
    assert KIND.agreement_parts(7, answer("good", "neutral", "good"), SETTINGS)["first wrong step"] == {
        (7, "first wrong"): "none"
    }  # fmt: skip


def test_disagreement_is_the_share_of_steps_the_answers_split_on() -> None:
    same = answer("good", "bad", "bad")
    assert KIND.disagreement([same, same]) == 0.0
    assert KIND.disagreement([same, answer("good", "good", "bad")]) == pytest.approx(1 / 3)
    assert KIND.disagreement([same, answer("bad", "good", "good"), same]) == 1.0
    assert KIND.disagreement([]) == 0.0


def test_gold_scores_the_share_of_gold_steps_labelled_the_same() -> None:
    gold = answer("good", "bad", "bad", first_wrong=4)
    assert KIND.gold_score(answer("good", "bad", "bad"), gold, SETTINGS) == 1.0
    assert KIND.gold_score(answer("good", "good", "bad"), gold, SETTINGS) == pytest.approx(2 / 3)
    assert KIND.gold_score(answer("good", "good", "bad"), None, SETTINGS) is None


# --- export --------------------------------------------------------------------------------------------


def _task(*results: dict[str, Any], prompt: Any = PROMPT) -> TaskRecord:
    votes = [Vote(annotation_id=i, user_id=i, result=r, reviewed=False) for i, r in enumerate(results, 1)]
    return TaskRecord(1, None, prompt, RESPONSES, None, votes=votes)


def _rows(task: TaskRecord, mode: str, **options: Any) -> tuple[list[dict[str, Any]], Counter[str]]:
    form = RowForm(options=Aggregation(mode=mode, **options), chat=True, settings=SETTINGS)
    dropped: Counter[str] = Counter()
    return KIND.export_rows("stepwise", task, form, dropped), dropped


def test_stepwise_columns_are_trls_prompt_completions_and_a_bool_per_step() -> None:
    form = RowForm(options=Aggregation(), chat=True, settings=SETTINGS)
    columns = KIND.export_columns("stepwise", form)
    assert columns == [("prompt", "string"), ("completions", "strings"), ("labels", "bools")]
    assert str(file_type(columns[2][1], chat=True)) == "list<item: bool>"
    assert KIND.export_formats == ("stepwise", "raw") and KIND.prelabel_modes == ()


def test_all_writes_a_row_per_answer() -> None:
    rows, dropped = _rows(
        _task(answer("good", "bad", "bad", first_wrong=4), answer("good", "neutral", "good")), "all"
    )
    assert [row["labels"] for row in rows] == [[True, False, False], [True, True, True]]
    first = rows[0]
    assert first["prompt"] == "System: You are a weather agent.\n\nUser: How warm is Paris, in Fahrenheit?"
    assert first["completions"] == [
        'weather({"city": "Paris"})\n[weather result] {"temp_c": 14}',
        'Converting.\nto_f({"c": 14})\n[to_f result] 57.2',
        "It is 57.2°F in Paris.",
    ]
    assert not dropped


def test_majority_decides_each_step_on_its_own() -> None:
    task = _task(answer("good", "bad", "bad"), answer("good", "bad", "good"), answer("neutral", "bad", "bad"))
    rows, dropped = _rows(task, "majority")
    assert [row["labels"] for row in rows] == [[True, False, False]] and not dropped
    unanimous, why = _rows(task, "unanimous")
    assert unanimous == [] and why == Counter({"step: not unanimous": 1})


def test_a_task_with_an_undecided_step_is_dropped_with_its_reason() -> None:
    rows, dropped = _rows(_task(answer("good", "bad", "bad"), answer("good", "good", "bad")), "majority")
    assert rows == [] and dropped == Counter({"step: no majority": 1})
    few, why = _rows(_task(answer("good", "bad", "bad")), "majority", min_annotations=2)
    assert few == [] and why == Counter({"fewer annotations than the minimum": 1})


def test_reviewed_answers_win() -> None:
    task = _task(answer("good", "good", "good"), answer("good", "bad", "bad"))
    task.votes[1].reviewed = True
    rows, _ = _rows(task, "reviewed")
    assert [row["labels"] for row in rows] == [[True, False, False]]
