"""Small synthetic datasets in the project's export formats (TRL's standard and conversational forms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def preference_rows(n: int = 8, *, conversational: bool = False, start: int = 0) -> list[dict[str, Any]]:
    """Pairs that carry the export's extra columns, nulls included, as real snapshots do."""
    rows = []
    for i in range(start, start + n):
        prompt, chosen, rejected = f"What is {i} plus one?", f"It is {i + 1}, of course.", "No idea at all."
        rows.append(
            {
                "prompt": _user(prompt) if conversational else prompt,
                "chosen": _assistant(chosen) if conversational else chosen,
                "rejected": _assistant(rejected) if conversational else rejected,
                "margin": None if i % 2 else 1.0,
                "score_chosen": 6.0 if i % 3 else None,
                "score_rejected": 2.5,
            }
        )
    return rows


def separable_preference_rows(n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """Chosen answers are always cheerful, rejected ones always grumpy: a reward model can learn this fast."""
    rows = []
    for i in range(start, start + n):
        rows.append(
            {
                "prompt": f"Tell me about item {i}.",
                "chosen": "Yes! Happy to help, great question!",
                "rejected": "no no no no no",
                "margin": None,
                "score_chosen": None,
                "score_rejected": None,
            }
        )
    return rows


def sft_rows(n: int = 8, *, shape: str = "messages") -> list[dict[str, Any]]:
    """shape: "messages", "prompt_completion" or "conversational_prompt_completion"."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        prompt, answer = f"Say the number {i}.", f"The number is {i}."
        if shape == "messages":
            rows.append({"messages": _user(prompt) + _assistant(answer)})
        elif shape == "prompt_completion":
            rows.append({"prompt": prompt, "completion": answer})
        else:
            rows.append({"prompt": _user(prompt), "completion": _assistant(answer)})
    return rows


def kto_rows(n: int = 8, *, conversational: bool = False) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        good = i % 2 == 0
        prompt, completion = f"What is {i} plus one?", (f"It is {i + 1}." if good else "Bananas.")
        rows.append(
            {
                "prompt": _user(prompt) if conversational else prompt,
                "completion": _assistant(completion) if conversational else completion,
                "label": good,
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
