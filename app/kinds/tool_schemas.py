"""Tool calls in an answer, checked against the task's tool schemas (`meta["tools"]`, app/kinds/messages.py
reads them): the function must be one of the task's tools, its arguments a JSON object valid under that
tool's `parameters` schema (JSON Schema, the draft its `$schema` names, else 2020-12).

A tool schema that is itself not valid JSON Schema checks nothing but the object: a task's schemas come
from imported data, and a bad one must not refuse every answer (nor answer 500). The work is bounded: a few
calls, arguments of a bounded size, and the first schema error only (a wrong object can have thousands).

Pure functions: the sft kind asks them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from jsonschema import Draft202012Validator, validators

from app.core.errors import InvalidInput
from app.kinds.messages import tool_name

MAX_CALLS = 16
MAX_ARGUMENTS = 100_000  # bytes of the arguments as compact JSON
MAX_NAME = 200
_SHOWN = 300  # characters of a schema error's message (it quotes the value, which may be long)


def tool_parameters(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The task's tools by name: each one's `parameters` schema, or None where it has none."""
    out: dict[str, Any] = {}
    for schema in tools:
        inner = schema.get("function")
        function: dict[str, Any] = inner if isinstance(inner, dict) else schema
        out.setdefault(tool_name(schema), function.get("parameters"))
    return out


def _path(parts: Iterable[Any]) -> str:
    """A JSON location as the errors name it: `.key` for an object's member, `[i]` for an array's item."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", field=field)


def schema_error(schema: Any, arguments: Any) -> tuple[str, str] | None:
    """(where, what) of the first way `arguments` break `schema`; None when they do not, or when the schema
    is not valid JSON Schema (nothing to check against)."""
    if not isinstance(schema, dict | bool):
        return None
    try:
        validator_class = validators.validator_for(schema, default=Draft202012Validator)
        validator_class.check_schema(schema)
        error = next(iter(validator_class(schema).iter_errors(arguments)), None)
    except Exception:  # a SchemaError, an unresolvable $ref, a pattern Python rejects: the schema is broken
        return None
    if error is None:
        return None
    message = error.message if len(error.message) <= _SHOWN else error.message[:_SHOWN] + "…"
    return _path(error.absolute_path), message


def clean_tool_calls(
    value: Any, tools: list[dict[str, Any]] | None, *, field: str = "result.tool_calls"
) -> list[dict[str, Any]]:
    """An answer's tool calls as `[{"name", "arguments"}]`, or InvalidInput naming the call and the place in
    its arguments that is wrong. `tools`: the task's tool schemas; None where they are not known (names
    are then only checked to be given)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _error(field, "must be a list of calls")
    if len(value) > MAX_CALLS:
        raise _error(field, f"at most {MAX_CALLS} calls in one demonstration")
    known = tool_parameters(tools) if tools else None
    return [_clean_call(call, known, f"{field}[{i}]", i) for i, call in enumerate(value)]


def _clean_call(call: Any, known: dict[str, Any] | None, field: str, index: int) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise _error(field, 'must be an object {"name", "arguments"}')
    name = call.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _error(f"{field}.name", "must name the function called")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise _error(f"{field}.name", f"is longer than {MAX_NAME} characters")
    if known is not None and name not in known:
        raise _error(f"{field}.name", f"{name!r} is not one of the task's tools ({', '.join(known)})")
    which = f"(call {index + 1}, {name})"
    arguments = call.get("arguments", {})
    if not isinstance(arguments, dict):
        raise _error(f"{field}.arguments", f"must be a JSON object {which}")
    try:
        size = len(orjson.dumps(arguments))
    except (orjson.JSONEncodeError, TypeError):
        why = "nested too deeply or an integer past 64 bits"
        raise _error(f"{field}.arguments", f"cannot be kept as JSON: {why} {which}") from None
    if size > MAX_ARGUMENTS:
        raise _error(f"{field}.arguments", f"are {size} bytes as JSON, more than {MAX_ARGUMENTS} {which}")
    if known is not None and (found := schema_error(known[name], arguments)) is not None:
        where, message = found
        raise _error(f"{field}.arguments{where}", f"{message} {which}")
    return {"name": name, "arguments": arguments}


def call_line(call: dict[str, Any]) -> str:
    """A call as plain text: `name({"compact": "json"})`."""
    return f"{call.get('name', '?')}({orjson.dumps(call.get('arguments', {})).decode()})"
