"""Conversations: `{"messages", "label"?}` (chat / KTO), `{"prompt", "completion", "label"?}`
(prompt-completion / KTO), ShareGPT `{"conversations", ...}` and Alpaca `{"instruction", ...}`."""

from __future__ import annotations

from typing import Any

import orjson

from app.imports.shapes.preference import preference_pair, side_text
from app.imports.shapes.rows import (
    MAX_TOOL_CALLS,
    RowError,
    TaskRow,
    chat_messages,
    closes_with_reply,
    described,
    final_reply,
    finish_row,
    is_text,
    prompt_of,
    required_text,
    shown,
    source_label,
)

_SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "function_call": "assistant",  # LLaMA-Factory's tool use: the call, as JSON text
    "observation": "tool",  # and the tool's result
    "function": "tool",
    "tool": "tool",
}
_MESSAGES_KEYS = frozenset({"messages", "label"})
_COMPLETION_KEYS = frozenset({"prompt", "completion", "label"})
_SHAREGPT_KEYS = frozenset({"conversations", "system", "chosen", "rejected"})
_ALPACA_KEYS = frozenset({"instruction", "input", "output", "system", "history", "chosen", "rejected"})


def chat_row(raw: dict[str, Any]) -> TaskRow:
    messages = chat_messages(raw["messages"], '"messages"')
    responses: list[dict[str, Any]] = []
    if closes_with_reply(messages):
        responses = [{"id": "a", "text": final_reply(messages, '"messages"'), "model": None}]
        messages = messages[:-1]
        if not messages:
            raise RowError('"messages" needs at least one message before the final assistant reply')
    add = source_label(raw["label"]) if "label" in raw else None
    return finish_row(raw, _MESSAGES_KEYS, messages, responses, add)


def completion_row(raw: dict[str, Any]) -> TaskRow:
    prompt = prompt_of(raw["prompt"])
    text = side_text(raw["completion"], '"completion"')
    add = source_label(raw["label"]) if "label" in raw else None
    return finish_row(raw, _COMPLETION_KEYS, prompt, [{"id": "a", "text": text, "model": None}], add)


def _function_calls(value: str) -> list[dict[str, Any]]:
    """A ShareGPT `function_call` turn's value as OpenAI tool calls: `{"name", "arguments"}` JSON text, or a
    list of those (parallel calls). Text that is not such JSON is kept as one call's arguments, as given,
    which the pages show as text."""
    try:
        found = orjson.loads(value)
    except orjson.JSONDecodeError:
        found = None
    calls = found if isinstance(found, list) else [found]
    if len(calls) > MAX_TOOL_CALLS:
        raise RowError(
            f"a function_call turn makes {len(calls)} calls; a turn may make at most {MAX_TOOL_CALLS}"
        )
    if not calls or not all(isinstance(c, dict) and is_text(c.get("name")) for c in calls):
        return [{"type": "function", "function": {"name": "?", "arguments": value}}]
    out = []
    for call in calls:
        arguments = call.get("arguments", {})
        text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        out.append({"type": "function", "function": {"name": call["name"], "arguments": text}})
    return out


def _sharegpt_turn(turn: Any, where: str) -> dict[str, Any]:
    if not isinstance(turn, dict):
        raise RowError(f'{where} must be an object {{"from", "value"}}, got {described(turn)}')
    source = turn.get("from", turn.get("role"))
    role = _SHAREGPT_ROLES.get(source) if isinstance(source, str) else None
    if role is None:
        raise RowError(
            f'{where} has "from" {shown(source)}; "from" must be "system", "human", "gpt", '
            '"function_call" or "observation"'
        )
    value = turn.get("value", turn.get("content"))
    if not isinstance(value, str):
        raise RowError(f'{where} "value" must be a string, got {described(value)}')
    if source == "function_call":
        return {"role": "assistant", "content": "", "tool_calls": _function_calls(value)}
    return {"role": role, "content": value}


def sharegpt_row(raw: dict[str, Any]) -> TaskRow:
    conversations = raw["conversations"]
    if not isinstance(conversations, list) or not conversations:
        raise RowError(
            '"conversations" must be a non-empty list of {"from", "value"} turns, '
            f"got {described(conversations)}"
        )
    messages = [_sharegpt_turn(t, f'"conversations" turn {i}') for i, t in enumerate(conversations, 1)]
    system = raw.get("system")
    if system is not None and system != "" and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": required_text(system, '"system"')})
    add: dict[str, Any] | None = None
    if "chosen" in raw or "rejected" in raw:
        if "chosen" not in raw or "rejected" not in raw:
            raise RowError('a ShareGPT row with "chosen" or "rejected" needs both')
        sides: list[str] = []
        for name in ("chosen", "rejected"):
            value = raw[name]
            if isinstance(value, dict):
                turn = _sharegpt_turn(value, f'"{name}"')
                if turn["role"] != "assistant":
                    raise RowError(f'"{name}" must be a "gpt" turn, got "from" {shown(value.get("from"))}')
                sides.append(required_text(turn["content"], f'"{name}" "value"'))
            else:
                sides.append(required_text(value, f'"{name}"'))
        responses, add = preference_pair(sides[0], sides[1])
    elif closes_with_reply(messages):
        responses = [{"id": "a", "text": final_reply(messages, '"conversations"'), "model": None}]
        messages = messages[:-1]
        if not messages:
            raise RowError('"conversations" needs at least one turn before the final "gpt" turn')
    else:
        responses = []
    return finish_row(raw, _SHAREGPT_KEYS, messages, responses, add)


def alpaca_row(raw: dict[str, Any]) -> TaskRow:
    instruction = required_text(raw["instruction"], '"instruction"')
    extra = raw.get("input")
    if extra is not None and not isinstance(extra, str):
        raise RowError(f'"input" must be a string, got {described(extra)}')
    user = f"{instruction}\n\n{extra}" if extra and not extra.isspace() else instruction
    prompt: str | list[dict[str, str]] = user
    system = raw.get("system")
    history = raw.get("history")
    if (system is not None and system != "") or history:
        messages: list[dict[str, str]] = []
        if system is not None and system != "":
            messages.append({"role": "system", "content": required_text(system, '"system"')})
        if history:
            if not isinstance(history, list):
                raise RowError(
                    f'"history" must be a list of [instruction, response] pairs, got {described(history)}'
                )
            for i, pair in enumerate(history, 1):
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                    raise RowError(f'"history" item {i} must be a pair of strings [instruction, response]')
                messages.append({"role": "user", "content": pair[0]})
                messages.append({"role": "assistant", "content": pair[1]})
        messages.append({"role": "user", "content": user})
        prompt = messages
    add: dict[str, Any] | None = None
    if "chosen" in raw or "rejected" in raw:
        if "chosen" not in raw or "rejected" not in raw:
            raise RowError('an Alpaca row with "chosen" or "rejected" needs both')
        responses, add = preference_pair(
            required_text(raw["chosen"], '"chosen"'), required_text(raw["rejected"], '"rejected"')
        )
    elif "output" in raw:
        responses = [{"id": "a", "text": required_text(raw["output"], '"output"'), "model": None}]
    else:
        responses = []
    return finish_row(raw, _ALPACA_KEYS, prompt, responses, add)
