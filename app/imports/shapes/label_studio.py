"""Label Studio tasks `{"data": {...}, "id"?, "annotations"?, ...}`, and flat rows read through an explicit
mapping of data keys (`?map=prompt:question,responses:answer1|answer2`)."""

from __future__ import annotations

from typing import Any

from app.imports.shapes.canonical import CANONICAL_KEYS, lettered_responses
from app.imports.shapes.rows import (
    COMMON_KEYS,
    MAX_RESPONSES,
    CsvRow,
    ImportMapping,
    RowError,
    TaskRow,
    finish_row,
    is_text,
    key_list,
    prompt_of,
    required_text,
)

_LS_PROMPT_KEYS = ("prompt", "text", "question")
_MAPPING_HELP = "write it as prompt:FIELD,responses:FIELD1|FIELD2"


def label_studio_row(
    raw: dict[str, Any], data: dict[str, Any], mapping: ImportMapping | None, label_studio: bool
) -> TaskRow:
    """Label Studio `data` (or, with a mapping, a flat row) mapped to prompt and responses."""
    where = 'Label Studio "data"' if label_studio else "the row"
    if mapping is not None and mapping.prompt is not None:
        prompt_key = mapping.prompt
        if prompt_key not in data:
            raise RowError(
                f'{where} has no "{prompt_key}" field named by the mapping prompt:{prompt_key}; '
                f"keys found: {key_list(data)}"
            )
    else:
        found = next((k for k in _LS_PROMPT_KEYS if k in data), None)
        if found is None:
            raise RowError(
                f'{where} has no prompt field: expected "prompt", "text" or "question" (keys found: '
                f"{key_list(data)}); or pass a mapping such as ?map=prompt:FIELD,responses:FIELD1|FIELD2"
            )
        prompt_key = found
    prompt = prompt_of(data[prompt_key], f'{where} "{prompt_key}"')

    used = {prompt_key, "external_id"}
    fields: list[str] = []
    texts: list[str] = []
    if mapping is not None and mapping.responses:
        for key in mapping.responses:
            used.add(key)
            value = data.get(key)
            if value is None or value == "":
                continue
            texts.append(required_text(value, f'{where} "{key}"'))
            fields.append(key)
    else:
        for key, value in data.items():
            if key not in used and is_text(value):
                texts.append(value)
                fields.append(key)
        used.update(fields)
    responses = lettered_responses(texts)

    add: dict[str, Any] = {}
    for key, value in data.items():
        if key not in used:
            add[key] = value
    if label_studio and "id" in raw:
        add["label_studio_id"] = raw["id"]
    if fields:
        add["source_fields"] = {r["id"]: f for r, f in zip(responses, fields, strict=True)}
    common = {k: raw[k] for k in COMMON_KEYS if k in raw}
    if "external_id" not in common and "external_id" in data:
        common["external_id"] = data["external_id"]
    return finish_row(common, CANONICAL_KEYS, prompt, responses, add, csv_row=type(raw) is CsvRow)


def parse_mapping(spec: str | None) -> ImportMapping | None:
    """Parse "prompt:question,responses:answer1|answer2"; None or an empty spec means no mapping.

    A field may be written with Label Studio's "$" ("prompt:$question").
    """
    if spec is None or not spec.strip():
        return None
    prompt: str | None = None
    responses: tuple[str, ...] = ()
    seen: set[str] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition(":")
        key = key.strip().lower()
        if not sep:
            raise RowError(f'mapping part "{part}" has no ":"; {_MAPPING_HELP}')
        if key not in ("prompt", "responses"):
            raise RowError(
                f'mapping key "{key}" is unknown: only "prompt" and "responses" can be mapped; '
                + _MAPPING_HELP
            )
        if key in seen:
            raise RowError(f'mapping names "{key}" twice; {_MAPPING_HELP}')
        seen.add(key)
        names = [n.strip().removeprefix("$").strip() for n in value.split("|")]
        if not names or any(not n for n in names):
            raise RowError(f'mapping "{key}" names an empty field; {_MAPPING_HELP}')
        if key == "prompt":
            if len(names) != 1:
                raise RowError(f"mapping prompt must name exactly one field; {_MAPPING_HELP}")
            prompt = names[0]
        else:
            if len(set(names)) != len(names):
                raise RowError("mapping responses names a field twice")
            if len(names) > MAX_RESPONSES:
                raise RowError(
                    f"mapping responses names {len(names)} fields; at most {MAX_RESPONSES} are allowed"
                )
            responses = tuple(names)
    if not seen:
        return None
    if prompt is not None and prompt in responses:
        raise RowError(f'mapping uses "{prompt}" both as the prompt and as a response')
    return ImportMapping(prompt=prompt, responses=responses)
