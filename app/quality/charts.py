"""Dashboard charts drawn on the server as SVG shapes (bars for counts, whiskers for intervals: pictures that
stay as they are), and the data of the charts the browser draws."""

from __future__ import annotations

import math
import re
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


# Curves people read values off are drawn in the browser with uPlot (npm, static/vendor/uplot; driven by
# static/charts.js): the server sends numbers in a data-chart attribute, and axes, ticks, the values under
# the pointer, zoom and resizing are the browser's. The shape below is what static/charts.js reads.


@dataclass
class Line:
    """One series of a chart (one run's curve of a metric, one figure across rounds), aligned on the
    chart's x values: None where the series has no point there."""

    label: str
    values: list[float | None]
    count: int | None = None  # points the series had before the chart thinned it out

    def points(self) -> list[float]:
        return [v for v in self.values if v is not None and math.isfinite(v)]

    @property
    def first(self) -> float | None:
        return next(iter(self.points()), None)

    @property
    def last(self) -> float | None:
        points = self.points()
        return points[-1] if points else None

    @property
    def low(self) -> float | None:
        return min(self.points(), default=None)

    @property
    def high(self) -> float | None:
        return max(self.points(), default=None)


@dataclass
class Chart:
    key: str  # unique on its page, safe in an element id
    title: str
    x: list[float]
    lines: list[Line]
    x_label: str = "step"
    x_names: list[str] | None = None  # names for the x values (rounds), drawn as the axis's ticks
    group: str = ""  # charts of one group move their cursors together (the metrics of one run)

    def data(self) -> dict[str, Any]:
        """What the data-chart attribute carries; JSON has no NaN or infinity, so those become gaps."""
        return {
            "title": self.title,
            "x": self.x,
            "x_label": self.x_label,
            "x_names": self.x_names,
            "group": self.group,
            "series": [
                {"label": line.label, "values": [finite(v) for v in line.values]} for line in self.lines
            ],
        }


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def key_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "chart"
