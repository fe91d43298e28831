"""The JSON-lines events `python -m mlcore` writes, one object per line, in this order:

    {"event": "start", "total_steps": N}
    {"event": "step", "step": k, "total_steps": N}                        after every optimizer step
    {"event": "metrics", "step": k, "total_steps": N, "metrics": {...}}   every logging_steps steps
    {"event": "eval", "metrics": {...}}                                   after training, given eval data
    {"event": "done", "result": {...RunResult...}}                        also after a cancel (no weights)
    {"event": "error", "message": "..."}                                  instead of done, on failure

Kept free of torch so writing an early error costs nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def dumps_event(event: Mapping[str, Any]) -> str:
    """One JSON line; non-finite floats become null so every line parses as strict JSON."""
    return json.dumps(_finite(event), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
