"""Reading the messages of a conversation as stored (OpenAI chat messages, kept lossless at import):
an assistant's tool calls, a tool's result, reasoning, and the steps of an agent trajectory.

Stored shapes (app/imports/shapes/rows.py makes them):
* assistant `{"role": "assistant", "content": str, "reasoning_content"?: str, "tool_calls"?: [
  {"id"?, "type": "function", "function": {"name": str, "arguments": str | object}}]}`; arguments are
  JSON text as OpenAI sends them (or an object, as some datasets hold them); text that is not JSON is
  kept as it came and shown as text;
* tool result `{"role": "tool", "content": str, "tool_call_id"?: str, "name"?: str}`;
* the task's tool schemas in `meta["tools"]`: a list of `{"type": "function", "function": {...}}` (or bare
  `{"name", "description"?, "parameters"?}`) objects.

Pure functions: the templates, the exports and the kinds read messages through these."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str | None
    name: str
    arguments: Any  # the parsed arguments; None where `valid` is False
    text: str  # the arguments as given (JSON text), for the page's "not valid JSON" case
    valid: bool

    @property
    def pretty(self) -> str:
        """The arguments as indented JSON, or as given where they are not JSON."""
        if not self.valid:
            return self.text
        return orjson.dumps(self.arguments, option=orjson.OPT_INDENT_2).decode()

    def as_json(self) -> dict[str, Any]:
        """The call as OpenAI sends it and chat templates take it: arguments as JSON text (text that is not
        JSON as it came), so every row of an export has one type in that field."""
        call: dict[str, Any] = {"type": "function", "function": {"name": self.name, "arguments": self.text}}
        if self.id is not None:
            call["id"] = self.id
        return call


def parse_arguments(value: Any) -> tuple[Any, str, bool]:
    """(parsed, text, valid) of a call's arguments: JSON text or an object."""
    if isinstance(value, str):
        try:
            return orjson.loads(value), value, True
        except orjson.JSONDecodeError:
            return None, value, False
    if value is None:
        return {}, "{}", True
    try:
        return value, orjson.dumps(value).decode(), True
    except TypeError:
        return None, str(value), False


def tool_calls_of(message: Any) -> list[ToolCall]:
    """An assistant message's tool calls (none for other messages, or where it has none)."""
    if not isinstance(message, dict):
        return []
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return []
    out: list[ToolCall] = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        inner = call.get("function")
        function: dict[str, Any] = inner if isinstance(inner, dict) else call
        name = function.get("name")
        parsed, text, valid = parse_arguments(function.get("arguments"))
        call_id = None if call.get("id") is None else str(call.get("id"))
        out.append(ToolCall(call_id, str(name or "?"), parsed, text, valid))
    return out


def reasoning_of(message: Any) -> str | None:
    """A message's reasoning (reasoning_content, as vLLM and DeepSeek send it), if it has any."""
    if not isinstance(message, dict):
        return None
    for key in REASONING_KEYS:
        value = message.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def tools_of(meta: Any) -> list[dict[str, Any]]:
    """A task's tool schemas (`meta["tools"]`), as a list of objects; [] when it has none."""
    tools = meta.get("tools") if isinstance(meta, dict) else None
    if isinstance(tools, list):
        return [t for t in tools if isinstance(t, dict)]
    return []


def tool_name(schema: dict[str, Any]) -> str:
    inner = schema.get("function")
    function: dict[str, Any] = inner if isinstance(inner, dict) else schema
    return str(function.get("name", "?"))


def pretty_json(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return str(value)


def readable_result(text: Any) -> str:
    """A tool's result as the pages show it: JSON text indented (most tools answer in JSON), other text as
    it is."""
    value = str(text or "")
    if len(value) > 200_000 or value[:1] not in ("{", "["):
        return value
    try:
        return pretty_json(orjson.loads(value))
    except orjson.JSONDecodeError:
        return value


IMAGE = "<image>"  # where a task's images go in its messages' text (LLaMA-Factory's and TRL's placeholder)


def images_of(meta: Any) -> list[dict[str, Any]]:
    """A task's image refs (`meta["images"]`, app/media/images.py), in placeholder order."""
    images = meta.get("images") if isinstance(meta, dict) else None
    if isinstance(images, list):
        return [i for i in images if isinstance(i, dict) and isinstance(i.get("sha256"), str)]
    return []


def split_at_images(content: str, images: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message's text split around its `<image>` placeholders, each taking the next of `images`:
    `{"text": …}` and `{"image": ref}` parts in order; a placeholder past the last image stays text."""
    parts: list[dict[str, Any]] = []
    pieces = content.split(IMAGE)
    for i, piece in enumerate(pieces):
        if piece:
            parts.append({"text": piece})
        if i < len(pieces) - 1:
            ref = next(images, None)
            parts.append({"image": ref} if ref is not None else {"text": IMAGE})
    return parts


def with_image_parts(messages: list[dict[str, Any]], images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose text holds `<image>` placeholders, each given `parts` (split_at_images), the images
    numbered from 1 across the messages (`n`), as the pages show them."""
    left = iter(images)
    out: list[dict[str, Any]] = []
    n = 0
    for message in messages:
        content = str(message.get("content") or "")
        if IMAGE not in content or message.get("role") == "tool":
            out.append(message)
            continue
        parts = split_at_images(content, left)
        for part in parts:
            if "image" in part:
                n += 1
                part["n"] = n
        out.append({**message, "parts": parts})
    return out


def trajectory(prompt: Any, responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A task's whole conversation: its prompt's messages, then its first response as the final assistant
    message (an import takes a conversation's closing assistant reply as the task's response)."""
    messages: list[dict[str, Any]] = (
        [m for m in prompt if isinstance(m, dict)] if isinstance(prompt, list) else [
            {"role": "user", "content": str(prompt)}]
    )  # fmt: skip
    if responses:
        messages = [*messages, {"role": "assistant", "content": str(responses[0].get("text", ""))}]
    return messages


def step_indexes(messages: list[dict[str, Any]]) -> list[int]:
    """The steps of a trajectory: its assistant messages, by index."""
    return [i for i, m in enumerate(messages) if m.get("role") == "assistant"]


def message_text(message: dict[str, Any]) -> str:
    """One message as plain text: its content, then its tool calls as `name(arguments)` lines."""
    parts = [str(message.get("content") or "")]
    parts += [f"{call.name}({call.text})" for call in tool_calls_of(message)]
    if message.get("role") == "tool":
        name = message.get("name")
        parts = [f"[{name} result] {parts[0]}" if name else f"[tool result] {parts[0]}"]
    return "\n".join(p for p in parts if p)


def step_text(messages: list[dict[str, Any]], index: int) -> str:
    """A step as a process-reward model reads it: the assistant message and the tool results that answer
    it (the messages up to the next assistant or user message)."""
    parts = [message_text(messages[index])]
    for message in messages[index + 1 :]:
        if message.get("role") != "tool":
            break
        parts.append(message_text(message))
    return "\n".join(parts)


def context_text(messages: list[dict[str, Any]]) -> str:
    """Messages as plain text, 'Role: content' turns (a trajectory's context before its first step, a
    conversation for plain-text consumers)."""
    return "\n\n".join(f"{str(m.get('role', 'user')).capitalize()}: {message_text(m)}" for m in messages)
