"""The canonical shape `{"prompt", "responses"?}`, which also takes CSV-style `response_<id>` / `model_<id>`
columns, and the naming of responses every shape shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from app.imports.json_items import ItemLimits, excess
from app.imports.shapes.rows import (
    MAX_RESPONSES,
    RESERVED_RESPONSE_IDS,
    CsvRow,
    RowError,
    TaskRow,
    described,
    finish_row,
    prompt_of,
    required_text,
    shown,
)

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_RESPONSE_KEYS = frozenset({"id", "text", "model"})
CANONICAL_KEYS = frozenset({"prompt", "responses"})
TEXT_KEYS = frozenset({"text"})


def _free_ids(used: set[str]) -> Iterator[str]:
    for letter in _LETTERS:
        if letter not in used:
            yield letter
    n = len(_LETTERS)
    while True:
        n += 1
        if f"r{n}" not in used:
            yield f"r{n}"


def _response_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or value.isspace():
        raise RowError(f"{what} must be a non-empty string, got {described(value)}")
    if value in RESERVED_RESPONSE_IDS:
        raise RowError(f'{what} "{value}" is reserved (it means a tie); use another id')
    return value


def _check_count(n: int) -> None:
    if n > MAX_RESPONSES:
        raise RowError(
            f"a row may have at most {MAX_RESPONSES} responses, found {n}; split it into several rows"
        )


def _responses(value: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Canonical `responses`: objects `{"id"?, "text", "model"?}` or plain strings.

    Returns the responses and, when response objects carried other keys, those keys by response id
    (kept in `meta["response_meta"]` so nothing is lost).
    """
    if not isinstance(value, list):
        raise RowError(
            '"responses" must be a list of {"id"?, "text", "model"?} objects or a list of strings, '
            f"got {described(value)}"
        )
    _check_count(len(value))
    used: set[str] = set()
    responses: list[dict[str, Any]] = []
    response_meta: dict[str, Any] | None = None
    unnamed = False
    for i, item in enumerate(value, 1):
        if isinstance(item, str):
            if not item or item.isspace():
                raise RowError(f'"responses" item {i} must be a non-empty string, got {described(item)}')
            responses.append({"id": None, "text": item, "model": None})
            unnamed = True
            continue
        if not isinstance(item, dict):
            raise RowError(
                f'"responses" item {i} must be a string or an object {{"id"?, "text", "model"?}}, '
                f"got {described(item)}"
            )
        text = item.get("text")
        if not isinstance(text, str) or not text or text.isspace():
            raise RowError(f'"responses" item {i} "text" must be a non-empty string, got {described(text)}')
        rid = item.get("id")
        if rid is None:
            unnamed = True
        else:
            if type(rid) is not str or not rid or rid in RESERVED_RESPONSE_IDS or rid.isspace():
                rid = _response_id(rid, f'"responses" item {i} "id"')
            if rid in used:
                raise RowError(
                    f'"responses" item {i} repeats the id "{rid}"; response ids must be unique within a row'
                )
            used.add(rid)
        model = item.get("model")
        if model is not None and not isinstance(model, str):
            raise RowError(f'"responses" item {i} "model" must be a string, got {described(model)}')
        response = {"id": rid, "text": text, "model": model or None}
        responses.append(response)
        if not item.keys() <= _RESPONSE_KEYS:
            if response_meta is None:
                response_meta = {}
            # keyed by position until ids are final
            response_meta[str(i)] = {k: v for k, v in item.items() if k not in _RESPONSE_KEYS}
    if unnamed:
        if used:
            fresh = _free_ids(used)
            for response in responses:
                if response["id"] is None:
                    response["id"] = next(fresh)
        else:
            for response, letter in zip(responses, _LETTERS, strict=False):
                response["id"] = letter
    if response_meta is not None:
        response_meta = {responses[int(pos) - 1]["id"]: extras for pos, extras in response_meta.items()}
    return responses, response_meta


def lettered_responses(texts: list[str]) -> list[dict[str, Any]]:
    _check_count(len(texts))
    return [{"id": rid, "text": t, "model": None} for rid, t in zip(_free_ids(set()), texts, strict=False)]


def _with_response_meta(
    add: dict[str, Any] | None, response_meta: dict[str, Any] | None
) -> dict[str, Any] | None:
    if response_meta is None:
        return add
    out = dict(add) if add else {}
    out["response_meta"] = response_meta
    return out


def canonical_row(raw: dict[str, Any]) -> TaskRow:
    prompt = prompt_of(raw["prompt"])
    value = raw.get("responses")
    if value == "" and type(raw) is CsvRow:
        value = None
    if value is not None:
        responses, response_meta = _responses(value)
        return finish_row(raw, CANONICAL_KEYS, prompt, responses, _with_response_meta(None, response_meta))
    # CSV-style columns response_<id> (and model_<id>); empty cells are ignored.
    consumed = {"prompt", "responses"}
    responses = []
    for key, text in raw.items():
        if key.startswith("response_"):
            consumed.add(key)
            consumed.add("model_" + key[9:])
            if text is None or text == "":
                continue
            rid = _response_id(key[9:], f'column "{key}" id')
            model = raw.get("model_" + rid)
            if model is not None and not isinstance(model, str):
                raise RowError(f'"model_{rid}" must be a string, got {described(model)}')
            responses.append({"id": rid, "text": required_text(text, f'"{key}"'), "model": model or None})
    _check_count(len(responses))
    return finish_row(raw, consumed, prompt, responses)


def text_row(raw: dict[str, Any]) -> TaskRow:
    """`{"text", "label"?}` or `{"text", "labels"?}`, the rows a classification export writes: the text is
    the prompt, and the label stays in meta (`meta["label"]`, `meta["labels"]`) with any other keys. Not
    gold: gold tasks are served to every annotator and left out of exports, which a relabelled dataset
    should not be."""
    return finish_row(raw, TEXT_KEYS, required_text(raw["text"], '"text"'), [])


# A row of a "raw" export: the task's prompt, responses and gold as JSON text, with what was said of it.
RAW_EXPORT_KEYS = frozenset(
    {"task_id", "prompt", "responses", "gold", "annotations", "reviews", "suggestions"}
)


def is_raw_export(raw: dict[str, Any]) -> bool:
    return "task_id" in raw and "annotations" in raw and isinstance(raw.get("responses"), str)


def raw_export_row(raw: dict[str, Any]) -> TaskRow:
    """A task back from a raw export, its conversation exactly as stored (system prompts, names, tool
    messages, per-message metadata); the answers it carried stay behind (import them as gold with "gold")."""

    def parsed(key: str) -> Any:
        value = raw.get(key)
        if value is None:
            return None
        try:
            found = orjson.loads(value) if isinstance(value, str) else value
        except orjson.JSONDecodeError:
            raise RowError(f'"{key}" of a raw export row must be JSON text, got {shown(value)}') from None
        if problem := excess(found, ItemLimits.configured()):  # the limits the reader keeps on the line
            raise RowError(f'"{key}" of a raw export row {problem}')
        return found

    prompt = prompt_of(parsed("prompt"))
    responses, response_meta = _responses(parsed("responses") or [])
    add: dict[str, Any] = {"source_task_id": raw["task_id"]}
    kept = {"external_id": raw.get("external_id"), "meta": parsed("meta"), "gold": parsed("gold")}
    return finish_row(kept, set(), prompt, responses, _with_response_meta(add, response_meta))
