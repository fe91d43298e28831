"""Row shapes accepted by imports (DESIGN §10 "Tasks") and their normalisation into `TaskRow`.

`normalize_row` is called once per imported row (up to millions per import), so it works on plain
dicts with cheap checks and builds only what the task needs. Every refusal is a `RowError` whose text
says what was wrong and what to do; the caller adds the line number.

Shapes, tried in this order:

* Label Studio task `{"data": {...}, "id"?, "annotations"?, ...}` (or, with an explicit mapping, a flat
  row holding the mapped prompt field)
* ShareGPT `{"conversations": [{"from", "value"}], "system"?, "chosen"?, "rejected"?}`
* Alpaca `{"instruction", "input"?, "output" | "chosen" + "rejected", "system"?, "history"?}`
* pairwise `{"prompt"?, "chosen", "rejected"}`: strings, TRL conversational message lists,
  implicit-prompt conversations, or HH-RLHF transcripts
* `{"messages", "label"?}` (chat / KTO)
* `{"prompt", "completion", "label"?}` (prompt-completion / KTO)
* canonical `{"prompt", "responses"?}`, which also takes CSV-style `response_<id>` / `model_<id>` columns
* `{"text", "label"? | "labels"?}` (a classification export; the label is kept in meta)
* a row of a raw export `{"task_id", "prompt", "responses", "annotations", ...}` (JSON text columns): the
  task as stored, its conversation lossless

Every shape may also carry `external_id`, `meta`, `priority` and `gold`; keys a shape does not consume
are kept in `meta` (Label Studio bookkeeping keys excepted).

One module per family: label_studio.py, chat.py (ShareGPT, Alpaca, messages, prompt-completion),
preference.py (chosen/rejected, HH-RLHF), canonical.py (with CSV columns); rows.py holds what they share.
"""

from __future__ import annotations

from typing import Any

from app.imports.shapes.canonical import canonical_row, is_raw_export, raw_export_row, text_row
from app.imports.shapes.chat import alpaca_row, chat_row, completion_row, sharegpt_row
from app.imports.shapes.label_studio import label_studio_row, parse_mapping
from app.imports.shapes.preference import preference_row
from app.imports.shapes.rows import (
    COMMON_KEYS,
    MAX_RESPONSES,
    RESERVED_RESPONSE_IDS,
    CsvRow,
    ImportMapping,
    RowError,
    TaskRow,
    described,
    key_list,
)

__all__ = [
    "MAX_RESPONSES",
    "RESERVED_RESPONSE_IDS",
    "CsvRow",
    "ImportMapping",
    "RowError",
    "TaskRow",
    "normalize_row",
    "parse_mapping",
]

_SHAPES_HELP = (
    'canonical {"prompt", "responses"?}, {"prompt", "chosen", "rejected"}, '
    'HH-RLHF {"chosen", "rejected"} transcripts, {"messages"}, {"prompt", "completion"}, '
    'ShareGPT {"conversations"}, Alpaca {"instruction", "output"}, Label Studio {"data"}, '
    'classification {"text", "label"?}, or CSV columns prompt, response_a, response_b'
)


def normalize_row(raw: Any, *, mapping: ImportMapping | None = None) -> TaskRow:
    """Turn one imported row of any accepted shape into a TaskRow; raise RowError when it cannot be one."""
    if not isinstance(raw, dict):
        raise RowError(f"each row must be a JSON object, got {described(raw)}")
    data = raw.get("data")
    if (
        isinstance(data, dict)
        and "prompt" not in raw
        and "messages" not in raw
        and "conversations" not in raw
        and "instruction" not in raw
        and "chosen" not in raw
    ):
        return label_studio_row(raw, data, mapping, label_studio=True)
    if mapping is not None and mapping.prompt is not None and mapping.prompt in raw and "data" not in raw:
        flat = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
        return label_studio_row(raw, flat, mapping, label_studio=False)
    if "conversations" in raw:
        return sharegpt_row(raw)
    if "instruction" in raw:
        return alpaca_row(raw)
    if "chosen" in raw or "rejected" in raw:
        return preference_row(raw)
    if "messages" in raw:
        return chat_row(raw)
    if "prompt" in raw:
        if is_raw_export(raw):
            return raw_export_row(raw)
        if "completion" in raw:
            return completion_row(raw)
        return canonical_row(raw)
    if "text" in raw:
        return text_row(raw)
    raise RowError(
        f"the row matches no accepted shape (keys found: {key_list(raw)}); accepted shapes: {_SHAPES_HELP}"
    )
