"""What every row shape becomes (`TaskRow`), how a refusal reads (`RowError`), and the checks the shapes
share: text, chat messages, prompts, and the keys any shape may carry (external_id, meta, priority, gold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.imports.json_items import ItemLimits, excess

MAX_RESPONSES = 20
PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1
ROLES = frozenset({"system", "user", "assistant", "tool"})
RESERVED_RESPONSE_IDS = frozenset({"tie"})  # "tie" is a pairwise answer, never a response id
COMMON_KEYS = frozenset({"external_id", "meta", "priority", "gold"})


@dataclass(slots=True)
class TaskRow:
    external_id: str | None
    prompt: str | list[dict[str, Any]]
    responses: list[dict[str, Any]]
    meta: dict[str, Any]
    priority: int = 0
    gold: Any | None = None


class RowError(ValueError):
    """A row that cannot become a task; str(err) is a human message saying what was wrong and what to do."""


class CsvRow(dict[str, str]):
    """A row read from a CSV file: every value is a string and an empty cell means "absent".

    `read_rows` yields these for CSV input so that `normalize_row` can parse `priority` and `meta`
    cells and treat empty cells as missing; JSON rows stay strict.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ImportMapping:
    """Label Studio data-key mapping, from "?map=prompt:question,responses:answer1|answer2"."""

    prompt: str | None
    responses: tuple[str, ...]


def described(value: Any) -> str:
    """How a found value is described in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value and not value.isspace() else "an empty string"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def shown(value: Any, limit: int = 40) -> str:
    """A short JSON rendering of a found value, for messages."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_list(raw: dict[str, Any], limit: int = 12) -> str:
    names = [f'"{k}"' for k in list(raw)[:limit]]
    if len(raw) > limit:
        names.append(f"… ({len(raw)} keys)")
    return ", ".join(names) if names else "none"


def is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.isspace()


def required_text(value: Any, what: str) -> str:
    if isinstance(value, str) and value and not value.isspace():
        return value
    raise RowError(f"{what} must be a non-empty string, got {described(value)}")


_REASONING_PARTS = frozenset({"reasoning", "thinking"})


def _content(value: Any, what: str) -> tuple[str, str | None]:
    """Message content and its reasoning: a string, or a list of typed parts, text parts joined by
    newlines into the content and reasoning (or thinking) parts into the reasoning."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, list) and value:
        texts: list[str] = []
        reasoning: list[str] = []
        for i, part in enumerate(value, 1):
            part_type = part.get("type") if isinstance(part, dict) else None
            body = part.get("text") if part_type else None
            if part_type in _REASONING_PARTS and not isinstance(body, str):
                body = part.get(part_type)  # {"type": "thinking", "thinking": "..."}, as Anthropic sends it
            if part_type == "text" and isinstance(body, str):
                texts.append(body)
            elif part_type in _REASONING_PARTS and isinstance(body, str):
                reasoning.append(body)
            else:
                raise RowError(
                    f'{what} content part {i} must be {{"type": "text", "text"}} or '
                    f'{{"type": "reasoning", "text"}}, got {shown(part)}; convert other parts to text'
                )
        return "\n".join(texts), ("\n".join(reasoning) if reasoning else None)
    raise RowError(f'{what} "content" must be a string or a list of text parts, got {described(value)}')


MAX_TOOL_CALLS = 128  # in one message: every page shows each call, and no agent makes more at once
MAX_TOOLS = 512


def _tool_calls(value: Any, where: str) -> None:
    """An assistant's tool calls must be OpenAI's shape; arguments that are not JSON text are kept as they
    came (the pages show them as text)."""
    if not isinstance(value, list):
        raise RowError(f'{where} "tool_calls" must be a list of calls, got {described(value)}')
    if len(value) > MAX_TOOL_CALLS:
        raise RowError(f"{where} makes {len(value)} tool calls; a message may make at most {MAX_TOOL_CALLS}")
    for i, call in enumerate(value, 1):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not is_text(function.get("name")):
            raise RowError(
                f'{where} tool call {i} must be {{"type": "function", "function": {{"name", "arguments"}}}}, '
                f"got {shown(call)}"
            )
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str | dict):
            raise RowError(f'{where} tool call {i} "arguments" must be JSON text or an object')


def chat_messages(value: Any, what: str) -> list[dict[str, Any]]:
    """Chat messages as given, content made text: every other key of a message (name, metadata, an
    assistant's tool_calls, a tool result's tool_call_id…) is kept as it came, so `raw` gives it back;
    reasoning given as content parts is kept as the message's `reasoning_content`."""
    if not isinstance(value, list) or not value:
        raise RowError(
            f'{what} must be a non-empty list of chat messages {{"role", "content"}}, got {described(value)}'
        )
    out: list[dict[str, Any]] = []
    for i, message in enumerate(value, 1):
        where = f"{what} message {i}"
        if not isinstance(message, dict):
            raise RowError(f'{where} must be an object {{"role", "content"}}, got {described(message)}')
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise RowError(
                f'{where} has role {shown(role)}; role must be "system", "user", "assistant" or "tool"'
            )
        name = message.get("name")
        if name is not None and not isinstance(name, str):
            raise RowError(f'{where} "name" must be a string, got {described(name)}')
        if message.get("tool_calls") is not None:  # datasets with one schema give every message one
            _tool_calls(message["tool_calls"], where)
            if message["tool_calls"] and role != "assistant":
                raise RowError(f'{where} has "tool_calls", which only an assistant message may have')
        call_id = message.get("tool_call_id")
        if call_id is not None and not isinstance(call_id, str):
            raise RowError(f'{where} "tool_call_id" must be a string, got {described(call_id)}')
        content = message.get("content")
        if content is None and role == "assistant" and message.get("tool_calls"):
            content = ""  # a turn that only calls tools
        text, reasoning = _content(content, where)
        cleaned = {**message, "role": role, "content": text}
        if reasoning is not None:
            given = cleaned.get("reasoning_content")
            cleaned["reasoning_content"] = f"{given}\n{reasoning}" if is_text(given) else reasoning
        out.append(cleaned)
    return out


