"""Project settings <-> HTML form fields; which fields a kind has, its kind says (app/kinds)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from app.kinds import get_kind
from app.kinds.settings import COMMON_FIELDS, QUALITY_FIELDS

LIST_FIELDS = {"strength_scale", "criteria", "labels", "image_hosts", "turn_scale", "models", "temperatures",
               "step_labels"}  # fmt: skip
TEXT_FIELDS = {"system_prompt"}
BOOL_FIELDS = {
    "allow_ties",
    "multi_label",
    "show_suggestions",
    "show_draft_diff",
    "reveal_annotators",
    "auto_pause",
    "turn_ratings",
}
INT_FIELDS = {"overlap", "lease_minutes", "k", "scale_min", "scale_max", "gold_min_answers", "edit_max_chars",
              "max_reply_tokens", "turn_timeout_s", "max_user_chars", "max_turns"}  # fmt: skip
FLOAT_FIELDS = {"gold_rate", "min_seconds_per_task", "gold_min_accuracy", "max_cost"}
CHOICE_FIELDS = {"rationale", "queue_order", "edits", "neutral_is"}


def settings_from_form(kind: str, form: FormData) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name in (*COMMON_FIELDS, *QUALITY_FIELDS, *get_kind(kind).settings_fields):
        if name in BOOL_FIELDS:
            settings[name] = form.get(name) in ("on", "true", "1")
            continue
        value = form.get(name)
        if not isinstance(value, str):
            continue
        if name in LIST_FIELDS:
            settings[name] = [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]
        elif name in INT_FIELDS or name in FLOAT_FIELDS:
            if value.strip():
                settings[name] = value.strip()  # pydantic converts and range-checks
        elif name in CHOICE_FIELDS:
            settings[name] = value
        elif name in TEXT_FIELDS:
            settings[name] = value.replace("\r\n", "\n").strip()
    return settings
