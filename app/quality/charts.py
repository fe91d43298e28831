"""Dashboard charts drawn on the server as SVG shapes: bars for counts, whiskers for intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT, PAD = 480, 140, 18


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: float


def bars(values: list[tuple[str, float]], *, width: int = WIDTH, height: int = HEIGHT) -> list[Bar]:
    """One bar per value, scaled to the largest; labels kept for titles and the axis."""
    if not values:
        return []
    top = max(v for _, v in values) or 1.0
    slot = (width - 2 * PAD) / len(values)
    inner = height - 2 * PAD
    return [
        Bar(PAD + i * slot + slot * 0.1, PAD + inner * (1 - v / top), slot * 0.8, inner * v / top, label, v)
        for i, (label, v) in enumerate(values)
    ]


def whisker(
    figure: dict[str, Any] | None, *, lo: float = 0.0, hi: float = 1.0, width: int = 160
) -> dict[str, float] | None:
    """Positions of a value and its interval on a lo..hi axis, for a small inline SVG."""
    if not figure or figure.get("value") is None:
        return None

    def at(v: float) -> float:
        return 4 + (min(max(v, lo), hi) - lo) / (hi - lo) * (width - 8)

    low = figure.get("low")
    high = figure.get("high")
    value = float(figure["value"])
    return {
        "x": at(value),
        "low": at(float(low) if low is not None else value),
        "high": at(float(high) if high is not None else value),
        "width": width,
    }