def tools_list(value: Any) -> list[dict[str, Any]]:
    """A row's `tools`: function schemas as a list of objects, or that list as JSON text (LLaMA-Factory)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RowError(
                f'"tools" must be a list of function schemas or its JSON text, got {shown(value)}'
            ) from None
        if problem := excess(value, ItemLimits.configured()):
            raise RowError(f'"tools" {problem}')
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise RowError(f'"tools" must be a list of function schemas (objects), got {described(value)}')
    if len(value) > MAX_TOOLS:
        raise RowError(f'"tools" lists {len(value)} functions; a task may have at most {MAX_TOOLS}')
    for i, schema in enumerate(value, 1):
        inner = schema.get("function")
        function = inner if isinstance(inner, dict) else schema
        if not is_text(function.get("name")):
            raise RowError(f'"tools" item {i} must name its function ("name"), got {shown(schema)}')
    return value


def prompt_of(value: Any, what: str = '"prompt"') -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        if value and not value.isspace():
            return value
    elif isinstance(value, list) and value:
        return chat_messages(value, what)
    raise RowError(f"{what} must be a non-empty string or a list of chat messages, got {described(value)}")


def closes_with_reply(messages: list[dict[str, Any]]) -> bool:
    """The conversation ends on an assistant message that answers (not one that only calls tools, as an
    agent trajectory may end): that message becomes the task's response."""
    last = messages[-1]
    return last["role"] == "assistant" and not last.get("tool_calls")


def final_reply(messages: list[dict[str, Any]], what: str) -> str:
    last = messages[-1]
    if last["role"] != "assistant":
        raise RowError(f"{what} must end with an assistant message, but its last message is {last['role']}")
    if not last["content"] or last["content"].isspace():
        raise RowError(f"the final assistant message of {what} is empty")
    return last["content"]


def source_label(value: Any) -> dict[str, Any]:
    if not isinstance(value, bool):
        raise RowError(f'"label" must be true or false, got {described(value)}')
    return {"source_label": value}


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise RowError(f"{what} must be an integer, got {shown(value)}") from None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def refuse_nul(row: TaskRow) -> None:
    """PostgreSQL stores no NUL character in text or JSONB: refuse the row on every back end alike.
    orjson writes NUL as \\u0000, so one dump at C speed clears the usual row before any walk."""
    if b"\\u0000" not in orjson.dumps([row.external_id, row.prompt, row.responses, row.meta, row.gold]):
        return
    named: list[tuple[str, Any]] = [('"external_id"', row.external_id), ('"prompt"', row.prompt)]
    named += [('"responses"', row.responses), ('"gold"', row.gold)]
    # meta holds the row's "meta" object and the keys no shape consumed, under their own names
    named += [('a "meta" key' if "\x00" in key else f'"{key}"', value) for key, value in row.meta.items()]
    for name, value in named:
        if name == 'a "meta" key' or _holds_nul(value):
            raise RowError(f"{name} holds a NUL character (\\u0000), which cannot be stored; remove it")


def finish_row(
    raw: dict[str, Any],
    consumed: frozenset[str] | set[str],
    prompt: str | list[dict[str, Any]],
    responses: list[dict[str, Any]],
    add: dict[str, Any] | None = None,
    *,
    csv_row: bool | None = None,
) -> TaskRow:
    """Common keys (external_id, meta, priority, gold), unconsumed keys into meta, and the TaskRow."""
    if csv_row is None:
        csv_row = type(raw) is CsvRow
    external_id = raw.get("external_id")
    if external_id is not None:
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            external_id = str(external_id)
        elif not isinstance(external_id, str):
            raise RowError(f'"external_id" must be a string or an integer, got {described(external_id)}')
        elif not external_id or external_id.isspace():
            if not csv_row:
                raise RowError('"external_id" must be a non-empty string; leave it out to have none')
            external_id = None

    meta_value = raw.get("meta")
    if meta_value is None:
        meta: dict[str, Any] = {}
    elif isinstance(meta_value, dict):
        meta = dict(meta_value)
    elif csv_row and isinstance(meta_value, str):
        meta = {}
        if meta_value.strip():
            try:
                parsed = orjson.loads(meta_value)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                raise RowError('the "meta" column must hold a JSON object such as {"source": "x"}')
            problem = excess(parsed, ItemLimits.configured())
            if problem:
                raise RowError(f'the "meta" column {problem}')
            meta = parsed
    else:
        raise RowError(f'"meta" must be a JSON object, got {described(meta_value)}')

    for key, value in raw.items():
        if key not in consumed and key not in COMMON_KEYS and key not in meta:
            meta[key] = value
    if add:
        meta.update(add)
    if meta.get("tools") is not None:  # tool schemas, read by the pages and written into exports
        meta["tools"] = tools_list(meta["tools"])

    priority = raw.get("priority", 0)
    if priority is None:
        priority = 0
    elif csv_row and isinstance(priority, str):
        priority = _parse_int(priority, '"priority"') if priority.strip() else 0
    elif not isinstance(priority, int) or isinstance(priority, bool):
        raise RowError(f'"priority" must be an integer, got {described(priority)}')
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise RowError(f'"priority" must be between {PRIORITY_MIN} and {PRIORITY_MAX}, got {priority}')

    gold = raw.get("gold")
    if csv_row and gold == "":
        gold = None
    return TaskRow(external_id, prompt, responses, meta, priority, gold)
