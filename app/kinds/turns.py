"""Ratings of the assistant turns inside a multi-turn prompt (the project setting `turn_ratings`): besides
judging the final candidates, an annotator may rate each earlier assistant turn on the project's
`turn_scale`, flag it, and say why. An answer carries them as
`"turns": {"<message index>": {"rating"?: int, "flag"?: true, "comment"?: str}}`, the index counting the
prompt's messages from 0. They export as KTO rows whose prompt is the conversation up to that turn."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from app.core.errors import InvalidInput
from app.kinds.rows import ExportTask, RowForm, kto_row
from app.kinds.votes import decide, voters_of

TURN = "turn"  # the `source` of a turn's export row

MAX_COMMENT = 2_000


def _fail(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"result.{field}: {message}", field=f"result.{field}")


def assistant_turns(prompt: Any) -> list[int]:
    """The indexes of a prompt's assistant messages (none in a plain-text prompt)."""
    if not isinstance(prompt, list):
        return []
    return [i for i, m in enumerate(prompt) if isinstance(m, dict) and m.get("role") == "assistant"]


def clean_turn_ratings(
    settings: Mapping[str, Any], result: Mapping[str, Any], prompt: Callable[[], Any]
) -> dict[str, Any]:
    """The answer's turn ratings in canonical form ({} without any), or InvalidInput naming the field.
    `prompt` reads the task's prompt, only when the answer rates turns."""
    turns = result.get("turns")
    if not turns:
        return {}
    if not settings.get("turn_ratings"):
        raise _fail("turns", "this project does not rate the turns of a conversation")
    if not isinstance(turns, dict):
        raise _fail("turns", "must map a message index to its rating")
    rated = set(assistant_turns(prompt()))
    scale = list(settings.get("turn_scale") or [])
    clean: dict[str, dict[str, Any]] = {}
    for key, value in turns.items():
        field = f"turns.{str(key)[:20]}"
        if not str(key).isdecimal() or int(key) not in rated:
            raise _fail(field, f"names no assistant turn of the conversation (those are {sorted(rated)})")
        if not isinstance(value, dict):
            raise _fail(field, 'must be an object {"rating"?, "flag"?, "comment"?}')
        entry: dict[str, Any] = {}
        rating = value.get("rating")
        if rating is not None:
            if not isinstance(rating, int) or isinstance(rating, bool) or not 0 <= rating < len(scale):
                raise _fail(
                    f"{field}.rating", f"must be an integer from 0 to {len(scale) - 1} ({', '.join(scale)})"
                )
            entry["rating"] = rating
        flag = value.get("flag", False)
        if not isinstance(flag, bool):
            raise _fail(f"{field}.flag", "must be true or false")
        if flag:
            entry["flag"] = True
        comment = value.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise _fail(f"{field}.comment", "must be text")
        if comment and comment.strip():
            if len(comment) > MAX_COMMENT:
                raise _fail(f"{field}.comment", f"is longer than {MAX_COMMENT} characters")
            entry["comment"] = comment.strip()
        if "rating" not in entry and "flag" not in entry:
            raise _fail(field, "rate the turn or flag it (a comment alone says nothing)")
        clean[str(int(key))] = entry
    return {"turns": dict(sorted(clean.items(), key=lambda kv: int(kv[0])))}


def turn_label(settings: Mapping[str, Any], entry: Mapping[str, Any]) -> bool | None:
    """What a rated turn says for KTO: desirable (upper half of the scale), undesirable (lower half, or
    flagged), or nothing (the middle of an odd scale)."""
    if entry.get("flag"):
        return False
    rating = entry.get("rating")
    if rating is None:
        return None
    steps = len(settings.get("turn_scale") or [])
    middle = (steps - 1) / 2
    if rating == middle:
        return None
    return bool(rating > middle)


def turns_on(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("turn_ratings"))


def turn_kto_rows(task: ExportTask, form: RowForm, dropped: Counter[str]) -> list[dict[str, Any]]:
    """KTO rows of a task's rated turns, `source` "turn": the prompt is the conversation up to the turn,
    the completion the turn. "all": each annotation's rating is a row; the other modes: the label the
    voters settle on per turn (as votes.decide settles any answer)."""
    agg = form.options
    voters = list(task.votes) if agg.mode == "all" else voters_of(task.votes, agg)
    messages = task.prompt if isinstance(task.prompt, list) else []
    if isinstance(voters, str) or not messages:
        return []
    said: dict[int, list[bool]] = {}
    for vote in voters:
        for index, entry in (vote.result.get("turns") or {}).items():
            label = turn_label(form.settings, entry)
            if label is not None and int(index) < len(messages):
                said.setdefault(int(index), []).append(label)
    rows = []
    for index, labels in sorted(said.items()):
        if agg.mode != "all":
            verdict = decide(labels, agg)
            if isinstance(verdict, str):
                dropped[f"turn: {verdict}"] += 1
                continue
            labels = [bool(verdict[0])]
        turn = str(messages[index].get("content", ""))
        rows += [kto_row(form, messages[:index], turn, label) | {"source": TURN} for label in labels]
    return rows
